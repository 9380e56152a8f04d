"""What every part of the state store shares: the engine, the clock, one transaction helper, the state's
identity (lineage and serial per tenant and target), raw cursor reads, and the URL and error wording.

The repositories (:mod:`~koppel.state.objects`, :mod:`~koppel.state.recording`, :mod:`~koppel.state.runs`,
:mod:`~koppel.state.plans`, :mod:`~koppel.state.locks`, :mod:`~koppel.state.history`) each hold one
:class:`Database`; :class:`~koppel.state.store.StateStore` makes it and composes them.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, event, func, insert, select
from sqlalchemy.exc import IntegrityError

from koppel.errors import ConfigError, ConfigProblem, StateUnavailable
from koppel.state import schema as t

__all__ = ["Clock", "Database", "describe_url", "normalise_url", "state_unavailable", "utcnow"]

Clock = Callable[[], dt.datetime]

Row = tuple[Any, ...]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(moment: dt.datetime) -> str:
    """An ISO-8601 UTC timestamp as the state stores it (``2026-03-02T07:00:00Z``)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def dumps(value: Any) -> str:
    """JSON as the state stores it: sorted keys, so equal values are equal strings."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class Database:
    """One engine, one clock and the state ids: what the repositories share."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow):
        self.engine = engine
        self.clock = clock
        self.url = describe_url(engine.url.render_as_string(hide_password=False))
        self._state_ids: dict[tuple[str, str], int] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def marker(self) -> str:
        """The DB-API parameter marker, for the few statements that go to the driver as they are."""
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def now(self) -> str:
        return timestamp(self.clock())

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction, committed when the block ends without an exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads."""
        with self.engine.connect() as conn:
            yield conn

    # -- raw reads ------------------------------------------------------------------------------

    def raw(self, sql: str, *params: Any) -> Iterator[Row]:
        """Rows of a plain SELECT through the DB-API cursor. ``{p}`` marks each parameter."""
        for rows in self.raw_chunks(sql, *params):
            yield from rows

    def raw_chunks(self, sql: str, *params: Any) -> Iterator[list[Row]]:
        """Rows in chunks: the caller's loop runs without a generator step per row."""
        with self.engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None, "a checked-out connection has its DB-API connection"
            cursor = dbapi.cursor()
            try:
                cursor.execute(sql.replace("{p}", self.marker), params)
                while True:
                    rows = list(cursor.fetchmany(20000))
                    if not rows:
                        break
                    yield rows
            finally:
                cursor.close()

    # -- the state's identity (lineage, serial) ---------------------------------------------------

    def state_id_for_write(self, tenant: str, target: str) -> int:
        """The state's id, created on first use; cached, because every recorded batch needs it."""
        state_id = self._state_ids.get((tenant, target))
        if state_id is None:
            state_id = self.ensure_state(tenant, target)[0]
            self._state_ids[(tenant, target)] = state_id
        return state_id

    def ensure_state(self, tenant: str, target: str) -> tuple[int, str, int]:
        """Return (state id, lineage, serial), creating the state on first use."""
        s = t.targets_state.c
        with self.engine.begin() as conn:
            row = conn.execute(select(s.id, s.lineage, s.serial).where(s.tenant == tenant, s.target == target)).first()
            if row is not None:
                return int(row.id), str(row.lineage), int(row.serial)
            now = self.now()
            try:
                result = conn.execute(insert(t.targets_state).values(
                    tenant=tenant, target=target, lineage=str(uuid.uuid4()), serial=0, created_at=now, updated_at=now))
            except IntegrityError:  # created concurrently: read it back
                conn.rollback()
                return self.ensure_state(tenant, target)
            key = result.inserted_primary_key
            assert key is not None
            state_id = int(key[0])
            row = conn.execute(select(s.lineage, s.serial).where(s.id == state_id)).one()
            return state_id, str(row.lineage), int(row.serial)

    def state_id(self, tenant: str, target: str) -> int | None:
        s = t.targets_state.c
        with self.engine.connect() as conn:
            found = conn.execute(select(s.id).where(s.tenant == tenant, s.target == target)).scalar()
        return None if found is None else int(found)

    def serial(self, tenant: str, target: str) -> tuple[str, int] | None:
        s = t.targets_state.c
        with self.engine.connect() as conn:
            row = conn.execute(select(s.lineage, s.serial).where(s.tenant == tenant, s.target == target)).first()
        return (str(row.lineage), int(row.serial)) if row else None

    @staticmethod
    def bump_serial(conn: Connection, state_id: int, now: str) -> int:
        """Move the state's serial on (inside the caller's transaction); returns the new serial."""
        s = t.targets_state.c
        conn.execute(t.targets_state.update().where(s.id == state_id).values(serial=s.serial + 1, updated_at=now))
        return int(conn.execute(select(s.serial).where(s.id == state_id)).scalar_one())

    def single_state(self) -> bool:
        """Whether the database holds one state only (then a full scan beats the index)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t.targets_state)).scalar() == 1


# -- URLs and errors ---------------------------------------------------------------------------------


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
    except Exception:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://…" if scheme and scheme.isascii() and scheme.replace("+", "").isalnum() else "(not a URL)"
    masked = {k: "***" for k in parsed.query if any(w in k.lower() for w in _SECRET_QUERY)}
    if masked:
        parsed = parsed.update_query_dict(masked)
    return parsed.render_as_string(hide_password=True)


def check_url(url: str, shown: str) -> None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise ConfigError([ConfigProblem(
            f"unsupported state store URL {shown!r}: koppel keeps its state in SQLite "
            "(sqlite:///koppel-state.db, relative to the configuration file) or PostgreSQL "
            "(postgresql://user@host/database)", setting="state.url")])


def state_unavailable(exc: BaseException, where: str | None = None, *, doing: str = "use",
                      hint: str | None = None) -> StateUnavailable:
    """A database or file error as one clear message: what failed, the database's own words, what to do."""
    reason, usual = explain(exc)
    hint = hint or usual
    store = f"the state store {where}" if where else "the state store"
    return StateUnavailable(f"koppel could not {doing} {store}: {reason}" + (f" — {hint}" if hint else ""))


def read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("disk is full", "no space left", "diskfull", "could not extend file"),
     "the disk is full: free space where the state is kept, then run again"),
    (("readonly", "read-only", "read only"),
     "the state cannot be written: make the file and its folder writable for koppel, then run again"),
    (("unable to open database file", "permission denied"),
     "check that the state file's folder exists and that koppel may read and write there"),
    (("connection refused", "could not connect", "connection failed", "timeout expired", "could not translate host",
      "name or service not known", "server closed"),
     "the database does not answer: check that it runs and that the URL's host and port are right"),
    (("authentication failed", "password"),
     "the database refused the credentials: check the state URL (or KOPPEL_STATE_URL)"),
)


def explain(exc: BaseException) -> tuple[str, str]:
    """The driver's message on one line (never SQL or parameters), and a hint for the usual causes."""
    orig = getattr(exc, "orig", None) or exc
    reason = " ".join(str(orig).split()) or type(orig).__name__
    if len(reason) > 300:
        reason = reason[:297] + "…"
    low = f"{type(orig).__name__} {reason}".lower()
    for words, hint in _HINTS:
        if any(w in low for w in words):
            return reason, hint
    if "does not exist" in low and "database" in low:
        return reason, "create the database first (koppel creates its tables itself)"
    if "locked" in low:
        return reason, "another program holds the state file; try again when it is done"
    return reason, ""


def tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
