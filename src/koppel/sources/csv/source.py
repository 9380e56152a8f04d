"""The CSV/Excel source: find the export, read every file, return one complete Roster or raise.

``read()`` is all-or-nothing at the level of the export (DESIGN §1, §7): a file that is missing,
empty, truncated, binary or lacks a required column raises a SourceDataError naming the file, and
nothing is planned. Bad *rows* become diagnostics with file and line, and only those rows are
left out.

Garbage collection is paused while reading (:func:`~koppel.sources.builder.gc_paused`): a large
bestuur is a million small, acyclic objects, and the cyclic collector would otherwise rescan the
growing heap over and over for nothing (it roughly halves the read time).

A bestuur export laid out as one folder per school (:meth:`CsvSource.school_folders`) can be read in part:
``read(only=...)`` reads the named school folders (and the scholen file) and nothing else — what a plan school
by school (:mod:`koppel.slices`) reads when only some schools' files changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from koppel.connectors import ConnectorContext
from koppel.model.roster import Roster, SchoolYear
from koppel.sources.builder import gc_paused
from koppel.sources.csv.builder import CsvRosterBuilder, YearSelector
from koppel.sources.csv.fields import row_check
from koppel.sources.csv.files import ExportFiles, locate
from koppel.sources.csv.headers import resolve_columns
from koppel.sources.csv.las import LasReader, Table
from koppel.sources.csv.native import NativeReader
from koppel.sources.csv.settings import CsvLayout, CsvSourceSettings
from koppel.sources.csv.specs import TableSpec
from koppel.sources.csv.text import TextOptions, read_table

__all__ = ["CsvSource", "SchoolFolders"]


@dataclass(frozen=True)
class SchoolFolders:
    """A bestuur export of one folder per school: its root, each school's folder by BRIN6, and the scholen file
    (None: there is none) — every file a read of the export reads (the school folders' tables and the scholen file)
    lies in these."""

    root: Path
    folders: Mapping[str, Path]
    schools_file: Path | None

    @property
    def schools_file_shown(self) -> str | None:
        """The scholen file as findings name it (relative to the root)."""
        return None if self.schools_file is None else self.schools_file.relative_to(self.root).as_posix()


class _ReadAgain(Exception):
    """The export describes another school year than the one group keys were made with."""

    def __init__(self, year: SchoolYear) -> None:
        super().__init__(str(year))
        self.year = year


class CsvSource:
    """A source reading CSV/Excel exports (see :class:`CsvSourceSettings`)."""

    def __init__(
        self,
        name: str,
        settings: CsvSourceSettings,
        ctx: ConnectorContext,
        *,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self._today = today

    @property
    def path_year(self) -> SchoolYear:
        """The year filled in for ``{school_year}`` in the path."""
        return self.settings.fixed_school_year or self.ctx.school_year or SchoolYear.containing(self._today())

    @property
    def path(self) -> Path:
        return self.ctx.path(self.settings.path.replace("{school_year}", str(self.path_year)))

    def school_folders(self) -> SchoolFolders | None:
        """The export's school folders when it is laid out as one folder per school in a LAS layout — the parts
        :meth:`read` can read apart; None for any other export. Looks at the folder only (no file is read)."""
        if self.settings.layout is CsvLayout.KOPPEL or not self.path.is_dir():
            return None
        export = locate(self.settings, self.path)
        if not export.units or any(unit.brin6 is None for unit in export.units):
            return None
        return SchoolFolders(export.root, {unit.brin6: export.root / unit.brin6 for unit in export.units
                                           if unit.brin6 is not None}, export.schools_file)

    def read(self, *, only: Collection[str] | None = None) -> Roster:
        """The whole export; with ``only`` (BRIN6s of an export of school folders), only those schools' folders
        and the scholen file — the other folders are found as a full read finds them, and not read (a school the
        scholen file lists counts as present when its folder is left unread)."""
        export = locate(self.settings, self.path)
        unread: frozenset[str] = frozenset()
        if only is not None:
            if self.settings.layout is CsvLayout.KOPPEL or any(unit.brin6 is None for unit in export.units):
                raise ValueError("only an export of one folder per school can be read in part")
            unread = frozenset(unit.brin6 for unit in export.units if unit.brin6 is not None and unit.brin6 not in only)
            export = replace(export, units=tuple(unit for unit in export.units if unit.brin6 in only))
        with gc_paused():
            try:
                return self._read(export, self.settings.fixed_school_year, unread)
            except _ReadAgain as again:
                return self._read(export, again.year, unread)

    def _read(self, export: ExportFiles, fixed: SchoolYear | None, unread: frozenset[str]) -> Roster:
        years = YearSelector(fixed=fixed, requested=self.ctx.school_year, today=self._today())
        builder = CsvRosterBuilder(self.name, years, self.settings.effective_key_scope)
        opener = self._opener(builder, export)
        if self.settings.layout is CsvLayout.KOPPEL:
            NativeReader(builder, self.settings, export, opener).read()
        else:
            LasReader(builder, self.settings, export, opener, unread=unread).read()
        year = years.decide()
        if years.used is not None and year != years.used:
            raise _ReadAgain(year)
        self._report_years(builder, years, year)
        return builder.roster(school_year=year, location=str(export.root))

    def _opener(
        self, builder: CsvRosterBuilder, export: ExportFiles
    ) -> Callable[[Path, TableSpec, bool], Table]:
        settings = self.settings
        options = TextOptions(
            source=self.name,
            delimiter=settings.effective_delimiter,
            encoding=None if settings.encoding == "auto" else settings.encoding,
            sheet=settings.sheet,
            max_bytes=settings.max_file_mb * 1024 * 1024,
        )

        def open_table(path: Path, spec: TableSpec, allow_empty: bool) -> Table:
            raw = read_table(path, export.display(path), options, allow_empty=allow_empty)
            columns, warnings = resolve_columns(
                spec,
                raw.header,
                display=raw.display,
                source=self.name,
                header_line=raw.header_line,
                extra_aliases=settings.columns.get(spec.name),
            )
            builder.diagnostics.extend(warnings)
            raw.row_check = row_check(raw, columns, spec, settings.multi_value_separator)
            return Table(raw, columns)

        return open_table

    def _report_years(self, builder: CsvRosterBuilder, years: YearSelector, year: SchoolYear) -> None:
        for (file, other), rows in sorted(years.skipped.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            builder.warning(
                "other-school-year", f"{rows} row(s) of {other} left out: reading {year}", file, None
            )
        builder.year_mismatch(self.ctx.school_year, year)
