"""Settings of a SCIM target: one SCIM 2.0 service provider (RFC 7643/7644) and its bearer token.

An application that is provisioned over SCIM shows an administrator a *tenant URL* (the SCIM base, the
folder that holds ``/Users``, ``/Groups`` and ``/ServiceProviderConfig``) and a *secret token*. That is
all koppel needs; the rest says how hard to push and a few mapping choices. ``koppel connectors describe
scim`` prints this model; every field carries its description.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from koppel.connectors import SecretRef
from koppel.http import is_loopback
from koppel.model.roster import PersonKind
from koppel.targets.scim.mapping import DEFAULT_USER_TYPES, MappingConfig

__all__ = ["ScimSettings", "UpdateMethod", "UserDelete"]


class UpdateMethod(StrEnum):
    """How koppel changes an existing resource."""

    AUTO = "auto"  # PATCH when the ServiceProviderConfig says patch is supported, else PUT
    PATCH = "patch"  # PATCH operations: only what changed, no read first
    PUT = "put"  # read (GET, ETag), merge what koppel owns, PUT with If-Match; a 412 reads again


class UserDelete(StrEnum):
    """What a person's *delete* (after the grace period) does to the SCIM User."""

    DELETE = "delete"  # DELETE /Users/{id}: the application removes the account
    DEACTIVATE = "deactivate"  # leave the User, inactive (active=false), for applications that keep history


class ScimSettings(BaseModel):
    """A SCIM 2.0 service provider: its base URL and bearer token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        description=(
            "The SCIM base URL the application shows (its 'tenant URL'), e.g. https://app.example.com/scim/v2: "
            "the folder holding /Users, /Groups and /ServiceProviderConfig. HTTPS; plain HTTP only to this machine."
        )
    )
    token_env: str | None = Field(None, description="Name of the environment variable holding the bearer token.")
    token_file: str | None = Field(None, description="File holding the bearer token (e.g. /run/secrets/scim).")
    token: SecretStr | None = Field(
        None, description="The bearer token itself; prefer token_env or token_file (no secrets in files)."
    )
    verify_tls: bool = Field(
        True, description="Verify the server's TLS certificate. Turn off only for a local test server."
    )
    timeout_s: float = Field(30.0, gt=0, le=600, description="Seconds to wait for one request.")
    max_operations_in_flight: int = Field(
        16,
        ge=1,
        le=200,
        description=(
            "Ceiling of objects in all unanswered requests together, never passed. A User or Group is one "
            "request; a group's member changes travel in one PATCH, each member one operation."
        ),
    )
    adaptive: bool = Field(
        True,
        description=(
            "Below the ceiling, send less when the server answers busy (429/503), fails or slows down, and more "
            "again while it keeps up. false pins the budget at the ceiling."
        ),
    )
    batch_size: int = Field(
        50,
        ge=1,
        le=500,
        description="Changes per batch at most: a batch's member changes of one group go in one PATCH.",
    )
    lookup_batch: int = Field(
        20,
        ge=1,
        le=100,
        description=(
            "externalIds per look-up (GET with a filter 'externalId eq \"a\" or externalId eq \"b\" …'). "
            "1 for a server that only takes a single 'eq' filter."
        ),
    )
    page_size: int = Field(100, ge=1, le=1000, description="Resources per page when koppel reads back (count).")
    update_method: UpdateMethod = Field(
        UpdateMethod.AUTO,
        description=(
            "auto: PATCH when the server says it supports it, else PUT; patch: always PATCH; put: read, merge "
            "and PUT with If-Match (the ETag), reading again after a 412."
        ),
    )
    user_delete: UserDelete = Field(
        UserDelete.DELETE,
        description=(
            "What a person's delete after the grace period does: delete the User, or leave it inactive "
            "(a suspended person is always active=false first)."
        ),
    )
    user_types: dict[PersonKind, str] = Field(
        default_factory=dict,
        description='Overrides of the userType per person role, e.g. {staff = "Teacher"} '
        "(default Student, Staff, Guardian).",
    )
    email_type: str = Field("work", min_length=1, description="The 'type' of the e-mail address koppel sends.")
    archive_name: str = Field(
        "{name} ({school_year})",
        min_length=1,
        description=(
            "displayName of a group archived at the jaarovergang ({name}, {school_year}); SCIM groups have no "
            "folders, so an archived group keeps its members (per policy) under this name."
        ),
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError(
                f"{value!r}: a bearer token never travels over plain HTTP; use https (http is allowed for localhost alone)"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r}: give the SCIM base URL without a query or fragment")
        return value.strip().rstrip("/")

    @field_validator("user_types")
    @classmethod
    def _not_empty(cls, value: dict[PersonKind, str]) -> dict[PersonKind, str]:
        for role, user_type in value.items():
            if not user_type.strip():
                raise ValueError(f"{role}: an empty userType; leave the entry out instead")
        return value

    @field_validator("archive_name")
    @classmethod
    def _archive_template(cls, value: str) -> str:
        try:
            value.format(name="x", school_year="2025-2026")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r}: only {{name}} and {{school_year}} can be used ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_token(self) -> ScimSettings:
        given = [name for name in ("token_env", "token_file", "token") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of token_env, token_file or token" + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def token_ref(self) -> SecretRef:
        """Where the token comes from, as a SecretRef that never shows the value."""
        return SecretRef(env=self.token_env, file=self.token_file,
                         value=self.token.get_secret_value() if self.token else None)

    def mapping_config(self) -> MappingConfig:
        return MappingConfig(
            user_types={**DEFAULT_USER_TYPES, **{k.value: v for k, v in self.user_types.items()}},
            email_type=self.email_type,
            archive_name=self.archive_name,
        )

