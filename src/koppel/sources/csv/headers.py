"""Match a file's header against a table's fields: aliases, misspellings, missing columns.

A header that names a known field under any alias is used; a header real exports carry but koppel
does not read is passed over silently; anything else is reported once as a warning — with a
"did you mean" when it is a near miss of a known header (``Achternam``), because a misspelt
optional column silently loses data. A *required* column that is missing stops the read with a
SourceDataError naming the file and the header, and the near miss if there is one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from koppel.errors import SourceDataError
from koppel.model.roster import Diagnostic, Severity
from koppel.sources.csv.specs import TableSpec, normalize_header

__all__ = ["ColumnMap", "resolve_columns"]

_CLOSE_ENOUGH = 0.8


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Field → column index for one file (fields absent from the file are absent here)."""

    index: Mapping[str, int]
    headers: Mapping[str, str]  # field -> the header as written in the file

    def get(self, field: str) -> int:
        """The column index of ``field``, or -1 when the file does not have it."""
        return self.index.get(field, -1)

    def __contains__(self, field: str) -> bool:
        return field in self.index


def resolve_columns(
    spec: TableSpec,
    header: Sequence[str],
    *,
    display: str,
    source: str,
    header_line: int,
    extra_aliases: Mapping[str, Sequence[str]] | None = None,
) -> tuple[ColumnMap, list[Diagnostic]]:
    """Map ``header`` onto ``spec``; return the map and warnings, or raise for a missing required column."""
    known, shown = _alias_index(spec, extra_aliases or {})
    ignored = {normalize_header(h) for h in spec.ignored}
    index: dict[str, int] = {}
    headers: dict[str, str] = {}
    diagnostics: list[Diagnostic] = []
    near_misses: dict[str, str] = {}  # field -> misspelt header found

    def warn(code: str, message: str, column: str) -> None:
        diagnostics.append(
            Diagnostic(
                Severity.WARNING, code, message, source=source, file=display, line=header_line, field=column
            )
        )

    for position, text in enumerate(header):
        normalized = normalize_header(text)
        if not normalized:
            continue
        field = known.get(normalized)
        if field is not None:
            if field in index:
                warn(
                    "duplicate-column",
                    f"column {text!r} is {spec.label} field {field!r} again; "
                    f"the first ({headers[field]!r}) is used",
                    text,
                )
            else:
                index[field] = position
                headers[field] = text
            continue
        if normalized in ignored:
            continue
        close = difflib.get_close_matches(normalized, list(known) + list(ignored), n=1, cutoff=_CLOSE_ENOUGH)
        if close and close[0] in known:
            near_misses.setdefault(known[close[0]], text)
            warn(
                "misspelt-column",
                f"column {text!r} is not known; did you mean {shown[close[0]]!r}? It is ignored",
                text,
            )
        else:
            warn("unknown-column", f"column {text!r} is not used in {spec.label} files; ignored", text)

    missing = [c for c in spec.columns if c.required and c.field not in index]
    if missing:
        raise _missing(spec, missing[0].field, header, display, near_misses)
    return ColumnMap(index, headers), diagnostics


def _alias_index(
    spec: TableSpec, extra: Mapping[str, Sequence[str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """normalized alias → field, and normalized alias → alias as written (for messages)."""
    known: dict[str, str] = {}
    shown: dict[str, str] = {}
    for column in spec.columns:
        for alias in (*extra.get(column.field, ()), *column.aliases):
            normalized = normalize_header(alias)
            if normalized and normalized not in known:
                known[normalized] = column.field
                shown[normalized] = alias
    return known, shown


def _missing(
    spec: TableSpec, field: str, header: Sequence[str], display: str, near_misses: Mapping[str, str]
) -> SourceDataError:
    column = spec.column(field)
    also = f" (also accepted: {', '.join(column.aliases[1:])})" if len(column.aliases) > 1 else ""
    hint = ""
    if field in near_misses:
        hint = f"; is {near_misses[field]!r} a misspelling of it?"
    elif len([h for h in header if h.strip()]) == 1:
        hint = "; the header has a single column: is the delimiter right?"
    return SourceDataError(f"{display}: required column {column.aliases[0]!r} is missing{also}{hint}")
