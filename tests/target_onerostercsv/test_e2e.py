"""End to end: a generated school (Magister export) → `koppel plan` / `koppel sync` with a tenant whose target is
oneroster-csv → a zip in a folder; then a LAS change (a pupil changes klas, one leaves), a run with no change, the
jaarovergang, and a publication that fails. Every zip is read back with koppel's OneRoster source.

Bulk: the one zip is replaced each time; a leaver is a disabled user without enrollments. Delta: the first zip is
a bulk, then one zip per run with the rows that changed (a leaver's enrollments ``tobedeleted``); the bulk plus
its deltas read back as the roster after the change.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from typer.testing import CliRunner

from koppel.cli.common import configure_logging
from koppel.cli.main import app as cli
from koppel.generator import Bestuur, generate, move_pupil, write_layout
from koppel.model.roster import PersonKind, Roster, SchoolYear
from koppel.targets.files import PublishedRoster
from tests.lifecycle.support import without_pupils

from .roundtrip import memberships_of, read_back
from .support import zips

YEAR, NEXT_YEAR = SchoolYear(2025), SchoolYear(2026)


@dataclasses.dataclass
class School:
    root: Path
    bestuur: Bestuur

    @property
    def out(self) -> Path:
        return self.root / "out"

    def write_config(self, **target: Any) -> None:
        doc = {
            "state": {"url": "sqlite:///state.db"},
            "tenants": {"school": {
                "name": "Testschool", "school_year": str(YEAR),
                "sources": {"las": {"kind": "csv", "layout": "magister", "path": "export/{school_year}"}},
                "targets": {"oneroster": {"kind": "oneroster-csv", "folder": "out", **target}},
            }},
        }
        (self.root / "koppel.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")

    def export(self, bestuur: Bestuur, year: SchoolYear = YEAR) -> None:
        write_layout(bestuur, self.root / "export" / str(year), "magister")
        if year == YEAR:
            self.bestuur = bestuur

    def koppel(self, *args: str) -> Any:
        result = CliRunner().invoke(cli, [*args[:1], "-c", str(self.root / "koppel.toml"), *args[1:]],
                                    catch_exceptions=False)
        configure_logging("warning")
        return result

    def mirror(self) -> PublishedRoster:
        return PublishedRoster.load(self.out / ".koppel" / "oneroster.db")


@pytest.fixture
def school(tmp_path: Path) -> School:
    bestuur = generate(students=200, schools=1, year=YEAR, seed=5)
    world = School(tmp_path, bestuur)
    world.export(bestuur)
    world.export(generate(students=200, schools=1, year=NEXT_YEAR, seed=5), NEXT_YEAR)
    return world


def _csv(path: Path, name: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(path) as archive:
        return list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode("utf-8"))))


def _mover_and_leaver(bestuur: Bestuur) -> tuple[str, str, str]:
    pupil = next(p for p in bestuur.pupils if any(k.name != p.klas and k.leerjaar == p.leerjaar
                                                  for k in bestuur.klassen))
    klas = next(k.name for k in bestuur.klassen if k.name != pupil.klas and k.leerjaar == pupil.leerjaar)
    leaver = next(p.stamnr for p in bestuur.pupils if p.stamnr != pupil.stamnr)
    return pupil.stamnr, klas, leaver


def _by_stamnr(roster: Roster) -> dict[str, Any]:
    """Pupils by stamnummer: koppel's default pupil user name (the leerlingnummer itself is not written)."""
    return {p.las_username: p for p in roster.persons.values() if p.kind is PersonKind.STUDENT}


def _klassen_of(roster: Roster, person_key: str) -> set[str]:
    stamgroepen = {g.key: g.name for g in roster.groups.values() if g.kind.value == "stamgroep"}
    return {stamgroepen[m.group] for m in roster.memberships if m.person == person_key and m.group in stamgroepen}


def _read(school: School, published: list[Path], year: SchoolYear = YEAR) -> Roster:
    return read_back(published, year, dt.date(year.start_year, 10, 1))


def _same_people(school: School, roster: Roster) -> None:
    """The zip(s), read back, hold exactly what koppel published: its active persons with their names, its klassen
    and courses of the year, and their memberships."""
    objects = list(school.mirror().objects())
    got = {p.las_key: p for p in roster.persons.values()}
    mirror = {o.key: o.attrs for o in objects if o.kind.value == "person" and o.status == "active"}
    assert set(got) == set(mirror), "the zip holds exactly koppel's active persons"
    for key, attrs in mirror.items():
        person = got[key]
        assert (person.roepnaam, f"{person.voorvoegsel} {person.achternaam}".strip(), person.email) == (
            attrs["given"], f"{attrs['prefix']} {attrs['family']}".strip(), attrs["email"]), key
    year = str(roster.school_year)
    classes = {o.key: o.attrs for o in objects if o.kind.value == "group" and o.attrs["type"] in ("klas", "course")
               and o.attrs["school_year"] == year}
    assert {g.las_key: g.name for g in roster.groups.values()} == {k: a["name"] for k, a in classes.items()}
    role = {"mentor": "mentor", "teacher": "teacher", "student": "student"}
    want = {(o.attrs["person"], o.attrs["group"], role[o.attrs["role"]]) for o in objects
            if o.kind.value == "membership" and o.attrs["group"] in classes and o.attrs["person"] in mirror}
    assert memberships_of(roster, lambda p: p.las_key, lambda g: g.las_key) == want


@pytest.mark.parametrize(("version", "mode"), [("1.1", "bulk"), ("1.2", "delta")])
def test_a_school_through_a_las_change_a_quiet_run_and_the_jaarovergang(school, version, mode):
    school.write_config(version=version, mode=mode)
    shown = school.koppel("plan", "--show-payloads")
    assert shown.exit_code == 0, shown.output
    assert f"orgs.csv ({mode}" in shown.stdout and f"classes.csv ({mode}" in shown.stdout
    first = school.koppel("sync")
    assert first.exit_code == 0, first.output
    published = zips(school.out)
    assert len(published) == 1
    roster = _read(school, published)
    _same_people(school, roster)
    assert len(roster.persons) == len(school.bestuur.pupils) + len(school.bestuur.teachers)
    pupils = _by_stamnr(roster)
    assert set(pupils) == {p.stamnr for p in school.bestuur.pupils}
    for pupil in school.bestuur.pupils[:20]:
        assert _klassen_of(roster, pupils[pupil.stamnr].key) == {pupil.klas}

    # A LAS change: a pupil changes klas, another leaves.
    mover, new_klas, leaver = _mover_and_leaver(school.bestuur)
    old_klas = school.bestuur.pupil(mover).klas
    school.export(without_pupils(move_pupil(school.bestuur, mover, new_klas), [leaver]))
    changed = school.koppel("sync")
    assert changed.exit_code == 0, changed.output
    published = zips(school.out)
    leaver_key = next(o.key for o in school.mirror().objects() if o.kind.value == "person"
                      and o.attrs.get("username") == leaver.lower())
    if mode == "bulk":
        assert len(published) == 1, "bulk: one zip, replaced"
        users = {r["sourcedId"]: r for r in _csv(published[0], "users")}
        assert users[leaver_key]["enabledUser"] == "FALSE", "a leaver within the grace period is disabled"
        assert not [r for r in _csv(published[0], "enrollments") if r["userSourcedId"] == leaver_key], \
            "a leaver's enrollments are absent from the bulk"
    else:
        assert len(published) == 2
        enrollments = _csv(published[1], "enrollments")
        assert {r["status"] for r in enrollments if r["userSourcedId"] == leaver_key} == {"tobedeleted"}
        users = _csv(published[1], "users")
        assert [(r["sourcedId"], r["status"], r["enabledUser"]) for r in users] == [(leaver_key, "active", "FALSE")]
        assert all(r["status"] in ("active", "tobedeleted") and r["dateLastModified"] for r in enrollments)
        assert len(enrollments) < len(_csv(published[0], "enrollments")) / 20, "a delta holds the change only"
    roster = _read(school, published)
    _same_people(school, roster)
    pupils = _by_stamnr(roster)
    assert leaver not in pupils
    assert _klassen_of(roster, pupils[mover].key) == {new_klas} != {old_klas}

    # Nothing changed: nothing is written.
    stamp = [(p.name, p.stat().st_mtime_ns) for p in zips(school.out)]
    quiet = school.koppel("sync")
    assert quiet.exit_code == 0, quiet.output
    assert [(p.name, p.stat().st_mtime_ns) for p in zips(school.out)] == stamp, "a run with no change writes no file"
    assert school.koppel("plan", "--detailed-exitcode", "--full").exit_code == 0

    # The jaarovergang: one held plan; approved, it publishes next year's session and classes.
    preview = school.koppel("plan", "--year", str(NEXT_YEAR), "-f", "json")
    plan = json.loads(preview.stdout)
    assert plan["held"], "the jaarovergang is held for approval"
    held = school.koppel("sync", "--year", str(NEXT_YEAR))
    assert held.exit_code == 3, held.output
    assert [(p.name, p.stat().st_mtime_ns) for p in zips(school.out)] == stamp, "a held plan publishes nothing"
    applied = school.koppel("apply", "--approve", plan["id"], "--by", "Mw. A. de Vries", "--yes")
    assert applied.exit_code == 0, applied.output
    published = zips(school.out)
    latest = published[-1]
    sessions = {r["sourcedId"]: r for r in _csv(published[0] if mode == "bulk" else latest, "academicSessions")}
    assert f"schoolyear:{NEXT_YEAR}" in sessions
    assert (sessions[f"schoolyear:{NEXT_YEAR}"]["startDate"], sessions[f"schoolyear:{NEXT_YEAR}"]["type"]) == (
        "2026-08-01", "schoolYear")
    if mode == "bulk":
        classes = _csv(latest, "classes")
        terms = {r["termSourcedIds"] for r in classes}
        assert terms == {f"schoolyear:{YEAR}", f"schoolyear:{NEXT_YEAR}"}, "last year's classes are kept, archived"
    else:
        assert len(published) == 3
        assert not [r for r in _csv(latest, "classes") if r["status"] == "tobedeleted"], "archived, not deleted"
    roster = _read(school, published, NEXT_YEAR)
    _same_people(school, roster)
    next_year = generate(students=200, schools=1, year=NEXT_YEAR, seed=5)
    assert set(_by_stamnr(roster)) == {p.stamnr for p in next_year.pupils}
    assert {g.name for g in roster.groups.values() if g.kind.value == "stamgroep"} == {k.name for k in next_year.klassen}
    assert all(g.school_year == NEXT_YEAR for g in roster.groups.values())


def test_a_failed_publication_leaves_the_previous_zip_and_moves_nothing(school):
    school.write_config(version="1.1", mode="delta", file_name="oneroster-{sequence}.zip")
    assert school.koppel("sync").exit_code == 0
    first = school.out / "oneroster-1.zip"
    before = first.read_bytes()
    mover, new_klas, leaver = _mover_and_leaver(school.bestuur)
    school.export(without_pupils(move_pupil(school.bestuur, mover, new_klas), [leaver]))
    (school.out / "oneroster-2.zip").mkdir()  # the next zip's name is taken: the rename fails
    failed = school.koppel("sync")
    assert failed.exit_code != 0
    assert "nothing was published" in failed.output
    assert first.read_bytes() == before and not list(school.out.glob(".oneroster-2.zip.*")), "no half file"
    assert school.mirror().publication == 1, "the mirror did not move"
    again = school.koppel("plan", "-f", "json", "--full")
    assert json.loads(again.stdout)["changes"], "the state did not move: the same changes are planned again"
    (school.out / "oneroster-2.zip").rmdir()
    assert school.koppel("sync").exit_code == 0
    assert (school.out / "oneroster-2.zip").is_file() and school.mirror().publication == 2
    assert school.koppel("plan", "--detailed-exitcode", "--full").exit_code == 0
    roster = _read(school, [first, school.out / "oneroster-2.zip"])
    assert leaver not in _by_stamnr(roster)
