"""The SCIM target against a real SCIM server (scim2-server as a process): what lands, 409 on a taken userName
(adopt or report, never a second account), paging, a server without PATCH (GET + PUT with If-Match, 412),
Retry-After, refused tokens, ``koppel check`` and the payload preview."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import pytest

from koppel.errors import TargetAuthError, TransientTargetError
from koppel.model.change import Action, ItemOutcome
from koppel.model.desired import ObjectKind
from koppel.targets.base import CheckStatus
from koppel.targets.scim.preview import preview
from koppel.testing.conformance import change, course, membership, person, school
from tests.target_scim.conftest import make_target
from tests.target_scim.server import TOKEN, Tenant, proxy_for, start_server

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def by_external_id(tenant: Tenant, endpoint: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for resource in tenant.all(endpoint):
        out.setdefault(resource.get("externalId"), []).append(resource)
    return out


def test_what_lands_on_the_server(target, tenant):
    results = target.apply([school()]) + target.apply([course("c1", "conf-school")]) + target.apply(
        [person("las:1"), person("las:2", given="Jan", prefix="", family="Jansen", role="staff")]) + target.apply(
        [membership("las:1", "c1"), membership("las:2", "c1", "teacher")])
    assert all(r.ok for r in results), results
    users = by_external_id(tenant, "Users")
    groups = by_external_id(tenant, "Groups")
    zoe = users["las:1"][0]
    assert (zoe["userName"], zoe["name"]["givenName"], zoe["name"]["familyName"], zoe["userType"], zoe["active"]) == (
        "las1", "Zoë", "van der Berg", "Student", True)
    assert zoe["emails"] == [{"value": "las1@example.org", "type": "work", "primary": True}]
    assert users["las:2"][0]["userType"] == "Staff"
    assert {m["value"] for m in groups["c1"][0]["members"]} == {zoe["id"], users["las:2"][0]["id"]}
    assert groups["c1"][0]["displayName"] == "Nederlands 1A"
    # The ids the server gave come back as target ids, for the state to record.
    assert {r.key: r.target_id for r in results if r.key in ("las:1", "c1")} == {"las:1": zoe["id"],
                                                                                   "c1": groups["c1"][0]["id"]}

    # Member removal: PATCH remove with a value filter; the other member stays.
    gone = change(Action.DELETE, ObjectKind.MEMBERSHIP, "las:1|c1|student",
                  before={"person": "las:1", "group": "c1", "role": "student"})
    assert target.apply([gone])[0].ok
    assert {m["value"] for m in by_external_id(tenant, "Groups")["c1"][0].get("members", [])} == {
        users["las:2"][0]["id"]}

    # Suspend is active=false, the account and its data stay; restore makes it active again.
    assert target.apply([change(Action.SUSPEND, ObjectKind.PERSON, "las:1", before=dict(person("las:1").after))])[0].ok
    assert by_external_id(tenant, "Users")["las:1"][0]["active"] is False
    restore = change(Action.RESTORE, ObjectKind.PERSON, "las:1", dict(person("las:1").after), target_id=zoe["id"])
    assert target.apply([restore])[0].ok
    assert by_external_id(tenant, "Users")["las:1"][0]["active"] is True


def test_creating_again_makes_nothing_twice(target, tenant):
    batch = [school(), course("c1", "conf-school")]
    assert all(r.ok for r in target.apply(batch))
    target.close()
    again = make_target(tenant.url, Path("."))  # a new run: nothing remembered, the server is asked
    try:
        results = again.apply(batch) + again.apply([person("las:1")]) + again.apply([person("las:1")])
        assert all(r.ok for r in results)
        assert results[-1].outcome is ItemOutcome.WARNING and results[-1].code == "adopted"
    finally:
        again.close()
    assert {k: len(v) for k, v in by_external_id(tenant, "Groups").items()} == {"conf-school": 1, "c1": 1}
    assert {k: len(v) for k, v in by_external_id(tenant, "Users").items()} == {"las:1": 1}


# -- 409: a taken userName ----------------------------------------------------------------------------


def test_a_taken_user_name_of_another_person_is_reported_and_no_second_account_is_made(target, tenant):
    tenant.create("Users", {"schemas": [USER], "userName": "LAS1", "externalId": "other-idp:77"})
    tenant.create("Users", {"schemas": [USER], "userName": "las2"})  # made by hand: no externalId
    results = target.apply([person("las:1"), person("las:2")])
    assert [r.outcome for r in results] == [ItemOutcome.FAILED, ItemOutcome.FAILED]
    assert all(r.code == "username-taken" for r in results)
    assert "'las1' is taken" in results[0].message and "other-idp:77" in results[0].message
    assert "no externalId" in results[1].message
    assert "las:1" not in by_external_id(tenant, "Users") and len(tenant.all("Users")) == 2


def test_a_taken_user_name_that_is_provably_this_person_is_adopted(target, tenant):
    made = tenant.create("Users", {"schemas": [USER], "userName": "las1", "externalId": "las:1", "active": False})
    [result] = target.apply([person("las:1")])
    assert (result.outcome, result.code, result.target_id) == (ItemOutcome.WARNING, "adopted", made["id"])
    [user] = tenant.all("Users")
    assert (user["id"], user["active"], user["name"]["givenName"]) == (made["id"], True, "Zoë")


def test_the_409_itself_leads_to_adoption_when_the_external_id_matches(target, tenant):
    """Without the look-up first (a User made between the look-up and the POST): the server's 409 is read."""
    made = tenant.create("Users", {"schemas": [USER], "userName": "las1", "externalId": "las:1"})
    result = target.users.upsert(person("las:1"), None)  # as if the look-up had found nothing
    assert (result.outcome, result.code, result.target_id) == (ItemOutcome.WARNING, "adopted", made["id"])
    assert "externalId is this person's sync key" in result.message
    assert len(tenant.all("Users")) == 1


# -- paging ---------------------------------------------------------------------------------------------


def test_read_pages_through_users_and_groups(scim_server, tenant_name, tmp_path):
    tenant = scim_server.tenant(tenant_name)
    with proxy_for(scim_server, tenant_name) as proxy:
        target = make_target(proxy.url, tmp_path, page_size=10)
        try:
            assert all(r.ok for r in target.apply([school()]))
            assert all(r.ok for r in target.apply([person(f"las:{n}") for n in range(25)]))
            assert all(r.ok for r in target.apply([membership(f"las:{n}", "conf-school") for n in range(25)]))
            proxy.reset()
            snapshot = target.read()
        finally:
            target.close()
    assert snapshot.complete
    persons = [o for o in snapshot.objects if o.kind is ObjectKind.PERSON]
    assert len(persons) == 25 and len(tenant.all("Users")) == 25
    assert sum(1 for o in snapshot.objects if o.kind is ObjectKind.MEMBERSHIP) == 25
    assert proxy.counts == {"GET": 3 + 1}, "three pages of Users, one of Groups"


# -- a server without PATCH: GET, merge, PUT with If-Match; a 412 reads again ----------------------------


@pytest.fixture(scope="module")
def patchless(tmp_path_factory):
    """A second scim2-server process whose ServiceProviderConfig says: no PATCH (ETags and filters yes)."""
    server = start_server(tmp_path_factory.mktemp("patchless"), service_provider_config={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": False}, "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 1000}, "changePassword": {"supported": False},
        "sort": {"supported": False}, "etag": {"supported": True}})
    yield server
    server.stop()


def test_without_patch_changes_are_put_with_if_match_and_a_412_reads_again(patchless, tenant_name, tmp_path):
    tenant = patchless.tenant(tenant_name)
    with proxy_for(patchless, tenant_name) as proxy:
        target = make_target(proxy.url, tmp_path)
        try:
            assert [c.status for c in target.check(full=False) if c.name == "features"] == [CheckStatus.WARNING]
            assert all(r.ok for r in target.apply([school()]) + target.apply([person("las:1"), person("las:2")]))
            # Someone changes the group between koppel's GET and its PUT, once: the server answers 412.
            raced: list[str] = []

            def edit_in_between(method: str, path: str) -> None:
                if method == "PUT" and "/Groups/" in path and not raced:
                    raced.append(path)
                    with tenant.client() as c:
                        current = c.get(path.split("/v2/", 1)[1]).json()
                        c.put(path.split("/v2/", 1)[1], json={**current, "displayName": "renamed by hand"},
                              headers={"If-Match": current["meta"]["version"]}).raise_for_status()

            proxy.before_forward = edit_in_between
            proxy.reset()
            results = target.apply([membership("las:1", "conf-school"), membership("las:2", "conf-school")])
        finally:
            target.close()
    assert all(r.ok for r in results), results
    assert raced and proxy.counts["PATCH"] == 0
    assert proxy.counts["PUT"] == 2, "the PUT that met a 412 was read, merged and sent again"
    [group] = tenant.all("Groups")
    assert len(group["members"]) == 2 and group["displayName"] == "renamed by hand"


def test_without_patch_a_person_update_keeps_what_koppel_does_not_own(patchless, tenant_name, tmp_path):
    tenant = patchless.tenant(tenant_name)
    target = make_target(tenant.url, tmp_path)
    try:
        [created] = target.apply([person("las:1")])
        with tenant.client() as c:
            current = c.get(f"Users/{created.target_id}").json()
            c.put(f"Users/{created.target_id}", json={**current, "nickName": "Zo", "title": "klassenvertegenwoordiger"},
                  headers={"If-Match": current["meta"]["version"]}).raise_for_status()
        update = change(Action.UPDATE, ObjectKind.PERSON, "las:1", {**person("las:1").after, "family": "Bergen"},
                        fields=("family",), target_id=created.target_id)
        assert target.apply([update])[0].ok
    finally:
        target.close()
    [user] = tenant.all("Users")
    assert (user["name"]["familyName"], user["nickName"], user["title"]) == ("van der Bergen", "Zo",
                                                                             "klassenvertegenwoordiger")


# -- busy: Retry-After -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status, header, expected", [
    (429, "7", 7.0),
    (503, "date", 30.0),
])
def test_busy_answers_raise_an_overload_with_the_servers_retry_after(scim_server, tenant_name, tmp_path, status,
                                                                     header, expected):
    if header == "date":
        header = email.utils.formatdate(time.time() + 30, usegmt=True)
    tenant = scim_server.tenant(tenant_name)
    with proxy_for(scim_server, tenant_name) as proxy:
        proxy.fault = lambda method, path: (status, {"Retry-After": header, "Content-Type": "application/scim+json"},
                                            b'{"status": "%d"}' % status) if method == "POST" else None
        target = make_target(proxy.url, tmp_path)
        try:
            with pytest.raises(TransientTargetError) as raised:
                target.apply([person("las:1"), person("las:2"), person("las:3")])
            assert raised.value.overload and raised.value.retry_after == pytest.approx(expected, abs=2)
            proxy.fault = None  # the server recovered: the applier sends the batch again
            results = target.apply([person("las:1"), person("las:2"), person("las:3")])
        finally:
            target.close()
    assert all(r.ok for r in results)
    assert len(tenant.all("Users")) == 3


def test_a_refused_token_stops_the_run(tenant, tmp_path):
    from koppel.connectors import ConnectorContext
    from koppel.targets.scim import factory

    target = factory("scim", {"url": tenant.url, "token": "wrong"}, ConnectorContext(tenant="t", base_dir=tmp_path))
    try:
        with pytest.raises(TargetAuthError, match="refused the bearer token"):
            target.apply([person("las:1")])
        checks = {c.name: c for c in target.check(full=True)}
        assert checks["token"].status is CheckStatus.FAILED and checks["accounts"].status is CheckStatus.SKIPPED
    finally:
        target.close()


# -- koppel check and the preview --------------------------------------------------------------------------


def test_check_reports_what_the_server_supports(target, tenant):
    tenant.create("Users", {"schemas": [USER], "userName": "by-hand"})
    checks = {c.name: c for c in target.check(full=True)}
    assert {name: c.status for name, c in checks.items()} == {
        "endpoint": CheckStatus.OK, "tls": CheckStatus.WARNING, "token": CheckStatus.OK, "features": CheckStatus.OK,
        "resource types": CheckStatus.OK, "accounts": CheckStatus.OK, "writes": CheckStatus.SKIPPED}
    assert dict(checks["features"].data) == {"patch": True, "filter": True, "etag": True, "bulk": True}
    assert dict(checks["accounts"].data) == {"accounts": 1, "with_external_id": 0}


def test_the_preview_shows_the_requests_without_the_token(tenant):
    settings = {"url": tenant.url, "token": TOKEN}
    payloads = preview(settings, [person("las:1")]) + preview(settings, [membership("las:1", "c1")]) + preview(
        settings, [change(Action.ARCHIVE, ObjectKind.GROUP, "c1", before=dict(course("c1", "s").after))])
    text = "\n".join(f"{p.title}\n{p.body}" for p in payloads)
    assert TOKEN not in text
    assert payloads[0].title.startswith(f"POST {tenant.url}/Users") and '"externalId": "las:1"' in payloads[0].body
    assert payloads[1].title == f"PATCH {tenant.url}/Groups/<id of c1>" and '"value": "<id of las:1>"' in payloads[1].body
    assert '"value": "Nederlands 1A (2025-2026)"' in payloads[2].body
