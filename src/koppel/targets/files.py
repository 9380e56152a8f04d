"""What the file targets share (IMS Enterprise XML, OneRoster CSV, SDS CSV): a mirror of what was last
published, a run's changes staged onto it, and publishing a file atomically.

A file target is a :class:`~koppel.targets.base.PublishingTarget`: ``apply`` stages each batch on a
:class:`PublishedRoster` and ``publish`` writes the platform's file(s) from it, then the mirror. The mirror
is needed because a full snapshot holds every object, not only the run's changes, and because the platform
may remove a file once it has read it. It lives in a private folder beside the output
(``<folder>/.koppel/<target>.db`` by default: SQLite, one row per object, mode 0600), written after the platform's
file: a crash between the two
leaves the old mirror and an unmoved state, and the next run stages and publishes the same changes again —
a snapshot published twice is the same file.

:func:`atomic_write` writes a temp file in the destination's folder, fsyncs it and renames it over the
destination, so a platform that polls the folder never reads half a file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from koppel.errors import TargetConfigError, TransientTargetError
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind

__all__ = ["MirrorObject", "PublishedRoster", "atomic_write"]

_VERSION = 1


@dataclass(slots=True)
class MirrorObject:
    """One object as the file target published it: its attributes and lifecycle status."""

    kind: ObjectKind
    key: str
    attrs: dict[str, Any]
    status: str = "active"  # active | suspended | archived
    target_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "key": self.key, "attrs": self.attrs, "status": self.status,
                **({"target_id": self.target_id} if self.target_id else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MirrorObject:
        return cls(ObjectKind(data["kind"]), data["key"], dict(data.get("attrs") or {}), data.get("status", "active"),
                   data.get("target_id"))


@dataclass(slots=True)
class Staged:
    """One staged change with the object before and after it (None: absent), for a delta file."""

    change: Change
    before: MirrorObject | None
    after: MirrorObject | None


class PublishedRoster:
    """The objects a file target last published, plus the changes this run staged on top.

    ``objects()`` is the roster as it will be published (published + staged), streamed in a stable order
    (kind, key); ``staged`` lists the run's changes in order, each with its object before and after, for a delta
    file; ``published`` is what was last published, a read-only mapping ``(kind, key) -> MirrorObject`` read
    from the mirror as needed; ``publication`` counts the publications (1 for the first), for file names and a
    file's own sequence number.

    The mirror is a SQLite file (one row per object): a run reads the rows its changes touch and a publication
    writes only the staged rows, in one transaction, so a small change costs in proportion to its size; only a
    full snapshot reads every row, streamed, never all at once.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection | None = None, publication: int = 0) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.Lock()
        self.publication = publication
        self.staged: list[Staged] = []
        self._current: dict[tuple[ObjectKind, str], MirrorObject | None] = {}
        self._empty = conn is None or self._count() == 0

    @classmethod
    def load(cls, path: Path) -> PublishedRoster:
        """The mirror at ``path``; an empty roster when nothing was published yet."""
        if not path.exists():
            return cls(path)
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            row = conn.execute("SELECT value FROM meta WHERE name = 'publication'").fetchone()
            if conn.execute("SELECT value FROM meta WHERE name = 'version'").fetchone() != (str(_VERSION),):
                raise sqlite3.DatabaseError("unknown mirror version")
        except sqlite3.Error as exc:
            raise TargetConfigError(
                f"{path} (what koppel last published) is damaged: {exc}; remove it and run `koppel sync --full` to "
                "publish a complete file again") from None
        return cls(path, conn, int(row[0]) if row else 0)

    # -- what was published ---------------------------------------------------------------------------------

    @property
    def published(self) -> Mapping[tuple[ObjectKind, str], MirrorObject]:
        return _PublishedView(self)

    def _count(self) -> int:
        if self._conn is None:
            return 0
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM objects").fetchone()[0])

    def _row(self, kind: ObjectKind, key: str) -> MirrorObject | None:
        if self._empty or self._conn is None:
            return None
        with self._lock:
            row = self._conn.execute("SELECT attrs, status, target_id FROM objects WHERE kind = ? AND key = ?",
                                     (kind.value, key)).fetchone()
        return None if row is None else MirrorObject(kind, key, orjson.loads(row[0]), row[1], row[2])

    def _rows(self, kind: ObjectKind | None = None) -> Iterator[MirrorObject]:
        """Every published object in (kind, key) order, read in chunks."""
        if self._conn is None:
            return
        where, args = ("WHERE kind = ?", (kind.value,)) if kind is not None else ("", ())
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute(f"SELECT kind, key, attrs, status, target_id FROM objects {where} ORDER BY kind, key", args)
        while True:
            with self._lock:
                chunk = cursor.fetchmany(5000)
            if not chunk:
                return
            for k, key, attrs, status, target_id in chunk:
                yield MirrorObject(ObjectKind(k), key, orjson.loads(attrs), status, target_id)

    # -- staging -------------------------------------------------------------------------------------------

    def get(self, kind: ObjectKind, key: str) -> MirrorObject | None:
        ident = (kind, key)
        if ident in self._current:
            return self._current[ident]
        return self._row(kind, key)

    def stage(self, change: Change) -> Staged:
        """Apply one change to the roster to be published (create is an upsert, deleting what is gone is done)."""
        before = self.get(change.kind, change.key)
        after: MirrorObject | None
        if change.action is Action.DELETE:
            after = None
        else:
            attrs = dict(before.attrs) if before else {}
            attrs.update(change.after or {})
            status = before.status if before else "active"
            if change.action in (Action.CREATE, Action.RESTORE):
                status = "active"
            elif change.action is Action.SUSPEND:
                status = "suspended"
            elif change.action is Action.ARCHIVE:
                status = "archived"
            after = MirrorObject(change.kind, change.key, attrs, status,
                                 change.target_id or (before.target_id if before else None))
        self._current[(change.kind, change.key)] = after
        staged = Staged(change, before, after)
        self.staged.append(staged)
        return staged

    def objects(self, kind: ObjectKind | None = None) -> Iterator[MirrorObject]:
        """Every object that will be published (staged changes included), in a stable order (kind, key)."""
        staged = sorted(((k, o) for k, o in self._current.items() if kind is None or k[0] is kind),
                        key=lambda item: (item[0][0].value, item[0][1]))
        i = 0
        for obj in self._rows(kind):
            ident = (obj.kind.value, obj.key)
            while i < len(staged) and (staged[i][0][0].value, staged[i][0][1]) < ident:
                if staged[i][1] is not None:
                    yield staged[i][1]  # type: ignore[misc]
                i += 1
            if i < len(staged) and (staged[i][0][0].value, staged[i][0][1]) == ident:
                if staged[i][1] is not None:
                    yield staged[i][1]  # type: ignore[misc]
                i += 1
            else:
                yield obj
        for _, obj_ in staged[i:]:
            if obj_ is not None:
                yield obj_

    def discard(self) -> None:
        self.staged.clear()
        self._current.clear()

    def commit(self) -> None:
        """The platform's file is out: what was staged is now what was published. Writes the staged rows (and only
        those) in one transaction."""
        conn = self._conn
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)  # private from the start: names, e-mail
            os.close(fd)
            conn = self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.executescript(_SCHEMA)
        # Generators, not lists: a first publication stages a million objects, and a million encoded values held
        # at once (each with its encoder's spare buffer) cost gigabytes.
        current = self._current
        upserts = ((ident[0].value, ident[1], orjson.dumps(o.attrs), o.status, o.target_id)
                   for ident, o in current.items() if o is not None)
        deletes = ((ident[0].value, ident[1]) for ident, o in current.items() if o is None)
        try:
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT INTO objects (kind, key, attrs, status, target_id) VALUES (?, ?, ?, ?, ?) "
                                 "ON CONFLICT (kind, key) DO UPDATE SET attrs = excluded.attrs, "
                                 "status = excluded.status, target_id = excluded.target_id", upserts)
                conn.executemany("DELETE FROM objects WHERE kind = ? AND key = ?", deletes)
                conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('publication', ?)",
                             (str(self.publication + 1),))
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise TransientTargetError(f"cannot write {self.path} (what koppel published): {exc}") from None
        self.publication += 1
        self._empty = False
        self.discard()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, key TEXT NOT NULL, attrs BLOB NOT NULL, status TEXT NOT NULL,
                                    target_id TEXT, PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('version', '{_VERSION}');
INSERT OR IGNORE INTO meta (name, value) VALUES ('publication', '0');
"""


class _PublishedView(Mapping[tuple[ObjectKind, str], MirrorObject]):
    """What was last published, read from the mirror as asked (not what this run staged)."""

    def __init__(self, roster: PublishedRoster) -> None:
        self._roster = roster

    def __getitem__(self, ident: tuple[ObjectKind, str]) -> MirrorObject:
        obj = self._roster._row(*ident)
        if obj is None:
            raise KeyError(ident)
        return obj

    def __iter__(self) -> Iterator[tuple[ObjectKind, str]]:
        return ((o.kind, o.key) for o in self._roster._rows())

    def __len__(self) -> int:
        return self._roster._count()

    def values(self) -> Iterator[MirrorObject]:  # type: ignore[override]
        return self._roster._rows()

    def items(self) -> Iterator[tuple[tuple[ObjectKind, str], MirrorObject]]:  # type: ignore[override]
        """Every published object with its (kind, key), streamed in one query (not a query per key)."""
        return (((o.kind, o.key), o) for o in self._roster._rows())


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any], *, mode: int = 0o644) -> None:
    """Write ``path`` whole or not at all: a temp file in its folder, fsync, rename over ``path``.

    A folder that cannot be made or written is a :class:`TargetConfigError` (a setting or a permission to fix);
    a full disk or another I/O failure is a :class:`TransientTargetError` (the next run tries again).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except (PermissionError, FileExistsError, NotADirectoryError) as exc:
        raise TargetConfigError(f"cannot write in {path.parent}: {exc.strerror}") from None
    except OSError as exc:
        raise TransientTargetError(f"cannot write in {path.parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise TransientTargetError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    with contextlib.suppress(OSError):  # the rename itself is durable once the folder is synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
