"""From a file on disk to a header and rows with line numbers, or a clear SourceDataError.

Everything that makes an export *unusable as a whole* is decided here, before a single row is
trusted: a missing or empty file, a binary file, an encoding that is neither UTF-8 nor
Windows-1252, no recognisable header line, a file that ends inside a quoted value or in the
middle of its last row (a truncated download or a crashed export job). Problems with *one row*
(too few or too many values, broken quoting) become diagnostics and the row is left out.

The file is read into memory once and decoded once (an encoding mistake can be anywhere, so the
whole file has to be checked before any row counts); rows are then produced lazily, one line at
a time, so no second copy of the text is made.
"""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from koppel.errors import ConfigError, ConfigProblem, SourceDataError
from koppel.model.roster import Diagnostic, Severity

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

__all__ = ["RawTable", "TextOptions", "read_table"]

_SNIFF_BYTES = 64 * 1024
_MAX_HEADER_CHARS = 1024 * 1024
_DELIMITERS = (";", "\t", ",", "|")  # in order of preference on a tie
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_FIELD_LIMIT = 1024 * 1024

csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))


class _Reader(Protocol):
    """What ``csv.reader`` returns: an iterator of rows that counts physical lines."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class TextOptions:
    """How to read text files: None means detect."""

    source: str
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    max_bytes: int = 1024 * 1024 * 1024


@dataclass
class RawTable:
    """A header and lazily produced rows ``(line, cells)``; row problems collect in ``problems``."""

    display: str
    source: str
    header: list[str]
    header_line: int
    rows: Iterator[tuple[int, list[str]]]
    delimiter: str | None = None
    encoding: str | None = None
    problems: list[Diagnostic] = field(default_factory=list)

    def take_problems(self) -> list[Diagnostic]:
        """The row problems found so far, in line order (the last row is checked one step late)."""
        found = sorted(self.problems, key=lambda d: d.line or 0)
        self.problems.clear()
        return found


def read_table(path: Path, display: str, options: TextOptions, *, allow_empty: bool = False) -> RawTable:
    """Open ``path`` as a table. ``allow_empty``: a header without rows is fine (optional metadata files)."""
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        return _read_workbook(path, display, options, allow_empty)
    data = _load_bytes(path, display, options.max_bytes)
    text, encoding = _decode(data, display, options.encoding)
    del data
    return _read_text(text, display, options, encoding, allow_empty)


def _fail(display: str, message: str, line: int | None = None) -> SourceDataError:
    where = f"{display}:{line}" if line else display
    return SourceDataError(f"{where}: {message}")


def _load_bytes(path: Path, display: str, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _fail(
                display,
                f"is {size // (1024 * 1024)} MB, more than the {max_bytes // (1024 * 1024)} MB "
                "limit (max_file_mb): not an export?",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise _fail(display, f"file not found ({path})") from None
    except IsADirectoryError:
        raise _fail(display, f"is a folder, not a file ({path})") from None
    except PermissionError:
        raise _fail(display, f"no permission to read {path}") from None


# -- encoding ------------------------------------------------------------------------------------


def _decode(data: bytes, display: str, encoding: str | None) -> tuple[str, str]:
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise _fail(display, "is empty: an export without rows is refused (it never means everyone left)")
    if encoding:
        return _decode_as(data, display, encoding), encoding
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_as(data, display, "utf-16"), "utf-16"
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        hint = (
            " (it looks like an Excel workbook: give it the .xlsx extension)"
            if data[:4] == b"PK\x03\x04"
            else ""
        )
        raise _fail(display, f"is a binary file, not CSV text{hint}")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(
            display,
            f"is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02x}); not a CSV export?",
            line,
        ) from None


def _decode_as(data: bytes, display: str, encoding: str) -> str:
    codec = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(
            display,
            f"is not valid {encoding} (byte 0x{data[exc.start]:02x}); check the encoding "
            'setting or use encoding = "auto"',
            line,
        ) from None


# -- CSV -----------------------------------------------------------------------------------------


def _lines(text: str) -> Iterator[str]:
    """Physical lines with their line end, without copying the text (csv counts them as line_num)."""
    find = text.find
    start, size = 0, len(text)
    while start < size:
        end = find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _header_line(text: str, display: str) -> str:
    end = text.find("\n", 0, _MAX_HEADER_CHARS)
    if end < 0:
        if len(text) > _MAX_HEADER_CHARS:
            raise _fail(display, "has no line break in its first megabyte: not a CSV export", 1)
        end = len(text)
    return text[:end]


def _detect_delimiter(header: str, display: str, configured: str | None) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    if configured:
        if counts.get(configured, header.count(configured)) == 0:
            others = [d for d in _DELIMITERS if counts[d] and d != configured]
            if others:
                shown = _show(others[0])
                raise _fail(
                    display,
                    f"the header has no {_show(configured)} but has {shown}: the file is "
                    f'separated by {shown}; set delimiter = {shown!r} or "auto"',
                    1,
                )
        return configured
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first on a tie: preference order
    return best if counts[best] else ";"


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


def _read_text(text: str, display: str, options: TextOptions, encoding: str, allow_empty: bool) -> RawTable:
    delimiter = _detect_delimiter(_header_line(text, display), display, options.delimiter)
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                header = [cell.strip().lstrip("\ufeff").strip() for cell in row]
                break
    except csv.Error as exc:
        raise _fail(display, f"the header line cannot be read ({exc})", reader.line_num) from None
    if header is None:
        raise _fail(display, "is empty: an export without rows is refused (it never means everyone left)")
    table = RawTable(display, options.source, header, reader.line_num, iter(()), delimiter, encoding)
    table.rows = _csv_rows(reader, table, allow_empty)
    return table


def _csv_rows(reader: _Reader, table: RawTable, allow_empty: bool) -> Iterator[tuple[int, list[str]]]:
    """Rows with their first line number; the last row is held back one step to detect truncation."""
    width = len(table.header)
    previous_end = table.header_line
    pending: tuple[int, list[str]] | None = None
    count = 0
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            _csv_error(table, exc, start, reader.line_num)
            previous_end = reader.line_num
            continue
        previous_end = reader.line_num
        if not "".join(row).strip():
            continue  # blank line, or only separators as Excel writes for an empty row
        if pending is not None:
            checked = _check_width(table, pending, width, last=False)
            if checked is not None:
                count += 1
                yield checked
        pending = (start, row)
    if pending is not None:
        checked = _check_width(table, pending, width, last=True)
        if checked is not None:
            count += 1
            yield checked
    if count == 0 and not allow_empty:
        raise _no_rows(table)


def _no_rows(table: RawTable) -> SourceDataError:
    if table.problems:
        first = min(d.line or 0 for d in table.problems)
        return _fail(
            table.display,
            f"has no usable rows ({len(table.problems)} could not be read, the first at line {first})",
        )
    return _fail(
        table.display,
        "has a header but no rows: an export without rows is refused (it never means everyone left)",
    )


def _csv_error(table: RawTable, exc: csv.Error, start: int, end: int) -> None:
    message = str(exc)
    if "unexpected end of data" in message:
        raise _fail(
            table.display,
            "the file ends inside a quoted value: the export looks truncated (or a quote is not closed)",
            start,
        )
    if "field larger than field limit" in message:
        raise _fail(
            table.display,
            f"a value runs over {_FIELD_LIMIT // 1024} KB: a quote that is never closed?",
            start,
        )
    table.problems.append(
        Diagnostic(
            Severity.ERROR,
            "malformed-row",
            f"row cannot be read ({message}); left out",
            source=table.source,
            file=table.display,
            line=start,
        )
    )


def _check_width(
    table: RawTable, item: tuple[int, list[str]], width: int, *, last: bool
) -> tuple[int, list[str]] | None:
    line, row = item
    if len(row) == width:
        return item
    if len(row) > width:
        if not any(cell.strip() for cell in row[width:]):
            return line, row[:width]  # trailing empty cells, as Excel writes them
        table.problems.append(
            Diagnostic(
                Severity.ERROR,
                "long-row",
                f"row has {len(row)} values but the header has {width}: an unquoted separator in a value? "
                "left out",
                source=table.source,
                file=table.display,
                line=line,
            )
        )
        return None
    if last:
        raise _fail(
            table.display, f"the last row has {len(row)} of {width} values: the export looks truncated", line
        )
    table.problems.append(
        Diagnostic(
            Severity.ERROR,
            "short-row",
            f"row has {len(row)} values but the header has {width}; left out",
            source=table.source,
            file=table.display,
            line=line,
        )
    )
    return None


# -- Excel ---------------------------------------------------------------------------------------


def _read_workbook(path: Path, display: str, options: TextOptions, allow_empty: bool) -> RawTable:
    _load_size_check(path, display, options.max_bytes)
    # Imported here: openpyxl takes a fifth of a second to import, and most schools export CSV.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise _fail(display, f"file not found ({path})") from None
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise _fail(display, f"is not a readable Excel workbook ({exc.__class__.__name__})") from None
    if options.sheet is not None and options.sheet not in workbook.sheetnames:
        workbook.close()
        raise ConfigError(
            [
                ConfigProblem(
                    f"{display} has no sheet {options.sheet!r} (sheets: {', '.join(workbook.sheetnames)})",
                    setting="sheet",
                )
            ]
        )
    sheet = workbook[options.sheet] if options.sheet is not None else workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header: list[str] | None = None
    header_line = 0
    for line, values in enumerate(rows, start=1):
        cells = [_cell_text(v) for v in values]
        if any(cells):
            header, header_line = cells, line
            break
    if header is None:
        workbook.close()
        raise _fail(display, "is empty: an export without rows is refused (it never means everyone left)")
    table = RawTable(display, options.source, header, header_line, iter(()))
    table.rows = _workbook_rows(workbook, rows, table, header_line, allow_empty)
    return table


def _load_size_check(path: Path, display: str, max_bytes: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _fail(display, f"file not found ({path})") from None
    if size > max_bytes:
        raise _fail(
            display, f"is {size // (1024 * 1024)} MB, more than the max_file_mb limit: not an export?"
        )


def _workbook_rows(
    workbook: Workbook,
    rows: Iterator[tuple[object, ...]],
    table: RawTable,
    header_line: int,
    allow_empty: bool,
) -> Iterator[tuple[int, list[str]]]:
    width = len(table.header)
    count = 0
    try:
        for line, values in enumerate(rows, start=header_line + 1):
            cells = [_cell_text(v) for v in values]
            if not any(cells):
                continue
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            item = _check_width(table, (line, cells), width, last=False)
            if item is not None:
                count += 1
                yield item
    finally:
        workbook.close()
    if count == 0 and not allow_empty:
        raise _no_rows(table)


def _cell_text(value: object) -> str:
    """Excel cell values as the CSV export would have written them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()
