"""The service's own tables (`koppel serve`): accounts, API tokens, sessions, login failures, the run queue,
run statistics and notifications (added by migration 0002), and the grants of roles (migration 0006).

They live in the state database, on the state's shared :data:`koppel.state.metadata.metadata` (so the
migrations see them), but only the service reads and writes them. What the service needs of the state
store's own tables (runs, plans, objects, the journal) it asks the store for.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from koppel.state.metadata import BigId, metadata

__all__ = ["api_tokens", "grants", "login_failures", "notifications", "run_requests", "run_stats", "sessions", "users"]

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),  # argon2id, with its parameters
    Column("created_at", String(32), nullable=False),
    Column("last_login_at", String(32)),
    UniqueConstraint("name"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False),  # sha256 hex of the token: tokens are random, 256 bits
    Column("prefix", String(16), nullable=False),  # the first characters, to recognise a token in a list
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32)),
    UniqueConstraint("name"),
    UniqueConstraint("token_hash"),
)

grants = Table(  # migration 0006: one role per (user or token, tenant or "*")
    "grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_kind", String(8), nullable=False),  # user | token
    Column("subject", String(100), nullable=False),
    Column("tenant", String(100), nullable=False),  # a tenant id or "*"
    Column("role", String(16), nullable=False),  # viewer | operator | approver | admin
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("subject_kind", "subject", "tenant"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie value, never the value itself
    Column("user_name", String(100), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("seen_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("client", String(100)),
)
Index("ix_sessions_user", sessions.c.user_name)

login_failures = Table(
    "login_failures",
    metadata,
    Column("subject", String(200), primary_key=True),  # "user:<name>" or "addr:<client address>"
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", String(32), nullable=False),
    Column("locked_until", String(32)),
)

run_requests = Table(
    "run_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tenant", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # sync | approve
    Column("plan_id", String(32)),
    Column("trigger", String(16), nullable=False),  # schedule | manual | api
    Column("requested_by", String(200)),
    Column("requested_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | skipped | failed
    Column("started_at", String(32)),
    Column("finished_at", String(32)),
    Column("run_id", BigInteger),
    Column("message", Text),
)
Index("ix_run_requests_status", run_requests.c.status, run_requests.c.id)
Index("ix_run_requests_target", run_requests.c.tenant, run_requests.c.target, run_requests.c.status)

run_stats = Table(
    "run_stats",
    metadata,
    Column("run_id", BigInteger, primary_key=True),
    Column("tenant", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("changes", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("schools", Text, nullable=False),  # JSON {school: [changes, errors]}
)
Index("ix_run_stats_target", run_stats.c.tenant, run_stats.c.target, run_stats.c.started_at)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("event", String(32), nullable=False),  # run_failed | plan_held
    Column("dedupe", String(200), nullable=False),  # one notice per held plan / failed run and channel
    Column("tenant", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("plan_id", String(32)),
    Column("run_id", BigInteger),
    Column("channel", String(16), nullable=False),  # email | webhook
    Column("status", String(16), nullable=False),  # sent | failed
    Column("detail", Text),
)
Index("ix_notifications_dedupe", notifications.c.dedupe, notifications.c.channel)

