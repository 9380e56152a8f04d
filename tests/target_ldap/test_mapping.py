"""The pure mapping: koppel's objects as entries and modifications, for OpenLDAP and for Active Directory.

There is no Active Directory here: the ``ad`` flavour's entries (``user`` with sAMAccountName, userPrincipalName and
userAccountControl; ``group`` with groupType) are checked against what Microsoft documents (MS-ADTS), not against a
server. (Debian's msuser schema cannot stand in for one: its ``user`` and ``group`` classes require the attributes
Active Directory fills in itself, such as nTSecurityDescriptor and objectCategory.)
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.targets.ldap import preview
from koppel.targets.ldap.mapping import (
    LOCKED_FOREVER,
    AddEntry,
    MappingConfig,
    ModifyEntry,
    MoveEntry,
    ad_group_name,
    check_username,
    group_add,
    group_update,
    held_attrs,
    ldif,
    lock_changes,
    member_add,
    member_delete_last,
    norm_dn,
    parent_dn,
    person_add,
    person_attrs_of,
    person_update,
    unlock_changes,
)
from koppel.targets.ldap.settings import LdapSettings
from koppel.testing.conformance import change

BASE = "ou=koppel,dc=school,dc=nl"
ZOE = {"role": "student", "given": "Zoë", "prefix": "van der", "family": "Berg", "username": "zberg",
       "email": "zoe@leerling.school.nl"}


def settings(**extra: Any) -> LdapSettings:
    values: dict[str, Any] = {"url": "ldaps://dc1.school.nl", "bind_dn": "cn=koppel,dc=school,dc=nl",
                              "password_env": "X", "base_dn": BASE, **extra}
    return LdapSettings.model_validate(values)


OPENLDAP = MappingConfig.from_settings(settings())
AD = MappingConfig.from_settings(settings(flavour="ad"))


def test_an_openldap_person_is_an_inetorgperson_under_its_school_with_its_key():
    add = person_add(ZOE, "eck-123", OPENLDAP.person_parent("student", "12AB00"), OPENLDAP)
    assert add.dn == f"uid=zberg,ou=students,ou=12AB00,{BASE}"
    assert add.attributes["objectClass"] == ("top", "inetOrgPerson")
    assert add.attributes["uid"] == ("zberg",)
    assert add.attributes["cn"] == ("Zoë van der Berg",) and add.attributes["displayName"] == ("Zoë van der Berg",)
    assert add.attributes["sn"] == ("Berg",) and add.attributes["givenName"] == ("Zoë",)
    assert add.attributes["mail"] == ("zoe@leerling.school.nl",)
    assert add.attributes["employeeNumber"] == ("eck-123",)
    assert add.attributes["employeeType"] == ("student",)
    assert "userPassword" not in add.attributes, "passwords go by the Password Modify extended operation"


def test_an_ad_person_is_a_disabled_user_until_it_has_a_password():
    add = person_add(ZOE, "eck-123", AD.person_parent("student", "12AB00"), AD)
    assert add.dn == f"cn=zberg,ou=students,ou=12AB00,{BASE}", "AD names users by cn"
    assert add.attributes["objectClass"] == ("top", "person", "organizationalPerson", "user")
    assert add.attributes["sAMAccountName"] == ("zberg",)
    assert add.attributes["userPrincipalName"] == ("zberg@school.nl",), "the UPN suffix is the base DN's domain"
    assert add.attributes["userAccountControl"] == (str(0x200 | 0x2),), "NORMAL_ACCOUNT | ACCOUNTDISABLE"
    assert add.attributes["displayName"] == ("Zoë van der Berg",) and "uid" not in add.attributes
    assert MappingConfig.from_settings(settings(flavour="ad", upn_suffix="school.example")).upn_suffix == "school.example"


def test_ad_account_switches_flip_only_the_disable_bit():
    locked = lock_changes("cn=x", AD, uac=0x200 | 0x10000)  # DONT_EXPIRE_PASSWORD stays
    assert locked == ModifyEntry("cn=x", (("replace", "userAccountControl", (str(0x200 | 0x10000 | 0x2),)),))
    unlocked = unlock_changes("cn=x", AD, uac=0x200 | 0x10000 | 0x2)
    assert unlocked == ModifyEntry("cn=x", (("replace", "userAccountControl", (str(0x200 | 0x10000),)),))


def test_openldap_locks_with_ppolicy_or_only_moves():
    assert lock_changes("uid=x", OPENLDAP) == ModifyEntry("uid=x", (("replace", "pwdAccountLockedTime",
                                                                       (LOCKED_FOREVER,)),))
    assert unlock_changes("uid=x", OPENLDAP) == ModifyEntry("uid=x", (("replace", "pwdAccountLockedTime", ()),))
    move_only = MappingConfig.from_settings(settings(lock="move-only"))
    assert lock_changes("uid=x", move_only) is None and unlock_changes("uid=x", move_only) is None


@pytest.mark.parametrize(("name", "problem"), [
    ("jjansen", None), ("a" * 20, None), ("a" * 21, "longer than"), ("j[jansen]", "does not allow"), ("", "no user"),
])
def test_ad_user_names_follow_samaccountname_rules(name: str, problem: str | None):
    found = check_username(name, AD)
    assert (found is None) if problem is None else (problem in (found or ""))
    assert check_username("a" * 40, OPENLDAP) is None


def test_groups_klas_and_course_are_groupofnames_with_a_placeholder_schools_and_years_are_ous():
    school = group_add({"type": "school", "name": "Het Baken", "school": "12AB00", "parent": None}, "school:12AB00",
                       BASE, OPENLDAP)
    assert school.dn == f"ou=12AB00,{BASE}"
    assert school.attributes["objectClass"] == ("top", "organizationalUnit")
    assert school.attributes["description"] == ("Het Baken",) and school.attributes["businessCategory"] == ("school:12AB00",)
    year = group_add({"type": "folder", "name": "2025-2026"}, "year:12AB00:2025-2026", school.dn, OPENLDAP)
    assert year.dn == f"ou=2025-2026,ou=12AB00,{BASE}" and year.attributes["ou"] == ("2025-2026",)
    klas = group_add({"type": "klas", "name": "3A, havo"}, "las:12AB00:2025-2026:stamgroep:3A", year.dn, OPENLDAP)
    assert klas.dn == f"cn=3A\\, havo,{year.dn}", "names are escaped in the DN"
    assert klas.attributes["objectClass"] == ("top", "groupOfNames")
    assert klas.attributes["member"] == (BASE,), "groupOfNames must have a member: the placeholder, base_dn by default"
    custom = MappingConfig.from_settings(settings(empty_group_member="cn=nobody,dc=school,dc=nl"))
    assert group_add({"type": "course", "name": "ne 3A"}, "k", year.dn, custom).attributes["member"] == (
        "cn=nobody,dc=school,dc=nl",)


def test_an_ad_group_is_a_global_security_group_with_a_domain_unique_name_and_may_be_empty():
    attrs = {"type": "course", "name": "wiskunde B 5vwisB2", "school": "12AB00", "school_year": "2025-2026"}
    group = group_add(attrs, "las:12AB00:2025-2026:5vwisB2", f"ou=2025-2026,ou=12AB00,{BASE}", AD)
    assert group.attributes["objectClass"] == ("top", "group")
    assert group.attributes["groupType"] == ("-2147483646",)
    assert group.attributes["sAMAccountName"] == ("12AB00 2526 wiskunde B 5vwisB2",)
    assert "member" not in group.attributes and group.attributes["adminDescription"] == (
        "las:12AB00:2025-2026:5vwisB2",)
    long = ad_group_name({**attrs, "name": "x" * 80})
    assert len(long) == 64 and long == ad_group_name({**attrs, "name": "x" * 80}), "shortened stably"
    assert ad_group_name({**attrs, "name": "a/b"}) == "12AB00 2526 a_b"


def test_members_come_and_go_with_the_placeholder():
    add = member_add("cn=3A,ou=y", ["uid=a,ou=p"], OPENLDAP)
    assert add.changes == (("add", "member", ("uid=a,ou=p",)), ("delete", "member", (BASE,))) and add.permissive
    last = member_delete_last("cn=3A,ou=y", ["uid=a,ou=p"], OPENLDAP)
    assert last.changes == (("add", "member", (BASE,)), ("delete", "member", ("uid=a,ou=p",)))
    assert member_add("cn=g", ["cn=a"], AD).changes == (("add", "member", ("cn=a",)),), "AD groups may be empty"


def test_an_update_changes_only_what_changed_and_never_the_user_name():
    after = {**ZOE, "family": "Bergen", "username": "zbergen"}
    update = change(Action.UPDATE, ObjectKind.PERSON, "eck-1", after, before=ZOE, fields=("family", "username"))
    modify, warning = person_update(update, "uid=zberg,ou=s", OPENLDAP)
    assert modify is not None
    assert {name for _, name, _ in modify.changes} == {"sn", "cn", "displayName", "givenName"}
    assert ("replace", "sn", ("Bergen",)) in modify.changes
    assert warning and "stays 'zberg'" in warning
    email_only = change(Action.UPDATE, ObjectKind.PERSON, "eck-1", {**ZOE, "email": None}, before=ZOE, fields=("email",))
    modify, warning = person_update(email_only, "uid=zberg,ou=s", OPENLDAP)
    assert modify == ModifyEntry("uid=zberg,ou=s", (("replace", "mail", ()),)) and warning is None


def test_a_person_reads_back_as_it_was_sent():
    add = person_add(ZOE, "eck-1", "ou=p", OPENLDAP)
    read = person_attrs_of({k: list(v) for k, v in add.attributes.items()}, OPENLDAP)
    assert read == held_attrs(ObjectKind.PERSON, ZOE, OPENLDAP) == ZOE
    ad_add = person_add(ZOE, "eck-1", "ou=p", AD)
    assert person_attrs_of({k: list(v) for k, v in ad_add.attributes.items()}, AD) == ZOE


def test_a_renamed_or_moved_group_is_modified_then_moved():
    ops = group_update({"type": "klas", "name": "3B"}, "cn=3A,ou=2025,ou=X", "ou=2025,ou=X", OPENLDAP)
    assert ops == [ModifyEntry("cn=3A,ou=2025,ou=X", (("replace", "description", ("3B",)),)),
                   MoveEntry("cn=3A,ou=2025,ou=X", "cn=3B")]
    assert ops[1].new_dn == "cn=3B,ou=2025,ou=X"
    same = group_update({"type": "klas", "name": "3A"}, "CN=3A, OU=2025,ou=X", "ou=2025,ou=x", OPENLDAP)
    assert len(same) == 1, "the same DN written differently is no move"


def test_dns_compare_as_a_directory_compares_them():
    assert norm_dn("ou=Zoë\\2C s,dc=X") == norm_dn("OU=zoë\\, s, dc=x") == "ou=zoë, s,dc=x"
    assert parent_dn("uid=a\\,b,ou=c,dc=d") == "ou=c,dc=d"


def test_ldif_previews_hold_no_password():
    text = ldif(AddEntry("uid=a,ou=p", {"objectClass": ("inetOrgPerson",), "uid": ("a",)}))
    assert text == "dn: uid=a,ou=p\nchangetype: add\nobjectClass: inetOrgPerson\nuid: a"
    text = ldif(member_add("cn=g", ["uid=a"], OPENLDAP))
    assert text.splitlines()[:4] == ["dn: cn=g", "control: 1.2.840.113556.1.4.1413 false", "changetype: modify",
                                      "add: member"]
    create = change(Action.CREATE, ObjectKind.PERSON, "eck-1", ZOE)
    payloads = preview(settings(password_env=None, password="bind-secret"), [create])
    body = payloads[0].body
    assert "Password Modify (RFC 3062)" in body and "bind-secret" not in body and "userPassword" not in body
    assert f"dn: uid=zberg,ou=students,ou=99XX00,{BASE}" in body
    membership = change(Action.CREATE, ObjectKind.MEMBERSHIP, "eck-1|las:x|student",
                        {"person": "eck-1", "group": "las:x", "role": "student", "home": False})
    assert "dn: <businessCategory=las:x>" in preview(settings(), [membership])[0].body
    home = change(Action.CREATE, ObjectKind.MEMBERSHIP, "eck-1|school:X|student",
                  {"person": "eck-1", "group": "school:X", "role": "student", "home": True})
    assert "nothing is sent" in preview(settings(), [home])[0].body


@pytest.mark.parametrize(("extra", "message"), [
    ({"url": "ldap://dc1.school.nl"}, "travel unencrypted"),
    ({"url": "ldaps://dc1.school.nl", "start_tls": True}, "start_tls is for ldap://"),
    ({"url": "http://dc1.school.nl"}, "not an ldap"),
    ({"url": "ldap://localhost:389", "flavour": "ad"}, "over TLS only"),
    ({"password_env": None}, "exactly one of"),
    ({"person_key_attribute": "employee number"}, "not an LDAP attribute"),
])
def test_settings_refuse_what_cannot_work(extra: dict[str, Any], message: str):
    with pytest.raises(ValidationError, match=message):
        settings(**extra)


def test_plain_ldap_is_allowed_to_this_machine_only_and_defaults_follow_the_flavour():
    assert settings(url="ldap://127.0.0.1:3890").url == "ldap://127.0.0.1:3890"
    assert (OPENLDAP.group_key, AD.group_key) == ("businessCategory", "adminDescription")
    assert (OPENLDAP.username_attr, AD.username_attr) == ("uid", "sAMAccountName")
    assert AD.placeholder is None and OPENLDAP.placeholder == BASE
