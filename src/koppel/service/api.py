"""The JSON API: a twin of every dashboard page under ``/api/``, for automation and monitoring.

Authentication is a bearer token from `koppel token create NAME` (``Authorization: Bearer kpl_…``);
actions are recorded as ``api:<token name>``. A logged-in dashboard user may read (GET) with the
session cookie too — the pages' "the same data as JSON" links — but never write with it. Every route returns the same model as its page, so
the OpenAPI description at ``/api/openapi.json`` documents the dashboard's data too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from koppel.service import actions
from koppel.service.dashboard import NotFound
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
from koppel.service.web import KEY, NAME, PLAN_ID, TEXT, api_actor, service_of

__all__ = ["ErrorModel", "router"]


class ErrorModel(BaseModel):
    detail: str


Responses = dict[int | str, dict[str, Any]]
"""FastAPI's ``responses``: status code → the response's model and description (for the OpenAPI document)."""

_ERRORS: Responses = {401: {"model": ErrorModel, "description": "No valid bearer token."}}
_NOT_FOUND: Responses = {404: {"model": ErrorModel, "description": "No such tenant, target, plan, run or person."}}
_REFUSED: Responses = {409: {"model": ErrorModel, "description": "Not possible now (e.g. the plan is not held)."}}

router = APIRouter(prefix="/api", tags=["koppel"], responses=_ERRORS)
Actor = Annotated[str, Depends(api_actor)]
TenantPath = Annotated[str, Path(pattern=NAME)]
TargetPath = Annotated[str, Path(pattern=NAME)]
PlanPath = Annotated[str, Path(pattern=PLAN_ID, description="A plan id, or a unique prefix of one.")]
PageQuery = Annotated[int, Query(ge=1, le=100_000)]
TenantQuery = Annotated[str | None, Query(pattern=NAME)]


@router.get("/overview", response_model=Overview, responses=_NOT_FOUND, summary="Every target at a glance")
def overview(request: Request, actor: Actor, tenant: TenantQuery = None, page: PageQuery = 1) -> Overview:
    return service_of(request).dashboard.overview(tenant, page=page)


@router.get("/targets/{tenant}/{target}", response_model=TargetPage, responses=_NOT_FOUND,
            summary="One target: chart (optionally for one school), per-school totals, runs, requests")
def target(request: Request, actor: Actor, tenant: TenantPath, target: TargetPath,
           school: Annotated[str | None, Query(max_length=16, pattern=TEXT)] = None) -> TargetPage:
    return service_of(request).dashboard.target(tenant, target, school=school)


@router.post("/targets/{tenant}/{target}/run", response_model=ActionResult, status_code=202,
             responses=_NOT_FOUND | _REFUSED, summary="Nu synchroniseren: queue a run")
def run_now(request: Request, actor: Actor, tenant: TenantPath, target: TargetPath) -> ActionResult:
    queued = actions.run_now(service_of(request), tenant, target, by=actor, trigger=Trigger.API)
    return ActionResult(ok=True, message=f"run queued as request {queued.id}", request=queued)


@router.get("/requests/{request_id}", response_model=RequestModel, responses=_NOT_FOUND,
            summary="A queued run: poll it to see when it is done")
def run_request(request: Request, actor: Actor, request_id: Annotated[int, Path(ge=1, le=2**62)]) -> RequestModel:
    found = service_of(request).queue.get(request_id)
    if found is None:
        raise NotFound(f"no request {request_id}")
    return RequestModel(**found.to_json())


@router.get("/plans", response_model=PlanList, summary="Held and recent plans")
def plans(request: Request, actor: Actor, tenant: TenantQuery = None) -> PlanList:
    return service_of(request).dashboard.plans(tenant)


@router.get("/plans/{plan_id}", response_model=PlanPage, responses=_NOT_FOUND,
            summary="A plan: summary, breakdown and a page of its changes, grouped by action and school")
def plan(request: Request, actor: Actor, plan_id: PlanPath,
         action: Annotated[str | None, Query(pattern=r"^[a-z]{1,16}$")] = None,
         school: Annotated[str | None, Query(max_length=16, pattern=TEXT)] = None, page: PageQuery = 1) -> PlanPage:
    return service_of(request).dashboard.plan(plan_id, action=action, school=school, page=page)


@router.post("/plans/{plan_id}/approve", response_model=ActionResult, status_code=202,
             responses=_NOT_FOUND | _REFUSED, summary="Approve a held plan; it is applied by a worker")
def approve(request: Request, actor: Actor, plan_id: PlanPath) -> ActionResult:
    queued = actions.approve_plan(service_of(request), plan_id, by=actor, trigger=Trigger.API)
    return ActionResult(ok=True, message=f"plan {queued.plan_id} approved by {actor}; request {queued.id}",
                        request=queued)


@router.post("/plans/{plan_id}/discard", response_model=ActionResult, responses=_NOT_FOUND | _REFUSED,
             summary="Discard a held plan")
def discard(request: Request, actor: Actor, plan_id: PlanPath) -> ActionResult:
    record = actions.discard_plan(service_of(request), plan_id, by=actor)
    return ActionResult(ok=True, message=f"plan {record.id} discarded by {actor}", plan=record)


@router.get("/runs", response_model=RunList, summary="Run history, newest first")
def runs(request: Request, actor: Actor, tenant: TenantQuery = None,
         target: Annotated[str | None, Query(pattern=NAME)] = None, page: PageQuery = 1) -> RunList:
    return service_of(request).dashboard.runs(tenant, target, page=page)


@router.get("/runs/{run_id}", response_model=RunPage, responses=_NOT_FOUND,
            summary="A run with its per-object errors and the target's description of each")
def run(request: Request, actor: Actor, run_id: Annotated[int, Path(ge=1, le=2**62)], page: PageQuery = 1) -> RunPage:
    return service_of(request).dashboard.run(run_id, page=page)


@router.get("/persons", response_model=PersonSearch, responses=_NOT_FOUND,
            summary="Search persons by name, leerlingnummer or docentcode")
def persons(request: Request, actor: Actor, q: Annotated[str, Query(max_length=100, pattern=TEXT)] = "",
            tenant: TenantQuery = None) -> PersonSearch:
    return service_of(request).dashboard.persons(q, tenant=tenant)


@router.get("/persons/{tenant}/{key:path}", response_model=Timeline, responses=_NOT_FOUND,
            summary="A person's timeline: every change and its reason")
def person(request: Request, actor: Actor, tenant: TenantPath, key: Annotated[str, Path(pattern=KEY)]) -> Timeline:
    return service_of(request).dashboard.timeline(tenant, key)


@router.get("/quality", response_model=QualityPage, responses=_NOT_FOUND,
            summary="The data-quality report of the latest LAS read")
def quality(request: Request, actor: Actor, tenant: TenantQuery = None,
            severity: Annotated[str | None, Query(pattern=r"^(error|warning|info)$")] = None,
            page: PageQuery = 1) -> QualityPage:
    return service_of(request).dashboard.quality(tenant, severity=severity, page=page)


@router.get("/config", response_model=ConfigPage, summary="The configuration, every secret masked")
def configuration(request: Request, actor: Actor) -> ConfigPage:
    return service_of(request).dashboard.configuration()
