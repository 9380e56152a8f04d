"""The roster builder every source shares: diagnostics, provenance, persons by key, gc pause, result."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from koppel.model.roster import (
    Group,
    GroupKind,
    Membership,
    Person,
    PersonKind,
    Provenance,
    Role,
    SchoolYear,
    Severity,
)
from koppel.sources.builder import STAFF_KEY_PREFIX, RosterBuilder, gc_paused

YEAR = SchoolYear(2025)


def _pupil(key: str, school: str, **fields: Any) -> Person:
    return Person(key, PersonKind.STUDENT, "las", "1", "Jan", "", "Jansen", schools=(school,), **fields)


def test_diagnostics_carry_the_source_and_where() -> None:
    out = RosterBuilder("las")
    out.error("missing-value", "no key", "leerlingen.csv", 3, field="Stamnr")
    out.warning("unknown-klas", "no such klas", object="1A")
    out.report(Severity.WARNING, "x", "positional", "f.csv", 4, "Veld", "obj")
    first, second, third = out.diagnostics
    assert (first.severity, first.source, first.file, first.line, first.field) == (
        Severity.ERROR, "las", "leerlingen.csv", 3, "Stamnr"
    )
    assert (second.severity, second.object, second.file) == (Severity.WARNING, "1A", None)
    assert (third.field, third.object) == ("Veld", "obj")


def test_year_mismatch_only_when_another_year_was_asked_for() -> None:
    out = RosterBuilder("las")
    out.year_mismatch(None, YEAR)
    out.year_mismatch(YEAR, YEAR)
    assert not out.diagnostics
    out.year_mismatch(YEAR.next(), YEAR, "school.xml")
    (warning,) = out.diagnostics
    assert (warning.code, warning.file) == ("school-year-mismatch", "school.xml")
    assert warning.message == "koppel asked for 2026-2027, but the export describes 2025-2026"


def test_provenance_names_the_source() -> None:
    assert RosterBuilder("las").provenance("a.csv", 2) == Provenance("las", "a.csv", 2)
    assert RosterBuilder("som").provenance(ref="/x/1") == Provenance("som", ref="/x/1")


def test_keys_per_school_or_per_source() -> None:
    assert RosterBuilder("las", per_school_keys=True).las_key("12AB00", "7", STAFF_KEY_PREFIX) == "12AB00:mw:7"
    assert RosterBuilder("las").las_key("12AB00", "7") == "7"
    out = RosterBuilder("las")
    assert out.person_key("7", None) == out.person_key("7", "") == "las:7"
    assert out.person_key("7", "https://ketenid.nl/x") == "eck:https://ketenid.nl/x"


def test_the_same_human_at_two_schools_is_one_person() -> None:
    out = RosterBuilder("las")
    assert out.put_person(_pupil("eck:1", "12AB00", email=None)) == "eck:1"
    out.put_person(_pupil("eck:1", "34CD00", email="jan@school.nl"))
    out.put_person(_pupil("eck:1", "12AB00"))
    (person,) = out.persons.values()
    assert person.schools == ("12AB00", "34CD00") and person.email is None  # kept as first read


def test_fill_blanks_takes_what_the_first_record_lacked() -> None:
    out = RosterBuilder("las")
    out.put_person(_pupil("eck:1", "12AB00", email=None, leerjaar=None, las_username="jan1"))
    out.put_person(_pupil("eck:1", "34CD00", email="jan@school.nl", leerjaar=3, las_username="jan2"),
                   fill_blanks=True)
    person = out.persons["eck:1"]
    assert (person.schools, person.email, person.leerjaar, person.las_username) == (
        ("12AB00", "34CD00"), "jan@school.nl", 3, "jan1"
    )


def test_join_schools_adds_only_new_schools() -> None:
    out = RosterBuilder("las")
    out.put_person(_pupil("las:1", "12AB00"))
    before = out.persons["las:1"]
    out.join_schools("las:1", ["12AB00"])
    assert out.persons["las:1"] is before
    out.join_schools("las:1", ["34CD00", "34CD00", "12AB00"])
    assert out.persons["las:1"].schools == ("12AB00", "34CD00")


def test_build_counts_and_records_the_source() -> None:
    out = RosterBuilder("las")
    out.add_school("12AB00", "De School")
    assert out.add_school("12AB00", "Another name").name == "De School"
    out.put_person(_pupil("las:1", "12AB00"))
    group = Group("g", GroupKind.STAMGROEP, "1A", "12AB00", YEAR, "las", "1A")
    out.groups[group.key] = group
    out.memberships.append(Membership("las:1", "g", Role.STUDENT))
    out.counts["leerlingen.uitgestroomd"] += 2
    out.warning("w", "a warning")
    roster = out.build(YEAR, kind="test", location="here")
    (info,) = roster.sources
    assert (info.name, info.kind, info.location, info.school_year) == ("las", "test", "here", "2025-2026")
    assert dict(info.counts) == {
        "schools": 1, "persons": 1, "groups": 1, "memberships": 1, "leerlingen.uitgestroomd": 2
    }
    assert [d.code for d in roster.diagnostics] == ["w"]
    settled = out.build(YEAR, kind="test", location=None, groups=[], memberships=[])
    assert not settled.groups and not settled.memberships and settled.sources[0].counts["groups"] == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_restores_the_collector_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with pytest.raises(RuntimeError), gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("a read that fails")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
