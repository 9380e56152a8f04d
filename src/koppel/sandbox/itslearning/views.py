"""The sandbox's own pages and JSON under ``/sandbox/`` — none of it exists at itslearning.

Read-only HTML (server-rendered, Jinja2 with autoescaping, no JavaScript): the hierarchy tree, users,
a group's memberships, the trash can, orphaned courses and the request log. JSON for tests and tools:
``GET /sandbox/api/stats`` and ``GET /sandbox/api/objects``, plus the sandbox-only admin actions
``POST /sandbox/api/manual/person``, ``POST /sandbox/api/manual/edit`` and ``POST /sandbox/api/reset``,
whose answers carry the header ``X-Sandbox-Only: true``.

Handlers that only read are plain functions, which Starlette runs in its thread pool: the store's lock
may be held by a SOAP request's worker thread, and waiting for it must not stall the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from . import manual, snapshot
from .endpoint import Sandbox
from .model import Person
from .operations import Endpoint

__all__ = ["sandbox_routes"]

SANDBOX_ONLY = {"X-Sandbox-Only": "true"}
RECENT_REQUESTS = 100

_templates = Environment(
    loader=PackageLoader("koppel.sandbox.itslearning", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def sandbox_routes(sandbox: Sandbox) -> list[Route]:
    pages = _Pages(sandbox)
    api = _Api(sandbox)
    return [
        Route("/sandbox/", pages.overview),
        Route("/sandbox/users", pages.users),
        Route("/sandbox/trash", pages.trash),
        Route("/sandbox/groups/{group_id:int}", pages.group),
        Route("/sandbox/requests", pages.requests),
        Route("/sandbox/api/stats", api.stats),
        Route("/sandbox/api/objects", api.objects),
        Route("/sandbox/api/manual/person", api.manual_person, methods=["POST"]),
        Route("/sandbox/api/manual/edit", api.manual_edit, methods=["POST"]),
        Route("/sandbox/api/reset", api.reset, methods=["POST"]),
    ]


class _Pages:
    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def _render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        page = _templates.get_template(template).render(
            endpoints=[(endpoint.short_name, endpoint.path) for endpoint in Endpoint], **values
        )
        return HTMLResponse(page, status_code=status_code)

    def overview(self, request: Request) -> Response:
        store = self.sandbox.store
        stats = self.sandbox.stats()
        with store.transaction():
            tree = snapshot.hierarchy(store)
            courses = [snapshot.course_json(course, store) for course in store.courses()]
        orphaned = [course for course in courses if course["orphaned"]]
        return self._render(
            "overview.html", stats=stats, tree=tree, orphaned=orphaned, config=self.sandbox.config
        )

    def users(self, request: Request) -> Response:
        with self.sandbox.store.transaction():
            persons = self.sandbox.store.persons(include_trashed=True)
        return self._render("users.html", persons=persons, title="Users")

    def trash(self, request: Request) -> Response:
        with self.sandbox.store.transaction():
            persons = self.sandbox.store.trashed_persons()
        return self._render("users.html", persons=persons, title="Trash can")

    def group(self, request: Request) -> Response:
        store = self.sandbox.store
        with store.transaction():
            group = store.group_by_id(request.path_params["group_id"])
            if group is None:
                return self._render("missing.html", status_code=404, what="group")
            memberships = store.memberships_in_group(group.id, include_hidden=True)
            people: dict[int, Person | None] = {
                m.person_id: store.person_by_id(m.person_id) for m in memberships
            }
            parent = None if group.parent_id is None else store.group_by_id(group.parent_id)
        return self._render("group.html", group=group, parent=parent, memberships=memberships, people=people)

    def requests(self, request: Request) -> Response:
        store = self.sandbox.store
        stats = self.sandbox.stats()
        with store.transaction():
            summary = store.requests.summary()
            recent = store.requests.recent(RECENT_REQUESTS)
        return self._render("requests.html", summary=summary, recent=recent, stats=stats)


class _Api:
    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def stats(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.stats())

    def objects(self, request: Request) -> Response:
        with self.sandbox.store.transaction():
            return JSONResponse(snapshot.objects(self.sandbox.store))

    async def manual_person(self, request: Request) -> Response:
        return await self._manual(request, self._create_person)

    async def manual_edit(self, request: Request) -> Response:
        return await self._manual(request, self._edit)

    def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse({"reset": True}, headers=SANDBOX_ONLY)

    def _create_person(self, body: dict[str, Any]) -> dict[str, Any]:
        return snapshot.person_json(manual.create_person(self.sandbox.store, body))

    def _edit(self, body: dict[str, Any]) -> dict[str, Any]:
        edited = manual.edit(self.sandbox.store, body)
        return snapshot.person_json(edited) if isinstance(edited, Person) else snapshot.group_json(edited)

    async def _manual(self, request: Request, action: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse(
                {"error": "the body must be a JSON object"}, status_code=400, headers=SANDBOX_ONLY
            )
        try:
            result = await run_in_threadpool(self._in_transaction, action, body)
        except manual.ManualError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status, headers=SANDBOX_ONLY)
        return JSONResponse(result, headers=SANDBOX_ONLY)

    def _in_transaction(
        self, action: Callable[[dict[str, Any]], dict[str, Any]], body: dict[str, Any]
    ) -> dict[str, Any]:
        with self.sandbox.store.transaction():
            return action(body)
