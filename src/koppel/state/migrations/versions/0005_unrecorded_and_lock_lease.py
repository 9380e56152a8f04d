"""changes sent but not recorded (the journal's open end), and the run lock's lease

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unrecorded",
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.String(length=32), nullable=False),
        sa.Column("school", sa.String(length=16), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["state_id"], ["targets_state.id"], name=op.f("fk_unrecorded_state_id_targets_state"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_id", "key", name=op.f("pk_unrecorded")),
    )
    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("lease_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("locks") as batch:
        batch.drop_column("lease_s")
    op.drop_table("unrecorded")
