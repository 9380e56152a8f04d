"""The sandbox's request log on SQLite: what each client asked for and what it got.

The data itself is generated (and regenerated identically from the seed), so the log is all the
sandbox keeps. Tests read it to see what a client really sent (school, year, xsdversie, profile);
the demo shows it. One connection guarded by a lock: each request writes one row.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["RequestLog", "RequestRecord"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    brin6         TEXT,
    schooljaar    TEXT,
    xsdversie     TEXT,
    gegevenssetid TEXT,
    klantcode     TEXT,
    outcome       TEXT NOT NULL,
    status        INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    elapsed_ms    INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class RequestRecord:
    """One answered request. ``outcome`` is ``ok``, a fault type (``Client.AutorisatieOngeldig``) or the
    injected failure (``http-500``, ``malformed``, ``empty``)."""

    brin6: str | None
    schooljaar: str | None
    xsdversie: str | None
    gegevenssetid: str | None
    klantcode: str | None
    outcome: str
    status: int
    bytes: int
    elapsed_ms: int


class RequestLog:
    def __init__(self, path: Path | None) -> None:
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            if path:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def add(self, record: RequestRecord) -> None:
        row = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"), **asdict(record)}
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO requests (at, brin6, schooljaar, xsdversie, gegevenssetid, klantcode, outcome, "
                "status, bytes, elapsed_ms) VALUES (:at, :brin6, :schooljaar, :xsdversie, :gegevenssetid, "
                ":klantcode, "
                ":outcome, :status, :bytes, :elapsed_ms)",
                row,
            )

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM requests ORDER BY id DESC LIMIT ?", (limit,))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def outcomes(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT outcome, COUNT(*) FROM requests GROUP BY outcome ORDER BY outcome"
            )
            return {outcome: count for outcome, count in rows}

    def clear(self) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM requests")

    def close(self) -> None:
        with self._lock:
            self._db.close()
