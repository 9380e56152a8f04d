"""The sandbox as an ASGI application: Somtoday's token endpoint, the Connect API, sandbox-only routes.

Routes (the Connect paths as in the spec, below ``/rest/v1``)::

    POST /oauth2/token?organisation={instellingUUID}        client credentials → bearer token
    GET  /rest/v1/connect/instelling                          the instelling (no token needed)
    GET  /rest/v1/connect/vestiging                           the vestigingen opened for the client
    GET  /rest/v1/connect/vestiging/{v}/leerling[/{uuid}]     offset, amount (≤ 200), peilschooljaar,
    GET  /rest/v1/connect/vestiging/{v}/medewerker[/{uuid}]   uuid=…, veldpermissies=true
    GET  /rest/v1/connect/vestiging/{v}/lesgroep/[{uuid}]     (+ stamgroep=true|false)
    GET  /rest/v1/connect/vestiging/{v}/stamgroep/[{uuid}]
    GET  /sandbox/api/stats                                   counters, for tests and the curious
    POST /sandbox/api/reset                                   counters, tokens and the fault sequence afresh

Every API request first waits ``latency_ms``, then draws its fault; a request without a valid
token, or for a vestiging of another instelling, gets 401 as the spec describes ("Geen toegang tot
Vestiging …"). Bad parameters get 400 with Somtoday's ``Error`` body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from koppel.generator import LATEST, Bestuur, generate

from .config import HIDEABLE_FIELDS, SandboxConfig
from .documents import Identities, build_documents
from .faults import Fault, FaultInjector
from .store import Store

__all__ = ["API_PREFIX", "Sandbox", "create_app"]

API_PREFIX = "/rest/v1"
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class _ListKind:
    entity: str
    key: str


_KINDS = {
    "leerling": _ListKind("leerling", "leerlingen"),
    "medewerker": _ListKind("medewerker", "medewerkers"),
    "lesgroep": _ListKind("lesgroep", "lesgroepen"),
    "stamgroep": _ListKind("stamgroep", "stamgroepen"),
}


class _Refusal(Exception):
    """Answer with this status and Somtoday ``Error`` body instead of data."""

    def __init__(self, status: int, problem: str, clarification: str | None = None) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem
        self.clarification = clarification

    def response(self) -> Response:
        body = {"code": self.status, "problem": self.problem}
        if self.clarification:
            body["clarification"] = self.clarification
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if self.status == 401 else None
        return Response(orjson.dumps(body), status_code=self.status, media_type=_JSON, headers=headers)


class Sandbox:
    """The state behind the routes: the store, the faults, the counters and the clock."""

    def __init__(
        self,
        config: SandboxConfig,
        current: Bestuur,
        following: Bestuur | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = Store(config.db_path)
        self.ids = Identities(current.seed)
        instelling, served = build_documents(current, following)
        self.store.load(instelling, served)
        self.instelling_uuid: str = instelling["uuid"]
        self.peilschooljaren = frozenset(served)
        self.faults = FaultInjector(config)
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()

    @classmethod
    def open(
        cls, config: SandboxConfig, *, current: Bestuur | None = None, following: Bestuur | None = None
    ) -> Sandbox:
        """Serve ``current`` (and ``following`` for VOLGEND), or the bestuur the config generates."""
        if current is None:
            year = config.current_year
            current = generate(students=config.students, schools=config.schools, year=year, seed=config.seed)
            if following is None and year < LATEST:
                following = generate(
                    students=config.students, schools=config.schools, year=year.next(), seed=config.seed
                )
        return cls(config, current, following)

    def count(self, *names: str) -> None:
        with self._stats_lock:
            self._stats.update(names)

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            counters = dict(sorted(self._stats.items()))
        return {"instelling": self.instelling_uuid, "counters": counters, "records": self.store.counts()}

    def reset(self) -> None:
        with self._stats_lock:
            self._stats.clear()
        self.store.forget_tokens()
        self.faults.reset()

    async def wait(self) -> None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)

    # -- tokens -------------------------------------------------------------------------------

    def issue_token(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        self.store.add_token(token, self.instelling_uuid, self.clock() + self.config.token_ttl_s)
        lifetime = self.config.advertised_ttl_s or self.config.token_ttl_s
        self.count("tokens.issued")
        return {
            "access_token": token,
            "token_type": "Bearer",
            "scope": "connect",
            "expires_in": int(lifetime) if float(lifetime).is_integer() else lifetime,
        }

    def organisation_of(self, request: Request) -> str:
        """The instelling the request's bearer token was issued for, or a 401 refusal."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.count("unauthorized.no_token")
            raise _Refusal(401, "Unauthorized", "Geen geldig token.")
        row = self.store.token(token.strip())
        if row is None:
            self.count("unauthorized.unknown_token")
            raise _Refusal(401, "Unauthorized", "Geen geldig token.")
        if self.clock() >= row.expires_at:
            self.count("unauthorized.expired_token")
            raise _Refusal(401, "Unauthorized", "Token verlopen.")
        return row.organisation


# -- token endpoint ---------------------------------------------------------------------------


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, client_secret = base64.b64decode(encoded).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, client_secret


def token_route(sandbox: Sandbox) -> Callable[[Request], Awaitable[Response]]:
    async def token(request: Request) -> Response:
        await sandbox.wait()
        sandbox.count("requests", "requests.token")
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        given = _basic_credentials(request) or (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        config = sandbox.config
        if not (
            secrets.compare_digest(given[0], config.client_id)
            and secrets.compare_digest(given[1], config.client_secret)
        ):
            sandbox.count("tokens.refused")
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        organisation = request.query_params.get("organisation", "")
        if not organisation:
            return _oauth_error(
                400, "invalid_request", "query parameter organisation (instelling UUID) is required"
            )
        if organisation.lower() != sandbox.instelling_uuid:
            sandbox.count("tokens.refused")
            return _oauth_error(400, "invalid_request", f"onbekende organisatie {organisation}")
        return JSONResponse(sandbox.issue_token())

    return token


# -- Connect API ------------------------------------------------------------------------------


def _integer(request: Request, name: str, *, default: int | None, low: int, high: int | None) -> int:
    text = request.query_params.get(name)
    if text is None:
        if default is None:
            raise _Refusal(400, f"Parameter {name} is verplicht")
        return default
    try:
        value = int(text)
    except ValueError:
        raise _Refusal(400, f"Parameter {name} moet een geheel getal zijn", f"ontvangen: {text!r}") from None
    if value < low or (high is not None and value > high):
        limit = f"tussen {low} en {high}" if high is not None else f"minimaal {low}"
        raise _Refusal(400, f"Parameter {name} moet {limit} zijn", f"ontvangen: {value}")
    return value


def _boolean(request: Request, name: str) -> bool | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    if text.lower() not in ("true", "false"):
        raise _Refusal(400, f"Parameter {name} moet true of false zijn", f"ontvangen: {text!r}")
    return text.lower() == "true"


def _peil(request: Request, served: frozenset[str]) -> str | None:
    """HUIDIG when absent; None when VOLGEND is asked but the sandbox has no next year."""
    text = request.query_params.get("peilschooljaar", "HUIDIG")
    if text not in ("HUIDIG", "VOLGEND"):
        raise _Refusal(400, "Parameter peilschooljaar moet HUIDIG of VOLGEND zijn", f"ontvangen: {text!r}")
    return text if text in served else None


def _strip(body: bytes, entity: str, hidden: dict[str, frozenset[str]]) -> bytes:
    """Leave out the fields the school did not grant, as Somtoday does."""
    top, nested = hidden.get(entity, frozenset()), hidden.get("plaatsing", frozenset())
    if not top and not (entity == "leerling" and nested):
        return body
    record = orjson.loads(body)
    for name in top:
        record.pop(name, None)
    if entity == "leerling" and nested:
        for plaatsing in record.get("plaatsingen", []):
            for name in nested:
                plaatsing.pop(name, None)
    return orjson.dumps(record)


def _veldpermissies(entity: str, hidden: dict[str, frozenset[str]]) -> dict[str, Any]:
    granted: dict[str, Any] = {f: f not in hidden.get(entity, ()) for f in sorted(HIDEABLE_FIELDS[entity])}
    if entity == "leerling":
        granted["plaatsingVeldpermissies"] = {
            f: f not in hidden.get("plaatsing", ()) for f in sorted(HIDEABLE_FIELDS["plaatsing"])
        }
    return granted


def _response(kind: _ListKind, bodies: list[bytes], sandbox: Sandbox, with_permissions: bool) -> bytes:
    hidden = dict(sandbox.config.hidden_fields)
    items = b",".join(_strip(body, kind.entity, hidden) for body in bodies)
    tail = b""
    if with_permissions:
        tail = b',"veldpermissies":' + orjson.dumps(_veldpermissies(kind.entity, hidden))
    return b'{"' + kind.key.encode() + b'":[' + items + b"]" + tail + b"}"


def api_route(
    sandbox: Sandbox, handler: Callable[[Request], bytes], name: str
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler in what every Connect request goes through: latency, faults, token, errors."""

    async def endpoint(request: Request) -> Response:
        await sandbox.wait()
        sandbox.count("requests", f"requests.{name}")
        fault = sandbox.faults.draw()
        try:
            if fault is Fault.SERVER_ERROR:
                sandbox.count("faults.server_error")
                raise _Refusal(500, "Interne serverfout", "ingestoken door de sandbox (fail_rate)")
            organisation = sandbox.organisation_of(request)
            if fault is Fault.UNAUTHORIZED:
                sandbox.count("unauthorized.injected")
                raise _Refusal(401, "Unauthorized", "Geen toegang (ingestoken door de sandbox)")
            vestiging = request.path_params.get("vestiging")
            if vestiging is not None and not (
                organisation == sandbox.instelling_uuid and sandbox.store.has_vestiging(vestiging)
            ):
                sandbox.count("unauthorized.vestiging")
                raise _Refusal(
                    401,
                    "Unauthorized",
                    "Geen toegang tot Vestiging of toegang verloopt voor begin van peilschooljaar.",
                )
            body = handler(request)
        except _Refusal as refusal:
            return refusal.response()
        if fault is Fault.MALFORMED:
            sandbox.count("faults.malformed")
            body = body[: len(body) // 2]
        return Response(body, media_type=_JSON)

    return endpoint


def list_handler(sandbox: Sandbox, kind: _ListKind) -> Callable[[Request], bytes]:
    def handle(request: Request) -> bytes:
        amount = _integer(request, "amount", default=None, low=1, high=sandbox.config.max_amount)
        offset = _integer(request, "offset", default=0, low=0, high=None)
        peil = _peil(request, sandbox.peilschooljaren)
        linked = _boolean(request, "stamgroep") if kind.entity == "lesgroep" else None
        with_permissions = bool(_boolean(request, "veldpermissies"))
        sandbox.count(f"amount.{amount}")
        bodies = (
            []
            if peil is None
            else sandbox.store.page(
                peil,
                request.path_params["vestiging"],
                kind.entity,
                offset=offset,
                amount=amount,
                uuids=request.query_params.getlist("uuid"),
                linked=linked,
            )
        )
        return _response(kind, bodies, sandbox, with_permissions)

    return handle


def record_handler(sandbox: Sandbox, kind: _ListKind) -> Callable[[Request], bytes]:
    def handle(request: Request) -> bytes:
        peil = _peil(request, sandbox.peilschooljaren)
        body = (
            None
            if peil is None
            else sandbox.store.record(
                peil, request.path_params["vestiging"], kind.entity, request.path_params["uuid"]
            )
        )
        if body is None:
            raise _Refusal(404, "Not Found", f"{kind.entity} {request.path_params['uuid']} niet gevonden")
        return _response(kind, [body], sandbox, bool(_boolean(request, "veldpermissies")))

    return handle


def vestigingen_handler(sandbox: Sandbox) -> Callable[[Request], bytes]:
    def handle(request: Request) -> bytes:
        bodies = sandbox.store.vestigingen("HUIDIG", request.query_params.getlist("uuid"))
        return b'{"vestigingen":[' + b",".join(bodies) + b"]}"

    return handle


def instelling_route(sandbox: Sandbox) -> Callable[[Request], Awaitable[Response]]:
    async def instelling(request: Request) -> Response:
        await sandbox.wait()
        sandbox.count("requests", "requests.instelling")
        record = orjson.loads(sandbox.store.instelling())
        brin, naam = request.query_params.get("brin"), request.query_params.get("naam")
        vestigingen = [orjson.loads(b) for b in sandbox.store.vestigingen("HUIDIG")]
        matches = (
            brin is None or any(b == brin or b.startswith(brin) for v in vestigingen for b in v["brins"])
        ) and (
            naam is None
            or naam.lower() in record["naam"].lower()
            or any(naam.lower() in v["naam"].lower() for v in vestigingen)
        )
        return Response(orjson.dumps({"instellingen": [record] if matches else []}), media_type=_JSON)

    return instelling


# -- sandbox-only -----------------------------------------------------------------------------


def sandbox_routes(sandbox: Sandbox) -> list[Route]:
    async def stats(request: Request) -> Response:
        return JSONResponse(sandbox.stats())

    async def reset(request: Request) -> Response:
        sandbox.reset()
        return JSONResponse({"reset": True})

    async def index(request: Request) -> Response:
        return JSONResponse(
            {
                "sandbox": "Somtoday Connect emulator (not Somtoday)",
                "token_url": str(request.url_for("token")),
                "api_url": str(request.base_url).rstrip("/") + API_PREFIX,
                "instelling": sandbox.instelling_uuid,
                "school_year": str(sandbox.config.current_year),
            }
        )

    return [
        Route("/", index, methods=["GET"]),
        Route("/sandbox/api/stats", stats, methods=["GET"]),
        Route("/sandbox/api/reset", reset, methods=["POST"]),
    ]


def create_app(
    config: SandboxConfig, *, current: Bestuur | None = None, following: Bestuur | None = None
) -> Starlette:
    """The ASGI app; ``current``/``following`` replace the generated bestuur (for tests with special data)."""
    sandbox = Sandbox.open(config, current=current, following=following)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sandbox.store.close()

    base = f"{API_PREFIX}/connect/vestiging/{{vestiging}}"
    routes = [
        Route("/oauth2/token", token_route(sandbox), methods=["POST"], name="token"),
        Route(f"{API_PREFIX}/connect/instelling", instelling_route(sandbox), methods=["GET"]),
        Route(
            f"{API_PREFIX}/connect/vestiging",
            api_route(sandbox, vestigingen_handler(sandbox), "vestiging"),
            methods=["GET"],
        ),
    ]
    for entity, kind in _KINDS.items():
        slash = "/" if entity in ("lesgroep", "stamgroep") else ""  # as the spec writes the paths
        routes.append(
            Route(
                f"{base}/{entity}{slash}",
                api_route(sandbox, list_handler(sandbox, kind), entity),
                methods=["GET"],
            )
        )
        routes.append(
            Route(
                f"{base}/{entity}/{{uuid}}",
                api_route(sandbox, record_handler(sandbox, kind), entity),
                methods=["GET"],
            )
        )
    routes.extend(sandbox_routes(sandbox))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
