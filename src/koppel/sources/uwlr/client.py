"""The only module of the UWLR source that does I/O: POST one request, bring back status and body.

Building the envelope and reading the answer are pure (:mod:`.messages`); this client sends a
ready :class:`~.messages.SoapRequest` and turns what can go wrong *on the way* into koppel's
source errors, named by what the caller should do next:

* ``SourceUnavailable`` — try again later: a timeout, a refused or dropped connection. A server
  that hangs up on an HTTPS request without a word may also be refusing the client certificate
  (asyncio-based servers, the sandbox among them, do that instead of sending a TLS alert); the
  message says so, but retrying is the right first answer;
* ``SourceAuthError`` — fix the configuration: the LAS refused the client certificate with a TLS
  alert (``certificate required``, ``unknown CA`` …); IIS/WCF answers HTTP 403 instead, which
  :func:`~.messages.read_answer` maps to the same error;
* ``SourceError`` — fix the configuration: the LAS's TLS certificate could not be verified (koppel
  sends no pupil data to an unverified server; there is no switch to turn verification off, only
  ``ca_file`` to trust a private CA), or the answer was larger than ``max_response_mb``.

The answer's HTTP status and SOAP faults are classified by :func:`~.messages.read_answer`.
TLS verification is always on; the client certificate, its key and the key's password are loaded
into the TLS context once, when the client is made.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Self

import httpx
import structlog

from koppel.errors import (
    ConfigError,
    ConfigProblem,
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceUnavailable,
)
from koppel.sources.uwlr.messages import SoapRequest

__all__ = ["HttpAnswer", "TlsFiles", "UwlrClient", "tls_context"]

log = structlog.get_logger(__name__)

_USER_AGENT = "koppel-uwlr/1 (UWLR 2.x HaalLeerlinggegevens)"
# OpenSSL reasons with which a server turns down the client certificate during or right after the handshake.
_CLIENT_CERT_REFUSED = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "HANDSHAKE_FAILURE",
    "ACCESS_DENIED",
)


@dataclass(frozen=True)
class TlsFiles:
    """The TLS material of a connection; paths already resolved, the key password already read."""

    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    client_key_password: str | None = None


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes


def tls_context(files: TlsFiles) -> ssl.SSLContext:
    """A verifying TLS context: the public CAs (or ``ca_file``), plus the client certificate if any."""
    try:
        context = (
            ssl.create_default_context(cafile=files.ca_file) if files.ca_file else httpx.create_ssl_context()
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            [ConfigProblem(f"cannot load the CA file {files.ca_file}: {exc}", setting="ca_file")]
        ) from None
    if files.client_cert_file:
        try:
            context.load_cert_chain(files.client_cert_file, files.client_key_file, files.client_key_password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                [
                    ConfigProblem(
                        f"cannot load the client certificate {files.client_cert_file}"
                        + (f" with key {files.client_key_file}" if files.client_key_file else "")
                        + f": {exc} (wrong file, not PEM, or wrong key password?)",
                        setting="client_cert_file",
                    )
                ]
            ) from None
    return context


class UwlrClient:
    """POSTs UWLR requests. One per read; close it (or use it as a context manager) when done."""

    def __init__(
        self,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        tls: TlsFiles,
        max_bytes: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            verify=tls_context(tls),
            headers={"User-Agent": _USER_AGENT},
            follow_redirects=False,
            transport=transport,
        )

    def post(self, url: str, request: SoapRequest, *, school: str, source: str | None = None) -> HttpAnswer:
        """POST ``request`` for ``school``; the status and body, or the error the transport failure means."""
        started = time.monotonic()
        try:
            with self._http.stream(
                "POST", url, content=request.body, headers=dict(request.headers)
            ) as response:
                body = self._read_limited(response, school, source)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(
                f"school {school}: {url} did not answer within {self.timeout_s:g}s "
                f"({type(exc).__name__}); try again later",
                source=source,
            ) from exc
        except httpx.TransportError as exc:
            raise _transport_error(exc, url, school, source) from exc
        except httpx.DecodingError as exc:  # a Content-Encoding (gzip, deflate …) the body does not follow
            raise SourceDataError(
                f"school {school}: the answer cannot be decoded ({exc}); it was not read", source=source
            ) from None
        log.debug(
            "uwlr.http",
            school=school,
            status=response.status_code,
            bytes=len(body),
            elapsed_ms=round((time.monotonic() - started) * 1000),
        )
        return HttpAnswer(response.status_code, body)

    def _read_limited(self, response: httpx.Response, school: str, source: str | None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceDataError(
                    f"school {school}: the answer is larger than max_response_mb "
                    f"({self.max_bytes // 2**20} MB); it was not read",
                    source=source,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _transport_error(exc: httpx.TransportError, url: str, school: str, source: str | None) -> SourceError:
    ssl_error = _ssl_cause(exc)
    if isinstance(ssl_error, ssl.SSLCertVerificationError):
        return SourceError(
            f"school {school}: the TLS certificate of {url} could not be verified "
            f"({ssl_error.verify_message}); koppel sends no pupil data to an unverified server "
            "(set ca_file for a private CA)",
            source=source,
        )
    if ssl_error is not None and any(reason in str(ssl_error).upper() for reason in _CLIENT_CERT_REFUSED):
        return SourceAuthError(
            f"school {school}: {url} refused the TLS connection ({ssl_error}); check "
            "client_cert_file and client_key_file",
            source=source,
        )
    hint = ""
    if url.lower().startswith("https:") and _closed_by_peer(exc, ssl_error):
        # A server that refuses a client certificate may just hang up (asyncio servers do, in TLS 1.3
        # after the handshake); so may a server in trouble. Only the first is fixed by configuration,
        # so the message says both.
        hint = (
            "; if this repeats, the LAS may be refusing the client certificate (client_cert_file; ESIS "
            "demands one)"
        )
    return SourceUnavailable(
        f"school {school}: cannot reach {url} ({type(exc).__name__}: {exc}); try again later" + hint,
        source=source,
    )


def _closed_by_peer(exc: httpx.TransportError, ssl_error: ssl.SSLError | None) -> bool:
    return isinstance(ssl_error, ssl.SSLEOFError | ssl.SSLZeroReturnError) or isinstance(
        exc, httpx.RemoteProtocolError
    )


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
