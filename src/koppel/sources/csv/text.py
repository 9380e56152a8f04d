"""From a file on disk to a header and rows with line numbers, or a clear SourceDataError.

Everything that makes an export *unusable as a whole* is decided here, before a single row is
trusted: a missing or empty file, a binary file, an encoding that is neither UTF-8 nor
Windows-1252, no recognisable header line, a file that ends inside a quoted value or in the
middle of its last row (a truncated download or a crashed export job). Problems with *one row*
(too few or too many values, broken quoting) become diagnostics and the row is left out.

The file is read into memory once and decoded once (an encoding mistake can be anywhere, so the
whole file has to be checked before any row counts); rows are then produced lazily, one line at
a time, so no second copy of the text is made.

Encodings (``encoding = "auto"``): valid UTF-8 is UTF-8. A file that is UTF-8 except for a few
stray bytes — at most as many as it has valid multi-byte sequences, and at most 10 or one per 1,000
of those sequences, whichever is more — is still UTF-8: each stray byte is read as the
Windows-1252 character it is (a value pasted from another program) and reported as a warning with
its line (and column where the line is a whole row). Anything else is Windows-1252, as Dutch
Windows exports are. A configured encoding is obeyed strictly. A NUL character anywhere refuses
the file; a header cell with a control character or of more than 1,000 characters too.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from koppel.errors import ConfigError, ConfigProblem, KoppelError, SourceDataError
from koppel.model.roster import Diagnostic, Severity
from koppel.sources.csv.xlsx import MAX_CELLS, MAX_ROW, check_workbook
from koppel.textsafe import field_problem, printable

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

__all__ = ["MAX_STRAY_BYTES", "STRAY_BYTES_PER_SEQUENCES", "RawTable", "TextOptions", "read_table"]

_SNIFF_BYTES = 64 * 1024
_MAX_HEADER_CHARS = 1024 * 1024
_DELIMITERS = (";", "\t", ",", "|")  # in order of preference on a tie
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_FIELD_LIMIT = 1024 * 1024
MAX_STRAY_BYTES = 10
"""A UTF-8 file may hold this many bytes that are not UTF-8 (or more, see below) and still be UTF-8."""
STRAY_BYTES_PER_SEQUENCES = 1000
"""… or one stray byte per this many valid multi-byte UTF-8 sequences, when that is more."""
_REPORTED_STRAY_BYTES = 20  # each reported with its line; the rest in one warning
_UTF8_OR_STRAY = re.compile(
    rb"([\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2})|[\x80-\xff]"
)
"""A valid multi-byte UTF-8 sequence (group 1: no overlongs, no surrogates) or else one stray high byte."""
_STRAY_AS_CP1252 = "koppel-stray-byte-as-cp1252"


def _stray_byte_as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: one byte that is not UTF-8 becomes its Windows-1252 character."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.start + 1].decode("cp1252", "replace"), exc.start + 1


codecs.register_error(_STRAY_AS_CP1252, _stray_byte_as_cp1252)

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


@dataclass(frozen=True, slots=True)
class _StrayByte:
    """A byte that is not UTF-8 in a file read as UTF-8: where it is and what it was read as."""

    line: int
    byte: int
    char: str
    line_text: str  # the physical line, decoded
    index: int  # of the byte's character in line_text


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
    row_check: Callable[[tuple[int, list[str]]], bool] | None = None
    """Set before the rows are read: a row it returns False for (having reported why) is left out."""

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
    text, encoding, stray = _decode(data, display, options.encoding)
    del data
    nul = text.find("\x00")
    if nul >= 0:
        raise _fail(
            display, "contains a NUL character: a damaged export, or not text", text.count("\n", 0, nul) + 1
        )
    table = _read_text(text, display, options, encoding, allow_empty)
    table.problems.extend(_stray_byte_warnings(stray, table))
    return table


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


def _decode(data: bytes, display: str, encoding: str | None) -> tuple[str, str, list[_StrayByte]]:
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise _fail(display, "is empty: an export without rows is refused (it never means everyone left)")
    if encoding:
        return _decode_as(data, display, encoding), encoding, []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_as(data, display, "utf-16"), "utf-16", []
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        hint = (
            " (it looks like an Excel workbook: give it the .xlsx extension)"
            if data[:4] == b"PK\x03\x04"
            else ""
        )
        raise _fail(display, f"is a binary file, not CSV text{hint}")
    try:
        return data.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError:
        pass
    stray = _stray_bytes(data)
    if stray is not None:
        return data.decode("utf-8-sig", _STRAY_AS_CP1252), "utf-8", _locate_stray(data, stray)
    try:
        return data.decode("cp1252"), "cp1252", []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(
            display,
            f"is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02x}); not a CSV export?",
            line,
        ) from None


def _stray_bytes(data: bytes) -> list[int] | None:
    """The offsets of the bytes that are not UTF-8 when the file is UTF-8 but for them, else None.

    UTF-8 but for them: there are at most as many of them as valid multi-byte sequences, and at most
    MAX_STRAY_BYTES or one per STRAY_BYTES_PER_SEQUENCES sequences. A Windows-1252 file has
    (almost) no valid multi-byte sequences: its accented letters are single high bytes.
    """
    valid = 0
    stray: list[int] = []
    size = len(data)
    for match in _UTF8_OR_STRAY.finditer(data):
        if match.lastindex:
            valid += 1
            continue
        stray.append(match.start())
        # Give up as soon as even a file full of valid sequences from here could not make it UTF-8.
        if len(stray) > MAX_STRAY_BYTES and (
            valid + (size - match.end()) // 2 < len(stray) * STRAY_BYTES_PER_SEQUENCES
        ):
            return None
    allowed = min(valid, max(MAX_STRAY_BYTES, valid // STRAY_BYTES_PER_SEQUENCES))
    return stray if 0 < len(stray) <= allowed else None


def _locate_stray(data: bytes, offsets: list[int]) -> list[_StrayByte]:
    """The first stray bytes with their line and physical line (the count of the rest as -1 entries)."""
    found: list[_StrayByte] = []
    line, counted = 1, 0
    for offset in offsets[:_REPORTED_STRAY_BYTES]:
        line += data.count(b"\n", counted, offset)
        counted = offset
        start = data.rfind(b"\n", 0, offset) + 1
        end = data.find(b"\n", offset)
        raw_line = data[start : end if end >= 0 else len(data)].rstrip(b"\r")
        found.append(
            _StrayByte(
                line,
                data[offset],
                data[offset : offset + 1].decode("cp1252", "replace"),
                raw_line.decode("utf-8", _STRAY_AS_CP1252),
                len(data[start:offset].decode("utf-8", _STRAY_AS_CP1252)),
            )
        )
    if len(offsets) > _REPORTED_STRAY_BYTES:
        offset = offsets[_REPORTED_STRAY_BYTES]
        line += data.count(b"\n", counted, offset)
        found.append(_StrayByte(line, len(offsets) - _REPORTED_STRAY_BYTES, "", "", -1))
    return found


def _stray_byte_warnings(stray: list[_StrayByte], table: RawTable) -> list[Diagnostic]:
    warnings = []
    for item in stray:
        field = None
        if item.index < 0:
            message = (
                f"{item.byte} more bytes that are not UTF-8 (the first here), each read as Windows-1252; "
                "check the export"
            )
        else:
            message = (
                f"byte 0x{item.byte:02X} is not UTF-8 (the rest of the file is); read as Windows-1252 "
                f"{printable(item.char)!r}"
            )
            where = _column_at(item, table)
            if where is not None:
                field, value = where
                message = f"{field} {printable(value)[:80]!r}: {message}"
            message += "; check the value in the LAS"
        warnings.append(
            Diagnostic(
                Severity.WARNING,
                "invalid-utf8",
                message,
                source=table.source,
                file=table.display,
                line=item.line,
                field=field,
            )
        )
    return warnings


def _column_at(item: _StrayByte, table: RawTable) -> tuple[str, str] | None:
    """(header, value) of the cell holding the stray byte, when its physical line is one whole row."""
    delimiter = table.delimiter or ";"
    if item.line <= table.header_line or item.line_text.count('"') % 2:
        return None
    try:
        row = next(csv.reader([item.line_text], delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration):
        return None
    if len(row) < len(table.header):
        return None
    column, quoted = 0, False
    for char in item.line_text[: item.index]:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            column += 1
    if column >= len(table.header):
        return None
    return table.header[column] or f"column {column + 1}", row[column]


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
    _check_header(header, display, reader.line_num)
    table = RawTable(display, options.source, header, reader.line_num, iter(()), delimiter, encoding)
    table.rows = _csv_rows(reader, table, allow_empty)
    return table


def _check_header(header: list[str], display: str, line: int) -> None:
    """A header cell of more than 1,000 characters or with a control character is no export's header."""
    for number, cell in enumerate(header, start=1):
        problem = field_problem(cell, "text")
        if problem is not None:
            raise _fail(display, f"header column {number} {problem}: not an export's header line", line)


def _csv_rows(reader: _Reader, table: RawTable, allow_empty: bool) -> Iterator[tuple[int, list[str]]]:
    """Rows with their first line number; the last row is held back one step to detect truncation."""
    width = len(table.header)
    check = table.row_check  # set by now: the body runs from the first row asked for
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
            if checked is not None and (check is None or check(checked)):
                count += 1
                yield checked
        pending = (start, row)
    if pending is not None:
        checked = _check_width(table, pending, width, last=True)
        if checked is not None and (check is None or check(checked)):
            count += 1
            yield checked
    if count == 0 and not allow_empty:
        raise _no_rows(table)


def _no_rows(table: RawTable) -> SourceDataError:
    errors = [d for d in table.problems if d.severity is Severity.ERROR]
    if errors:
        first = min(d.line or 0 for d in errors)
        return _fail(
            table.display,
            f"has no usable rows ({len(errors)} could not be read, the first at line {first})",
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
    check_workbook(path, display, options.max_bytes)
    # Imported here: openpyxl takes a fifth of a second to import, and most schools export CSV.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl fails on a damaged workbook in a dozen ways
        raise _unreadable(display, exc) from None
    try:
        if options.sheet is not None and options.sheet not in workbook.sheetnames:
            raise ConfigError(
                [
                    ConfigProblem(
                        f"{display} has no sheet {options.sheet!r} (sheets: {', '.join(workbook.sheetnames)})",
                        setting="sheet",
                    )
                ]
            )
        sheet = workbook[options.sheet] if options.sheet is not None else _first_sheet(workbook, display)
        if not hasattr(sheet, "reset_dimensions"):
            raise _fail(display, f"sheet {options.sheet!r} is a chart, not a table")
        # The dimensions a sheet declares are not trusted: "A1:XFD1048576" would pad every row to
        # 16,384 cells. Rows then come as long as their last cell.
        sheet.reset_dimensions()
        rows = _sheet_values(sheet.iter_rows(values_only=True), display)
        header: list[str] | None = None
        header_line = 0
        for line, values in rows:
            cells = [_cell_text(v) for v in values]
            if any(cells):
                while not cells[-1]:
                    cells.pop()
                header, header_line = cells, line
                break
        if header is None:
            raise _fail(display, "is empty: an export without rows is refused (it never means everyone left)")
        _check_header(header, display, header_line)
    except BaseException:
        workbook.close()
        raise
    table = RawTable(display, options.source, header, header_line, iter(()))
    table.rows = _workbook_rows(workbook, rows, table, allow_empty)
    return table


def _unreadable(display: str, exc: BaseException) -> SourceDataError:
    detail = printable(str(exc))[:160]
    return _fail(
        display,
        f"is not a readable Excel workbook ({exc.__class__.__name__}{': ' + detail if detail else ''}); "
        "save it again as .xlsx in Excel or LibreOffice, or export CSV",
    )


def _first_sheet(workbook: Workbook, display: str) -> Any:
    if not workbook.worksheets:
        raise _fail(display, "is an Excel workbook without sheets")
    return workbook.worksheets[0]


def _sheet_values(
    rows: Iterator[tuple[object, ...]], display: str
) -> Iterator[tuple[int, tuple[object, ...]]]:
    """``(line, values)`` of a sheet, bounded: at most Excel's last row and MAX_CELLS cells and rows."""
    line, cells = 0, 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except KoppelError:
            raise
        except Exception as exc:  # a damaged sheet: openpyxl raises whatever it met
            raise _unreadable(display, exc) from None
        line += 1
        cells += len(values) + 1
        if line > MAX_ROW:
            raise _fail(display, f"has rows beyond row {MAX_ROW:,}, Excel's last: not an export")
        if cells > MAX_CELLS:
            raise _fail(
                display, f"holds more than {MAX_CELLS:,} cells and rows: not an export (or export CSV)", line
            )
        yield line, values


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
    rows: Iterator[tuple[int, tuple[object, ...]]],
    table: RawTable,
    allow_empty: bool,
) -> Iterator[tuple[int, list[str]]]:
    width = len(table.header)
    check = table.row_check
    count = 0
    try:
        for line, values in rows:
            cells = [_cell_text(v) for v in values[:width]]
            extra = values[width:]
            if extra.count(None) != len(extra):  # counted in C: a row may be 16,384 cells wide
                # Values beyond the header make a long row; empty ones (formatted cells) do not.
                cells += [text for text in map(_cell_text, [v for v in extra if v is not None]) if text]
            if not any(cells):
                continue
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            item = _check_width(table, (line, cells), width, last=False)
            if item is not None and (check is None or check(item)):
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
