"""The UWLR source against the UWLR sandbox over a real socket: what the generated LAS holds, koppel reads.

The sandbox builds its answers on its own (it never imports the source), so agreement here means
the two readings of UWLR/EDEXML agree — and the expectation is computed from the generator
itself, not from either of them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from koppel.errors import ConfigError, SourceAuthError, SourceError
from koppel.generator import generate
from koppel.model.roster import GroupKind, PersonKind, Role, SchoolYear
from koppel.sandbox.uwlr import SandboxServer
from koppel.sources.uwlr import UwlrSource
from koppel.testing.source_conformance import SourceConformance

from .conftest import SANDBOX, YEAR, StartSandbox, make_source


class TestUwlrConformance(SourceConformance):
    @pytest.fixture
    def source(self, sandbox: SandboxServer, brins: list[str]) -> UwlrSource:
        return make_source(sandbox.endpoint, brins, preset="magister")

    @pytest.fixture
    def broken_source(self, start_sandbox: StartSandbox, brins: list[str]):
        with start_sandbox(fail_rate=1.0) as failing:
            yield make_source(failing.endpoint, brins)


def test_roster_is_the_generated_bestuur(sandbox: SandboxServer, brins: list[str]) -> None:
    roster = make_source(sandbox.endpoint, brins, preset="magister").read()
    bestuur = generate(
        students=SANDBOX["students"], schools=SANDBOX["schools"], year=YEAR, seed=SANDBOX["seed"]
    )

    assert roster.school_year == YEAR
    assert {s.brin6: s.name for s in roster.schools.values()} == {s.brin6: s.name for s in bestuur.schools}
    pupils = [p for p in roster.persons.values() if p.kind is PersonKind.STUDENT]
    assert len(pupils) == len(bestuur.pupils)
    groups_of: dict[str, set[tuple[str, Role]]] = defaultdict(set)
    for m in roster.memberships:
        groups_of[m.person].add((roster.groups[m.group].name, m.role))
    for pupil in bestuur.pupils:
        key = f"eck:{pupil.eckid}" if pupil.eckid else f"las:{pupil.brin6}:{pupil.stamnr}"
        person = roster.persons[key]
        assert (
            person.roepnaam,
            person.voorvoegsel,
            person.achternaam,
            person.leerjaar,
            person.schools,
            person.leerlingnummer,
        ) == (
            pupil.roepnaam,
            pupil.voorvoegsel,
            pupil.achternaam,
            pupil.leerjaar,
            (pupil.brin6,),
            pupil.stamnr,
        )
        lesgroepen = {
            g.name for g in bestuur.lesgroepen if g.brin6 == pupil.brin6 and pupil.stamnr in g.pupils
        }
        assert groups_of[key] == {(pupil.klas, Role.STUDENT)} | {(name, Role.STUDENT) for name in lesgroepen}
    teacher = bestuur.teachers[0]
    staff = roster.persons[f"las:{teacher.brin6}:mw:{teacher.docentcode}"]
    assert (staff.kind, staff.email, staff.docentcode) == (
        PersonKind.STAFF,
        teacher.email,
        teacher.docentcode,
    )
    taught = {
        g.name for g in bestuur.lesgroepen if g.brin6 == teacher.brin6 and teacher.docentcode in g.teachers
    }
    mentor_of = {
        k.name for k in bestuur.klassen if k.brin6 == teacher.brin6 and k.mentor == teacher.docentcode
    }
    assert groups_of[staff.key] == {(name, Role.TEACHER) for name in taught | mentor_of}
    stamgroepen = [g for g in roster.groups.values() if g.kind is GroupKind.STAMGROEP]
    assert {g.leerjaar for g in stamgroepen} <= {1, 2, 3, 4, 5, 6}
    assert len(stamgroepen) == len(bestuur.klassen)
    assert not roster.diagnostics


def test_request_carries_year_school_and_profile(sandbox: SandboxServer, brins: list[str]) -> None:
    make_source(sandbox.endpoint, brins[:1], preset="magister").read()
    (latest,) = sandbox.requests(limit=1)
    assert (
        latest["brin6"],
        latest["schooljaar"],
        latest["xsdversie"],
        latest["gegevenssetid"],
        latest["klantcode"],
        latest["outcome"],
    ) == (brins[0], "2025-2026", "2.3", "Smalle-set-VO", "KOPPEL-TEST", "ok")


def test_school_year_asked_for_wins_then_setting_then_today(sandbox: SandboxServer, brins: list[str]) -> None:
    assert (
        make_source(sandbox.endpoint, brins[:1], year=YEAR.next(), school_year="2025-2026").school_year
        == YEAR.next()
    )
    assert make_source(
        sandbox.endpoint, brins[:1], year=None, school_year="2026-2027"
    ).school_year == SchoolYear(2026)
    assert make_source(sandbox.endpoint, brins[:1], year=None).school_year == SchoolYear(
        2025
    )  # TODAY 2025-10-01


def test_next_school_year_after_the_jaarovergang(sandbox: SandboxServer, brins: list[str]) -> None:
    now = make_source(sandbox.endpoint, brins).read()
    later = make_source(sandbox.endpoint, brins, year=YEAR.next()).read()
    assert later.school_year == SchoolYear(2026)
    assert all(":2026-2027:" in key for key in later.groups)
    assert set(now.groups).isdisjoint(later.groups), "groups live one school year"
    moved_up = [
        p
        for p in later.persons.values()
        if p.key in now.persons
        and p.kind is PersonKind.STUDENT
        and p.leerjaar == (now.persons[p.key].leerjaar or 0) + 1
    ]
    assert moved_up, "pupils move up a leerjaar"


def test_a_year_the_las_does_not_serve(sandbox: SandboxServer, brins: list[str]) -> None:
    with pytest.raises(SourceError, match="Client.OngeldigBericht: schooljaar 2030-2031 wordt niet geleverd"):
        make_source(sandbox.endpoint, brins, year=SchoolYear(2030)).read()


def test_one_sleutel_per_school_as_esis_issues_them(start_sandbox: StartSandbox, brins: list[str]) -> None:
    first, second = brins
    with start_sandbox(sleutels={first: "sleutel-1", second: "sleutel-2"}) as esis:
        schools = [
            {"brin6": first, "autorisatiesleutel_env": "KEY_1"},
            {"brin6": second, "autorisatiesleutel_env": "KEY_2"},
        ]
        roster = make_source(esis.endpoint, schools, env={"KEY_1": "sleutel-1", "KEY_2": "sleutel-2"}).read()
        assert set(roster.schools) == {first, second}
        swapped = make_source(esis.endpoint, schools, env={"KEY_1": "sleutel-1", "KEY_2": "sleutel-1"})
        with pytest.raises(
            SourceAuthError,
            match=f"school {second}: the LAS refused the autorisatie "
            r"\(fault Client.AutorisatieOngeldig",
        ) as info:
            swapped.read()
        assert f"autorisatiesleutel configured for {second}" in str(info.value)


def test_unknown_klant_is_an_auth_error(start_sandbox: StartSandbox, brins: list[str]) -> None:
    with (
        start_sandbox(klantcode="ECHTE-KLANT") as las,
        pytest.raises(SourceAuthError, match="Client.OngeldigeKlantIdentificatie"),
    ):
        make_source(las.endpoint, brins[:1]).read()


def test_sleutel_from_a_file(sandbox: SandboxServer, brins: list[str], tmp_path: Path) -> None:
    (tmp_path / "sleutel").write_text("sandbox\n", encoding="utf-8")
    source = make_source(sandbox.endpoint, brins[:1], autorisatiesleutel_file="sleutel", base_dir=tmp_path)
    assert source.read().schools


def test_missing_secret_fails_before_any_request(start_sandbox: StartSandbox, brins: list[str]) -> None:
    with start_sandbox() as las:
        source = make_source(las.endpoint, brins, autorisatiesleutel_env="NOT_SET")
        with pytest.raises(
            ConfigError, match=r"autorisatiesleutel \(shared, for .*environment variable NOT_SET"
        ):
            source.read()
        assert las.requests() == []


def test_answers_are_deterministic_and_echo_what_was_asked(sandbox: SandboxServer, brins: list[str]) -> None:
    source = make_source(sandbox.endpoint, brins[:1], preset="somtoday")
    first, again = source.read(), source.read()
    assert first.persons == again.persons and first.groups == again.groups
    assert sandbox.requests(limit=1)[0]["xsdversie"] == "2.2"
