"""Rules: course strategies, hierarchy, names, user names (collisions, never renamed), sticky identity, filters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from koppel.model.desired import ObjectKind
from koppel.model.roster import (
    Group,
    GroupKind,
    Membership,
    Person,
    PersonKind,
    Role,
    Roster,
    School,
    SchoolYear,
)
from koppel.rules.engine import IdentityIndex, build_desired, normalise_username, person_sync_key
from koppel.rules.settings import AccountSettings, NameTemplates, RulesSettings

Y = SchoolYear(2025)


def pupil(n, klas_year=3, eck=None, roepnaam="Jan", achternaam="Jansen", voorvoegsel="", school="12AB00"):
    return Person(key=f"eck:{eck}" if eck else f"las:{n}", kind=PersonKind.STUDENT, source="las", las_key=str(n),
                  roepnaam=roepnaam, voorvoegsel=voorvoegsel, achternaam=achternaam, eckid=eck,
                  leerlingnummer=str(n), schools=(school,), leerjaar=klas_year)


def teacher(code, school="12AB00"):
    return Person(key=f"las:{code}", kind=PersonKind.STAFF, source="las", las_key=code, roepnaam="Anna",
                  voorvoegsel="de", achternaam="Vries", docentcode=code, schools=(school,))


def grp(key, kind, name, leerjaar=None, subject=None, school="12AB00"):
    return Group(key=f"las:{school}:2025-2026:{key}", kind=kind, name=name, school=school, school_year=Y,
                 source="las", las_key=key, leerjaar=leerjaar, subject=subject,
                 subject_name={"ne": "Nederlands", "wi": "wiskunde"}.get(subject))


def roster(extra_persons=(), extra_members=()):
    p = [pupil(1), pupil(2, roepnaam="Piet"), pupil(3, klas_year=4), teacher("VRA")]
    g = [grp("3A", GroupKind.STAMGROEP, "3A", 3), grp("4A", GroupKind.STAMGROEP, "4A", 4),
         grp("3A.ne", GroupKind.LESGROEP, "3A.ne", 3, "ne"), grp("4hwi1", GroupKind.LESGROEP, "4hwi1", 4, "wi")]
    k = {x.name: x.key for x in g}
    m = [Membership("las:1", k["3A"], Role.STUDENT), Membership("las:2", k["3A"], Role.STUDENT),
         Membership("las:3", k["4A"], Role.STUDENT), Membership("las:1", k["3A.ne"], Role.STUDENT),
         Membership("las:2", k["3A.ne"], Role.STUDENT), Membership("las:3", k["4hwi1"], Role.STUDENT),
         Membership("las:1", k["4hwi1"], Role.STUDENT),
         Membership("las:VRA", k["3A.ne"], Role.TEACHER), Membership("las:VRA", k["4hwi1"], Role.TEACHER),
         Membership("las:VRA", k["3A"], Role.MENTOR)]
    return Roster.build(school_year=Y, schools=[School("12AB00", "Het Baken")], persons=p + list(extra_persons),
                        groups=g, memberships=m + list(extra_members))


def groups_of(desired, type_):
    return {o.key: o for o in desired.of_kind(ObjectKind.GROUP) if o.attrs["type"] == type_}


def test_default_hierarchy_and_lesgroep_courses():
    d = build_desired(roster(), RulesSettings(), target="itslearning")
    assert set(groups_of(d, "school")) == {"school:12AB00"}
    assert set(groups_of(d, "folder")) == {"year:12AB00:2025-2026"}
    klassen = groups_of(d, "klas")
    assert {o.attrs["name"] for o in klassen.values()} == {"3A", "4A"}
    assert all(o.attrs["parent"] == "year:12AB00:2025-2026" for o in klassen.values())
    courses = groups_of(d, "course")
    assert {o.attrs["name"] for o in courses.values()} == {"Nederlands 3A.ne", "wiskunde 4hwi1"}
    assert {o.attrs["code"] for o in courses.values()} == {"3A.ne 2526", "4hwi1 2526"}
    roles = {(o.attrs["person"], d.objects[o.attrs["group"]].attrs["name"], o.attrs["role"])
             for o in d.of_kind(ObjectKind.MEMBERSHIP)}
    assert ("las:VRA", "3A", "mentor") in roles and ("las:VRA", "Nederlands 3A.ne", "teacher") in roles
    assert ("las:1", "wiskunde 4hwi1", "student") in roles
    homes = [o for o in d.of_kind(ObjectKind.MEMBERSHIP) if o.attrs["home"]]
    assert len(homes) == 4 and {o.attrs["group"] for o in homes} == {"school:12AB00"}
    assert d.schools == frozenset({"12AB00"})


def test_klas_vak_strategy_makes_one_course_per_klas_and_vak():
    d = build_desired(roster(), RulesSettings(course_strategy="klas-vak"), target="x")
    courses = groups_of(d, "course")
    names = {o.attrs["name"] for o in courses.values()}
    assert names == {"Nederlands 3A ne", "wiskunde 3A wi", "wiskunde 4A wi"}
    members = {(o.attrs["person"], d.objects[o.attrs["group"]].attrs["name"], o.attrs["role"])
               for o in d.of_kind(ObjectKind.MEMBERSHIP) if o.attrs["group"] in courses}
    assert ("las:VRA", "wiskunde 3A wi", "teacher") in members and ("las:VRA", "wiskunde 4A wi", "teacher") in members
    assert ("las:1", "wiskunde 3A wi", "student") in members and ("las:3", "wiskunde 4A wi", "student") in members


def test_vak_jaarlaag_strategy():
    d = build_desired(roster(), RulesSettings(course_strategy="vak-jaarlaag"), target="x")
    names = {o.attrs["name"] for o in groups_of(d, "course").values()}
    assert names == {"Nederlands ne leerjaar 3", "wiskunde wi leerjaar 4"}


def test_leerjaar_level_and_course_parent():
    rules = RulesSettings(hierarchy={"leerjaar": True, "course_parent": "leerjaar"})
    d = build_desired(roster(), rules, target="x")
    folders = {o.attrs["name"] for o in groups_of(d, "folder").values()}
    assert folders == {"2025-2026", "Leerjaar 3", "Leerjaar 4"}
    course = next(o for o in groups_of(d, "course").values() if o.attrs["name"].startswith("Nederlands"))
    assert course.attrs["parent"] == "leerjaar:12AB00:2025-2026:3"


def test_usernames_collide_deterministically_and_existing_names_stay():
    rules = RulesSettings(accounts={"username_student": "{initial}{voorvoegsel}{achternaam}"})
    d = build_desired(roster(), rules, target="x")
    names = {o.key: o.attrs["username"] for o in d.of_kind(ObjectKind.PERSON)}
    assert names["las:1"] == "jjansen" and names["las:3"] == "jjansen2" and names["las:2"] == "pjansen"
    # las:3 already has an account named 'jjansen': it keeps it; the newcomer gets the suffix.
    ids = IdentityIndex(usernames={"las:3": "jjansen"})
    d2 = build_desired(roster(), rules, target="x", identities=ids)
    names2 = {o.key: o.attrs["username"] for o in d2.of_kind(ObjectKind.PERSON)}
    assert names2["las:3"] == "jjansen" and names2["las:1"] == "jjansen2"


def test_username_normalisation():
    assert normalise_username("Zoë van der Berg") == "zoevanderberg"
    assert normalise_username("Çelik-Aydın") == "celik-aydin"
    assert normalise_username("Nguyễn") == "nguyen"


def test_identity_is_sticky_when_an_eck_id_arrives():
    first = build_desired(roster(), RulesSettings(), target="x")
    assert "las:1" in first.objects
    later = roster()
    eck = "https://ketenid.nl/201703/" + "ab" * 64
    persons = [pupil(1, eck=eck) if p.las_key == "1" else p for p in later.persons.values()]
    members = [Membership(f"eck:{eck}", m.group, m.role) if m.person == "las:1" else m for m in later.memberships]
    later = Roster.build(school_year=Y, schools=later.schools.values(), persons=persons, groups=later.groups.values(),
                         memberships=members)
    fresh = build_desired(later, RulesSettings(), target="x")
    assert person_sync_key(pupil(1, eck=eck)) in fresh, "without state, the ECK iD key is used"
    sticky = build_desired(later, RulesSettings(), target="x",
                           identities=IdentityIndex(by_las={("las", "1"): "las:1"}))
    assert "las:1" in sticky and "las:1|school:12AB00|student" in sticky


def test_filters():
    d = build_desired(roster(), RulesSettings(filters={"leerjaren": [3]}), target="x")
    persons = {o.key for o in d.of_kind(ObjectKind.PERSON)}
    assert persons == {"las:1", "las:2", "las:VRA"}
    assert {o.attrs["name"] for o in groups_of(d, "klas").values()} == {"3A"}
    d = build_desired(roster(), RulesSettings(filters={"person_kinds": ["student"]}), target="x")
    assert "las:VRA" not in d
    d = build_desired(roster(), RulesSettings(filters={"exclude_schools": ["12AB*"]}), target="x")
    assert not d.objects and not d.schools


def test_email_from_template_or_las():
    rules = RulesSettings(accounts={"email": "template", "domain": "leerling.baken.nl"})
    d = build_desired(roster(), rules, target="x")
    assert d.objects["las:1"].attrs["email"] == "1@leerling.baken.nl"
    none = build_desired(roster(), RulesSettings(accounts={"email": "none"}), target="x")
    assert none.objects["las:1"].attrs["email"] is None


def test_templates_are_checked_at_load():
    with pytest.raises(ValidationError, match="unknown placeholder"):
        NameTemplates(course="{vaknaam} {groep}")
    with pytest.raises(ValidationError, match="accounts.domain"):
        AccountSettings(email="template")


def test_next_years_groups_are_provisioned_with_teachers_only():
    current = roster()
    nxt = Roster.build(
        school_year=SchoolYear(2026), schools=current.schools.values(), persons=current.persons.values(),
        groups=[Group("las:12AB00:2026-2027:4A", GroupKind.STAMGROEP, "4A", "12AB00", SchoolYear(2026), "las", "4A", 4),
                Group("las:12AB00:2026-2027:4A.ne", GroupKind.LESGROEP, "4A.ne", "12AB00", SchoolYear(2026), "las",
                      "4A.ne", 4, "ne", "Nederlands")],
        memberships=[Membership("las:1", "las:12AB00:2026-2027:4A", Role.STUDENT),
                     Membership("las:1", "las:12AB00:2026-2027:4A.ne", Role.STUDENT),
                     Membership("las:VRA", "las:12AB00:2026-2027:4A.ne", Role.TEACHER)])
    d = build_desired(current, RulesSettings(), target="x", provision=nxt)
    assert "year:12AB00:2026-2027" in d and "las:12AB00:2026-2027:4A.ne" in d
    assert "las:VRA|las:12AB00:2026-2027:4A.ne|teacher" in d
    assert "las:1|las:12AB00:2026-2027:4A.ne|student" not in d, "pupils see next year's course at the switch"
    assert d.school_year == "2025-2026"


def test_one_role_per_person_per_group():
    base = roster()
    k = {g.name: g.key for g in base.groups.values()}
    extra = [Membership("las:VRA", k["3A.ne"], Role.STUDENT)]
    d = build_desired(roster(extra_members=extra), RulesSettings(), target="x")
    course = k["3A.ne"]
    assert f"las:VRA|{course}|teacher" in d and f"las:VRA|{course}|student" not in d
    assert any(diag.code == "two-roles" for diag in d.diagnostics)
