"""The pure mapping: keys, limits, update rules, lifecycle payloads, roles and reading back."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.batches import OPERATIONS
from koppel.targets.itslearning.mapping import Limits, MappingConfig, Prepared, stable_key
from koppel.targets.itslearning.responses import person_from_xml
from koppel.targets.itslearning.values import NS, ExtensionField, ImsGroup, ImsMembership, ImsPerson
from koppel.xmlsafe import parse_xml

from .builders import create_persons
from .conftest import header

CONFIG = MappingConfig(site_root="ROOT")


def change(kind: ObjectKind, action: Action, key: str, after=None, before=None, **extra) -> Change:
    return Change(
        action=action, kind=kind, key=key, reason="test", phase=1, after=after, before=before, **extra
    )


def prepared(c: Change, config: MappingConfig = CONFIG) -> Prepared:
    result = mapping.prepare(c, config)
    assert isinstance(result, Prepared), result
    return result


def refused(c: Change, config: MappingConfig = CONFIG) -> ItemResult:
    result = mapping.prepare(c, config)
    assert isinstance(result, ItemResult) and result.outcome is ItemOutcome.FAILED, result
    return result


STUDENT = {
    "role": "student",
    "given": "Jan",
    "prefix": "van der",
    "family": "Berg",
    "username": "jberg",
    "email": "j@x.nl",
}


# -- keys ----------------------------------------------------------------------------------------


def test_keys_that_fit_are_sent_unchanged():
    assert stable_key("csv:12AB00:2025-2026:3A") == "csv:12AB00:2025-2026:3A"
    assert stable_key("x" * 64) == "x" * 64


def test_long_keys_are_hashed_stably_and_documented_way():
    key = "eck:https://id.school/LL_" + "0123456789abcdef" * 8
    hashed = stable_key(key)
    assert len(hashed) == 64
    assert hashed == stable_key(key)  # deterministic
    # head of the key, "~", first 32 hex digits of SHA-256 (pinned: changing this renames everything)
    assert hashed == "eck:https://id.school/LL_012345~83eafde4ab1f3872d89dd0cefdb2531c"


@given(st.text(min_size=0, max_size=300))
def test_stable_key_properties(key: str):
    hashed = stable_key(key)
    assert len(hashed) <= Limits.SYNC_KEY
    assert stable_key(key) == hashed
    if len(key) <= Limits.SYNC_KEY and not mapping._XML_UNSAFE.search(key):
        assert hashed == key
    else:
        assert "~" in hashed and not mapping._XML_UNSAFE.search(hashed)


@given(st.text(min_size=65, max_size=120), st.text(min_size=65, max_size=120))
def test_distinct_long_keys_do_not_collide(a: str, b: str):
    if a != b:
        assert stable_key(a) != stable_key(b)


@given(
    st.text(string.printable, max_size=70),
    st.text(string.printable, max_size=70),
    st.text(string.printable, max_size=70),
    st.text(string.printable, max_size=70),
)
def test_membership_ids_are_injective(p1: str, g1: str, p2: str, g2: str):
    if (p1, g1) != (p2, g2):
        assert mapping.membership_id(p1, g1) != mapping.membership_id(p2, g2)
    assert len(mapping.membership_id(stable_key(p1), stable_key(g1))) <= Limits.MEMBERSHIP_ID


def test_membership_id_is_person_bar_group():
    assert mapping.membership_id("csv:1001", "CourseA") == "csv:1001|CourseA"
    assert mapping.membership_id("a|b", "c").startswith("m~")


def test_target_id_of_an_adopted_account_wins():
    c = change(ObjectKind.PERSON, Action.UPDATE, "csv:1001", after=STUDENT, target_id="itsla-0f8fad5b")
    assert prepared(c).wire_id == "itsla-0f8fad5b"
    delete = change(ObjectKind.PERSON, Action.DELETE, "csv:1001", before=STUDENT, target_id="itsla-0f8fad5b")
    assert prepared(delete).wire_id == "itsla-0f8fad5b"


def test_references_use_recorded_target_ids_from_meta():
    meta = {"target_ids": {"csv:1001": "itsla-0f8fad5b"}}
    c = change(
        ObjectKind.MEMBERSHIP,
        Action.CREATE,
        "csv:1001|g|student",
        after={"person": "csv:1001", "group": "g", "role": "student", "home": False},
        meta=meta,
    )
    p = prepared(c)
    assert p.payload.person == "itsla-0f8fad5b" and p.wire_id == "itsla-0f8fad5b|g"


def test_long_parent_key_is_hashed_like_the_parent_itself():
    parent = "csv:12AB00:2025-2026:" + "verylonggroupkey" * 4
    c = change(
        ObjectKind.GROUP, Action.CREATE, "child", after={"type": "klas", "name": "3A", "parent": parent}
    )
    assert prepared(c).payload.parent == stable_key(parent)
    assert prepared(
        change(ObjectKind.GROUP, Action.CREATE, parent, after={"type": "folder", "name": "x", "parent": None})
    ).wire_id == stable_key(parent)


# -- limits ----------------------------------------------------------------------------------------


def test_names_are_cut_to_itslearnings_maxima_with_notes():
    c = change(
        ObjectKind.PERSON,
        Action.CREATE,
        "p",
        after={**STUDENT, "given": "G" * 200, "family": "F" * 65, "prefix": "p" * 33},
    )
    p = prepared(c)
    assert (len(p.payload.given), len(p.payload.family), len(p.payload.prefix)) == (64, 64, 32)
    assert p.notes == (
        "first name cut to itslearning's maximum of 64 characters (was 200)",
        "last name cut to itslearning's maximum of 64 characters (was 65)",
        "prefix cut to itslearning's maximum of 32 characters (was 33)",
    )


def test_group_name_is_cut_to_desc_short_but_course_title_is_not():
    name = "N" * 200
    p = prepared(
        change(
            ObjectKind.GROUP,
            Action.CREATE,
            "c",
            after={"type": "course", "name": name, "code": "c1", "parent": None},
        )
    )
    assert p.payload.name == "N" * 64
    assert p.payload.extension("course") == name
    assert p.notes == ("name cut to itslearning's maximum of 64 characters (was 200)",)


@given(st.text(max_size=100), st.text(max_size=100), st.text(max_size=40))
def test_any_names_survive_the_wire(given_name: str, family: str, prefix: str):
    """Whatever the LAS holds, the envelope builds, parses back, and carries the cleaned, cut value."""
    c = change(
        ObjectKind.PERSON,
        Action.CREATE,
        "p",
        after={"role": "student", "given": given_name or "x", "family": family or "y", "prefix": prefix},
    )
    p = prepared(c)
    request = create_persons([(p.wire_id, p.payload)], header=header())
    element = parse_xml(request.envelope).find(f".//{{{NS.PMS_MESS}}}person")
    back = person_from_xml(element)
    assert (back.given, back.family) == (p.payload.given.strip(), p.payload.family.strip())
    assert len(back.given) <= 64 and not mapping._XML_UNSAFE.search(back.given)


# -- update rules ----------------------------------------------------------------------------------


def test_update_sends_only_what_after_holds_plus_mandatory_fields():
    before = dict(STUDENT)
    c = change(ObjectKind.PERSON, Action.UPDATE, "p", after={"email": "new@x.nl"}, before=before)
    person = prepared(c).payload
    assert person == ImsPerson(given="Jan", family="Berg", email="new@x.nl", institution_role="Student")


def test_update_clears_owned_fields_that_became_empty_but_never_the_username():
    c = change(
        ObjectKind.PERSON,
        Action.UPDATE,
        "p",
        after={
            "role": "student",
            "given": "Jan",
            "family": "Berg",
            "prefix": "",
            "email": None,
            "username": "",
        },
    )
    person = prepared(c).payload
    assert (person.prefix, person.email, person.user_id) == ("", "", None)


def test_create_leaves_empty_optional_fields_out():
    person = prepared(
        change(ObjectKind.PERSON, Action.CREATE, "p", after={**STUDENT, "prefix": "", "email": None})
    ).payload
    assert (person.prefix, person.email) == (None, None)


def test_missing_mandatory_field_fails_that_item_only():
    result = refused(change(ObjectKind.PERSON, Action.UPDATE, "p", after={"given": "Jan", "family": "Berg"}))
    assert result.code == "koppel:missing-field" and "'role'" in result.message


def test_institution_role_is_never_sent_empty():
    result = refused(change(ObjectKind.PERSON, Action.CREATE, "p", after={**STUDENT, "role": ""}))
    assert "'role'" in result.message
    custom = MappingConfig(site_root="ROOT", institution_roles={"student": ""})
    assert (
        refused(change(ObjectKind.PERSON, Action.CREATE, "p", after=STUDENT), custom).code
        == "koppel:unmapped"
    )


def test_group_update_always_sends_the_parent_relationship_and_type():
    before = {"type": "klas", "name": "3A", "parent": "school:12AB00"}
    p = prepared(change(ObjectKind.GROUP, Action.UPDATE, "g", after={"name": "3A (nieuw)"}, before=before))
    assert p.payload == ImsGroup(type="Unspecified", parent="school:12AB00", name="3A (nieuw)")
    top = prepared(
        change(ObjectKind.GROUP, Action.UPDATE, "s", after={"type": "school", "parent": None, "name": "S"})
    )
    assert top.payload.parent == "ROOT"
    assert (
        refused(change(ObjectKind.GROUP, Action.UPDATE, "g", after={"type": "klas", "name": "x"})).code
        == "koppel:missing-field"
    )


def test_group_types():
    types = {
        t: prepared(
            change(ObjectKind.GROUP, Action.CREATE, "g", after={"type": t, "name": "n", "parent": None})
        ).payload.type
        for t in ("school", "folder", "klas", "course")
    }
    assert types == {"school": "School", "folder": "Unspecified", "klas": "Unspecified", "course": "Course"}
    assert (
        refused(change(ObjectKind.GROUP, Action.CREATE, "g", after={"type": "jaarlaag", "name": "n"})).code
        == "koppel:unmapped"
    )


# -- memberships ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, role_type",
    [("student", "Learner"), ("teacher", "Instructor"), ("mentor", "Mentor"), ("guardian", "Member")],
)
def test_membership_roles(role: str, role_type: str):
    c = change(
        ObjectKind.MEMBERSHIP,
        Action.CREATE,
        "m",
        after={"person": "p", "group": "g", "role": role, "home": False},
    )
    assert prepared(c).payload == ImsMembership(group="g", person="p", role_type=role_type)


def test_home_organisation_extension():
    home = prepared(
        change(
            ObjectKind.MEMBERSHIP,
            Action.CREATE,
            "m",
            after={"person": "p", "group": "s", "role": "student", "home": True},
        )
    )
    assert home.payload.extension_fields == (ExtensionField("HomeOrganisation", "1", "bool"),)
    moved_away = prepared(
        change(
            ObjectKind.MEMBERSHIP,
            Action.UPDATE,
            "m",
            after={"person": "p", "group": "s", "role": "student", "home": False},
        )
    )
    assert moved_away.payload.extension_fields == (ExtensionField("HomeOrganisation", "0", "bool"),)


def test_membership_delete_derives_its_id_from_before():
    c = change(
        ObjectKind.MEMBERSHIP, Action.DELETE, "k", before={"person": "p", "group": "g", "role": "student"}
    )
    assert prepared(c).wire_id == "p|g"
    assert prepared(change(ObjectKind.MEMBERSHIP, Action.DELETE, "k", target_id="M1")).wire_id == "M1"
    assert refused(change(ObjectKind.MEMBERSHIP, Action.DELETE, "k")).code == "koppel:missing-field"


# -- lifecycle --------------------------------------------------------------------------------------


def test_supported_actions_are_exactly_the_mapped_operations():
    assert frozenset(OPERATIONS) == mapping.SUPPORTED
    unsupported = {
        (ObjectKind.PERSON, Action.ARCHIVE),
        (ObjectKind.GROUP, Action.SUSPEND),
        (ObjectKind.MEMBERSHIP, Action.SUSPEND),
        (ObjectKind.MEMBERSHIP, Action.RESTORE),
        (ObjectKind.MEMBERSHIP, Action.ARCHIVE),
    }
    assert not unsupported & mapping.SUPPORTED
    result = refused(change(ObjectKind.PERSON, Action.ARCHIVE, "p", before=STUDENT))
    assert result.code == "koppel:unsupported-action"


def test_restore_re_sends_the_whole_person_from_before_when_after_is_missing():
    p = prepared(change(ObjectKind.PERSON, Action.RESTORE, "p", before=STUDENT))
    assert (
        p.payload.given == "Jan" and p.payload.institution_role == "Student" and p.payload.user_id == "jberg"
    )


def test_archive_moves_a_course_under_the_school_archive_and_marks_the_year():
    before = {
        "type": "course",
        "name": "3A wiskunde",
        "code": "3A-wi",
        "parent": "year:12AB00:2025-2026",
        "school": "12AB00",
        "school_year": "2025-2026",
    }
    p = prepared(
        change(ObjectKind.GROUP, Action.ARCHIVE, "c", before=before, meta={"school_group": "school:12AB00"})
    )
    assert p.archive_folder == mapping.ArchiveFolder("school:12AB00:archive", "school:12AB00", "Archief")
    assert p.payload == ImsGroup(
        type="Course",
        parent="school:12AB00:archive",
        name="3A wiskunde (2025-2026)",
        extension_fields=(
            ExtensionField("course", "3A wiskunde (2025-2026)"),
            ExtensionField("course/code", "3A-wi"),
        ),
    )


def test_archive_without_school_group_uses_a_per_school_folder_under_the_site_root():
    p = prepared(
        change(
            ObjectKind.GROUP, Action.ARCHIVE, "k", before={"type": "klas", "name": "3A", "school": "12AB00"}
        )
    )
    assert p.archive_folder == mapping.ArchiveFolder("ROOT:archive:12AB00", "ROOT", "Archief 12AB00")
    assert p.payload.name == "3A"  # no school year known: not marked


def test_archive_needs_type_and_name():
    assert (
        refused(change(ObjectKind.GROUP, Action.ARCHIVE, "k", before={"type": "klas"})).code
        == "koppel:missing-field"
    )
    assert (
        refused(change(ObjectKind.GROUP, Action.ARCHIVE, "k", before={"name": "3A"})).code
        == "koppel:unmapped"
    )


def test_group_update_takes_a_name_it_does_not_own_from_before():
    c = change(
        ObjectKind.GROUP, Action.UPDATE, "g", after={"type": "klas", "parent": "p"}, before={"name": "3A"}
    )
    assert prepared(c).payload.name == "3A"
    assert refused(
        change(ObjectKind.GROUP, Action.UPDATE, "g", after={"type": "klas", "parent": "p"})
    ).code == ("koppel:missing-field")


def test_archive_name_keeps_the_year_and_marks_once():
    assert mapping.archive_name("N" * 80, "2025-2026") == "N" * 52 + " (2025-2026)"
    assert mapping.archive_name("3A (2025-2026)", "2025-2026") == "3A (2025-2026)"


# -- reading back ----------------------------------------------------------------------------------


def test_person_attrs_and_held_attrs_agree():
    attrs = {**STUDENT, "given": "G" * 70}
    p = prepared(change(ObjectKind.PERSON, Action.CREATE, "p", after=attrs))
    read = mapping.person_attrs(p.payload, lambda k: k, CONFIG)
    assert read == mapping.held_attrs(ObjectKind.PERSON, attrs, CONFIG)


def test_group_attrs_and_held_attrs_agree():
    attrs = {
        "type": "klas",
        "name": "3A",
        "code": "3A",
        "parent": None,
        "school": "12AB00",
        "school_year": "2025-2026",
    }
    p = prepared(change(ObjectKind.GROUP, Action.CREATE, "g", after=attrs))
    assert mapping.group_attrs(p.payload, lambda k: k, CONFIG) == mapping.held_attrs(
        ObjectKind.GROUP, attrs, CONFIG
    )
    course = {"type": "course", "name": "3A wi", "code": "3A-wi", "parent": "g"}
    p = prepared(change(ObjectKind.GROUP, Action.CREATE, "c", after=course))
    assert mapping.group_attrs(p.payload, lambda k: k, CONFIG) == mapping.held_attrs(
        ObjectKind.GROUP, course, CONFIG
    )


def test_key_resolver_maps_hashed_and_recorded_ids_back():
    long_key = "x" * 100
    resolve = mapping.KeyResolver.build([long_key, "short"], {"adopted": "itsla-1"})
    assert resolve(stable_key(long_key)) == long_key
    assert resolve("short") == "short"
    assert resolve("itsla-1") == "adopted"
    assert resolve("someone-else") == "someone-else"
