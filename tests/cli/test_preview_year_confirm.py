"""Issue 12, points 1, 2 and 5 through the console script (``python -m koppel``, a real process):

* a preview (``koppel plan``, with or without ``--year``) records no source read and stores no held plan;
  a run (``koppel sync``) does, and a newer held plan supersedes the older one, visibly;
* one answer to "which school year?": an export of another year than koppel works on stops validate, plan
  and sync with the file and both years, and touches nothing; ``--year`` works on the export's year; status
  says the same year as plan;
* ``koppel apply`` shows the plan and asks: without a terminal and without ``--yes`` it refuses (exit 2), a
  terminal answering "no" applies nothing, ``--yes`` applies.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from koppel.generator import Bestuur, generate, write_layout
from koppel.model.roster import SchoolYear
from tests.lifecycle.support import without_pupils

SRC = Path(__file__).resolve().parents[2] / "src"
YEAR = SchoolYear(2025)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}


def koppel(cwd: Path, *args: str, tty_input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The console script as a process; stdin is not a terminal, unless ``tty_input`` is typed on a pty."""
    command = [sys.executable, "-m", "koppel", *args]
    if tty_input is None:
        return subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(command, cwd=cwd, env=_env(), stdin=secondary, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        os.close(secondary)
        os.write(primary, tty_input.encode())
        stdout, stderr = process.communicate(timeout=120)
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    finally:
        os.close(primary)


def _setup(tmp_path: Path, bestuur: Bestuur, school_year: str) -> None:
    write_layout(bestuur, tmp_path / "export", "magister")
    init = koppel(tmp_path, "init", "--source", "export", "--layout", "magister", "--target", "fake")
    assert init.returncode == 0, init.stderr
    config = tmp_path / "koppel.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('school_year = "auto"', f'school_year = "{school_year}"'), encoding="utf-8")


def _status(tmp_path: Path) -> dict:
    result = koppel(tmp_path, "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["tenants"][0]


def _target(status: dict) -> dict:
    return status["targets"][0]


def _leave(tmp_path: Path, bestuur: Bestuur, share: slice) -> Bestuur:
    pupils = sorted(bestuur.pupils, key=lambda p: int(p.stamnr))
    changed = without_pupils(bestuur, [p.stamnr for p in pupils[share]])
    write_layout(changed, tmp_path / "export", "magister")
    return changed


# -- 1. a preview has no side effects; one held plan per target -------------------------------------------


def test_plan_previews_store_nothing_and_a_newer_held_plan_supersedes_the_older(tmp_path: Path) -> None:
    bestuur = generate(students=60, schools=1, year=YEAR, seed=7)
    _setup(tmp_path, bestuur, str(YEAR))
    first = koppel(tmp_path, "sync")
    assert first.returncode == 0, first.stdout + first.stderr
    read_after_sync = _status(tmp_path)["last_source_read"]
    assert read_after_sync is not None

    changed = _leave(tmp_path, bestuur, slice(None, None, 2))  # half the pupils leave: a guard holds the plan
    previews = [koppel(tmp_path, "plan"), koppel(tmp_path, "plan", "--year", str(YEAR)),
                koppel(tmp_path, "plan", "--out", "held.json")]
    for preview in previews:
        assert preview.returncode == 0, preview.stderr
        assert "HELD" in preview.stdout and "This preview stored nothing" in preview.stdout
    assert (tmp_path / "held.json").exists()
    status = _status(tmp_path)
    assert _target(status)["held_plans"] == [], "a preview stores no held plan"
    assert status["last_source_read"] == read_after_sync, "a preview records no source read"
    assert [r["kind"] for r in _target(status)["last_runs"]] == ["sync"], "a CLI sync is recorded as a sync"

    held = koppel(tmp_path, "sync")  # a run: it records the read and stores its held plan
    assert held.returncode == 3, held.stdout + held.stderr
    status = _status(tmp_path)
    assert status["last_source_read"]["at"] != read_after_sync["at"]
    [older] = _target(status)["held_plans"]

    _leave(tmp_path, changed, slice(None, 3))  # three more leave: a different held plan
    again = koppel(tmp_path, "sync")
    assert again.returncode == 3, again.stdout + again.stderr
    target = _target(_status(tmp_path))
    [newer] = target["held_plans"]
    assert newer["id"] != older["id"]
    assert [p["id"] for p in target["superseded_plans"]] == [older["id"]]
    text = koppel(tmp_path, "status").stdout
    assert f"plan {older['id']} was superseded by plan {newer['id']} made {newer['created_at']}" in text

    refused = koppel(tmp_path, "apply", "--approve", older["id"], "--yes")
    assert refused.returncode != 0
    assert f"superseded by plan {newer['id']} made {newer['created_at']}" in " ".join(refused.stderr.split())
    assert [r["kind"] for r in _target(_status(tmp_path))["last_runs"]][:1] == ["sync"], "nothing was applied"
    approved = koppel(tmp_path, "apply", "--approve", newer["id"], "--by", "ict", "--yes")
    assert approved.returncode == 0 and "succeeded" in approved.stdout, approved.stdout + approved.stderr


# -- 2. one answer to "which school year?" ------------------------------------------------------------------


def test_an_export_of_another_school_year_stops_every_command_and_touches_nothing(tmp_path: Path) -> None:
    current = SchoolYear.containing(dt.date.today())  # school_year = "auto" on today's clock
    stale = SchoolYear(current.start_year - 1)
    _setup(tmp_path, generate(students=40, schools=1, year=stale, seed=3), "auto")

    for command in (("validate",), ("plan",), ("sync",), ("apply", "--yes")):
        stopped = koppel(tmp_path, *command)
        message = " ".join(stopped.stderr.split())
        assert stopped.returncode == 1, (command, stopped.stdout, stopped.stderr)
        assert f"describes school year {stale}, but koppel works on {current} (auto: today" in message, message
        assert str(tmp_path / "export") in message, "the file is named"
        assert "stale export" in message and f"--year {stale}" in message
    status = _status(tmp_path)
    assert status["last_source_read"] is None and _target(status)["last_runs"] == []
    assert _target(status)["held_plans"] == []
    assert status["school_year"]["year"] == str(current) and status["school_year"]["origin"] == "auto"

    # With --year the export's year is read, and said so.
    plan = koppel(tmp_path, "plan", "--year", str(stale))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith(f"School year {stale} (--year)")
    assert koppel(tmp_path, "validate", "--year", str(stale)).returncode == 0

    # A fresh export of the current year: plan, validate and status say the same year, and why.
    write_layout(generate(students=40, schools=1, year=current, seed=3), tmp_path / "export", "magister")
    plan = koppel(tmp_path, "plan")
    assert plan.returncode == 0, plan.stderr
    said = plan.stdout.splitlines()[0]
    assert said.startswith(f"School year {current} (auto: today ") and "year starts 08-01)" in said
    assert koppel(tmp_path, "validate").stdout.splitlines()[0] == said
    assert f"  s{said[1:]}" in koppel(tmp_path, "status").stdout.splitlines()


def test_generate_defaults_to_the_current_school_year(tmp_path: Path) -> None:
    made = koppel(tmp_path, "generate", "--out", "export", "--students", "30", "--format", "json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["school_year"] == str(SchoolYear.containing(dt.date.today()))


# -- 5. apply asks, like terraform -------------------------------------------------------------------------


def test_apply_shows_the_plan_and_asks(tmp_path: Path) -> None:
    _setup(tmp_path, generate(students=40, schools=1, year=YEAR, seed=5), str(YEAR))

    refused = koppel(tmp_path, "apply")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--yes" in refused.stderr and "Nothing was applied" in " ".join(refused.stderr.split())
    assert koppel(tmp_path, "plan", "--out", "plan.json").returncode == 0
    assert koppel(tmp_path, "apply", "plan.json").returncode == 2
    status = _status(tmp_path)
    assert _target(status)["last_runs"] == [] and _target(status)["objects"] == {}
    assert status["last_source_read"] is None, "a refused apply read nothing"

    answered_no = koppel(tmp_path, "apply", tty_input="no\n")
    assert answered_no.returncode == 1, answered_no.stdout + answered_no.stderr
    assert "to create" in answered_no.stdout, "the plan is shown before the question"
    changes = json.loads((tmp_path / "plan.json").read_bytes())["changes"]
    assert f"Apply these {len(changes):,} changes? Only 'yes' will be accepted:" in answered_no.stderr
    assert "nothing was applied" in answered_no.stderr
    assert _target(_status(tmp_path))["objects"] == {}

    answered_yes = koppel(tmp_path, "apply", "plan.json", tty_input="yes\n")
    assert answered_yes.returncode == 0 and "Run 1: succeeded" in answered_yes.stdout, answered_yes.stderr

    _leave(tmp_path, generate(students=40, schools=1, year=YEAR, seed=5), slice(None, 1))
    scripted = koppel(tmp_path, "apply", "--yes")
    assert scripted.returncode == 0 and "succeeded" in scripted.stdout, scripted.stdout + scripted.stderr
    assert "Apply these" not in scripted.stderr
    assert "never asks" in " ".join(koppel(tmp_path, "sync", "--help").stdout.split()).lower()
