"""One SOAP request, from HTTP bytes to HTTP answer, in the order a WCF service would handle it.

1. HTTP: ``Content-Type`` must be ``text/xml`` (basicHttpBinding is SOAP 1.1; anything else gets 415,
   as WCF answers), the body at most ``MAX_MESSAGE_BYTES``.
2. Envelope and WS-Security: missing or wrong credentials → ``a:InvalidSecurity`` fault.
3. Routing: the SOAPAction must name an operation this endpoint serves → else ``a:ActionNotSupported``;
   an unknown ``mustUnderstand`` header → ``s:MustUnderstand``; the body element must be that
   operation's request, and every value in it convertible → else ``a:DeserializationFailed``
   (:mod:`.contract`, which also skips and counts unknown and out-of-order elements).
4. Admission (:mod:`.capacity`): the request's operations are sampled; a full queue or the strict cap
   answers HTTP 503 at once. An admitted request waits until its operations were processed, plus the
   latency; then the injected transient fault (``before``: nothing written; ``after``: written, answer
   lost), then the site executes the request in a worker thread so the event loop keeps serving.
5. Every request is logged with its operation, item count, failed items, HTTP status and duration.

The sandbox has to read the body before it can count operations, so its 503 comes after steps 2–3;
IIS would answer before reading the body. A client sees the same: an immediate 503.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from . import snapshot
from .capacity import Admission, InFlightMeter, Refusal, Ticket
from .config import SandboxConfig
from .contract import Skipped
from .decode import Request as ImsRequest
from .decode import decode_request, item_count, operation_count, request_keys
from .encode import encode_response
from .faults import FaultInjector, InjectedFault
from .model import GroupType, Outcome
from .namespaces import PASSWORD_TEXT
from .operations import Endpoint, Operation, operation_for_action
from .site import Site, now_iso
from .soap import SoapFault, UsernameToken, fault_envelope, read_envelope
from .store import Counter, LogEntry, RequestResult, Store

__all__ = ["MAX_MESSAGE_BYTES", "SERVICE_UNAVAILABLE_HTML", "Sandbox", "SoapEndpoint"]

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# What HTTP.sys sends for IIS when an application pool's queue is full (inference: the documented
# 503 of IIS, not something itslearning publishes). Not a SOAP envelope.
SERVICE_UNAVAILABLE_HTML = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
    "<HTML><HEAD><TITLE>Service Unavailable</TITLE>\r\n"
    '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
    "<BODY><h2>Service Unavailable</h2>\r\n"
    "<hr><p>HTTP Error 503. The service is unavailable.</p>\r\n"
    "</BODY></HTML>\r\n"
)


@dataclass
class Sandbox:
    """Everything one running sandbox holds; shared by all its routes."""

    config: SandboxConfig
    store: Store
    site: Site
    faults: FaultInjector
    admission: Admission
    meter: InFlightMeter

    @classmethod
    def open(cls, config: SandboxConfig) -> Sandbox:
        store = Store(config.db_path)
        faults = FaultInjector(config)
        meter = InFlightMeter()
        sandbox = cls(
            config, store, Site(store, config, faults.doomed), faults, Admission(config, meter), meter
        )
        sandbox.ensure_site_root()
        return sandbox

    def ensure_site_root(self) -> None:
        """Give the site its root with the configured sync id, as an administrator would in the UI."""
        key = self.config.site_root
        if not key:
            return
        with self.store.transaction():
            if self.store.site_group() is None:
                now = now_iso()
                self.store.insert_group({"sync_id": key, "name": "Site", "type": GroupType.SITE.value,
                                         "parent_id": None, "extension": (), "created_at": now, "updated_at": now})

    def reset(self) -> None:
        """Empty the site, the log and the measurements, and restart the fault sequence from the seed."""
        with self.store.transaction():
            self.store.reset()
        self.ensure_site_root()
        self.faults.reset()
        self.meter.reset()
        self.admission.reset_peak()

    def stats(self) -> dict[str, Any]:
        """``/sandbox/api/stats``: what the store counts plus the operations in flight."""
        with self.store.transaction():
            counts = snapshot.stats(self.store)
        return {**counts, "operations_in_flight": self.meter.snapshot()}

    def close(self) -> None:
        self.store.close()


@dataclass
class Exchange:
    """What the request log records about one request, filled in as the request goes along."""

    endpoint: Endpoint
    started: float = field(default_factory=time.perf_counter)
    operation: Operation | None = None
    message_id: str | None = None
    items: int = 0
    operations: int = 0
    failures: int = 0
    admitted: bool = False
    skipped: Skipped = field(default_factory=Skipped)
    result: RequestResult = RequestResult.ANSWERED

    def entry(self, http_status: int) -> LogEntry:
        return LogEntry(
            at=now_iso(),
            endpoint=self.endpoint.short_name,
            operation=None if self.operation is None else self.operation.name,
            access=None if self.operation is None else self.operation.access.value,
            items=self.items,
            failures=self.failures,
            http_status=http_status,
            result=self.result,
            duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
            message_id=self.message_id,
        )


@dataclass(frozen=True)
class Call:
    operation: Operation
    request: ImsRequest
    message_id: str | None


class SoapEndpoint:
    """The ASGI endpoint behind one ``.svc`` path."""

    def __init__(self, sandbox: Sandbox, endpoint: Endpoint):
        self.sandbox = sandbox
        self.endpoint = endpoint

    async def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return self._service_page()
        exchange = Exchange(self.endpoint)
        response = await self._respond(request, exchange)
        await run_in_threadpool(self._log, exchange, response.status_code)
        return response

    async def _respond(self, request: Request, exchange: Exchange) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("text/xml"):
            exchange.result = RequestResult.HTTP_ERROR
            return PlainTextResponse(
                f"Cannot process the message because the content type '{content_type}' was not the "
                f"expected type '{XML_MEDIA_TYPE}'.",
                status_code=415,
            )
        raw = await request.body()
        if len(raw) > MAX_MESSAGE_BYTES:
            exchange.result = RequestResult.HTTP_ERROR
            return PlainTextResponse(f"The message exceeds {MAX_MESSAGE_BYTES} bytes.", status_code=413)
        try:
            call = self._accept(raw, request.headers.get("soapaction"), exchange)
        except SoapFault as fault:
            exchange.result = RequestResult.FAULT
            return _fault_response(fault)
        return await self._process(call, exchange)

    def _accept(self, raw: bytes, soap_action: str | None, exchange: Exchange) -> Call:
        """Steps 2 and 3: a request that is authenticated, routed and decoded, or a SoapFault."""
        envelope = read_envelope(raw)
        exchange.message_id = envelope.message_id
        self._authenticate(envelope.token)
        operation = operation_for_action(soap_action)
        if operation is None or not self.endpoint.serves(operation):
            raise SoapFault.action_not_supported((soap_action or "").strip().strip('"'))
        exchange.operation = operation
        if envelope.unknown_required_headers:
            raise SoapFault.not_understood(envelope.unknown_required_headers[0])
        decoded = decode_request(operation, envelope.body, self.sandbox.config.extra_institution_roles)
        exchange.skipped = decoded.skipped
        exchange.items = item_count(decoded.request)
        exchange.operations = operation_count(decoded.request)
        return Call(operation, decoded.request, envelope.message_id)

    def _authenticate(self, token: UsernameToken | None) -> None:
        config = self.sandbox.config
        if (
            token is None
            or token.password_type not in (None, PASSWORD_TEXT)
            or not _equal(token.username, config.username)
            or not _equal(token.password, config.password)
        ):
            raise SoapFault.invalid_security()

    async def _process(self, call: Call, exchange: Exchange) -> Response:
        """Step 4."""
        loop = asyncio.get_running_loop()
        admission = self.sandbox.admission
        ticket = admission.admit(exchange.operations, loop.time())
        if isinstance(ticket, Refusal):
            exchange.result = RequestResult.THROTTLED
            return self._service_unavailable()
        exchange.admitted = True
        try:
            return await self._run(call, exchange, ticket, loop)
        finally:
            admission.release(ticket)

    async def _run(
        self, call: Call, exchange: Exchange, ticket: Ticket, loop: asyncio.AbstractEventLoop
    ) -> Response:
        wait = ticket.processed_at - loop.time() + self.sandbox.config.latency_ms / 1000
        if wait > 0:
            await asyncio.sleep(wait)
        poison = self.sandbox.config.poison_keys
        if poison and set(poison).intersection(request_keys(call.request)):
            exchange.result = RequestResult.INJECTED_BEFORE
            return _fault_response(SoapFault.internal_error())
        fault = self.sandbox.faults.draw()
        if fault is InjectedFault.BEFORE:
            exchange.result = RequestResult.INJECTED_BEFORE
            return _fault_response(SoapFault.internal_error())
        outcome = await run_in_threadpool(self.sandbox.site.execute, call.operation, call.request)
        if fault is InjectedFault.AFTER:
            exchange.result = RequestResult.INJECTED_AFTER
            return _fault_response(SoapFault.internal_error())
        return self._answer(call, outcome, exchange)

    def _answer(self, call: Call, outcome: Outcome, exchange: Exchange) -> Response:
        exchange.failures = sum(1 for status in outcome.statuses if not status.ok)
        body = encode_response(call.operation, outcome, call.message_id, datetime.now(UTC))
        return Response(body, status_code=200, media_type=XML_MEDIA_TYPE)

    def _service_unavailable(self) -> Response:
        retry_after = self.sandbox.config.retry_after_s
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return Response(
            SERVICE_UNAVAILABLE_HTML,
            status_code=503,
            media_type="text/html; charset=us-ascii",
            headers=headers,
        )

    def _log(self, exchange: Exchange, http_status: int) -> None:
        store, config = self.sandbox.store, self.sandbox.config
        with store.transaction():
            store.requests.log(exchange.entry(http_status))
            store.counters.raise_to(Counter.MAX_IN_FLIGHT_SEEN, self.sandbox.admission.peak_requests)
            if exchange.result in (RequestResult.INJECTED_BEFORE, RequestResult.INJECTED_AFTER):
                store.counters.add(Counter.FAULTS_INJECTED, 1)
            if http_status == 503:
                store.counters.add(Counter.HTTP_503, 1)
            if exchange.admitted and exchange.operations > config.max_batch:
                store.counters.add(Counter.BATCHES_OVER_LIMIT, 1)
            if exchange.skipped.unknown:
                store.counters.add(Counter.SKIPPED_UNKNOWN, exchange.skipped.unknown)
            if exchange.skipped.out_of_order:
                store.counters.add(Counter.SKIPPED_OUT_OF_ORDER, exchange.skipped.out_of_order)

    def _service_page(self) -> Response:
        """What a browser sees at the ``.svc`` URL (WCF shows a service help page there)."""
        return HTMLResponse(
            "<!doctype html><title>itslearning sandbox</title>"
            f"<h1>{self.endpoint.value[1]}</h1>"
            "<p>koppel's itslearning sandbox: an emulator of itslearning's IMS Enterprise Services v1.0 "
            "(SOAP 1.1). POST SOAP requests here. The 2017 WSDLs of the person, extended person and "
            "membership services describe what it reads. See <a href='/sandbox/'>/sandbox/</a>.</p>"
        )


def _equal(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _fault_response(fault: SoapFault) -> Response:
    return Response(fault_envelope(fault), status_code=fault.http_status, media_type=XML_MEDIA_TYPE)
