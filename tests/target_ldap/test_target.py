"""The LDAP target against a real slapd: TLS (LDAPS and StartTLS, verified), `check`, the account lifecycle with its
initial password, user names that are taken, entries found by key wherever they are, groups that never go empty,
and a member whose role changes."""

from __future__ import annotations

import csv
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3 import MODIFY_ADD

from koppel.errors import TargetAuthError, TargetConfigError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import CheckStatus
from koppel.targets.ldap import LdapTarget
from koppel.testing.conformance import TargetConformance, change, course, membership, person, school
from tests.conftest import need

from .slapd import Slapd, slapd_binary

SCHOOL_OU = "ou=99XX00"


def statuses(target: LdapTarget, *, full: bool = True) -> dict[str, CheckStatus]:
    return {c.name: c.status for c in target.check(full=full)}


def ok(results) -> None:
    assert all(r.outcome is ItemOutcome.DONE for r in results), results


def send(target: LdapTarget, changes: list[Change]) -> list[ItemResult]:
    """As the applier sends them: one kind and action per batch."""
    return TargetConformance().send(target, changes)


def report_rows(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in folder.glob("*.csv"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with path.open(encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


# -- TLS and check ------------------------------------------------------------------------------------


def test_ldaps_and_starttls_verify_the_server_against_the_ca_file(slapd: Slapd, make_target):
    ldaps = make_target(url=slapd.ldaps_url, ca_file=str(slapd.ca_file))
    checks = {c.name: c for c in ldaps.check()}
    assert checks["TLS"].status is CheckStatus.OK and "LDAPS, certificate and host name verified" in checks["TLS"].message
    assert all(c.status in (CheckStatus.OK, CheckStatus.SKIPPED) for c in checks.values()), checks
    starttls = make_target(url=f"ldap://localhost:{slapd.ldap_port}", start_tls=True, ca_file=str(slapd.ca_file))
    assert statuses(starttls)["TLS"] is CheckStatus.OK
    ok(starttls.apply([school()]))
    assert starttls.client.tls_in_use()


def test_an_unknown_ca_stops_the_run_and_check_says_what_to_do(slapd: Slapd, make_target):
    target = make_target(url=slapd.ldaps_url)  # the system's CAs: the test CA is not among them
    checks = {c.name: c for c in target.check()}
    assert checks["connection"].status is CheckStatus.FAILED
    assert "TLS failed" in checks["connection"].message and "ca_file" in (checks["connection"].fix or "")
    with pytest.raises(TargetConfigError, match="TLS failed"):
        target.apply([school()])
    starttls = make_target(url=f"ldap://localhost:{slapd.ldap_port}", start_tls=True)
    with pytest.raises(TargetConfigError, match="TLS failed"):
        starttls.apply([school()])
    unverified = make_target(url=slapd.ldaps_url, verify_tls=False)
    assert statuses(unverified)["TLS"] is CheckStatus.WARNING


@pytest.fixture(scope="module")
def misnamed_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """A slapd whose certificate names another host (ldap.school.test), not the address we reach it by."""
    if slapd_binary() is None:
        need("slapd is not installed (apt-get install slapd ldap-utils)")
    server = Slapd(tmp_path_factory.mktemp("misnamed"))
    import tests.target_ldap.slapd as module

    real = module.make_certificates
    module.make_certificates = lambda folder, names=("ldap.school.test",): real(folder, names)
    try:
        server.start()
    finally:
        module.make_certificates = real
    yield server
    server.stop()


@pytest.mark.parametrize("starttls", [False, True])
def test_a_certificate_for_another_host_name_is_refused(misnamed_slapd: Slapd, base_dn: str, tmp_path: Path,
                                                        starttls: bool):
    from koppel.connectors import ConnectorContext
    from koppel.targets.ldap import factory

    from .conftest import PASSWORD_ENV, ldap_settings
    from .slapd import ADMIN_PASSWORD

    url = f"ldap://127.0.0.1:{misnamed_slapd.ldap_port}" if starttls else f"ldaps://127.0.0.1:{misnamed_slapd.ldaps_port}"
    settings = ldap_settings(misnamed_slapd, base_dn, url=url, start_tls=starttls, ca_file=str(misnamed_slapd.ca_file))
    target = factory("ldap", settings, ConnectorContext("t", tmp_path, env={PASSWORD_ENV: ADMIN_PASSWORD}))
    try:
        with pytest.raises(TargetConfigError, match="TLS failed"):
            target.apply([school()])
    finally:
        target.close()


def test_check_names_wrong_credentials_a_missing_base_and_a_missing_schema(slapd: Slapd, make_target, tmp_path: Path):
    from koppel.connectors import ConnectorContext
    from koppel.targets.ldap import factory

    from .conftest import PASSWORD_ENV, ldap_settings

    settings = ldap_settings(slapd, "ou=x,dc=school,dc=test")
    wrong = factory("ldap", settings, ConnectorContext("t", tmp_path, env={PASSWORD_ENV: "wrong"}))
    assert statuses(wrong) == {"credentials": CheckStatus.FAILED}
    with pytest.raises(TargetAuthError, match="invalidCredentials"):
        wrong.apply([school()])
    wrong.close()
    assert statuses(make_target(base_dn="ou=nowhere,dc=school,dc=test"))["base DN"] is CheckStatus.FAILED
    keyless = make_target(person_key_attribute="koppelKey")
    checks = {c.name: c for c in keyless.check()}
    assert checks["schema"].status is CheckStatus.FAILED and "koppelkey" in checks["schema"].message
    assert statuses(make_target(), full=False) == {"connection": CheckStatus.OK, "TLS": CheckStatus.WARNING,
                                                   "base DN": CheckStatus.OK, "schema": CheckStatus.OK}


# -- accounts -----------------------------------------------------------------------------------------


def test_a_new_account_gets_a_reported_password_a_leaver_is_locked_and_a_return_unlocks(slapd: Slapd, make_target,
                                                                                      base_dn: str, tmp_path: Path):
    target: LdapTarget = make_target()
    ok(target.apply([school()]))
    ok(target.apply([person("conf:zoe")]))
    dn = f"uid=confzoe,ou=students,{SCHOOL_OU},{base_dn}"
    assert slapd.entry(dn) is not None
    target.close()
    rows = report_rows(tmp_path / "reports")
    assert [(r["username"], r["name"], r["role"], r["school"], r["dn"]) for r in rows] == [
        ("confzoe", "Zoë van der Berg", "student", "99XX00", dn)]
    password = rows[0]["initial_password"]
    assert len(password) == 12 and slapd.can_bind(dn, password)
    assert password not in (slapd.entry(dn, "userPassword") or {}).get("userPassword", [""])[0], "stored hashed"

    again: LdapTarget = make_target()
    before = {"role": "student", "username": "confzoe"}
    ok(again.apply([change(Action.SUSPEND, ObjectKind.PERSON, "conf:zoe", before=before)]))
    left = f"uid=confzoe,ou=leavers,{base_dn}"
    assert slapd.entry(dn) is None and (slapd.entry(left, "pwdAccountLockedTime") or {}).get("pwdAccountLockedTime")
    assert not slapd.can_bind(left, password), "a locked account cannot log in"
    restore = person("conf:zoe")
    ok(again.apply([change(Action.RESTORE, ObjectKind.PERSON, "conf:zoe", restore.after, before=before)]))
    assert slapd.entry(left) is None and slapd.can_bind(dn, password), "back in its school, unlocked, same password"
    assert len(report_rows(tmp_path / "reports")) == 1, "a restored account keeps its password"


def test_a_taken_user_name_is_refused_never_taken_over(slapd: Slapd, make_target, base_dn: str):
    conn = slapd.admin()
    conn.add(f"ou=handmade,{base_dn}", ["organizationalUnit"], {"ou": "handmade"})
    conn.add(f"uid=confjan,ou=handmade,{base_dn}", ["inetOrgPerson"], {"uid": "confjan", "cn": "Jan", "sn": "Hand"})
    conn.unbind()
    target: LdapTarget = make_target()
    ok(target.apply([school()]))
    result = target.apply([person("conf:jan")])[0]
    assert result.outcome is ItemOutcome.FAILED and result.code == "username-taken"
    assert f"uid=confjan,ou=handmade,{base_dn}" in (result.message or "")
    assert slapd.entry(f"uid=confjan,ou=students,{SCHOOL_OU},{base_dn}") is None, "no second account"


def test_entries_are_found_by_key_wherever_they_were_moved(slapd: Slapd, make_target, base_dn: str):
    ok(send(make_target(), [school(), person("conf:p1")]))
    conn = slapd.admin()
    conn.add(f"ou=elsewhere,{base_dn}", ["organizationalUnit"], {"ou": "elsewhere"})
    conn.modify_dn(f"uid=confp1,ou=students,{SCHOOL_OU},{base_dn}", "uid=confp1",
                   new_superior=f"ou=elsewhere,{base_dn}")
    conn.unbind()
    fresh: LdapTarget = make_target()
    after = {**person("conf:p1").after, "family": "Bergen"}
    ok(fresh.apply([change(Action.UPDATE, ObjectKind.PERSON, "conf:p1", after, before=person("conf:p1").after,
                           fields=("family",))]))
    assert slapd.entry(f"uid=confp1,ou=elsewhere,{base_dn}", "sn") == {"sn": ["Bergen"]}


# -- groups and members -------------------------------------------------------------------------------


def test_a_group_is_never_empty_the_placeholder_comes_and_goes(slapd: Slapd, make_target, base_dn: str):
    target: LdapTarget = make_target()
    ok(send(target, [school(), course("conf-c", "conf-school", name="Nederlands 1A")]))
    group = f"cn=Nederlands 1A,{SCHOOL_OU},{base_dn}"
    assert slapd.entry(group, "member") == {"member": [base_dn]}
    ok(target.apply([person("conf:a"), person("conf:b")]))
    ok(target.apply([membership("conf:a", "conf-c"), membership("conf:b", "conf-c")]))
    students = f"ou=students,{SCHOOL_OU},{base_dn}"
    assert sorted(slapd.entry(group, "member")["member"]) == [f"uid=confa,{students}", f"uid=confb,{students}"]
    ok(target.apply([membership("conf:a", "conf-c")]))  # a replay changes nothing
    gone = [change(Action.DELETE, ObjectKind.MEMBERSHIP, m.key, before=m.after)
            for m in (membership("conf:a", "conf-c"), membership("conf:b", "conf-c"))]
    ok(target.apply(gone))
    assert slapd.entry(group, "member") == {"member": [base_dn]}, "the placeholder takes the last member's place"
    ok(target.apply(gone))  # deleting what is gone is done
    ok(make_target().apply([membership("conf:a", "conf-c")]))  # a new run knows the group holds the placeholder
    assert slapd.entry(group, "member") == {"member": [f"uid=confa,{students}"]}


def test_a_role_change_in_one_run_keeps_the_member(slapd: Slapd, make_target, base_dn: str):
    target: LdapTarget = make_target()
    ok(send(target, [school(), course("conf-c", "conf-school"), person("conf:t", role="staff")]))
    ok(target.apply([membership("conf:t", "conf-c", "teacher")]))
    run: LdapTarget = make_target()
    ok(run.apply([membership("conf:t", "conf-c", "mentor")]))
    old = membership("conf:t", "conf-c", "teacher")
    ok(run.apply([change(Action.DELETE, ObjectKind.MEMBERSHIP, old.key, before=old.after)]))
    group = f"cn=Nederlands 1A,{SCHOOL_OU},{base_dn}"
    assert slapd.entry(group, "member") == {"member": [f"uid=conft,ou=staff,{SCHOOL_OU},{base_dn}"]}


def test_reading_back_maps_members_to_the_memberships_koppel_made(make_target):
    target: LdapTarget = make_target()
    ok(send(target, [school(), course("conf-c", "conf-school"), person("conf:t", role="staff")]))
    made = target.apply([membership("conf:t", "conf-c", "mentor")])
    assert made[0].target_id == "conf:t|conf-c"
    snapshot = target.read(known_target_ids={"conf:t|conf-c|mentor": "conf:t|conf-c"})
    keys = {o.key for o in snapshot.objects if o.kind is ObjectKind.MEMBERSHIP}
    assert keys == {"conf:t|conf-c|mentor", "conf:t|conf-school|teacher"}, "the home school is the entry's place"
    unknown = target.read()
    assert {o.key for o in unknown.objects if o.kind is ObjectKind.MEMBERSHIP} == {
        "conf:t|conf-c|teacher", "conf:t|conf-school|teacher"}, "without the id: the role staff usually has"


def test_deleting_a_person_takes_them_out_of_their_groups(slapd: Slapd, make_target, base_dn: str):
    target: LdapTarget = make_target()
    ok(send(target, [school(), course("conf-c", "conf-school"), person("conf:a")]))
    ok(target.apply([membership("conf:a", "conf-c")]))
    ok(target.apply([change(Action.DELETE, ObjectKind.PERSON, "conf:a", before=person("conf:a").after)]))
    assert slapd.entry(f"cn=Nederlands 1A,{SCHOOL_OU},{base_dn}", "member") == {"member": [base_dn]}


def test_a_school_ou_made_for_a_person_first_is_adopted_by_the_school(slapd: Slapd, make_target, base_dn: str):
    target: LdapTarget = make_target()
    ok(target.apply([person("conf:early")]))  # its school's OU is made on the way
    ok(target.apply([school()]))
    assert slapd.entry(f"{SCHOOL_OU},{base_dn}", "businessCategory", "description") == {
        "businessCategory": ["conf-school"], "description": ["Conformance College"]}


def test_writes_are_counted_by_the_server_and_a_replayed_create_writes_only_a_refresh(slapd: Slapd, make_target):
    target: LdapTarget = make_target()
    ok(send(target, [school(), person("conf:a")]))
    before = slapd.writes()
    conn = slapd.admin()
    conn.modify("cn=default-policy,dc=school,dc=test", {"description": [(MODIFY_ADD, ["touched"])]})
    conn.unbind()
    assert slapd.writes() == before + 1, "the monitor counts writes"
    again: LdapTarget = make_target()
    ok(again.apply([person("conf:a")]))
    assert slapd.writes() == before + 2, "one modify: the attributes again; no second password, no second entry"

