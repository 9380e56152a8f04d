"""OneRoster CSV files as rows: the manifest, the columns koppel reads per file, and the row rules.

Format facts (OneRoster 1.1 CSV tables, 1.2 CSV binding; summarised in
``shared/reference/itslearning-and-target-formats.md`` §4):

* UTF-8, comma-separated, a header line; multi-value cells are comma-separated inside quotes;
* every file starts with ``sourcedId,status,dateLastModified``; in a **bulk** file status and
  dateLastModified are empty and the file is the whole truth; in a **delta** file both are filled
  and ``status`` is ``active`` or ``tobedeleted``;
* ``manifest.csv`` (``propertyName,value``) names the version (``oneroster.version`` 1.1 or 1.2)
  and, per file, ``file.<name>`` = ``bulk`` | ``delta`` | ``absent``;
* dates are ``YYYY-MM-DD``; dateLastModified is an ISO 8601 date-time.

What makes a whole file unusable raises ``SourceDataError`` naming it (not UTF-8, no header, a
required column missing, a quote never closed). What is wrong with one row becomes a diagnostic
with file and line, and only that row, or only that value, is left out.

Every value koppel reads is checked with :func:`koppel.textsafe.field_problem` — bounded by its kind
(an id, a name, a code, an e-mail address; each item of a multi-value cell as an id) and free of NUL,
control and bidi characters. A row with a value it refuses is left out (``field-too-long`` or
``bad-character``, with file, line and column, as the CSV source reports it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from koppel.errors import SourceDataError
from koppel.model.roster import Severity
from koppel.textsafe import FIELD_LIMITS, FieldKind, field_problem

__all__ = [
    "FILE_SPECS",
    "FileMode",
    "FileSpec",
    "Manifest",
    "Reporter",
    "Row",
    "parse_manifest",
    "read_rows",
]

csv.field_size_limit(max(csv.field_size_limit(), 1024 * 1024))

# report(severity, code, message, file, line, field)
Reporter = Callable[[Severity, str, str, str, "int | None", "str | None"], None]

VERSIONS = ("1.1", "1.2")


class FileMode(StrEnum):
    BULK = "bulk"
    DELTA = "delta"
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class FileSpec:
    """The columns koppel reads from one OneRoster file (others, such as metadata.*, are ignored)."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        return ("sourcedId", "status", "dateLastModified", *self.required, *self.optional)


_USERS_COMMON = (
    "enabledUser",
    "username",
    "userIds",
    "middleName",
    "identifier",
    "email",
    "agentSourcedIds",
    "grades",
)

FILE_SPECS: dict[str, dict[str, FileSpec]] = {
    "1.1": {
        "orgs": FileSpec("orgs", ("name", "type"), ("identifier", "parentSourcedId")),
        "academicSessions": FileSpec(
            "academicSessions",
            ("title", "type"),
            ("startDate", "endDate", "parentSourcedId", "schoolYear"),
            dates=("startDate", "endDate"),
        ),
        "courses": FileSpec(
            "courses",
            ("title",),
            ("schoolYearSourcedId", "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes"),
        ),
        "classes": FileSpec(
            "classes",
            ("title", "classType", "schoolSourcedId"),
            ("grades", "courseSourcedId", "classCode", "termSourcedIds", "subjects", "subjectCodes"),
        ),
        "users": FileSpec("users", ("role", "givenName", "familyName"), ("orgSourcedIds", *_USERS_COMMON)),
        "enrollments": FileSpec(
            "enrollments",
            ("classSourcedId", "userSourcedId", "role"),
            ("schoolSourcedId", "primary", "beginDate", "endDate"),
            dates=("beginDate", "endDate"),
        ),
    },
}
FILE_SPECS["1.2"] = {
    **FILE_SPECS["1.1"],
    "users": FileSpec(
        "users",
        ("givenName", "familyName"),
        (
            *_USERS_COMMON,
            "userMasterIdentifier",
            "preferredGivenName",
            "preferredMiddleName",
            "preferredFamilyName",
            "primaryOrgSourcedId",
        ),
    ),
    "roles": FileSpec(
        "roles",
        ("userSourcedId", "roleType", "role", "orgSourcedId"),
        ("beginDate", "endDate"),
        dates=("beginDate", "endDate"),
    ),
}


_NAME_COLUMNS = frozenset(
    {
        "name",
        "title",
        "givenName",
        "familyName",
        "middleName",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
    }
)
MULTI_VALUE_COLUMNS = frozenset(
    {"orgSourcedIds", "agentSourcedIds", "termSourcedIds", "userIds", "grades", "subjects", "subjectCodes"}
)
"""Cells that hold a comma-separated list: each item is checked as an id."""


def column_kind(column: str) -> FieldKind:
    """How a column's values are bounded (:data:`koppel.textsafe.FIELD_LIMITS`)."""
    if column in _NAME_COLUMNS:
        return "name"
    if column == "email":
        return "email"
    if column in MULTI_VALUE_COLUMNS or column.endswith(("SourcedId", "Identifier")):
        return "id"
    if column in ("sourcedId", "username", "identifier"):
        return "id"
    return "code"


def _value_problem(values: dict[str, str]) -> tuple[str, str, str] | None:
    """The first (column, why, code) whose value koppel does not accept, else None."""
    for column, value in values.items():
        if not value:
            continue
        kind = column_kind(column)
        items = value.split(",") if column in MULTI_VALUE_COLUMNS else (value,)
        for item in items:
            item = item.strip()
            problem = field_problem(item, kind)
            if problem is not None:
                code = "field-too-long" if len(item) > FIELD_LIMITS[kind] else "bad-character"
                return column, problem, code
    return None


@dataclass(frozen=True, slots=True)
class Manifest:
    """What manifest.csv says: the OneRoster version and, per file name (``users``), its mode."""

    version: str
    modes: dict[str, FileMode]

    def mode(self, name: str) -> FileMode:
        return self.modes.get(name, FileMode.ABSENT)


@dataclass(slots=True)
class Row:
    """One data row: its sourcedId, status, the values of the spec's columns, and where it stands."""

    sourced_id: str
    status: str
    values: dict[str, str]
    file: str
    line: int

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")

    def many(self, column: str) -> list[str]:
        """A multi-value cell (``"a,b"``) as a list, trimmed, without empties."""
        return [v.strip() for v in self.values.get(column, "").split(",") if v.strip()]


def _decode(data: bytes, display: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceDataError(
            f"{display}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}); OneRoster files are UTF-8"
        ) from None


def _records(text: str, display: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of every non-blank record; a quote left open to the end refuses the file."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise SourceDataError(
            f"{display}:{line}: cannot be read as CSV ({exc}); the file looks truncated or a quote is not "
            "closed"
        ) from None
    return records


def parse_manifest(data: bytes, display: str) -> Manifest:
    records = _records(_decode(data, display), display)
    if not records:
        raise SourceDataError(f"{display} is empty")
    properties: dict[str, str] = {}
    for _, cells in records[1:]:
        if len(cells) >= 2:
            properties[cells[0].strip()] = cells[1].strip()
    version = properties.get("oneroster.version", "")
    if version not in VERSIONS:
        shown = repr(version) if version else "missing"
        raise SourceDataError(f"{display}: oneroster.version is {shown}; koppel reads OneRoster 1.1 and 1.2")
    modes: dict[str, FileMode] = {}
    for key, value in properties.items():
        if key.startswith("file."):
            try:
                modes[key[5:]] = FileMode(value.lower())
            except ValueError:
                raise SourceDataError(
                    f"{display}: {key} is {value!r}; it must be bulk, delta or absent"
                ) from None
    return Manifest(version, modes)


# -- rows -----------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMATS = (
    ("YYYY-MM-DD", _ISO_DATE),
    ("DD-MM-YYYY", re.compile(r"^\d{1,2}-\d{1,2}-\d{4}$")),
    ("DD/MM/YYYY or MM/DD/YYYY", re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")),
    ("YYYY/MM/DD", re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")),
    ("DD.MM.YYYY", re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")),
)


def date_format(value: str) -> str:
    for name, pattern in _FORMATS:
        if pattern.match(value):
            return name
    return "unrecognised"


def parse_date(value: str) -> dt.date | None:
    """A OneRoster date (``YYYY-MM-DD``) or None; other forms are not guessed at (03/04 is ambiguous)."""
    if not _ISO_DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _datetime_ok(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass
class _FileChecks:
    """Per-file tallies, reported once per file instead of once per row."""

    filled_in_bulk: list[int] = field(default_factory=list)
    deleted_in_bulk: int = 0
    undated_in_delta: list[int] = field(default_factory=list)
    formats: dict[str, Counter[str]] = field(default_factory=dict)
    first_odd: dict[str, int] = field(default_factory=dict)


def _header(
    records: list[tuple[int, list[str]]], spec: FileSpec, display: str, mode: FileMode
) -> dict[str, int]:
    if not records:
        raise SourceDataError(f"{display} is empty: not even a header line")
    header = [c.strip().lstrip("\ufeff").strip() for c in records[0][1]]
    by_lower = {name.lower(): index for index, name in reversed(list(enumerate(header)))}
    columns = {name: by_lower[name.lower()] for name in spec.columns if name.lower() in by_lower}
    needed = ("sourcedId", *spec.required) + (("status",) if mode is FileMode.DELTA else ())
    missing = [name for name in needed if name not in columns]
    if missing:
        shown = ", ".join(name if len(name) <= 60 else name[:60] + "…" for name in header[:40])
        more = f" and {len(header) - 40} more" if len(header) > 40 else ""
        raise SourceDataError(
            f"{display}:{records[0][0]}: no column {', '.join(missing)} (header: {shown}{more})"
        )
    return columns


def read_rows(data: bytes, display: str, spec: FileSpec, mode: FileMode, report: Reporter) -> list[Row]:
    """The rows of one file, checked against the bulk/delta rules; bad rows reported and left out."""
    records = _records(_decode(data, display), display)
    columns = _header(records, spec, display, mode)
    width = len(records[0][1])
    checks = _FileChecks()
    rows: list[Row] = []
    for line, cells in records[1:]:
        too_long = len(cells) > width and any(c.strip() for c in cells[width:])
        if too_long or len(cells) < width:
            report(
                Severity.ERROR,
                "row-width",
                f"row has {len(cells)} values but the header has {width}; left out",
                display,
                line,
                None,
            )
            continue
        values = {name: cells[index].strip() for name, index in columns.items()}
        bad = _value_problem(values)
        if bad is not None:
            column, why, code = bad
            sourced_id = values.get("sourcedId", "")
            who = f"{sourced_id}: " if sourced_id and field_problem(sourced_id, "id") is None else ""
            report(Severity.ERROR, code, f"{who}{column} {why}; row left out", display, line, column)
            continue
        row = _row(values, display, line, spec, mode, checks, report)
        if row is not None:
            rows.append(row)
    _report_file(display, mode, checks, report)
    return rows


def _row(
    values: dict[str, str],
    display: str,
    line: int,
    spec: FileSpec,
    mode: FileMode,
    checks: _FileChecks,
    report: Reporter,
) -> Row | None:
    sourced_id = values.pop("sourcedId", "")
    status = values.pop("status", "").lower()
    modified = values.pop("dateLastModified", "")
    if not sourced_id:
        report(
            Severity.ERROR, "missing-sourcedid", "row without sourcedId; left out", display, line, "sourcedId"
        )
        return None
    if mode is FileMode.BULK:
        if status or modified:
            checks.filled_in_bulk.append(line)
        if status == "tobedeleted":
            checks.deleted_in_bulk += 1
            return None
        status = ""
    else:
        if status not in ("active", "tobedeleted"):
            report(
                Severity.ERROR,
                "bad-status",
                f"status {status!r} of {sourced_id} is neither active nor tobedeleted; row left out",
                display,
                line,
                "status",
            )
            return None
        if not modified:
            checks.undated_in_delta.append(line)
        elif not _datetime_ok(modified):
            report(
                Severity.WARNING,
                "bad-date",
                f"dateLastModified {modified!r} is not an ISO 8601 date-time",
                display,
                line,
                "dateLastModified",
            )
    for column in spec.dates:
        value = values.get(column, "")
        if value:
            _check_date(values, column, value, display, line, checks, report)
    return Row(sourced_id, status, values, display, line)


def _check_date(
    values: dict[str, str],
    column: str,
    value: str,
    display: str,
    line: int,
    checks: _FileChecks,
    report: Reporter,
) -> None:
    form = date_format(value)
    checks.formats.setdefault(column, Counter())[form] += 1
    if parse_date(value) is None:
        checks.first_odd.setdefault(column, line)
        report(
            Severity.ERROR,
            "bad-date",
            f"{column} {value!r} is not a date of the form YYYY-MM-DD; the value is left out",
            display,
            line,
            column,
        )
        values[column] = ""


def _report_file(display: str, mode: FileMode, checks: _FileChecks, report: Reporter) -> None:
    if checks.filled_in_bulk:
        left_out = (
            f"; {checks.deleted_in_bulk} marked tobedeleted are left out" if checks.deleted_in_bulk else ""
        )
        report(
            Severity.WARNING,
            "bulk-with-status",
            f"{len(checks.filled_in_bulk)} row(s) of this bulk file carry status or dateLastModified, which "
            f"a bulk file leaves empty (first at line {checks.filled_in_bulk[0]}); read as bulk{left_out}",
            display,
            checks.filled_in_bulk[0],
            "status",
        )
    if checks.undated_in_delta:
        report(
            Severity.WARNING,
            "delta-without-date",
            f"{len(checks.undated_in_delta)} row(s) of this delta file have no dateLastModified (first at "
            f"line {checks.undated_in_delta[0]})",
            display,
            checks.undated_in_delta[0],
            "dateLastModified",
        )
    for column, formats in checks.formats.items():
        if len(formats) > 1:
            listed = ", ".join(f"{count} x {form}" for form, count in formats.most_common())
            report(
                Severity.WARNING,
                "mixed-date-formats",
                f"{column} mixes date formats: {listed}",
                display,
                checks.first_odd.get(column),
                column,
            )
