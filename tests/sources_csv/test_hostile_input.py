"""Hostile and broken input through the CSV/Excel source (issue 10): bombs, lengths, NUL, encodings.

Every case writes real files and reads them through the source as a run does; what must be refused
is refused with one SourceDataError naming the file (and line), what is one bad row is an error
diagnostic with file, line and column, and nothing else escapes.
"""

from __future__ import annotations

import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from koppel.errors import SourceDataError
from koppel.model import PersonKind, Roster
from koppel.model.roster import Severity

from .conftest import read

STAFF = "Stamnr;Code;Roepnaam;Achternaam;Klasvakken\n1;ABC;Eva;Kok;1A.ne\n"
HEADER = "Stamnr;Roepnaam;Tussenv;Achternaam;Klas\n"


def export(folder: Path, pupils: str | bytes, staff: str | bytes = STAFF) -> Path:
    for name, content in (("leerlingen.csv", pupils), ("docenten.csv", staff)):
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return folder


def magister(folder: Path, **settings: object) -> Roster:
    return read(folder, layout="magister", school="12AB00", **settings)


def pupils(roster: Roster) -> dict[str, str]:
    return {
        p.leerlingnummer or "": p.display_name
        for p in roster.persons.values()
        if p.kind is PersonKind.STUDENT
    }


def findings(roster: Roster, code: str) -> list[tuple[str | None, int | None, str | None]]:
    return [(d.file, d.line, d.field) for d in roster.diagnostics if d.code == code]


# -- field lengths, control and bidi characters -----------------------------------------------------


def test_a_900_kb_name_is_an_error_with_file_line_and_column_and_the_row_is_left_out(tmp_path: Path) -> None:
    huge = "A" * (900 * 1024)
    export(tmp_path, f"{HEADER}1;Jan;;Smit;1A\n2;{huge};;Bos;1A\n3;Piet;;Kok;1A\n")
    roster = magister(tmp_path)
    assert pupils(roster) == {"1": "Jan Smit", "3": "Piet Kok"}
    (finding,) = [d for d in roster.diagnostics if d.code == "field-too-long"]
    assert (finding.severity, finding.file, finding.line, finding.field) == (
        Severity.ERROR,
        "leerlingen.csv",
        3,
        "Roepnaam",
    )
    assert "921,600 characters long, more than the 200" in finding.message
    assert len(finding.message) < 200


@pytest.mark.parametrize(
    ("cell", "column", "what"),
    [
        ("Jan\x1b[31m", "Roepnaam", "U+001B"),
        ("Smit\u202e", "Achternaam", "bidirectional"),
        ('"Line\nbreak"', "Roepnaam", "U+000A"),
        ("1A\x07", "Klas", "U+0007"),
    ],
)
def test_control_and_bidi_characters_in_a_field_are_refused_per_row(
    tmp_path: Path, cell: str, column: str, what: str
) -> None:
    row = {"Roepnaam": f"2;{cell};;Bos;1A", "Achternaam": f"2;Ben;;{cell};1A", "Klas": f"2;Ben;;Bos;{cell}"}
    export(tmp_path, f"{HEADER}1;Jan;;Smit;1A\n{row[column]}\n3;Piet;;Kok;1A\n")
    roster = magister(tmp_path)
    assert pupils(roster) == {"1": "Jan Smit", "3": "Piet Kok"}
    (finding,) = [d for d in roster.diagnostics if d.code == "bad-character"]
    assert (finding.file, finding.line, finding.field) == ("leerlingen.csv", 3, column)
    assert what in finding.message


def test_codes_and_multi_value_items_are_bounded_item_by_item(tmp_path: Path) -> None:
    many = ",".join(f"4hgroep{i}" for i in range(150))  # 1,500 characters of short codes: fine
    export(
        tmp_path,
        "Stamnr;Roepnaam;Achternaam;Klas;Groepen\n"
        f"1;Jan;Smit;1A;{many}\n2;Ben;Bos;{'K' * 101};\n3;Piet;Kok;1A;4hnat1,{'x' * 120}\n",
    )
    roster = magister(tmp_path)
    assert pupils(roster) == {"1": "Jan Smit"}
    assert findings(roster, "field-too-long") == [
        ("leerlingen.csv", 3, "Klas"),
        ("leerlingen.csv", 4, "Groepen"),
    ]


def test_a_koppel_layout_id_and_email_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "persons.csv").write_text(
        "id,kind,roepnaam,achternaam,email,schools\n"
        f"p1,student,Jan,Smit,jan@school.nl,12AB00\np2,student,Ben,Bos,{'b' * 330}@school.nl,12AB00\n"
        f"{'p' * 300},student,Eva,Kok,,12AB00\n",
        encoding="utf-8",
    )
    (tmp_path / "groups.csv").write_text("id,kind,name,school\n1A,stamgroep,1A,12AB00\n", encoding="utf-8")
    (tmp_path / "memberships.csv").write_text("person,group,role\np1,1A,student\n", encoding="utf-8")
    roster = read(tmp_path, layout="koppel")
    assert [p.las_key for p in roster.persons.values()] == ["p1"]
    assert findings(roster, "field-too-long") == [("persons.csv", 3, "email"), ("persons.csv", 4, "id")]


def test_a_header_with_a_control_character_is_no_export(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roep\x1bnaam;Achternaam;Klas\n1;Jan;Smit;1A\n")
    with pytest.raises(SourceDataError, match=r"leerlingen.csv:1: header column 2 contains a control"):
        magister(tmp_path)


# -- NUL ---------------------------------------------------------------------------------------------


def test_nul_after_the_first_64_kb_is_refused_with_its_line(tmp_path: Path) -> None:
    rows = "".join(f"{n};Naam{n};;Achter{n};1A\n" for n in range(1, 5001))  # ~120 KB
    export(tmp_path, f"{HEADER}{rows}9999;Nu\x00l;;Bos;1A\n")
    with pytest.raises(SourceDataError, match=r"leerlingen.csv:5002: contains a NUL character"):
        magister(tmp_path)


def test_nul_in_a_utf16_file_is_refused_too(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}1;Jan;;Sm\x00it;1A\n".encode("utf-16"))
    with pytest.raises(SourceDataError, match=r"leerlingen.csv:2: contains a NUL character"):
        magister(tmp_path)


# -- encodings ---------------------------------------------------------------------------------------


def test_utf8_with_one_stray_byte_stays_utf8_and_warns_about_that_byte(tmp_path: Path) -> None:
    data = f"{HEADER}1;Noëlle;;Jansen;1A\n2;Anaïs;van;Dijk;1A\n".encode() + b"3;Ren\xe9;;Bos;1A\n"
    export(tmp_path, data)
    roster = magister(tmp_path)
    assert pupils(roster) == {"1": "Noëlle Jansen", "2": "Anaïs van Dijk", "3": "René Bos"}
    (warning,) = [d for d in roster.diagnostics if d.code == "invalid-utf8"]
    assert (warning.severity, warning.file, warning.line, warning.field) == (
        Severity.WARNING,
        "leerlingen.csv",
        4,
        "Roepnaam",
    )
    assert "byte 0xE9 is not UTF-8" in warning.message
    assert "'René'" in warning.message


def test_the_issue_case_noelle_and_one_stray_byte(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}1;Noëlle;;Jansen;1A\n".encode() + b"2;Piet;;Bos\xe9;1A\n")
    roster = magister(tmp_path)
    assert pupils(roster)["1"] == "Noëlle Jansen"
    assert findings(roster, "invalid-utf8") == [("leerlingen.csv", 3, "Achternaam")]


def test_a_windows_1252_file_is_still_windows_1252(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}1;Noëlle;;Jansen;1A\n2;René;;Boër;1A\n3;Zoë;;Çelik;1A\n".encode("cp1252"))
    roster = magister(tmp_path)
    assert pupils(roster) == {"1": "Noëlle Jansen", "2": "René Boër", "3": "Zoë Çelik"}
    assert not findings(roster, "invalid-utf8")


def test_many_stray_bytes_make_the_file_windows_1252(tmp_path: Path) -> None:
    """More stray bytes than valid sequences: not UTF-8 (and the UTF-8 names show as mojibake)."""
    rows = "".join(f"{n};Ren\xe9;;Bo\xebr;1A\n" for n in range(2, 20)).encode("cp1252")
    export(tmp_path, f"{HEADER}1;Noëlle;;Jansen;1A\n".encode() + rows)
    roster = magister(tmp_path)
    assert pupils(roster)["1"] == "NoÃ«lle Jansen"
    assert pupils(roster)["2"] == "René Boër"
    assert not findings(roster, "invalid-utf8")


def test_stray_bytes_in_a_large_utf8_file_are_reported_but_capped(tmp_path: Path) -> None:
    rows = "".join(f"{n};Noëlle;;Jansen;1A\n" for n in range(1, 30_001)).encode()
    stray = b"".join(f"{n};Ren".encode() + b"\xe9;;Bos;1A\n" for n in range(40_001, 40_026))
    export(tmp_path, HEADER.encode() + rows + stray)
    roster = magister(tmp_path)
    assert pupils(roster)["40001"] == "René Bos"
    warnings = [d for d in roster.diagnostics if d.code == "invalid-utf8"]
    assert len(warnings) == 21
    assert warnings[-1].message.startswith("5 more bytes that are not UTF-8")


def test_a_configured_encoding_is_obeyed(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}1;Noëlle;;Jansen;1A\n".encode() + b"2;Ren\xe9;;Bos;1A\n")
    with pytest.raises(SourceDataError, match=r"leerlingen.csv:3: is not valid utf-8 \(byte 0xe9\)"):
        magister(tmp_path, encoding="utf-8")
    assert pupils(magister(tmp_path, encoding="cp1252"))["1"] == "NoÃ«lle Jansen"


# -- Excel -------------------------------------------------------------------------------------------


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def _replace_parts(path: Path, parts: dict[str, bytes | None]) -> Path:
    """Rewrite the workbook at ``path`` with some parts replaced (None: removed)."""
    with zipfile.ZipFile(path) as source:
        kept = {info.filename: source.read(info) for info in source.infolist()}
    for name, data in parts.items():
        if data is None:
            kept.pop(name, None)
        else:
            kept[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in kept.items():
            target.writestr(name, data)
    return path


def _excel_export(folder: Path, rows: list[list[object]] | None = None) -> Path:
    (folder / "docenten.csv").write_text(STAFF, encoding="utf-8")
    rows = rows or [["Stamnr", "Roepnaam", "Achternaam", "Klas"], [1, "Jan", "Smit", "1A"]]
    return _workbook(folder / "leerlingen.xlsx", rows)


SHEET = "xl/worksheets/sheet1.xml"
_SHEET_START = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
_HEADER_ROW = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>Stamnr</t></is></c><c r="B1" t="inlineStr"><is><t>Roepnaam'
    b'</t></is></c><c r="C1" t="inlineStr"><is><t>Achternaam</t></is></c><c r="D1" t="inlineStr"><is><t>Klas'
    b"</t></is></c></row>"
)


def test_an_excel_bomb_is_refused_before_anything_is_inflated(tmp_path: Path) -> None:
    """One cell of 64 MB packed into a few hundred KB: refused from the zip's directory alone."""
    book = _excel_export(tmp_path)
    _replace_parts(book, {SHEET: None})
    with zipfile.ZipFile(book, "a", zipfile.ZIP_DEFLATED) as archive, archive.open(SHEET, "w") as part:
        part.write(
            _SHEET_START + _HEADER_ROW + b'<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>'
        )
        chunk = b"A" * (1024 * 1024)
        for _ in range(64):
            part.write(chunk)
        part.write(b"</t></is></c></row></sheetData></worksheet>")
    assert book.stat().st_size < 2 * 1024 * 1024
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(
            SourceDataError,
            match=r"leerlingen.xlsx: is refused as an Excel workbook: part "
            r"'xl/worksheets/sheet1.xml' unpacks to 64 MB, [\d,]+ times its packed size",
        ):
            magister(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 20 * 1024 * 1024


def test_a_workbook_part_compressed_otherwise_than_deflate_is_refused(tmp_path: Path) -> None:
    book = _excel_export(tmp_path)
    with zipfile.ZipFile(book) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    with zipfile.ZipFile(book, "w", zipfile.ZIP_BZIP2) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(
        SourceDataError, match=r"leerlingen.xlsx: is refused .* uses a compression no workbook"
    ):
        magister(tmp_path)


def test_a_workbook_unpacking_beyond_max_file_mb_is_refused(tmp_path: Path) -> None:
    rows = [["Stamnr", "Roepnaam", "Achternaam", "Klas"]] + [
        [n, f"N{n * 7919}", f"A{n * 104729}", "1A"] for n in range(1, 8_000)
    ]
    book = _excel_export(tmp_path, rows)
    assert book.stat().st_size < 1024 * 1024
    with pytest.raises(SourceDataError, match=r"leerlingen.xlsx: is refused .* more than the 1 MB limit"):
        magister(tmp_path, max_file_mb=1)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("not a zip", r"is not a readable Excel workbook: it is not a zip archive"),
        ("truncated", r"is not a readable Excel workbook: it is not a zip archive"),
        ("no workbook part", r"is not a readable Excel workbook \(KeyError: .*xl/workbook.xml"),
        ("old xls", r"is not a readable Excel workbook: it is an old .xls workbook or a password-protected"),
        ("broken sheet", r"is not a readable Excel workbook \(ParseError"),
        ("empty zip", r"is not a readable Excel workbook"),
    ],
)
def test_a_malformed_workbook_gets_one_clear_message(tmp_path: Path, damage: str, message: str) -> None:
    book = _excel_export(tmp_path)
    data = book.read_bytes()
    if damage == "not a zip":
        book.write_bytes(b"Stamnr;Roepnaam\n1;Jan\n")
    elif damage == "truncated":
        book.write_bytes(data[: len(data) // 2])
    elif damage == "no workbook part":
        _replace_parts(book, {"xl/workbook.xml": None})
    elif damage == "old xls":
        book.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))
    elif damage == "broken sheet":
        _replace_parts(book, {SHEET: _SHEET_START + _HEADER_ROW + b'<row r="2"><c r="A2"><v>1</v'})
    else:
        with zipfile.ZipFile(book, "w"):
            pass
    with pytest.raises(SourceDataError, match=rf"^leerlingen.xlsx: {message}"):
        magister(tmp_path)


@pytest.mark.parametrize(
    "part",
    [
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
        b"<!-- a comment first -->\n<!DOCTYPE x SYSTEM 'file:///etc/passwd'>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "x">]>'.encode("utf-16"),
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE x+AD4-',
    ],
    ids=["billion-laughs", "external-entity", "utf-16", "utf-7"],
)
def test_a_workbook_part_with_a_doctype_is_refused(tmp_path: Path, part: bytes) -> None:
    book = _excel_export(tmp_path)
    with zipfile.ZipFile(book) as archive:
        sheet = archive.read(SHEET)
    if part.startswith(b"\xff\xfe"):
        prolog = part + sheet.decode().encode("utf-16-le")
    else:
        prolog = part + sheet
    _replace_parts(book, {SHEET: prolog})
    with pytest.raises(
        SourceDataError,
        match=r"leerlingen.xlsx: is refused as an Excel workbook: part "
        r"'xl/worksheets/sheet1.xml' (declares a DOCTYPE|declares the encoding 'UTF-7')",
    ):
        magister(tmp_path)


def test_an_undefined_entity_is_an_unreadable_workbook_not_a_blank_name(tmp_path: Path) -> None:
    book = _excel_export(tmp_path)
    with zipfile.ZipFile(book) as archive:
        sheet = archive.read(SHEET)
    _replace_parts(book, {SHEET: sheet.replace(b">Jan<", b">&evil;<")})
    with pytest.raises(
        SourceDataError, match=r"leerlingen.xlsx: is not a readable Excel workbook \(ParseError"
    ):
        magister(tmp_path)


def test_declared_sheet_dimensions_are_not_trusted(tmp_path: Path) -> None:
    """A1:XFD1048576 would pad every row to 16,384 cells; the rows are read as they are."""
    book = _excel_export(tmp_path)
    _replace_parts(
        book,
        {
            SHEET: _SHEET_START.replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
            + _HEADER_ROW
            + b'<row r="2"><c r="A2"><v>7</v></c><c r="B2" t="inlineStr"><is><t>Jan</t></is></c>'
            b'<c r="C2" t="inlineStr"><is><t>Smit</t></is></c><c r="D2" t="inlineStr"><is><t>1A</t></is></c></row>'
            b"</sheetData></worksheet>"
        },
    )
    started = time.perf_counter()
    assert pupils(magister(tmp_path)) == {"7": "Jan Smit"}
    assert time.perf_counter() - started < 2


def test_a_sheet_of_wide_rows_is_refused_at_the_cell_budget(tmp_path: Path) -> None:
    """A cell in column XFD on every row makes each row 16,384 cells: stopped at 20 million."""
    book = _excel_export(tmp_path)
    rows = b"".join(b'<row r="%d"><c r="XFD%d"><v>1</v></c></row>' % (n, n) for n in range(2, 3000))
    _replace_parts(book, {SHEET: _SHEET_START + _HEADER_ROW + rows + b"</sheetData></worksheet>"})
    started = time.perf_counter()
    with pytest.raises(SourceDataError, match=r"leerlingen.xlsx:\d+: holds more than 20,000,000 cells"):
        magister(tmp_path)
    assert time.perf_counter() - started < 5


def test_rows_beyond_excels_last_row_are_refused(tmp_path: Path) -> None:
    book = _excel_export(tmp_path)
    row = b'<row r="99999999"><c r="A99999999"><v>1</v></c></row>'
    _replace_parts(book, {SHEET: _SHEET_START + _HEADER_ROW + row + b"</sheetData></worksheet>"})
    with pytest.raises(SourceDataError, match=r"leerlingen.xlsx: has rows beyond row 1,048,576"):
        magister(tmp_path)


def test_excel_fields_are_bounded_like_csv_fields(tmp_path: Path) -> None:
    _excel_export(
        tmp_path,
        [
            ["Stamnr", "Roepnaam", "Achternaam", "Klas"],
            [1, "Jan", "Smit", "1A"],
            [2, "B" * 5000, "Bos", "1A"],
        ],
    )
    roster = magister(tmp_path)
    assert pupils(roster) == {"1": "Jan Smit"}
    assert findings(roster, "field-too-long") == [("leerlingen.xlsx", 3, "Roepnaam")]
