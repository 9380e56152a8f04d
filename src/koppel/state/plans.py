"""Stored plans: saved and held plans with their decisions (:class:`PlanRepository`)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from typing import Any, BinaryIO, cast

from sqlalchemy import insert, select, update

from koppel.errors import PlanNotFound
from koppel.model.status import PENDING_PLANS, PlanStatus
from koppel.plan.model import Plan
from koppel.state import schema as t
from koppel.state.db import Database, dumps
from koppel.state.records import PlanRecord, plan_record

__all__ = ["PlanRepository"]


class PlanRepository:
    """The ``plans`` table: a plan's body (gzip of its JSON), its holds, summary and status."""

    def __init__(self, db: Database):
        self.db = db

    def save_plan(self, plan: Plan, *, status: str) -> None:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=3, mtime=0) as compressed:
            # Streamed: a held plan can hold half a million changes. (A GzipFile is a binary file; its stub
            # does not say BinaryIO.)
            plan.write_json(cast(BinaryIO, compressed))
        body = buffer.getvalue()
        values = {
            "tenant": plan.tenant, "target": plan.target, "created_at": self.db.now(), "status": status,
            "lineage": plan.lineage, "serial": plan.serial, "held": plan.held,
            "holds": dumps([h.to_json() for h in plan.holds]), "summary": dumps(plan.summary()), "body": body,
        }
        p = t.plans.c
        with self.db.transaction() as conn:
            exists = conn.execute(select(p.id).where(p.id == plan.id)).first()
            if exists:
                conn.execute(update(t.plans).where(p.id == plan.id).values(
                    status=status, created_at=values["created_at"], decided_by=None, decided_at=None,
                ))
            else:
                conn.execute(insert(t.plans).values(id=plan.id, **values))

    def plan_record(self, plan_id: str) -> PlanRecord:
        """The plan with this id, or with the one id that starts with it."""
        p = t.plans.c
        with self.db.reading() as conn:
            row = conn.execute(select(t.plans).where(p.id == plan_id)).mappings().first()
            if row is None:
                found: Sequence[Any] = conn.execute(select(p.id).where(p.id.like(f"{plan_id}%")).limit(2)).scalars().all()
                candidates = [str(c) for c in found]
                if len(candidates) == 1:
                    row = conn.execute(select(t.plans).where(p.id == candidates[0])).mappings().first()
        if row is None:
            raise PlanNotFound(f"no plan with id {plan_id!r}; `koppel status` lists held plans")
        return plan_record(row)

    def plan_json(self, plan_id: str) -> bytes | None:
        """The plan's JSON exactly as stored (its full id), or None."""
        with self.db.reading() as conn:
            body = conn.execute(select(t.plans.c.body).where(t.plans.c.id == plan_id)).scalar()
        return None if body is None else gzip.decompress(body)

    def load_plan(self, plan_id: str) -> Plan:
        record = self.plan_record(plan_id)
        body = self.plan_json(record.id)
        if body is None:  # removed between the two reads
            raise PlanNotFound(f"no plan with id {plan_id!r}; `koppel status` lists held plans")
        return Plan.from_json_bytes(body)

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
        with self.db.reading() as conn:
            return [plan_record(row) for row in conn.execute(query).mappings()]

    def set_plan_status(self, plan_id: str, status: str, *, by: str | None = None, run_id: int | None = None,
                        approved: bool = False) -> None:
        values: dict[str, Any] = {"status": status, "decided_by": by, "decided_at": self.db.now()}
        if approved:
            values["approved_by"] = by
            values["approved_at"] = values["decided_at"]
        if run_id is not None:
            values["run_id"] = run_id
        with self.db.transaction() as conn:
            conn.execute(update(t.plans).where(t.plans.c.id == plan_id).values(**values))

    def mark_stale_plans(self, tenant: str, target: str, serial: int) -> int:
        """Held or saved plans made on an older serial can never apply: say so."""
        p = t.plans.c
        with self.db.transaction() as conn:
            result = conn.execute(
                update(t.plans)
                .where(p.tenant == tenant, p.target == target, p.status.in_([s.value for s in PENDING_PLANS]),
                       p.serial != serial)
                .values(status=PlanStatus.STALE.value, decided_at=self.db.now())
            )
            return result.rowcount or 0
