"""SQLite persistence for the emulated site: persons, hierarchies, courses, memberships, request log.

One connection, guarded by a lock, in WAL mode: the sandbox serves 10+ concurrent requests, but each
request's work is a few milliseconds of SQL, so serialising it is both simplest and faithful enough
(itslearning processes a request as a unit too). Every SOAP request runs in one transaction; every
item of a batch in its own savepoint, so a failed item leaves no trace while the others are kept.

The store knows SQL and rows, nothing of the rules: ``persons``, ``groups`` and ``memberships`` decide
what may be written. Timestamps are ISO 8601 UTC strings with microseconds, so they sort as text.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from .model import (
    Course,
    ExtensionField,
    Group,
    GroupType,
    Membership,
    Origin,
    Person,
    RoleType,
)

__all__ = ["Counter", "Counters", "LogEntry", "RequestLog", "RequestResult", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    id               INTEGER PRIMARY KEY,
    sync_key         TEXT UNIQUE,
    first            TEXT NOT NULL,
    last             TEXT NOT NULL,
    prefix           TEXT,
    username         TEXT,
    email            TEXT,
    institution_role TEXT NOT NULL,
    profile          TEXT NOT NULL,
    origin           TEXT NOT NULL,
    extension        TEXT NOT NULL DEFAULT '[]',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    trashed_at       TEXT
);
CREATE INDEX IF NOT EXISTS persons_username ON persons (username COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS person_children (
    parent_id INTEGER NOT NULL REFERENCES persons (id),
    child_id  INTEGER NOT NULL REFERENCES persons (id),
    PRIMARY KEY (parent_id, child_id)
);
CREATE TABLE IF NOT EXISTS groups (
    id         INTEGER PRIMARY KEY,
    sync_id    TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    name       TEXT NOT NULL,
    desc_long  TEXT,
    desc_full  TEXT,
    parent_id  INTEGER REFERENCES groups (id),
    extension  TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS groups_parent ON groups (parent_id);
CREATE TABLE IF NOT EXISTS courses (
    id              INTEGER PRIMARY KEY,
    group_id        INTEGER UNIQUE REFERENCES groups (id) ON DELETE SET NULL,
    sync_id         TEXT NOT NULL,
    title           TEXT NOT NULL,
    code            TEXT,
    credits         TEXT,
    created_at      TEXT NOT NULL,
    disconnected_at TEXT
);
CREATE TABLE IF NOT EXISTS memberships (
    id                INTEGER PRIMARY KEY,
    sync_id           TEXT NOT NULL UNIQUE,
    group_id          INTEGER NOT NULL REFERENCES groups (id),
    person_id         INTEGER NOT NULL REFERENCES persons (id),
    role              TEXT NOT NULL,
    home_organisation INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS memberships_group ON memberships (group_id);
CREATE INDEX IF NOT EXISTS memberships_person ON memberships (person_id);
CREATE TABLE IF NOT EXISTS request_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    operation   TEXT,
    access      TEXT,
    items       INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    http_status INTEGER NOT NULL,
    result      TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    message_id  TEXT
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_TABLES = ("person_children", "memberships", "courses", "groups", "persons", "request_log", "counters")

_PERSON_COLUMNS = frozenset(
    {
        "sync_key",
        "first",
        "last",
        "prefix",
        "username",
        "email",
        "institution_role",
        "profile",
        "origin",
        "extension",
        "created_at",
        "updated_at",
        "trashed_at",
    }
)
_GROUP_COLUMNS = frozenset(
    {
        "sync_id",
        "type",
        "name",
        "desc_long",
        "desc_full",
        "parent_id",
        "extension",
        "created_at",
        "updated_at",
    }
)
_COURSE_COLUMNS = frozenset(
    {"group_id", "sync_id", "title", "code", "credits", "created_at", "disconnected_at"}
)
_MEMBERSHIP_COLUMNS = frozenset(
    {"sync_id", "group_id", "person_id", "role", "home_organisation", "created_at", "updated_at"}
)

_GROUP_SELECT = """
SELECT g.*, parent.sync_id AS parent_sync_id,
       c.id AS course_id, c.sync_id AS course_sync_id, c.title AS course_title, c.code AS course_code,
       c.credits AS course_credits, c.created_at AS course_created_at
  FROM groups g
  LEFT JOIN groups parent ON parent.id = g.parent_id
  LEFT JOIN courses c ON c.group_id = g.id
"""
_MEMBERSHIP_SELECT = """
SELECT m.*, g.sync_id AS group_sync_id, p.sync_key AS person_sync_key,
       p.trashed_at IS NOT NULL AS person_trashed
  FROM memberships m
  JOIN groups g ON g.id = m.group_id
  JOIN persons p ON p.id = m.person_id
"""


class RequestResult(StrEnum):
    """How a SOAP request ended, for the request log."""

    ANSWERED = "answered"  # statuses returned (per-item failures included)
    THROTTLED = "throttled"  # HTTP 503: the queue was full, or over max_operations_in_flight
    FAULT = "fault"  # SOAP fault: security, routing, deserialisation
    INJECTED_BEFORE = "injected-before"  # transient fault injected, nothing written
    INJECTED_AFTER = "injected-after"  # processed and written, then the answer was "lost"
    HTTP_ERROR = "http-error"  # refused before SOAP: wrong content type, body too large


class Counter(StrEnum):
    MAX_IN_FLIGHT_SEEN = "max_in_flight_seen"
    FAULTS_INJECTED = "faults_injected"
    HTTP_503 = "http_503"
    BATCHES_OVER_LIMIT = "batches_over_50"
    SKIPPED_UNKNOWN = "elements_skipped_unknown"
    SKIPPED_OUT_OF_ORDER = "elements_skipped_out_of_order"


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: str
    endpoint: str
    operation: str | None
    access: str | None
    items: int
    failures: int
    http_status: int
    result: RequestResult
    duration_ms: float
    message_id: str | None


def _fields_json(fields: Iterable[ExtensionField]) -> str:
    return orjson.dumps([[field.name, field.type, field.value] for field in fields]).decode()


def _fields(raw: str) -> tuple[ExtensionField, ...]:
    return tuple(ExtensionField(*entry) for entry in orjson.loads(raw))


class Store:
    """The site's tables. Use every method inside ``transaction()``; the request log and the counters
    (``requests``, ``counters``) too."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(_SCHEMA)
        self.requests = RequestLog(self._db)
        self.counters = Counters(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One serialised transaction: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            committed = False
            try:
                yield self
                self._db.execute("COMMIT")
                committed = True
            finally:
                if not committed:
                    self._db.execute("ROLLBACK")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """One item of a batch: released when the block ends, undone if it raises."""
        self._db.execute("SAVEPOINT item")
        released = False
        try:
            yield
            self._db.execute("RELEASE item")
            released = True
        finally:
            if not released:
                self._db.execute("ROLLBACK TO item")
                self._db.execute("RELEASE item")

    def reset(self) -> None:
        for table in _TABLES:
            self._db.execute(f"DELETE FROM {table}")

    # -- helpers ---------------------------------------------------------------------------------

    def _one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, params).fetchone()
        return row

    def _count(self, sql: str, *params: Any) -> int:
        (count,) = self._db.execute(sql, params).fetchone()
        return int(count)

    def _all(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        return self._db.execute(sql, params).fetchall()

    def _insert(self, table: str, allowed: frozenset[str], values: Mapping[str, Any]) -> int:
        _check_columns(allowed, values)
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = self._db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _update(self, table: str, allowed: frozenset[str], row_id: int, values: Mapping[str, Any]) -> None:
        _check_columns(allowed, values)
        if values:
            assignments = ", ".join(f"{column} = ?" for column in values)
            self._db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*values.values(), row_id))

    # -- persons ---------------------------------------------------------------------------------

    def person_by_key(self, sync_key: str) -> Person | None:
        return self._person(self._one("SELECT * FROM persons WHERE sync_key = ?", sync_key))

    def person_by_id(self, person_id: int) -> Person | None:
        return self._person(self._one("SELECT * FROM persons WHERE id = ?", person_id))

    def username_owner(self, username: str) -> int | None:
        """The id of the person holding ``username`` (compared case-insensitively), trashed or not."""
        row = self._one("SELECT id FROM persons WHERE username = ? COLLATE NOCASE", username)
        return None if row is None else row["id"]

    def insert_person(self, values: Mapping[str, Any]) -> int:
        return self._insert("persons", _PERSON_COLUMNS, _encode_extension(values))

    def update_person(self, person_id: int, values: Mapping[str, Any]) -> None:
        self._update("persons", _PERSON_COLUMNS, person_id, _encode_extension(values))

    def set_children(self, parent_id: int, child_ids: Iterable[int]) -> None:
        self._db.execute("DELETE FROM person_children WHERE parent_id = ?", (parent_id,))
        self._db.executemany(
            "INSERT OR IGNORE INTO person_children (parent_id, child_id) VALUES (?, ?)",
            [(parent_id, child_id) for child_id in child_ids],
        )

    def persons(self, *, include_trashed: bool = True) -> list[Person]:
        where = "" if include_trashed else "WHERE trashed_at IS NULL"
        return self._persons(self._all(f"SELECT * FROM persons {where} ORDER BY id"))

    def trashed_persons(self) -> list[Person]:
        return self._persons(
            self._all("SELECT * FROM persons WHERE trashed_at IS NOT NULL ORDER BY trashed_at")
        )

    def persons_page(
        self, *, manual_only: bool, created_from: str | None, offset: int, limit: int
    ) -> list[Person]:
        where, params = _page_filter(manual_only, created_from)
        rows = self._all(
            f"SELECT * FROM persons {where} ORDER BY id LIMIT ? OFFSET ?", *params, limit, offset
        )
        return self._persons(rows)

    def count_persons(self, *, manual_only: bool = False, created_from: str | None = None) -> int:
        where, params = _page_filter(manual_only, created_from)
        return self._count(f"SELECT count(*) FROM persons {where}", *params)

    def persons_in_group(self, group_id: int) -> list[Person]:
        rows = self._all(
            """SELECT DISTINCT p.* FROM persons p JOIN memberships m ON m.person_id = p.id
                WHERE m.group_id = ? AND p.trashed_at IS NULL ORDER BY p.id""",
            group_id,
        )
        return self._persons(rows)

    def _person(self, row: sqlite3.Row | None) -> Person | None:
        return None if row is None else self._persons([row])[0]

    def _persons(self, rows: list[sqlite3.Row]) -> list[Person]:
        children = self._children_of([row["id"] for row in rows])
        return [_person_record(row, children.get(row["id"], ())) for row in rows]

    def _children_of(self, parent_ids: list[int]) -> dict[int, tuple[str, ...]]:
        if not parent_ids:
            return {}
        marks = ", ".join("?" for _ in parent_ids)
        rows = self._all(
            f"""SELECT pc.parent_id, p.sync_key FROM person_children pc JOIN persons p ON p.id = pc.child_id
                 WHERE pc.parent_id IN ({marks}) AND p.sync_key IS NOT NULL ORDER BY p.id""",
            *parent_ids,
        )
        children: dict[int, tuple[str, ...]] = {}
        for row in rows:
            children[row["parent_id"]] = (*children.get(row["parent_id"], ()), row["sync_key"])
        return children

    # -- groups and courses ----------------------------------------------------------------------

    def group_by_key(self, sync_id: str) -> Group | None:
        return _group(self._one(f"{_GROUP_SELECT} WHERE g.sync_id = ?", sync_id))

    def group_by_id(self, group_id: int) -> Group | None:
        return _group(self._one(f"{_GROUP_SELECT} WHERE g.id = ?", group_id))

    def site_group(self) -> Group | None:
        return _group(self._one(f"{_GROUP_SELECT} WHERE g.type = ?", GroupType.SITE.value))

    def groups(self) -> list[Group]:
        return [_require(_group(row)) for row in self._all(f"{_GROUP_SELECT} ORDER BY g.id")]

    def groups_for_person(self, person_id: int) -> list[Group]:
        rows = self._all(
            f"""{_GROUP_SELECT} WHERE g.id IN (SELECT group_id FROM memberships WHERE person_id = ?)
                ORDER BY g.id""",
            person_id,
        )
        return [_require(_group(row)) for row in rows]

    def insert_group(self, values: Mapping[str, Any]) -> int:
        return self._insert("groups", _GROUP_COLUMNS, _encode_extension(values))

    def update_group(self, group_id: int, values: Mapping[str, Any]) -> None:
        self._update("groups", _GROUP_COLUMNS, group_id, _encode_extension(values))

    def subtree_ids(self, group_id: int) -> list[int]:
        """``group_id`` and all its descendants, parents before children."""
        rows = self._all(
            """WITH RECURSIVE subtree (id, depth) AS (
                   SELECT ?, 0
                   UNION ALL
                   SELECT g.id, subtree.depth + 1 FROM groups g JOIN subtree ON g.parent_id = subtree.id)
               SELECT id FROM subtree ORDER BY depth, id""",
            group_id,
        )
        return [row["id"] for row in rows]

    def delete_groups(self, group_ids: list[int]) -> None:
        marks = ", ".join("?" for _ in group_ids)
        self._db.execute(f"DELETE FROM groups WHERE id IN ({marks})", group_ids)

    def child_counts(self) -> dict[int, int]:
        rows = self._all(
            "SELECT parent_id, count(*) AS n FROM groups WHERE parent_id IS NOT NULL GROUP BY parent_id"
        )
        return {row["parent_id"]: row["n"] for row in rows}

    def insert_course(self, values: Mapping[str, Any]) -> int:
        return self._insert("courses", _COURSE_COLUMNS, values)

    def update_course(self, course_id: int, values: Mapping[str, Any]) -> None:
        self._update("courses", _COURSE_COLUMNS, course_id, values)

    def disconnect_courses(self, group_ids: list[int], at: str) -> None:
        marks = ", ".join("?" for _ in group_ids)
        self._db.execute(
            f"UPDATE courses SET group_id = NULL, disconnected_at = ? WHERE group_id IN ({marks})",
            (at, *group_ids),
        )

    def courses(self) -> list[Course]:
        return [_course(row) for row in self._all("SELECT * FROM courses ORDER BY id")]

    # -- memberships -----------------------------------------------------------------------------

    def membership_by_key(self, sync_id: str) -> Membership | None:
        row = self._one(f"{_MEMBERSHIP_SELECT} WHERE m.sync_id = ?", sync_id)
        return None if row is None else _membership(row)

    def memberships(self) -> list[Membership]:
        return [_membership(row) for row in self._all(f"{_MEMBERSHIP_SELECT} ORDER BY m.id")]

    def memberships_in_group(self, group_id: int, *, include_hidden: bool = False) -> list[Membership]:
        """Visible memberships, unless asked: those of trashed persons are hidden until they return."""
        visible = "" if include_hidden else "AND p.trashed_at IS NULL"
        rows = self._all(f"{_MEMBERSHIP_SELECT} WHERE m.group_id = ? {visible} ORDER BY m.id", group_id)
        return [_membership(row) for row in rows]

    def memberships_of_person(self, person_id: int) -> list[Membership]:
        rows = self._all(f"{_MEMBERSHIP_SELECT} WHERE m.person_id = ? ORDER BY m.id", person_id)
        return [_membership(row) for row in rows]

    def membership_counts(self) -> dict[int, int]:
        """Visible memberships per group id."""
        rows = self._all(
            """SELECT m.group_id, count(*) AS n FROM memberships m JOIN persons p ON p.id = m.person_id
                WHERE p.trashed_at IS NULL GROUP BY m.group_id"""
        )
        return {row["group_id"]: row["n"] for row in rows}

    def insert_membership(self, values: Mapping[str, Any]) -> int:
        return self._insert("memberships", _MEMBERSHIP_COLUMNS, values)

    def update_membership(self, membership_id: int, values: Mapping[str, Any]) -> None:
        self._update("memberships", _MEMBERSHIP_COLUMNS, membership_id, values)

    def delete_membership(self, membership_id: int) -> None:
        self._db.execute("DELETE FROM memberships WHERE id = ?", (membership_id,))

    def delete_memberships_in_groups(self, group_ids: list[int]) -> None:
        marks = ", ".join("?" for _ in group_ids)
        self._db.execute(f"DELETE FROM memberships WHERE group_id IN ({marks})", group_ids)

    def clear_home_organisation(self, person_id: int, except_membership: int) -> None:
        self._db.execute(
            "UPDATE memberships SET home_organisation = 0 WHERE person_id = ? AND id != ?",
            (person_id, except_membership),
        )

    # -- counts ----------------------------------------------------------------------------------

    def object_counts(self) -> dict[str, int]:
        row = self._one(
            """SELECT
                 (SELECT count(*) FROM persons WHERE trashed_at IS NULL) AS persons,
                 (SELECT count(*) FROM persons WHERE trashed_at IS NOT NULL) AS trashed_persons,
                 (SELECT count(*) FROM groups) AS groups,
                 (SELECT count(*) FROM courses WHERE group_id IS NOT NULL) AS courses,
                 (SELECT count(*) FROM courses WHERE group_id IS NULL) AS orphaned_courses,
                 (SELECT count(*) FROM memberships m JOIN persons p ON p.id = m.person_id
                   WHERE p.trashed_at IS NULL) AS memberships"""
        )
        assert row is not None
        return dict(row)


class RequestLog:
    """What the sandbox was asked: one row per request, for the stats page and ``/sandbox/stats``."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def log(self, entry: LogEntry) -> None:
        self._db.execute(
            """INSERT INTO request_log (at, endpoint, operation, access, items, failures, http_status, result,
                                        duration_ms, message_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                entry.at,
                entry.endpoint,
                entry.operation,
                entry.access,
                entry.items,
                entry.failures,
                entry.http_status,
                entry.result.value,
                entry.duration_ms,
                entry.message_id,
            ),
        )

    def summary(self) -> list[dict[str, Any]]:
        """Per operation: requests, items, failed items, HTTP status spread and mean duration."""
        rows = self._db.execute(
            """SELECT coalesce(operation, '(unrouted)') AS operation, access, count(*) AS requests,
                      sum(items) AS items, sum(failures) AS failures,
                      sum(http_status >= 400) AS http_errors, round(avg(duration_ms), 1) AS mean_ms
                 FROM request_log GROUP BY operation, access ORDER BY operation"""
        ).fetchall()
        return [dict(row) for row in rows]

    def per_operation(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT operation, count(*) AS n FROM request_log WHERE operation IS NOT NULL GROUP BY operation"
        ).fetchall()
        return {row["operation"]: row["n"] for row in rows}

    def count(self, *, access: str | None = None) -> int:
        if access is None:
            (count,) = self._db.execute("SELECT count(*) FROM request_log").fetchone()
        else:
            (count,) = self._db.execute("SELECT count(*) FROM request_log WHERE access = ?", (access,)).fetchone()
        return int(count)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM request_log ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]


class Counters:
    """Named figures the request log cannot give: faults injected, 503s, the most requests in flight."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def get(self, name: Counter) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name.value,)).fetchone()
        return 0 if row is None else int(row["value"])

    def add(self, name: Counter, amount: int) -> None:
        self._db.execute(
            """INSERT INTO counters (name, value) VALUES (?, ?)
               ON CONFLICT (name) DO UPDATE SET value = value + excluded.value""",
            (name.value, amount),
        )

    def raise_to(self, name: Counter, value: int) -> None:
        """Set the counter to ``value`` if that is higher (a high-water mark)."""
        self._db.execute(
            """INSERT INTO counters (name, value) VALUES (?, ?)
               ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)""",
            (name.value, value),
        )


# ---------------------------------------------------------------------------------------------------
# Row → record


def _check_columns(allowed: frozenset[str], values: Mapping[str, Any]) -> None:
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"unknown columns {sorted(unknown)}")


def _encode_extension(values: Mapping[str, Any]) -> dict[str, Any]:
    encoded = dict(values)
    if "extension" in encoded:
        encoded["extension"] = _fields_json(encoded["extension"])
    return encoded


def _page_filter(manual_only: bool, created_from: str | None) -> tuple[str, list[Any]]:
    clauses, params = ["trashed_at IS NULL"], []
    if manual_only:
        clauses.append("origin = ?")
        params.append(Origin.MANUAL.value)
    if created_from is not None:
        clauses.append("created_at >= ?")
        params.append(created_from)
    return "WHERE " + " AND ".join(clauses), params


def _require(group: Group | None) -> Group:
    assert group is not None
    return group


def _person_record(row: sqlite3.Row, children: tuple[str, ...]) -> Person:
    return Person(
        id=row["id"],
        sync_key=row["sync_key"],
        first=row["first"],
        last=row["last"],
        prefix=row["prefix"],
        username=row["username"],
        email=row["email"],
        institution_role=row["institution_role"],
        profile=row["profile"],
        origin=Origin(row["origin"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        trashed_at=row["trashed_at"],
        extension_fields=_fields(row["extension"]),
        children=children,
    )


def _group(row: sqlite3.Row | None) -> Group | None:
    if row is None:
        return None
    course = None
    if row["course_id"] is not None:
        course = Course(
            id=row["course_id"],
            group_id=row["id"],
            sync_id=row["course_sync_id"],
            title=row["course_title"],
            code=row["course_code"],
            credits=row["course_credits"],
            created_at=row["course_created_at"],
            disconnected_at=None,
        )
    return Group(
        id=row["id"],
        sync_id=row["sync_id"],
        type=GroupType(row["type"]),
        name=row["name"],
        desc_long=row["desc_long"],
        desc_full=row["desc_full"],
        parent_id=row["parent_id"],
        parent_sync_id=row["parent_sync_id"],
        extension_fields=_fields(row["extension"]),
        course=course,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _course(row: sqlite3.Row) -> Course:
    return Course(
        id=row["id"],
        group_id=row["group_id"],
        sync_id=row["sync_id"],
        title=row["title"],
        code=row["code"],
        credits=row["credits"],
        created_at=row["created_at"],
        disconnected_at=row["disconnected_at"],
    )


def _membership(row: sqlite3.Row) -> Membership:
    return Membership(
        id=row["id"],
        sync_id=row["sync_id"],
        group_id=row["group_id"],
        group_sync_id=row["group_sync_id"],
        person_id=row["person_id"],
        person_sync_key=row["person_sync_key"],
        role=RoleType(row["role"]),
        home_organisation=bool(row["home_organisation"]),
        person_trashed=bool(row["person_trashed"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
