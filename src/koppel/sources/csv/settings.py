"""Settings of the CSV/Excel source, one documented field each (``koppel connectors describe csv``).

The defaults fit what schools really hand over: a Magister export in a folder, ``;``-separated,
in whatever encoding Excel chose. Everything a school might do differently (other file names,
other headers, a bestuur export with a Locatie column, an Excel workbook) is a setting, checked
when the configuration is loaded rather than halfway through a run.
"""

from __future__ import annotations

import codecs
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from koppel.model.roster import BRIN6_RE, SchoolYear
from koppel.sources.csv.specs import LAS_TABLES, NATIVE_TABLES

__all__ = ["CsvFiles", "CsvLayout", "CsvSourceSettings", "KeyScope"]


class CsvLayout(StrEnum):
    """Which export the files are: a LAS preset, koppel's own layout, or a school-made export."""

    MAGISTER = "magister"
    SOMTODAY = "somtoday"
    KOPPEL = "koppel"
    CUSTOM = "custom"


class KeyScope(StrEnum):
    """How far a LAS number is unique: within one school (separate LAS instances) or the whole export."""

    SCHOOL = "school"
    EXPORT = "export"


class CsvFiles(BaseModel):
    """File names inside the export folder. A name without extension is looked up as .csv, .txt, .tsv
    and .xlsx, in that order. Unset means the layout's default (see docs/sources/csv.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pupils: str | None = Field(
        default=None,
        description="Leerlingen file (magister, somtoday, custom). Default: leerlingen.",
    )
    staff: str | None = Field(
        default=None,
        description="Docenten/medewerkers file. Default: docenten (magister), medewerkers (somtoday); "
        "custom reads staff only when this is set.",
    )
    groups: str | None = Field(
        default=None,
        description="Lesgroepen file with vak, leerjaar and klas per lesgroep (optional for magister, "
        "somtoday and custom; default lesgroepen). For the koppel layout: the groups file (default groups).",
    )
    schools: str | None = Field(
        default=None,
        description="File with BRIN6 and name per school (optional; default scholen, or schools for koppel).",
    )
    persons: str | None = Field(
        default=None, description="koppel layout: the persons file (default persons)."
    )
    memberships: str | None = Field(
        default=None, description="koppel layout: the memberships file (default memberships)."
    )


class CsvSourceSettings(BaseModel):
    """Read a roster from CSV or Excel exports of a LAS (Magister, Somtoday) or koppel's own layout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="The export: a folder (one school, or one sub-folder per school named by its BRIN6) "
        "or, for magister/somtoday/custom, the leerlingen file itself. '{school_year}' is replaced by the "
        "school year being read (2025-2026), so next year's export can sit beside this year's. Relative to "
        "the config file.",
    )
    layout: CsvLayout = Field(
        default=CsvLayout.MAGISTER,
        description="magister, somtoday, koppel (koppel's native files) or custom (a school-made export; "
        "set files and columns).",
    )
    files: CsvFiles = Field(
        default_factory=CsvFiles, description="File names, where they differ from the default."
    )
    school: str | None = Field(
        default=None,
        description="BRIN6 of the school, for a single-school export without school folders or Locatie "
        "column; also the school of rows whose Locatie is not mapped.",
    )
    locations: dict[str, str] = Field(
        default_factory=dict,
        description="Locatie/vestiging name → BRIN6, for a bestuur export in one file with a Locatie column "
        "(a Locatie that is itself a BRIN6 needs no entry).",
    )
    school_year: str | None = Field(
        default=None,
        description="The school year the export describes (2025-2026). Unset: from the Lesperiode/Schooljaar "
        "column, else the year koppel asks for, else the year containing today.",
    )
    delimiter: Literal["auto", ";", ",", "\t", "tab", "|"] = Field(
        default="auto", description="Field separator; auto picks ';', ',', tab or '|' from the header line."
    )
    encoding: str = Field(
        default="auto",
        description="Text encoding; auto reads UTF-8 (with or without BOM; a few stray bytes that are not "
        "UTF-8 are read as Windows-1252 and warned about), UTF-16 with BOM, else Windows-1252. A codec name is "
        "obeyed strictly.",
    )
    columns: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="Extra header names per file and field, tried before the built-in aliases: "
        "{pupils = {klas = ['Groep']}}. Files: pupils, staff, groups, schools (koppel: persons, groups, "
        "memberships, schools); fields as listed in docs/sources/csv.md.",
    )
    multi_value_separator: str = Field(
        default=",",
        min_length=1,
        description="Separator inside multi-value cells (Groepen, Vakken, Klasvakken, lesgroepen …).",
    )
    sheet: str | None = Field(
        default=None, description="For .xlsx files: the sheet to read (default: the first sheet)."
    )
    key_scope: KeyScope | None = Field(
        default=None,
        description="school: a stamnummer is unique within its school only, so the LAS key includes the "
        "BRIN6 (default for magister, somtoday, custom); export: unique across the whole export (default for "
        "koppel).",
    )
    max_file_mb: int = Field(
        default=1024,
        gt=0,
        description="Refuse files larger than this many megabytes (a wrong path, not an export); for an "
        ".xlsx workbook, also what it unpacks to.",
    )

    @field_validator("columns", mode="before")
    @classmethod
    def _aliases_as_lists(cls, value: object) -> object:
        if isinstance(value, dict):
            return {
                table: {f: [a] if isinstance(a, str) else a for f, a in fields.items()}
                if isinstance(fields, dict)
                else fields
                for table, fields in value.items()
            }
        return value

    @field_validator("school")
    @classmethod
    def _school_is_brin6(cls, value: str | None) -> str | None:
        if value is not None and not BRIN6_RE.match(value):
            raise ValueError(f"{value!r} is not a BRIN6 (two digits, two capitals, two digits: 12AB00)")
        return value

    @field_validator("locations")
    @classmethod
    def _locations_are_brin6(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{name!r} → {brin6!r}" for name, brin6 in value.items() if not BRIN6_RE.match(brin6)]
        if bad:
            raise ValueError(f"locations must map to BRIN6 codes (12AB00): {', '.join(bad)}")
        return value

    @field_validator("school_year")
    @classmethod
    def _school_year_parses(cls, value: str | None) -> str | None:
        if value is not None:
            SchoolYear.parse(value)
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding_known(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _columns_known(self) -> CsvSourceSettings:
        tables = NATIVE_TABLES if self.layout is CsvLayout.KOPPEL else LAS_TABLES
        problems = []
        for table, fields in self.columns.items():
            spec = tables.get(table)
            if spec is None:
                problems.append(f"no file {table!r} in the {self.layout} layout (known: {', '.join(tables)})")
                continue
            problems.extend(
                f"{table} has no field {field!r} (known: {', '.join(spec.fields)})"
                for field in fields
                if field not in spec.fields
            )
        if problems:
            raise ValueError("columns: " + "; ".join(problems))
        return self

    @property
    def fixed_school_year(self) -> SchoolYear | None:
        return SchoolYear.parse(self.school_year) if self.school_year else None

    @property
    def effective_delimiter(self) -> str | None:
        """The configured delimiter, or None for auto-detection."""
        if self.delimiter == "auto":
            return None
        return "\t" if self.delimiter == "tab" else self.delimiter

    @property
    def effective_key_scope(self) -> KeyScope:
        if self.key_scope is not None:
            return self.key_scope
        return KeyScope.EXPORT if self.layout is CsvLayout.KOPPEL else KeyScope.SCHOOL
