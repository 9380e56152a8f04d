"""Planning school by school (issue 13, ``koppel.slices``): a plan reads and rules only the school folders whose
files changed and takes the other schools' desired objects from the slices a recording run remembered — and the
plan is the full plan, byte for byte, in every case below: a pupil moved between klassen, a pupil moved between
schools, a new pupil whose user name collides with one of another school, a docent in two schools who changes in
one, a changed configuration, the day moving past a grace period, a failed or partial earlier run, a school folder
emptied or gone. Where the rules cannot be trusted per school the plan is made in full, and the test says why.

Real parts: a generated Magister export of three schools on disk (one folder per school), the FakeTarget, a SQLite
state file; the day is injected (``Koppel.open(..., today=...)``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from koppel.config import load_config
from koppel.errors import SourceError
from koppel.generator import generate, write_layout
from koppel.generator.model import Bestuur, Pupil
from koppel.generator.mutate import move_pupil
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from koppel.testing.fake import FakeTarget

YEAR = SchoolYear(2025)
DAY = dt.date(2025, 10, 1)

CONFIG = """\
[state]
url = "sqlite:///state.db"

[tenants.t]
name = "Schools bestuur"
school_year = "{year}"

[tenants.t.sources.las]
kind = "csv"
layout = "magister"
path = "export/{{school_year}}"
{source_extra}

[tenants.t.targets.fake]
kind = "fake"
path = "fake-target.json"

[tenants.t.targets.fake.rules.names]
klas = "{klas_name}"

[tenants.t.targets.fake.policy]
protected = {{ person = {protected} }}

[tenants.t.targets.fake.policy.lifecycle]
grace_days_student = 30

[tenants.t.targets.fake.policy.guards]
max_count = {max_count}
max_percent = {max_percent}
min_count = 1
hold_jaarovergang = false
"""


class Schools:
    """Three schools' Magister export, a koppel.toml and the apps made on them (closed at the end)."""

    def __init__(self, root: Path, *, key_scope: str | None = None) -> None:
        self.root = root
        self.bestuur = generate(students=300, schools=3, year=YEAR, seed=5)
        self.key_scope = key_scope
        self.apps: list[Koppel] = []
        self.write_export(self.bestuur)
        self.configure()

    @property
    def export(self) -> Path:
        return self.root / "export" / str(YEAR)

    def write_export(self, bestuur: Bestuur) -> None:
        shutil.rmtree(self.export, ignore_errors=True)
        write_layout(bestuur, self.export, "magister")
        self.bestuur = bestuur

    def configure(self, *, klas_name: str = "{klas}", max_count: int = 100000, max_percent: float = 100.0,
                  protected: tuple[str, ...] = ()) -> None:
        extra = f'key_scope = "{self.key_scope}"' if self.key_scope else ""
        (self.root / "koppel.toml").write_text(CONFIG.format(
            year=YEAR, source_extra=extra, klas_name=klas_name, max_count=max_count, max_percent=max_percent,
            protected=json.dumps(list(protected))), encoding="utf-8")

    def app(self, today: dt.date = DAY) -> Koppel:
        app = Koppel.open(load_config(self.root / "koppel.toml"), env={}, today=lambda: today)
        self.apps.append(app)
        return app

    def sql(self, statement: str, *params) -> list[tuple]:
        con = sqlite3.connect(self.root / "state.db")
        try:
            rows = con.execute(statement, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def settle(self) -> None:
        """Sync until nothing changes: the last full sync remembers the digests and the slices of the state as
        it is."""
        for _ in range(3):
            outcome = self.app().sync("t", None, full=True)
            if not outcome.plan.changes:
                return
        raise AssertionError("the export does not settle")

    def close(self) -> None:
        for app in self.apps:
            app.store.close()


@pytest.fixture
def schools(tmp_path):
    bench = Schools(tmp_path)
    bench.app().sync("t", None)  # the first load
    bench.settle()
    yield bench
    bench.close()


def _both(bench: Schools, today: dt.date = DAY, *, read: int | None = None):
    """(the plan school by school, the full plan), as previews on the same state — equal, JSON for JSON; ``read``:
    the number of school folders the first must have read (None: it must have been made in full)."""
    app = bench.app(today)
    by_school = app.plan("t", None).plan
    counts = dict(app.planner.slices.counts)
    full = app.plan("t", None, full=True).plan
    assert by_school.to_json_bytes() == full.to_json_bytes()
    if read is None:
        assert "school by school" not in counts, counts
    else:
        assert counts.get("school by school") == 1, counts
        assert len(app.planner.slices.last_read) == read, app.planner.slices.last_read
    return by_school, counts, app


def _refusal(counts: dict[str, int], words: str) -> None:
    assert any(words in reason for reason in counts if reason.startswith("full: ")), counts


def _school(bench: Schools, n: int) -> str:
    return sorted(s.brin6 for s in bench.bestuur.schools)[n]


def _moved_between_klassen(bestuur: Bestuur, brin6: str) -> Bestuur:
    """A pupil of ``brin6`` moved to another klas (of the same leerjaar where the school has one)."""
    klassen = [k for k in bestuur.klassen if k.brin6 == brin6]
    pupils = [p for p in bestuur.pupils if p.brin6 == brin6]
    for pupil in pupils:
        other = next((k for k in klassen if k.name != pupil.klas and k.leerjaar == pupil.leerjaar), None)
        if other is not None:
            return move_pupil(bestuur, pupil.stamnr, other.name)
    pupil = pupils[0]
    return move_pupil(bestuur, pupil.stamnr, next(k.name for k in klassen if k.name != pupil.klas))


def _to_school(bestuur: Bestuur, pupil: Pupil, brin6: str) -> Bestuur:
    """The pupil leaves their school's lesgroepen and joins a klas of the same leerjaar at school ``brin6`` (and
    its whole-klas lesgroepen), keeping their ECK iD."""
    klas = next(k for k in bestuur.klassen if k.brin6 == brin6 and k.leerjaar == pupil.leerjaar)
    moved = dataclasses.replace(pupil, brin6=brin6, klas=klas.name, onderwijssoort=klas.onderwijssoort)
    groups = []
    for group in bestuur.lesgroepen:
        if group.brin6 == pupil.brin6 and pupil.stamnr in group.pupils:
            group = dataclasses.replace(group, pupils=tuple(s for s in group.pupils if s != pupil.stamnr))
        elif group.brin6 == brin6 and group.klas == klas.name:
            group = dataclasses.replace(group, pupils=(*group.pupils, pupil.stamnr))
        groups.append(group)
    return dataclasses.replace(bestuur, pupils=tuple(moved if p is pupil else p for p in bestuur.pupils),
                               lesgroepen=tuple(groups))


# -- the plan school by school is the full plan -------------------------------------------------------------


def test_slices_are_remembered_per_school_and_an_unchanged_export_reads_no_school(schools):
    rows = schools.sql("SELECT slice, units FROM desired_slices ORDER BY slice")
    assert [name for name, _ in rows] == sorted(s.brin6 for s in schools.bestuur.schools)
    plan, _, _ = _both(schools, read=0)
    assert not plan.changes


def test_a_pupil_moved_between_klassen_reads_only_that_school(schools):
    brin6 = _school(schools, 1)
    schools.write_export(_moved_between_klassen(schools.bestuur, brin6))
    plan, _, app = _both(schools, read=1)
    assert app.planner.slices.last_read == (brin6,)
    assert any(c.reason.startswith("moved from") for c in plan.changes)
    assert {c.school for c in plan.changes} == {brin6}


def test_a_pupil_moved_between_schools(schools):
    source, target = _school(schools, 0), _school(schools, 2)
    pupil = next(p for p in schools.bestuur.pupils if p.brin6 == source and p.eckid)
    schools.write_export(_to_school(schools.bestuur, pupil, target))
    plan, _, app = _both(schools, read=2)
    assert sorted(app.planner.slices.last_read) == sorted([source, target])
    memberships = [c for c in plan.changes if c.kind is ObjectKind.MEMBERSHIP]
    assert {c.action for c in memberships} == {Action.CREATE, Action.DELETE}
    assert {c.school for c in memberships} == {source, target}


def test_a_new_pupil_whose_user_name_collides_with_a_pupil_of_another_school(schools):
    """The new pupil's Stamnr is that of a pupil of another school (Stamnrs are per school): the default user name
    is the Stamnr, so the new pupil is named against every name the state knows — ``<stamnr>2`` — as in the full
    plan, though the other school was not read."""
    other, school = _school(schools, 0), _school(schools, 1)
    taken = next(p for p in schools.bestuur.pupils if p.brin6 == other)
    klas = next(k for k in schools.bestuur.klassen if k.brin6 == school)
    newcomer = dataclasses.replace(taken, brin6=school, eckid=None, roepnaam="Nieuwe", achternaam="Leerling",
                                   email=None, klas=klas.name, leerjaar=klas.leerjaar,
                                   onderwijssoort=klas.onderwijssoort)
    schools.write_export(dataclasses.replace(schools.bestuur, pupils=(*schools.bestuur.pupils, newcomer)))
    plan, _, app = _both(schools, read=1)
    assert app.planner.slices.last_read == (school,)
    created = [c for c in plan.changes if c.kind is ObjectKind.PERSON and c.action is Action.CREATE]
    assert [c.after["username"] for c in created] == [f"{taken.stamnr}2"]


def test_a_docent_in_two_schools_who_changes_in_one(tmp_path):
    """With Stamnrs unique across the export (key scope ``export``) a docent in two school folders is one person:
    the two schools are one slice, read together when either changes."""
    bench = Schools(tmp_path, key_scope="export")
    try:
        first, second, third = (_school(bench, n) for n in range(3))
        codes = {t.docentcode for t in bench.bestuur.teachers if t.brin6 == second}
        docent = next(t for t in bench.bestuur.teachers if t.brin6 == first and t.docentcode not in codes)
        group = next(g for g in bench.bestuur.lesgroepen if g.brin6 == second and g.klas is None)
        shared = dataclasses.replace(bench.bestuur, teachers=(
            *bench.bestuur.teachers, dataclasses.replace(docent, brin6=second, docentcode="QQX")),
            lesgroepen=tuple(dataclasses.replace(g, teachers=(*g.teachers, "QQX")) if g is group else g
                             for g in bench.bestuur.lesgroepen))
        bench.write_export(shared)
        bench.app().sync("t", None)
        bench.settle()
        assert [name for name, in bench.sql("SELECT slice FROM desired_slices ORDER BY slice")] == \
            sorted([min(first, second), third])
        # The docent leaves the lesgroep of the second school: only that folder's bytes change.
        bench.write_export(dataclasses.replace(shared, lesgroepen=tuple(
            dataclasses.replace(g, teachers=g.teachers[:-1]) if g.name == group.name and g.brin6 == second else g
            for g in shared.lesgroepen)))
        plan, _, app = _both(bench, read=2)
        assert sorted(app.planner.slices.last_read) == sorted([first, second])
        assert [(c.action, c.kind) for c in plan.changes] == [(Action.DELETE, ObjectKind.MEMBERSHIP)]
        # A docent of the third school now also appears in the first: the changed school's person is in a school
        # that did not change — planned in full.
        docent3 = next(t for t in shared.teachers if t.brin6 == third)
        bench.write_export(dataclasses.replace(shared, teachers=(
            *shared.teachers, dataclasses.replace(docent3, brin6=first, docentcode="QQY"))))
        _, counts, _ = _both(bench)
        _refusal(counts, "also in a school that did not")
    finally:
        bench.close()


def test_fields_koppel_does_not_own_are_noted_alike(tmp_path):
    """E-mail addresses the school manages in the platform (protected): changed in the LAS at two schools, they
    are kept and noted in every plan — the notes of schools taken from their slices come out as in the full plan,
    in the same order."""
    bench = Schools(tmp_path)
    try:
        bench.configure(protected=("email",))
        bench.app().sync("t", None)
        bench.settle()
        first, second, third = (_school(bench, n) for n in range(3))
        renamed = {p.stamnr for brin6 in (first, second) for p in [q for q in bench.bestuur.pupils
                                                                    if q.brin6 == brin6][:15]}
        bench.write_export(dataclasses.replace(bench.bestuur, pupils=tuple(
            dataclasses.replace(p, email=f"nieuw.{p.stamnr}@example.org") if p.stamnr in renamed else p
            for p in bench.bestuur.pupils)))
        bench.settle()  # nothing is sent: e-mail is the platform's; the slices of these bytes are remembered
        bench.write_export(_moved_between_klassen(bench.bestuur, third))
        plan, _, app = _both(bench, read=1)
        assert app.planner.slices.last_read == (third,)
        kept = [note for note in plan.notes if note.startswith("kept: ")]
        assert len(kept) == 20 and "more objects with fields koppel does not own" in plan.notes[-1], plan.notes
    finally:
        bench.close()


def test_a_changed_configuration_plans_in_full(schools):
    schools.configure(klas_name="Klas {klas}")
    plan, counts, _ = _both(schools)
    _refusal(counts, "the configuration")
    assert plan.changes and all(c.action is Action.UPDATE and c.kind is ObjectKind.GROUP for c in plan.changes)


def test_the_day_moving_past_a_grace_period(schools):
    """A pupil who left is suspended with 30 days' grace; weeks later a change in another school is planned
    school by school, and the deletion that fell due in the meantime is in it — the plan sees the whole state."""
    left = next(p for p in schools.bestuur.pupils if p.brin6 == _school(schools, 0))
    schools.write_export(dataclasses.replace(schools.bestuur, pupils=tuple(
        p for p in schools.bestuur.pupils if p is not left), lesgroepen=tuple(
        dataclasses.replace(g, pupils=tuple(s for s in g.pupils if s != left.stamnr))
        for g in schools.bestuur.lesgroepen)))
    suspended = schools.app().sync("t", None)
    assert any(c.action is Action.SUSPEND for c in suspended.plan.changes)
    schools.settle()
    schools.write_export(_moved_between_klassen(schools.bestuur, _school(schools, 2)))
    soon, _, _ = _both(schools, read=1)
    assert not any(c.action is Action.DELETE and c.kind is ObjectKind.PERSON for c in soon.changes)
    later, _, _ = _both(schools, DAY + dt.timedelta(days=40), read=1)
    assert [c.reason for c in later.changes if c.kind is ObjectKind.PERSON] == [
        f"absent from the LAS since {DAY.isoformat()}; grace period ended on {(DAY + dt.timedelta(days=30)).isoformat()}"]


def test_after_a_partial_run_the_next_plan_is_full(schools):
    """A sync whose platform refused part of the changes moved the state: the membership digests no longer
    describe it, so the next plan is made in full — and equals the full plan."""
    schools.write_export(_moved_between_klassen(_moved_between_klassen(schools.bestuur, _school(schools, 0)),
                                                _school(schools, 1)))
    refusing = FakeTarget("fake", permanent_rate=0.5, seed=3)
    partial = schools.app().sync("t", None, target=refusing)
    assert partial.applied is not None and partial.applied.status == "partial"
    _, counts, _ = _both(schools)
    _refusal(counts, "membership digests")


def test_a_school_whose_state_moved_away_from_its_slice_is_read_again(schools):
    """The slices are a cache of what the rules made; whether a slice may stand in for a school is checked against
    the state every time: a group whose members in the state differ from the slice's (a digest that does not match),
    or a person the state knows by another user name, and that school is read and ruled again."""
    first, second = _school(schools, 0), _school(schools, 1)
    group = schools.sql("SELECT group_key FROM membership_groups WHERE group_key LIKE ? ORDER BY group_key LIMIT 1",
                        f"%{first}%")[0][0]
    schools.sql("UPDATE membership_groups SET digest = 'not a digest' WHERE group_key = ?", group)
    _, _, app = _both(schools, read=1)
    assert app.planner.slices.last_read == (first,)
    key, attrs = schools.sql("SELECT key, attrs FROM objects WHERE kind = 'person' AND school = ? ORDER BY key "
                             "LIMIT 1", second)[0]
    schools.sql("UPDATE objects SET attrs = ? WHERE key = ?", attrs.replace('"username":"', '"username":"x'), key)
    plan, _, app = _both(schools, read=2)
    assert sorted(app.planner.slices.last_read) == sorted([first, second])
    assert not plan.changes  # a known person keeps the user name the state has, whatever it is


def test_an_emptied_or_vanished_school_folder_deletes_nothing(schools):
    """A school folder whose leerlingen file lost its rows fails the read as the full read fails it; a school that
    left the export (its folder and its line in scholen.csv) leaves the scope — nothing of it is suspended — as in
    the full plan (the scholen file changed: in full)."""
    brin6 = _school(schools, 1)
    leerlingen = schools.export / brin6 / "leerlingen.csv"
    kept = leerlingen.read_bytes()
    leerlingen.write_bytes(kept.split(b"\r\n", 1)[0] + b"\r\n")
    app = schools.app()
    with pytest.raises(SourceError) as by_school:
        app.plan("t", None)
    assert app.planner.slices.counts["school by school"] == 0
    with pytest.raises(SourceError) as full:
        app.plan("t", None, full=True)
    assert str(by_school.value) == str(full.value)
    leerlingen.write_bytes(kept)
    shutil.rmtree(schools.export / brin6)
    listing = schools.export / "scholen.csv"
    listing.write_bytes(b"".join(line for line in listing.read_bytes().splitlines(keepends=True)
                                 if not line.startswith(brin6.encode())))
    plan, counts, _ = _both(schools)
    _refusal(counts, "scholen file")
    assert not plan.changes
    assert any("outside this run's scope are left alone" in note for note in plan.notes)


def test_a_vanished_school_folder_of_an_export_without_scholen_file_is_left_alone(tmp_path):
    """Without a scholen file nothing says a folder is missing: the plan school by school reads no folder, takes
    the two others from their slices and leaves the vanished school's objects alone — as the full plan does."""
    bench = Schools(tmp_path)
    try:
        (bench.export / "scholen.csv").unlink()
        bench.app().sync("t", None)
        bench.settle()
        gone = _school(bench, 1)
        shutil.rmtree(bench.export / gone)
        plan, _, _ = _both(bench, read=0)
        assert not plan.changes
        assert any("outside this run's scope are left alone" in note for note in plan.notes)
    finally:
        bench.close()


def test_guards_count_the_whole_bestuur(schools):
    """Many pupils leave one school: both plans are held for the same reasons, counted against the whole state."""
    brin6 = _school(schools, 2)
    leaving = {p.stamnr for p in schools.bestuur.pupils if p.brin6 == brin6}
    schools.write_export(dataclasses.replace(schools.bestuur, pupils=tuple(
        p for p in schools.bestuur.pupils if p.brin6 != brin6 or p.stamnr == min(leaving)), lesgroepen=tuple(
        dataclasses.replace(g, pupils=tuple(s for s in g.pupils if s == min(leaving))) if g.brin6 == brin6 else g
        for g in schools.bestuur.lesgroepen)))
    schools.configure(max_count=20, max_percent=10.0)
    plan, _, _ = _both(schools)  # the configuration changed: in full
    assert plan.held
    held = schools.app().sync("t", None, full=True)  # nothing applied; the slices of this configuration remembered
    assert held.held
    plan, _, app = _both(schools, read=1)  # the leaving school's groups are not as the state has them: read
    assert app.planner.slices.last_read == (brin6,)
    assert plan.held and {h.guard for h in plan.holds} == {"removals"}


# -- what a recording run remembers -----------------------------------------------------------------------


def test_a_sync_school_by_school_records_the_whole_read_and_remembers_the_changed_school(schools):
    brin6 = _school(schools, 1)
    schools.write_export(_moved_between_klassen(schools.bestuur, brin6))
    before = {name: units for name, units in schools.sql("SELECT slice, units FROM desired_slices")}
    app = schools.app()
    outcome = app.sync("t", None)
    assert app.planner.slices.counts["school by school"] == 1 and outcome.plan.changes
    after = {name: units for name, units in schools.sql("SELECT slice, units FROM desired_slices")}
    assert {name for name in after if after[name] != before[name]} == {brin6}
    by_school = app.store.latest_source_read("t")
    # The apply carried the membership digests along: the run after the change reads no school at all.
    plan, _, _ = _both(schools, read=0)
    assert not plan.changes
    schools.app().sync("t", None, full=True)  # the same bytes, read in full
    whole = app.store.latest_source_read("t")
    assert by_school["counts"] == whole["counts"] and by_school["counts"]["persons"] > 300
    assert sorted(map(str, by_school["diagnostics"])) == sorted(map(str, whole["diagnostics"]))
    assert by_school["sources"][0]["counts"] == whole["sources"][0]["counts"]


def test_full_plans_everything_and_a_single_school_export_is_planned_in_full(schools, tmp_path):
    app = schools.app()
    app.plan("t", None, full=True)
    assert app.planner.slices.counts == {"full: --full": 1}
    single = tmp_path / "single"
    single.mkdir()
    bench = Schools(single)
    try:
        bench.write_export(generate(students=60, schools=1, year=YEAR, seed=2))
        bench.app().sync("t", None)
        bench.settle()
        _, counts, _ = _both(bench)
        _refusal(counts, "not an export of one folder per school")
    finally:
        bench.close()


def test_the_command_line_says_how_it_planned(schools):
    """``koppel -v plan`` logs that it planned school by school, and prints what ``--full`` prints, to the line."""
    schools.write_export(_moved_between_klassen(schools.bestuur, _school(schools, 0)))

    def koppel(*args: str) -> tuple[str, str]:
        done = subprocess.run([sys.executable, "-m", "koppel", "-v", "plan", "-c", "koppel.toml", *args],
                              cwd=schools.root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr

    (by_school, said), (full, said_full) = koppel(), koppel("--full")
    assert "planning school by school" in said and "planning in full" in said_full and "reason=--full" in said_full
    assert by_school == full and "Plan: " in by_school
