"""the inputs of the last run that found nothing to change (the unchanged-input short cut, issue 13)

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


def downgrade() -> None:
    op.drop_table("plan_inputs")
