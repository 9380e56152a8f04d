"""What a person or a token may ask of the service: run now, approve a held plan, discard it.

Shared by the HTML forms and the JSON API so both refuse the same things with the same words.
Running and approving only *queue* work for the scheduler's workers (a web request never runs a
sync); discarding is a status change and happens at once, through ``Koppel.discard``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from koppel.errors import PlanNotFound
from koppel.model.status import PlanStatus
from koppel.service.dashboard import NotFound, plan_model
from koppel.service.models import PlanRecordModel, RequestModel
from koppel.service.queue import RequestKind, Trigger
from koppel.service.runtime import Service

if TYPE_CHECKING:
    from koppel.state.store import PlanRecord

__all__ = ["ActionRefused", "approve_plan", "discard_plan", "run_now"]


class ActionRefused(ValueError):
    """The action is not possible in the current state (HTTP 409); the message says why."""


def run_now(service: Service, tenant: str, target: str, *, by: str, trigger: Trigger) -> RequestModel:
    tenant_cfg = service.config.tenants.get(tenant)
    if tenant_cfg is None or target not in tenant_cfg.targets:
        raise NotFound(f"no target {tenant}/{target}")
    if not tenant_cfg.targets[target].enabled:
        raise ActionRefused(f"target {tenant}/{target} is disabled in the configuration")
    request = service.queue.enqueue(tenant, target, kind=RequestKind.SYNC, trigger=trigger, by=by)
    service.scheduler.wake()
    return RequestModel(**request.to_json())


def _held(service: Service, plan_id: str) -> PlanRecord:
    try:
        record = service.koppel.store.plan_record(plan_id)
    except PlanNotFound:
        raise NotFound(f"no plan {plan_id!r}") from None
    if record.status != PlanStatus.HELD:
        raise ActionRefused(f"plan {record.id} is {record.status}; only a held plan can be approved or discarded")
    pending = [r for r in service.queue.pending(record.tenant, record.target)
               if r.kind is RequestKind.APPROVE and r.plan_id == record.id]
    if pending:
        raise ActionRefused(f"plan {record.id} is already approved and being applied (request {pending[0].id})")
    return record


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
