"""The sandbox as an ASGI application: the five WCF ``.svc`` endpoints plus the ``/sandbox/`` pages.

``create_app`` opens the SQLite store at once (so the app also works under test clients that skip the
ASGI lifespan) and closes it on lifespan shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from .config import SandboxConfig
from .endpoint import Sandbox, SoapEndpoint
from .operations import Endpoint
from .views import sandbox_routes

__all__ = ["create_app"]


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
        Route("/", lambda request: RedirectResponse("/sandbox/")),
        Route("/sandbox", lambda request: RedirectResponse("/sandbox/")),
        *sandbox_routes(sandbox),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
