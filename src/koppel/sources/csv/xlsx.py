"""Check an ``.xlsx`` workbook as the zip archive it is, before openpyxl opens it.

A workbook is a zip of XML parts. openpyxl trusts it: a 460 KB workbook whose one cell unpacks to
400 MB took 7 GB of memory, and a part that declares a DOCTYPE reaches an XML parser. So the
archive is checked from its directory first — nothing is inflated for that — and refused
(``SourceDataError`` naming the file) when:

* it is no zip at all, or damaged or truncated (an old ``.xls`` or a password-protected workbook,
  which are OLE files, are named as such);
* it has more than :data:`MAX_PARTS` parts, or unpacks to more than the ``max_file_mb`` limit in
  total, or a part unpacks to more than :data:`MAX_RATIO` times its packed size (real sheets pack 5
  to 25 times; only parts above 1 MB unpacked count), or its shared strings (which openpyxl holds in
  memory, while it streams the sheet) to more than :data:`MAX_SHARED_STRINGS`. The sizes in the
  directory cannot lie to openpyxl: Python's ``zipfile`` never inflates a part beyond the size its
  directory declares;
* a part is encrypted, or compressed otherwise than with deflate (as every office program does);
* an XML part declares a DOCTYPE (entities: "billion laughs", external entities), or names an
  encoding in which that could hide (anything but UTF-8, UTF-16, ASCII, Latin-1, Windows-1252).
  Only the head of each XML part is inflated for this: a DOCTYPE can only stand before the root
  element.

Reading the sheet afterwards is bounded too (see ``text.py``): its declared dimensions are ignored,
rows beyond Excel's last row and sheets of more than :data:`MAX_CELLS` cells are refused.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from koppel.errors import SourceDataError

__all__ = [
    "MAX_CELLS",
    "MAX_PARTS",
    "MAX_RATIO",
    "MAX_ROW",
    "MAX_SHARED_STRINGS",
    "check_workbook",
    "prolog_problem",
]

MAX_PARTS = 10_000
MAX_RATIO = 200
MAX_ROW = 1_048_576  # Excel's last row
MAX_SHARED_STRINGS = 128 * 1024 * 1024  # openpyxl keeps every shared string in memory; the sheet is streamed
MAX_CELLS = 20_000_000  # cells and empty rows read from one sheet (a large export holds a few million)
_RATIO_FLOOR = 1024 * 1024  # parts smaller than this unpacked are never bombs, whatever their ratio
_HEAD = 64 * 1024  # how much of an XML part is inflated to find its root element
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCODINGS = frozenset(
    {
        "utf-8",
        "utf8",
        "utf-16",
        "utf-16le",
        "utf-16be",
        "us-ascii",
        "ascii",
        "iso-8859-1",
        "latin1",
        "latin-1",
        "windows-1252",
        "cp1252",
    }
)
_DECLARED_ENCODING = re.compile(r"""encoding\s*=\s*["']([^"']*)["']""")
_NOT_WELL_FORMED = "is not well-formed XML"
_NOT_XML = "does not begin with XML"
_SAVE_AGAIN = "save it again as .xlsx in Excel or LibreOffice, or export CSV"


def _refused(display: str, reason: str) -> SourceDataError:
    return SourceDataError(
        f"{display}: is refused as an Excel workbook: {reason}. koppel opens no workbook that could exhaust "
        f"or trick the machine reading it: {_SAVE_AGAIN}"
    )


def _unreadable(display: str, reason: str) -> SourceDataError:
    return SourceDataError(f"{display}: is not a readable Excel workbook: {reason}; {_SAVE_AGAIN}")


def check_workbook(path: Path, display: str, max_bytes: int) -> None:
    """Refuse the workbook at ``path`` unless it is a zip openpyxl may safely open."""
    magic = b""
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(_OLE))
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise SourceDataError(f"{display}: file not found ({path})") from None
    except IsADirectoryError:
        raise SourceDataError(f"{display}: is a folder, not a file ({path})") from None
    except PermissionError:
        raise SourceDataError(f"{display}: no permission to read {path}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        if magic == _OLE:
            raise _unreadable(
                display,
                "it is an old .xls workbook or a password-protected one (koppel reads .xlsx without "
                "a password)",
            ) from None
        raise _unreadable(
            display,
            "it is not a zip archive, as every .xlsx is (a damaged or truncated file, or another "
            "format with the .xlsx extension)",
        ) from None
    with archive:
        parts = archive.infolist()
        _check_directory(parts, display, max_bytes)
        for part in parts:
            if part.filename.lower().endswith(_XML_SUFFIXES) and part.file_size:
                _check_prolog(archive, part, display)


def _check_directory(parts: list[zipfile.ZipInfo], display: str, max_bytes: int) -> None:
    if len(parts) > MAX_PARTS:
        raise _refused(display, f"it has {len(parts):,} parts (more than {MAX_PARTS:,})")
    total = sum(p.file_size for p in parts)
    if total > max_bytes:
        raise _refused(
            display,
            f"it unpacks to {total // 2**20:,} MB, more than the {max_bytes // 2**20:,} MB limit (max_file_mb)",
        )
    for part in parts:
        if part.filename.lower().endswith("sharedstrings.xml") and part.file_size > MAX_SHARED_STRINGS:
            raise _refused(
                display,
                f"its shared strings unpack to {part.file_size // 2**20:,} MB, more than "
                f"{MAX_SHARED_STRINGS // 2**20} MB (openpyxl holds them all in memory)",
            )
        if part.flag_bits & 0x1:
            raise _refused(display, f"part {part.filename!r} is encrypted")
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # Office writes deflate only; bzip2 and LZMA inflate whole blocks at a time.
            raise _refused(display, f"part {part.filename!r} uses a compression no workbook uses")
        if part.file_size > _RATIO_FLOOR and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            ratio = part.file_size // max(part.compress_size, 1)
            raise _refused(
                display,
                f"part {part.filename!r} unpacks to {part.file_size // 2**20:,} MB, {ratio:,} times its packed "
                f"size (real workbooks pack at most a few dozen times; a zip bomb?)",
            )


def _check_prolog(archive: zipfile.ZipFile, part: zipfile.ZipInfo, display: str) -> None:
    try:
        with archive.open(part) as stream:
            head = stream.read(_HEAD)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, RuntimeError, OSError) as exc:
        raise _unreadable(display, f"part {part.filename!r} is damaged ({exc.__class__.__name__})") from None
    except NotImplementedError:
        raise _unreadable(display, f"part {part.filename!r} uses a compression koppel cannot read") from None
    problem = prolog_problem(head, complete=len(head) < _HEAD)
    if problem is not None:
        damaged = problem in (_NOT_WELL_FORMED, _NOT_XML)
        raise (_unreadable if damaged else _refused)(display, f"part {part.filename!r} {problem}")


def prolog_problem(head: bytes, *, complete: bool) -> str | None:
    """Why the XML beginning with ``head`` must not reach a parser (a DOCTYPE …), or None.

    ``complete``: ``head`` is the whole part, not only its beginning.
    """
    text = _decode_head(head)
    if text is None:
        return "is XML in an encoding no workbook uses (UTF-32 or unknown)"
    unfinished = _NOT_WELL_FORMED if complete else "has no root element in its first 64 KB"
    i, size = 0, len(text)
    while True:
        while i < size and text[i] in " \t\r\n":
            i += 1
        if i >= size:
            return unfinished
        if text.startswith("<?", i):
            end = text.find("?>", i)
            if end < 0:
                return unfinished
            declared = _DECLARED_ENCODING.search(text, i, end) if text.startswith("<?xml", i) else None
            if declared is not None and declared.group(1).strip().lower() not in _ENCODINGS:
                return f"declares the encoding {declared.group(1)[:40]!r}, which no workbook uses"
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                return unfinished
            i = end + 3
        elif text.startswith("<!", i):
            return "declares a DOCTYPE (XML entities), which no workbook saved by an office program has"
        elif text.startswith("<", i):
            return None
        else:
            return _NOT_XML


def _decode_head(head: bytes) -> str | None:
    """The head as text: UTF-16 by BOM or by its first character, else UTF-8 (broken bytes replaced)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return None
    if head.startswith(b"\xef\xbb\xbf"):
        return head[3:].decode("utf-8", "replace")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "ignore")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", "ignore")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", "ignore")
    if head[:1] == b"\x00":
        return None
    return head.decode("utf-8", "replace")
