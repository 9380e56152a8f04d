"""The only module of the itslearning target that does I/O: POST a SOAP request, classify the answer.

Everything else — building envelopes, parsing statuses, mapping — is pure and lives in
:mod:`~koppel.targets.itslearning.envelopes` and :mod:`~koppel.targets.itslearning.mapping`. This
client takes a ready :class:`~koppel.targets.itslearning.envelopes.SoapRequest`, posts it to the
endpoint of its service and turns the HTTP outcome into either a parsed response or one of
koppel's target errors, named by what the caller should do next:

* ``TransientTargetError`` — retry the request later with backoff: a timeout, a connection
  error, HTTP 5xx, 408 or 429, or a SOAP fault other than a WS-Security one;
* ``TargetAuthError`` — stop: HTTP 401/403 or a WS-Security fault (wrong username or password).
  Retrying would only hammer, and possibly lock, the integration account;
* ``TargetProtocolError`` — stop: the answer is not what the protocol promises (not XML, not a
  SOAP envelope), the endpoint does not exist (HTTP 404), or the TLS certificate failed
  verification.

One ``httpx.Client`` is shared by all threads: the applier calls ``apply`` from up to
``in_flight`` threads at once, and httpx's connection pool is thread-safe. TLS verification is
on unless the settings turn it off for a local test server.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from typing import Self

import httpx
import structlog

from koppel.errors import TargetAuthError, TargetProtocolError, TransientTargetError
from koppel.targets.itslearning.envelopes import (
    Service,
    SoapRequest,
    SoapResponse,
    parse_response,
    soap_fault_error,
)

__all__ = ["ImsClient"]

log = structlog.get_logger(__name__)

_RETRYABLE_STATUS = frozenset({408, 425, 429})
_USER_AGENT = "koppel-itslearning/1 (IMS Enterprise Services v1.0)"


class ImsClient:
    """Posts IMS ES SOAP requests to itslearning's endpoints. Thread-safe; close it when done."""

    def __init__(
        self,
        endpoints: Mapping[Service, str],
        *,
        timeout_s: float = 120.0,
        verify_tls: bool = True,
        max_connections: int = 10,
        transport: httpx.BaseTransport | None = None,
    ):
        missing = [service.value for service in Service if service not in endpoints]
        if missing:
            raise ValueError(f"no endpoint URL for service(s) {', '.join(missing)}")
        self.endpoints = dict(endpoints)
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            verify=verify_tls,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": _USER_AGENT},
            follow_redirects=False,
            transport=transport,
        )

    def send(self, request: SoapRequest) -> SoapResponse:
        """POST ``request`` and return the parsed SOAP response, or raise a target error."""
        url = self.endpoints[request.service]
        started = time.monotonic()
        try:
            response = self._http.post(url, content=request.envelope, headers=request.http_headers)
        except httpx.TimeoutException as exc:
            raise TransientTargetError(
                f"{request.operation.value} to {url} timed out after {self.timeout_s:g}s "
                f"(message {request.message_id})"
            ) from exc
        except httpx.TransportError as exc:
            if _certificate_failed(exc):
                raise TargetProtocolError(
                    f"the TLS certificate of {url} could not be verified ({exc}); "
                    "koppel does not talk to an unverified itslearning"
                ) from exc
            raise TransientTargetError(
                f"{request.operation.value} to {url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        elapsed_ms = round((time.monotonic() - started) * 1000)
        log.debug(
            "itslearning.http",
            operation=request.operation.value,
            message_id=request.message_id,
            items=request.item_count,
            status=response.status_code,
            elapsed_ms=elapsed_ms,
        )
        return _interpret(request, url, response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _interpret(request: SoapRequest, url: str, response: httpx.Response) -> SoapResponse:
    status = response.status_code
    what = f"{request.operation.value} to {url}"
    if status == 200:
        return parse_response(response.content)
    if status in (401, 403):
        raise TargetAuthError(
            f"itslearning refused the credentials (HTTP {status}) on {what}; "
            "check the integration's username and password in itslearning's admin UI"
        )
    fault = soap_fault_error(response.content)
    if fault is not None:
        raise fault
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise TransientTargetError(f"{what} answered HTTP {status} {response.reason_phrase}".rstrip())
    if status == 404:
        raise TargetProtocolError(
            f"{what} answered HTTP 404: there is no IMS ES endpoint there; check url and endpoints"
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        raise TargetProtocolError(
            f"{what} was redirected (HTTP {status}) to {location}; configure the final URL"
        )
    raise TargetProtocolError(f"{what} answered HTTP {status} {response.reason_phrase}".rstrip())


def _certificate_failed(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
