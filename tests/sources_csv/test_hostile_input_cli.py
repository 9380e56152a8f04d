"""Hostile and broken exports through the command line (issue 10): `koppel validate` and `koppel plan`
name the file and line, exit non-zero where the data cannot be used, and never show a traceback."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
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
    """A school exported as Magister files, with a koppel.toml for the FakeTarget."""
    bestuur = generate(students=30, schools=1, year=SchoolYear(2025), seed=5)
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


def pupils_file(root: Path) -> Path:
    return next((root / "export").rglob("leerlingen.csv"))


def set_cell(path: Path, row: int, column: str, value: str) -> list[str]:
    """Set one cell of the pupils file (row 1 = the first pupil) and write it back as UTF-8 without BOM."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    head = lines[0].split(";")
    cells = lines[row].split(";")
    cells[head.index(column)] = value
    lines[row] = ";".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cells


def test_validate_reports_a_900_kb_name_with_file_line_and_column(school: Path) -> None:
    cells = set_cell(pupils_file(school), 3, "Roepnaam", "A" * (900 * 1024))
    result = koppel("validate", cwd=school)
    assert result.exit_code == 1, result.output
    assert "field-too-long" in result.output
    assert "leerlingen.csv:4: Roepnaam is 921,600 characters long" in result.output
    assert "A" * 300 not in result.output  # the value itself is not shown
    assert cells[0] not in koppel("plan", "--format", "json", cwd=school).output


def test_validate_reports_an_escape_sequence_in_a_name_without_sending_it(school: Path) -> None:
    set_cell(pupils_file(school), 2, "Achternaam", "Smit\x1b[2J\x1b[31m")
    result = koppel("validate", cwd=school)
    assert result.exit_code == 1, result.output
    assert "leerlingen.csv:3: Achternaam contains a control character (U+001B) at position 5" in result.output
    assert "\x1b" not in result.output


def test_the_issue_case_utf8_with_one_stray_byte_reads_right_and_validate_says_so(school: Path) -> None:
    path = pupils_file(school)
    set_cell(path, 1, "Roepnaam", "Noëlle")
    data = path.read_bytes()
    head = data.split(b"\n")[0].split(b";")
    lines = data.split(b"\n")
    cells = lines[5].split(b";")
    cells[head.index(b"Achternaam")] += b"\xe9"
    lines[5] = b";".join(cells)
    path.write_bytes(b"\n".join(lines))
    result = koppel("validate", cwd=school)
    assert "invalid-utf8" in result.output, result.output
    assert "leerlingen.csv:6: Achternaam" in result.output and "byte 0xE9 is not UTF-8" in result.output
    assert "mojibake" not in result.output
    plan = koppel("plan", "--format", "json", cwd=school)
    assert "Noëlle" in plan.output and "NoÃ«lle" not in plan.output


def _bomb(path: Path) -> None:
    workbook = Workbook()
    workbook.active.append(["Stamnr", "Roepnaam", "Achternaam", "Klas"])
    workbook.save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {
            i.filename: archive.read(i)
            for i in archive.infolist()
            if i.filename != "xl/worksheets/sheet1.xml"
        }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
            )
            for _ in range(32):
                part.write(b"A" * 2**20)
            part.write(b"</t></is></c></row></sheetData></worksheet>")


def test_plan_refuses_an_excel_bomb_with_one_clear_message(school: Path) -> None:
    path = pupils_file(school)
    path.unlink()
    _bomb(path.with_suffix(".xlsx"))
    result = koppel("plan", cwd=school)
    assert result.exit_code == 1, result.output
    assert "leerlingen.xlsx: is refused as an Excel workbook" in result.output
    assert "zip bomb" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), result.exception


@pytest.mark.parametrize(
    "content", [b"PK\x03\x04 not really", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)]
)
def test_validate_names_a_broken_workbook_without_a_traceback(school: Path, content: bytes) -> None:
    path = pupils_file(school)
    path.unlink()
    path.with_suffix(".xlsx").write_bytes(content)
    result = koppel("validate", cwd=school)
    assert result.exit_code == 1, result.output
    assert "leerlingen.xlsx: is not a readable Excel workbook" in result.output
    assert isinstance(result.exception, SystemExit), result.exception
