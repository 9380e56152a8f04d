"""Finding persons, their history (the journal of the person and their memberships), and the purge of
both once the retention period is over (AVG): :class:`HistoryRepository`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import and_, delete, or_, select

from koppel.model.desired import ObjectKind
from koppel.plan.state_view import ObjectStatus
from koppel.state import schema as t
from koppel.state.db import Database, chunks
from koppel.state.records import JournalEntry, journal_entry

__all__ = ["HistoryRepository"]


class HistoryRepository:
    """Search, history and purge of persons, across the targets of a tenant."""

    def __init__(self, db: Database):
        self.db = db

    def find_persons(self, tenant: str, target: str | None, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """Persons whose name, leerlingnummer, docentcode or key matches ``query`` (case-insensitive)."""
        needle = f"%{query.strip().lower()}%"
        o = t.objects.c
        q = self._persons(tenant, target).where(or_(o.search.like(needle), o.key == query.strip())) \
            .order_by(o.label, o.key).limit(limit)
        with self.db.reading() as conn:
            return [_person(row) for row in conn.execute(q).mappings()]

    def person(self, tenant: str, key: str) -> dict[str, Any] | None:
        """The person with this sync key in any target of the tenant (target, key, label, status, school, meta)."""
        q = self._persons(tenant, None).where(t.objects.c.key == key).limit(1)
        with self.db.reading() as conn:
            row = conn.execute(q).mappings().first()
        return _person(row) if row else None

    @staticmethod
    def _persons(tenant: str, target: str | None) -> Any:
        o, s = t.objects.c, t.targets_state.c
        q = (select(s.target, o.key, o.label, o.status, o.school, o.meta)
             .select_from(t.objects.join(t.targets_state, o.state_id == s.id))
             .where(s.tenant == tenant, o.kind == ObjectKind.PERSON.value))
        return q.where(s.target == target) if target else q

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
        with self.db.reading() as conn:
            return [journal_entry(row) for row in conn.execute(q).mappings()]

    def object_history(self, tenant: str, target: str, key: str) -> list[JournalEntry]:
        return self.history(tenant, target, key)

    # -- retention (AVG) -------------------------------------------------------------------

    def purgeable_persons(self, tenant: str, target: str, *, before: str) -> list[dict[str, Any]]:
        """Persons deleted before ``before`` (ISO timestamp or date): their retention period is over."""
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return []
        o = t.objects.c
        q = select(o.key, o.label, o.school, o.absent_since, o.updated_at.label("deleted_at")).where(
            o.state_id == state_id, o.kind == ObjectKind.PERSON.value, o.status == ObjectStatus.DELETED.value,
            o.updated_at < before,
        ).order_by(o.key)
        with self.db.reading() as conn:
            return [{str(k): v for k, v in r._mapping.items()} for r in conn.execute(q)]

    def purge_persons(self, tenant: str, target: str, keys: Sequence[str]) -> dict[str, int]:
        """Remove the state rows and the journal (history) of these persons and their memberships."""
        state_id = self.db.state_id(tenant, target)
        if state_id is None or not keys:
            return {"persons": 0, "journal": 0}
        persons = journal_rows = 0
        j, o = t.journal.c, t.objects.c
        with self.db.transaction() as conn:
            for chunk in chunks(list(keys), 500):
                journal_rows += conn.execute(delete(t.journal).where(
                    j.state_id == state_id, or_(j.person_key.in_(chunk), j.key.in_(chunk)),
                )).rowcount or 0
                persons += conn.execute(delete(t.objects).where(
                    o.state_id == state_id,
                    or_(o.key.in_(chunk), and_(o.person_key.in_(chunk), o.kind == ObjectKind.MEMBERSHIP.value)),
                )).rowcount or 0
        return {"persons": len(keys), "rows": persons, "journal": journal_rows}


def _person(row: Any) -> dict[str, Any]:
    return {"target": row["target"], "key": row["key"], "label": row["label"], "status": row["status"],
            "school": row["school"], "meta": orjson.loads(row["meta"]) if row["meta"] else {}}
