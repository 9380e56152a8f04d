"""``koppel check`` for SCIM: can koppel work with this service provider? Reads only, never writes.

1. **endpoint** — ``GET /ServiceProviderConfig`` (RFC 7644 §4): the host answers, TLS verified, a SCIM
   service lives at the URL; what it supports (PATCH, filters, ETags, Bulk) decides how koppel talks to it;
2. **token** — ``GET /Users?count=1``: the bearer token is accepted for the Users endpoint;
3. **features** — koppel needs filters (it finds its objects by ``externalId``); without PATCH every change
   is a GET and a PUT, with ``If-Match`` where the server gives ETags;
4. (full) **resource types** — ``/ResourceTypes`` lists User and Group;
5. (full) **accounts** — how many Users the server holds and how many carry an externalId already;
6. (full) **writes** — not checked: SCIM has no harmless write. The first apply shows them.
"""

from __future__ import annotations

from koppel.errors import KoppelError, TargetAuthError
from koppel.retry import RetryPolicy
from koppel.targets.base import Check, CheckStatus
from koppel.targets.scim.session import Features, Session

__all__ = ["run_checks"]

CHECK_RETRY = RetryPolicy(max_attempts=2, initial_delay_s=0.5, max_delay_s=1.0)


def run_checks(session: Session, *, full: bool = True) -> list[Check]:
    client = session.client
    url = client.base_url
    config_problem: str | None = None
    auth_problem: str | None = None
    try:
        answer = client.get("ServiceProviderConfig", retry=CHECK_RETRY)
    except TargetAuthError as exc:
        auth_problem = str(exc)
    except KoppelError as exc:
        return [Check("endpoint", CheckStatus.FAILED, f"no SCIM service answers at {url}: {exc}",
                      "check url (the SCIM base the application shows, e.g. https://app.example.com/scim/v2), the "
                      "network and the certificate"), *_skipped(full, "the endpoint failed")]
    else:
        config_problem = None if answer.ok else answer.detail
    checks = [_endpoint(url, config_problem)]
    checks.append(_tls(url, session))
    try:
        client.get("Users", params={"count": 1}, retry=CHECK_RETRY)
    except TargetAuthError as exc:
        auth_problem = str(exc)
    except KoppelError as exc:
        checks.append(Check("token", CheckStatus.FAILED, f"GET /Users failed: {exc}"))
        return checks + _skipped(full, "the Users endpoint failed", "features")
    if auth_problem:
        checks.append(Check("token", CheckStatus.FAILED, auth_problem,
                            "issue a new token in the application's provisioning settings and point token_env or "
                            "token_file at it"))
        return checks + _skipped(full, "the token was refused", "features")
    checks.append(Check("token", CheckStatus.OK, "the SCIM server accepted the bearer token"))
    features = session.features()
    checks.append(_features(features))
    if full:
        checks.append(_resource_types(session))
        checks.append(_accounts(session))
        checks.append(Check("writes", CheckStatus.SKIPPED, "not checked: SCIM has no harmless write"))
    return checks


def _endpoint(url: str, problem: str | None) -> Check:
    if problem is None:
        return Check("endpoint", CheckStatus.OK, f"a SCIM service answers at {url}")
    return Check("endpoint", CheckStatus.WARNING,
                 f"{url}/ServiceProviderConfig answered {problem}; koppel assumes PATCH and filters",
                 "check that url is the SCIM base (the folder holding /Users and /Groups)")


def _tls(url: str, session: Session) -> Check:
    if not url.startswith("https:"):
        return Check("tls", CheckStatus.WARNING, "plain HTTP (allowed for this machine only)")
    if not session.settings.verify_tls:
        return Check("tls", CheckStatus.WARNING, "TLS certificate verification is off",
                     "turn verify_tls back on outside a test set-up")
    return Check("tls", CheckStatus.OK, "the TLS certificate was verified")


def _features(features: Features) -> Check:
    data = {"patch": features.patch, "filter": features.filter, "etag": features.etag, "bulk": features.bulk}
    said = ", ".join(f"{name} {'yes' if on else 'no'}" for name, on in data.items())
    source = "the server says" if features.known else "assumed (no ServiceProviderConfig)"
    if not features.filter:
        return Check("features", CheckStatus.FAILED, f"{said} ({source}): koppel finds its Users and Groups by "
                     "externalId with a filter, and this server takes none", "ask the vendor for filter support "
                     "(externalId eq)", data)
    if not features.patch:
        how = "with If-Match (ETags)" if features.etag else "without If-Match (no ETags: a change made in between is lost)"
        return Check("features", CheckStatus.WARNING, f"{said} ({source}): every change is a GET and a PUT {how}",
                     None, data)
    return Check("features", CheckStatus.OK, f"{said} ({source})", None, data)


def _resource_types(session: Session) -> Check:
    try:
        answer = session.client.get("ResourceTypes", retry=CHECK_RETRY)
    except KoppelError as exc:
        return Check("resource types", CheckStatus.WARNING, f"GET /ResourceTypes failed: {exc}")
    if not answer.ok or answer.body is None:
        return Check("resource types", CheckStatus.WARNING, f"GET /ResourceTypes answered {answer.detail}")
    resources = answer.body.get("Resources") or []
    names = {str(r.get("name")) for r in resources if isinstance(r, dict)}
    missing = {"User", "Group"} - names
    if missing:
        return Check("resource types", CheckStatus.FAILED, f"the server serves no {', '.join(sorted(missing))}",
                     "koppel provisions Users and Groups; ask the vendor")
    return Check("resource types", CheckStatus.OK, "User and Group are served")


def _accounts(session: Session) -> Check:
    client = session.client
    try:
        total = client.get("Users", params={"count": 0}, retry=CHECK_RETRY)
        keyed = client.get("Users", params={"count": 0, "filter": "externalId pr"}, retry=CHECK_RETRY)
    except KoppelError as exc:
        return Check("accounts", CheckStatus.WARNING, f"the Users could not be counted: {exc}")
    accounts = int((total.body or {}).get("totalResults") or 0)
    with_external_id = int((keyed.body or {}).get("totalResults") or 0) if keyed.ok else None
    message = f"the server holds {accounts:,} User(s)"
    if with_external_id is not None:
        message += f", {with_external_id:,} with an externalId"
    return Check("accounts", CheckStatus.OK, message, None,
                 {"accounts": accounts, **({"with_external_id": with_external_id} if with_external_id is not None
                                           else {})})


def _skipped(full: bool, why: str, start: str = "token") -> list[Check]:
    names = ["token", "features"] + (["resource types", "accounts", "writes"] if full else [])
    return [Check(name, CheckStatus.SKIPPED, f"not checked: {why}") for name in names[names.index(start):]]
