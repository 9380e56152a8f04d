"""The sandbox as an ASGI application: the five WCF ``.svc`` endpoints plus the ``/sandbox/`` pages.

``create_app`` opens the SQLite store at once (so the app also works under test clients that skip the
ASGI lifespan) and closes it on lifespan shutdown.

Any other path answers HTTP 404 with IIS's short "File or directory not found" page — also a POST to
the bare site root, which a client gets when its endpoint URL lost the ``.svc`` path (inference: what
IIS answers for a path that maps to no file and no handler). ``GET /`` leads a browser to ``/sandbox/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .config import SandboxConfig
from .endpoint import Sandbox, SoapEndpoint
from .operations import Endpoint
from .views import sandbox_routes

__all__ = ["NOT_FOUND_HTML", "create_app"]

NOT_FOUND_HTML = (
    "<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head><body>"
    "<div id=\"header\"><h1>Server Error</h1></div><div id=\"content\"><fieldset>"
    "<h2>404 - File or directory not found.</h2><h3>The resource you are looking for might have been "
    "removed, had its name changed, or is temporarily unavailable.</h3></fieldset></div></body></html>"
)


def _not_found(request: Request, exc: Exception | None = None) -> Response:
    return HTMLResponse(NOT_FOUND_HTML, status_code=404)


def _site_root(request: Request) -> Response:
    if request.method == "GET":
        return RedirectResponse("/sandbox/")
    return _not_found(request)


def create_app(config: SandboxConfig) -> Starlette:
    sandbox = Sandbox.open(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sandbox.close()

    routes = [
        *(
            Route(endpoint.path, SoapEndpoint(sandbox, endpoint).handle, methods=["GET", "POST"])
            for endpoint in Endpoint
        ),
        Route("/", _site_root, methods=["GET", "POST"]),
        Route("/sandbox", lambda request: RedirectResponse("/sandbox/")),
        *sandbox_routes(sandbox),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found})
    app.state.sandbox = sandbox
    return app
