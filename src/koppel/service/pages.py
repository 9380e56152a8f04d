"""The dashboard's HTML pages. Each reads the same model as its JSON twin under ``/api/`` and renders
it with a template; forms post back here, carry the session's CSRF token and redirect (303) after
doing their one thing.

Roles: every page reads through the dashboard with the user's access, so a tenant the user may not
see is a 404 like an unknown one and absent from every list; "nu synchroniseren" needs ``operator``
and approving or discarding ``approver`` on the tenant, else a 403 page that says which role is
needed (the buttons are not shown to whom may not use them).
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from koppel.service import actions
from koppel.service.accounts import LoginOutcome, Role, Session
from koppel.service.actions import ActionRefused
from koppel.service.chart import render_chart
from koppel.service.dashboard import CHART_DAYS, NotFound, sees
from koppel.service.queue import Trigger
from koppel.service.settings import Language
from koppel.service.web import (
    KEY,
    LANG_COOKIE,
    LOGIN_COOKIE,
    NAME,
    PLAN_ID,
    SESSION_COOKIE,
    TEXT,
    Page,
    check_csrf,
    client_address,
    delete_cookie,
    format_when,
    new_login_token,
    page_session,
    safe_next,
    service_of,
    set_cookie,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

TenantPath = Annotated[str, Path(pattern=NAME)]
TargetPath = Annotated[str, Path(pattern=NAME)]
# Any text: an id that is no plan id is a (Dutch) 404 like an unknown one, never a validation error.
PlanPath = Annotated[str, Path(max_length=200)]
PageQuery = Annotated[int, Query(ge=1, le=100_000)]
SessionDep = Annotated[Session, Depends(page_session)]
# Messages a redirect may ask a page to show (never free text from the URL).
NOTICES = {"enqueued": "overview.enqueued", "approved": "plan.approved_queued", "discarded": "plan.discarded",
           "already_queued": "overview.already_queued"}


def _notice(page: Page, key: str | None, **values: str) -> str | None:
    return page.tr(NOTICES[key], **values) if key in NOTICES else None


# -- logging in and out ----------------------------------------------------------------------------


def _login_page(request: Request, *, status_code: int = 200, error: str | None = None, next_path: str = "/",
                headers: dict[str, str] | None = None) -> HTMLResponse:
    # Reuse the token of an open login form (a second tab, the browser's favicon request) so that
    # one form does not invalidate the other.
    existing = request.cookies.get(LOGIN_COOKIE, "")
    token = existing if 20 <= len(existing) <= 64 and existing.replace("-", "").replace("_", "").isalnum() \
        else new_login_token()
    page = Page(request, None)
    response = page.render("login.html", status_code=status_code, error=error, login_token=token,
                           next_path=safe_next(next_path), bye=request.query_params.get("bye") == "1")
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600, path="/login")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if service_of(request).accounts.session(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=next)


@router.post("/login")
def login(request: Request, user: Annotated[str, Form(max_length=100)] = "",
          password: Annotated[str, Form(max_length=1000)] = "", csrf: Annotated[str, Form(max_length=200)] = "",
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    tr = Page(request, None).tr
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not csrf or not expected or not _same(csrf, expected):
        return _login_page(request, status_code=403, error=tr("login.expired"), next_path=next)
    service = service_of(request)
    client = client_address(request)
    result = service.accounts.login(user.strip(), password, client=client)
    if result.outcome is LoginOutcome.THROTTLED:
        return _login_page(request, status_code=429, error=tr("login.throttled", seconds=result.wait_s),
                           next_path=next, headers={"Retry-After": str(result.wait_s)})
    if result.outcome is LoginOutcome.WRONG:
        return _login_page(request, status_code=401, error=tr("login.wrong"), next_path=next)
    cookie, _session = service.accounts.start_session(user.strip(), client=client)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, cookie, max_age=service.accounts.session_max_age_s)
    delete_cookie(request, response, LOGIN_COOKIE, path="/login")
    return response


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@router.post("/logout")
def logout(request: Request, session: SessionDep, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(session, csrf)
    service_of(request).accounts.end_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login?bye=1", status_code=303)
    delete_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/language/{code}")
def switch_language(request: Request, code: Language, next: str = "/") -> Response:
    """Set the language cookie (a preference, not a change of state: no login or CSRF needed)."""
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(request, response, LANG_COOKIE, code.value, max_age=365 * 86400)
    return response


# -- overview and targets ----------------------------------------------------------------------------


def _chart(page: Page, card) -> str:
    service = service_of(page.request)
    zone = ZoneInfo(service.settings.timezone)
    return render_chart(card.chart, now=service.clock(), days=CHART_DAYS, tr=page.tr,
                        when=lambda stamp: format_when(stamp, zone), label=page.tr("overview.chart"))


@router.get("/")
def overview(request: Request, session: SessionDep, tenant: Annotated[str | None, Query(pattern=NAME)] = None,
             page: PageQuery = 1, notice: str | None = None) -> Response:
    data = service_of(request).dashboard.overview(tenant, page=page, viewer=session.access)
    view = Page(request, session)
    charts = {(c.tenant, c.target): _chart(view, c) for ten in data.tenants for c in ten.targets}
    busy = any(card.pending for ten in data.tenants for card in ten.targets)
    return view.render("overview.html", json_url=f"/api/overview?page={data.page}", data=data, charts=charts,
                       notice=_notice(view, notice), refresh=10 if busy else None)


@router.get("/targets/{tenant}/{target}")
def target_page(request: Request, session: SessionDep, tenant: TenantPath, target: TargetPath,
                school: Annotated[str | None, Query(max_length=16)] = None, notice: str | None = None) -> Response:
    page = Page(request, session)
    data = service_of(request).dashboard.target(tenant, target, school=school, viewer=session.access)
    query = f"?school={school}" if school else ""
    return page.render("target.html", json_url=f"/api/targets/{tenant}/{target}{query}", data=data,
                       chart=_chart(page, data.card), notice=_notice(page, notice),
                       refresh=5 if data.card.pending else None)


@router.post("/targets/{tenant}/{target}/run")
def run_now(request: Request, session: SessionDep, tenant: TenantPath, target: TargetPath,
            csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(session, csrf)
    if not sees(session.access, tenant):
        raise NotFound(f"no target {tenant}/{target}")  # as for a tenant that does not exist
    if not session.access.may(Role.OPERATOR, tenant):
        return _forbidden(Page(request, session), Role.OPERATOR, tenant)
    try:
        _, new = actions.run_now_once(service_of(request), tenant, target, by=session.user, trigger=Trigger.MANUAL)
    except ActionRefused as exc:
        return _refused(Page(request, session), exc)
    notice = "enqueued" if new else "already_queued"
    return RedirectResponse(f"/targets/{tenant}/{target}?notice={notice}", status_code=303)


# -- plans ---------------------------------------------------------------------------------------------


@router.get("/plans")
def plans(request: Request, session: SessionDep, tenant: Annotated[str | None, Query(pattern=NAME)] = None) -> Response:
    page = Page(request, session)
    data = service_of(request).dashboard.plans(tenant, viewer=session.access)
    return page.render("plans.html", json_url="/api/plans", data=data)


def _refused(view: Page, exc: ActionRefused) -> Response:
    """An action the plan's or target's state does not allow, said in the page's language (409)."""
    return view.render("error.html", status_code=409, message=view.tr(exc.key, **exc.values))


def _forbidden(view: Page, role: Role, tenant: str) -> Response:
    """The user may see the tenant but not do this: 403, naming the role it needs."""
    return view.render("error.html", status_code=403,
                       message=view.tr("role.forbidden", role=view.tr(f"role.{role.value}"), tenant=tenant))


def _no_plan(view: Page, plan_id: str) -> Response:
    return view.render("error.html", status_code=404, message=view.tr("plan.not_found", id=plan_id[:40]))


def _plan_data(view: Page, plan_id: str, **filters):
    """The plan page's data, or None when ``plan_id`` names no plan (also when it is no plan id at all)."""
    if not re.fullmatch(PLAN_ID, plan_id):
        return None
    viewer = view.session.access if view.session else None
    try:
        return service_of(view.request).dashboard.plan(plan_id, viewer=viewer, **filters)
    except NotFound:
        return None


def _decidable(view: Page, plan_id: str):
    """The plan an approval or discard acts on, or the response that refuses it: 404 for no plan (or one of a
    tenant the user may not see), 403 without the role approver on its tenant."""
    if not re.fullmatch(PLAN_ID, plan_id):
        return None, _no_plan(view, plan_id)
    assert view.session is not None
    try:
        record = service_of(view.request).dashboard.plan_record(plan_id, viewer=view.session.access)
    except NotFound:
        return None, _no_plan(view, plan_id)
    if not view.session.access.may(Role.APPROVER, record.tenant):
        return None, _forbidden(view, Role.APPROVER, record.tenant)
    return record, None


@router.get("/plans/{plan_id}")
def plan(request: Request, session: SessionDep, plan_id: PlanPath,
         action: Annotated[str | None, Query(pattern=r"^[a-z]{1,16}$")] = None,
         school: Annotated[str | None, Query(max_length=16)] = None, page: PageQuery = 1,
         q: Annotated[str, Query(max_length=100, pattern=TEXT)] = "", notice: str | None = None) -> Response:
    view = Page(request, session)
    data = _plan_data(view, plan_id, action=action, school=school, page=page, q=q)
    if data is None:
        return _no_plan(view, plan_id)
    params = "&".join(f"{k}={v}" for k, v in (("action", action), ("school", school), ("page", page)) if v)
    return view.render("plan.html", json_url=f"/api/plans/{data.record.id}" + (f"?{params}" if params else ""),
                       data=data, notice=_notice(view, notice, who=session.user),
                       refresh=3 if data.pending else None)


@router.get("/plans/{plan_id}/approve")
def confirm_approve(request: Request, session: SessionDep, plan_id: PlanPath) -> Response:
    """The question before the approval: what the plan will do, in counts, and a button that says so."""
    view = Page(request, session)
    record, refusal = _decidable(view, plan_id)
    if refusal is not None:
        return refusal
    data = _plan_data(view, record.id)
    if data is None:
        return _no_plan(view, plan_id)
    try:
        actions.held_plan(service_of(request), data.record.id)
    except ActionRefused as exc:
        return _refused(view, exc)
    return view.render("approve.html", data=data)


@router.post("/plans/{plan_id}/approve")
def approve(request: Request, session: SessionDep, plan_id: PlanPath,
            csrf: Annotated[str, Form(max_length=200)] = "",
            confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    check_csrf(session, csrf)
    view = Page(request, session)
    record, refusal = _decidable(view, plan_id)
    if refusal is not None:
        return refusal
    if confirm != "yes":  # approving is asked once more, on the confirm page
        return RedirectResponse(f"/plans/{record.id}/approve", status_code=303)
    try:
        request_ = actions.approve_plan(service_of(request), record.id, by=session.user, trigger=Trigger.MANUAL)
    except NotFound:
        return _no_plan(view, plan_id)
    except ActionRefused as exc:
        return _refused(view, exc)
    return RedirectResponse(f"/plans/{request_.plan_id}?notice=approved", status_code=303)


@router.post("/plans/{plan_id}/discard")
def discard(request: Request, session: SessionDep, plan_id: PlanPath,
            csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(session, csrf)
    view = Page(request, session)
    found, refusal = _decidable(view, plan_id)
    if refusal is not None:
        return refusal
    try:
        record = actions.discard_plan(service_of(request), found.id, by=session.user)
    except NotFound:
        return _no_plan(view, plan_id)
    except ActionRefused as exc:
        return _refused(view, exc)
    return RedirectResponse(f"/plans/{record.id}?notice=discarded", status_code=303)


# -- runs -----------------------------------------------------------------------------------------------


@router.get("/runs")
def runs(request: Request, session: SessionDep, tenant: Annotated[str | None, Query(pattern=NAME)] = None,
         target: Annotated[str | None, Query(pattern=NAME)] = None, page: PageQuery = 1) -> Response:
    view = Page(request, session)
    data = service_of(request).dashboard.runs(tenant, target, page=page, viewer=session.access)
    return view.render("runs.html", json_url=f"/api/runs?page={page}", data=data, tenant=tenant, target=target)


@router.get("/runs/{run_id}")
def run(request: Request, session: SessionDep, run_id: Annotated[int, Path(ge=1, le=2**62)],
        page: PageQuery = 1) -> Response:
    view = Page(request, session)
    data = service_of(request).dashboard.run(run_id, page=page, viewer=session.access)
    return view.render("run.html", json_url=f"/api/runs/{run_id}?page={page}", data=data,
                       refresh=3 if data.run.status == "running" else None)


# -- persons ---------------------------------------------------------------------------------------------


@router.get("/persons")
def persons(request: Request, session: SessionDep,
            q: Annotated[str, Query(max_length=100, pattern=TEXT)] = "",
            tenant: Annotated[str | None, Query(pattern=NAME)] = None) -> Response:
    view = Page(request, session)
    data = service_of(request).dashboard.persons(q, tenant=tenant, viewer=session.access)
    return view.render("persons.html", json_url=f"/api/persons?q={q}" if q else "/api/persons", data=data)


@router.get("/persons/{tenant}/{key:path}")
def person(request: Request, session: SessionDep, tenant: TenantPath,
           key: Annotated[str, Path(pattern=KEY)], explain: Annotated[str, Query(max_length=3)] = "",
           group: Annotated[str, Query(max_length=100, pattern=TEXT)] = "") -> Response:
    """The person's timeline; "waarom (niet) in …?" adds ``koppel explain``'s answer (it reads the LAS, so
    only when asked)."""
    view = Page(request, session)
    data = service_of(request).dashboard.timeline(tenant, key, explain=explain == "1", group=group or None,
                                                  viewer=session.access)
    return view.render("person.html", json_url=f"/api/persons/{tenant}/{key}", data=data, group=group)


# -- data quality and configuration -----------------------------------------------------------------------


@router.get("/quality")
def quality(request: Request, session: SessionDep, tenant: Annotated[str | None, Query(pattern=NAME)] = None,
            severity: Annotated[str | None, Query(pattern=r"^(error|warning|info)$")] = None,
            page: PageQuery = 1) -> Response:
    view = Page(request, session)
    data = service_of(request).dashboard.quality(tenant, severity=severity, page=page, viewer=session.access)
    return view.render("quality.html", json_url=f"/api/quality?tenant={data.tenant}", data=data)


@router.get("/config")
def configuration(request: Request, session: SessionDep) -> Response:
    view = Page(request, session)
    return view.render("config.html", json_url="/api/config",
                       data=service_of(request).dashboard.configuration(viewer=session.access))
