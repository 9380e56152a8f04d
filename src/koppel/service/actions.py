"""What a person or a token may ask of the service: run now, approve a held plan, discard it.

Shared by the HTML forms and the JSON API so both refuse the same things with the same words.
Running and approving only *queue* work for the scheduler's workers (a web request never runs a
sync); discarding is a status change and happens at once, through ``Koppel.discard``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from koppel.errors import PlanNotFound
from koppel.model.status import PlanStatus
from koppel.runs import superseded_by
from koppel.service.dashboard import NotFound, plan_model
from koppel.service.models import PlanRecordModel, RequestModel
from koppel.service.queue import RequestKind, Trigger
from koppel.service.runtime import Service

if TYPE_CHECKING:
    from koppel.state.store import PlanRecord

__all__ = ["ActionRefused", "approve_plan", "discard_plan", "held_plan", "run_now", "run_now_once"]


class ActionRefused(ValueError):
    """The action is not possible in the current state (HTTP 409); the message says why (in English, for the
    API), and ``key`` with ``values`` say it in the dashboard's catalogue (``koppel.service.i18n``)."""

    def __init__(self, message: str, *, key: str = "action.refused", **values: str):
        super().__init__(message)
        self.key = key
        self.values = {"message": message, **values}


def run_now(service: Service, tenant: str, target: str, *, by: str, trigger: Trigger) -> RequestModel:
    return run_now_once(service, tenant, target, by=by, trigger=trigger)[0]


def run_now_once(service: Service, tenant: str, target: str, *, by: str,
                 trigger: Trigger) -> tuple[RequestModel, bool]:
    """Queue a sync; False when a sync of the target already waited or ran (it absorbs this one)."""
    tenant_cfg = service.config.tenants.get(tenant)
    if tenant_cfg is None or target not in tenant_cfg.targets:
        raise NotFound(f"no target {tenant}/{target}")
    if not tenant_cfg.targets[target].enabled:
        raise ActionRefused(f"target {tenant}/{target} is disabled in the configuration", key="refused.disabled",
                            target=f"{tenant}/{target}")
    request, new = service.queue.enqueue_once(tenant, target, kind=RequestKind.SYNC, trigger=trigger, by=by)
    if new:
        service.scheduler.wake()
    return RequestModel(**request.to_json()), new


def _held(service: Service, plan_id: str) -> PlanRecord:
    """The plan, when it is held and nobody approved it yet; otherwise refused with what became of it."""
    try:
        record = service.koppel.store.plan_record(plan_id)
    except PlanNotFound:
        raise NotFound(f"no plan {plan_id!r}") from None
    if record.status == PlanStatus.SUPERSEDED:
        newer = superseded_by(record) or "?"
        raise ActionRefused(f"plan {record.id} was superseded by plan {newer}; review and approve that one",
                            key="refused.superseded", id=record.id, newer=newer)
    if record.status != PlanStatus.HELD:
        raise ActionRefused(f"plan {record.id} is {record.status}; only a held plan can be approved or discarded",
                            key="refused.status", id=record.id, status=record.status)
    pending = [r for r in service.queue.pending(record.tenant, record.target)
               if r.kind is RequestKind.APPROVE and r.plan_id == record.id]
    if pending:
        raise ActionRefused(f"plan {record.id} is already approved and being applied (request {pending[0].id})",
                            key="refused.approved", id=record.id, by=pending[0].requested_by or "?")
    return record


def held_plan(service: Service, plan_id: str) -> PlanRecord:
    """The plan an approval or discard would act on (the confirm page asks this before it asks)."""
    return _held(service, plan_id)


def approve_plan(service: Service, plan_id: str, *, by: str, trigger: Trigger) -> RequestModel:
    """Queue the held plan for applying; the worker calls ``Koppel.approve(plan_id, approved_by=by)``."""
    record = _held(service, plan_id)
    request = service.queue.enqueue(record.tenant, record.target, kind=RequestKind.APPROVE, trigger=trigger, by=by,
                                    plan_id=record.id)
    service.scheduler.wake()
    return RequestModel(**request.to_json())


def discard_plan(service: Service, plan_id: str, *, by: str) -> PlanRecordModel:
    record = _held(service, plan_id)
    service.koppel.discard(record.id, by=by)
    return plan_model(service.koppel.store.plan_record(record.id))
