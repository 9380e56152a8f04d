"""The only module of the Somtoday source that does I/O: tokens, pages, retries, and what a failure means.

Requests are built and answers parsed by :mod:`.protocol`; this client sends them with httpx (TLS
verified unless the settings say otherwise, a timeout on every request) and turns every HTTP outcome
into data or into one of koppel's source errors, named by what the caller should do next:

* ``SourceUnavailable`` — try again later: HTTP 5xx, 429 or 408, a timeout or a connection error
  that is still there after ``max_attempts`` attempts with exponential backoff;
* ``SourceAuthError`` — fix credentials or authorisation: the token endpoint refusing the client,
  HTTP 403, or HTTP 401 *after a freshly renewed token*. A token can expire between two pages
  (Somtoday decides its lifetime), so the first 401 on a request renews the token once and sends
  that same request again; only a second 401 means the vestiging is really closed to us
  ("Geen toegang tot Vestiging of toegang verloopt voor begin van peilschooljaar");
* ``SourceDataError`` — the answer is not what the spec promises (not JSON, not the Response
  object, a server that ignores ``offset``);
* ``SourceError`` — any other refusal (4xx), with Somtoday's ``Error`` body (code, problem,
  clarification) in the message.

Tokens are also renewed *before* they expire when Somtoday says how long they live, so a night
run of many pages normally never meets the 401 at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

import httpx
import structlog

from koppel.errors import SourceAuthError, SourceDataError, SourceError, SourceUnavailable
from koppel.http import certificate_failed
from koppel.sources.somtoday.protocol import (
    Endpoint,
    HttpRequest,
    Token,
    WireError,
    error_detail,
    page_request,
    parse_page,
    parse_token,
    token_request,
    vestigingen_request,
)

__all__ = ["ClientOptions", "ConnectClient"]

log = structlog.get_logger(__name__)

_USER_AGENT = "koppel-somtoday/1 (Somtoday Connect)"
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_MAX_PAGES = 100_000  # a safety net against a server that never sends a short page


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Everything the client needs; the secret is resolved by the caller and never logged."""

    source: str
    api_url: str
    token_url: str
    instelling: str
    client_id: str
    client_secret: str
    page_size: int = 200
    timeout_s: float = 60.0
    max_attempts: int = 3
    retry_backoff_s: float = 2.0
    verify_tls: bool = True
    transport: httpx.BaseTransport | None = None
    """Where requests go instead of the network (tests, fuzzing); None: the network."""

    def __repr__(self) -> str:
        return (
            f"ClientOptions(source={self.source!r}, api_url={self.api_url!r}, instelling={self.instelling!r})"
        )


@dataclass(frozen=True, slots=True)
class Where:
    """The vestiging a request is about, for messages: uuid, name and BRIN6 as far as known."""

    uuid: str
    label: str


class ConnectClient:
    """Reads Somtoday Connect for one instelling. Not thread-safe; close it when done."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self._clock = clock
        self._sleep = sleep
        self._token: Token | None = None
        self.requests = 0
        self.token_renewals = 0
        self._http = httpx.Client(
            timeout=httpx.Timeout(options.timeout_s),
            verify=options.verify_tls,
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
            transport=options.transport,
        )

    # -- public -------------------------------------------------------------------------------

    def vestigingen(self) -> list[Any]:
        """The raw Vestiging records the school opened for this client."""
        request = vestigingen_request(self.options.api_url)
        response = self._authorized(request, where=None)
        return self._page(response, request, "vestigingen")

    def fetch_all(self, endpoint: Endpoint, where: Where, peilschooljaar: str) -> list[Any]:
        """Every raw record of one list endpoint of one vestiging, page by page."""
        return [item for page in self._pages(endpoint, where, peilschooljaar) for item in page]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- paging -------------------------------------------------------------------------------

    def _pages(self, endpoint: Endpoint, where: Where, peilschooljaar: str) -> Iterator[list[Any]]:
        """Pages until the first empty one; each next offset counts the records actually received.

        A short page is not trusted as the last: a server that caps ``amount`` below what was asked
        would otherwise end the list early, silently. The price is one empty page per list.
        """
        amount = self.options.page_size
        offset = 0
        previous: list[object] | None = None
        for _ in range(_MAX_PAGES):
            request = page_request(self.options.api_url, endpoint, where.uuid, peilschooljaar, offset, amount)
            items = self._page(self._authorized(request, where), request, endpoint.key)
            if not items:
                return
            if len(items) > amount:
                raise self._data_error(f"{request.what} returned {len(items)} records for amount={amount}")
            identities = [item.get("uuid") if isinstance(item, dict) else item for item in items]
            if identities == previous:
                raise self._data_error(
                    f"{request.what} returned the same page as the previous offset: the server ignores "
                    "offset, so the list cannot be read completely"
                )
            yield items
            offset += len(items)
            previous = identities
        raise self._data_error(f"{endpoint.path} of {where.label} did not end after {_MAX_PAGES} pages")

    def _page(self, response: httpx.Response, request: HttpRequest, key: str) -> list[Any]:
        try:
            return parse_page(response.content, key, request.what)
        except WireError as exc:
            raise self._data_error(str(exc)) from None

    # -- authorisation ------------------------------------------------------------------------

    def _authorized(self, request: HttpRequest, where: Where | None) -> httpx.Response:
        """Send with a bearer token; on 401 renew the token once and send the same request again."""
        token = self._current_token()
        response = self._send(request, token)
        if response.status_code == 401:
            log.info("somtoday.token_refused", request=request.what, action="renewing once")
            token = self._renew_token()
            response = self._send(request, token)
            if response.status_code == 401:
                raise self._refused(request, response, where, renewed=True)
        if response.status_code == 200:
            return response
        raise self._failure(request, response, where)

    def _current_token(self) -> Token:
        if self._token is None or not self._token.fresh(self._clock()):
            return self._renew_token()
        return self._token

    def _renew_token(self) -> Token:
        options = self.options
        request = token_request(
            options.token_url, options.instelling, options.client_id, options.client_secret
        )
        response = self._send(request, None)
        if response.status_code != 200:
            raise self._token_refused(request, response)
        try:
            self._token = parse_token(response.content, self._clock())
        except WireError as exc:
            raise SourceError(f"{request.what}: {exc}", source=options.source) from None
        self.token_renewals += 1
        return self._token

    # -- transport ----------------------------------------------------------------------------

    def _send(self, request: HttpRequest, token: Token | None) -> httpx.Response:
        """Send, retrying transient failures with exponential backoff; return the last answer."""
        attempts = self.options.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = self._send_once(request, token)
            except httpx.DecodingError as exc:  # a Content-Encoding (gzip …) the body does not follow
                raise self._data_error(f"{request.what}: the answer cannot be decoded ({exc})") from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failure = self._transport_failure(request, exc)
                if attempt == attempts or not isinstance(failure, SourceUnavailable):
                    raise failure from exc
                self._backoff(request, attempt, type(exc).__name__)
                continue
            if response.status_code not in _TRANSIENT_STATUS or attempt == attempts:
                return response
            self._backoff(request, attempt, f"HTTP {response.status_code}")
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send_once(self, request: HttpRequest, token: Token | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token.access_token}"} if token is not None else None
        started = time.monotonic()
        if request.form is not None:
            response = self._http.request(
                request.method, request.url, params=request.params, data=dict(request.form), headers=headers
            )
        else:
            response = self._http.request(request.method, request.url, params=request.params, headers=headers)
        self.requests += 1
        log.debug(
            "somtoday.http",
            request=request.what,
            status=response.status_code,
            elapsed_ms=round((time.monotonic() - started) * 1000),
        )
        return response

    def _backoff(self, request: HttpRequest, attempt: int, reason: str) -> None:
        delay = self.options.retry_backoff_s * (2 ** (attempt - 1))
        log.warning("somtoday.retry", request=request.what, reason=reason, attempt=attempt, delay_s=delay)
        if delay > 0:
            self._sleep(delay)

    # -- errors -------------------------------------------------------------------------------

    def _transport_failure(self, request: HttpRequest, exc: Exception) -> SourceError:
        source = self.options.source
        if isinstance(exc, httpx.TimeoutException):
            return SourceUnavailable(
                f"{request.what} timed out after {self.options.timeout_s:g}s ({self.options.max_attempts} "
                "attempt(s))",
                source=source,
            )
        if certificate_failed(exc):
            return SourceError(
                f"the TLS certificate of {request.url} could not be verified ({exc}); koppel does not send "
                "credentials to an unverified server",
                source=source,
            )
        return SourceUnavailable(
            f"{request.what} failed: {type(exc).__name__}: {exc} ({self.options.max_attempts} attempt(s))",
            source=source,
        )

    def _token_refused(self, request: HttpRequest, response: httpx.Response) -> SourceError:
        status = response.status_code
        detail = _detail(response)
        source = self.options.source
        if status in _TRANSIENT_STATUS:
            return SourceUnavailable(
                f"{request.what} answered HTTP {status}{detail} ({self.options.max_attempts} attempt(s))",
                source=source,
            )
        if 400 <= status < 500:
            return SourceAuthError(
                f"Somtoday refused the client credentials for instelling {self.options.instelling} (HTTP "
                f"{status}{detail}); check client_id {self.options.client_id!r}, the client secret and that "
                "the instelling UUID is right",
                source=source,
            )
        return SourceError(f"{request.what} answered HTTP {status}{detail}", source=source)

    def _refused(
        self, request: HttpRequest, response: httpx.Response, where: Where | None, *, renewed: bool
    ) -> SourceAuthError:
        status = response.status_code
        whom = f"vestiging {where.label}" if where else f"instelling {self.options.instelling}"
        fresh = " with a freshly renewed token" if renewed else ""
        return SourceAuthError(
            f"Somtoday refused access to {whom} on {request.what} (HTTP {status}{fresh}{_detail(response)}): "
            "the school has not opened the koppeling for it, has closed it, or access ends before the "
            "requested peilschooljaar starts",
            source=self.options.source,
        )

    def _failure(self, request: HttpRequest, response: httpx.Response, where: Where | None) -> SourceError:
        status = response.status_code
        source = self.options.source
        detail = _detail(response)
        if status == 403:
            return self._refused(request, response, where, renewed=False)
        if status in _TRANSIENT_STATUS:
            return SourceUnavailable(
                f"{request.what} answered HTTP {status}{detail} ({self.options.max_attempts} attempt(s))",
                source=source,
            )
        if 300 <= status < 400:
            location = response.headers.get("location", "?")
            return SourceError(
                f"{request.what} was redirected (HTTP {status}) to {location}; configure the final api_url",
                source=source,
            )
        return SourceError(
            f"{request.what} answered HTTP {status} {response.reason_phrase}{detail}".strip(), source=source
        )

    def _data_error(self, message: str) -> SourceDataError:
        return SourceDataError(message, source=self.options.source)


def _detail(response: httpx.Response) -> str:
    detail = error_detail(response.content)
    return f": {detail}" if detail else ""

