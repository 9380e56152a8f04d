"""The only module of the itslearning target that does I/O: POST a SOAP request, classify the answer.

Everything else — building envelopes, parsing statuses, mapping — is pure and lives in
:mod:`~koppel.targets.itslearning.requests`, :mod:`~koppel.targets.itslearning.responses` and
:mod:`~koppel.targets.itslearning.mapping`. This client takes a ready
:class:`~koppel.targets.itslearning.values.SoapRequest`, posts it to the
endpoint of its service and turns the HTTP outcome into either a parsed response or one of
koppel's target errors, named by what the caller should do next:

* ``TransientTargetError`` — retry the request later with backoff: a connection error, HTTP 5xx,
  408, or a SOAP fault that is not about configuration. With ``overload=True`` when the platform
  is busy rather than broken (HTTP 503 or 429, a timeout, WCF's ``ServerTooBusy``): the applier
  then also sends less at a time. ``retry_after`` carries the platform's ``Retry-After``;
* ``RequestTooLarge`` — HTTP 413: the same objects go again in smaller requests;
* ``TargetAuthError`` — stop: HTTP 401/403 or a WS-Security fault (wrong username or password).
  Retrying would only hammer, and possibly lock, the integration account;
* ``TargetConfigError`` — stop: the URL serves no IMS ES endpoint (HTTP 404, a redirect,
  ``ActionNotSupported``), itslearning cannot read the request (``DeserializationFailed``), or the
  TLS certificate failed verification. No retry can fix these;
* ``TargetProtocolError`` — the answer is not what the protocol promises (not XML, not a SOAP
  envelope).

Reads change nothing, so the client repeats a read that failed transiently (``read_retry``); writes
it sends once — the applier decides about those, within its operations budget.

One ``httpx.Client`` is shared by all threads: the applier calls ``apply`` from as many threads as
its operations budget allows, and httpx's connection pool is thread-safe. TLS verification is
on unless the settings turn it off for a local test server.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Self

import httpx
import structlog

from koppel.errors import (
    RequestTooLarge,
    TargetAuthError,
    TargetConfigError,
    TargetProtocolError,
    TransientTargetError,
)
from koppel.http import certificate_failed, retry_after_seconds
from koppel.retry import RetryPolicy, call_with_retries
from koppel.targets.itslearning.responses import parse_response, soap_fault_error
from koppel.targets.itslearning.values import Service, SoapRequest, SoapResponse

__all__ = ["ImsClient"]

log = structlog.get_logger(__name__)

_RETRYABLE_STATUS = frozenset({408, 425})
_BUSY_STATUS = frozenset({429, 503})
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
        read_retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        missing = [service.value for service in Service if service not in endpoints]
        if missing:
            raise ValueError(f"no endpoint URL for service(s) {', '.join(missing)}")
        self.endpoints = dict(endpoints)
        self.timeout_s = timeout_s
        self.read_retry = read_retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random()
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            verify=verify_tls,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": _USER_AGENT},
            follow_redirects=False,
            transport=transport,
        )

    def send(self, request: SoapRequest, *, retry: RetryPolicy | None = None) -> SoapResponse:
        """POST ``request`` and return the parsed SOAP response, or raise a target error.

        A read is repeated after a transient failure (``retry``, else ``read_retry``); a write is sent once.
        """
        if request.operation.is_read:
            return call_with_retries(
                lambda: self._post(request), retry or self.read_retry, what=request.operation.value,
                rng=self._rng, sleep=self._sleep,
            )
        return self._post(request)

    def _post(self, request: SoapRequest) -> SoapResponse:
        url = self.endpoints[request.service]
        started = time.monotonic()
        try:
            response = self._http.post(url, content=request.envelope, headers=request.http_headers)
        except httpx.TimeoutException as exc:
            raise TransientTargetError(
                f"{request.operation.value} to {url} timed out after {self.timeout_s:g}s "
                f"(message {request.message_id})",
                overload=True,
                unanswered=True,
            ) from exc
        except httpx.DecodingError as exc:  # a body that does not follow its Content-Encoding
            raise TargetProtocolError(
                f"{request.operation.value} to {url}: itslearning's answer cannot be decoded ({exc})"
            ) from None
        except httpx.TransportError as exc:
            if certificate_failed(exc):
                raise TargetConfigError(
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
    if status in _BUSY_STATUS:
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        raise TransientTargetError(
            f"{what} answered HTTP {status} {response.reason_phrase}".rstrip() + ": itslearning is busy"
            + (f" (Retry-After {retry_after:g} s)" if retry_after is not None else ""),
            overload=True,
            retry_after=retry_after,
        )
    if status == 413:
        raise RequestTooLarge(f"{what} answered HTTP 413: the request ({request.item_count} objects) is too large")
    fault = soap_fault_error(response.content)
    if fault is not None:
        raise fault
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise TransientTargetError(f"{what} answered HTTP {status} {response.reason_phrase}".rstrip())
    if status == 404:
        raise TargetConfigError(
            f"{what} answered HTTP 404: there is no IMS ES endpoint there. Copy the URL from itslearning's "
            "Administration › Manage IMS Enterprise › Web services (…/WCFServiceLibrary/ImsEnterpriseServicesPort.svc)"
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        raise TargetConfigError(
            f"{what} was redirected (HTTP {status}) to {location}; configure the final URL"
        )
    raise TargetProtocolError(f"{what} answered HTTP {status} {response.reason_phrase}".rstrip())





