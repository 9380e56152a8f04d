"""Values a OneRoster export may hold but koppel does not accept: a name of almost a megabyte, NUL, control
and bidi characters, an item of a multi-value cell. Each row is left out with file, line and column."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from koppel.errors import SourceDataError
from koppel.generator import generate
from koppel.model import PersonKind, SchoolYear, Severity

from .conftest import read
from .writer import write_export, zip_folder

YEAR = SchoolYear(2025)


def _edit(path: Path, edits: dict[int, dict[str, str]]) -> None:
    """Change cells of ``path``: data row number (1 = the first after the header) → column → value."""
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    for number, cells in edits.items():
        for column, value in cells.items():
            rows[number - 1][header.index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows([header, *rows])


def test_rows_with_values_koppel_does_not_accept_are_left_out(tmp_path: Path) -> None:
    bestuur = generate(students=60, schools=1, year=YEAR, seed=3)
    folder = write_export(bestuur, tmp_path / "export")
    clean = read(folder)
    _edit(
        folder / "users.csv",
        {
            1: {"givenName": "x" * 900_000},  # a 900 KB name was read and synced before
            2: {"familyName": "Jan\x00sen"},
            3: {"preferredGivenName": "Sem\u202e"},
            4: {"email": "a" * 400 + "@school.nl"},
            5: {"agentSourcedIds": "stu-1,\x1b[31mstu-2"},
        },
    )
    _edit(folder / "classes.csv", {1: {"title": "1A\u2067"}})
    roster = read(zip_folder(folder, tmp_path / "export.zip"))
    refused = ("field-too-long", "bad-character")
    bad = sorted((d.file, d.line, d.field, d.code) for d in roster.diagnostics if d.code in refused)
    assert bad == [
        ("export.zip/classes.csv", 2, "title", "bad-character"),
        ("export.zip/users.csv", 2, "givenName", "field-too-long"),
        ("export.zip/users.csv", 3, "familyName", "bad-character"),
        ("export.zip/users.csv", 4, "preferredGivenName", "bad-character"),
        ("export.zip/users.csv", 5, "email", "field-too-long"),
        ("export.zip/users.csv", 6, "agentSourcedIds", "bad-character"),
    ]
    assert all(d.severity is Severity.ERROR for d in roster.diagnostics if d.code in refused)
    messages = [d.message for d in roster.diagnostics if d.code in refused]
    assert any(
        m.endswith(
            "givenName is 900,000 characters long, more than the 200 koppel accepts for a name; row left out"
        )
        for m in messages
    )
    assert any("familyName contains a NUL character (U+0000) at position 4" in m for m in messages)
    assert len(roster.persons) == len(clean.persons) - 5
    assert len(roster.groups) == len(clean.groups) - 1
    names = [p.display_name for p in roster.persons.values()]
    assert not any(ch in name for name in names for ch in ("\x00", "\u202e", "\x1b"))
    assert sum(p.kind is PersonKind.STUDENT for p in roster.persons.values()) >= 55


def test_a_zip_missing_its_first_byte_is_damaged_not_a_crash(tmp_path: Path) -> None:
    """Found by tests/fuzz: zipfile then seeks before the start of the file (OSError), which escaped."""
    folder = write_export(generate(students=20, schools=1, year=YEAR, seed=3), tmp_path / "export")
    archive = zip_folder(folder, tmp_path / "export.zip")
    archive.write_bytes(archive.read_bytes()[1:])
    with pytest.raises(SourceDataError, match="is damaged"):
        read(archive)
