"""What the rules made of each school's files (issue 13): the rows a plan school by school reads and writes
(table ``desired_slices``, migration 0008). This repository stores opaque rows; what they hold and when they may
be used is :mod:`koppel.slices`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import delete, insert, select

from koppel.state import schema as t
from koppel.state.db import Database, chunks

__all__ = ["SliceRow", "SlicesRepository"]


@dataclass(frozen=True)
class SliceRow:
    """One slice: its name (its first BRIN6), the digest of the inputs besides its folders, and each folder's
    digest. ``payload`` is empty in :meth:`SlicesRepository.index`."""

    name: str
    context: str
    units: Mapping[str, str]
    payload: bytes = b""


class SlicesRepository:
    def __init__(self, db: Database):
        self.db = db

    def index(self, tenant: str, target: str) -> list[SliceRow]:
        """The target's slices, without their payloads."""
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return []
        c = t.desired_slices.c
        with self.db.reading() as conn:
            rows = conn.execute(select(c.slice, c.context, c.units).where(c.state_id == state_id)).all()
        return [SliceRow(str(r.slice), str(r.context), orjson.loads(r.units)) for r in rows]

    def payloads(self, tenant: str, target: str, names: Iterable[str]) -> dict[str, SliceRow]:
        """These slices with their payloads — and the digests they were stored under *with* them (a slice written
        since :meth:`index` was read comes with its own)."""
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return {}
        c = t.desired_slices.c
        out: dict[str, SliceRow] = {}
        with self.db.reading() as conn:
            for chunk in chunks(sorted(names), 900):
                for row in conn.execute(select(c.slice, c.context, c.units, c.payload).where(
                        c.state_id == state_id, c.slice.in_(chunk))):
                    out[str(row.slice)] = SliceRow(str(row.slice), str(row.context), orjson.loads(row.units),
                                                   bytes(row.payload))
        return out

    def replace(self, tenant: str, target: str, rows: Sequence[SliceRow], *, drop: Iterable[str] | None = None) -> None:
        """Store ``rows`` in place of the slices named in ``drop`` (None: of every slice of the target)."""
        state_id = self.db.state_id_for_write(tenant, target)
        c = t.desired_slices.c
        now = self.db.now()
        with self.db.transaction() as conn:
            if drop is None:
                conn.execute(delete(t.desired_slices).where(c.state_id == state_id))
            else:
                for chunk in chunks(sorted(set(drop) | {row.name for row in rows}), 900):
                    conn.execute(delete(t.desired_slices).where(c.state_id == state_id, c.slice.in_(chunk)))
            for row in rows:
                conn.execute(insert(t.desired_slices).values(
                    state_id=state_id, slice=row.name, context=row.context,
                    units=orjson.dumps(dict(row.units), option=orjson.OPT_SORT_KEYS).decode(), payload=row.payload,
                    recorded_at=now))

    def forget(self, tenant: str, target: str) -> None:
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return
        with self.db.transaction() as conn:
            conn.execute(delete(t.desired_slices).where(t.desired_slices.c.state_id == state_id))
