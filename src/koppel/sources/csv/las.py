"""The LAS layouts (magister, somtoday, custom): leerlingen, docenten and lesgroepen files.

How the files become groups (docs/sources/csv.md):

* A pupil's **Klas** is a stamgroep (LAS key ``stamgroep:<klas>``, so a lesgroep may share the
  klas's name, as Somtoday's klas-bound lesgroepen often do).
* A pupil's **Groepen/lesgroepen** and a docent's **Groepvakken/lesgroepen** name lesgroepen
  directly (Somtoday lists every lesgroep this way; Magister lists its clusters this way).
* Whole-klas lesgroepen, Magister's "klasvakken", are *declared* by a docent's **Klasvakken**
  (``1A.ne``: klas 1A, vak ne) or by a lesgroepen-file row with a Klas. A pupil of that klas who
  has the vak in **Vakken** is placed in it. A Klasvakken item for a klas that no pupil is in is
  reported and left out.
* **Mentor** on a pupil row (a docentcode, HelloID's PMENTORCODE) or **Mentor van** on a docent
  row makes the docent mentor of the klas.

Files are read in one pass each: the lesgroepen file first, then leerlingen, then docenten (which
refer to the klassen the pupils define); what depends on a later file (Vakken, Mentor) is settled
at the end. The leerlingen loop is the hot path of a large read, so it works on column indexes
and builds each person and membership once, in final form.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

from koppel.errors import ConfigError, ConfigProblem
from koppel.model.roster import BRIN6_RE, GroupKind, Person, PersonKind, Provenance, Role
from koppel.sources.builder import STAFF_KEY_PREFIX
from koppel.sources.csv.builder import CsvRosterBuilder, GroupDraft, split_multi
from koppel.sources.csv.files import ExportFiles, SchoolFiles
from koppel.sources.csv.headers import ColumnMap
from koppel.sources.csv.settings import CsvSourceSettings
from koppel.sources.csv.specs import GROUPS, PUPILS, SCHOOLS, STAFF, TableSpec
from koppel.sources.csv.text import RawTable

__all__ = ["KLAS_KEY_PREFIX", "LasReader", "Table", "TableOpener"]

KLAS_KEY_PREFIX = "stamgroep:"
intern = sys.intern
_STUDENT, _TEACHER, _MENTOR = Role.STUDENT, Role.TEACHER, Role.MENTOR


@dataclass
class Table:
    """An opened file: its rows and which column holds which field."""

    raw: RawTable
    columns: ColumnMap

    @property
    def display(self) -> str:
        return self.raw.display


TableOpener = Callable[[Path, TableSpec, bool], Table]  # (path, spec, allow_empty) -> Table


def _cell(cells: list[str], index: int) -> str:
    """The trimmed cell at ``index``; '' when the file has no such column (index -1)."""
    return cells[index].strip() if index >= 0 else ""


_ABSENT = ""  # what a column the file does not have reads as
_Columns = TypeVar("_Columns", bound=NamedTuple)


class _PupilColumns(NamedTuple):
    number: int
    eckid: int
    username: int
    email: int
    roepnaam: int
    voorvoegsel: int
    achternaam: int
    leerjaar: int
    klas: int
    studie: int
    lesgroepen: int
    vakken: int
    mentor: int


class _StaffColumns(NamedTuple):
    number: int
    code: int
    eckid: int
    username: int
    email: int
    roepnaam: int
    voorvoegsel: int
    achternaam: int
    lesgroepen: int
    klasvakken: int
    mentor_of: int


class _GroupColumns(NamedTuple):
    name: int
    vak: int
    vaknaam: int
    leerjaar: int
    studie: int
    klas: int


def _padded_indexes(table: Table, layout: type[_Columns]) -> _Columns:
    """Column index per field; a field the file lacks points one past the last column.

    The hot loops append one empty cell to each row (``cells.append(_ABSENT)``), so an absent
    column simply reads as an empty cell, without a test per cell.
    """
    past_end = len(table.raw.header)
    return layout._make(table.columns.index.get(field, past_end) for field in layout._fields)


class _SchoolOf:
    """Which school (BRIN6) a row belongs to: its folder, its Locatie, or the school setting."""

    def __init__(self, builder: CsvRosterBuilder, default: str | None, locations: dict[str, str]) -> None:
        self.builder = builder
        self.default = default
        self.locations = locations
        self._cache: dict[str, str] = {}

    def fixed(self, unit: SchoolFiles, table: Table) -> str | None:
        """The school of every row of ``table``, or None when each row's Locatie decides."""
        if unit.brin6 is not None:
            return unit.brin6
        if "locatie" in table.columns:
            return None
        if self.default is None:
            problem = ConfigProblem(
                f"cannot tell which school the rows of {table.display} belong to: set school (a BRIN6), put "
                "each school's files in a folder named by its BRIN6, or add a Locatie column",
                setting="school",
            )
            raise ConfigError([problem])
        return self.default

    def resolve(self, locatie: str, file: str, line: int) -> str | None:
        """The BRIN6 a Locatie names (mapped, itself a BRIN6, or the default); None when unknown."""
        brin6 = self._cache.get(locatie)
        if brin6 is not None:
            return brin6
        brin6 = self.locations.get(locatie) or (locatie if BRIN6_RE.match(locatie) else None) or self.default
        if brin6 is None:
            message = f"Locatie {locatie!r} is not mapped to a school (add it to locations or to scholen)"
            self.builder.error("unknown-location", f"{message}; row left out", file, line,
                               field="Locatie")
            return None
        self._cache[locatie] = brin6
        self.builder.school_names.setdefault(brin6, locatie or brin6)
        return brin6


class _Rows:
    """Per file: whether a row counts, and for which school (key present, year, Locatie, duplicate)."""

    def __init__(self, reader: LasReader, table: Table, key_field: str, noun: str, *, fixed: str | None,
                 school_of: _SchoolOf, seen: dict[tuple[str, str], int] | None) -> None:
        columns = table.columns
        self.builder = reader.builder
        self.display = table.display
        self.fixed = fixed
        self.school_of = school_of
        self.seen = seen
        self.noun = noun
        self.key_index = columns.get(key_field)
        self.key_header = columns.headers[key_field]
        self.year_index = columns.get("school_year")
        self.locatie_index = columns.get("locatie")
        self.in_year = reader.year_filter(table)

    def accept(self, cells: list[str], line: int) -> tuple[str, str] | None:
        """(BRIN6, key) of a row that counts; None (reported where it is a data error) otherwise."""
        key = cells[self.key_index].strip()
        if not key:
            self.builder.error("missing-value", f"{self.noun} without a {self.key_header}; row left out",
                               self.display, line, field=self.key_header)
            return None
        if self.year_index >= 0 and not self.in_year(cells[self.year_index].strip(), line):
            return None
        brin6 = self.fixed or self.school_of.resolve(cells[self.locatie_index].strip(), self.display, line)
        if brin6 is None:
            return None
        if self.seen is not None:
            earlier = self.seen.get((brin6, key))
            if earlier is not None:
                message = f"{self.key_header} {key} is also on line {earlier}; this row is left out"
                self.builder.error("duplicate-number", message, self.display, line, field=self.key_header)
                return None
            self.seen[(brin6, key)] = line
        return brin6, key


def _same(eckid: str, number: str, other: Person) -> str:
    """``ECK iD … is also …`` / ``Stamnr 12 is also …``: why two rows are one person."""
    what = f"ECK iD …{eckid[-8:]}" if eckid else f"Stamnr {number}"  # a pseudonym, but no need to print it whole
    where = f" ({other.provenance})" if other.provenance else ""
    return f"{what} is also {other.display_name or other.las_key}{where}"


class _Klassen:
    """What hangs off a klas, settled once every file is read: its whole-klas lesgroepen (Klasvakken,
    or a lesgroepen row with a Klas) and the pupils their Vakken place in them, and its mentors (a
    docent's Mentor van, or a pupil's Mentor: a docentcode the docenten file resolves)."""

    def __init__(self, builder: CsvRosterBuilder) -> None:
        self.builder = builder
        self._keys: dict[tuple[str, str], str] = {}
        self._declared: dict[str, dict[tuple[str, str], GroupDraft]] = {}  # BRIN6 -> (klas, vak) -> lesgroep
        self._vakken: list[tuple[str, str, str, list[str], list[str], Provenance]] = []
        self._mentor_codes: dict[tuple[str, str], dict[str, Provenance]] = {}
        self._staff_by_code: dict[str, dict[str, str]] = {}
        self._mentor_pairs: set[tuple[str, str]] = set()

    # -- while reading --------------------------------------------------------------------------

    def declare(self, brin6: str, klas: str, vak: str, draft: GroupDraft) -> None:
        """A lesgroepen row: ``draft`` is klas ``klas``'s lesgroep for ``vak`` (the first row says so)."""
        self._declared.setdefault(brin6, {}).setdefault((klas, vak), draft)

    def wait_for_vakken(self, person: str, brin6: str, klas: str, vakken: list[str], own: list[str],
                        provenance: Provenance) -> None:
        """A pupil of ``klas`` takes ``vakken`` (``own``: the lesgroepen their row names already)."""
        self._vakken.append((person, brin6, klas, vakken, own, provenance))

    def wait_for_mentor(self, brin6: str, klas: str, code: str, provenance: Provenance) -> None:
        """A pupil row names docentcode ``code`` as the mentor of their klas."""
        self._mentor_codes.setdefault((brin6, klas), {}).setdefault(code, provenance)

    def docentcode(self, brin6: str, code: str, person: str) -> None:
        """Docent ``person`` has docentcode ``code`` at ``brin6`` (the first docent with it keeps it)."""
        self._staff_by_code.setdefault(brin6, {}).setdefault(code, person)

    def klas_key(self, brin6: str, klas: str) -> str:
        """The group key klas ``klas`` of ``brin6`` has or will have."""
        key = self._keys.get((brin6, klas))
        if key is None:
            key = self._keys[(brin6, klas)] = self.builder.group_key_of(brin6, KLAS_KEY_PREFIX + klas)
        return key

    def klasvak(self, brin6: str, item: str, provenance: Provenance) -> GroupDraft | None:
        """The whole-klas lesgroep ``<klas>.<vak>`` a Klasvakken item names (made on first mention)."""
        klas, dot, vak = item.rpartition(".")
        where = (provenance.file, provenance.line)
        if not dot or not klas or not vak:
            self.builder.warning("bad-klasvak", f"Klasvakken item {item!r} is not <klas>.<vak> (1A.ne); left out",
                                 *where, field="Klasvakken")
            return None
        declared = self._declared.setdefault(brin6, {})
        draft = declared.get((klas, vak))
        if draft is not None:
            return draft
        klas_draft = self.builder.school_groups(brin6).get(KLAS_KEY_PREFIX + klas)
        if klas_draft is None:
            self.builder.warning("unknown-klas", f"Klasvakken {item!r}: no pupil is in klas {klas!r}; left out",
                                 *where, field="Klasvakken")
            return None
        draft = self.builder.group(brin6, item, GroupKind.LESGROEP, item, provenance)
        draft.subject = draft.subject or vak
        draft.leerjaar = draft.leerjaar or klas_draft.leerjaar
        draft.onderwijssoort = draft.onderwijssoort or klas_draft.onderwijssoort
        draft.parent = draft.parent or klas_draft.key
        declared[(klas, vak)] = draft
        return draft

    def mentor(self, person: str, brin6: str, klas: str, provenance: Provenance, *, field: str) -> None:
        """Make ``person`` mentor of klas ``klas`` (once); a klas no pupil is in is reported."""
        draft = self.builder.school_groups(brin6).get(KLAS_KEY_PREFIX + klas)
        if draft is None:
            self.builder.warning("unknown-klas", f"mentor of klas {klas!r}, but no pupil is in it; left out",
                                 provenance.file, provenance.line, field=field)
            return
        if (person, draft.key) not in self._mentor_pairs:
            self._mentor_pairs.add((person, draft.key))
            self.builder.memberships.append(self.builder.membership(person, draft.key, _MENTOR, provenance))

    # -- once every file is read ------------------------------------------------------------

    def settle_vakken(self) -> None:
        """Place pupils in the whole-klas lesgroepen of their klas for each vak they take."""
        memberships, make = self.builder.memberships, self.builder.membership
        for key, brin6, klas, vakken, own, provenance in self._vakken:
            declared = self._declared.get(brin6)
            if not declared:
                continue
            for vak in vakken:
                draft = declared.get((klas, vak))
                if draft is not None and draft.las_key not in own:
                    memberships.append(make(key, draft.key, _STUDENT, provenance))
        self._vakken.clear()

    def settle_mentors(self) -> None:
        """Resolve the pupils' Mentor docentcodes to the docenten of their school."""
        for (brin6, klas), codes in self._mentor_codes.items():
            staff = self._staff_by_code.get(brin6, {})
            for code, provenance in codes.items():
                person = staff.get(code)
                if person is None:
                    message = f"Mentor {code!r} of klas {klas!r} is no docentcode in the docenten file"
                    self.builder.warning("unknown-mentor", message, provenance.file, provenance.line,
                                         field="Mentor")
                    continue
                self.mentor(person, brin6, klas, provenance, field="Mentor")

    def check_parents(self) -> None:
        """A lesgroep whose Klas no pupil is in belongs to no klas (reported)."""
        groups = self.builder.drafts
        for draft in groups.values():
            if draft.parent is not None and draft.parent not in groups:
                where = draft.provenance or Provenance(self.builder.source)
                self.builder.warning("unknown-klas", f"lesgroep {draft.name!r} belongs to a klas no pupil is in",
                                     where.file, where.line, field="Klas")
                draft.parent = None


class LasReader:
    """Reads one LAS-layout export into a :class:`CsvRosterBuilder`."""

    def __init__(self, builder: CsvRosterBuilder, settings: CsvSourceSettings, export: ExportFiles,
                 open_table: TableOpener, *, unread: Collection[str] = ()) -> None:
        self.builder = builder
        self.unread = frozenset(unread)  # school folders of the export left unread (a read in part)
        self.klassen = _Klassen(builder)
        self.settings = settings
        self.export = export
        self.open = open_table
        self.sep = settings.multi_value_separator
        self.listed: dict[str, str] = {}  # schools named in the scholen file
        self._school_tuples: dict[str, tuple[str, ...]] = {}
        self._pupil_lines: dict[tuple[str, str], int] = {}
        self._staff_lines: dict[tuple[str, str], int] = {}
        self._leerjaren: dict[str, int | None] = {}

    def read(self) -> None:
        locations = self._read_schools()
        locations.update(self.settings.locations)
        school_of = _SchoolOf(self.builder, self.settings.school, locations)
        readers = (("groups", GROUPS, self._read_groups), ("pupils", PUPILS, self._read_pupils),
                   ("staff", STAFF, self._read_staff))
        for unit in self.export.units:
            for name, spec, reader in readers:
                path = unit.tables.get(name)
                if path is not None:
                    table = self.open(path, spec, name in unit.optional)
                    reader(table, school_of.fixed(unit, table), school_of)
                    self.builder.diagnostics.extend(table.raw.take_problems())
        self.klassen.settle_vakken()
        self.klassen.settle_mentors()
        self.klassen.check_parents()
        self._check_listed_schools()

    # -- scholen ----------------------------------------------------------------------------

    def _read_schools(self) -> dict[str, str]:
        """BRIN6 → name from the scholen file; returns Locatie/name → BRIN6 for Locatie columns."""
        locations: dict[str, str] = {}
        if self.export.schools_file is None:
            return locations
        table = self.open(self.export.schools_file, SCHOOLS, True)
        i_brin, i_name, i_locatie = (table.columns.get(f) for f in ("brin6", "naam", "locatie"))
        for line, cells in table.raw.rows:
            brin6 = cells[i_brin].strip()
            if not BRIN6_RE.match(brin6):
                self.builder.error("bad-brin6", f"{brin6!r} is not a BRIN6 (12AB00); row left out", table.display,
                                   line, field=table.columns.headers["brin6"])
                continue
            name = _cell(cells, i_name)
            self.listed[brin6] = self.builder.school_names[brin6] = name or brin6
            for alias in (name, _cell(cells, i_locatie)):
                if alias:
                    locations.setdefault(alias, brin6)
        self.builder.diagnostics.extend(table.raw.take_problems())
        return locations

    # -- lesgroepen ---------------------------------------------------------------------------

    def _read_groups(self, table: Table, fixed: str | None, school_of: _SchoolOf) -> None:
        at = _padded_indexes(table, _GroupColumns)
        rows = _Rows(self, table, "name", "lesgroep", fixed=fixed, school_of=school_of, seen=None)
        for line, cells in table.raw.rows:
            accepted = rows.accept(cells, line)
            if accepted is None:
                continue
            brin6, name = accepted
            cells.append(_ABSENT)
            provenance = Provenance(self.builder.source, table.display, line)
            draft = self.builder.group(brin6, name, GroupKind.LESGROEP, name, provenance)
            vak = cells[at.vak].strip()
            draft.subject = draft.subject or vak or None
            draft.subject_name = draft.subject_name or cells[at.vaknaam].strip() or None
            draft.onderwijssoort = draft.onderwijssoort or cells[at.studie].strip() or None
            if draft.leerjaar is None:
                draft.leerjaar = self._leerjaar(cells[at.leerjaar].strip(), table.display, line)
            klas = cells[at.klas].strip()
            if klas:
                draft.parent = self.klassen.klas_key(brin6, klas)
                if vak:
                    self.klassen.declare(brin6, klas, vak, draft)

    # -- leerlingen ---------------------------------------------------------------------------

    def _read_pupils(self, table: Table, fixed: str | None, school_of: _SchoolOf) -> None:
        at = _padded_indexes(table, _PupilColumns)
        rows = _Rows(self, table, "number", "pupil", fixed=fixed, school_of=school_of, seen=self._pupil_lines)
        source, display = self.builder.source, table.display
        for line, cells in table.raw.rows:
            accepted = rows.accept(cells, line)
            if accepted is None:
                continue
            brin6, number = accepted
            cells.append(_ABSENT)
            provenance = Provenance(source, display, line)
            key = self._add_pupil(cells, at, brin6, number, provenance)
            if key is not None:
                self._pupil_groups(key, cells, at, brin6, provenance)

    def _add_pupil(self, cells: list[str], at: _PupilColumns, brin6: str, number: str,
                   provenance: Provenance) -> str | None:
        """The pupil's person key, or None when the row is another pupil's (reported)."""
        b = self.builder
        eckid = cells[at.eckid].strip()
        las_key = b.las_key(brin6, number)
        key = b.person_key(las_key, eckid)
        known = b.persons.get(key)
        if known is not None:
            if eckid and known.kind is PersonKind.STUDENT and brin6 not in known.schools:
                # One pupil at two schools of the bestuur (the ECK iD says so): one person, both schools.
                b.join_schools(key, (brin6,))
                return key
            b.error("duplicate-person", f"{_same(eckid, number, known)}; this row is left out",
                    provenance.file, provenance.line, field="EckId" if eckid else "Stamnr")
            return None
        b.persons[key] = Person(
            key=key, kind=PersonKind.STUDENT, source=b.source, las_key=las_key,
            roepnaam=intern(cells[at.roepnaam].strip()), voorvoegsel=intern(cells[at.voorvoegsel].strip()),
            achternaam=intern(cells[at.achternaam].strip()), email=cells[at.email].strip() or None,
            eckid=eckid or None, leerlingnummer=number, las_username=cells[at.username].strip() or None,
            schools=self._schools(brin6),
            leerjaar=self._leerjaar(cells[at.leerjaar].strip(), provenance.file or "", provenance.line or 0),
            provenance=provenance,
        )
        return key

    def _pupil_groups(self, key: str, cells: list[str], at: _PupilColumns, brin6: str,
                      provenance: Provenance) -> None:
        """Klas, lesgroepen; Vakken and Mentor wait until the docenten are read."""
        b, make, memberships = self.builder, self.builder.membership, self.builder.memberships
        groups = b.school_groups(brin6)
        klas = cells[at.klas].strip()
        if klas:
            draft = groups.get(KLAS_KEY_PREFIX + klas)
            if draft is None:
                draft = b.group(brin6, KLAS_KEY_PREFIX + klas, GroupKind.STAMGROEP, klas, provenance)
                draft.leerjaar = b.persons[key].leerjaar
                draft.onderwijssoort = cells[at.studie].strip() or None
            memberships.append(make(key, draft.key, _STUDENT, provenance))
        own = split_multi(cells[at.lesgroepen], self.sep)
        for name in own:
            draft = groups.get(name) or b.group(brin6, name, GroupKind.LESGROEP, name, provenance)
            memberships.append(make(key, draft.key, _STUDENT, provenance))
        if not klas:
            return
        vakken = split_multi(cells[at.vakken], self.sep)
        if vakken:
            self.klassen.wait_for_vakken(key, brin6, klas, vakken, own, provenance)
        code = cells[at.mentor].strip()
        if code:
            self.klassen.wait_for_mentor(brin6, klas, code, provenance)

    # -- docenten -----------------------------------------------------------------------------

    def _read_staff(self, table: Table, fixed: str | None, school_of: _SchoolOf) -> None:
        at = _padded_indexes(table, _StaffColumns)
        rows = _Rows(self, table, "number", "docent", fixed=fixed, school_of=school_of,
                     seen=self._staff_lines)
        mentor_header = table.columns.headers.get("mentor_of", "Mentor van")
        for line, cells in table.raw.rows:
            accepted = rows.accept(cells, line)
            if accepted is None:
                continue
            brin6, number = accepted
            cells.append(_ABSENT)
            provenance = Provenance(self.builder.source, table.display, line)
            key = self._add_staff(cells, at, brin6, number, provenance)
            if key is not None:
                self._staff_groups(key, cells, at, brin6, provenance, mentor_header)

    def _add_staff(self, cells: list[str], at: _StaffColumns, brin6: str, number: str,
                   provenance: Provenance) -> str | None:
        """The docent's person key (a docent seen at another school gains this one), or None."""
        b = self.builder
        eckid = cells[at.eckid].strip()
        las_key = b.las_key(brin6, number, STAFF_KEY_PREFIX)
        key = b.person_key(las_key, eckid)
        code = cells[at.code].strip()
        known = b.persons.get(key)
        if known is not None and not (known.kind is PersonKind.STAFF and known.las_key == las_key):
            b.error("duplicate-person", f"{_same(eckid, number, known)}; this row is left out",
                    provenance.file, provenance.line, field="EckId" if eckid else "Stamnr")
            return None
        if known is not None:  # key scope "export": the same docent at a second school
            b.join_schools(key, (brin6,))
        else:
            b.persons[key] = Person(
                key=key, kind=PersonKind.STAFF, source=b.source, las_key=las_key,
                roepnaam=intern(cells[at.roepnaam].strip()),
                voorvoegsel=intern(cells[at.voorvoegsel].strip()),
                achternaam=intern(cells[at.achternaam].strip()), email=cells[at.email].strip() or None,
                eckid=eckid or None, docentcode=code or None, las_username=cells[at.username].strip() or None,
                schools=self._schools(brin6), provenance=provenance,
            )
        if code:
            self.klassen.docentcode(brin6, code, key)
        return key

    def _staff_groups(self, key: str, cells: list[str], at: _StaffColumns, brin6: str, provenance: Provenance,
                      mentor_header: str) -> None:
        """Lesgroepen and Klasvakken the docent teaches, klassen they are mentor of."""
        b = self.builder
        for name in split_multi(cells[at.lesgroepen], self.sep):
            draft = b.school_groups(brin6).get(name) or b.group(brin6, name, GroupKind.LESGROEP, name, provenance)
            b.memberships.append(b.membership(key, draft.key, _TEACHER, provenance))
        for item in split_multi(cells[at.klasvakken], self.sep):
            klasvak = self.klassen.klasvak(brin6, item, provenance)
            if klasvak is not None:
                b.memberships.append(b.membership(key, klasvak.key, _TEACHER, provenance))
        for klas in split_multi(cells[at.mentor_of], self.sep):
            self.klassen.mentor(key, brin6, klas, provenance, field=mentor_header)

    # -- checks across files -------------------------------------------------------------------

    def _check_listed_schools(self) -> None:
        """The scholen file and the export must agree on the schools.

        A listed school without leerlingen means an incomplete export: the read stops. A school
        folder the file does not list may be a leftover of a school that left the bestuur: it is
        read, with a warning.
        """
        if self.export.schools_file is None:
            return
        listing = self.export.display(self.export.schools_file)
        for unit in self.export.units:
            if unit.brin6 is not None and unit.brin6 not in self.listed:
                message = f"school folder {unit.brin6} is not listed in {listing}; read anyway (a leftover?)"
                self.builder.warning("unlisted-school", message, unit.brin6, None)
        with_pupils = {brin6 for brin6, _ in self._pupil_lines} | self.unread
        self.builder.check_listed_schools(self.listed, with_pupils, listing, "the export has no leerlingen for it")

    # -- small helpers ------------------------------------------------------------------------

    def _schools(self, brin6: str) -> tuple[str, ...]:
        """One shared ``(brin6,)`` per school, instead of one tuple per person."""
        schools = self._school_tuples.get(brin6)
        if schools is None:
            schools = self._school_tuples[brin6] = (brin6,)
        return schools

    def year_filter(self, table: Table) -> Callable[[str, int], bool | None]:
        """For ``table``: (school-year cell, line) → whether the row belongs to the year being read
        (None: the cell is unreadable, reported; see :meth:`CsvRosterBuilder.year_check`)."""
        if "school_year" not in table.columns:
            return lambda text, line: True
        return self.builder.year_check(table.display, table.columns.headers["school_year"])

    def _leerjaar(self, text: str, file: str, line: int) -> int | None:
        """Leerjaar 0–20, or None (with a warning) for anything else; results are kept per text."""
        if text in self._leerjaren:
            return self._leerjaren[text]
        value: int | None = None
        if text:
            try:
                value = int(text)
            except ValueError:
                value = -1
            if not 0 <= value <= 20:
                message = f"leerjaar {text!r} is not a number from 0 to 20; ignored"
                self.builder.warning("bad-leerjaar", message, file, line, field="Leerjaar")
                return None
        self._leerjaren[text] = value
        return value
