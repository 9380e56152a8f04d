"""service mode: users, API tokens, sessions, login throttling, run requests, run statistics, notifications

Written by hand against ``koppel.state.schema`` (autogenerate gives the same tables); it runs on SQLite
and PostgreSQL. Also adds ``ix_journal_run_outcome`` so the dashboard lists a run's failed objects
without scanning every journal row of the run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("last_login_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("last_used_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("seen_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_name"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.String(length=32), nullable=False),
        sa.Column("locked_until", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_login_failures")),
    )
    op.create_table(
        "run_requests",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("requested_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=True),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_requests")),
    )
    op.create_index("ix_run_requests_status", "run_requests", ["status", "id"], unique=False)
    op.create_index("ix_run_requests_target", "run_requests", ["tenant", "target", "status"], unique=False)
    op.create_table(
        "run_stats",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("schools", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_stats")),
    )
    op.create_index("ix_run_stats_target", "run_stats", ["tenant", "target", "started_at"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("dedupe", sa.String(length=200), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_dedupe", "notifications", ["dedupe", "channel"], unique=False)
    op.create_index("ix_journal_run_outcome", "journal", ["run_id", "outcome"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_journal_run_outcome", table_name="journal")
    op.drop_index("ix_notifications_dedupe", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_run_stats_target", table_name="run_stats")
    op.drop_table("run_stats")
    op.drop_index("ix_run_requests_target", table_name="run_requests")
    op.drop_index("ix_run_requests_status", table_name="run_requests")
    op.drop_table("run_requests")
    op.drop_table("login_failures")
    op.drop_index("ix_sessions_user", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("api_tokens")
    op.drop_table("users")
