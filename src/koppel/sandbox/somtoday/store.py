"""SQLite behind the Somtoday sandbox: the served records, in serving order, and the issued tokens.

The records are built from the generator at start and written once; every page is then one
``LIMIT … OFFSET …`` query, which is also how a real paged API behaves (and misbehaves) under the
hood. Records are stored as the JSON bytes that go on the wire, so serving a page without
veldpermissies is concatenation, not re-encoding.

One connection guarded by a lock: each request is a millisecond of SQL, so serialising is the
simplest correct choice, also for an in-memory database (which exists per connection).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from .documents import Documents, Record

__all__ = ["Store", "TokenRow"]

_SCHEMA = """
DROP TABLE IF EXISTS records;
DROP TABLE IF EXISTS vestigingen;
DROP TABLE IF EXISTS instelling;
DROP TABLE IF EXISTS tokens;
CREATE TABLE instelling (uuid TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE vestigingen (
    peil     TEXT NOT NULL,
    position INTEGER NOT NULL,
    uuid     TEXT NOT NULL,
    body     BLOB NOT NULL,
    PRIMARY KEY (peil, uuid)
);
CREATE TABLE records (
    peil      TEXT NOT NULL,
    vestiging TEXT NOT NULL,
    entity    TEXT NOT NULL,
    position  INTEGER NOT NULL,
    uuid      TEXT NOT NULL,
    linked    INTEGER NOT NULL DEFAULT 0,
    body      BLOB NOT NULL,
    PRIMARY KEY (peil, vestiging, entity, position)
);
CREATE INDEX records_uuid ON records (peil, vestiging, entity, uuid);
CREATE TABLE tokens (
    token        TEXT PRIMARY KEY,
    organisation TEXT NOT NULL,
    expires_at   REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class TokenRow:
    organisation: str
    expires_at: float


class Store:
    def __init__(self, path: Path | None) -> None:
        target = ":memory:" if path is None else str(path)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- loading ------------------------------------------------------------------------------

    def load(self, instelling: Record, served: dict[str, Documents]) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM records")
            db.execute("DELETE FROM vestigingen")
            db.execute("DELETE FROM instelling")
            db.execute("INSERT INTO instelling VALUES (?, ?)", (instelling["uuid"], orjson.dumps(instelling)))
            for peil, documents in served.items():
                db.executemany(
                    "INSERT INTO vestigingen VALUES (?, ?, ?, ?)",
                    [(peil, i, v["uuid"], orjson.dumps(v)) for i, v in enumerate(documents.vestigingen)],
                )
                db.executemany(
                    "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            peil,
                            vestiging,
                            entity,
                            position,
                            record["uuid"],
                            int(record["uuid"] in documents.linked_lesgroepen),
                            orjson.dumps(record),
                        )
                        for vestiging, entity, position, record in documents.records()
                    ],
                )

    # -- reading ------------------------------------------------------------------------------

    def instelling(self) -> bytes:
        with self._lock:
            row = self._db.execute("SELECT body FROM instelling").fetchone()
        return bytes(row[0])

    def instelling_uuid(self) -> str:
        with self._lock:
            row = self._db.execute("SELECT uuid FROM instelling").fetchone()
        return str(row[0])

    def vestigingen(self, peil: str, uuids: Sequence[str] = ()) -> list[bytes]:
        query = "SELECT body FROM vestigingen WHERE peil = ?"
        args: list[object] = [peil]
        if uuids:
            query += f" AND uuid IN ({', '.join('?' * len(uuids))})"
            args.extend(uuids)
        with self._lock:
            return [bytes(r[0]) for r in self._db.execute(query + " ORDER BY position", args)]

    def has_vestiging(self, uuid: str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM vestigingen WHERE uuid = ? LIMIT 1", (uuid,)).fetchone()
                is not None
            )

    def page(
        self,
        peil: str,
        vestiging: str,
        entity: str,
        *,
        offset: int,
        amount: int,
        uuids: Sequence[str] = (),
        linked: bool | None = None,
    ) -> list[bytes]:
        query = "SELECT body FROM records WHERE peil = ? AND vestiging = ? AND entity = ?"
        args: list[object] = [peil, vestiging, entity]
        if uuids:
            query += f" AND uuid IN ({', '.join('?' * len(uuids))})"
            args.extend(uuids)
        if linked is not None:
            query += " AND linked = ?"
            args.append(int(linked))
        query += " ORDER BY position LIMIT ? OFFSET ?"
        args.extend((amount, offset))
        with self._lock:
            return [bytes(r[0]) for r in self._db.execute(query, args)]

    def record(self, peil: str, vestiging: str, entity: str, uuid: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE peil = ? AND vestiging = ? AND entity = ? AND uuid = ?",
                (peil, vestiging, entity, uuid),
            ).fetchone()
        return bytes(row[0]) if row else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT peil, entity, COUNT(*) FROM records GROUP BY peil, entity"
            ).fetchall()
        return {f"{peil}.{entity}": count for peil, entity, count in rows}

    # -- tokens -------------------------------------------------------------------------------

    def add_token(self, token: str, organisation: str, expires_at: float) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM tokens WHERE expires_at < ?", (expires_at - 86400,))
            db.execute("INSERT INTO tokens VALUES (?, ?, ?)", (token, organisation, expires_at))

    def token(self, token: str) -> TokenRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT organisation, expires_at FROM tokens WHERE token = ?", (token,)
            ).fetchone()
        return TokenRow(row[0], row[1]) if row else None

    def forget_tokens(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM tokens")
