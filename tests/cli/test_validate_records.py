"""`koppel validate` records its data-quality report as a run records it: the same sources, counts and
findings (it used to record an empty list of sources)."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.config import load_config
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.state.store import StateStore

runner = CliRunner()


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


def _init(cwd: Path) -> None:
    assert run(cwd, "init", "--target", "fake", "--tenant", "baken").exit_code == 0
    config = cwd / "koppel.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('school_year = "auto"', 'school_year = "2025-2026"'), encoding="utf-8")


def _latest_read(cwd: Path) -> dict:
    config = load_config(cwd / "koppel.toml")
    store = StateStore.open(config.state_url(), base_dir=config.base_dir)
    try:
        read = store.latest_source_read("baken")
    finally:
        store.close()
    assert read is not None
    return read


def _without_times(read: dict) -> dict:
    return {**{k: read[k] for k in ("status", "school_year", "counts", "errors", "warnings", "diagnostics")},
            "sources": [{k: v for k, v in s.items() if k != "read_at"} for s in read["sources"]]}


def test_the_validate_run_records_its_sources_as_a_plan_run_does(tmp_path: Path):
    bestuur = generate(students=40, schools=1, year=SchoolYear(2025), seed=11)
    write_layout(bestuur, tmp_path / "export", "magister")
    _init(tmp_path)

    result = run(tmp_path, "validate")
    assert result.exit_code == 0, result.output
    validated = _latest_read(tmp_path)
    [source] = validated["sources"]
    assert (source["name"], source["kind"], source["location"]) == ("las", "csv", "export")
    assert source["counts"]["persons"] == validated["counts"]["persons"] == len(bestuur.pupils) + len(bestuur.teachers)
    assert validated["status"] == "ok" and validated["school_year"] == "2025-2026"

    assert run(tmp_path, "plan").exit_code == 0
    assert _latest_read(tmp_path)["id"] == validated["id"], "a preview records no read (issue 12)"
    assert run(tmp_path, "sync").exit_code == 0
    planned = _latest_read(tmp_path)
    assert planned["id"] > validated["id"]
    assert _without_times(validated) == _without_times(planned)


def test_a_failed_validate_read_is_recorded_as_a_run_records_it(tmp_path: Path):
    bestuur = generate(students=20, schools=1, year=SchoolYear(2025), seed=12)
    write_layout(bestuur, tmp_path / "export", "magister")
    _init(tmp_path)
    for path in (tmp_path / "export").rglob("*.csv"):
        path.write_text("", encoding="utf-8")  # the export arrived empty

    result = run(tmp_path, "validate")
    assert result.exit_code == 1 and "error" in result.output, result.output
    read = _latest_read(tmp_path)
    assert read["status"] == "failed" and read["message"] and read["sources"] == []
