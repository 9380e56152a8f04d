"""Bad input through the command line: a clear message naming the file and line (or setting), a non-zero
exit where the run cannot go on, and the state untouched — checked by comparing the state database
before and after."""

from __future__ import annotations

import os
import sqlite3
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


def state_snapshot(root: Path) -> tuple:
    con = sqlite3.connect(root / "koppel-state.db")
    try:
        objects = con.execute("SELECT key, status, fingerprint, attrs FROM objects ORDER BY key").fetchall()
        serial = con.execute("SELECT serial FROM targets_state").fetchall()
        journal = con.execute("SELECT count(*) FROM journal").fetchone()
        return objects, serial, journal
    finally:
        con.close()


@pytest.fixture
def synced(tmp_path: Path) -> Path:
    """A school exported as Magister files and synced once to the FakeTarget."""
    bestuur = generate(students=60, schools=1, year=SchoolYear(2025), seed=3)
    write_layout(bestuur, tmp_path / "export", "magister")
    (tmp_path / "koppel.toml").write_text(render_config(
        source="export", layout="magister", target_kind="fake", url=None, username=None, password_env=None,
        tenant="school", school_year="2025-2026"), encoding="utf-8")
    result = koppel("sync", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    return tmp_path


def pupils_file(root: Path) -> Path:
    return next((root / "export").rglob("leerlingen.csv"))


def refused(root: Path, *, contains: list[str]) -> str:
    before = state_snapshot(root)
    result = koppel("sync", cwd=root)
    assert result.exit_code != 0, result.output
    for text in contains:
        assert text in result.output, f"{text!r} not in:\n{result.output}"
    assert state_snapshot(root) == before, "the state is untouched"
    return result.output


def test_empty_export_file(synced):
    pupils_file(synced).write_bytes(b"")
    refused(synced, contains=["leerlingen.csv", "empty"])


def test_file_with_only_headers(synced):
    path = pupils_file(synced)
    path.write_text(path.read_text(encoding="utf-8-sig").splitlines()[0] + "\n", encoding="utf-8")
    refused(synced, contains=["leerlingen.csv"])


def test_truncated_file(synced):
    path = pupils_file(synced)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2 - 7])
    out = refused(synced, contains=["leerlingen.csv"])
    assert "line" in out or ":" in out


def test_wrong_delimiter(synced):
    """Configured for ';' (as Magister writes) but the file came out of a tool that wrote tabs."""
    config = synced / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('path = "export"', 'path = "export"\ndelimiter = ";"'),
                      encoding="utf-8")
    path = pupils_file(synced)
    path.write_text(path.read_text(encoding="utf-8-sig").replace(";", "\t"), encoding="utf-8")
    refused(synced, contains=["leerlingen.csv:1", "';'"])


def test_space_separated_file_hints_at_the_delimiter(synced):
    path = pupils_file(synced)
    path.write_text(path.read_text(encoding="utf-8-sig").replace(";", " "), encoding="utf-8")
    refused(synced, contains=["leerlingen.csv", "delimiter"])


def test_fifty_megabytes_of_random_bytes(synced):
    pupils_file(synced).write_bytes(os.urandom(50 * 2**20))
    refused(synced, contains=["leerlingen.csv"])


def test_duplicate_stamnr_stops_the_run_naming_both_lines(synced):
    path = pupils_file(synced)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines.append(lines[1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused(synced, contains=["data errors exceed the limit"])
    report = koppel("validate", cwd=synced)
    assert report.exit_code == 1
    assert f"leerlingen.csv:{len(lines)}" in report.output and "line 2" in report.output, report.output


def test_reference_to_an_unknown_klas_is_reported_with_file_and_line(synced):
    path = next((synced / "export").rglob("docenten.csv"))
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    head, first = lines[0].split(";"), lines[1].split(";")
    first[head.index("Klasvakken")] = "9Z.ne"
    lines[1] = ";".join(first)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = koppel("validate", cwd=synced)
    assert "docenten.csv:2" in report.output and "9Z" in report.output, report.output


def test_cp1252_export_with_accents_reads_right(synced):
    path = pupils_file(synced)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    head, row = lines[0].split(";"), lines[1].split(";")
    row[head.index("Roepnaam")], row[head.index("Achternaam")] = "Hélène", "Eëlman"
    lines[1] = ";".join(row)
    text = "\n".join(lines) + "\n"
    text = text.encode("cp1252", errors="replace").decode("cp1252")
    path.write_bytes(text.encode("cp1252"))
    result = koppel("plan", "--format", "json", cwd=synced)
    assert result.exit_code == 0, result.output
    assert "Hélène" in result.output and "Eëlman" in result.output


def test_a_config_with_three_mistakes(synced):
    config = synced / "koppel.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace('course_strategy = "lesgroep"', 'course_strategy = "per-vak"')
    text = text.replace("max_percent = 10.0", "max_percent = 250")
    text = text.replace('layout = "magister"', 'layout = "magistr"')
    config.write_text(text, encoding="utf-8")
    out = refused(synced, contains=["3 problems", "koppel.toml:"])
    lines = {line.split("koppel.toml:", 1)[1].split()[0] for line in out.splitlines() if "koppel.toml:" in line}
    assert len(lines) == 3, out
