"""`koppel plan --search` and `koppel history`'s search results through the command line (issue 12, point 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.config import load_config
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel

runner = CliRunner()


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    bestuur = generate(students=60, schools=1, year=SchoolYear(2025), seed=5)
    write_layout(bestuur, root / "export", "magister")
    assert run(root, "init", "--source", "export", "--layout", "magister", "--target", "fake").exit_code == 0
    toml = (root / "koppel.toml").read_text(encoding="utf-8")
    (root / "koppel.toml").write_text(toml.replace('school_year = "auto"', 'school_year = "2025-2026"'))
    return root, bestuur


def test_plan_search_finds_by_name_leerlingnummer_klas_and_course(school):
    root, bestuur = school
    pupil = bestuur.pupils[0]
    for text in (pupil.stamnr, pupil.achternaam.upper(), pupil.klas, f"{pupil.klas}.ne"):
        r = run(root, "plan", "--search", text)
        assert r.exit_code == 0 and "changes match" in r.output, r.output
        assert f"{pupil.stamnr} " in r.output and "eck-" not in r.output.split("changes match")[1], (text, r.output)


def test_history_search_results_show_leerlingnummer_name_and_klas(school):
    root, bestuur = school
    koppel = Koppel.open(load_config(root / "koppel.toml"))
    koppel.apply(koppel.plan(None, None).plan)
    koppel.store.close()
    pupil = bestuur.pupils[0]
    r = run(root, "history", pupil.roepnaam[:2])
    assert r.exit_code == 1 and "persons match" in r.output, r.output
    assert f"{pupil.stamnr} " in r.output and f"({pupil.klas})" in r.output, r.output
