"""the inputs of the last run that found nothing to change, and per-group membership digests (issue 13)

One row per (tenant, target): a digest of everything a plan depends on — the export's bytes, the resolved
configuration and rules, koppel's version, the state's version and the day — taken by the last full run that
found zero changes, with that run and the source read it recorded. A scheduled run whose inputs give the same
digest records an "unchanged" run without planning (``koppel.planning.InputsCheck``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_inputs",
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("parts", sa.Text(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("source_read_id", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "target", name=op.f("pk_plan_inputs")),
    )


    op.create_table(
        "membership_cache",
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("lineage", sa.String(length=36), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["state_id"], ["targets_state.id"],
                                name=op.f("fk_membership_cache_state_id_targets_state"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_id", name=op.f("pk_membership_cache")),
    )
    op.create_table(
        "membership_groups",
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("digest", sa.String(length=40), nullable=False),
        sa.Column("members", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["state_id"], ["targets_state.id"],
                                name=op.f("fk_membership_groups_state_id_targets_state"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_id", "group_key", name=op.f("pk_membership_groups")),
    )


def downgrade() -> None:
    op.drop_table("membership_groups")
    op.drop_table("membership_cache")
    op.drop_table("plan_inputs")
