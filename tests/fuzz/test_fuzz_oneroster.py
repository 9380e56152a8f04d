"""Fuzzing the OneRoster source: exports as folders and as zips, from mutated and arbitrary bytes.

The outcome is a Roster or one of koppel's own errors (:class:`KoppelError`): no other exception, no
hang (the deadline), no memory blow-up (the archive checks and the CSV field limit hold; inputs are
bounded), and the export stays as it was. A roster that is read carries no name that
:func:`koppel.textsafe.field_problem` refuses.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.connectors import ConnectorContext
from koppel.errors import KoppelError
from koppel.generator import generate
from koppel.model.roster import Roster, SchoolYear
from koppel.sources.oneroster import OneRosterSettings, OneRosterSource
from koppel.textsafe import field_problem
from tests.sources_oneroster.writer import write_export

YEAR = SchoolYear(2025)
TODAY = dt.date(2025, 10, 1)
EXAMPLES = int(os.environ.get("KOPPEL_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=dt.timedelta(seconds=3),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
INSERTS = [
    b'"',
    b'""',
    b",",
    b",,,,,,,,,,,,,,,,,,,,,,",
    b"\n",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xe9",  # a Windows-1252 é in UTF-8
    b"\xe2\x80\xae",  # U+202E RIGHT-TO-LEFT OVERRIDE
    b"\xc2\x9b",
    b"\x1b[2J",
    b"tobedeleted",
    b"active",
    b"bulk",
    b"delta",
    b"absent",
    b"1.1",
    b"2025-13-45",
    b"31/12/2025",
    b"{ECK:https://ketenid.nl/201703/" + b"ab" * 64 + b"}",
    b"homeroom",
    b"student",
    b"x" * 3000,
    b'"' + b"x" * 300,  # a quote never closed
]
FILES = [
    "manifest.csv",
    "users.csv",
    "orgs.csv",
    "classes.csv",
    "enrollments.csv",
    "roles.csv",
    "academicSessions.csv",
]


@dataclass
class Export:
    """The clean export (per file), its zip, and a scratch folder each example reads from."""

    files: dict[str, bytes]
    archive: bytes
    scratch: Path

    def restore(self) -> None:
        for name, data in self.files.items():
            (self.scratch / name).write_bytes(data)
        (self.scratch / "export.zip").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Export]:
    base = write_export(
        generate(students=40, schools=1, year=YEAR, seed=7), tmp_path_factory.mktemp("or") / "x"
    )
    files = {path.name: path.read_bytes() for path in sorted(base.iterdir())}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    scratch = tmp_path_factory.mktemp("scratch")
    shutil.copytree(base, scratch, dirs_exist_ok=True)
    yield Export(files, buffer.getvalue(), scratch)


def mutate(draw: st.DrawFn, data: bytes, inserts: list[bytes]) -> bytes:
    edited = bytearray(data)
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(edited)))
        operation = draw(st.sampled_from(["insert", "insert", "flip", "delete", "truncate"]))
        if operation == "insert":
            edited[position:position] = draw(st.sampled_from(inserts) | st.binary(max_size=12))
        elif operation == "flip" and edited:
            edited[min(position, len(edited) - 1)] = draw(st.integers(0, 255))
        elif operation == "delete":
            del edited[position : position + draw(st.integers(1, 60))]
        else:
            del edited[position:]
    return bytes(edited)


def _read(path: Path) -> Roster | KoppelError:
    ctx = ConnectorContext(tenant="fuzz", base_dir=path.parent, env={})
    source = OneRosterSource(
        "or", OneRosterSettings(path=str(path), max_unpacked_mb=8), ctx, today=lambda: TODAY
    )
    try:
        roster = source.read()
    except KoppelError as exc:
        return exc
    for person in roster.persons.values():
        for value in (person.roepnaam, person.voorvoegsel, person.achternaam):
            assert field_problem(value, "name") is None, (person.key, value[:80])
    return roster


def _unchanged(folder: Path, expected: dict[str, bytes]) -> None:
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == expected


@FUZZ
@given(data=st.data())
def test_a_folder_export_with_one_file_mutated(export: Export, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(FILES))
    content = data.draw(st.sampled_from([export.files[name]]) | st.binary(max_size=600))
    mutated = mutate(data.draw, content, INSERTS)
    (export.scratch / name).write_bytes(mutated)
    try:
        _read(export.scratch)
        _unchanged(export.scratch, {**export.files, name: mutated})
    finally:
        export.restore()


@FUZZ
@given(data=st.data())
def test_a_zipped_export_mutated_byte_by_byte(export: Export, data: st.DataObject) -> None:
    archive = mutate(
        data.draw, export.archive, [b"\x00" * 4, b"\xff" * 4, b"PK\x03\x04", b"PK\x01\x02", b"../"]
    )
    path = export.scratch / "export.zip"
    path.write_bytes(archive)
    try:
        _read(path)
        assert path.read_bytes() == archive
    finally:
        export.restore()


@FUZZ
@given(
    entries=st.lists(
        st.tuples(
            st.sampled_from([*FILES, "../users.csv", "sub/users.csv", "/abs.csv", "a\\b.csv", "dir/"]),
            st.binary(max_size=300),
            st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]),
        ),
        max_size=6,
    )
)
def test_zips_of_arbitrary_entries(export: Export, entries: list[tuple[str, bytes, int]]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": the archive check refuses it
        for name, content, compression in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            archive.writestr(info, content)
    path = export.scratch / "export.zip"
    path.write_bytes(buffer.getvalue())
    try:
        _read(path)
    finally:
        export.restore()
