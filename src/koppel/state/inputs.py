"""What the unchanged-input short cut needs of the state (issue 13): the state's version, and the inputs of the
last full run of a target that found nothing to change (table ``plan_inputs``, migration 0007).

The state's *version* is a string that every write the plan could notice moves on: the lineage and the serial
(bumped in the transaction of every recorded batch, adoption and takeover — the journal is only written there),
the time the serial last moved, the number of objects (a row deleted or added by hand, a purge), and the number
and latest time of the drift and unrecorded rows. It is read with a handful of indexed queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from sqlalchemy import delete, func, insert, select

from koppel.state import schema as t
from koppel.state.db import Database

__all__ = ["InputsRepository", "RememberedInputs"]


@dataclass(frozen=True)
class RememberedInputs:
    """The inputs of the last full run that found nothing to change: their digest, the digest of each input,
    that run and the source read it recorded."""

    digest: str
    parts: dict[str, str]
    run_id: int | None
    source_read_id: int | None


class InputsRepository:
    def __init__(self, db: Database):
        self.db = db

    def state_version(self, tenant: str, target: str) -> str:
        """A string that changes whenever the state of this target changes in a way a plan could notice."""
        s = t.targets_state.c
        with self.db.reading() as conn:
            row = conn.execute(select(s.id, s.lineage, s.serial, s.updated_at)
                               .where(s.tenant == tenant, s.target == target)).first()
            if row is None:
                return "no state"
            state_id = int(row.id)
            objects = conn.execute(select(func.count()).select_from(t.objects)
                                   .where(t.objects.c.state_id == state_id)).scalar()
            drift = conn.execute(select(func.count(), func.max(t.drift.c.seen_at))
                                 .where(t.drift.c.state_id == state_id)).one()
            unrecorded = conn.execute(select(func.count(), func.max(t.unrecorded.c.sent_at))
                                      .where(t.unrecorded.c.state_id == state_id)).one()
        return (f"{row.lineage}:{row.serial}:{row.updated_at}:objects={objects}:drift={drift[0]}@{drift[1]}"
                f":unrecorded={unrecorded[0]}@{unrecorded[1]}")

    def remembered(self, tenant: str, target: str) -> RememberedInputs | None:
        p = t.plan_inputs.c
        with self.db.reading() as conn:
            row = conn.execute(select(p.digest, p.parts, p.run_id, p.source_read_id)
                               .where(p.tenant == tenant, p.target == target)).first()
        if row is None:
            return None
        return RememberedInputs(str(row.digest), orjson.loads(row.parts) if row.parts else {}, row.run_id,
                                row.source_read_id)

    def remember(self, tenant: str, target: str, digest: str, parts: Mapping[str, str], *, run_id: int | None,
                 source_read_id: int | None) -> None:
        """The inputs of a full run that found nothing to change (replacing what was remembered)."""
        p = t.plan_inputs.c
        with self.db.transaction() as conn:
            conn.execute(delete(t.plan_inputs).where(p.tenant == tenant, p.target == target))
            conn.execute(insert(t.plan_inputs).values(tenant=tenant, target=target, digest=digest, run_id=run_id,
                                                      parts=orjson.dumps(dict(parts)).decode(),
                                                      source_read_id=source_read_id, recorded_at=self.db.now()))

    def forget(self, tenant: str, target: str) -> None:
        """Nothing remembered: the next run plans in full (a run that found changes, or failed)."""
        p = t.plan_inputs.c
        with self.db.transaction() as conn:
            conn.execute(delete(t.plan_inputs).where(p.tenant == tenant, p.target == target))
