"""drift seen by reconciliation

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift",
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["state_id"], ["targets_state.id"], name=op.f("fk_drift_state_id_targets_state"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_id", "key", name=op.f("pk_drift")),
    )


def downgrade() -> None:
    op.drop_table("drift")
