"""The `koppel` console script as a real process. plan, apply and sync end with a fast exit (no
object-by-object teardown of a large plan): the output, the saved plan file and the exit codes must be
exactly those of the in-process runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear

SRC = Path(__file__).resolve().parents[2] / "src"


def koppel(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "koppel", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_plan_apply_and_sync_exit_with_complete_output(tmp_path: Path) -> None:
    bestuur = generate(students=40, schools=1, year=SchoolYear(2025), seed=3)
    write_layout(bestuur, tmp_path / "export", "magister")
    assert koppel(tmp_path, "init", "--source", "export", "--layout", "magister", "--target", "fake").returncode == 0
    config = tmp_path / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('school_year = "auto"', 'school_year = "2025-2026"'),
                      encoding="utf-8")

    first = koppel(tmp_path, "plan", "--detailed-exitcode", "--out", "plan.json")
    assert first.returncode == 2, first.stderr
    assert "to create" in first.stdout and first.stdout.rstrip().endswith("Apply it with `koppel apply plan.json`.")
    saved = json.loads((tmp_path / "plan.json").read_bytes())  # complete: it parses
    as_json = koppel(tmp_path, "plan", "--format", "json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["id"] == saved["id"]

    applied = koppel(tmp_path, "apply", "plan.json", "--yes")
    assert applied.returncode == 0 and "Run 1: succeeded" in applied.stdout, applied.stdout + applied.stderr
    again = koppel(tmp_path, "sync")
    assert again.returncode == 0 and "Plan: 0 to create" in again.stdout, again.stdout + again.stderr
    unchanged = koppel(tmp_path, "plan", "--detailed-exitcode")
    assert unchanged.returncode == 0 and "No changes" in unchanged.stdout
    history = koppel(tmp_path, "history", bestuur.pupils[0].stamnr, "--format", "json")
    assert history.returncode == 0 and json.loads(history.stdout)["history"], history.stderr
