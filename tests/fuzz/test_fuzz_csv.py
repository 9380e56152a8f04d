"""Fuzzing the CSV/Excel source: random bytes, CSV-ish text, mutated exports and random workbooks.

Every input is written to a fresh folder and read through :class:`CsvSource` as a run reads an
export. The outcome is a :class:`Roster` or one of koppel's own errors (:class:`KoppelError`): no
other exception, no hang (the deadline), no memory blow-up (the inputs are small and the source's
own bounds hold). Reading touches nothing: the files and the folder are as they were.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from koppel.connectors import ConnectorContext
from koppel.errors import KoppelError
from koppel.model import Roster
from koppel.sources.csv import CsvSource, CsvSourceSettings

EXAMPLES = int(os.environ.get("KOPPEL_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=dt.timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TODAY = dt.date(2025, 10, 1)
STAFF = "Stamnr;Code;Roepnaam;Achternaam;Klasvakken\n1;ABC;Eva;Kok;1A.ne\n"
PUPILS = (
    "Stamnr;Roepnaam;Tussenvoegsel;Achternaam;Klas;Leerjaar;Groepen;Vakken;Email;Lesperiode\n"
    "1001;Noëlle;;Jansen;1A;1;1A.ne,1A.en;ne,en;n.jansen@school.nl;2025-2026\n"
    "1002;René;van;Dijk;1A;1;;ne;;2025-2026\n"
)
NATIVE = {
    "persons.csv": "id,kind,roepnaam,achternaam,email,schools,children\n"
    "p1,student,Jan,Smit,jan@school.nl,12AB00,\np2,guardian,Els,Smit,,12AB00,p1\n",
    "groups.csv": "id,kind,name,school,school_year,parent\n1A,stamgroep,1A,12AB00,2025-2026,\n"
    "1A.ne,lesgroep,Nederlands,12AB00,2025-2026,1A\n",
    "memberships.csv": "person,group,role,start,end\np1,1A,student,,\np1,1A.ne,student,2025-08-01,2026-07-31\n",
}
INSERTS = [
    b"\x00",
    b"\xe9",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b'"',
    b";",
    b"\n",
    b"\r",
    b"\x1b[2J",
    "\u202e".encode(),
    b"A" * 3000,
    b'"' + b"x" * 200,
    b"2024-2025",
    b"99999999999999999999",
    b"PK\x03\x04",
]
NASTY = st.sampled_from(
    [
        "",
        ";",
        ",",
        '"',
        '""',
        "\n",
        "\r\n",
        "\t",
        "\x00",
        "\x1b",
        "\u202e",
        "\ufeff",
        "Ã«",
        "é",
        "ë",
        "\u2028",
        " ",
        "x" * 300,
        "1A",
        "12AB00",
        "2025-2026",
        "2024-2025",
    ]
)
CELL_TEXT = st.one_of(st.text(max_size=40), NASTY)


def read(files: dict[str, bytes], **settings: object) -> Roster | KoppelError:
    """Write ``files`` to a fresh folder and read it; the folder must be untouched by the read."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, data in files.items():
            (root / name).write_bytes(data)
        before = {p.name: p.read_bytes() for p in root.iterdir()}
        settings = {"layout": "magister", "school": "12AB00", **settings}
        ctx = ConnectorContext(tenant="fuzz", base_dir=root, env={})
        source = CsvSource("las", CsvSourceSettings(path=str(root), **settings), ctx, today=lambda: TODAY)
        try:
            outcome: Roster | KoppelError = source.read()
        except KoppelError as exc:
            outcome = exc
        assert {p.name: p.read_bytes() for p in root.iterdir()} == before, "the read changed the export"
        return outcome


def _checked(outcome: Roster | KoppelError) -> None:
    assert isinstance(outcome, Roster | KoppelError)
    if isinstance(outcome, Roster):
        for person in outcome.persons.values():
            for value in (person.roepnaam, person.voorvoegsel, person.achternaam, person.email or ""):
                assert "\x00" not in value and "\x1b" not in value and "\u202e" not in value
                assert len(value) <= 320


@FUZZ
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x00" * 10)
@example(b"Stamnr;Roepnaam;Achternaam;Klas\n1;Ren\xe9;Bos;1A\n")
def test_random_bytes_as_a_pupils_file(data: bytes) -> None:
    _checked(read({"leerlingen.csv": data, "docenten.csv": STAFF.encode()}))


@FUZZ
@given(
    st.lists(st.lists(CELL_TEXT, min_size=1, max_size=12), min_size=1, max_size=20),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"]),
    st.sampled_from([";", ",", "\t", "|"]),
)
def test_csv_ish_text(rows: list[list[str]], encoding: str, delimiter: str) -> None:
    header = PUPILS.splitlines()[0].replace(";", delimiter)
    text = header + "\n" + "\n".join(delimiter.join(cells) for cells in rows) + "\n"
    data = text.encode(encoding, errors="replace")
    _checked(read({"leerlingen.csv": data, "docenten.csv": STAFF.encode()}))


def _mutate(seed: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for position, cut, insert in edits:
        at = position % (len(data) + 1)
        data[at : at + cut] = insert
    return bytes(data)


EDITS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1 << 16),
        st.integers(min_value=0, max_value=8),
        st.one_of(st.sampled_from(INSERTS), st.binary(max_size=8)),
    ),
    min_size=1,
    max_size=6,
)


@FUZZ
@given(EDITS, st.sampled_from(["utf-8", "cp1252", "utf-16"]))
def test_mutated_magister_export(edits: list[tuple[int, int, bytes]], encoding: str) -> None:
    pupils = _mutate(PUPILS.encode(encoding), edits)
    _checked(read({"leerlingen.csv": pupils, "docenten.csv": STAFF.encode()}))


@FUZZ
@given(st.sampled_from(sorted(NATIVE)), EDITS)
def test_mutated_koppel_layout_export(name: str, edits: list[tuple[int, int, bytes]]) -> None:
    files = {n: text.encode() for n, text in NATIVE.items()}
    files[name] = _mutate(files[name], edits)
    _checked(read(files, layout="koppel", school=None))


def _workbook(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _clean(value: object) -> object:
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


CELLS = st.one_of(
    st.none(),
    CELL_TEXT,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
)


@FUZZ
@given(st.lists(st.lists(CELLS, max_size=10), max_size=12), st.booleans())
def test_random_cells_in_a_workbook(rows: list[list[object]], with_header: bool) -> None:
    header: list[list[object]] = (
        [["Stamnr", "Roepnaam", "Achternaam", "Klas", "Groepen"]] if with_header else []
    )
    book = _workbook(header + [[_clean(v) for v in row] for row in rows])
    _checked(read({"leerlingen.xlsx": book, "docenten.csv": STAFF.encode()}))


SEED_BOOK = _workbook(
    [
        ["Stamnr", "Roepnaam", "Achternaam", "Klas"],
        [1001, "Noëlle", "Jansen", "1A"],
        [1002, "René", "Dijk", "1A"],
    ]
)
XML_INSERTS = [
    b"<!DOCTYPE x [<!ENTITY e 'x'>]>",
    b"&e;",
    b"&#0;",
    b'<row r="1048577"><c r="A1048577"><v>1</v></c></row>',
    b'<row r="3"><c r="XFD3"><v>1</v></c></row>',
    b'<c r="ZZZZ1"><v>1</v></c>',
    b'<c r="A2" t="s"><v>99</v></c>',
    b'<c r="A2" t="d"><v>not a date</v></c>',
    b'<c r="A2" t="n"><v>1e999</v></c>',
    b'<c r="A2" s="999"><v>1</v></c>',
    b'<dimension ref="A1:XFD1048576"/>',
    b"<sheetData>",
    b"</row>",
    b"<",
]


def _rewrite(book: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(book)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, change(info.filename, source.read(info)))
    return out.getvalue()


@FUZZ
@given(
    st.sampled_from(sorted(zipfile.ZipFile(io.BytesIO(SEED_BOOK)).namelist())),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=1 << 16),
            st.integers(min_value=0, max_value=16),
            st.one_of(st.sampled_from(XML_INSERTS), st.binary(max_size=8)),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_workbook_parts(part: str, edits: list[tuple[int, int, bytes]]) -> None:
    book = _rewrite(SEED_BOOK, lambda name, data: _mutate(data, edits) if name == part else data)
    _checked(read({"leerlingen.xlsx": book, "docenten.csv": STAFF.encode()}))


@FUZZ
@given(EDITS)
@example([(0, 4, b"PK\x03\x04")])
@example([(1 << 16, 30, b"")])
def test_mutated_workbook_bytes(edits: list[tuple[int, int, bytes]]) -> None:
    _checked(read({"leerlingen.xlsx": _mutate(SEED_BOOK, edits), "docenten.csv": STAFF.encode()}))
