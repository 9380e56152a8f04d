"""drop the journal's run index: ix_journal_run_outcome (run_id, outcome) serves the same queries

Every index is written for every journaled change (a million in a first load of a bestuur); one that
another index already covers only slows the apply down.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.drop_index("ix_journal_run")


def downgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.create_index("ix_journal_run", ["run_id"])
