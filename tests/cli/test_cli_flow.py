"""The command line end to end on the FakeTarget: init, validate, plan (text, JSON, detailed exit code,
saved), apply of a saved plan, a stale plan refused, status, history."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear

runner = CliRunner()


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


def test_the_whole_flow(tmp_path: Path):
    bestuur = generate(students=60, schools=1, year=SchoolYear(2025), seed=5)
    write_layout(bestuur, tmp_path / "export", "magister")
    r = run(tmp_path, "init", "--source", "export", "--layout", "magister", "--target", "fake", "--tenant", "baken")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "koppel.toml").read_text(encoding="utf-8")
    (tmp_path / "koppel.toml").write_text(text.replace('school_year = "auto"', 'school_year = "2025-2026"'))
    assert run(tmp_path, "init").exit_code != 0, "init does not overwrite without --force"

    r = run(tmp_path, "validate")
    assert r.exit_code == 0, r.output
    r = run(tmp_path, "validate", "--format", "json")
    report = json.loads(r.output)
    assert report["school_year"] == "2025-2026" and report["roster"]["persons.student"] == len(bestuur.pupils)

    r = run(tmp_path, "plan", "--detailed-exitcode")
    assert r.exit_code == 2 and "to create" in r.output, r.output
    r = run(tmp_path, "plan", "--format", "json")
    data = json.loads(r.output)
    assert data["summary"]["create"] == len(data["changes"]) > 0 and data["summary"]["delete"] == 0
    r = run(tmp_path, "plan", "--out", "first.json")
    assert r.exit_code == 0 and (tmp_path / "first.json").exists()
    stale = run(tmp_path, "plan", "--out", "stale.json")
    assert stale.exit_code == 0

    r = run(tmp_path, "apply", "first.json", "--yes")
    assert r.exit_code == 0 and "Run 1: succeeded" in r.output, r.output
    r = run(tmp_path, "apply", "stale.json", "--yes")
    assert r.exit_code == 1 and "stale" in r.output, r.output
    r = run(tmp_path, "plan", "--detailed-exitcode")
    assert r.exit_code == 0 and "Plan: 0 to create, 0 to update, 0 to suspend, 0 to delete." in r.output

    r = run(tmp_path, "status", "--format", "json")
    status = json.loads(r.output)
    target = status["tenants"][0]["targets"][0]
    assert target["last_runs"][0]["status"] == "succeeded"
    assert target["objects"]["person"]["active"] == len(bestuur.pupils) + len(bestuur.teachers)

    pupil = bestuur.pupils[0]
    r = run(tmp_path, "history", pupil.stamnr)
    assert r.exit_code == 0 and pupil.achternaam in r.output and "create person" in r.output, r.output
    r = run(tmp_path, "history", pupil.stamnr, "--format", "json")
    history = json.loads(r.output)["history"]
    assert {h["kind"] for h in history} == {"person", "membership"}
    assert all(h["reason"] for h in history)

    r = run(tmp_path, "connectors", "list", "--format", "json")
    kinds = {(c["role"], c["kind"]) for c in json.loads(r.output)}
    assert {("source", "csv"), ("source", "uwlr"), ("source", "somtoday"), ("source", "oneroster"),
            ("source", "edexml"), ("target", "itslearning"), ("target", "fake")} <= kinds
    r = run(tmp_path, "connectors", "describe", "itslearning")
    assert r.exit_code == 0 and "site_root" in r.output and "course_strategy" in r.output


def test_plan_file_that_was_altered_is_refused(tmp_path: Path):
    bestuur = generate(students=30, schools=1, year=SchoolYear.containing(dt.date.today()), seed=6)
    write_layout(bestuur, tmp_path / "export", "magister")
    run(tmp_path, "init", "--target", "fake")  # school_year = "auto": the export is of the current year
    assert run(tmp_path, "plan", "--out", "p.json").exit_code == 0
    data = (tmp_path / "p.json").read_text(encoding="utf-8")
    (tmp_path / "p.json").write_text(data.replace('"action":"create"', '"action":"delete"', 1), encoding="utf-8")
    r = run(tmp_path, "apply", "p.json", "--yes")
    assert r.exit_code == 1 and "altered" in r.output, r.output
