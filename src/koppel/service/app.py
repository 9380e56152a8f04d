"""The web application of `koppel serve`: dashboard pages, the JSON API, security headers, errors.

FastAPI, because the API's OpenAPI description then follows from the same typed models the pages
render; the pages themselves are plain server-rendered Jinja2 with no script at all, which is what
lets the Content-Security-Policy forbid scripts outright.

The scheduler runs in the application's lifespan: it starts with the server and, when the server
stops (SIGTERM), is shut down so running applies finish their batches before the process ends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koppel import __version__
from koppel.service import api, ops, pages
from koppel.service.actions import ActionRefused
from koppel.service.dashboard import NotFound
from koppel.service.i18n import CATALOGUE
from koppel.service.runtime import Service
from koppel.service.web import SESSION_COOKIE, CsrfFailed, LoginRequired, Page, api_actor, service_of

__all__ = ["SECURITY_HEADERS", "create_app"]

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds the security headers to every response; pages and API answers are never cached."""

    def __init__(self, app: ASGIApp, *, hsts: bool):
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(service: Service, *, run_scheduler: bool = True) -> FastAPI:
    """The ASGI app for ``service``; with ``run_scheduler`` the scheduler runs in its lifespan."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_scheduler:
            service.scheduler.start_thread()
        try:
            yield
        finally:
            if run_scheduler:
                await asyncio.to_thread(service.scheduler.shutdown)

    app = FastAPI(title="koppel", version=__version__, summary="The koppel dashboard's JSON API.",
                  openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(SecurityHeaders, hsts=(service.settings.base_url or "").startswith("https://"))
    app.mount("/static", StaticFiles(directory=str(resources.files("koppel.service") / "static")), name="static")
    app.include_router(ops.ops_router(service))  # /healthz, /readyz, /metrics: no login (see ops.py)
    app.include_router(pages.router)
    app.include_router(api.router)
    _openapi_route(app)
    _error_handlers(app)
    return app


def _openapi_route(app: FastAPI) -> None:
    def schema() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                             routes=app.routes, servers=[{"url": "/"}])
        return app.openapi_schema

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(actor: Annotated[str, Depends(api_actor)]) -> JSONResponse:
        return JSONResponse(schema())


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _login_redirect(next_path: str) -> Response:
    return RedirectResponse(f"/login?next={quote(next_path, safe='/')}", status_code=303)


def _error_page(request: Request, status: int, message: str, *, login_first: bool = False) -> Response:
    """An error page; with ``login_first`` a visitor without a session is sent to the login page instead."""
    session = service_of(request).accounts.session(request.cookies.get(SESSION_COOKIE))
    if session is None and login_first:
        return _login_redirect(request.url.path)
    return Page(request, session).render("error.html", status_code=status, message=message)


# The dashboard's NotFound messages (English, for the API) and the catalogue key that says them on a page.
_NOT_FOUND: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), key) for p, key in (
    (r"^no plan '?(?P<id>[^']*)'?$", "error.no_plan"),
    (r"^no run (?P<id>\S+)$", "error.no_run"),
    (r"^no tenant '?(?P<id>[^']*)'?$", "error.no_tenant"),
    (r"^no target '?(?P<id>[^']*)'? in tenant '?(?P<tenant>[^']*)'?$", "error.no_target"),
    (r"^no target (?P<tenant>[^/]+)/(?P<id>\S+)$", "error.no_target"),
    (r"^no person '?(?P<id>[^']*)'? in tenant '?(?P<tenant>[^']*)'?$", "error.no_person"),
    (r"^no request (?P<id>\S+)$", "error.no_request"),
))


def _not_found_text(request: Request, message: str) -> str:
    tr = Page(request, None).tr
    for pattern, key in _NOT_FOUND:
        found = pattern.match(message)
        if found:
            return tr(key, **found.groupdict())
    return tr("error.not_found")


def _refused_text(request: Request, exc: ActionRefused) -> str:
    """The refusal in the page's language: its catalogue key when it has one, else its reason, translated
    where the reason is one the dashboard knows."""
    tr = Page(request, None).tr
    key = getattr(exc, "key", None)
    values = getattr(exc, "values", None) or {}
    if isinstance(key, str) and key in CATALOGUE:
        try:
            return tr(key, **{k: tr.say(str(v)) for k, v in values.items()})
        except (KeyError, IndexError):
            pass
    return tr("error.refused", why=tr.say(str(exc)))


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return _login_redirect(exc.next_path)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return _error_page(request, 403, Page(request, None).tr("error.csrf"))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return _error_page(request, 404, _not_found_text(request, str(exc)))

    @app.exception_handler(ActionRefused)
    async def refused(request: Request, exc: ActionRefused) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=409)
        return _error_page(request, 409, _refused_text(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request) or exc.status_code == 401:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        tr = Page(request, None).tr
        if exc.status_code == 404:  # an unknown page is a login redirect before it is a 404
            return _error_page(request, 404, tr("error.not_found"), login_first=True)
        return _error_page(request, exc.status_code, tr("error.status", status=exc.status_code), login_first=True)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        # A page address that cannot name anything (a plan id with letters past f, a run number with
        # letters) is a page that does not exist: a 404 in the page's language, not a validation dump.
        in_path = any(e.get("loc", ("",))[0] == "path" for e in exc.errors())
        message = Page(request, None).tr("error.invalid")
        return _error_page(request, 404 if in_path else 422, message, login_first=True)
