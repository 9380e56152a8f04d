"""Collecting a roster row by row: the shared builder, plus group drafts and the school year.

Groups are *drafts* while reading (a Magister lesgroep is known only by the rows that mention it;
its vak may come from another file), frozen into :class:`~koppel.model.roster.Group` at the end.
Persons and memberships are built directly in their final, frozen form, because there are a
million memberships and building them twice would cost a second we do not have. Their key
strings are shared with the person and group maps, so a million memberships hold references,
not copies.

The school year is part of every group key, so it must be known before the first group is made.
:class:`YearSelector` takes it from the settings, else from the first row that carries one,
else from what koppel asked for, else from today; if the export later turns out to describe
another year, the source reads again with that year fixed (rare, and always deterministic).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from collections.abc import Callable, Collection, Mapping

from koppel.errors import SourceDataError
from koppel.model.roster import (
    Group,
    GroupKind,
    Membership,
    Provenance,
    Role,
    Roster,
    School,
    SchoolYear,
    group_key,
)
from koppel.sources.builder import RosterBuilder
from koppel.sources.csv.settings import KeyScope

__all__ = ["CsvRosterBuilder", "GroupDraft", "YearSelector", "membership_maker", "split_multi"]

intern = sys.intern
_UNSEEN = object()


def split_multi(cell: str, separator: str) -> list[str]:
    """``"4hnat1, 4hschk1,,4hnat1"`` → ``["4hnat1", "4hschk1"]``: trimmed, no empties, no repeats."""
    if not cell:
        return []
    values = cell.split(separator)
    if " " in cell or "\t" in cell:
        values = [v.strip() for v in values]
    if "" in values:
        values = [v for v in values if v]
    if len(values) > 1 and len(set(values)) != len(values):
        values = list(dict.fromkeys(values))
    return values


def membership_maker() -> Callable[[str, str, Role, Provenance | None], Membership]:
    """``make(person, group, role, provenance)`` → a Membership without dates.

    A plain function rather than the class itself so that callers bind it once in their loops; the
    model's Membership is a slotted, non-frozen dataclass made for exactly this volume."""

    def make(person: str, group: str, role: Role, provenance: Provenance | None) -> Membership:
        return Membership(person, group, role, None, None, provenance)

    return make


class YearSelector:
    """Decides which school year an export describes and which rows belong to it."""

    def __init__(self, *, fixed: SchoolYear | None, requested: SchoolYear | None, today: dt.date) -> None:
        self.fixed = fixed
        self.requested = requested
        self.today_year = SchoolYear.containing(today)
        self._chosen = fixed
        self._parsed: dict[str, SchoolYear | None] = {}
        self.rows_per_year: Counter[SchoolYear] = Counter()
        self.skipped: Counter[tuple[str, SchoolYear]] = Counter()  # (file, year) -> rows left out
        self._open_filters: list[tuple[str, dict[str, int]]] = []

    @property
    def current(self) -> SchoolYear:
        """The year group keys are made with; without a row saying so yet, the default is pinned."""
        if self._chosen is None:
            self._chosen = self.requested or self.today_year
        return self._chosen

    def parse(self, text: str) -> SchoolYear | None:
        try:
            return self._parsed[text]
        except KeyError:
            pass
        try:
            year: SchoolYear | None = SchoolYear.parse(text)
        except ValueError:
            year = None
        self._parsed[text] = year
        return year

    def row_filter(self, file: str) -> Callable[[str], bool | None]:
        """For one file: school-year cell text → True (read the row), False (another year), None (unreadable).

        Exports repeat the same few texts on every row, so results are kept per text and the count
        of rows per year is settled once per text when the file is done (:meth:`close`).
        """
        verdicts: dict[str, bool | None] = {}
        counts: dict[str, int] = {}
        self._open_filters.append((file, counts))

        def keep(text: str) -> bool | None:
            verdict = verdicts.get(text, _UNSEEN)
            if verdict is _UNSEEN:
                year = self.parse(text)
                if year is not None and self._chosen is None:
                    self._chosen = year
                verdict = verdicts[text] = None if year is None else year == self._chosen
            if verdict is not None:
                counts[text] = counts.get(text, 0) + 1
            return verdict  # type: ignore[return-value]

        return keep

    def close(self) -> None:
        """Fold the counts of every row filter into the per-year tallies."""
        for file, counts in self._open_filters:
            for text, rows in counts.items():
                year = self.parse(text)
                assert year is not None  # only readable texts are counted
                self.rows_per_year[year] += rows
                if year != self._chosen:
                    self.skipped[(file, year)] += rows
        self._open_filters.clear()

    def decide(self) -> SchoolYear:
        """The year the export describes, from all rows seen; raises when it cannot be told."""
        self.close()
        if self.fixed is not None:
            return self.fixed
        seen = set(self.rows_per_year)
        if not seen:
            return self.current
        if len(seen) == 1:
            return next(iter(seen))
        for preferred in (self.requested, self.today_year):
            if preferred in seen:
                return preferred
        listed = ", ".join(str(y) for y in sorted(seen))
        raise SourceDataError(
            f"the export holds rows of several school years ({listed}) and none is the "
            "requested or current one; set school_year to choose"
        )

    @property
    def used(self) -> SchoolYear | None:
        """The year group keys were made with so far (None: no group made yet)."""
        return self._chosen


class GroupDraft:
    """A group while rows still add to it."""

    __slots__ = (
        "key",
        "kind",
        "las_key",
        "leerjaar",
        "name",
        "onderwijssoort",
        "parent",
        "provenance",
        "school",
        "subject",
        "subject_name",
    )

    def __init__(
        self, key: str, kind: GroupKind, name: str, school: str, las_key: str, provenance: Provenance | None
    ) -> None:
        self.key = key
        self.kind = kind
        self.name = name
        self.school = school
        self.las_key = las_key
        self.leerjaar: int | None = None
        self.subject: str | None = None
        self.subject_name: str | None = None
        self.onderwijssoort: str | None = None
        self.parent: str | None = None
        self.provenance = provenance

    def freeze(self, source: str, year: SchoolYear) -> Group:
        return Group(
            key=self.key,
            kind=self.kind,
            name=self.name,
            school=self.school,
            school_year=year,
            source=source,
            las_key=self.las_key,
            leerjaar=self.leerjaar,
            subject=self.subject,
            subject_name=self.subject_name,
            onderwijssoort=self.onderwijssoort,
            parent=self.parent,
            provenance=self.provenance,
        )


class CsvRosterBuilder(RosterBuilder):
    """What one read of an export collects: the shared builder, plus group drafts and the school year."""

    def __init__(self, source: str, years: YearSelector, key_scope: KeyScope) -> None:
        super().__init__(source, per_school_keys=key_scope is KeyScope.SCHOOL)
        self.years = years
        self.membership = membership_maker()
        self.school_names: dict[str, str] = {}
        self.drafts: dict[str, GroupDraft] = {}
        self._drafts_by_school: dict[str, dict[str, GroupDraft]] = {}

    # -- groups -----------------------------------------------------------------------------

    def school_groups(self, brin6: str) -> dict[str, GroupDraft]:
        """The drafts of one school by LAS group key (the dict itself, for fast lookups in loops)."""
        groups = self._drafts_by_school.get(brin6)
        if groups is None:
            groups = self._drafts_by_school[brin6] = {}
        return groups

    def group_key_of(self, brin6: str, las_key: str) -> str:
        """The key the group (school, LAS key) has or will have in this read."""
        return intern(
            group_key(source=self.source, brin6=brin6, school_year=self.years.current, las_key=las_key)
        )

    def group(
        self, brin6: str, las_key: str, kind: GroupKind, name: str, provenance: Provenance | None
    ) -> GroupDraft:
        """The draft for (school, LAS key), made on first mention."""
        groups = self.school_groups(brin6)
        draft = groups.get(las_key)
        if draft is None:
            key = self.group_key_of(brin6, las_key)
            draft = GroupDraft(key, kind, intern(name), brin6, las_key, provenance)
            groups[las_key] = draft
            self.drafts[key] = draft
        return draft

    # -- checks both layouts make -------------------------------------------------------------

    def year_check(self, file: str, field: str) -> Callable[[str, int], bool | None]:
        """For one file: (school-year cell, line) → True (the year being read, or no year given),
        False (another year), None (unreadable: reported, the row is left out)."""
        keep = self.years.row_filter(file)

        def check(text: str, line: int) -> bool | None:
            if not text:
                return True
            verdict = keep(text)
            if verdict is None:
                message = f"school year {text!r} is not of the form 2025-2026; row left out"
                self.error("bad-school-year", message, file, line, field=field)
            return verdict

        return check

    @staticmethod
    def check_listed_schools(listed: Mapping[str, str], present: Collection[str], listing: str,
                             lacking: str) -> None:
        """A school the scholen file ``listing`` lists (BRIN6 → name) but the export holds nothing of
        (``present``) means an incomplete export: the read stops, saying what the export ``lacking``."""
        missing = [f"{brin6} ({name})" for brin6, name in listed.items() if brin6 not in present]
        if missing:
            raise SourceDataError(f"{listing} lists {', '.join(missing)}, but {lacking}: incomplete export?")

    # -- result -----------------------------------------------------------------------------

    def roster(self, *, school_year: SchoolYear, location: str) -> Roster:
        """The Roster: the schools of every person and group (named where a file named them), the
        drafts frozen in ``school_year``."""
        brins = {s for p in self.persons.values() for s in p.schools}
        brins.update(g.school for g in self.drafts.values())
        return self.build(
            school_year,
            kind="csv",
            location=location,
            schools=[School(b, self.school_names.get(b, b)) for b in sorted(brins)],
            groups=[draft.freeze(self.source, school_year) for draft in self.drafts.values()],
        )
