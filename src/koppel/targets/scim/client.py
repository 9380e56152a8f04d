"""The only module of the SCIM target that does I/O: send one HTTP request, classify the answer.

Answers that concern one object come back to the caller as a :class:`ScimAnswer` (201, 200, 204, and
the per-object refusals 400, 404, 409, 412); answers that concern the whole service raise koppel's
target errors, named by what the caller should do next:

* ``TransientTargetError`` — a connection error, a timeout, HTTP 5xx or 408; with ``overload=True`` and
  the server's ``Retry-After`` (seconds or an HTTP date) for 429 and 503, so the applier sends less at a
  time and waits as long as the server asked;
* ``RequestTooLarge`` — HTTP 413: the same objects fit in smaller requests;
* ``TargetAuthError`` — HTTP 401/403: the bearer token was refused; retrying would not help;
* ``TargetConfigError`` — a redirect, an unverifiable TLS certificate, a 404 on the service itself;
* ``TargetProtocolError`` — an answer that is not SCIM JSON.

Reads (GET) change nothing, so they are repeated after a transient failure (``read_retry``); writes are
sent once — the applier decides about those, within its operations budget. One ``httpx.Client`` is shared
by every thread; TLS verification is on unless the settings turn it off for a local test server. The
token is sent as ``Authorization: Bearer …`` and never logged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
import orjson
import structlog

from koppel.errors import (
    RequestTooLarge,
    TargetAuthError,
    TargetConfigError,
    TargetProtocolError,
    TransientTargetError,
)
from koppel.http import MAX_RETRY_AFTER_S, certificate_failed, retry_after_seconds
from koppel.retry import RetryPolicy, call_with_retries

__all__ = ["MAX_RETRY_AFTER_S", "ScimAnswer", "ScimClient", "retry_after_seconds"]

log = structlog.get_logger(__name__)

SCIM_JSON = "application/scim+json"
_USER_AGENT = "koppel-scim/1 (SCIM 2.0)"
_PER_OBJECT = frozenset({200, 201, 204, 400, 404, 409, 412})
_BUSY = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class ScimAnswer:
    """An answer about one object: its status, its JSON body (None for 204) and its ETag."""

    status: int
    body: Mapping[str, Any] | None = None
    etag: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        """The SCIM error's ``detail`` (and ``scimType``), for messages."""
        body = self.body or {}
        detail = str(body.get("detail") or "").strip()
        scim_type = body.get("scimType")
        text = f"HTTP {self.status}" + (f" {scim_type}" if scim_type else "")
        return f"{text}: {detail}" if detail else text


class ScimClient:
    """Sends SCIM requests to one service provider. Thread-safe; close it when done."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0, verify_tls: bool = True,
                 max_connections: int = 16, transport: httpx.BaseTransport | None = None,
                 read_retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.read_retry = read_retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random()
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout_s),
            verify=verify_tls,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": _USER_AGENT, "Accept": SCIM_JSON, "Authorization": f"Bearer {token}"},
            follow_redirects=False,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"ScimClient({self.base_url!r})"

    # -- requests -------------------------------------------------------------------------------

    def get(self, path: str, *, params: Mapping[str, Any] | None = None,
            retry: RetryPolicy | None = None) -> ScimAnswer:
        """A read, repeated after a transient failure."""
        return call_with_retries(lambda: self.send("GET", path, params=params), retry or self.read_retry,
                                 what=f"GET {path}", rng=self._rng, sleep=self._sleep)

    def send(self, method: str, path: str, *, body: Mapping[str, Any] | None = None,
             params: Mapping[str, Any] | None = None, if_match: str | None = None) -> ScimAnswer:
        """Send one request (once) and return the answer about its object, or raise a target error."""
        headers = {"Content-Type": SCIM_JSON} if body is not None else {}
        if if_match:
            headers["If-Match"] = if_match
        what = f"{method} {self.base_url}/{path.lstrip('/')}"
        started = time.monotonic()
        try:
            response = self._http.request(
                method, path.lstrip("/"), params=dict(params) if params else None, headers=headers,
                content=orjson.dumps(body) if body is not None else None)
        except httpx.TimeoutException as exc:
            raise TransientTargetError(f"{what} timed out after {self.timeout_s:g}s", overload=True,
                                       unanswered=True) from exc
        except httpx.TransportError as exc:
            if certificate_failed(exc):
                raise TargetConfigError(
                    f"the TLS certificate of {self.base_url} could not be verified ({exc}); koppel does not send a "
                    "token to an unverified server") from exc
            raise TransientTargetError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        log.debug("scim.http", method=method, path=path, status=response.status_code,
                  elapsed_ms=round((time.monotonic() - started) * 1000))
        return _interpret(what, response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _interpret(what: str, response: httpx.Response) -> ScimAnswer:
    status = response.status_code
    if status in (401, 403):
        raise TargetAuthError(
            f"{what} answered HTTP {status}: the SCIM server refused the bearer token; check the token the "
            "application issued (token_env / token_file)")
    if status in _BUSY:
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        raise TransientTargetError(
            f"{what} answered HTTP {status} {response.reason_phrase}".rstrip() + ": the SCIM server is busy"
            + (f" (Retry-After {retry_after:g} s)" if retry_after is not None else ""),
            overload=True, retry_after=retry_after)
    if status == 413:
        raise RequestTooLarge(f"{what} answered HTTP 413: the request is too large")
    if 300 <= status < 400:
        raise TargetConfigError(f"{what} was redirected (HTTP {status}) to {response.headers.get('location', '?')}; "
                                "configure the final SCIM base URL")
    if status >= 500 or status == 408:
        raise TransientTargetError(f"{what} answered HTTP {status} {response.reason_phrase}".rstrip())
    if status not in _PER_OBJECT:
        raise TargetProtocolError(f"{what} answered HTTP {status} {response.reason_phrase}".rstrip())
    body: Mapping[str, Any] | None = None
    if response.content and status != 204:
        try:
            parsed = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            if status == 404:  # not a SCIM answer: nothing serves SCIM there
                raise TargetConfigError(f"{what} answered HTTP 404 without SCIM JSON: is the SCIM base URL right?") \
                    from None
            raise TargetProtocolError(f"{what} answered HTTP {status} with a body that is not JSON") from None
        if not isinstance(parsed, dict):
            raise TargetProtocolError(f"{what} answered HTTP {status} with JSON that is not an object")
        body = parsed
    return ScimAnswer(status, body, response.headers.get("etag"), dict(response.headers))



