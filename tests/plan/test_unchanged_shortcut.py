"""The unchanged-input short cut (issue 13): a sync whose inputs are those of the last sync that found nothing
to change is recorded as unchanged without reading or planning — and every input that could change the plan
really refuses it: the export's bytes, the configuration, the state (an object row deleted by hand, a drift row,
an unrecorded row), a grace period falling due, a new school year, another koppel version.

Real parts: a generated Magister export on disk, the FakeTarget, a SQLite state file. The day is injected as
the project does everywhere (``Koppel.open(..., today=...)``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from koppel.config import load_config
from koppel.generator import generate, write_layout
from koppel.generator.mutate import move_pupil
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from koppel.planning import combined

YEAR = SchoolYear(2025)
DAY = dt.date(2025, 10, 1)

CONFIG = """\
[state]
url = "sqlite:///state.db"

[tenants.t]
name = "Shortcut bestuur"
school_year = "{school_year}"

[tenants.t.sources.las]
kind = "csv"
layout = "magister"
path = "export/{{school_year}}"

[tenants.t.targets.fake]
kind = "fake"
path = "fake-target.json"

[tenants.t.targets.fake.policy.lifecycle]
grace_days_student = {grace}

[tenants.t.targets.fake.policy.guards]
max_count = 100000
max_percent = 100.0
hold_jaarovergang = false
"""


class Bench:
    def __init__(self, root: Path, students: int = 40) -> None:
        self.root = root
        self.bestuur = generate(students=students, schools=1, year=YEAR, seed=5)
        self.apps: list[Koppel] = []
        self.write_export(self.bestuur)
        self.configure()

    def write_export(self, bestuur, year: SchoolYear = YEAR) -> None:
        folder = self.root / "export" / str(year)
        shutil.rmtree(folder, ignore_errors=True)
        write_layout(bestuur, folder, "magister")

    def configure(self, *, school_year: str = str(YEAR), grace: int = 30) -> None:
        (self.root / "koppel.toml").write_text(CONFIG.format(school_year=school_year, grace=grace), encoding="utf-8")

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

    def close(self) -> None:
        for app in self.apps:
            app.store.close()


@pytest.fixture
def bench(tmp_path):
    b = Bench(tmp_path)
    first = b.app().sync("t", None)  # the first load: everything created
    assert first.plan.changes and not first.unchanged
    yield b
    b.close()


def _baseline(bench: Bench, today: dt.date = DAY):
    """A full sync that finds nothing to change (and is remembered), then one that takes the short cut."""
    app = bench.app(today)
    full = app.sync("t", None)
    assert not full.unchanged and not full.plan.changes
    return app, full


def _moved(bestuur):
    """The bestuur with one pupil moved to another klas."""
    pupil = bestuur.pupils[0]
    other = next(k for k in bestuur.klassen if k.brin6 == pupil.brin6 and k.name != pupil.klas)
    return move_pupil(bestuur, pupil.stamnr, other.name)


def _refused(app: Koppel, part: str) -> None:
    refusals = [k for k in app.planner.inputs.counts if k.startswith("refused")]
    assert refusals and any(part in k for k in refusals), app.planner.inputs.counts
    assert app.planner.inputs.counts["taken"] == 0


def test_taken_when_nothing_changed_and_recorded_as_an_unchanged_run(bench):
    app, full = _baseline(bench)
    reads_before = bench.sql("SELECT count(*) FROM source_reads")[0][0]
    outcome = app.sync("t", None, trigger="schedule")
    assert outcome.unchanged and outcome.applied is not None and not outcome.plan.changes
    assert app.planner.inputs.counts["taken"] == 1
    assert f"unchanged since run {full.run_id}" in outcome.plan.notes[0]
    kind, status, trigger, summary, message = bench.sql(
        "SELECT kind, status, trigger, summary, message FROM runs WHERE id = ?", outcome.run_id)[0]
    assert (kind, status, trigger) == ("sync", "succeeded", "schedule")
    assert json.loads(summary)["unchanged"] == {"as_run": full.run_id}
    assert message.startswith("unchanged since run")
    # The dashboard's "last LAS read" moves on: the read of the same bytes is recorded again, as of now.
    assert bench.sql("SELECT count(*) FROM source_reads")[0][0] == reads_before + 1
    (latest,), (earlier,) = (bench.sql("SELECT counts FROM source_reads ORDER BY id DESC LIMIT 1")[0],
                            bench.sql("SELECT counts FROM source_reads ORDER BY id DESC LIMIT 1 OFFSET 1")[0])
    assert latest == earlier and json.loads(latest)["persons"] > 0
    # A preview gives the same answer without recording anything; --full plans anyway.
    preview = app.plan("t", None, shortcut=True)
    assert not preview.plan.changes and "unchanged since run" in preview.plan.notes[0]
    again = app.sync("t", None, full=True)
    assert not again.unchanged and app.planner.inputs.counts["taken"] == 2


def test_a_changed_export_byte_refuses(bench):
    _baseline(bench)
    bench.write_export(_moved(bench.bestuur))
    app = bench.app()
    outcome = app.sync("t", None)
    assert not outcome.unchanged
    _refused(app, "export")
    assert any(c.kind is ObjectKind.MEMBERSHIP and c.action is Action.CREATE for c in outcome.plan.changes)


def test_one_byte_that_changes_nothing_still_refuses(bench):
    _baseline(bench)
    leerlingen = next((bench.root / "export" / str(YEAR)).rglob("*.csv"))
    leerlingen.write_bytes(leerlingen.read_bytes().replace(b";", b";", 1) + b"")  # same bytes: still taken
    assert bench.app().sync("t", None).unchanged
    data = leerlingen.read_bytes()
    leerlingen.write_bytes(data + (b"\r\n" if data.endswith(b"\r\n") else b"\n"))  # one blank line more
    app = bench.app()
    outcome = app.sync("t", None)
    assert not outcome.unchanged and not outcome.plan.changes
    _refused(app, "export")


def test_a_changed_configuration_refuses(bench):
    _baseline(bench)
    bench.configure(grace=45)
    app = bench.app()
    assert not app.sync("t", None).unchanged
    _refused(app, "configuration")


@pytest.mark.parametrize("edit", ["object deleted", "drift row", "unrecorded row"])
def test_a_state_change_refuses(bench, edit):
    app, _ = _baseline(bench)
    key = bench.sql("SELECT key FROM objects WHERE kind = 'person' ORDER BY key LIMIT 1")[0][0]
    if edit == "object deleted":
        bench.sql("DELETE FROM objects WHERE key = ?", key)
    elif edit == "drift row":
        app.store.replace_drift("t", "fake", {key: {"email": "changed@by.hand"}})
    else:
        change = Change(Action.UPDATE, ObjectKind.PERSON, key, "test", 0, None, "x", {}, {"email": "a@b.c"})
        run_id = app.store.begin_run("t", "fake", kind="sync")
        app.store.mark_sent(tenant="t", target="fake", run_id=run_id, plan_id=None, changes=[change])
    fresh = bench.app()
    outcome = fresh.sync("t", None)
    assert not outcome.unchanged
    _refused(fresh, "state")
    # The full plan acts on what the state says now: the deleted row is created again, the others sent again.
    assert [c.key for c in outcome.plan.changes] == [key]


def test_a_grace_period_falling_due_refuses(bench):
    leaver = next(p for p in bench.bestuur.pupils if p.leerjaar == 1)
    left = replace(bench.bestuur, pupils=tuple(p for p in bench.bestuur.pupils if p.stamnr != leaver.stamnr),
                   lesgroepen=tuple(replace(g, pupils=tuple(s for s in g.pupils if s != leaver.stamnr))
                                    for g in bench.bestuur.lesgroepen))
    bench.write_export(left)
    bench.configure(grace=3)
    suspended = bench.app().sync("t", None)
    assert any(c.action is Action.SUSPEND for c in suspended.plan.changes)
    _baseline(bench)  # on DAY: nothing more to do, remembered
    same_day = bench.app()
    assert same_day.sync("t", None).unchanged
    due = DAY + dt.timedelta(days=3)
    later = bench.app(due)
    outcome = later.sync("t", None)
    assert not outcome.unchanged
    _refused(later, "day")
    assert [c.action for c in outcome.plan.changes if c.kind is ObjectKind.PERSON] == [Action.DELETE]


def test_a_new_school_year_refuses(bench):
    bench.configure(school_year="auto")
    _baseline(bench)
    assert bench.app().sync("t", None).unchanged
    next_year = generate(students=40, schools=1, year=YEAR.next(), seed=5)
    bench.write_export(next_year, YEAR.next())
    switch = bench.app(dt.date(2026, 8, 1))
    outcome = switch.sync("t", None)
    assert not outcome.unchanged
    _refused(switch, "year")
    assert outcome.plan.school_year == str(YEAR.next())
    assert any(c.action is Action.ARCHIVE for c in outcome.plan.changes)  # the jaarovergang


def test_another_koppel_version_refuses(bench):
    """Inputs remembered by another koppel version (as an older koppel left them in the state) never match."""
    _baseline(bench)
    digest, parts = bench.sql("SELECT digest, parts FROM plan_inputs")[0]
    parts = orjson.loads(parts)
    assert combined(parts) == digest
    parts["version"] = "0" * 64
    bench.sql("UPDATE plan_inputs SET digest = ?, parts = ?", combined(parts), orjson.dumps(parts).decode())
    fresh = bench.app()
    assert not fresh.sync("t", None).unchanged
    _refused(fresh, "version")
    assert fresh.sync("t", None).unchanged  # the full run remembered this version's inputs


def test_a_run_with_changes_forgets_and_the_next_plans_in_full(bench):
    _baseline(bench)
    assert bench.sql("SELECT count(*) FROM plan_inputs")[0][0] == 1
    bench.write_export(_moved(bench.bestuur))
    assert bench.app().sync("t", None).plan.changes
    assert bench.sql("SELECT count(*) FROM plan_inputs")[0][0] == 0
    app = bench.app()
    assert not app.sync("t", None).unchanged  # nothing remembered: in full (and now remembered)
    assert app.planner.inputs.counts["refused: nothing remembered"] == 1
    assert app.sync("t", None).unchanged


def test_next_years_export_is_an_input_while_it_is_provisioned(bench):
    """In the provisioning window a plan also reads next year's export: its arrival refuses the short cut."""
    config = bench.root / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "grace_days_student = 30", "grace_days_student = 30\nprovision_next_year = true\nprovision_from = \"06-15\""),
        encoding="utf-8")
    june = dt.date(2026, 6, 20)
    full = bench.app(june).sync("t", None)  # next year's export is not there yet: nothing to provision
    assert not full.unchanged and not full.plan.changes
    assert bench.app(june).sync("t", None).unchanged
    bench.write_export(generate(students=40, schools=1, year=YEAR.next(), seed=5), YEAR.next())
    app = bench.app(june)
    outcome = app.sync("t", None)
    assert not outcome.unchanged
    _refused(app, "export")
    assert any(c.kind is ObjectKind.GROUP and c.action is Action.CREATE for c in outcome.plan.changes)


def test_the_cli_says_the_short_cut_in_the_users_language(tmp_path):
    """`koppel sync` through its console script: the third sync of an unchanged export takes the short cut and
    says so in Dutch with --lang nl (no English left of the note), in English without it."""
    Bench(tmp_path)
    koppel = Path(sys.executable).with_name("koppel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANG", "LC_", "KOPPEL_LANG"))}

    def sync(*before: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(koppel), *before, "sync"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    sync()  # the first load
    assert "unchanged since" not in sync().stdout  # finds nothing to change, planned in full: remembered
    english = sync().stdout
    assert "unchanged since run" in english and "--full plans anyway" in english
    dutch = sync("--lang", "nl").stdout
    assert "ongewijzigd sinds synchronisatie" in dutch and "--full plant toch" in dutch
    assert "unchanged" not in dutch and "nothing was read" not in dutch
