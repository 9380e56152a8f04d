"""The koppel-native layout: schools, persons, groups and memberships, one row per object.

This is the most general form a roster can take in files — every kind, role and date the
canonical model has — and the one to use when a school's data comes from somewhere koppel has no
preset for (a script, another koppeling, a database query). Ids are the LAS keys: person ids are
unique across the export, group ids within their school and school year. See docs/sources/csv.md.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TypeVar

from koppel.model.roster import (
    BRIN6_RE,
    GroupKind,
    Membership,
    Person,
    PersonKind,
    Provenance,
    Role,
)
from koppel.sources.csv.builder import CsvRosterBuilder, split_multi
from koppel.sources.csv.files import ExportFiles
from koppel.sources.csv.las import Table, TableOpener
from koppel.sources.csv.settings import CsvSourceSettings
from koppel.sources.csv.specs import NATIVE_GROUPS, NATIVE_MEMBERSHIPS, NATIVE_PERSONS, NATIVE_SCHOOLS

__all__ = ["NativeReader"]

intern = sys.intern
_E = TypeVar("_E")

PERSON_KINDS: dict[str, PersonKind] = {
    **{k.value: k for k in PersonKind},
    "leerling": PersonKind.STUDENT,
    "pupil": PersonKind.STUDENT,
    "medewerker": PersonKind.STAFF,
    "docent": PersonKind.STAFF,
    "teacher": PersonKind.STAFF,
    "ouder": PersonKind.GUARDIAN,
    "verzorger": PersonKind.GUARDIAN,
    "parent": PersonKind.GUARDIAN,
}
GROUP_KINDS: dict[str, GroupKind] = {
    **{k.value: k for k in GroupKind},
    "klas": GroupKind.STAMGROEP,
    "basisgroep": GroupKind.STAMGROEP,
    "cluster": GroupKind.LESGROEP,
}
ROLES: dict[str, Role] = {
    **{r.value: r for r in Role},
    "leerling": Role.STUDENT,
    "docent": Role.TEACHER,
    "ouder": Role.GUARDIAN,
    "verzorger": Role.GUARDIAN,
}


class _Row:
    """One row's cells by field: ``row["id"]`` is the trimmed cell, '' when the file has no such column."""

    __slots__ = ("cells", "index")

    def __init__(self, index: Mapping[str, int], cells: list[str]) -> None:
        self.index = index
        self.cells = cells

    def __getitem__(self, field: str) -> str:
        i = self.index.get(field)
        return self.cells[i].strip() if i is not None else ""


class _Cells:
    """Reading one cell's value: a kind, a role, a school, a number, a date. A value that cannot be
    read is reported (an error when the row is left out, a warning when only the value is)."""

    def __init__(self, builder: CsvRosterBuilder, default_school: str | None) -> None:
        self.builder = builder
        self.default_school = default_school

    def lookup(
        self, table: Mapping[str, _E], text: str, code: str, field: str, file: str, line: int
    ) -> _E | None:
        """The value ``text`` names in ``table`` (case-blind); None when it names none (reported)."""
        found = table.get(text.lower())
        if found is None:
            known = ", ".join(sorted({k.value if hasattr(k, "value") else str(k) for k in table.values()}))
            self.builder.error(
                code, f"{field} {text!r} is not one of {known}; row left out", file, line, field=field
            )
        return found

    def school(self, text: str, file: str, line: int) -> str | None:
        """A group's school: the cell, else the school setting; None when there is no BRIN6 (reported)."""
        school = text or self.default_school
        if school is None:
            self.builder.error(
                "missing-value", "no school (and no school setting); row left out", file, line, field="school"
            )
            return None
        if not BRIN6_RE.match(school):
            self.builder.error(
                "bad-brin6", f"{school!r} is not a BRIN6 (12AB00); row left out", file, line, field="school"
            )
            return None
        return school

    def schools(self, values: list[str], file: str, line: int) -> list[str]:
        """A person's schools: the BRIN6s among ``values`` (others reported), else the school setting."""
        valid = []
        for value in values:
            if BRIN6_RE.match(value):
                valid.append(value)
            else:
                self.builder.error(
                    "bad-brin6", f"{value!r} is not a BRIN6 (12AB00); ignored", file, line, field="schools"
                )
        if not valid and self.default_school:
            valid.append(self.default_school)
        return valid

    def number(self, text: str, field: str, file: str, line: int) -> int | None:
        """A whole number; None when empty or unreadable (a warning: only the value is lost)."""
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            self.builder.warning(
                f"bad-{field}", f"{field} {text!r} is not a number; ignored", file, line, field=field
            )
            return None

    def dates(
        self, start: str, end: str, file: str, line: int
    ) -> tuple[dt.date | None, dt.date | None] | None:
        """Start and end dates (None when empty); None when one is unreadable (reported)."""
        dates: list[dt.date | None] = []
        for field, text in (("start", start), ("end", end)):
            try:
                dates.append(dt.date.fromisoformat(text) if text else None)
            except ValueError:
                self.builder.error(
                    "bad-date",
                    f"{field} {text!r} is not a date (YYYY-MM-DD); row left out",
                    file,
                    line,
                    field=field,
                )
                return None
        return dates[0], dates[1]


class NativeReader:
    """Reads a koppel-native export into a :class:`CsvRosterBuilder`."""

    def __init__(
        self,
        builder: CsvRosterBuilder,
        settings: CsvSourceSettings,
        export: ExportFiles,
        open_table: TableOpener,
    ) -> None:
        self.builder = builder
        self.cells = _Cells(builder, settings.school)
        self.settings = settings
        self.export = export
        self.open = open_table
        self.sep = settings.multi_value_separator
        self.listed: dict[str, str] = {}
        self._person_ids: dict[str, str] = {}  # id -> person key
        self._person_lines: dict[str, int] = {}
        self._children: list[tuple[str, list[str], Provenance]] = []
        self._group_lines: dict[tuple[str, str], int] = {}
        self._group_schools: dict[str, list[str]] = {}  # group id -> schools having it
        self._other_year_groups: set[tuple[str, str]] = set()
        self._parents: list[tuple[str, str, str, Provenance]] = []  # (school, group id, parent id, where)

    def read(self) -> None:
        (unit,) = self.export.units
        if self.export.schools_file is not None:
            self._read_schools(self.open(self.export.schools_file, NATIVE_SCHOOLS, True))
        for name, spec, reader in (
            ("persons", NATIVE_PERSONS, self._read_persons),
            ("groups", NATIVE_GROUPS, self._read_groups),
            ("memberships", NATIVE_MEMBERSHIPS, self._read_memberships),
        ):
            table = self.open(unit.tables[name], spec, False)
            reader(table)
            self.builder.diagnostics.extend(table.raw.take_problems())
        self._settle_children()
        self._settle_parents()
        self._check_listed_schools()

    def _read_schools(self, table: Table) -> None:
        i_brin, i_name = table.columns.get("brin6"), table.columns.get("name")
        for line, cells in table.raw.rows:
            brin6 = cells[i_brin].strip()
            if not BRIN6_RE.match(brin6):
                self.builder.error(
                    "bad-brin6",
                    f"{brin6!r} is not a BRIN6 (12AB00); row left out",
                    table.display,
                    line,
                    field="brin6",
                )
                continue
            name = (cells[i_name].strip() if i_name >= 0 else "") or brin6
            self.listed[brin6] = name
            self.builder.school_names[brin6] = name
        self.builder.diagnostics.extend(table.raw.take_problems())

    def _read_persons(self, table: Table) -> None:
        b, display, index = self.builder, table.display, table.columns.index
        for line, cells in table.raw.rows:
            row = _Row(index, cells)
            person_id = row["id"]
            if not person_id:
                b.error("missing-value", "person without an id; row left out", display, line, field="id")
                continue
            earlier = self._person_lines.get(person_id)
            if earlier is not None:
                b.error(
                    "duplicate-id",
                    f"person id {person_id} is also on line {earlier}; this row is left out",
                    display,
                    line,
                    field="id",
                )
                continue
            kind = self.cells.lookup(PERSON_KINDS, row["kind"], "unknown-kind", "kind", display, line)
            if kind is None:
                continue
            self._person_lines[person_id] = line
            schools = self.cells.schools(split_multi(row["schools"], self.sep), display, line)
            las_key = b.las_key(schools[0], person_id) if schools else person_id
            eckid = row["eckid"]
            key = b.person_key(las_key, eckid)
            if key in b.persons:
                b.error(
                    "duplicate-person",
                    f"ECK iD {eckid} is also person {b.persons[key].las_key}; this row is left out",
                    display,
                    line,
                    field="eckid",
                )
                continue
            provenance = Provenance(b.source, display, line)
            b.persons[key] = Person(
                key,
                kind,
                b.source,
                las_key,
                intern(row["roepnaam"]),
                intern(row["voorvoegsel"]),
                intern(row["achternaam"]),
                row["email"] or None,
                eckid or None,
                row["leerlingnummer"] or None,
                row["docentcode"] or None,
                row["username"] or None,
                tuple(schools),
                self.cells.number(row["leerjaar"], "leerjaar", display, line),
                (),
                provenance,
            )
            self._person_ids[person_id] = key
            children = split_multi(row["children"], self.sep)
            if children:
                self._children.append((key, children, provenance))

    def _read_groups(self, table: Table) -> None:
        b, display, index = self.builder, table.display, table.columns.index
        in_year = b.year_check(display, "school_year")
        for line, cells in table.raw.rows:
            row = _Row(index, cells)
            group_id = row["id"]
            if not group_id:
                b.error("missing-value", "group without an id; row left out", display, line, field="id")
                continue
            kind = self.cells.lookup(GROUP_KINDS, row["kind"], "unknown-kind", "kind", display, line)
            school = self.cells.school(row["school"], display, line)
            if kind is None or school is None:
                continue
            verdict = in_year(row["school_year"], line)
            if verdict is None:
                continue
            if not verdict:
                self._other_year_groups.add((school, group_id))
                continue
            earlier = self._group_lines.get((school, group_id))
            if earlier is not None:
                b.error(
                    "duplicate-id",
                    f"group id {group_id} of {school} is also on line {earlier}; this row is left out",
                    display,
                    line,
                    field="id",
                )
                continue
            self._group_lines[(school, group_id)] = line
            self._group_schools.setdefault(group_id, []).append(school)
            provenance = Provenance(b.source, display, line)
            draft = b.group(school, group_id, kind, row["name"] or group_id, provenance)
            draft.leerjaar = self.cells.number(row["leerjaar"], "leerjaar", display, line)
            draft.subject = row["subject"] or None
            draft.subject_name = row["subject_name"] or None
            draft.onderwijssoort = row["onderwijssoort"] or None
            parent = row["parent"]
            if parent:
                self._parents.append((school, group_id, parent, provenance))

    def _read_memberships(self, table: Table) -> None:
        """The biggest file (a million rows for a large bestuur): plain indexes, no per-row helpers."""
        b, display, cols = self.builder, table.display, table.columns
        i_person, i_group, i_school, i_role, i_start, i_end = (
            cols.get(f) for f in ("person", "group", "school", "role", "start", "end")
        )
        persons, memberships, source = self._person_ids, b.memberships, b.source
        for line, cells in table.raw.rows:
            person_id = cells[i_person].strip()
            person = persons.get(person_id)
            if person is None:
                b.error(
                    "unknown-person",
                    f"no person with id {person_id!r}; row left out",
                    display,
                    line,
                    field="person",
                )
                continue
            group_id = cells[i_group].strip()
            school = cells[i_school].strip() if i_school >= 0 else ""
            draft = b.school_groups(school).get(group_id) if school else None
            group = draft.key if draft is not None else self._group_for(group_id, school, display, line)
            role_text = cells[i_role].strip()
            role = ROLES.get(role_text) or self.cells.lookup(
                ROLES, role_text, "unknown-role", "role", display, line
            )
            if group is None or role is None:
                continue
            start = end = None
            if (i_start >= 0 and cells[i_start].strip()) or (i_end >= 0 and cells[i_end].strip()):
                dates = self.cells.dates(
                    cells[i_start].strip() if i_start >= 0 else "",
                    cells[i_end].strip() if i_end >= 0 else "",
                    display,
                    line,
                )
                if dates is None:
                    continue
                start, end = dates
            memberships.append(Membership(person, group, role, start, end, Provenance(source, display, line)))

    # -- references ----------------------------------------------------------------------------

    def _group_for(self, group_id: str, school: str, file: str, line: int) -> str | None:
        """The key of the group a membership row names, or None (reported unless of another year)."""
        if not school:
            schools = self._group_schools.get(group_id, [])
            if len(schools) > 1:
                self.builder.error(
                    "ambiguous-group",
                    f"group id {group_id!r} exists in {', '.join(schools)}; give the school; row left out",
                    file,
                    line,
                    field="group",
                )
                return None
            school = schools[0] if schools else (self.settings.school or "")
        draft = self.builder.school_groups(school).get(group_id) if school else None
        if draft is not None:
            return draft.key
        if (school, group_id) not in self._other_year_groups:
            self.builder.error(
                "unknown-group",
                f"no group with id {group_id!r}{f' in {school}' if school else ''}; row left out",
                file,
                line,
                field="group",
            )
        return None

    def _settle_children(self) -> None:
        for key, child_ids, provenance in self._children:
            children = []
            for child_id in child_ids:
                child = self._person_ids.get(child_id)
                if child is None:
                    self.builder.warning(
                        "unknown-person",
                        f"child {child_id!r} is not in the persons file; ignored",
                        provenance.file,
                        provenance.line,
                        field="children",
                    )
                else:
                    children.append(child)
            self.builder.persons[key] = replace(self.builder.persons[key], children=tuple(children))

    def _settle_parents(self) -> None:
        for school, group_id, parent_id, provenance in self._parents:
            groups = self.builder.school_groups(school)
            parent = groups.get(parent_id)
            if parent is None:
                self.builder.warning(
                    "unknown-group",
                    f"parent {parent_id!r} of group {group_id!r} is not in {school}; ignored",
                    provenance.file,
                    provenance.line,
                    field="parent",
                )
                continue
            groups[group_id].parent = parent.key

    def _check_listed_schools(self) -> None:
        if self.export.schools_file is None:
            return
        with_persons = {s for p in self.builder.persons.values() for s in p.schools}
        self.builder.check_listed_schools(self.listed, with_persons, self.export.display(self.export.schools_file),
                                          "no person belongs to it")
