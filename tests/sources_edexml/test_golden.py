"""Golden: the official EDEXML 2.1 example of Edustandaard (2017-02-17) read into the expected Roster."""

from __future__ import annotations

import pytest

from koppel.errors import SourceDataError
from koppel.model.roster import GroupKind, PersonKind, Role, SchoolYear, Severity

from .conftest import FLEMISH, SAMPLE, read

ECK_WIMPIE = "https://id.school/LL_123467890abcdefghijklmnopqrstuvwxzABCDEFGHIJKLMNOPQRSTUVWXYZ!@#$%^_-"
ECK_JULIA = "https://id.school/LK_abcdefghijklmnopqrstuvwxzABCDEFGHIJKLMNOPQRSTUVWXYZ123467890!@#$%^_-"
ECK_UILKE = "https://id.school/abcde"


def test_the_official_example() -> None:
    roster = read(SAMPLE)
    assert roster.school_year == SchoolYear(2014)
    assert {s.brin6: s.name for s in roster.schools.values()} == {
        "99ZZ00": "99ZZ00"
    }  # two vestigingen: no name

    groups = {g.las_key: (g.kind, g.name, g.leerjaar) for g in roster.groups.values()}
    assert groups == {
        "001": (GroupKind.STAMGROEP, "Kabouters", 0),
        "002": (GroupKind.STAMGROEP, "Muizen", 1),
        "003": (GroupKind.STAMGROEP, "Vlinders", 1),
        "GRP4A": (GroupKind.STAMGROEP, "4A", 4),
        "GRP4B": (GroupKind.STAMGROEP, "4B", 4),
        "sg1": (GroupKind.LESGROEP, "Samgroep 1", None),
        "sg2": (GroupKind.LESGROEP, "Samgroep 2", None),
        "sg3": (GroupKind.LESGROEP, "Samgroep 3", None),
    }
    assert all(key == f"po:99ZZ00:2014-2015:{g.las_key}" for key, g in roster.groups.items())

    people = {
        p.key: (p.kind, p.roepnaam, p.voorvoegsel, p.achternaam, p.leerjaar) for p in roster.persons.values()
    }
    assert people == {
        f"eck:{ECK_WIMPIE}": (PersonKind.STUDENT, "Wimpie", "imp", "ie", 4),
        "po:99ZZ00:00002": (
            PersonKind.STUDENT,
            "Ismaël",
            "",
            "Assati",
            4,
        ),  # no roepnaam: first of the voornamen
        f"eck:{ECK_JULIA}": (PersonKind.STAFF, "Julia", "van", "Bemmel", None),
        f"eck:{ECK_UILKE}": (PersonKind.STAFF, "Uilke", "", "Veldman", None),
        "po:99ZZ00:mw:LK3": (PersonKind.STAFF, "Lia", "de", "Bruin", None),
    }
    assert roster.persons["po:99ZZ00:00002"].leerlingnummer == "00002"
    assert roster.persons["po:99ZZ00:mw:LK3"].docentcode == "LK3"

    memberships = {(m.person, roster.groups[m.group].las_key, m.role) for m in roster.memberships}
    assert memberships == {
        (f"eck:{ECK_WIMPIE}", "GRP4B", Role.STUDENT),
        (f"eck:{ECK_WIMPIE}", "sg1", Role.STUDENT),
        (f"eck:{ECK_WIMPIE}", "sg2", Role.STUDENT),
        (f"eck:{ECK_JULIA}", "GRP4A", Role.TEACHER),  # rol TAL (toetsafnameleider): a teacher by default
        *((f"eck:{ECK_UILKE}", key, Role.TEACHER) for key in ("002", "sg1", "001", "sg2", "sg3")),
        ("po:99ZZ00:mw:LK3", "GRP4A", Role.TEACHER),  # rollen STA and OWA on the link
    }
    (left,) = roster.diagnostics  # Gradje Hof, jaargroep H, uitstroomdatum 2014-07-18 < peildatum 2014-10-01
    assert (left.severity, left.code, left.file, left.line) == (
        Severity.WARNING,
        "pupil-left",
        "EDEXML.Voorbeeld.2.1.xml",
        108,
    )
    wimpie = roster.persons[f"eck:{ECK_WIMPIE}"]
    assert wimpie.provenance is not None
    assert (wimpie.provenance.file, wimpie.provenance.line, wimpie.provenance.ref) == (
        "EDEXML.Voorbeeld.2.1.xml",
        77,
        "99ZZ00/leerlingen/leerling[@key='00001']",
    )


def test_rollen_can_make_mentors_and_leave_links_out() -> None:
    roster = read(SAMPLE, rollen={"TAL": "mentor", "sta": "skip", "OWA": "skip"})
    roles = {
        (roster.persons[m.person].las_key, roster.groups[m.group].las_key, m.role)
        for m in roster.memberships
        if roster.persons[m.person].kind is PersonKind.STAFF
    }
    assert ("99ZZ00:mw:LK1", "GRP4A", Role.MENTOR) in roles
    assert not any(person == "99ZZ00:mw:LK3" for person, _, _ in roles), "STA and OWA both skipped"


def test_configured_school_name() -> None:
    assert (
        read(SAMPLE, school_names={"99ZZ00": "Basisschool De Voorbeeld"}).schools["99ZZ00"].name
        == "Basisschool De Voorbeeld"
    )


def test_the_flemish_variant_is_refused_clearly() -> None:
    with pytest.raises(
        SourceDataError,
        match=r"EDEXML.Voorbeeld.2.1-Vla.xml: this is the Flemish variant of EDEXML "
        r"\(instellingsnummer 1234, no brincode\)",
    ):
        read(FLEMISH)
