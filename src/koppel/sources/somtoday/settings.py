"""Settings of the Somtoday Connect source, one documented field each.

``koppel connectors describe somtoday`` prints them from this model.

Somtoday Connect gives a koppelpartij one OAuth client; a school then opens the koppeling per
*vestiging*, and a token is only ever valid for one *instelling* (the organisation UUID in the token
request). So one source is one instelling: its UUID, the client's id and secret, and which of its
vestigingen to read. Everything is checked when the configuration is loaded, not halfway through a
night run.
"""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from koppel.connectors import SecretRef
from koppel.model.roster import BRIN6_RE

__all__ = ["DEFAULT_API_URL", "DEFAULT_TOKEN_URL", "MAX_PAGE_SIZE", "Peilschooljaar", "SomtodaySettings"]

DEFAULT_API_URL = "https://api.somtoday.nl/rest/v1"
DEFAULT_TOKEN_URL = "https://inloggen.somtoday.nl/oauth2/token"
MAX_PAGE_SIZE = 200  # the spec: "amount … Maximaal 200."

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Peilschooljaar(StrEnum):
    """Which school year Somtoday Connect answers for (query parameter ``peilschooljaar``).

    ``HUIDIG``: the current school year, including changes planned for later this year.
    ``VOLGEND``: next school year (what the school has already set up for the jaarovergang).
    Somtoday cannot deliver earlier years: "Het is niet mogelijk om historische informatie op te vragen."
    """

    AUTO = "auto"
    HUIDIG = "HUIDIG"
    VOLGEND = "VOLGEND"


def _check_uuid(value: str, what: str) -> str:
    if not _UUID_RE.match(value):
        raise ValueError(f"{what} {value!r} is not a UUID (8-4-4-4-12 hexadecimal digits)")
    return value.lower()


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r}: give the URL without query string (koppel adds ?organisation=…)")
    return value.rstrip("/")


class SomtodaySettings(BaseModel):
    """Read a roster from Somtoday Connect (REST, OAuth2 client credentials), vestiging by vestiging."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instelling: str = Field(
        description="UUID of the instelling (organisation) whose data is read; a token is valid for one "
        "instelling only. Look it up once with GET /connect/instelling?brin=… — never let end users type it.",
    )
    client_id: str = Field(
        min_length=1, description="OAuth client id of the koppelpartij (Somtoday Connect Partnerprogramma)."
    )
    client_secret_env: str | None = Field(
        default=None, description="Name of the environment variable holding the OAuth client secret."
    )
    client_secret_file: str | None = Field(
        default=None,
        description="File holding the OAuth client secret (e.g. /run/secrets/somtoday); relative to the "
        "config file.",
    )
    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="Base URL of the Connect API, up to /rest/v1. Test: "
        "https://api.test.somtoday.nl/rest/v1, acceptatie (demo data): "
        "https://api.acceptatie.somtoday.nl/rest/v1.",
    )
    token_url: str = Field(
        default=DEFAULT_TOKEN_URL,
        description="OAuth2 token endpoint without query string; koppel adds ?organisation=<instelling>. "
        "Test: https://inloggen.test.somtoday.nl/oauth2/token.",
    )
    vestigingen: list[str] = Field(
        default_factory=list,
        description="UUIDs of the vestigingen to read. Empty: every vestiging the school opened for this "
        "client (GET /connect/vestiging), narrowed by brins.",
    )
    brins: list[str] = Field(
        default_factory=list,
        description="BRIN6 codes (12AB00) of the vestigingen to read, matched against each vestiging's "
        "brins. Empty: no filter. Every BRIN6 listed must be found, or the read stops.",
    )
    vestiging_brin6: dict[str, str] = Field(
        default_factory=dict,
        description="BRIN6 per vestiging UUID, for a vestiging with several BRIN6 codes or none. Unset: the "
        "vestiging's first BRIN6 (the first one listed in brins, if that filter is set).",
    )
    peilschooljaar: Peilschooljaar = Field(
        default=Peilschooljaar.AUTO,
        description="auto: HUIDIG for the current school year, VOLGEND when koppel reads next year "
        "(jaarovergang). HUIDIG or VOLGEND force one.",
    )
    page_size: int = Field(
        default=MAX_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description="Records per request (the 'amount' parameter; Somtoday allows at most 200).",
    )
    timeout_s: float = Field(default=60.0, gt=0, le=900, description="Seconds to wait for one request.")
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Attempts per request when Somtoday is unavailable (HTTP 5xx, 429, timeout, connection "
        "error) before the read stops; 1 = no retries.",
    )
    retry_backoff_s: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description="Seconds to wait before the second attempt; doubled before each further attempt.",
    )
    verify_tls: bool = Field(
        default=True,
        description="Verify Somtoday's TLS certificate. Turn off only for a local sandbox over https.",
    )

    @field_validator("instelling")
    @classmethod
    def _instelling_is_uuid(cls, value: str) -> str:
        return _check_uuid(value, "instelling")

    @field_validator("vestigingen")
    @classmethod
    def _vestigingen_are_uuids(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(_check_uuid(v, "vestiging") for v in value))

    @field_validator("brins")
    @classmethod
    def _brins_are_brin6(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not BRIN6_RE.match(v)]
        if bad:
            raise ValueError(
                f"not BRIN6 codes (two digits, two capitals, two digits: 12AB00): {', '.join(bad)}"
            )
        return list(dict.fromkeys(value))

    @field_validator("vestiging_brin6")
    @classmethod
    def _map_is_uuid_to_brin6(cls, value: dict[str, str]) -> dict[str, str]:
        checked = {}
        for vestiging, brin6 in value.items():
            if not BRIN6_RE.match(brin6):
                raise ValueError(f"{brin6!r} (for vestiging {vestiging}) is not a BRIN6 code (12AB00)")
            checked[_check_uuid(vestiging, "vestiging")] = brin6
        return checked

    @field_validator("api_url", "token_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _check_url(value)

    @model_validator(mode="after")
    def _one_secret(self) -> SomtodaySettings:
        given = [name for name in ("client_secret_env", "client_secret_file") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of client_secret_env or client_secret_file"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def client_secret_ref(self) -> SecretRef:
        """Where the client secret comes from, as a SecretRef that never shows the value."""
        return SecretRef(env=self.client_secret_env, file=self.client_secret_file)
