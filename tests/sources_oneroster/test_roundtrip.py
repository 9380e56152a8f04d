"""Generate → write OneRoster (1.1 and 1.2, folder and zip) → read: who is where in which role survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.generator import Bestuur, generate
from koppel.model import PersonKind, Roster, SchoolYear
from koppel.sources.oneroster import OneRosterSource
from koppel.testing.source_conformance import SourceConformance

from .conftest import make_source, read
from .writer import write_export, zip_folder

YEAR = SchoolYear(2025)


@pytest.fixture(scope="module")
def bestuur() -> Bestuur:
    return generate(students=400, schools=2, year=YEAR, seed=21)


def expected_view(bestuur: Bestuur) -> tuple[dict, set]:
    persons = {
        ("student", p.stamnr): (p.roepnaam, p.voorvoegsel, p.achternaam, p.email, p.eckid, p.brin6)
        for p in bestuur.pupils
    }
    persons.update(
        {
            ("staff", t.stamnr): (t.roepnaam, t.voorvoegsel, t.achternaam, t.email, None, t.brin6)
            for t in bestuur.teachers
        }
    )
    memberships = {(("student", p.stamnr), (p.brin6, p.klas), "student") for p in bestuur.pupils}
    staff = {(t.brin6, t.docentcode): t.stamnr for t in bestuur.teachers}
    memberships |= {
        (("staff", staff[(k.brin6, k.mentor)]), (k.brin6, k.name), "mentor")
        for k in bestuur.klassen
        if k.mentor
    }
    for g in bestuur.lesgroepen:
        memberships |= {(("student", s), (g.brin6, g.name), "student") for s in g.pupils}
        memberships |= {(("staff", staff[(g.brin6, c)]), (g.brin6, g.name), "teacher") for c in g.teachers}
    return persons, memberships


def roster_view(roster: Roster) -> tuple[dict, set]:
    def pid(key: str) -> tuple[str, str]:
        p = roster.persons[key]
        return (p.kind.value, p.las_key.split("-", 1)[1])

    persons = {
        pid(k): (p.roepnaam, p.voorvoegsel, p.achternaam, p.email, p.eckid, p.schools[0])
        for k, p in roster.persons.items()
    }
    memberships = {
        (pid(m.person), (roster.groups[m.group].school, roster.groups[m.group].name), m.role.value)
        for m in roster.memberships
    }
    return persons, memberships


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_generated_export_reads_back(bestuur: Bestuur, tmp_path: Path, version: str) -> None:
    folder = write_export(bestuur, tmp_path / "export", version)
    for path in (folder, zip_folder(folder, tmp_path / "export.zip")):
        roster = read(path, requested=YEAR)
        assert roster.school_year == YEAR
        assert roster.diagnostics == ()
        assert sorted(roster.schools) == sorted(s.brin6 for s in bestuur.schools)
        assert roster_view(roster) == expected_view(bestuur)
        eck = next(p for p in bestuur.pupils if p.eckid)
        assert f"eck:{eck.eckid}" in roster.persons
        assert all(p.leerjaar for p in roster.persons.values() if p.kind is PersonKind.STUDENT)


def test_another_year_than_the_export_is_reported(bestuur: Bestuur, tmp_path: Path) -> None:
    roster = read(write_export(bestuur, tmp_path / "export"), requested=YEAR.next())
    assert roster.school_year == YEAR
    assert [d.code for d in roster.diagnostics] == ["school-year-mismatch"]


class TestOneRosterConformance(SourceConformance):
    @pytest.fixture
    def source(self, bestuur: Bestuur, tmp_path: Path) -> OneRosterSource:
        return make_source(zip_folder(write_export(bestuur, tmp_path / "export"), tmp_path / "export.zip"))

    @pytest.fixture
    def broken_source(self, bestuur: Bestuur, tmp_path: Path) -> OneRosterSource:
        folder = write_export(bestuur, tmp_path / "export")
        (folder / "enrollments.csv").write_text(
            'sourcedId,status,dateLastModified,classSourcedId\n"e1,,,c1\n', encoding="utf-8"
        )  # cut off inside a quote
        return make_source(folder)
