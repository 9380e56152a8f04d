"""Which stored plan may still be approved, for :class:`~koppel.pipeline.Koppel`: a held plan the state
moved past is stale, one a newer plan replaced is superseded, and a ``koppel plan`` preview's id is approved
by planning again. Every status it sets goes through the run recorder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from koppel.errors import PlanError, PlanNotFound, StalePlanError
from koppel.model.status import PENDING_PLANS, PlanStatus
from koppel.plan.model import Plan
from koppel.runs import superseded_by
from koppel.targets.base import Target

if TYPE_CHECKING:
    from koppel.pipeline import Koppel

__all__ = ["Approvals"]


class Approvals:
    def __init__(self, app: Koppel) -> None:
        self.app = app

    def approvable(self, plan_id: str, tenant_id: str | None, target_name: str | None,
                   target: Target | None) -> Plan:
        """The stored held (or saved) plan ``plan_id``, when it may still be approved; a stale or superseded one
        is refused with what to do instead.

        A ``koppel plan`` preview stores nothing, yet prints its held plan's id to approve. The plan id is a
        content address, so such an id is approved by planning again (for ``tenant_id`` and ``target_name``):
        the same id is the same plan the preview showed, and it is stored as the target's held plan; another id
        means the LAS or the state changed since, and nothing is approved."""
        store, runs = self.app.store, self.app.runs
        try:
            record = store.plan_record(plan_id)
        except PlanNotFound:
            return self._preview_again(plan_id, tenant_id, target_name, target)
        current = store.serial(record.tenant, record.target)
        if record.status in PENDING_PLANS and current is not None and current[1] != record.serial:
            runs.stale_plans(record.tenant, record.target, current[1])
            record = store.plan_record(record.id)
        if record.status == PlanStatus.STALE:
            raise StalePlanError(f"plan {record.id} is stale: the state moved since it was made (serial "
                                 f"{record.serial}, now {current[1] if current else '?'}). Make a new plan.",
                                 plan_id=record.id, made_at=record.serial, now_at=current[1] if current else None)
        if record.status == PlanStatus.SUPERSEDED:
            raise PlanError(self.superseded_message(record.id, superseded_by(record)))
        if record.status not in PENDING_PLANS:
            raise PlanError(f"plan {record.id} is {record.status}; only a held plan can be approved")
        return store.load_plan(record.id)

    def superseded_message(self, plan_id: str, newer: str | None) -> str:
        """"plan X was superseded by plan Y made <when>", with what to do: the words status and approve use."""
        if newer is None:
            return f"plan {plan_id} was superseded by a newer plan; `koppel status` shows the held plan to review"
        try:
            made = self.app.store.plan_record(newer).created_at
        except PlanNotFound:
            made = "later"
        return (f"plan {plan_id} was superseded by plan {newer} made {made}; review that one (`koppel status`) "
                f"and approve it with `koppel apply --approve {newer}`")

    def _preview_again(self, plan_id: str, tenant_id: str | None, target_name: str | None,
                       target: Target | None) -> Plan:
        plan = self.app.plan(tenant_id, target_name, target=target).plan
        if len(plan_id) < 6 or not plan.id.startswith(plan_id):
            raise PlanNotFound(
                f"no stored plan {plan_id!r}, and planning again now gives plan {plan.id}: the LAS or the state "
                "changed since that plan was shown (or it belongs to another tenant or target). Review the new one "
                "with `koppel plan`; `koppel status` lists the held plans.")
        if plan.held:
            self.app.runs.plan_held(plan)
        return plan
