"""The state store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

One row in ``targets_state`` per (tenant, target) carries the lineage (a uuid, fixed at creation)
and the serial (bumped on every committed write), which is how a stale plan is recognised.
``objects`` is what koppel believes the target holds; ``journal`` is the append-only record of
every operation the applier sent, with its outcome, reason and before/after — the history of an
object is its journal. Dates are ISO strings (``YYYY-MM-DD``) and timestamps ISO-8601 UTC strings,
so SQLite and PostgreSQL store and compare them the same way.

The service's own tables (accounts, sessions, the run queue, statistics, notifications) are defined on the
same ``metadata`` in ``koppel.service.tables``; the migrations create both.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from koppel.state.metadata import BigId as _BigId
from koppel.state.metadata import metadata

__all__ = ["desired_slices", "drift", "journal", "locks", "membership_cache", "membership_groups", "metadata", "objects",
           "plan_inputs", "plans", "runs", "source_reads", "targets_state", "unrecorded"]

targets_state = Table(
    "targets_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("lineage", String(36), nullable=False),
    Column("serial", BigInteger, nullable=False, default=0),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("tenant", "target"),
)

objects = Table(
    "objects",
    metadata,
    Column("state_id", Integer, ForeignKey("targets_state.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # active | suspended | archived | deleted
    Column("school", String(16)),
    Column("label", String(300)),
    Column("fingerprint", String(32), nullable=False),
    Column("attrs", Text, nullable=False),  # JSON: what koppel last sent (and the target confirmed)
    Column("meta", Text),  # JSON: identifiers and names kept for search, never sent
    Column("target_id", String(300)),
    Column("person_key", String(512)),  # persons: own key; memberships: the member
    Column("search", Text),  # lower-case name, leerlingnummer, docentcode: person search
    Column("absent_since", String(10)),
    Column("delete_after", String(10)),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)
Index("ix_objects_person", objects.c.state_id, objects.c.person_key)
Index("ix_objects_kind_status", objects.c.state_id, objects.c.kind, objects.c.status)

runs = Table(
    "runs",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("tenant", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # plan | apply | sync | reconcile
    Column("trigger", String(16), nullable=False),  # cli | schedule | manual | demo
    Column("status", String(16), nullable=False),  # running | succeeded | partial | failed | held | stopped
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("plan_id", String(32)),
    Column("summary", Text),  # JSON counts per action and outcome
    Column("message", Text),
    Column("approved_by", String(200)),
    Column("host", String(200)),
    Column("pid", Integer),
)
Index("ix_runs_tenant_target", runs.c.tenant, runs.c.target, runs.c.started_at)

plans = Table(
    "plans",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # saved | held | applied | discarded | stale
    Column("lineage", String(36), nullable=False),
    Column("serial", BigInteger, nullable=False),
    Column("held", Boolean, nullable=False, default=False),
    Column("holds", Text),  # JSON
    Column("summary", Text),  # JSON
    Column("body", LargeBinary, nullable=False),  # gzip of the plan's JSON
    Column("approved_by", String(200)),
    Column("approved_at", String(32)),
    Column("decided_by", String(200)),
    Column("decided_at", String(32)),
    Column("run_id", BigInteger),
)
Index("ix_plans_tenant_target", plans.c.tenant, plans.c.target, plans.c.status)

journal = Table(
    "journal",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("state_id", Integer, ForeignKey("targets_state.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("plan_id", String(32)),
    Column("at", String(32), nullable=False),
    Column("key", String(512), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),  # done | warning | failed | skipped
    Column("school", String(16)),
    Column("label", String(300)),
    Column("person_key", String(512)),
    Column("reason", Text),
    Column("before", Text),
    Column("after", Text),
    Column("code", String(100)),
    Column("message", Text),
)
Index("ix_journal_person", journal.c.state_id, journal.c.person_key)
Index("ix_journal_key", journal.c.state_id, journal.c.key)

locks = Table(
    "locks",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("target", String(100), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("purpose", String(100)),
    Column("acquired_at", String(32), nullable=False),
    Column("heartbeat_at", String(32), nullable=False),
    # Seconds the holder promises to beat within (migration 0005); a lock silent for longer is stale,
    # whatever its pid says (a pid is reused after a reboot or a container restart).
    Column("lease_s", Integer),
)

source_reads = Table(
    "source_reads",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("tenant", String(100), nullable=False),
    Column("at", String(32), nullable=False),
    Column("school_year", String(9)),
    Column("status", String(16), nullable=False),  # ok | failed | invalid
    Column("counts", Text),  # JSON
    Column("sources", Text),  # JSON list of SourceInfo
    Column("report", LargeBinary),  # gzip JSON of the diagnostics
    Column("errors", Integer, nullable=False, default=0),
    Column("warnings", Integer, nullable=False, default=0),
    Column("message", Text),
)
Index("ix_source_reads_tenant", source_reads.c.tenant, source_reads.c.at)

# The run page lists a run's failed objects: without this, a run of a million changes is scanned.
Index("ix_journal_run_outcome", journal.c.run_id, journal.c.outcome)

# What reconciliation last saw changed by hand in the platform, per object: {field: platform value}.
# The plan reads it to re-assert fields koppel owns and to say which fields it keeps ("kept: changed in
# itslearning"); an acknowledged change of the object clears its row; each reconciliation replaces all.
drift = Table(
    "drift",
    metadata,
    Column("state_id", Integer, ForeignKey("targets_state.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("fields", Text, nullable=False),  # JSON
    Column("seen_at", String(32), nullable=False),
)

# Changes the applier sent and whose outcome is not recorded yet (migration 0005): the open end of the
# journal. A row is written before its request goes out and removed in the transaction that records the
# outcome. A row left behind (the state could not be written after the platform answered, or the process
# died with the request in flight) makes the next plan send the object again, as the LAS has it then.
unrecorded = Table(
    "unrecorded",
    metadata,
    Column("state_id", Integer, ForeignKey("targets_state.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("run_id", BigInteger, nullable=False),
    Column("plan_id", String(32)),
    Column("sent_at", String(32), nullable=False),
    Column("school", String(16)),
    Column("label", String(300)),
    Column("after", Text),  # JSON: what was sent (creates, updates, restores)
)

# The inputs of the last full run of a target that found nothing to change (migration 0007): a digest of the
# export's bytes, the configuration, koppel's version, the state's version and the day. A run whose inputs
# give the same digest is recorded as unchanged without planning (koppel.planning.InputsCheck).
plan_inputs = Table(
    "plan_inputs",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("target", String(100), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("parts", Text),  # JSON {input: digest}: which input changed, for the log
    Column("run_id", BigInteger),
    Column("source_read_id", BigInteger),
    Column("recorded_at", String(32), nullable=False),
)

# Per-group membership digests (migration 0007): for each group of a state, the digest of its active memberships
# (``plan.state_view.group_digest``) and those memberships (zlib of ``key\tfingerprint`` lines); valid while the
# state's lineage, serial and number of active memberships are those in ``membership_cache``.
membership_cache = Table(
    "membership_cache",
    metadata,
    Column("state_id", Integer, ForeignKey("targets_state.id", ondelete="CASCADE"), primary_key=True),
    Column("lineage", String(36), nullable=False),
    Column("serial", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("totals", Text),  # JSON [[school, active memberships], ...]: what the removal guards count against
)
membership_groups = Table(
    "membership_groups",
    metadata,
    Column("state_id", Integer, ForeignKey("targets_state.id", ondelete="CASCADE"), primary_key=True),
    Column("group_key", String(512), primary_key=True),
    Column("digest", String(40), nullable=False),
    Column("members", LargeBinary, nullable=False),
)

# What the rules made of each school's files (migration 0008, ``koppel.slices``): per target, one row per slice — a
# school folder of the export, or schools that share persons — with the digest of those folders' bytes and of the
# rest of the inputs the rules read (``context``), and the slice's desired groups and persons, its groups'
# membership digests, findings and counts (zlib of JSON). A plan whose schools' files did not change takes their
# desired objects from here instead of reading and ruling them again.
desired_slices = Table(
    "desired_slices",
    metadata,
    Column("state_id", Integer, ForeignKey("targets_state.id", ondelete="CASCADE"), primary_key=True),
    Column("slice", String(64), primary_key=True),  # the slice's first BRIN6
    Column("context", String(64), nullable=False),
    Column("units", Text, nullable=False),  # JSON {BRIN6: digest of the school folder's files}
    Column("payload", LargeBinary, nullable=False),
    Column("recorded_at", String(32), nullable=False),
)
