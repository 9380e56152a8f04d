"""The JSON API: a twin of every dashboard page under ``/api/``, for automation and monitoring.

Authentication is a bearer token from `koppel token create NAME --role ROLE` (``Authorization: Bearer kpl_…``);
actions are recorded as ``api:<token name>``. A logged-in dashboard user may read (GET) with the
session cookie too — the pages' "the same data as JSON" links — but never write with it. Every route returns the same model as its page, so
the OpenAPI description at ``/api/openapi.json`` documents the dashboard's data too.

Roles (docs/security.md): every route needs ``viewer`` on the tenant it reads, and lists show only the
tenants the caller may see; ``POST …/run`` needs ``operator``, approving and discarding ``approver``
on the plan's tenant. An id of a tenant the caller may not see answers 404 exactly like an unknown
one; a role too low for an action answers 403 with a ``detail`` that names the role needed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from koppel.service import actions
from koppel.service.accounts import Role
from koppel.service.dashboard import NotFound, sees
from koppel.service.models import (
    ActionResult,
    ConfigPage,
    Overview,
    PersonSearch,
    PlanList,
    PlanPage,
    QualityPage,
    RequestModel,
    RunList,
    RunPage,
    TargetPage,
    Timeline,
)
from koppel.service.queue import Trigger
from koppel.service.web import KEY, NAME, PLAN_ID, TEXT, Caller, api_caller, service_of

__all__ = ["ErrorModel", "router"]


class ErrorModel(BaseModel):
    detail: str


Responses = dict[int | str, dict[str, Any]]
"""FastAPI's ``responses``: status code → the response's model and description (for the OpenAPI document)."""

_ERRORS: Responses = {401: {"model": ErrorModel, "description": "No valid bearer token."}}
_NOT_FOUND: Responses = {404: {"model": ErrorModel, "description": "No such tenant, target, plan, run or person."}}
_REFUSED: Responses = {409: {"model": ErrorModel, "description": "Not possible now (e.g. the plan is not held)."}}
_FORBIDDEN: Responses = {403: {"model": ErrorModel, "description": "The caller's role on the tenant is too low."}}

router = APIRouter(prefix="/api", tags=["koppel"], responses=_ERRORS)
Actor = Annotated[Caller, Depends(api_caller)]
TenantPath = Annotated[str, Path(pattern=NAME)]
TargetPath = Annotated[str, Path(pattern=NAME)]
# Any text: one that is no plan id is a 404 like an unknown id (never a 422).
PlanPath = Annotated[str, Path(max_length=200, description="A plan id, or a unique prefix of one.")]
PageQuery = Annotated[int, Query(ge=1, le=100_000)]
TenantQuery = Annotated[str | None, Query(pattern=NAME)]


def _plan(request: Request, actor: Caller, plan_id: str):
    """The plan's record for this caller: NotFound for an unknown id, one that is no plan id, and a plan of a
    tenant the caller may not see — all with the same answer."""
    if not re.fullmatch(PLAN_ID, plan_id):
        raise NotFound(f"no plan {plan_id[:40]!r}")
    return service_of(request).dashboard.plan_record(plan_id, viewer=actor.access)


@router.get("/overview", response_model=Overview, responses=_NOT_FOUND, summary="Every target at a glance")
def overview(request: Request, actor: Actor, tenant: TenantQuery = None, page: PageQuery = 1) -> Overview:
    return service_of(request).dashboard.overview(tenant, page=page, viewer=actor.access)


@router.get("/targets/{tenant}/{target}", response_model=TargetPage, responses=_NOT_FOUND,
            summary="One target: chart (optionally for one school), per-school totals, runs, requests")
def target(request: Request, actor: Actor, tenant: TenantPath, target: TargetPath,
           school: Annotated[str | None, Query(max_length=16, pattern=TEXT)] = None) -> TargetPage:
    return service_of(request).dashboard.target(tenant, target, school=school, viewer=actor.access)


@router.post("/targets/{tenant}/{target}/run", response_model=ActionResult, status_code=202,
             responses=_NOT_FOUND | _REFUSED | _FORBIDDEN, summary="Nu synchroniseren: queue a run (role operator)")
def run_now(request: Request, actor: Actor, tenant: TenantPath, target: TargetPath) -> ActionResult:
    if not sees(actor.access, tenant):
        raise NotFound(f"no target {tenant}/{target}")  # as for a tenant that does not exist
    actor.require(Role.OPERATOR, tenant)
    queued = actions.run_now(service_of(request), tenant, target, by=actor.name, trigger=Trigger.API)
    return ActionResult(ok=True, message=f"run queued as request {queued.id}", request=queued)


@router.get("/requests/{request_id}", response_model=RequestModel, responses=_NOT_FOUND,
            summary="A queued run: poll it to see when it is done")
def run_request(request: Request, actor: Actor, request_id: Annotated[int, Path(ge=1, le=2**62)]) -> RequestModel:
    found = service_of(request).queue.get(request_id)
    if found is None or not sees(actor.access, found.tenant):
        raise NotFound(f"no request {request_id}")
    return RequestModel(**found.to_json())


@router.get("/plans", response_model=PlanList, summary="Held and recent plans")
def plans(request: Request, actor: Actor, tenant: TenantQuery = None) -> PlanList:
    return service_of(request).dashboard.plans(tenant, viewer=actor.access)


@router.get("/plans/{plan_id}", response_model=PlanPage, responses=_NOT_FOUND,
            summary="A plan: summary, breakdown and a page of its changes (100 a page), optionally of one action "
                    "or school")
def plan(request: Request, actor: Actor, plan_id: PlanPath,
         action: Annotated[str | None, Query(pattern=r"^[a-z]{1,16}$")] = None,
         school: Annotated[str | None, Query(max_length=16, pattern=TEXT)] = None, page: PageQuery = 1) -> PlanPage:
    record = _plan(request, actor, plan_id)
    return service_of(request).dashboard.plan(record.id, action=action, school=school, page=page,
                                              viewer=actor.access, changes=True)


@router.post("/plans/{plan_id}/approve", response_model=ActionResult, status_code=202,
             responses=_NOT_FOUND | _REFUSED | _FORBIDDEN,
             summary="Approve a held plan (role approver); it is applied by a worker")
def approve(request: Request, actor: Actor, plan_id: PlanPath) -> ActionResult:
    record = _plan(request, actor, plan_id)
    actor.require(Role.APPROVER, record.tenant)
    queued = actions.approve_plan(service_of(request), record.id, by=actor.name, trigger=Trigger.API)
    return ActionResult(ok=True, message=f"plan {queued.plan_id} approved by {actor.name}; request {queued.id}",
                        request=queued)


@router.post("/plans/{plan_id}/discard", response_model=ActionResult, responses=_NOT_FOUND | _REFUSED | _FORBIDDEN,
             summary="Discard a held plan (role approver)")
def discard(request: Request, actor: Actor, plan_id: PlanPath) -> ActionResult:
    found = _plan(request, actor, plan_id)
    actor.require(Role.APPROVER, found.tenant)
    record = actions.discard_plan(service_of(request), found.id, by=actor.name)
    return ActionResult(ok=True, message=f"plan {record.id} discarded by {actor.name}", plan=record)


@router.get("/runs", response_model=RunList, summary="Run history, newest first")
def runs(request: Request, actor: Actor, tenant: TenantQuery = None,
         target: Annotated[str | None, Query(pattern=NAME)] = None, page: PageQuery = 1) -> RunList:
    return service_of(request).dashboard.runs(tenant, target, page=page, viewer=actor.access)


@router.get("/runs/{run_id}", response_model=RunPage, responses=_NOT_FOUND,
            summary="A run with its per-object errors and the target's description of each")
def run(request: Request, actor: Actor, run_id: Annotated[int, Path(ge=1, le=2**62)], page: PageQuery = 1) -> RunPage:
    return service_of(request).dashboard.run(run_id, page=page, viewer=actor.access)


@router.get("/persons", response_model=PersonSearch, responses=_NOT_FOUND,
            summary="Search persons by name, leerlingnummer or docentcode")
def persons(request: Request, actor: Actor, q: Annotated[str, Query(max_length=100, pattern=TEXT)] = "",
            tenant: TenantQuery = None) -> PersonSearch:
    return service_of(request).dashboard.persons(q, tenant=tenant, viewer=actor.access)


@router.get("/persons/{tenant}/{key:path}", response_model=Timeline, responses=_NOT_FOUND,
            summary="A person's timeline: every change and its reason")
def person(request: Request, actor: Actor, tenant: TenantPath, key: Annotated[str, Path(pattern=KEY)]) -> Timeline:
    return service_of(request).dashboard.timeline(tenant, key, viewer=actor.access)


@router.get("/quality", response_model=QualityPage, responses=_NOT_FOUND,
            summary="The data-quality report of the latest LAS read")
def quality(request: Request, actor: Actor, tenant: TenantQuery = None,
            severity: Annotated[str | None, Query(pattern=r"^(error|warning|info)$")] = None,
            page: PageQuery = 1) -> QualityPage:
    return service_of(request).dashboard.quality(tenant, severity=severity, page=page, viewer=actor.access)


@router.get("/config", response_model=ConfigPage,
            summary="The configuration, every secret masked (only the caller's tenants unless it sees all)")
def configuration(request: Request, actor: Actor) -> ConfigPage:
    return service_of(request).dashboard.configuration(viewer=actor.access)
