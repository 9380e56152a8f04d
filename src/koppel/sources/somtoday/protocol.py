"""Somtoday Connect's protocol without the network: requests as values, answers parsed by pure functions.

The client (:mod:`.client`) only sends what these functions build and hands back what it received;
everything a test wants to pin down — the token request, the query parameters of a page, how a
page or an error body is read — is decided here and can be tested with bytes alone.

Facts from the spec (``shared/specs/somtoday-connect/openapi.json``, v14.10.0):

* token: ``POST {token_url}?organisation={instellingUUID}``, OAuth2 client credentials; the token is
  "uniek per organisatie" and travels as ``Authorization: Bearer …``;
* lists: ``GET /connect/vestiging/{vestigingUUID}/leerling|medewerker|lesgroep/|stamgroep/`` with
  ``offset`` (default 0), ``amount`` (required, at most 200) and ``peilschooljaar`` HUIDIG|VOLGEND;
  the answer is a Response object (``{"leerlingen": [...]}``) and carries no total count, so the
  client pages on until an empty page;
* errors: ``Error`` = ``{code, problem, clarification}`` (also as ``GeneralResponse.errors``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson

from koppel.textsafe import printable

__all__ = [
    "Endpoint",
    "HttpRequest",
    "Token",
    "WireError",
    "error_detail",
    "page_request",
    "parse_page",
    "parse_token",
    "record_ref",
    "token_request",
    "vestigingen_request",
]


class WireError(Exception):
    """An answer that is not what the spec promises (not JSON, not the Response object)."""


class Endpoint(Enum):
    """The per-vestiging list endpoints koppel reads: (path below the vestiging, key of the list)."""

    LEERLING = ("leerling", "leerlingen")
    MEDEWERKER = ("medewerker", "medewerkers")
    LESGROEP = ("lesgroep/", "lesgroepen")
    STAMGROEP = ("stamgroep/", "stamgroepen")

    def __init__(self, path: str, key: str) -> None:
        self.path = path
        self.key = key

    @property
    def entity(self) -> str:
        return self.path.rstrip("/")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request, ready to send. ``what`` names it in messages (never with secrets)."""

    method: str
    url: str
    what: str
    params: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token, when (on the client's monotonic clock) it stops being valid, and its lifetime.

    ``expires_at`` is None when Somtoday did not say (``expires_in`` is optional in RFC 6749); such a
    token is used until it is refused.
    """

    access_token: str
    expires_at: float | None = None
    lifetime: float = 0.0

    def fresh(self, now: float) -> bool:
        """Still usable for one more request: not within the renewal margin before expiry.

        The margin is a tenth of the lifetime, capped at 30 seconds, so a long read renews before
        the token dies instead of meeting a 401 on the next page.
        """
        if self.expires_at is None:
            return True
        return now < self.expires_at - min(30.0, self.lifetime / 10)


def token_request(token_url: str, instelling: str, client_id: str, client_secret: str) -> HttpRequest:
    """The client-credentials request for one instelling (form body, as public Somtoday clients send it)."""
    return HttpRequest(
        method="POST",
        url=token_url,
        what=f"token request for instelling {instelling}",
        params=(("organisation", instelling),),
        form=(
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ),
    )


def parse_token(body: bytes, now: float) -> Token:
    """Read an OAuth2 token response (RFC 6749 §5.1); ``expires_in`` is optional there."""
    document = _json(body, "the token response")
    if not isinstance(document, dict):
        raise WireError("the token response is not a JSON object")
    access_token = document.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise WireError("the token response has no access_token")
    token_type = document.get("token_type")
    if isinstance(token_type, str) and token_type.lower() != "bearer":
        raise WireError(f"the token is of type {token_type!r}, not a bearer token")
    lifetime = _seconds(document.get("expires_in"))
    if lifetime is None:
        return Token(access_token, None)
    return Token(access_token, now + lifetime, lifetime)


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            return None
    else:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def vestigingen_request(api_url: str) -> HttpRequest:
    """All vestigingen of the token's instelling that the school opened for this client."""
    return HttpRequest("GET", f"{api_url}/connect/vestiging", what="GET /connect/vestiging")


def page_request(
    api_url: str, endpoint: Endpoint, vestiging: str, peilschooljaar: str, offset: int, amount: int
) -> HttpRequest:
    """One page of a per-vestiging list."""
    path = f"/connect/vestiging/{vestiging}/{endpoint.path}"
    return HttpRequest(
        method="GET",
        url=api_url + path,
        what=f"GET {path}?offset={offset}&amount={amount}&peilschooljaar={peilschooljaar}",
        params=(("offset", str(offset)), ("amount", str(amount)), ("peilschooljaar", peilschooljaar)),
    )


def parse_page(body: bytes, key: str, what: str) -> list[Any]:
    """The list under ``key`` of a Response object; missing or null reads as an empty page."""
    document = _json(body, what)
    if not isinstance(document, dict):
        raise WireError(f"{what}: the answer is a JSON {type(document).__name__}, not a Response object")
    items = document.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise WireError(f"{what}: '{key}' is a JSON {type(items).__name__}, not a list")
    return items


_DETAIL_LIMIT = 300


def error_detail(body: bytes) -> str | None:
    """What an error answer says: Somtoday's ``Error`` / ``GeneralResponse.errors``, or an OAuth2 error.

    At most a few hundred characters, control characters escaped: it ends up in a message.
    """
    detail = _error_detail(body)
    if detail is None:
        return None
    if len(detail) > _DETAIL_LIMIT:
        detail = detail[:_DETAIL_LIMIT] + "…"
    return printable(detail)


def _error_detail(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:200].decode("utf-8", "replace").strip()
        return text or None
    if isinstance(document, dict) and isinstance(document.get("errors"), list) and document["errors"]:
        document = document["errors"][0]
    if not isinstance(document, dict):
        return None
    if "error" in document:  # RFC 6749 §5.2
        parts = [str(document["error"]), str(document.get("error_description") or "")]
        return " - ".join(p for p in parts if p)
    parts = [str(document[k]) for k in ("problem", "clarification") if document.get(k)]
    if not parts:
        return None
    code = document.get("code")
    return ": ".join(parts) + (f" (code {code})" if code is not None else "")


def record_ref(vestiging: str, endpoint: Endpoint, uuid: str) -> str:
    """Provenance of one record: the path it can be fetched from on its own."""
    return f"/connect/vestiging/{vestiging}/{endpoint.entity}/{uuid}"


def _json(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"{what}: the answer is not valid JSON ({exc}); {len(body)} bytes received") from None
