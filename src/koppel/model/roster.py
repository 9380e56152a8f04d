"""The canonical roster: one complete, immutable snapshot of a tenant's LAS data.

Every source (CSV export, UWLR, Somtoday Connect, OneRoster, EDEXML …) turns what it reads into
these objects; everything downstream (validation, rules, plan) reads only these. The classes are
frozen, slotted dataclasses rather than pydantic models on purpose: a bestuur of 60,000 pupils has
about a million memberships, and building a million validated models costs seconds we do not have
(see docs/performance.md). Validation of the *data* is the validator's job and yields diagnostics
with file and line; these classes only carry it.

Identity rules (DESIGN §3): the ECK iD is the preferred person key where present, otherwise
(source, LAS key); never the e-mail address. A group key is (source, BRIN6, school year, LAS group
key): groups live one school year.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = [
    "BRIN6_RE",
    "Diagnostic",
    "Group",
    "GroupKind",
    "Membership",
    "Person",
    "PersonKind",
    "Provenance",
    "Role",
    "Roster",
    "School",
    "SchoolYear",
    "Severity",
    "SourceInfo",
    "group_key",
    "person_key",
]

BRIN4_RE = re.compile(r"^\d\d[A-Z][A-Z]$")
BRIN6_RE = re.compile(r"^\d\d[A-Z][A-Z]\d\d$")

_V = TypeVar("_V")


class PersonKind(StrEnum):
    """What a person is to the school."""

    STUDENT = "student"
    STAFF = "staff"
    GUARDIAN = "guardian"


class GroupKind(StrEnum):
    """The kinds of group a Dutch LAS knows.

    ``stamgroep`` is the klas/basisgroep (EDEXML ``groep``, one per pupil); ``lesgroep`` is a
    teaching group or cluster (EDEXML ``samengestelde_groep``); ``vak`` and ``jaarlaag`` are
    groupings some sources deliver and some course strategies build.
    """

    SCHOOL = "school"
    STAMGROEP = "stamgroep"
    LESGROEP = "lesgroep"
    VAK = "vak"
    JAARLAAG = "jaarlaag"


class Role(StrEnum):
    """A person's role in a group."""

    STUDENT = "student"
    TEACHER = "teacher"
    MENTOR = "mentor"
    GUARDIAN = "guardian"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an object came from: the source name, and the file and line or the record reference."""

    source: str
    file: str | None = None
    line: int | None = None
    ref: str | None = None

    def __str__(self) -> str:
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        else:
            where = self.ref or ""
        return f"{self.source}: {where}" if where else self.source

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in (("source", self.source), ("file", self.file), ("line", self.line),
                                  ("ref", self.ref)) if v is not None}


@dataclass(frozen=True, slots=True, order=True)
class SchoolYear:
    """A Dutch school year, written ``2025-2026``; by default 1 August – 31 July."""

    start_year: int

    @classmethod
    def parse(cls, text: str) -> SchoolYear:
        """Accept ``2025-2026``, ``2025/2026``, ``2025 / 2026`` (ParnasSys) and ``2526``."""
        cleaned = text.strip().replace(" ", "")
        m = re.fullmatch(r"(\d{4})[-/](\d{4})", cleaned)
        if m:
            first, second = int(m.group(1)), int(m.group(2))
            if second != first + 1:
                raise ValueError(f"school year {text!r}: the second year must follow the first")
            return cls(first)
        m = re.fullmatch(r"(\d{2})(\d{2})", cleaned)
        if m and int(m.group(2)) == (int(m.group(1)) + 1) % 100:
            return cls(2000 + int(m.group(1)))
        raise ValueError(f"school year {text!r} is not of the form 2025-2026")

    @classmethod
    def containing(cls, day: dt.date, *, start_month: int = 8, start_day: int = 1) -> SchoolYear:
        """The school year that ``day`` falls in."""
        if (day.month, day.day) >= (start_month, start_day):
            return cls(day.year)
        return cls(day.year - 1)

    @property
    def start(self) -> dt.date:
        return dt.date(self.start_year, 8, 1)

    @property
    def end(self) -> dt.date:
        return dt.date(self.start_year + 1, 7, 31)

    @property
    def short(self) -> str:
        """``2526`` — the short form itslearning recommends in hierarchy names."""
        return f"{self.start_year % 100:02d}{(self.start_year + 1) % 100:02d}"

    def next(self) -> SchoolYear:
        return SchoolYear(self.start_year + 1)

    def previous(self) -> SchoolYear:
        return SchoolYear(self.start_year - 1)

    def __str__(self) -> str:
        return f"{self.start_year}-{self.start_year + 1}"


@dataclass(frozen=True, slots=True)
class School:
    """A school location: BRIN4 plus two-digit vestiging code, together the BRIN6 (``12AB00``)."""

    brin6: str
    name: str
    provenance: Provenance | None = None

    @property
    def brin4(self) -> str:
        return self.brin6[:4]

    @property
    def vestiging(self) -> str:
        return self.brin6[4:]


def person_key(*, source: str, las_key: str, eckid: str | None = None) -> str:
    """The canonical person key: ``eck:<ECK iD>`` where known, else ``<source>:<LAS key>``.

    Never the e-mail address (not unique in Somtoday, changes in Magister).
    """
    if eckid:
        return f"eck:{eckid}"
    return f"{source}:{las_key}"


def group_key(*, source: str, brin6: str, school_year: SchoolYear | str, las_key: str) -> str:
    """The canonical group key (source, BRIN6, school year, LAS group key): groups live one year."""
    return f"{source}:{brin6}:{school_year}:{las_key}"


@dataclass(frozen=True, slots=True)
class Person:
    """A pupil, staff member or guardian, with names split the Dutch way.

    ``roepnaam`` is the name the person is called by (not the official voornamen);
    ``voorvoegsel`` is the tussenvoegsel ("van der"), kept apart so sorting and itslearning's
    ``Prefix`` name part work; ``achternaam`` is the surname without voorvoegsel.
    """

    key: str
    kind: PersonKind
    source: str
    las_key: str
    roepnaam: str
    voorvoegsel: str
    achternaam: str
    email: str | None = None
    eckid: str | None = None
    leerlingnummer: str | None = None
    docentcode: str | None = None
    las_username: str | None = None
    schools: tuple[str, ...] = ()
    leerjaar: int | None = None
    children: tuple[str, ...] = ()  # for guardians: person keys of their children
    provenance: Provenance | None = None

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.roepnaam, self.voorvoegsel, self.achternaam) if p)

    @property
    def sort_name(self) -> str:
        """``Berg, Jan van der`` — how Dutch administrations sort."""
        tail = " ".join(p for p in (self.roepnaam, self.voorvoegsel) if p)
        return f"{self.achternaam}, {tail}" if tail else self.achternaam


@dataclass(frozen=True, slots=True)
class Group:
    """A group in one school and one school year: klas (stamgroep), lesgroep/cluster, vak, jaarlaag."""

    key: str
    kind: GroupKind
    name: str
    school: str  # BRIN6
    school_year: SchoolYear
    source: str
    las_key: str
    leerjaar: int | None = None
    subject: str | None = None  # vak code, e.g. "nat"
    subject_name: str | None = None  # "natuurkunde"
    onderwijssoort: str | None = None  # "havo", "vwo", "vmbo-t" …
    parent: str | None = None  # group key
    provenance: Provenance | None = None


@dataclass(slots=True)
class Membership:
    """Person × group × role, with an optional start and end date (inclusive).

    Treated as immutable; not ``frozen`` because a frozen dataclass costs three times as much to build,
    and a bestuur's roster holds a million of these."""

    person: str
    group: str
    role: Role
    start: dt.date | None = None
    end: dt.date | None = None
    provenance: Provenance | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.person, self.group, self.role.value)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A data-quality finding: an error or a warning, with the place it was found."""

    severity: Severity
    code: str
    message: str
    source: str | None = None
    file: str | None = None
    line: int | None = None
    field: str | None = None
    object: str | None = None

    @property
    def where(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        return self.object or self.source or ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity.value, "code": self.code, "message": self.message}
        for name in ("source", "file", "line", "field", "object"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def __str__(self) -> str:
        where = self.where
        return f"{self.severity.value}: {where + ': ' if where else ''}{self.message} [{self.code}]"


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Which source delivered what, and when."""

    name: str
    kind: str
    read_at: str | None = None  # ISO timestamp; None in deterministic fixtures
    location: str | None = None
    school_year: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


def _freeze(mapping: Mapping[str, _V]) -> Mapping[str, _V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Roster:
    """One complete, immutable snapshot of a tenant's sources at one moment.

    ``school_year`` is the school year the snapshot describes (the LAS's current year, or the next
    year when read with ``peilschooljaar=VOLGEND``).
    """

    school_year: SchoolYear
    schools: Mapping[str, School]
    persons: Mapping[str, Person]
    groups: Mapping[str, Group]
    memberships: tuple[Membership, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: tuple[SourceInfo, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        school_year: SchoolYear,
        schools: Iterable[School],
        persons: Iterable[Person],
        groups: Iterable[Group],
        memberships: Iterable[Membership],
        diagnostics: Iterable[Diagnostic] = (),
        sources: Iterable[SourceInfo] = (),
    ) -> Roster:
        return cls(
            school_year=school_year,
            schools=_freeze({s.brin6: s for s in schools}),
            persons=_freeze({p.key: p for p in persons}),
            groups=_freeze({g.key: g for g in groups}),
            memberships=tuple(memberships),
            diagnostics=tuple(diagnostics),
            sources=tuple(sources),
        )

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for p in self.persons.values():
            kinds[p.kind.value] = kinds.get(p.kind.value, 0) + 1
        return {
            "schools": len(self.schools),
            "persons": len(self.persons),
            **{f"persons.{k}": v for k, v in sorted(kinds.items())},
            "groups": len(self.groups),
            "memberships": len(self.memberships),
        }

    def with_diagnostics(self, extra: Iterable[Diagnostic]) -> Roster:
        return Roster(
            school_year=self.school_year,
            schools=self.schools,
            persons=self.persons,
            groups=self.groups,
            memberships=self.memberships,
            diagnostics=self.diagnostics + tuple(extra),
            sources=self.sources,
        )
