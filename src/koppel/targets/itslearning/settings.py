"""Settings of an itslearning target: one IMS Enterprise Services integration.

itslearning's admin page *Administration › Manage IMS Enterprise › Web services* creates an
integration and generates its endpoint URL, username and password; the credentials themselves
select the site and the hierarchy scope, so there is no site or tenant id to configure. What is
left is where koppel's top-level groups hang (``site_root``), how hard to push
(``max_operations_in_flight``, ``adaptive``, ``batch_size``) and a few mapping choices. ``koppel
connectors describe itslearning`` prints this model; every field carries its description.

The URL is the one the admin page generates, ``…/WCFServiceLibrary/ImsEnterpriseServicesPort.svc``:
that one endpoint serves every service, chosen by SOAPAction, and every public client posts there.
koppel does the same unless per-service endpoints are configured.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from koppel.connectors import SecretRef
from koppel.http import is_loopback
from koppel.model.roster import PersonKind, Role
from koppel.takeover.settings import TakeoverSettings
from koppel.targets.itslearning.mapping import (
    DEFAULT_INSTITUTION_ROLES,
    DEFAULT_MEMBERSHIP_ROLES,
    Limits,
    MappingConfig,
)
from koppel.targets.itslearning.values import Service

__all__ = ["EndpointMode", "ItslearningSettings", "ProfileMap", "ServiceUrls", "resolve_endpoints"]

COMBINED_PORT = "ImsEnterpriseServicesPort.svc"
SERVICE_PATH = "/WCFServiceLibrary/" + COMBINED_PORT
EXAMPLE_URL = "https://enterprise.itslearning.com" + SERVICE_PATH


class EndpointMode(StrEnum):
    """How the services are reached: itslearning's combined port (the admin page's URL), or one ``.svc``
    per service."""

    COMBINED = "combined"
    PER_SERVICE = "per-service"


class ServiceUrls(BaseModel):
    """Explicit endpoint URLs per service; each one given overrides what ``url`` derives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pms: str | None = Field(None, description="PersonManagementServiceSync endpoint (persons).")
    epms: str | None = Field(
        None, description="ExtendedPersonManagementServiceSync endpoint (readAllPersons)."
    )
    gms: str | None = Field(None, description="GroupManagementServiceSync endpoint (hierarchies, courses).")
    mms: str | None = Field(None, description="MembershipManagementServiceSync endpoint (memberships).")

    @field_validator("pms", "epms", "gms", "mms")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class ProfileMap(BaseModel):
    """Overrides of how koppel's roles become itslearning profiles and hierarchy roles.

    ``institution_roles``: person role (student, staff, guardian) → ``institutionRoleType``
    (default Student, Staff, Carer; the site maps these to profiles under *Profiles ›
    Synchronisation – Map from profile*). ``membership_roles``: membership role (student, teacher,
    mentor, guardian) → ``roleType`` (default Learner, Instructor, Mentor, Member).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    institution_roles: dict[PersonKind, str] = Field(
        default_factory=dict, description='Person role → institutionRoleType, e.g. {staff = "Staff"}.'
    )
    membership_roles: dict[Role, str] = Field(
        default_factory=dict, description='Membership role → roleType, e.g. {mentor = "Mentor"}.'
    )

    @field_validator("institution_roles", "membership_roles")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        for role, ims_value in value.items():
            if not ims_value.strip():
                raise ValueError(
                    f"{role}: an empty value would reset the profile or role; leave the entry out instead"
                )
        return value


class ItslearningSettings(BaseModel):
    """An itslearning IMS Enterprise Services integration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        description=(
            "Endpoint URL as itslearning's admin page shows it for the integration (Administration › Manage "
            f"IMS Enterprise › Web services), e.g. {EXAMPLE_URL}. A bare enterprise host "
            "(https://enterprise.itslearning.com) is completed to that path; an itslearning site address "
            "(https://school.itslearning.com) is refused."
        )
    )
    endpoints: EndpointMode = Field(
        EndpointMode.COMBINED,
        description=(
            "combined: every request to the URL (itslearning's combined port, chosen by SOAPAction); "
            "per-service: one .svc per service (PersonManagementServiceSync.svc …) in the URL's folder."
        ),
    )
    service_urls: ServiceUrls = Field(
        default_factory=ServiceUrls,
        description="Explicit per-service endpoint URLs; each overrides the derived one.",
    )
    username: str = Field(min_length=1, description="The integration's username (generated by itslearning).")
    password_env: str | None = Field(
        None, description="Name of the environment variable holding the password."
    )
    password_file: str | None = Field(
        None, description="File holding the password (e.g. /run/secrets/itslearning)."
    )
    password: SecretStr | None = Field(
        None,
        description="The password itself; prefer password_env or password_file (no secrets in files).",
    )
    site_root: str = Field(
        min_length=1,
        max_length=Limits.SYNC_KEY,
        description=(
            "syncId of the site root hierarchy; groups without a parent (schools) hang under it. "
            "Give the root a syncId in itslearning first."
        ),
    )
    max_operations_in_flight: int = Field(
        9,
        ge=1,
        le=50,
        description=(
            "Ceiling of operations (objects in all unanswered requests together; each membership member one) "
            "that is never passed. itslearning asks for fewer than 10; raise it only as agreed with itslearning."
        ),
    )
    adaptive: bool = Field(
        True,
        description=(
            "Below the ceiling, send less when itslearning answers busy, fails or slows down, and more again "
            "while it keeps up. false pins the budget at the ceiling."
        ),
    )
    batch_size: int = Field(
        50,
        ge=1,
        le=50,
        description=(
            "Objects per request at most (itslearning strongly discourages more than 50 operations a request); "
            "the operations budget makes requests smaller when it must."
        ),
    )
    timeout_s: float = Field(
        120.0, gt=0, le=900, description="Seconds to wait for one request (connect, send, answer)."
    )
    verify_tls: bool = Field(
        True, description="Verify itslearning's TLS certificate. Turn off only for a local test server."
    )
    send_guardian_relationships: bool = Field(
        False,
        description=(
            "Send a guardian's children as Child relationships on the Carer person "
            "(needs itslearning's parent feature)."
        ),
    )
    profile_map: ProfileMap = Field(default_factory=ProfileMap, description="Overrides of the role mappings.")
    archive_name: str = Field(
        "Archief",
        min_length=1,
        max_length=Limits.DESC_SHORT,
        description="Name of the per-school hierarchy archived groups move into.",
    )
    takeover: TakeoverSettings = Field(
        default_factory=TakeoverSettings,
        description="How `koppel takeover` recognises what a previous koppeling left on the site (docs/takeover.md).",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "in_flight" in data:
            raise ValueError(
                "in_flight (requests at the same time) was replaced by max_operations_in_flight: the objects in "
                "all unanswered requests together, 9 by default, as itslearning asks. Remove in_flight"
            )
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return complete_url(_check_url(value))

    @model_validator(mode="after")
    def _one_password(self) -> ItslearningSettings:
        given = [name for name in ("password_env", "password_file", "password") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of password_env, password_file or password"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def password_ref(self) -> SecretRef:
        """Where the password comes from, as a SecretRef that never shows the value."""
        return SecretRef(
            env=self.password_env,
            file=self.password_file,
            value=self.password.get_secret_value() if self.password else None,
        )

    def mapping_config(self) -> MappingConfig:
        return MappingConfig(
            site_root=self.site_root,
            institution_roles={
                **DEFAULT_INSTITUTION_ROLES,
                **{k.value: v for k, v in self.profile_map.institution_roles.items()},
            },
            membership_roles={
                **DEFAULT_MEMBERSHIP_ROLES,
                **{k.value: v for k, v in self.profile_map.membership_roles.items()},
            },
            send_guardian_relationships=self.send_guardian_relationships,
            archive_name=self.archive_name,
        )


def complete_url(url: str) -> str:
    """The admin page's URL from what was pasted: a bare enterprise host gets the service path.

    An itslearning *site* address (``https://school.itslearning.com``) is not where IMS ES is served:
    refused with what to paste instead. A URL with a path is taken as given.
    """
    parts = urlsplit(url)
    if parts.path not in ("", "/"):
        return url
    host = parts.hostname or ""
    if is_loopback(host) or host.startswith(("enterprise.", "a1enterprise.")) or ".enterprise." in host:
        return f"{parts.scheme}://{parts.netloc}{SERVICE_PATH}"
    raise ValueError(
        f"{url!r} is not an IMS Enterprise Services endpoint. Paste the URL that itslearning's admin page "
        "(Administration › Manage IMS Enterprise › Web services) shows for the integration, e.g. "
        f"{EXAMPLE_URL}"
    )


def resolve_endpoints(settings: ItslearningSettings) -> dict[Service, str]:
    """The URL each service is posted to.

    ``url`` may be a ``.svc`` URL (as the admin page shows it) or the folder holding them.
    Combined mode (the default) posts everything to that ``.svc`` (or to
    ``ImsEnterpriseServicesPort.svc`` in the folder); per-service mode posts to
    ``<folder>/<Service>Sync.svc``. Explicit ``service_urls`` win.
    """
    url = settings.url.split("?", 1)[0]
    is_svc = url.rstrip("/").lower().endswith(".svc")
    base = url.rstrip("/").rsplit("/", 1)[0] if is_svc else url.rstrip("/")
    if settings.endpoints is EndpointMode.COMBINED:
        combined = url.rstrip("/") if is_svc else f"{base}/{COMBINED_PORT}"
        derived = {service: combined for service in Service}
    else:
        derived = {service: f"{base}/{service.endpoint_file}" for service in Service}
    explicit = {Service(name): value for name, value in settings.service_urls.model_dump().items() if value}
    return {**derived, **explicit}


def _check_url(value: str) -> str:
    """HTTPS, or plain HTTP to this machine only (the sandbox): itslearning only speaks HTTPS."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"{value!r}: itslearning is reached over HTTPS only; plain http is allowed for localhost alone"
        )
    return value.strip()

