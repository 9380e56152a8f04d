"""Every field koppel reads from an export is bounded and free of control characters, row by row.

A 900 KB roepnaam, an escape sequence in an achternaam or a bidi override in a klas is no LAS data:
the row is left out and reported as an error with its file, line and column, as a row with too few
values is (see ``koppel.textsafe`` for the limits per kind of field and the characters refused).
Only the columns the layout reads are checked (an address column koppel ignores is not), each value
as the readers use it: trimmed, and for a multi-value column (Groepen, Vakken) item by item.

Most rows are short and clean, and the biggest file has a million of them, so a row is first
checked as a whole (``str.isprintable()`` on its joined cells, then the lengths of its cells), and
only a row that fails that is checked field by field, which also names the column.
"""

from __future__ import annotations

from collections.abc import Callable

from koppel.model.roster import Diagnostic, Severity
from koppel.sources.csv.headers import ColumnMap
from koppel.sources.csv.specs import GROUPS, TableSpec
from koppel.sources.csv.text import RawTable
from koppel.textsafe import FIELD_LIMITS, FieldKind, field_problem

__all__ = ["FIELD_KINDS", "row_check"]

FIELD_KINDS: dict[str, FieldKind] = {
    **dict.fromkeys(
        (
            "roepnaam",
            "voorvoegsel",
            "achternaam",
            "name",
            "naam",
            "vaknaam",
            "subject_name",
            "studie",
            "onderwijssoort",
            "profiel",
            "locatie",
        ),
        "name",
    ),
    **dict.fromkeys(
        (
            "number",
            "code",
            "leerlingnummer",
            "docentcode",
            "brin6",
            "school",
            "schools",
            "klas",
            "vak",
            "subject",
            "leerjaar",
            "school_year",
            "kind",
            "role",
            "start",
            "end",
            "lesgroepen",
            "vakken",
            "klasvakken",
            "mentor",
            "mentor_of",
        ),
        "code",
    ),
    "email": "email",
    **dict.fromkeys(("id", "eckid", "username", "person", "group", "parent", "children"), "id"),
}
"""The kind of each field of every layout (``koppel.textsafe.FIELD_LIMITS``); any other field is text."""


def _kind(spec: TableSpec, field: str) -> FieldKind:
    if spec is GROUPS and field == "name":
        return "code"  # a lesgroep's name is its key in the LAS layouts (4hnat1), as in a pupil's Groepen
    return FIELD_KINDS.get(field, "text")


def _checked_fields(columns: ColumnMap, spec: TableSpec) -> list[tuple[int, str, FieldKind, bool]]:
    """(column index, header, kind, whether it holds a list) of every column the file has, left to right."""
    fields = []
    for field, index in columns.index.items():
        try:
            multi = spec.column(field).multi
        except KeyError:
            multi = False
        fields.append((index, columns.headers.get(field, field), _kind(spec, field), multi))
    fields.sort()
    return fields


def row_check(
    raw: RawTable, columns: ColumnMap, spec: TableSpec, separator: str
) -> Callable[[tuple[int, list[str]]], bool]:
    """A check for :attr:`RawTable.row_check`: False (reported in ``raw.problems``) for a row to leave out."""
    fields = _checked_fields(columns, spec)
    smallest = min((FIELD_LIMITS[kind] for _, _, kind, _ in fields), default=FIELD_LIMITS["text"])
    limits = [(index, FIELD_LIMITS[kind]) for index, _, kind, _ in fields]

    def report(line: int, header: str, value: str, kind: FieldKind, problem: str) -> None:
        code = "field-too-long" if len(value) > FIELD_LIMITS[kind] else "bad-character"
        raw.problems.append(
            Diagnostic(
                Severity.ERROR,
                code,
                f"{header} {problem}; row left out",
                source=raw.source,
                file=raw.display,
                line=line,
                field=header,
            )
        )

    def field_by_field(line: int, cells: list[str]) -> bool:
        for index, header, kind, multi in fields:
            value = cells[index].strip()
            problem = field_problem(value, kind if not multi else "text")
            if multi and (problem is None or len(value) > FIELD_LIMITS["text"]):
                # A long list of short codes is fine; each item is held to the limit of its kind.
                for item in value.split(separator):
                    item = item.strip()
                    problem = field_problem(item, kind)
                    if problem is not None:
                        report(line, header, item, kind, f"holds a value that {problem}")
                        return False
                continue
            if problem is not None:
                report(line, header, value, kind if not multi else "text", problem)
                return False
        return True

    def check(item: tuple[int, list[str]]) -> bool:
        cells = item[1]
        joined = "".join(cells)
        # str.isprintable() is False for every character field_problem refuses (and for a few it
        # accepts, such as a no-break space): a printable row can only be wrong in a length.
        if joined.isprintable():
            if len(joined) <= smallest:
                return True
            for index, limit in limits:
                if len(cells[index]) > limit:
                    break
            else:
                return True
        return field_by_field(item[0], cells)

    return check
