"""Whole-file problems: encodings, delimiters, empty, header-only, truncated, binary, Excel."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from openpyxl import Workbook

from koppel.errors import ConfigError, SourceDataError
from koppel.model import PersonKind

from .conftest import codes, read

PUPILS = "Stamnr;Roepnaam;Tussenv;Achternaam;Klas\n1001;René;;Boër;1A\n1002;Anaïs;van;Dijk;1A\n"
STAFF = "Stamnr;Code;Roepnaam;Achternaam;Klasvakken\n1;ABC;Eva;Kok;1A.ne\n"


def export(
    folder: Path, pupils: str | bytes = PUPILS, staff: str | bytes = STAFF, *, encoding: str = "utf-8"
) -> Path:
    for name, content in (("leerlingen.csv", pupils), ("docenten.csv", staff)):
        data = content if isinstance(content, bytes) else content.encode(encoding)
        (folder / name).write_bytes(data)
    return folder


def names(folder: Path, **settings) -> list[str]:
    roster = read(folder, layout="magister", school="12AB00", **settings)
    return sorted(p.display_name for p in roster.persons.values() if p.kind is PersonKind.STUDENT)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    export(tmp_path, encoding=encoding)
    assert names(tmp_path) == ["Anaïs van Dijk", "René Boër"]


def test_explicit_encoding_mismatch_names_file_and_line(tmp_path: Path) -> None:
    export(tmp_path, encoding="cp1252")
    with pytest.raises(SourceDataError, match=r"leerlingen.csv:2: is not valid utf-8 \(byte 0xe9\)"):
        names(tmp_path, encoding="utf-8")
    assert names(tmp_path, encoding="cp1252") == ["Anaïs van Dijk", "René Boër"]


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    export(tmp_path, PUPILS.replace(";", delimiter), STAFF.replace(";", delimiter))
    assert names(tmp_path) == ["Anaïs van Dijk", "René Boër"]


def test_quoted_cells_with_separators_and_line_breaks(tmp_path: Path) -> None:
    export(
        tmp_path,
        'Stamnr,Roepnaam,Achternaam,Klas,Groepen,Adres\n1,"Jan, de",Smit,1A,"4hnat1, 4hwisB1",\n'
        '2,Line,Bos,1A,,"Dorpsstraat 1\n1234 AB Dorp"\n3,Piet,Kok,1A,,\n',
        STAFF.replace(";", ","),
    )
    roster = read(tmp_path, layout="magister", school="12AB00")
    assert roster.persons["las:12AB00:1"].roepnaam == "Jan, de"
    assert roster.persons["las:12AB00:2"].roepnaam == "Line"  # a line break in a column koppel ignores
    assert roster.persons["las:12AB00:3"].provenance.line == 5  # physical line, after the quoted line break
    assert {g.name for g in roster.groups.values()} >= {"4hnat1", "4hwisB1"}


def test_wrong_delimiter_setting(tmp_path: Path) -> None:
    export(tmp_path)
    with pytest.raises(SourceDataError, match=r"leerlingen.csv:1: the header has no ',' but has ';'"):
        names(tmp_path, delimiter=",")


def test_header_with_a_single_column_hints_at_the_delimiter(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr Roepnaam Achternaam Klas\n1 A B 1A\n")
    with pytest.raises(
        SourceDataError, match=r"required column 'Stamnr' is missing.*single column: is the delimiter right"
    ):
        names(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    export(tmp_path, b"")
    with pytest.raises(SourceDataError, match=r"leerlingen.csv: is empty"):
        names(tmp_path)
    export(tmp_path, b"\xef\xbb\xbf\r\n\r\n")
    with pytest.raises(SourceDataError, match=r"leerlingen.csv: is empty"):
        names(tmp_path)


def test_header_only_is_refused(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas\n")
    with pytest.raises(
        SourceDataError, match=r"leerlingen\.csv: has a header but no rows.*never means everyone left"
    ):
        names(tmp_path)
    export(tmp_path, PUPILS, "Stamnr;Code;Roepnaam;Achternaam\n\n;;;\n")
    with pytest.raises(SourceDataError, match=r"docenten\.csv: has a header but no rows"):
        names(tmp_path)


def test_header_only_optional_lesgroepen_file_is_fine(tmp_path: Path) -> None:
    export(tmp_path)
    (tmp_path / "lesgroepen.csv").write_text("Lesgroep;Vak\n", encoding="utf-8")
    assert len(names(tmp_path)) == 2


def test_truncated_last_row(tmp_path: Path) -> None:
    export(tmp_path, PUPILS + "1003;Sa")
    with pytest.raises(
        SourceDataError,
        match=r"leerlingen.csv:4: the last row has 2 of 5 values: the export "
        "looks truncated",
    ):
        names(tmp_path)


def test_unbalanced_quote_at_end_of_file(tmp_path: Path) -> None:
    export(tmp_path, PUPILS + '1003;"Sa;;Kok;1A\n')
    with pytest.raises(SourceDataError, match=r"leerlingen.csv:4: the file ends inside a quoted value"):
        names(tmp_path)


def test_short_long_and_malformed_rows_in_the_middle_are_left_out(tmp_path: Path) -> None:
    export(
        tmp_path,
        'Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n2;C\n3;D;E;1A;extra\n4;"F"x;G;1A\n5;H;I;1A;;\n6;J;K;1A\n',
    )
    roster = read(tmp_path, layout="magister", school="12AB00")
    assert [(d.code, d.line) for d in roster.diagnostics] == [
        ("short-row", 3),
        ("long-row", 4),
        ("malformed-row", 5),
    ]
    assert all(d.file == "leerlingen.csv" and d.source == "las" for d in roster.diagnostics)
    numbers = sorted(p.leerlingnummer for p in roster.persons.values() if p.leerlingnummer)
    assert numbers == ["1", "5", "6"]  # trailing empty cells (row 5) are fine


def test_only_broken_rows_is_refused(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas\n1;A\n2;B;C;1A\n".replace("2;B;C;1A", "2;B"))
    with pytest.raises(SourceDataError, match="the last row has 2 of 4 values"):
        names(tmp_path)
    export(tmp_path, 'Stamnr;Roepnaam;Achternaam;Klas\n1;A\n"2"x;B;C;D\n3;E;F;G;H;I\n')
    with pytest.raises(
        SourceDataError, match=r"has no usable rows \(3 could not be read, the first at line 2\)"
    ):
        names(tmp_path)


def test_binary_and_random_bytes_fail_fast(tmp_path: Path) -> None:
    export(tmp_path, os.urandom(50 * 1024 * 1024))
    started = time.perf_counter()
    with pytest.raises(SourceDataError, match=r"leerlingen.csv: is a binary file, not CSV text"):
        names(tmp_path)
    assert time.perf_counter() - started < 2


def test_high_bytes_without_nul_are_not_text(tmp_path: Path) -> None:
    export(tmp_path, bytes(range(0x80, 0x100)) * 1000)
    with pytest.raises(SourceDataError, match="neither UTF-8 nor Windows-1252"):
        names(tmp_path)


def test_no_line_break_in_the_first_megabyte(tmp_path: Path) -> None:
    export(tmp_path, b"x" * (2 * 1024 * 1024))
    with pytest.raises(SourceDataError, match="no line break in its first megabyte"):
        names(tmp_path)


def test_workbook_saved_as_csv_is_recognised(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.save(tmp_path / "book.xlsx")
    export(tmp_path, (tmp_path / "book.xlsx").read_bytes())
    with pytest.raises(SourceDataError, match="looks like an Excel workbook"):
        names(tmp_path)


def test_file_size_limit(tmp_path: Path) -> None:
    export(tmp_path, PUPILS + "9;x;;y;1A\n" * 200_000)
    with pytest.raises(SourceDataError, match="more than the 1 MB limit"):
        names(tmp_path, max_file_mb=1)


def _workbook(path: Path, rows: list[list[object]], sheet: str = "Leerlingen") -> Path:
    workbook = Workbook()
    sheet_ = workbook.active
    sheet_.title = sheet
    for row in rows:
        sheet_.append(row)
    workbook.create_sheet("Anders").append(["niets"])
    workbook.save(path)
    return path


def test_excel_workbooks(tmp_path: Path) -> None:
    _workbook(
        tmp_path / "leerlingen.xlsx",
        [
            [],
            ["Stamnr", "Roepnaam", "Tussenvoegsel", "Achternaam", "Klas", "Leerjaar"],
            [1001.0, "Zoë", None, "Çelik", "1A", 1],
            [1002, "Daan", "de", "Vries", "1A", 1.0],
        ],
    )
    _workbook(
        tmp_path / "docenten.xlsx",
        [["Stamnr", "Code", "Roepnaam", "Achternaam", "Klasvakken"], [1, "ABC", "Eva", "Kok", "1A.ne"]],
    )
    roster = read(tmp_path, layout="magister", school="12AB00")
    zoe = roster.persons["las:12AB00:1001"]
    assert (zoe.roepnaam, zoe.achternaam, zoe.leerjaar) == ("Zoë", "Çelik", 1)
    assert zoe.provenance.line == 3
    assert roster.persons["las:12AB00:1002"].voorvoegsel == "de"
    assert read(tmp_path, layout="magister", school="12AB00", sheet="Leerlingen").counts() == roster.counts()
    with pytest.raises(ConfigError, match="no sheet 'Blad1'"):
        read(tmp_path, layout="magister", school="12AB00", sheet="Blad1")


def test_excel_header_only_and_broken_workbook(tmp_path: Path) -> None:
    _workbook(tmp_path / "leerlingen.xlsx", [["Stamnr", "Roepnaam", "Achternaam", "Klas"]])
    (tmp_path / "docenten.csv").write_text(STAFF, encoding="utf-8")
    with pytest.raises(SourceDataError, match=r"leerlingen\.xlsx: has a header but no rows"):
        names(tmp_path)
    (tmp_path / "leerlingen.xlsx").write_bytes(os.urandom(4096))
    with pytest.raises(SourceDataError, match=r"leerlingen\.xlsx: is not a readable Excel workbook"):
        names(tmp_path)


def test_diagnostics_from_header_and_rows_name_file_and_line(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Hobby\n1;A;B;1A;x\n1;C;D;1A;y\n")
    roster = read(tmp_path, layout="magister", school="12AB00")
    assert codes(roster) == ["unknown-column", "duplicate-number"]
    assert [(d.file, d.line) for d in roster.diagnostics] == [("leerlingen.csv", 1), ("leerlingen.csv", 3)]
