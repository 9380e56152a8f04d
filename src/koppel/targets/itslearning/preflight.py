"""``koppel check`` for itslearning: can koppel work with this integration? Reads only, never writes.

Each step is one harmless read, in the order a problem is most useful to find:

1. **endpoint, TLS, credentials** — ``readPerson`` of an id that does not exist. Any IMS answer
   (``unknownobject`` is the normal one) proves the host answers, TLS verified, the SOAPAction is
   served at this URL and the WS-Security credentials were accepted; each failure names its fix.
2. **site root** — ``readGroup`` of ``site_root``: the hierarchy koppel hangs its schools under must
   exist with that sync id (an administrator gives the root a sync id in the UI).
3. (full) **memberships** — ``readMembershipsForGroup`` of the site root: the membership service answers.
4. (full) **readAllPersons** — page 1: enabled for the integration (reconcile and takeover need it), how
   many accounts the site holds, and how many of those on the first page carry a sync id already
   (another koppeling or an IMS-E import filled the site: run ``koppel takeover`` before the first sync).
5. (full) **profiles** — the role values the configuration maps to (``profile_map``) against the 2017
   contract's enumerations: a value it does not list faults every request that carries it, unless the
   site maps that profile name (itslearning lets a site do so). A warning, since koppel cannot see it.
6. (full) **writes** — not checked: IMS ES has no harmless write. The first apply shows them.

A failed step skips the steps that depend on it, so one cause gives one message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from koppel.errors import (
    KoppelError,
    TargetAuthError,
    TargetConfigError,
    TargetError,
    TransientTargetError,
)
from koppel.retry import RetryPolicy
from koppel.targets.base import Check, CheckStatus
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.requests import (
    read_all_persons,
    read_group,
    read_memberships_for_group,
    read_person,
)
from koppel.targets.itslearning.responses import read_all_persons_result, read_group_result
from koppel.targets.itslearning.settings import EXAMPLE_URL, ItslearningSettings
from koppel.targets.itslearning.values import (
    CodeMajor,
    PageRequest,
    RequestHeader,
    Severity,
    SoapResponse,
    StatusInfo,
)

__all__ = ["run_checks"]

# A check is interactive and runs before writes: two quick tries, not a long backoff.
CHECK_RETRY = RetryPolicy(max_attempts=2, initial_delay_s=0.5, max_delay_s=1.0)
ADMIN_PAGE = "Administration › Manage IMS Enterprise › Web services"


def run_checks(client: ImsClient, header: Callable[[], RequestHeader], settings: ItslearningSettings, *,
               full: bool = True) -> list[Check]:
    checks: list[Check] = []
    urls = sorted(set(client.endpoints.values()))
    try:
        status = _first(client.send(read_person(f"koppel-check-{uuid.uuid4().hex[:12]}", header=header()),
                                    retry=CHECK_RETRY))
    except KoppelError as exc:
        checks += _connection_failed(exc, urls, settings)
        checks += _skipped(full, "the endpoint or the credentials failed")
        return checks
    checks.append(Check("endpoint", CheckStatus.OK, "itslearning answers at " + ", ".join(urls)))
    checks.append(_tls(urls, settings))
    if status.code_major is CodeMajor.SUCCESS or status.has_code("unknownobject"):
        checks.append(Check("credentials", CheckStatus.OK,
                            f"itslearning accepted the integration's user name {settings.username!r}"))
    else:
        checks.append(Check("credentials", CheckStatus.FAILED,
                            f"itslearning refused to read a person: {_why(status)}",
                            "check in the integration's settings that it may use the person service"))
        checks += _skipped(full, "the credentials failed")
        return checks
    checks.append(_site_root(client, header, settings))
    if full:
        checks.append(_memberships(client, header, settings))
        checks.append(_accounts(client, header))
        checks.append(_profiles(settings))
        checks.append(Check("writes", CheckStatus.SKIPPED,
                            "create, update and delete cannot be checked without writing; the first apply shows "
                            "whether the integration may use them"))
    return checks


def _connection_failed(exc: KoppelError, urls: list[str], settings: ItslearningSettings) -> list[Check]:
    text = str(exc)
    if isinstance(exc, TargetAuthError):
        return [Check("endpoint", CheckStatus.OK, "itslearning answers at " + ", ".join(urls)),
                _tls(urls, settings),
                Check("credentials", CheckStatus.FAILED, text,
                      f"copy the user name and password again from {ADMIN_PAGE}; the password goes in the "
                      f"environment variable or file the configuration names")]
    if isinstance(exc, TargetConfigError) and "TLS certificate" in text:
        return [Check("tls", CheckStatus.FAILED, text,
                      "itslearning's certificate must verify; if a proxy intercepts TLS, give its CA to this "
                      "machine's trust store (SSL_CERT_FILE)")]
    if isinstance(exc, TargetConfigError):
        return [Check("endpoint", CheckStatus.FAILED, text, f"paste the URL {ADMIN_PAGE} shows, e.g. {EXAMPLE_URL}")]
    if isinstance(exc, TransientTargetError) and ("ConnectError" in text or "timed out" in text):
        host = urlsplit(urls[0]).hostname
        return [Check("endpoint", CheckStatus.FAILED, text,
                      f"check the URL's host ({host}) and that this machine may reach it (DNS, firewall, proxy)")]
    if isinstance(exc, TargetError):
        return [Check("endpoint", CheckStatus.FAILED, text,
                      "itslearning answers with errors; try again later or ask itslearning's support")]
    return [Check("endpoint", CheckStatus.FAILED, text)]


def _tls(urls: list[str], settings: ItslearningSettings) -> Check:
    if all(url.startswith("http://") for url in urls):
        return Check("tls", CheckStatus.OK, "plain http to this machine (a local sandbox)")
    if not settings.verify_tls:
        return Check("tls", CheckStatus.WARNING, "TLS certificate verification is off",
                     "turn verify_tls back on for production")
    return Check("tls", CheckStatus.OK, "itslearning's TLS certificate verified")


def _site_root(client: ImsClient, header: Callable[[], RequestHeader], settings: ItslearningSettings) -> Check:
    root = settings.site_root
    fix = (f"give the site's root hierarchy the sync id {root!r} in itslearning (Administration › Hierarchies, "
           "the top node), or set site_root to the sync id it has")
    try:
        response = client.send(read_group(root, header=header()), retry=CHECK_RETRY)
    except KoppelError as exc:
        return Check("site root", CheckStatus.FAILED, f"reading hierarchy {root!r} failed: {exc}", fix)
    group = read_group_result(response)
    if group is None:
        return Check("site root", CheckStatus.FAILED,
                     f"there is no hierarchy with sync id {root!r} ({_why(_first(response))})", fix)
    if (group.type or "").lower() not in ("site", ""):
        return Check("site root", CheckStatus.WARNING,
                     f"{root!r} is a {group.type} hierarchy ({group.name}), not the site root; koppel's schools "
                     "will hang under it", "if that is not intended, set site_root to the root's sync id")
    return Check("site root", CheckStatus.OK, f"hierarchy {root!r} exists ({group.name or 'the site'})")


def _memberships(client: ImsClient, header: Callable[[], RequestHeader], settings: ItslearningSettings) -> Check:
    try:
        response = client.send(read_memberships_for_group(settings.site_root, header=header()), retry=CHECK_RETRY)
    except KoppelError as exc:
        return Check("memberships", CheckStatus.FAILED, f"the membership service failed: {exc}",
                     "check in the integration's settings that it may manage memberships")
    status = _first(response)
    if status.code_major is CodeMajor.SUCCESS or status.has_code("unknownobject"):
        return Check("memberships", CheckStatus.OK, "the membership service answers")
    return Check("memberships", CheckStatus.FAILED, f"the membership service refused: {_why(status)}",
                 "check in the integration's settings that it may manage memberships")


def _accounts(client: ImsClient, header: Callable[[], RequestHeader]) -> Check:
    try:
        response = client.send(read_all_persons(PageRequest(index=1, size=100), header=header()), retry=CHECK_RETRY)
        status = _first(response)
        page = read_all_persons_result(response) if status.code_major is CodeMajor.SUCCESS else None
    except KoppelError as exc:
        status, page = None, None
        why = str(exc)
    else:
        why = _why(status) if page is None else ""
    if page is None:
        return Check("readAllPersons", CheckStatus.WARNING, f"readAllPersons is not available ({why})",
                     "enable readAllPersons in the integration's settings: reconcile and takeover need it")
    keyed = sum(1 for key, _ in page.persons if key)
    data = {"accounts": page.virtual_count, "first_page": len(page.persons), "with_sync_id": keyed}
    message = f"readAllPersons is enabled; the site holds {page.virtual_count:,} account(s)"
    if keyed:
        message += f", {keyed} of the first {len(page.persons)} with a sync id"
    return Check("readAllPersons", CheckStatus.OK, message, data=data)


# The 2017 WSDL's enumerations (shared/reference/itslearning-wsdl-facts.md §7).
INSTITUTION_ROLE_TYPES = frozenset({
    "Student", "Faculty", "Member", "Learner", "Instructor", "Mentor", "Staff", "Alumni", "ProspectiveStudent",
    "Guest", "Other", "Administrator", "Observer", "Carer"})
ROLE_TYPES = frozenset({
    "Learner", "Instructor", "ContentDeveloper", "Member", "Manager", "Mentor", "Administrator", "TeachingAssistant",
    "01", "02", "03", "04", "05", "06", "07", "08", "Default", "Guest"})


def _profiles(settings: ItslearningSettings) -> Check:
    config = settings.mapping_config()
    unknown = sorted({v for v in config.institution_roles.values() if v not in INSTITUTION_ROLE_TYPES}
                     | {v for v in config.membership_roles.values() if v not in ROLE_TYPES})
    if not unknown:
        return Check("profiles", CheckStatus.OK, "every mapped profile and role is in itslearning's IMS ES contract")
    return Check("profiles", CheckStatus.WARNING,
                 f"itslearning's 2017 contract does not list {', '.join(repr(v) for v in unknown)}: a request "
                 "carrying it fails as a whole unless the site maps that profile name",
                 "check Profiles › Synchronisation – Map from profile in itslearning, or use a listed value")


def _skipped(full: bool, why: str) -> list[Check]:
    names = ["site root"] + (["memberships", "readAllPersons", "profiles", "writes"] if full else [])
    return [Check(name, CheckStatus.SKIPPED, f"not checked: {why}") for name in names]


def _first(response: SoapResponse) -> StatusInfo:
    """The status that speaks for a one-object read (a statusInfoSet's first failure, if any)."""
    if not response.statuses:
        return StatusInfo(code_major=CodeMajor.UNKNOWN, severity=Severity.UNKNOWN)
    return next((s for s in response.statuses if s.code_major is not CodeMajor.SUCCESS), response.statuses[0])


def _why(status: StatusInfo | None) -> str:
    if status is None:
        return "no status"
    return status.description or status.code or status.code_major.value
