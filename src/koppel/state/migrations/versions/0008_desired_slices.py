"""what the rules made of each school's files, for plans that read and rule only the schools that changed (issue 13)

One row per target and slice (a school folder of a bestuur export, or schools that share persons): the digest of
the slice's folders and of everything else the rules read, and the slice's desired groups and persons, membership
digests, findings and counts (``koppel.slices``).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desired_slices",
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("slice", sa.String(length=64), nullable=False),
        sa.Column("context", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["state_id"], ["targets_state.id"],
                                name=op.f("fk_desired_slices_state_id_targets_state"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_id", "slice", name=op.f("pk_desired_slices")),
    )


def downgrade() -> None:
    op.drop_table("desired_slices")
