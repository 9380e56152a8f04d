"""`koppel validate` warns about names that look like UTF-8 read as Windows-1252 ("NoÃ«lle"), naming the
person, the file and line, and the encoding setting (issue 10)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from koppel.cli.init_config import render_config
from koppel.cli.main import app
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear

runner = CliRunner()


def koppel(*args: str, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


@pytest.fixture
def school(tmp_path: Path) -> Path:
    bestuur = generate(students=20, schools=1, year=SchoolYear(2025), seed=11)
    write_layout(bestuur, tmp_path / "export", "magister")
    (tmp_path / "koppel.toml").write_text(
        render_config(
            source="export",
            layout="magister",
            target_kind="fake",
            url=None,
            username=None,
            password_env=None,
            tenant="school",
            school_year="2025-2026",
        ),
        encoding="utf-8",
    )
    return tmp_path


def _garble(root: Path, row: int, column: str, value: str) -> str:
    path = next((root / "export").rglob("leerlingen.csv"))
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    head, cells = lines[0].split(";"), lines[row].split(";")
    cells[head.index(column)] = value
    lines[row] = ";".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")  # the file itself holds the mojibake
    return cells[head.index("Stamnr")]


def test_validate_warns_about_a_mojibake_name_with_person_file_line_and_hint(school: Path) -> None:
    number = _garble(school, 3, "Roepnaam", "NoÃ«lle")
    result = koppel("validate", cwd=school)
    assert result.exit_code == 0, result.output
    assert "mojibake" in result.output
    line = next(x for x in result.output.splitlines() if "leerlingen.csv:4:" in x)
    assert "NoÃ«lle" in line and f"({number})" in line
    assert "looks like UTF-8 read as Windows-1252" in line and 'encoding = "utf-8"' in line

    report = json.loads(koppel("validate", "--format", "json", cwd=school).output)
    (finding,) = [d for d in report["diagnostics"] if d["code"] == "mojibake"]
    assert finding["severity"] == "warning" and finding["field"] == "roepnaam" and finding["line"] == 4


def test_correct_accents_are_no_mojibake(school: Path) -> None:
    _garble(school, 2, "Achternaam", "Çelik-Noël")
    result = koppel("validate", cwd=school)
    assert "mojibake" not in result.output, result.output


def test_the_mojibake_check_can_be_switched_off(school: Path) -> None:
    _garble(school, 3, "Achternaam", "MÃ¼ller")
    config = school / "koppel.toml"
    text = config.read_text(encoding="utf-8")
    assert "mojibake" in koppel("validate", cwd=school).output
    text = text.replace("max_errors = 0\n", 'max_errors = 0\nseverity = { mojibake = "off" }\n')
    config.write_text(text, encoding="utf-8")
    result = koppel("validate", cwd=school)
    assert result.exit_code == 0, result.output
    assert "mojibake" not in result.output, result.output
