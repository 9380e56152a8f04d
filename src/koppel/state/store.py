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
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import io
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from koppel.errors import (
    ConfigError,
    ConfigProblem,
    LockHeld,
    PlanNotFound,
    StateUnavailable,
    UnrecordedChanges,
)
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.model.keys import ADOPTED
from koppel.plan.model import Plan
from koppel.plan.state_view import UNRECORDED, ObjectStatus, StateRecord, StateView
from koppel.state import schema as t

__all__ = ["DEFAULT_LEASE_S", "JournalEntry", "LockInfo", "RunInfo", "StateStore", "describe_url", "normalise_url",
           "state_unavailable", "utcnow"]

Clock = Callable[[], dt.datetime]

# The newest Alembic revision in migrations/versions (a test keeps the two in step).
SCHEMA_REVISION = "0005"

DEFAULT_LEASE_S = 6 * 3600
"""How long a run lock stays valid without a heartbeat (the applier beats every 30 s while it works)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def normalise_url(url: str, *, base_dir: Path | None = None) -> str:
    """``postgresql://`` → psycopg 3 driver; relative SQLite paths → relative to the config file."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and base_dir is not None:
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            return "sqlite:///" + str((base_dir / rel).resolve())
    return url


_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")
_SECRET_QUERY = ("password", "passwd", "pwd", "secret", "token", "key", "credential")


def describe_url(url: str) -> str:
    """The URL to show in a message: never its password (nor a secret in its query string)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - anything that is no URL is shown by its scheme only
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://…" if scheme and scheme.isascii() and scheme.replace("+", "").isalnum() else "(not a URL)"
    masked = {k: "***" for k in parsed.query if any(w in k.lower() for w in _SECRET_QUERY)}
    if masked:
        parsed = parsed.update_query_dict(masked)
    return parsed.render_as_string(hide_password=True)


def _check_url(url: str, shown: str) -> None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise ConfigError([ConfigProblem(
            f"unsupported state store URL {shown!r}: koppel keeps its state in SQLite "
            "(sqlite:///koppel-state.db, relative to the configuration file) or PostgreSQL "
            "(postgresql://user@host/database)", setting="state.url")])


def state_unavailable(exc: BaseException, where: str | None = None, *, doing: str = "use",
                      hint: str | None = None) -> StateUnavailable:
    """A database or file error as one clear message: what failed, the database's own words, what to do."""
    reason, usual = _explain(exc)
    hint = hint or usual
    store = f"the state store {where}" if where else "the state store"
    return StateUnavailable(f"koppel could not {doing} {store}: {reason}" + (f" — {hint}" if hint else ""))


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _explain(exc: BaseException) -> tuple[str, str]:
    """The driver's message on one line (never SQL or parameters), and a hint for the usual causes."""
    orig = getattr(exc, "orig", None) or exc
    reason = " ".join(str(orig).split()) or type(orig).__name__
    if len(reason) > 300:
        reason = reason[:297] + "…"
    low = f"{type(orig).__name__} {reason}".lower()
    if any(w in low for w in ("disk is full", "no space left", "diskfull", "could not extend file")):
        hint = "the disk is full: free space where the state is kept, then run again"
    elif any(w in low for w in ("readonly", "read-only", "read only")):
        hint = "the state cannot be written: make the file and its folder writable for koppel, then run again"
    elif "unable to open database file" in low or "permission denied" in low:
        hint = "check that the state file's folder exists and that koppel may read and write there"
    elif any(w in low for w in ("connection refused", "could not connect", "connection failed", "timeout expired",
                                "could not translate host", "name or service not known", "server closed")):
        hint = "the database does not answer: check that it runs and that the URL's host and port are right"
    elif "authentication failed" in low or "password" in low:
        hint = "the database refused the credentials: check the state URL (or KOPPEL_STATE_URL)"
    elif "does not exist" in low and "database" in low:
        hint = "create the database first (koppel creates its tables itself)"
    elif "locked" in low:
        hint = "another program holds the state file; try again when it is done"
    else:
        hint = ""
    return reason, hint


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


_KIND = {k.value: k for k in ObjectKind}
_STATUS = {s.value: s for s in ObjectStatus}


@dataclass(frozen=True)
class RunInfo:
    id: int
    tenant: str
    target: str
    kind: str
    trigger: str
    status: str
    started_at: str
    finished_at: str | None
    plan_id: str | None
    summary: dict[str, Any]
    message: str | None
    approved_by: str | None


@dataclass(frozen=True)
class JournalEntry:
    id: int
    run_id: int
    plan_id: str | None
    at: str
    key: str
    kind: str
    action: str
    outcome: str
    school: str | None
    label: str | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    code: str | None
    message: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class LockInfo:
    tenant: str
    target: str
    holder: str
    host: str
    pid: int
    purpose: str | None
    acquired_at: str
    heartbeat_at: str
    lease_s: int | None = None


@dataclass(frozen=True)
class PlanRecord:
    id: str
    tenant: str
    target: str
    created_at: str
    status: str
    lineage: str
    serial: int
    held: bool
    holds: list[dict[str, Any]]
    summary: dict[str, int]
    approved_by: str | None
    approved_at: str | None
    decided_by: str | None
    decided_at: str | None
    run_id: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


IdentityRow = tuple[str, dict[str, Any], dict[str, Any], str]
"""A person's (sync key, attrs, meta, status), what the rules' identity index is built from."""


class _LazyCounts(Mapping[Any, int]):
    """Counts computed on first use: the guards need the memberships per school only when a plan would
    remove some, so a plan without removals never pays for counting a million rows."""

    def __init__(self, count: Callable[[], dict[Any, int]]):
        self._count: Callable[[], dict[Any, int]] | None = count
        self._counts: dict[Any, int] = {}

    def _loaded(self) -> dict[Any, int]:
        if self._count is not None:
            self._counts, self._count = self._count(), None
        return self._counts

    def __getitem__(self, key: Any) -> int:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


class StateStore:
    """Open with :meth:`open`; one instance per process is enough (it holds a connection pool)."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow):
        self.engine = engine
        self.clock = clock
        self.url = describe_url(engine.url.render_as_string(hide_password=False))
        self._state_ids: dict[tuple[str, str], int] = {}
        self._has_drift: dict[int, bool] = {}  # state id -> any drift rows (saves a delete per batch)

    # -- opening and migrations ------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, base_dir: Path | None = None, clock: Clock = utcnow, migrate: bool = True) -> StateStore:
        """Open (and migrate) the store. An unsupported or malformed URL is a ``ConfigError``; a store that
        cannot be reached, created or read is ``StateUnavailable`` — both without the URL's password."""
        shown = describe_url(url)
        url = normalise_url(url, base_dir=base_dir)
        _check_url(url, shown)
        try:
            if url.startswith("sqlite:///") and not url.endswith(":memory:"):
                Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            args = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") \
                and "connect_timeout" not in url else {}
            engine = create_engine(url, future=True, pool_pre_ping=True, **args)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError([ConfigProblem(f"state store URL {shown!r} is not a valid URL: {_explain(exc)[0]}",
                                             setting="state.url")]) from None
        except ImportError as exc:
            raise ConfigError([ConfigProblem(f"state store URL {shown!r} needs a driver that is not installed "
                                             f"({exc.name}); for PostgreSQL: pip install 'koppel[postgres]'",
                                             setting="state.url")]) from None
        except OSError as exc:
            raise state_unavailable(exc, shown, doing="create") from exc
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine)
        store = cls(engine, clock=clock)
        store.url = shown
        if migrate:
            try:
                store.migrate()
            except DBAPIError as exc:
                engine.dispose()
                hint = None
                if url.startswith("sqlite:///") and _read_only_fs(Path(url[len("sqlite:///"):]).parent):
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
        from sqlalchemy import inspect, text

        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def now(self) -> str:
        return _ts(self.clock())

    # -- state identity (lineage, serial) --------------------------------------------------

    def _state_id_for_write(self, tenant: str, target: str) -> int:
        """The state's id, created on first use; cached, because every recorded batch needs it."""
        state_id = self._state_ids.get((tenant, target))
        if state_id is None:
            state_id = self.ensure_state(tenant, target)[0]
            self._state_ids[(tenant, target)] = state_id
        return state_id

    def ensure_state(self, tenant: str, target: str) -> tuple[int, str, int]:
        """Return (state id, lineage, serial), creating the state on first use."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(t.targets_state.c.id, t.targets_state.c.lineage, t.targets_state.c.serial).where(
                    t.targets_state.c.tenant == tenant, t.targets_state.c.target == target
                )
            ).first()
            if row is not None:
                return row.id, row.lineage, row.serial
            now = self.now()
            try:
                result = conn.execute(
                    insert(t.targets_state).values(
                        tenant=tenant, target=target, lineage=str(uuid.uuid4()), serial=0,
                        created_at=now, updated_at=now,
                    )
                )
            except IntegrityError:  # created concurrently: read it back
                conn.rollback()
                return self.ensure_state(tenant, target)
            state_id = result.inserted_primary_key[0]
            row = conn.execute(
                select(t.targets_state.c.lineage, t.targets_state.c.serial).where(t.targets_state.c.id == state_id)
            ).one()
            return state_id, row.lineage, row.serial

    def state_id(self, tenant: str, target: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.targets_state.c.id).where(
                    t.targets_state.c.tenant == tenant, t.targets_state.c.target == target
                )
            ).scalar()

    def serial(self, tenant: str, target: str) -> tuple[str, int] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.targets_state.c.lineage, t.targets_state.c.serial).where(
                    t.targets_state.c.tenant == tenant, t.targets_state.c.target == target
                )
            ).first()
            return (row.lineage, row.serial) if row else None

    # -- reading the state for a plan ------------------------------------------------------

    def load_view(self, tenant: str, target: str, *, lean: bool = True) -> StateView:
        """The index of every object, without attributes — the plan asks for those of the few objects it
        shows a before for (:meth:`load_details`).

        ``lean`` (for planning): persons and groups become records; active memberships — most of a
        bestuur's million rows, each fully described by its key and fingerprint — are only a
        ``key → fingerprint`` table, and their number per school (for the guards) is counted only when
        asked for. ``lean=False`` (for reconciliation) makes a record of every object. It reads through
        the DB-API cursor (SQLAlchemy's row objects cost more than the rows themselves) and shares the
        strings that repeat."""
        return self.load_for_plan(tenant, target, lean=lean)[0]

    def load_for_plan(self, tenant: str, target: str, *, lean: bool = True) -> tuple[StateView, list[IdentityRow]]:
        """:meth:`load_view` and :meth:`identity_rows` from one pass over the persons and groups."""
        state_id, lineage, serial = self.ensure_state(tenant, target)
        # A SQLite file usually holds one tenant and target: then one pass over the table beats following
        # the index row by row (a third faster for a million rows).
        hint = "NOT INDEXED" if self.dialect == "sqlite" and self._single_state() else ""
        only = " AND NOT (kind = 'membership' AND status = 'active')" if lean else ""
        sql = (
            "SELECT key, kind, status, fingerprint, school,"
            " CASE WHEN kind = 'membership' THEN NULL ELSE label END,"
            " CASE WHEN target_id = key THEN NULL ELSE target_id END,"
            " absent_since, delete_after,"
            " CASE WHEN kind = 'membership' THEN NULL ELSE meta END,"
            " CASE WHEN kind = 'person' THEN attrs ELSE NULL END"
            f" FROM objects {hint} WHERE state_id = {{p}}{only}"
        )
        records: dict[str, StateRecord] = {}
        identities: list[IdentityRow] = []
        kinds, statuses = _KIND, _STATUS
        group, person = ObjectKind.GROUP, ObjectKind.PERSON
        intern = {}.setdefault
        loads = orjson.loads
        new = tuple.__new__  # StateRecord is a named tuple: build it without a Python-level __new__
        for rows in self._raw_chunks(sql, state_id):
            for key, kind, status, fp, school, label, target_id, absent, delete_after, meta, attrs in rows:
                k = kinds[kind]
                parent = group_type = None
                if k is group:
                    if meta:
                        group_meta = loads(meta)
                        parent, group_type = group_meta.get("parent"), group_meta.get("type")
                elif k is person:
                    identities.append((key, loads(attrs), loads(meta) if meta else {}, status))
                records[key] = new(StateRecord, (k, key, statuses[status], intern(fp, fp), intern(school, school),
                                                 label, target_id, absent, delete_after, parent, None, group_type))
        if not lean:
            return StateView(tenant, target, lineage, serial, records), identities
        # Key and fingerprint only, straight from the cursor's rows into the table (a third of the time
        # of a Python loop over a million rows).
        memberships: dict[str, str] = {}
        active = f"FROM objects {hint} WHERE state_id = {{p}} AND kind = 'membership' AND status = 'active'"
        for rows in self._raw_chunks(f"SELECT key, fingerprint {active}", state_id):
            memberships.update(rows)
        totals = _LazyCounts(lambda: dict(self._raw(f"SELECT school, count(*) {active} GROUP BY school", state_id)))
        sent_attrs, unrecorded = _reopen(records, memberships, self._raw(
            "SELECT key, kind, action, school, label, after FROM unrecorded WHERE state_id = {p}", state_id))
        view = StateView(tenant, target, lineage, serial, records, attrs_json=sent_attrs, memberships=memberships,
                         membership_totals=totals, unrecorded=unrecorded,
                         membership_target_ids=self._adopted_membership_ids(tenant, target, state_id, active))
        return view, identities

    def unrecorded(self, tenant: str, target: str) -> list[dict[str, Any]]:
        """What was sent to the target and has no recorded outcome (sent again by the next plan)."""
        state_id = self.state_id(tenant, target)
        if state_id is None:
            return []
        u = t.unrecorded.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(u.key, u.kind, u.action, u.run_id, u.plan_id, u.sent_at, u.school, u.label)
                                .where(u.state_id == state_id).order_by(u.sent_at, u.key))
            return [dict(r._mapping) for r in rows]

    def _adopted_membership_ids(self, tenant: str, target: str, state_id: int, active: str) -> dict[str, str]:
        """Active memberships whose target id is not the one koppel derives (``<person id>|<group id>``), as
        key → target id: memberships a takeover adopted under the previous koppeling's ids. A lean membership
        carries no target id, and updating or deleting one of these under a derived id would miss it. Only a
        state that went through a takeover can hold them: the others skip the query."""
        if not self._had_takeover(tenant, target):
            return {}
        return dict(self._raw(
            f"SELECT key, target_id {active} AND target_id IS NOT NULL"
            " AND substr(key, 1, length(target_id) + 1) <> target_id || '|'", state_id))

    def _had_takeover(self, tenant: str, target: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(t.runs.c.id).where(
                t.runs.c.tenant == tenant, t.runs.c.target == target, t.runs.c.kind == "takeover",
                t.runs.c.status == "succeeded").limit(1)).first() is not None

    def _single_state(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t.targets_state)).scalar() == 1

    def _raw(self, sql: str, *params: Any) -> Iterator[tuple]:
        """Rows of a plain SELECT through the DB-API cursor. ``{p}`` marks each parameter."""
        for rows in self._raw_chunks(sql, *params):
            yield from rows

    def _raw_chunks(self, sql: str, *params: Any) -> Iterator[list[tuple]]:
        """Rows in chunks: the caller's loop runs without a generator step per row."""
        marker = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql.replace("{p}", marker), params)
                while True:
                    rows = cursor.fetchmany(20000)
                    if not rows:
                        break
                    yield rows
            finally:
                cursor.close()

    def load_details(self, tenant: str, target: str, keys: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Attribute JSON and labels of these objects (what the plan shows as *before*)."""
        state_id = self.state_id(tenant, target)
        wanted = set(keys)
        attrs: dict[str, str] = {}
        labels: dict[str, str] = {}
        if state_id is None or not wanted:
            return attrs, labels
        if len(wanted) > 20000:
            # Many (a jaarovergang): one scan beats thousands of IN lists.
            rows = self._raw("SELECT key, attrs, label FROM objects WHERE state_id = {p}", state_id)
            for key, a, label in rows:
                if key in wanted:
                    attrs[key] = a
                    if label:
                        labels[key] = label
            return attrs, labels
        o = t.objects.c
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(wanted), 900):
                for key, a, label in conn.execute(select(o.key, o.attrs, o.label).where(
                        o.state_id == state_id, o.key.in_(chunk))):
                    attrs[key] = a
                    if label:
                        labels[key] = label
        return attrs, labels

    def load_attrs(self, tenant: str, target: str, keys: Iterable[str]) -> dict[str, str]:
        return self.load_details(tenant, target, keys)[0]

    def object(self, tenant: str, target: str, key: str) -> dict[str, Any] | None:
        state_id = self.state_id(tenant, target)
        if state_id is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.objects).where(t.objects.c.state_id == state_id, t.objects.c.key == key)
            ).mappings().first()
        if row is None:
            return None
        out = {str(k): v for k, v in row.items()}
        out["attrs"] = orjson.loads(out["attrs"])
        out["meta"] = orjson.loads(out["meta"]) if out["meta"] else {}
        return out

    def counts(self, tenant: str, target: str) -> dict[str, dict[str, int]]:
        """Objects per kind and status."""
        state_id = self.state_id(tenant, target)
        out: dict[str, dict[str, int]] = {}
        if state_id is None:
            return out
        o = t.objects.c
        with self.engine.connect() as conn:
            for kind, status, n in conn.execute(
                select(o.kind, o.status, func.count()).where(o.state_id == state_id).group_by(o.kind, o.status)
            ):
                out.setdefault(kind, {})[status] = n
        return out

    # -- recording what the target acknowledged -------------------------------------------

    def mark_sent(self, *, tenant: str, target: str, run_id: int, plan_id: str | None,
                  changes: Sequence[Change]) -> None:
        """Before a request goes out: note its changes as sent and not recorded, in one transaction.

        ``record`` removes the note with the outcome. A note left behind makes the next plan send the
        object again (see ``load_for_plan``). Raises ``StateUnavailable`` — then nothing was sent."""
        state_id = self._state_id_for_write(tenant, target)
        now = self.now()
        create = Action.CREATE
        rows = [(state_id, c.key, c.kind.value, c.action.value, run_id, plan_id, now, c.school, c.label or None,
                 _dumps(dict(c.after)) if c.action is create and c.after is not None else None) for c in changes]
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(_mark_sql(self._marker), rows)
        except DBAPIError as exc:
            raise state_unavailable(exc, self.url, doing="note what it is about to send in") from exc

    def unmark(self, *, tenant: str, target: str, keys: Sequence[str]) -> None:
        """Close the notes of changes the platform refused as a whole before applying anything (a wrong
        endpoint, refused credentials): nothing to record, nothing to send again."""
        state_id = self._state_id_for_write(tenant, target)
        marker = self._marker
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"DELETE FROM unrecorded WHERE state_id = {marker} AND key = {marker}",
                                     [(state_id, k) for k in keys])
        except DBAPIError as exc:
            raise state_unavailable(exc, self.url, doing="write") from exc

    def record(
        self,
        *,
        tenant: str,
        target: str,
        run_id: int,
        plan_id: str | None,
        outcomes: Sequence[tuple[Change, ItemResult]],
    ) -> int:
        """Journal every outcome and move the state of every acknowledged change, in one transaction.

        Returns the new serial. Failed and skipped outcomes are journaled but move no state. Every outcome
        closes its change's ``mark_sent`` note. When the transaction fails, ``UnrecordedChanges`` says how
        many changes the platform confirmed that the state does not know: their notes stay, and the next
        plan sends them again.
        """
        state_id = self._state_id_for_write(tenant, target)
        now = self.now()
        journal_rows: list[dict[str, Any]] = []
        upserts: list[dict[str, Any]] = []
        status_updates: list[dict[str, Any]] = []
        removals: list[str] = []
        for change, result in outcomes:
            journal_rows.append(_journal_row(state_id, run_id, plan_id, now, change, result))
            if not result.ok:
                continue
            action = change.action
            if action in (Action.CREATE, Action.UPDATE, Action.RESTORE):
                upserts.append(_object_row(state_id, now, change, result))
            elif action is Action.SUSPEND:
                dates = change.dates or {}
                status_updates.append({
                    "b_key": change.key, "status": ObjectStatus.SUSPENDED.value,
                    "absent_since": dates.get("absent_since"), "delete_after": dates.get("delete_after"),
                })
            elif action is Action.ARCHIVE:
                status_updates.append({
                    "b_key": change.key, "status": ObjectStatus.ARCHIVED.value,
                    "absent_since": (change.dates or {}).get("absent_since"), "delete_after": None,
                })
            elif action is Action.DELETE:
                if change.kind is ObjectKind.PERSON:
                    # Kept (without attributes that identify more than needed) until the retention
                    # period ends and `koppel purge` removes it with its history.
                    status_updates.append({
                        "b_key": change.key, "status": ObjectStatus.DELETED.value,
                        "absent_since": (change.dates or {}).get("absent_since"), "delete_after": None,
                    })
                else:
                    removals.append(change.key)
        marker = self._marker
        try:
            return self._record(state_id, now, outcomes, journal_rows, upserts, status_updates, removals, marker)
        except DBAPIError as exc:
            answered = sum(1 for _, r in outcomes if r.code != "skipped")
            confirmed = sum(1 for _, r in outcomes if r.ok)
            reason, hint = _explain(exc)
            raise UnrecordedChanges(
                f"the platform answered {answered:,} change(s) ({confirmed:,} confirmed), but koppel could not "
                f"record the answers in the state store {self.url}: {reason}"
                + (f" — {hint}" if hint else "") + ". The run stopped. Nothing is lost: what was sent and not "
                "recorded stays noted in the state, and the next run sends it again (`koppel plan` shows it)."
            ) from exc

    def _record(self, state_id: int, now: str, outcomes: Sequence[tuple[Change, ItemResult]],
                journal_rows: list[dict[str, Any]], upserts: list[dict[str, Any]],
                status_updates: list[dict[str, Any]], removals: list[str], marker: str) -> int:
        with self.engine.begin() as conn:
            # The two bulk statements go to the driver as they are: SQLAlchemy's per-row parameter
            # processing would cost more than SQLite's own work on a batch of fifty.
            answered = [(state_id, c.key) for c, r in outcomes if r.code != "skipped"]  # skipped: never sent
            if answered:
                conn.exec_driver_sql(f"DELETE FROM unrecorded WHERE state_id = {marker} AND key = {marker}", answered)
            if journal_rows:
                conn.exec_driver_sql(_insert_sql("journal", _JOURNAL_COLUMNS, marker),
                                     [tuple(r[c] for c in _JOURNAL_COLUMNS) for r in journal_rows])
            if upserts:
                conn.exec_driver_sql(_upsert_sql(marker), [tuple(r[c] for c in _OBJECT_COLUMNS) for r in upserts])
            if status_updates:
                o = t.objects.c
                conn.execute(
                    update(t.objects)
                    .where(o.state_id == state_id, o.key == bindparam("b_key"))
                    .values(status=bindparam("status"), absent_since=bindparam("absent_since"),
                            delete_after=bindparam("delete_after"), updated_at=now),
                    status_updates,
                )
            for chunk in _chunks(removals, 900):
                conn.execute(delete(t.objects).where(t.objects.c.state_id == state_id, t.objects.c.key.in_(chunk)))
            if self._has_drift.get(state_id, True):
                done = [c.key for c, r in outcomes if r.ok]
                for chunk in _chunks(done, 900):
                    conn.execute(delete(t.drift).where(t.drift.c.state_id == state_id, t.drift.c.key.in_(chunk)))
            conn.execute(
                update(t.targets_state)
                .where(t.targets_state.c.id == state_id)
                .values(serial=t.targets_state.c.serial + 1, updated_at=now)
            )
            serial = conn.execute(select(t.targets_state.c.serial).where(t.targets_state.c.id == state_id)).scalar_one()
        return serial

    @property
    def _marker(self) -> str:
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    # -- drift (what reconciliation saw changed by hand) -------------------------------------

    def replace_drift(self, tenant: str, target: str, drift: Mapping[str, Mapping[str, Any]]) -> None:
        """Store what the latest reconciliation saw changed by hand: {key: {field: platform value}}."""
        state_id = self._state_id_for_write(tenant, target)
        now = self.now()
        with self.engine.begin() as conn:
            conn.execute(delete(t.drift).where(t.drift.c.state_id == state_id))
            if drift:
                conn.execute(insert(t.drift), [
                    {"state_id": state_id, "key": key, "fields": _dumps(dict(fields)), "seen_at": now}
                    for key, fields in drift.items()
                ])
        self._has_drift[state_id] = bool(drift)

    def load_drift(self, tenant: str, target: str) -> dict[str, dict[str, Any]]:
        state_id = self.state_id(tenant, target)
        if state_id is None:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.drift.c.key, t.drift.c.fields).where(t.drift.c.state_id == state_id))
            out = {key: orjson.loads(fields) for key, fields in rows}
        self._has_drift[state_id] = bool(out)
        return out

    def adopt(self, tenant: str, target: str, key: str, target_id: str, *, approved_by: str,
              username: str | None = None) -> None:
        """Record that koppel's person ``key`` is the target's existing (manual) account ``target_id``.

        The account keeps its user name (the rules never rename an account koppel manages); the next
        plan updates the fields koppel owns."""
        state_id, _, _ = self.ensure_state(tenant, target)
        now = self.now()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(t.objects.c.key).where(t.objects.c.state_id == state_id, t.objects.c.key == key)
            ).first()
            if row is not None:
                conn.execute(
                    update(t.objects).where(t.objects.c.state_id == state_id, t.objects.c.key == key)
                    .values(target_id=target_id, updated_at=now)
                )
            else:
                conn.execute(insert(t.objects).values(
                    state_id=state_id, key=key, kind=ObjectKind.PERSON.value, status=ObjectStatus.ACTIVE.value,
                    fingerprint=ADOPTED, attrs=_dumps({"username": username} if username else {}), meta="{}",
                    target_id=target_id, person_key=key, created_at=now, updated_at=now,
                ))
            conn.execute(insert(t.journal).values(
                state_id=state_id, run_id=0, at=now, key=key, kind=ObjectKind.PERSON.value, action="adopt",
                outcome="done", person_key=key, reason=f"manual account {target_id} adopted, approved by {approved_by}",
            ))
            conn.execute(update(t.targets_state).where(t.targets_state.c.id == state_id)
                         .values(serial=t.targets_state.c.serial + 1, updated_at=now))

    def record_takeover(self, tenant: str, target: str, *, lineage: str, serial: int, changes: Sequence[Change],
                        drop: Sequence[str] = (), run_id: int, plan_id: str | None, approved_by: str) -> int:
        """Record a takeover (`koppel takeover --approve`) in one transaction: every adopted object with the
        platform's id and what the platform holds, every account recorded for later confirmation, and a
        journal entry for each; ``drop`` are records of an earlier takeover the adoptions replace.

        Compare-and-set on the state's serial: a takeover planned on another state is refused with
        ``StalePlanError`` and nothing is written. Returns the new serial."""
        from koppel.errors import StalePlanError

        state_id = self._state_id_for_write(tenant, target)
        now = self.now()
        done = [ItemResult(c.key, ItemOutcome.DONE, target_id=c.target_id) for c in changes]
        objects = [_object_row(state_id, now, c, r) for c, r in zip(changes, done, strict=True)]
        journal = []
        for change, result in zip(changes, done, strict=True):
            row = _journal_row(state_id, run_id, plan_id, now, change, result)
            row["action"] = "adopt" if change.fingerprint and not change.fingerprint.startswith("takeover-") else "record"
            row["reason"] = f"{change.reason}; approved by {approved_by}"
            journal.append(row)
        marker = self._marker
        with self.engine.begin() as conn:
            row = conn.execute(select(t.targets_state.c.lineage, t.targets_state.c.serial)
                               .where(t.targets_state.c.id == state_id)).one()
            if (row.lineage, row.serial) != (lineage, serial):
                raise StalePlanError(
                    f"the takeover plan is stale: it was made on serial {serial} of this state, which is at "
                    f"{row.serial} now. Run `koppel takeover` again.")
            for chunk in _chunks(list(drop), 900):
                conn.execute(delete(t.objects).where(t.objects.c.state_id == state_id, t.objects.c.key.in_(chunk)))
            for start in range(0, len(objects), 5000):
                conn.exec_driver_sql(_upsert_sql(marker), [tuple(r[c] for c in _OBJECT_COLUMNS)
                                                           for r in objects[start:start + 5000]])
                conn.exec_driver_sql(_insert_sql("journal", _JOURNAL_COLUMNS, marker),
                                     [tuple(r[c] for c in _JOURNAL_COLUMNS) for r in journal[start:start + 5000]])
            conn.execute(update(t.targets_state).where(t.targets_state.c.id == state_id)
                         .values(serial=t.targets_state.c.serial + 1, updated_at=now))
            return conn.execute(select(t.targets_state.c.serial).where(t.targets_state.c.id == state_id)).scalar_one()

    # -- runs ------------------------------------------------------------------------------

    def begin_run(self, tenant: str, target: str, *, kind: str, trigger: str = "cli",
                  plan_id: str | None = None, approved_by: str | None = None) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(insert(t.runs).values(
                tenant=tenant, target=target, kind=kind, trigger=trigger, status="running",
                started_at=self.now(), plan_id=plan_id, approved_by=approved_by,
                host=socket.gethostname(), pid=os.getpid(),
            ))
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, *, status: str, summary: Mapping[str, Any] | None = None,
                   message: str | None = None, plan_id: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "finished_at": self.now(), "message": message}
        if summary is not None:
            values["summary"] = _dumps(summary)
        if plan_id is not None:
            values["plan_id"] = plan_id
        with self.engine.begin() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))

    def runs(self, tenant: str | None = None, target: str | None = None, *, limit: int = 50,
             since: str | None = None) -> list[RunInfo]:
        r = t.runs.c
        query = select(t.runs).order_by(r.id.desc()).limit(limit)
        if tenant:
            query = query.where(r.tenant == tenant)
        if target:
            query = query.where(r.target == target)
        if since:
            query = query.where(r.started_at >= since)
        with self.engine.connect() as conn:
            return [_run_info(row) for row in conn.execute(query).mappings()]

    def run(self, run_id: int) -> RunInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        return _run_info(row) if row else None

    def run_journal(self, run_id: int, *, outcomes: Sequence[str] | None = None, limit: int = 1000) -> list[JournalEntry]:
        j = t.journal.c
        query = select(t.journal).where(j.run_id == run_id).order_by(j.id).limit(limit)
        if outcomes:
            query = query.where(j.outcome.in_(list(outcomes)))
        with self.engine.connect() as conn:
            return [journal_entry(row) for row in conn.execute(query).mappings()]

    def fail_stale_runs(self, tenant: str, target: str) -> int:
        """Mark runs left 'running' by a killed process as failed (called under the run lock)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t.runs)
                .where(t.runs.c.tenant == tenant, t.runs.c.target == target, t.runs.c.status == "running")
                .values(status="failed", finished_at=self.now(), message="the process running this stopped")
            )
            return result.rowcount or 0

    # -- plans -----------------------------------------------------------------------------

    def save_plan(self, plan: Plan, *, status: str) -> None:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=3, mtime=0) as compressed:
            plan.write_json(compressed)  # streamed: a held plan can hold half a million changes
        body = buffer.getvalue()
        values = {
            "tenant": plan.tenant, "target": plan.target, "created_at": self.now(), "status": status,
            "lineage": plan.lineage, "serial": plan.serial, "held": plan.held,
            "holds": _dumps([h.to_json() for h in plan.holds]), "summary": _dumps(plan.summary()), "body": body,
        }
        with self.engine.begin() as conn:
            exists = conn.execute(select(t.plans.c.id).where(t.plans.c.id == plan.id)).first()
            if exists:
                conn.execute(update(t.plans).where(t.plans.c.id == plan.id).values(
                    status=status, created_at=values["created_at"], decided_by=None, decided_at=None,
                ))
            else:
                conn.execute(insert(t.plans).values(id=plan.id, **values))

    def plan_record(self, plan_id: str) -> PlanRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.plans).where(t.plans.c.id == plan_id)).mappings().first()
            if row is None:
                candidates = conn.execute(
                    select(t.plans.c.id).where(t.plans.c.id.like(f"{plan_id}%")).limit(2)
                ).scalars().all()
                if len(candidates) == 1:
                    row = conn.execute(select(t.plans).where(t.plans.c.id == candidates[0])).mappings().first()
        if row is None:
            raise PlanNotFound(f"no plan with id {plan_id!r}; `koppel status` lists held plans")
        return _plan_record(row)

    def load_plan(self, plan_id: str) -> Plan:
        record = self.plan_record(plan_id)
        with self.engine.connect() as conn:
            body = conn.execute(select(t.plans.c.body).where(t.plans.c.id == record.id)).scalar_one()
        return Plan.from_json_bytes(gzip.decompress(body))

    def plans(self, tenant: str | None = None, target: str | None = None, *, status: Sequence[str] | None = None,
              limit: int = 50) -> list[PlanRecord]:
        p = t.plans.c
        query = select(*[c for c in t.plans.columns if c.name != "body"]).order_by(p.created_at.desc()).limit(limit)
        if tenant:
            query = query.where(p.tenant == tenant)
        if target:
            query = query.where(p.target == target)
        if status:
            query = query.where(p.status.in_(list(status)))
        with self.engine.connect() as conn:
            return [_plan_record(row) for row in conn.execute(query).mappings()]

    def set_plan_status(self, plan_id: str, status: str, *, by: str | None = None, run_id: int | None = None,
                        approved: bool = False) -> None:
        values: dict[str, Any] = {"status": status, "decided_by": by, "decided_at": self.now()}
        if approved:
            values["approved_by"] = by
            values["approved_at"] = values["decided_at"]
        if run_id is not None:
            values["run_id"] = run_id
        with self.engine.begin() as conn:
            conn.execute(update(t.plans).where(t.plans.c.id == plan_id).values(**values))

    def mark_stale_plans(self, tenant: str, target: str, serial: int) -> int:
        """Held or saved plans made on an older serial can never apply: say so."""
        p = t.plans.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t.plans)
                .where(p.tenant == tenant, p.target == target, p.status.in_(["held", "saved"]), p.serial != serial)
                .values(status="stale", decided_at=self.now())
            )
            return result.rowcount or 0

    # -- locks -----------------------------------------------------------------------------

    @contextmanager
    def lock(self, tenant: str, target: str, *, purpose: str, stale_after_s: int = DEFAULT_LEASE_S) -> Iterator[str]:
        """One run per (tenant, target). The lock's lease is ``stale_after_s``: a lock whose last heartbeat is
        older than its lease is stale whatever its pid (pids are reused after a reboot or a container
        restart), and one left by a process that no longer runs on this host is stale at once; a stale
        lock is taken over. Releasing is best effort: a lock that cannot be removed (the store failed)
        goes stale by itself, and ``koppel unlock`` shows it."""
        holder = uuid.uuid4().hex
        self._acquire(tenant, target, holder, purpose, stale_after_s)
        try:
            yield holder
        finally:
            try:
                self.remove_lock(tenant, target, holder)
            except DBAPIError as exc:
                import structlog

                structlog.get_logger("koppel.state").warning(
                    "the run lock could not be removed; it goes stale by itself (`koppel unlock` shows it)",
                    tenant=tenant, target=target, error=_explain(exc)[0])

    def heartbeat(self, tenant: str, target: str, holder: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(update(t.locks).where(
                    t.locks.c.tenant == tenant, t.locks.c.target == target, t.locks.c.holder == holder
                ).values(heartbeat_at=self.now()))
        except DBAPIError as exc:
            raise state_unavailable(exc, self.url, doing="renew the run lock in") from exc

    def remove_lock(self, tenant: str, target: str, holder: str) -> bool:
        """Remove this holder's lock (and no other: a lock taken over meanwhile stays). Whether it was there."""
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(t.locks).where(
                t.locks.c.tenant == tenant, t.locks.c.target == target, t.locks.c.holder == holder
            )).rowcount)

    def lock_verdict(self, lock: LockInfo, *, lease_s: int = DEFAULT_LEASE_S) -> tuple[bool, str]:
        """Whether ``lock`` is stale, and why (or why it is kept), in words for ``koppel unlock``.

        The heartbeat is trusted over the pid: a lock silent for longer than its lease is stale even when
        a process with its pid runs on this host (after a reboot or a container restart, pids are reused)."""
        lease = lock.lease_s or lease_s
        silent = max(0.0, (self.clock() - _parse_ts(lock.heartbeat_at)).total_seconds())
        if silent > lease:
            return True, (f"its last heartbeat was {_duration(silent)} ago, longer than its lease of {_duration(lease)}: "
                          "the run that took it is gone, whatever process has pid "
                          f"{lock.pid} on {lock.host} now")
        here = lock.host == socket.gethostname()
        if here and not _pid_alive(lock.pid):
            return True, f"process {lock.pid} no longer runs on this host ({lock.host})"
        where = (f"process {lock.pid} still runs on this host" if here
                 else f"it is held on another host ({lock.host}), where koppel cannot see whether it runs")
        return False, (f"its last heartbeat was {_duration(silent)} ago, within its lease of {_duration(lease)}, "
                       f"and {where}")

    def lock_run(self, lock: LockInfo) -> RunInfo | None:
        """The run that took ``lock``: the newest run of its tenant and target by the same host and pid."""
        r = t.runs.c
        with self.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(
                r.tenant == lock.tenant, r.target == lock.target, r.host == lock.host, r.pid == lock.pid,
                r.started_at >= lock.acquired_at).order_by(r.id.desc()).limit(1)).mappings().first()
        return _run_info(row) if row else None

    def current_lock(self, tenant: str, target: str) -> LockInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.locks).where(t.locks.c.tenant == tenant, t.locks.c.target == target)).mappings().first()
        return LockInfo(**row) if row else None

    def _acquire(self, tenant: str, target: str, holder: str, purpose: str, stale_after_s: int) -> None:
        pid, now = os.getpid(), self.now()
        row = {"tenant": tenant, "target": target, "holder": holder, "host": socket.gethostname(), "pid": pid,
               "purpose": purpose, "acquired_at": now, "heartbeat_at": now, "lease_s": int(stale_after_s)}
        for _ in range(2):
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(t.locks).values(**row))
                return
            except IntegrityError:
                existing = self.current_lock(tenant, target)
                if existing is None:
                    continue
                stale, why = self.lock_verdict(existing, lease_s=stale_after_s)
                if not stale:
                    raise LockHeld(
                        f"another run for tenant {tenant!r}, target {target!r} is busy "
                        f"({existing.purpose or 'run'} by pid {existing.pid} on {existing.host} since "
                        f"{existing.acquired_at}): {why}. `koppel unlock` shows the lock and removes it once stale."
                    ) from None
                with self.engine.begin() as conn:
                    conn.execute(delete(t.locks).where(
                        t.locks.c.tenant == tenant, t.locks.c.target == target, t.locks.c.holder == existing.holder
                    ))
        raise LockHeld(f"could not take the run lock for tenant {tenant!r}, target {target!r}")

    # -- history ---------------------------------------------------------------------------

    def find_persons(self, tenant: str, target: str | None, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """Persons whose name, leerlingnummer, docentcode or key matches ``query`` (case-insensitive)."""
        needle = f"%{query.strip().lower()}%"
        o, s = t.objects.c, t.targets_state.c
        q = (
            select(s.target, o.key, o.label, o.status, o.school, o.meta)
            .select_from(t.objects.join(t.targets_state, o.state_id == s.id))
            .where(s.tenant == tenant, o.kind == ObjectKind.PERSON.value,
                   or_(o.search.like(needle), o.key == query.strip()))
            .order_by(o.label, o.key)
            .limit(limit)
        )
        if target:
            q = q.where(s.target == target)
        with self.engine.connect() as conn:
            return [
                {"target": r.target, "key": r.key, "label": r.label, "status": r.status, "school": r.school,
                 "meta": orjson.loads(r.meta) if r.meta else {}}
                for r in conn.execute(q)
            ]

    def history(self, tenant: str, target: str | None, key: str, *, limit: int = 500) -> list[JournalEntry]:
        """Every journaled change to this person and to their memberships, oldest first."""
        j, s = t.journal.c, t.targets_state.c
        q = (
            select(t.journal)
            .select_from(t.journal.join(t.targets_state, j.state_id == s.id))
            .where(s.tenant == tenant, or_(j.person_key == key, j.key == key))
            .order_by(j.id)
            .limit(limit)
        )
        if target:
            q = q.where(s.target == target)
        with self.engine.connect() as conn:
            return [journal_entry(row) for row in conn.execute(q).mappings()]

    def object_history(self, tenant: str, target: str, key: str) -> list[JournalEntry]:
        return self.history(tenant, target, key)

    def identity_rows(self, tenant: str, target: str) -> Iterator[IdentityRow]:
        """(sync key, attrs, meta, status) of every person: the rules' identity index is built from these.
        (Planning gets them from :meth:`load_for_plan`'s pass over the objects instead.)"""
        state_id = self.state_id(tenant, target)
        if state_id is None:
            return
        o = t.objects.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(o.key, o.attrs, o.meta, o.status).where(
                o.state_id == state_id, o.kind == ObjectKind.PERSON.value))
            for key, attrs, meta, status in rows:
                yield key, orjson.loads(attrs), (orjson.loads(meta) if meta else {}), status

    # -- source reads (data-quality reports) ------------------------------------------------

    def record_source_read(self, tenant: str, *, status: str, school_year: str | None, counts: Mapping[str, int],
                           sources: Sequence[Mapping[str, Any]], diagnostics: Sequence[Mapping[str, Any]],
                           message: str | None = None) -> int:
        errors = sum(1 for d in diagnostics if d.get("severity") == "error")
        with self.engine.begin() as conn:
            result = conn.execute(insert(t.source_reads).values(
                tenant=tenant, at=self.now(), school_year=school_year, status=status, counts=_dumps(dict(counts)),
                sources=_dumps(list(sources)), report=gzip.compress(orjson.dumps(list(diagnostics)), compresslevel=3),
                errors=errors, warnings=len(diagnostics) - errors, message=message,
            ))
            return int(result.inserted_primary_key[0])

    def latest_source_read(self, tenant: str, *, status: str | None = None) -> dict[str, Any] | None:
        q = select(t.source_reads).where(t.source_reads.c.tenant == tenant).order_by(t.source_reads.c.id.desc()).limit(1)
        if status:
            q = q.where(t.source_reads.c.status == status)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["counts"] = orjson.loads(out["counts"]) if out["counts"] else {}
        out["sources"] = orjson.loads(out["sources"]) if out["sources"] else []
        out["diagnostics"] = orjson.loads(gzip.decompress(out.pop("report"))) if row["report"] else []
        return out

    # -- retention (AVG) -------------------------------------------------------------------

    def purgeable_persons(self, tenant: str, target: str, *, before: str) -> list[dict[str, Any]]:
        """Persons deleted before ``before`` (ISO timestamp or date): their retention period is over."""
        state_id = self.state_id(tenant, target)
        if state_id is None:
            return []
        o = t.objects.c
        q = select(o.key, o.label, o.school, o.absent_since, o.updated_at.label("deleted_at")).where(
            o.state_id == state_id, o.kind == ObjectKind.PERSON.value, o.status == ObjectStatus.DELETED.value,
            o.updated_at < before,
        ).order_by(o.key)
        with self.engine.connect() as conn:
            return [{str(k): v for k, v in r._mapping.items()} for r in conn.execute(q)]

    def purge_persons(self, tenant: str, target: str, keys: Sequence[str]) -> dict[str, int]:
        """Remove the state rows and the journal (history) of these persons and their memberships."""
        state_id = self.state_id(tenant, target)
        if state_id is None or not keys:
            return {"persons": 0, "journal": 0}
        persons = journal_rows = 0
        with self.engine.begin() as conn:
            for chunk in _chunks(list(keys), 500):
                journal_rows += conn.execute(delete(t.journal).where(
                    t.journal.c.state_id == state_id,
                    or_(t.journal.c.person_key.in_(chunk), t.journal.c.key.in_(chunk)),
                )).rowcount or 0
                persons += conn.execute(delete(t.objects).where(
                    t.objects.c.state_id == state_id,
                    or_(t.objects.c.key.in_(chunk), and_(t.objects.c.person_key.in_(chunk),
                                                         t.objects.c.kind == ObjectKind.MEMBERSHIP.value)),
                )).rowcount or 0
        return {"persons": len(keys), "rows": persons, "journal": journal_rows}


# -- helpers --------------------------------------------------------------------------------


_JOURNAL_COLUMNS = tuple(c.name for c in t.journal.columns if c.name != "id")
_OBJECT_COLUMNS = tuple(c.name for c in t.objects.columns)


@functools.lru_cache(maxsize=8)
def _insert_sql(table: str, columns: tuple[str, ...], marker: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"


@functools.lru_cache(maxsize=4)
def _upsert_sql(marker: str) -> str:
    """Insert or update an object; the target id a change did not report is kept (SQLite and PostgreSQL)."""
    keep = {"state_id", "key", "created_at"}
    sets = [f"{c} = excluded.{c}" for c in _OBJECT_COLUMNS if c not in keep and c != "target_id"]
    sets.append("target_id = COALESCE(excluded.target_id, objects.target_id)")
    return (_insert_sql("objects", _OBJECT_COLUMNS, marker)
            + " ON CONFLICT (state_id, key) DO UPDATE SET " + ", ".join(sets))


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()


def _parse_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``5 h 3 min``, ``3 days 2 h``: how long, for people."""
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


@functools.lru_cache(maxsize=4)
def _mark_sql(marker: str) -> str:
    columns = tuple(c.name for c in t.unrecorded.columns)
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("state_id", "key"))
    return _insert_sql("unrecorded", columns, marker) + f" ON CONFLICT (state_id, key) DO UPDATE SET {sets}"


_UNRECORDED_STATUS = {Action.RESTORE.value: ObjectStatus.ACTIVE}


def _reopen(records: dict[str, StateRecord], memberships: dict[str, str],
            rows: Iterable[tuple]) -> tuple[dict[str, str], dict[str, str]]:
    """Fold what was sent and not recorded into the plan's view of the state (in place).

    The platform may or may not hold such a change, so the plan must send the object again, as the LAS
    has it now: its fingerprint becomes ``UNRECORDED`` (it never equals a real one) and ``unrecorded``
    names the action sent (the plan picks the action that sends it again). A create the state has no
    record of becomes an active record with the attributes sent, and a restore makes the record active,
    so that an object the LAS dropped meanwhile is removed rather than left behind on the platform.
    Returns (attribute JSON of those created records, key → action sent)."""
    attrs: dict[str, str] = {}
    unrecorded: dict[str, str] = {}
    active, deleted = ObjectStatus.ACTIVE, ObjectStatus.DELETED
    for key, kind, action, school, label, after in rows:
        unrecorded[key] = action
        if key in memberships:
            memberships[key] = UNRECORDED
            continue
        rec = records.get(key)
        if rec is None or (rec.status is deleted and action == Action.CREATE.value):
            if action != Action.CREATE.value or after is None:
                continue  # a removal of something the state no longer holds: nothing to send again
            sent = orjson.loads(after)
            attrs[key] = after
            group = kind == ObjectKind.GROUP.value
            records[key] = StateRecord(_KIND[kind], key, active, UNRECORDED, school, label,
                                       rec.target_id if rec is not None else None, None, None,
                                       sent.get("parent") if group else None, None,
                                       sent.get("type") if group else None)
            continue
        records[key] = rec._replace(fingerprint=UNRECORDED, status=_UNRECORDED_STATUS.get(action, rec.status))
    return attrs, unrecorded


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _object_row(state_id: int, now: str, change: Change, result: ItemResult) -> dict[str, Any]:
    # An update or restore sends only what koppel owns: what the target keeps of the rest stays recorded.
    attrs = dict(change.before or {}) if change.action in (Action.UPDATE, Action.RESTORE) else {}
    attrs.update(change.after or {})
    meta = dict(change.meta or {})
    if change.kind is ObjectKind.GROUP:
        meta["parent"] = attrs.get("parent")
        meta["type"] = attrs.get("type")
    person_key = None
    if change.kind is ObjectKind.PERSON:
        person_key = change.key
    elif change.kind is ObjectKind.MEMBERSHIP:
        person_key = attrs.get("person")
    search = None
    if change.kind is ObjectKind.PERSON:
        parts = [change.label, meta.get("leerlingnummer"), meta.get("docentcode"), attrs.get("username"),
                 attrs.get("email")]
        search = " ".join(str(p) for p in parts if p).lower()
    return {
        "state_id": state_id,
        "key": change.key,
        "kind": change.kind.value,
        "status": ObjectStatus.ACTIVE.value,
        "school": change.school,
        "label": change.label or None,
        "fingerprint": change.fingerprint or "",
        "attrs": _dumps(attrs),
        "meta": _dumps(meta),
        "target_id": result.target_id or change.target_id,
        "person_key": person_key,
        "search": search,
        "absent_since": None,
        "delete_after": None,
        "created_at": now,
        "updated_at": now,
    }


def _journal_row(state_id: int, run_id: int, plan_id: str | None, now: str, change: Change,
                 result: ItemResult) -> dict[str, Any]:
    person_key = None
    if change.kind is ObjectKind.PERSON:
        person_key = change.key
    elif change.kind is ObjectKind.MEMBERSHIP:
        person_key = (change.after or change.before or {}).get("person")
    outcome = {
        ItemOutcome.DONE: "done", ItemOutcome.WARNING: "warning",
        ItemOutcome.FAILED: "failed", ItemOutcome.RETRY: "failed",
    }[result.outcome]
    if result.code == "skipped":
        outcome = "skipped"
    return {
        "state_id": state_id,
        "run_id": run_id,
        "plan_id": plan_id,
        "at": now,
        "key": change.key,
        "kind": change.kind.value,
        "action": change.action.value,
        "outcome": outcome,
        "school": change.school,
        "label": change.label or None,
        "person_key": person_key,
        "reason": change.reason,
        "before": _dumps(dict(change.before)) if change.before is not None else None,
        "after": _dumps(dict(change.after)) if change.after is not None else None,
        "code": result.code,
        "message": result.message,
    }


def _run_info(row: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        id=row["id"], tenant=row["tenant"], target=row["target"], kind=row["kind"], trigger=row["trigger"],
        status=row["status"], started_at=row["started_at"], finished_at=row["finished_at"], plan_id=row["plan_id"],
        summary=orjson.loads(row["summary"]) if row["summary"] else {}, message=row["message"],
        approved_by=row["approved_by"],
    )


def journal_entry(row: Mapping[str, Any]) -> JournalEntry:
    return JournalEntry(
        id=row["id"], run_id=row["run_id"], plan_id=row["plan_id"], at=row["at"], key=row["key"], kind=row["kind"],
        action=row["action"], outcome=row["outcome"], school=row["school"], label=row["label"], reason=row["reason"],
        before=orjson.loads(row["before"]) if row["before"] else None,
        after=orjson.loads(row["after"]) if row["after"] else None,
        code=row["code"], message=row["message"],
    )


def _plan_record(row: Mapping[str, Any]) -> PlanRecord:
    return PlanRecord(
        id=row["id"], tenant=row["tenant"], target=row["target"], created_at=row["created_at"], status=row["status"],
        lineage=row["lineage"], serial=row["serial"], held=bool(row["held"]),
        holds=orjson.loads(row["holds"]) if row["holds"] else [],
        summary=orjson.loads(row["summary"]) if row["summary"] else {},
        approved_by=row["approved_by"], approved_at=row["approved_at"], decided_by=row["decided_by"],
        decided_at=row["decided_at"], run_id=row["run_id"],
    )

