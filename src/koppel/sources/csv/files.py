"""Find the files of an export: one folder, one folder per school, or a single leerlingen file.

Conventions (docs/sources/csv.md, "Bestuur exports"):

* A folder holding the layout's files directly is one export; rows belong to the ``school``
  setting or to the school their Locatie column names.
* A folder whose sub-folders are named by BRIN6 (``12AB00/leerlingen.csv``) is a bestuur export:
  each sub-folder is one school, and an optional ``scholen.csv`` beside them names the schools.
* For the LAS layouts ``path`` may also be the leerlingen file itself; the other files are looked
  for beside it.

Having both (files at the top *and* school folders) is refused as ambiguous rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from koppel.errors import ConfigError, ConfigProblem, SourceDataError
from koppel.model.roster import BRIN6_RE
from koppel.sources.csv.settings import CsvLayout, CsvSourceSettings

__all__ = ["ExportFiles", "ExportNotFound", "SchoolFiles", "locate"]

_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx")


@dataclass(frozen=True, slots=True)
class SchoolFiles:
    """The files of one export unit: a school folder (``brin6`` set) or the whole export."""

    brin6: str | None
    tables: dict[str, Path]  # table name -> file
    optional: frozenset[str]  # tables whose file may hold a header only


@dataclass(frozen=True, slots=True)
class ExportFiles:
    root: Path
    schools_file: Path | None
    units: tuple[SchoolFiles, ...]

    def display(self, path: Path) -> str:
        """A path as messages show it: relative to the export's root."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()


@dataclass(frozen=True, slots=True)
class _Want:
    table: str
    stem: str | None  # None: not read unless configured
    required: bool


def _wanted(settings: CsvSourceSettings) -> list[_Want]:
    files = settings.files
    layout = settings.layout
    if layout is CsvLayout.KOPPEL:
        return [
            _Want("persons", files.persons or "persons", True),
            _Want("groups", files.groups or "groups", True),
            _Want("memberships", files.memberships or "memberships", True),
        ]
    staff_default = {
        CsvLayout.MAGISTER: "docenten",
        CsvLayout.SOMTODAY: "medewerkers",
        CsvLayout.CUSTOM: None,
    }
    staff = files.staff or staff_default[layout]
    return [
        _Want("groups", files.groups or "lesgroepen", False),
        _Want("pupils", files.pupils or "leerlingen", True),
        _Want("staff", staff, staff is not None),
    ]


def _schools_stem(settings: CsvSourceSettings) -> str:
    if settings.files.schools:
        return settings.files.schools
    return "schools" if settings.layout is CsvLayout.KOPPEL else "scholen"


def find_file(folder: Path, name: str) -> Path | None:
    """``name`` in ``folder``: as given when it has an extension, else the first of .csv/.txt/.tsv/.xlsx."""
    candidate = folder / name
    if candidate.suffix:
        return candidate if candidate.is_file() else None
    for extension in _EXTENSIONS:
        candidate = folder / f"{name}{extension}"
        if candidate.is_file():
            return candidate
    return None


class ExportNotFound(SourceDataError):
    """Nothing at the export's path. ``path`` is the full path looked at; ``setting`` the source setting that
    gave it (the command line adds the configuration file and line that set it)."""

    def __init__(self, path: Path, *, what: str = "export", source: str | None = None) -> None:
        self.path = path.absolute()
        self.setting = "path"
        super().__init__(f"{what} not found: {self.path}", source=source)


def locate(settings: CsvSourceSettings, path: Path) -> ExportFiles:
    """The export's files at ``path`` (already resolved, ``{school_year}`` filled in)."""
    if not path.exists():
        raise ExportNotFound(path)
    wanted = _wanted(settings)
    if path.is_file():
        if settings.layout is CsvLayout.KOPPEL:
            raise ConfigError(
                [ConfigProblem("the koppel layout reads a folder, not a single file", setting="path")]
            )
        return _single_file(path, wanted, settings)
    schools_file = find_file(path, _schools_stem(settings))
    direct, missing = _collect(path, None, wanted)
    folders = sorted(d for d in path.iterdir() if d.is_dir() and BRIN6_RE.match(d.name))
    if settings.layout is CsvLayout.KOPPEL or not folders:
        if missing:
            raise SourceDataError(
                f"{path}: no {', '.join(missing)} file here, and no school folders named by BRIN6"
            )
        return ExportFiles(path, schools_file, (direct,))
    if not missing:
        raise SourceDataError(
            f"{path}: has both export files at the top and school folders "
            f"({', '.join(d.name for d in folders)}); keep one of the two"
        )
    units = []
    for folder in folders:
        unit, missing = _collect(folder, folder.name, wanted)
        if missing:
            raise SourceDataError(f"{folder}: school folder has no {', '.join(missing)} file")
        units.append(unit)
    return ExportFiles(path, schools_file, tuple(units))


def _collect(folder: Path, brin6: str | None, wanted: list[_Want]) -> tuple[SchoolFiles, list[str]]:
    """The wanted files found in ``folder``, and the stems of required files that are not there."""
    tables: dict[str, Path] = {}
    optional: set[str] = set()
    missing: list[str] = []
    for want in wanted:
        if want.stem is None:
            continue
        found = find_file(folder, want.stem)
        if found is None:
            if want.required:
                missing.append(want.stem)
            continue
        tables[want.table] = found
        if not want.required:
            optional.add(want.table)
    return SchoolFiles(brin6, tables, frozenset(optional)), missing


def _single_file(path: Path, wanted: list[_Want], settings: CsvSourceSettings) -> ExportFiles:
    folder = path.parent
    others = [w for w in wanted if w.table != "pupils"]
    unit, missing = _collect(folder, None, others)
    if missing:
        raise SourceDataError(f"{folder}: no {', '.join(missing)} file beside {path.name}")
    tables = {"pupils": path, **unit.tables}
    return ExportFiles(
        folder, find_file(folder, _schools_stem(settings)), (SchoolFiles(None, tables, unit.optional),)
    )
