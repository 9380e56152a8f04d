"""The EDEXML file source: find the files, read each one school's export, return one Roster or raise.

``read()`` is all-or-nothing (DESIGN §1, §7): a file that is missing, too large, not well-formed,
declares a DTD or entities, is not EDEXML, names no Dutch school, holds no pupils, or describes
another school year than the other files, raises a SourceDataError naming the file, and nothing
is planned. Bad *elements* (a missing key, a reference to an unknown groep) become diagnostics
with file and line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from koppel.connectors import ConnectorContext
from koppel.errors import SourceDataError
from koppel.model.roster import Roster, SchoolYear
from koppel.sources.builder import gc_paused
from koppel.sources.csv.files import ExportNotFound
from koppel.sources.edexml.mapping import (
    MappingOptions,
    Origin,
    RosterAssembler,
    document_school_year,
    school_brin6,
)
from koppel.sources.edexml.model import EdexDocument
from koppel.sources.edexml.parse import EdexmlStructureError, local_name, read_document
from koppel.sources.edexml.settings import EdexmlSettings
from koppel.xmlsafe import XMLParseError, parse_xml

__all__ = ["EdexmlSource"]


@dataclass(frozen=True, slots=True)
class _File:
    """One file read: its name as messages show it, its school and year, and its content."""

    display: str
    brin6: str
    year: SchoolYear
    document: EdexDocument


class EdexmlSource:
    """A source reading EDEXML 2.1 files (see :class:`EdexmlSettings`)."""

    def __init__(
        self,
        name: str,
        settings: EdexmlSettings,
        ctx: ConnectorContext,
        *,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self._today = today

    @property
    def path(self) -> Path:
        year = self.ctx.school_year or SchoolYear.containing(self._today())
        return self.ctx.path(self.settings.path.replace("{school_year}", str(year)))

    def read(self) -> Roster:
        with gc_paused():
            return self._read(self.path)

    def _read(self, root: Path) -> Roster:
        files = [self._read_file(path, root) for path in self._locate(root)]
        year = self._one_year(files)
        options = MappingOptions(self.name, self.settings.key_scope, self.settings.rollen)
        assembler = RosterAssembler(options, year)
        for file in files:
            origin = Origin(file.brin6, file.display, self.settings.school_names.get(file.brin6))
            try:
                pupils = assembler.add(file.document, origin)
            except EdexmlStructureError as exc:
                raise SourceDataError(f"{file.display}: {exc}", source=self.name) from None
            if not pupils:
                raise SourceDataError(
                    f"{file.display}: school {file.brin6} has no pupils in the export "
                    f"({assembler.last_problems()}); an empty export is never read as "
                    "'everyone left'",
                    source=self.name,
                )
        assembler.out.year_mismatch(self.ctx.school_year, year, files[0].display)
        return assembler.build(kind="edexml", location=str(root))

    def _locate(self, root: Path) -> list[Path]:
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise ExportNotFound(root, what="EDEXML export", source=self.name)
        files = sorted(
            p
            for p in root.iterdir()
            if p.is_file() and p.suffix.lower() == ".xml" and not p.name.startswith(".")
        )
        if not files:
            raise SourceDataError(f"no EDEXML files (*.xml) in {root}", source=self.name)
        return files

    def _read_file(self, path: Path, root: Path) -> _File:
        display = path.name
        limit = self.settings.max_file_mb * 1024 * 1024
        try:
            size = path.stat().st_size
            if size > limit:
                raise SourceDataError(
                    f"{display} is {size / 2**20:.0f} MB, more than max_file_mb "
                    f"({self.settings.max_file_mb}); is this the export?",
                    source=self.name,
                )
            data = path.read_bytes()
        except OSError as exc:
            raise SourceDataError(f"cannot read {display}: {exc.strerror}", source=self.name) from None
        try:
            element = parse_xml(data, what=display)
            if local_name(element) != "EDEX":
                raise EdexmlStructureError(
                    f"the root element is <{local_name(element)}>, not <EDEX>: not an EDEXML file"
                )
            document = read_document(element)
            brin6 = school_brin6(document.school)
            year = document_school_year(document.school)
        except XMLParseError as exc:
            raise SourceDataError(str(exc), source=self.name) from None
        except EdexmlStructureError as exc:
            raise SourceDataError(f"{display}: {exc}", source=self.name) from None
        if year is None:
            raise SourceDataError(f"{display}: the <school> block has no schooljaar", source=self.name)
        return _File(display, brin6, year, document)

    def _one_year(self, files: list[_File]) -> SchoolYear:
        years = {file.year for file in files}
        if len(years) > 1:
            listed = ", ".join(f"{file.display}: {file.year}" for file in files)
            raise SourceDataError(
                f"the files describe different school years ({listed}); export them for one year",
                source=self.name,
            )
        schools: dict[str, str] = {}
        for file in files:
            if file.brin6 in schools:
                raise SourceDataError(
                    f"{schools[file.brin6]} and {file.display} are both exports of school "
                    f"{file.brin6}; keep one",
                    source=self.name,
                )
            schools[file.brin6] = file.display
        return files[0].year
