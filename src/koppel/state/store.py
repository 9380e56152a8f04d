"""The state store: what each target holds, the runs, the plans, the journal — on SQLite or PostgreSQL.

Invariant (DESIGN §6): an object's state moves **only** in ``record``, which writes the journal rows
and the object rows of one acknowledged batch in one transaction and bumps the serial. A crash at
any moment therefore leaves the state consistent with what the target confirmed, and the next plan
recomputes what is left.

Before a request goes out, the applier marks its changes as sent (``mark_sent``); ``record`` removes
the mark with the outcome. A mark left behind — the platform answered but the state could not be
written, or the process died with the request in flight — makes the next plan send that object again
(``StateView.unrecorded``): what the platform may hold and the state does not know is never trusted.

SQLite is the default (one file, no set-up; WAL mode so the dashboard can read while a run writes);
PostgreSQL is chosen with a ``postgresql://`` URL. Both run the same Alembic migrations when the store
is opened. A store that cannot be reached, read or written raises ``StateUnavailable`` with what to do;
an unsupported URL is a ``ConfigError``.

:class:`StateStore` is the one object callers get. It composes small repositories over one
:class:`~koppel.state.db.Database` (engine, clock, transaction helper, state ids) — ``objects`` and
``drift`` (:mod:`~koppel.state.objects`), ``recorder`` (:mod:`~koppel.state.recording`), ``runs_repo`` and
``source_reads`` (:mod:`~koppel.state.runs`), ``plans_repo`` (:mod:`~koppel.state.plans`), ``locks``
(:mod:`~koppel.state.locks`), ``people`` (:mod:`~koppel.state.history`), ``inputs`` (:mod:`~koppel.state.inputs`:
the state's version and the inputs of the last run that found nothing to change), ``slices``
(:mod:`~koppel.state.slices`: what the rules made of each school's files) — and forwards its methods to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from koppel.errors import ConfigError, ConfigProblem
from koppel.model.change import Change, ItemResult
from koppel.plan.model import Plan
from koppel.plan.state_view import StateView
from koppel.state.db import (
    Clock,
    Database,
    check_url,
    describe_url,
    explain,
    normalise_url,
    read_only_fs,
    state_unavailable,
    tune_sqlite,
    utcnow,
)
from koppel.state.history import HistoryRepository
from koppel.state.inputs import InputsRepository
from koppel.state.locks import DEFAULT_LEASE_S, LockRepository
from koppel.state.objects import DriftRepository, ObjectReads
from koppel.state.plans import PlanRepository
from koppel.state.recording import Recorder
from koppel.state.records import IdentityRow, JournalEntry, LockInfo, PlanRecord, RunInfo, journal_entry
from koppel.state.runs import RunRepository, SourceReadRepository
from koppel.state.slices import SlicesRepository

__all__ = ["DEFAULT_LEASE_S", "SCHEMA_REVISION", "Clock", "IdentityRow", "JournalEntry", "LockInfo", "PlanRecord",
           "RunInfo", "StateStore", "describe_url", "journal_entry", "normalise_url", "state_unavailable", "utcnow"]

# The newest Alembic revision in migrations/versions (a test keeps the two in step).
SCHEMA_REVISION = "0008"


def _engine(url: str, shown: str) -> Engine:
    try:
        if url.startswith("sqlite:///") and not url.endswith(":memory:"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        args: dict[str, Any] = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") \
            and "connect_timeout" not in url else {}
        engine = create_engine(url, future=True, pool_pre_ping=True, **args)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError([ConfigProblem(f"state store URL {shown!r} is not a valid URL: {explain(exc)[0]}",
                                         setting="state.url")]) from None
    except ImportError as exc:
        raise ConfigError([ConfigProblem(f"state store URL {shown!r} needs a driver that is not installed "
                                         f"({exc.name}); for PostgreSQL: pip install 'koppel[postgres]'",
                                         setting="state.url")]) from None
    except OSError as exc:
        raise state_unavailable(exc, shown, doing="create") from exc
    if engine.dialect.name == "sqlite":
        tune_sqlite(engine)
    return engine


class StateStore:
    """Open with :meth:`open`; one instance per process is enough (it holds a connection pool)."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow):
        self.db = Database(engine, clock=clock)
        self.objects = ObjectReads(self.db)
        self.drift = DriftRepository(self.db)
        self.recorder = Recorder(self.db, self.drift)
        self.runs_repo = RunRepository(self.db)
        self.source_reads = SourceReadRepository(self.db)
        self.plans_repo = PlanRepository(self.db)
        self.locks = LockRepository(self.db)
        self.people = HistoryRepository(self.db)
        self.inputs = InputsRepository(self.db)
        self.slices = SlicesRepository(self.db)

    # -- opening and migrations ------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, base_dir: Path | None = None, clock: Clock = utcnow, migrate: bool = True) -> StateStore:
        """Open (and migrate) the store. An unsupported or malformed URL is a ``ConfigError``; a store that
        cannot be reached, created or read is ``StateUnavailable`` — both without the URL's password."""
        shown = describe_url(url)
        url = normalise_url(url, base_dir=base_dir)
        check_url(url, shown)
        engine = _engine(url, shown)
        store = cls(engine, clock=clock)
        store.url = shown
        if migrate:
            try:
                store.migrate()
            except DBAPIError as exc:
                engine.dispose()
                hint = None
                if url.startswith("sqlite:///") and read_only_fs(Path(url[len("sqlite:///"):]).parent):
                    hint = "the file system that holds it is read-only: move the state or remount it writable"
                raise state_unavailable(exc, shown, doing="open", hint=hint) from exc
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest revision. A store already there is recognised with one query,
        without loading Alembic (which costs a noticeable part of every short `koppel` command)."""
        if self.schema_revision() == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(resources.files("koppel.state") / "migrations"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_revision(self) -> str | None:
        from sqlalchemy import inspect

        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if revision is None else str(revision)

    def close(self) -> None:
        self.engine.dispose()

    def analyze(self) -> None:
        """ANALYZE, so the database plans its queries with real numbers (SQLite keeps none until then)."""
        with self.engine.begin() as conn:
            conn.execute(text("ANALYZE"))

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def clock(self) -> Clock:
        return self.db.clock

    @property
    def url(self) -> str:
        """The store's URL without its password."""
        return self.db.url

    @url.setter
    def url(self, value: str) -> None:
        self.db.url = value

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def now(self) -> str:
        return self.db.now()

    # -- the state's identity -----------------------------------------------------------------

    def ensure_state(self, tenant: str, target: str) -> tuple[int, str, int]:
        return self.db.ensure_state(tenant, target)

    def state_id(self, tenant: str, target: str) -> int | None:
        return self.db.state_id(tenant, target)

    def serial(self, tenant: str, target: str) -> tuple[str, int] | None:
        return self.db.serial(tenant, target)

    # -- objects (objects.py) -----------------------------------------------------------------

    def load_view(self, tenant: str, target: str, *, lean: bool = True) -> StateView:
        return self.objects.load_view(tenant, target, lean=lean)

    def load_for_plan(self, tenant: str, target: str, *, lean: bool = True,
                      by_group: bool = False) -> tuple[StateView, list[IdentityRow]]:
        return self.objects.load_for_plan(tenant, target, lean=lean, by_group=by_group)

    def group_members(self, tenant: str, target: str, groups: Iterable[str]) -> dict[str, str]:
        return self.objects.group_members(tenant, target, groups)

    def store_group_digests(self, view: StateView) -> bool:
        return self.objects.store_group_digests(view)

    def advance_group_digests(self, tenant: str, target: str, lineage: str, before: int, after: int,
                              changes: Iterable[tuple[str, str | None]]) -> bool:
        return self.objects.advance_group_digests(tenant, target, lineage, before, after, changes)

    def load_details(self, tenant: str, target: str, keys: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        return self.objects.load_details(tenant, target, keys)

    def load_attrs(self, tenant: str, target: str, keys: Iterable[str]) -> dict[str, str]:
        return self.objects.load_attrs(tenant, target, keys)

    def object(self, tenant: str, target: str, key: str) -> dict[str, Any] | None:
        return self.objects.object(tenant, target, key)

    def counts(self, tenant: str, target: str) -> dict[str, dict[str, int]]:
        return self.objects.counts(tenant, target)

    def identity_rows(self, tenant: str, target: str) -> Iterator[IdentityRow]:
        return self.objects.identity_rows(tenant, target)

    def unrecorded(self, tenant: str, target: str) -> list[dict[str, Any]]:
        return self.objects.unrecorded(tenant, target)

    def school_names(self, tenant: str, target: str) -> dict[str, str]:
        return self.objects.school_names(tenant, target)

    def replace_drift(self, tenant: str, target: str, drift: Mapping[str, Mapping[str, Any]]) -> None:
        self.drift.replace_drift(tenant, target, drift)

    def load_drift(self, tenant: str, target: str) -> dict[str, dict[str, Any]]:
        return self.drift.load_drift(tenant, target)

    # -- recording (recording.py) ---------------------------------------------------------------

    def mark_sent(self, *, tenant: str, target: str, run_id: int, plan_id: str | None,
                  changes: Sequence[Change]) -> None:
        self.recorder.mark_sent(tenant=tenant, target=target, run_id=run_id, plan_id=plan_id, changes=changes)

    def unmark(self, *, tenant: str, target: str, keys: Sequence[str]) -> None:
        self.recorder.unmark(tenant=tenant, target=target, keys=keys)

    def record(self, *, tenant: str, target: str, run_id: int, plan_id: str | None,
               outcomes: Sequence[tuple[Change, ItemResult]]) -> int:
        return self.recorder.record(tenant=tenant, target=target, run_id=run_id, plan_id=plan_id, outcomes=outcomes)

    def adopt(self, tenant: str, target: str, key: str, target_id: str, *, approved_by: str,
              username: str | None = None) -> None:
        self.recorder.adopt(tenant, target, key, target_id, approved_by=approved_by, username=username)

    def record_takeover(self, tenant: str, target: str, *, lineage: str, serial: int, changes: Sequence[Change],
                        drop: Sequence[str] = (), run_id: int, plan_id: str | None, approved_by: str) -> int:
        return self.recorder.record_takeover(tenant, target, lineage=lineage, serial=serial, changes=changes,
                                             drop=drop, run_id=run_id, plan_id=plan_id, approved_by=approved_by)

    # -- runs and source reads (runs.py) ----------------------------------------------------------

    def begin_run(self, tenant: str, target: str, *, kind: str, trigger: str = "cli",
                  plan_id: str | None = None, approved_by: str | None = None) -> int:
        return self.runs_repo.begin_run(tenant, target, kind=kind, trigger=trigger, plan_id=plan_id,
                                        approved_by=approved_by)

    def finish_run(self, run_id: int, *, status: str, summary: Mapping[str, Any] | None = None,
                   message: str | None = None, plan_id: str | None = None) -> None:
        self.runs_repo.finish_run(run_id, status=status, summary=summary, message=message, plan_id=plan_id)

    def runs(self, tenant: str | None = None, target: str | None = None, *, limit: int = 50,
             since: str | None = None, offset: int = 0) -> list[RunInfo]:
        return self.runs_repo.runs(tenant, target, limit=limit, since=since, offset=offset)

    def run(self, run_id: int) -> RunInfo | None:
        return self.runs_repo.run(run_id)

    def run_journal(self, run_id: int, *, outcomes: Sequence[str] | None = None, limit: int = 1000) -> list[JournalEntry]:
        return self.runs_repo.run_journal(run_id, outcomes=outcomes, limit=limit)

    def run_times(self, tenant: str | None = None, target: str | None = None, *,
                  since: str) -> list[tuple[int, str, str]]:
        return self.runs_repo.run_times(tenant, target, since=since)

    def run_journal_by_outcome(self, run_id: int, outcomes: Sequence[str], *, limit: int,
                               offset: int = 0) -> list[JournalEntry]:
        return self.runs_repo.run_journal_by_outcome(run_id, outcomes, limit=limit, offset=offset)

    def outcome_counts(self, run_id: int) -> list[tuple[str | None, str, int]]:
        return self.runs_repo.outcome_counts(run_id)

    def fail_stale_runs(self, tenant: str, target: str) -> int:
        return self.runs_repo.fail_stale_runs(tenant, target)

    def record_source_read(self, tenant: str, *, status: str, school_year: str | None, counts: Mapping[str, int],
                           sources: Sequence[Mapping[str, Any]], diagnostics: Sequence[Mapping[str, Any]],
                           message: str | None = None) -> int:
        return self.source_reads.record_source_read(tenant, status=status, school_year=school_year, counts=counts,
                                                    sources=sources, diagnostics=diagnostics, message=message)

    def latest_source_read_id(self, tenant: str) -> int | None:
        return self.source_reads.latest_source_read_id(tenant)

    def repeat_source_read(self, read_id: int) -> int | None:
        return self.source_reads.repeat_source_read(read_id)

    def latest_source_read(self, tenant: str, *, status: str | None = None) -> dict[str, Any] | None:
        return self.source_reads.latest_source_read(tenant, status=status)

    # -- plans (plans.py) -------------------------------------------------------------------------

    def save_plan(self, plan: Plan, *, status: str) -> None:
        self.plans_repo.save_plan(plan, status=status)

    def plan_record(self, plan_id: str) -> PlanRecord:
        return self.plans_repo.plan_record(plan_id)

    def plan_json(self, plan_id: str) -> bytes | None:
        return self.plans_repo.plan_json(plan_id)

    def load_plan(self, plan_id: str) -> Plan:
        return self.plans_repo.load_plan(plan_id)

    def plans(self, tenant: str | None = None, target: str | None = None, *, status: Sequence[str] | None = None,
              limit: int = 50) -> list[PlanRecord]:
        return self.plans_repo.plans(tenant, target, status=status, limit=limit)

    def set_plan_status(self, plan_id: str, status: str, *, by: str | None = None, run_id: int | None = None,
                        approved: bool = False) -> None:
        self.plans_repo.set_plan_status(plan_id, status, by=by, run_id=run_id, approved=approved)

    def mark_stale_plans(self, tenant: str, target: str, serial: int) -> int:
        return self.plans_repo.mark_stale_plans(tenant, target, serial)

    # -- locks (locks.py) -------------------------------------------------------------------------

    @contextmanager
    def lock(self, tenant: str, target: str, *, purpose: str, stale_after_s: int = DEFAULT_LEASE_S) -> Iterator[str]:
        """The run lock (see :meth:`LockRepository.lock`). Taking it forgets whether the state has drift:
        drift changes only under this lock, perhaps in another process, and ``record`` asks again."""
        with self.locks.lock(tenant, target, purpose=purpose, stale_after_s=stale_after_s) as holder:
            self.drift.forget(tenant, target)
            yield holder

    def heartbeat(self, tenant: str, target: str, holder: str) -> None:
        self.locks.heartbeat(tenant, target, holder)

    def remove_lock(self, tenant: str, target: str, holder: str) -> bool:
        return self.locks.remove_lock(tenant, target, holder)

    def lock_verdict(self, lock: LockInfo, *, lease_s: int = DEFAULT_LEASE_S) -> tuple[bool, str]:
        return self.locks.lock_verdict(lock, lease_s=lease_s)

    def lock_run(self, lock: LockInfo) -> RunInfo | None:
        return self.runs_repo.lock_run(lock)

    def current_lock(self, tenant: str, target: str) -> LockInfo | None:
        return self.locks.current_lock(tenant, target)

    # -- persons, history and purge (history.py) --------------------------------------------------

    def find_persons(self, tenant: str, target: str | None, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        return self.people.find_persons(tenant, target, query, limit=limit)

    def person(self, tenant: str, key: str) -> dict[str, Any] | None:
        return self.people.person(tenant, key)

    def history(self, tenant: str, target: str | None, key: str, *, limit: int = 500) -> list[JournalEntry]:
        return self.people.history(tenant, target, key, limit=limit)

    def object_history(self, tenant: str, target: str, key: str) -> list[JournalEntry]:
        return self.people.object_history(tenant, target, key)

    def purgeable_persons(self, tenant: str, target: str, *, before: str) -> list[dict[str, Any]]:
        return self.people.purgeable_persons(tenant, target, before=before)

    def purge_persons(self, tenant: str, target: str, keys: Sequence[str]) -> dict[str, int]:
        return self.people.purge_persons(tenant, target, keys)
