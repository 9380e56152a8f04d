"""EDEXML leerlinggegevens → koppel's Roster: the one mapping shared by EDEXML files and UWLR answers.

Pure: values in (:class:`~.model.EdexDocument` per school, the options, the school year), a Roster
out. The decisions, documented in docs/sources/edexml.md and docs/sources/uwlr.md:

* **School.** BRIN6 = ``brincode`` + ``dependancecode`` (absent means ``00``: "De inhoud 00
  betekent hetzelfde als leeg"). EDEXML gives a school no name; it is the configured name, else the
  ``naam`` of the only ``vestiging``, else the BRIN6 itself. A document naming its school by
  ``instellingsnummer`` (the Flemish variant) or by ``schoolkey`` alone is refused: koppel keys
  schools by Dutch BRIN6.
* **Groups.** ``groep`` → stamgroep, ``samengestelde_groep`` → lesgroep, keyed
  ``group_key(source, BRIN6, school year, @key)``. ``jaargroep`` 11–16 (VO leerjaar 1–6) → leerjaar
  1–6; PO jaargroepen 0–8 are kept as they are (groep 3 is leerjaar 3); ``S``, ``V``, ``C``, ``N``,
  ``H``, ``B`` and ``D`` carry no leerjaar.
* **Pupils.** leerling → student, member of their ``groep`` and every ``samengestelde_groep``; the
  ECK iD is the person key where present (UWLR 2.3), else (source, LAS ``@key``). The LAS key is
  also the leerlingnummer. A pupil whose ``uitstroomdatum`` lies before the peildatum (else the
  aanmaakdatum) has left and is not read.
* **Staff.** leerkracht → staff, teacher of every group in their ``groepen``; EDEXML ``rol`` codes
  (per group, else the leerkracht's own) may be mapped to mentor or left out by configuration. The
  LAS key is also the docentcode.

Keys of the LAS are meaningful within one school unless configured otherwise (``KeyScope``): the
LAS key of a person is then ``<BRIN6>:<@key>`` (staff ``<BRIN6>:mw:<@key>``, since leerling and
leerkracht keys are separate key spaces in EDEXML), the same form the CSV source uses. One human in
two schools' documents with one ECK iD (or, with ``KeyScope.SOURCE``, one key) is one person.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from koppel.model.roster import (
    BRIN6_RE,
    Group,
    GroupKind,
    Membership,
    Person,
    PersonKind,
    Provenance,
    Role,
    Roster,
    SchoolYear,
    Severity,
    group_key,
)
from koppel.sources.builder import STAFF_KEY_PREFIX, RosterBuilder, gc_paused
from koppel.sources.edexml.model import (
    EDEXML_ROLLEN,
    EdexDocument,
    Groep,
    Leerkracht,
    Leerling,
    SchoolBlok,
)
from koppel.sources.edexml.parse import EdexmlStructureError

__all__ = [
    "DIAGNOSTIC_CODES",
    "JAARGROEPEN",
    "KeyScope",
    "MappingOptions",
    "Origin",
    "RoleChoice",
    "RosterAssembler",
    "document_school_year",
    "gc_paused",  # the shared one (koppel.sources.builder), still importable from here
    "leerjaar_of",
    "school_brin6",
]

JAARGROEPEN: dict[str, int | None] = {
    **{str(n): n for n in range(9)},  # PO: peutergroep 0, groep 1 … groep 8, kept as they are
    **{str(10 + n): n for n in range(1, 7)},  # "Voortgezet onderwijs leerjaar 1" … 6
    **{code: None for code in ("B", "D", "S", "V", "C", "N", "H")},
}
"""``EDEXJaargroepType`` → leerjaar; S(B)O, VSO, combinatiegroep, niet PO/VO, historisch, B, D: none."""

DIAGNOSTIC_CODES: dict[str, tuple[Severity, str]] = {
    "missing-value": (Severity.ERROR, "element without its required key; left out"),
    "field-too-long": (
        Severity.ERROR,
        "value longer than koppel accepts for its kind; the element is left out",
    ),
    "bad-character": (Severity.ERROR, "value with a NUL, control or bidi character; the element is left out"),
    "duplicate-id": (Severity.ERROR, "the same key twice in one school; the later element is left out"),
    "duplicate-person": (Severity.ERROR, "two persons with one ECK iD in one school; the later is left out"),
    "unknown-group-ref": (Severity.WARNING, "reference to a groep that is not in <groepen>; left out"),
    "unknown-jaargroep": (Severity.WARNING, "jaargroep that EDEXML does not define; no leerjaar"),
    "unknown-rol": (Severity.WARNING, "leerkracht rol that EDEXML does not define; read as teacher"),
    "unnamed-group": (Severity.WARNING, "groep without naam; its key is used as name"),
    "pupil-left": (Severity.WARNING, "leerling whose uitstroomdatum lies before the peildatum; left out"),
}
"""The diagnostics this mapping reports: code → (severity, what it means)."""

_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


class KeyScope(StrEnum):
    """How far a LAS ``@key`` is unique: within one school (the default), or across the whole source."""

    SCHOOL = "school"
    SOURCE = "source"


class RoleChoice(StrEnum):
    """What a leerkracht's EDEXML ``rol`` makes them in a group."""

    TEACHER = "teacher"
    MENTOR = "mentor"
    SKIP = "skip"


@dataclass(frozen=True)
class MappingOptions:
    """How one source maps EDEXML: its name, key scope and ``rol`` code choices (default: teacher)."""

    source: str
    key_scope: KeyScope = KeyScope.SCHOOL
    rollen: Mapping[str, RoleChoice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_scope", KeyScope(self.key_scope))
        object.__setattr__(
            self, "rollen", {code.strip().upper(): RoleChoice(choice) for code, choice in self.rollen.items()}
        )


@dataclass(frozen=True)
class Origin:
    """Where one document came from: its school, and the file (for files) or nothing (a UWLR answer)."""

    brin6: str
    file: str | None = None
    school_name: str | None = None


# -- school and year -----------------------------------------------------------------------------


def school_brin6(school: SchoolBlok) -> str:
    """The BRIN6 the ``school`` block names, or EdexmlStructureError saying why there is none."""
    if school.brincode is None:
        if school.instellingsnummer is not None:
            raise EdexmlStructureError(
                "this is the Flemish variant of EDEXML "
                f"(instellingsnummer {school.instellingsnummer}, no brincode); "
                "koppel identifies schools by their Dutch BRIN and does not read Flemish exports"
            )
        raise EdexmlStructureError(
            "the <school> block names no brincode (only a schoolkey, or nothing); "
            "koppel needs the BRIN to know which school this is"
        )
    brincode = school.brincode.upper()
    dependance = school.dependancecode or "00"
    brin6 = f"{brincode}{dependance}"
    if not BRIN6_RE.match(brin6):
        raise EdexmlStructureError(
            f"brincode {school.brincode!r} with dependancecode {school.dependancecode!r} "
            "is not a BRIN (two digits, two capitals: 99ZZ; dependancecode two digits)"
        )
    return brin6


def document_school_year(school: SchoolBlok) -> SchoolYear | None:
    """The ``schooljaar`` of the block (any ``YYYY-YYYY``: the schema's enumeration is stale), or None."""
    if school.schooljaar is None:
        return None
    try:
        return SchoolYear.parse(school.schooljaar)
    except ValueError:
        raise EdexmlStructureError(f"schooljaar {school.schooljaar!r} is not of the form 2025-2026") from None


def leerjaar_of(jaargroep: str | None) -> int | None:
    """``jaargroep`` → leerjaar: 11–16 → 1–6, 0–8 as they are, other codes (and unknown ones) → None."""
    if jaargroep is None:
        return None
    return JAARGROEPEN.get(jaargroep.strip().upper())


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    match = _DATE_RE.match(text)
    if match is None:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _peildatum(school: SchoolBlok, year: SchoolYear) -> dt.date:
    """The day the document describes: its ``peildatum``, else the day it was made (``aanmaakdatum``), else
    the first day of its school year."""
    return _date(school.peildatum) or _date(school.aanmaakdatum) or year.start


# -- assembling ----------------------------------------------------------------------------------


@dataclass
class _DocumentScope:
    """What one document has seen so far: keys for duplicate checks, its groups by LAS key."""

    origin: Origin
    ref_prefix: str
    groups: dict[str, Group] = field(default_factory=dict)
    leerling_keys: dict[str, int | None] = field(default_factory=dict)
    leerkracht_keys: dict[str, int | None] = field(default_factory=dict)
    person_keys: set[str] = field(default_factory=set)


class RosterAssembler:
    """Maps one or more schools' documents of one school year into one :class:`RosterBuilder` (``out``)."""

    def __init__(self, options: MappingOptions, school_year: SchoolYear) -> None:
        self.options = options
        self.school_year = school_year
        self.out = RosterBuilder(options.source, per_school_keys=options.key_scope is KeyScope.SCHOOL)
        self._reported_rollen: set[str] = set()

    # -- diagnostics and provenance ------------------------------------------------------------

    def _report(
        self,
        scope: _DocumentScope,
        code: str,
        message: str,
        line: int | None,
        ref: str | None,
        field: str | None = None,
    ) -> None:
        severity = DIAGNOSTIC_CODES[code][0]
        file = scope.origin.file
        line = line if file else None
        self.out.report(severity, code, f"{scope.origin.brin6}: {message}", file, line, field, ref)

    def _provenance(self, scope: _DocumentScope, line: int | None, ref: str) -> Provenance:
        file = scope.origin.file
        return self.out.provenance(file, line if file else None, ref)

    # -- documents -----------------------------------------------------------------------------

    def add(self, document: EdexDocument, origin: Origin) -> int:
        """Map one school's document; returns how many pupils it contributed (0 means: unusable)."""
        if origin.brin6 in self.out.schools:
            raise EdexmlStructureError(f"school {origin.brin6} is delivered twice")
        scope = _DocumentScope(origin, f"{origin.brin6}/")
        self.out.add_school(
            origin.brin6,
            self._school_name(document, origin),
            self._provenance(scope, document.school.line, f"{origin.brin6}/school"),
        )
        for problem in document.problems:
            ref = f"{scope.ref_prefix}{problem.ref}" if problem.ref else None
            self._report(scope, problem.code, problem.message, problem.line, ref, problem.field)
        for groep in document.groepen:
            self._add_group(scope, groep)
        peildatum = _peildatum(document.school, self.school_year)
        pupils = sum(self._add_leerling(scope, leerling, peildatum) for leerling in document.leerlingen)
        for leerkracht in document.leerkrachten:
            self._add_leerkracht(scope, leerkracht)
        return pupils

    @staticmethod
    def _school_name(document: EdexDocument, origin: Origin) -> str:
        if origin.school_name:
            return origin.school_name
        named = [v.naam for v in document.vestigingen if v.naam]
        return named[0] if len(named) == 1 and len(document.vestigingen) == 1 else origin.brin6

    def _add_group(self, scope: _DocumentScope, groep: Groep) -> None:
        element = "samengestelde_groep" if groep.samengesteld else "groep"
        ref = f"{scope.ref_prefix}groepen/{element}[@key='{groep.key}']"
        if groep.key in scope.groups:
            self._report(
                scope,
                "duplicate-id",
                f"{element} key {groep.key!r} is used twice; the later one is left out",
                groep.line,
                ref,
            )
            return
        name = groep.naam
        if name is None:
            self._report(
                scope,
                "unnamed-group",
                f"{element} {groep.key!r} has no naam; its key is used",
                groep.line,
                ref,
            )
            name = groep.key
        leerjaar = None
        if not groep.samengesteld:
            leerjaar = self._leerjaar(scope, groep.jaargroep, groep.line, ref)
        brin6 = scope.origin.brin6
        key = group_key(
            source=self.options.source, brin6=brin6, school_year=self.school_year, las_key=groep.key
        )
        group = Group(
            key=key,
            kind=GroupKind.LESGROEP if groep.samengesteld else GroupKind.STAMGROEP,
            name=name,
            school=brin6,
            school_year=self.school_year,
            source=self.options.source,
            las_key=groep.key,
            leerjaar=leerjaar,
            provenance=self._provenance(scope, groep.line, ref),
        )
        scope.groups[groep.key] = group
        self.out.groups[key] = group

    def _leerjaar(
        self, scope: _DocumentScope, jaargroep: str | None, line: int | None, ref: str
    ) -> int | None:
        if jaargroep is not None and jaargroep.strip().upper() not in JAARGROEPEN:
            self._report(
                scope, "unknown-jaargroep", f"jaargroep {jaargroep!r} is not an EDEXML jaargroep", line, ref
            )
        return leerjaar_of(jaargroep)

    # -- persons -------------------------------------------------------------------------------

    def _claim(
        self,
        scope: _DocumentScope,
        seen: dict[str, int | None],
        element: str,
        key: str,
        eckid: str | None,
        line: int | None,
        ref: str,
    ) -> str | None:
        """The person key for this element, or None (reported) when the document already had it."""
        if key in seen:
            self._report(
                scope,
                "duplicate-id",
                f"{element} key {key!r} is also on line {seen[key]}; the later one is left out",
                line,
                ref,
            )
            return None
        seen[key] = line
        prefix = STAFF_KEY_PREFIX if element == "leerkracht" else ""
        pkey = self.out.person_key(self.out.las_key(scope.origin.brin6, key, prefix), eckid)
        if pkey in scope.person_keys:
            self._report(
                scope,
                "duplicate-person",
                f"{element} {key!r} has the ECK iD of an earlier {element}; left out",
                line,
                ref,
            )
            return None
        scope.person_keys.add(pkey)
        return pkey

    def _member(
        self,
        scope: _DocumentScope,
        person: str,
        who: str,
        group_las_key: str,
        role: Role,
        seen: set[tuple[str, Role]],
        line: int | None,
        provenance: Provenance,
    ) -> None:
        """Add ``person`` to the group. ``seen`` holds the memberships of the element read so far, and
        ``provenance`` is that element's."""
        group = scope.groups.get(group_las_key)
        if group is None:
            self._report(
                scope,
                "unknown-group-ref",
                f"{who} refers to groep {group_las_key!r}, which is not in <groepen>; left out",
                line,
                provenance.ref,
            )
            return
        if (group.key, role) in seen:
            return
        seen.add((group.key, role))
        self.out.memberships.append(Membership(person, group.key, role, None, None, provenance))

    def _add_leerling(self, scope: _DocumentScope, leerling: Leerling, peildatum: dt.date) -> int:
        ref = f"{scope.ref_prefix}leerlingen/leerling[@key='{leerling.key}']"
        left = _date(leerling.uitstroomdatum)
        if left is not None and left < peildatum:
            self._report(
                scope,
                "pupil-left",
                f"leerling {leerling.key!r} left on {left} (before {peildatum}); left out",
                leerling.line,
                ref,
            )
            return 0
        pkey = self._claim(
            scope, scope.leerling_keys, "leerling", leerling.key, leerling.eckid, leerling.line, ref
        )
        if pkey is None:
            return 0
        leerjaar = self._leerjaar(scope, leerling.jaargroep, leerling.line, ref)
        stamgroep = scope.groups.get(leerling.groep.key) if leerling.groep else None
        if leerjaar is None and stamgroep is not None:
            leerjaar = stamgroep.leerjaar
        provenance = self._provenance(scope, leerling.line, ref)
        self.out.put_person(  # one ECK iD (or source-wide key) in two schools' documents: one person
            Person(
                key=pkey,
                kind=PersonKind.STUDENT,
                source=self.options.source,
                las_key=self.out.las_key(scope.origin.brin6, leerling.key),
                roepnaam=_roepnaam(leerling),
                voorvoegsel=leerling.voorvoegsel or "",
                achternaam=leerling.achternaam or "",
                email=leerling.emailadres,
                eckid=leerling.eckid,
                leerlingnummer=leerling.key,
                las_username=leerling.gebruikersnaam,
                schools=(scope.origin.brin6,),
                leerjaar=leerjaar,
                provenance=provenance,
            ),
            fill_blanks=True,
        )
        who = f"leerling {leerling.key!r}"
        seen: set[tuple[str, Role]] = set()
        refs = (
            (leerling.groep, *leerling.samengestelde_groepen)
            if leerling.groep
            else leerling.samengestelde_groepen
        )
        for group_ref in refs:
            self._member(scope, pkey, who, group_ref.key, Role.STUDENT, seen, group_ref.line, provenance)
        return 1

    def _add_leerkracht(self, scope: _DocumentScope, leerkracht: Leerkracht) -> None:
        ref = f"{scope.ref_prefix}leerkrachten/leerkracht[@key='{leerkracht.key}']"
        pkey = self._claim(
            scope, scope.leerkracht_keys, "leerkracht", leerkracht.key, leerkracht.eckid, leerkracht.line, ref
        )
        if pkey is None:
            return
        provenance = self._provenance(scope, leerkracht.line, ref)
        self.out.put_person(
            Person(
                key=pkey,
                kind=PersonKind.STAFF,
                source=self.options.source,
                las_key=self.out.las_key(scope.origin.brin6, leerkracht.key, STAFF_KEY_PREFIX),
                roepnaam=_roepnaam(leerkracht),
                voorvoegsel=leerkracht.voorvoegsel or "",
                achternaam=leerkracht.achternaam or "",
                email=leerkracht.emailadres,
                eckid=leerkracht.eckid,
                docentcode=leerkracht.key,
                las_username=leerkracht.gebruikersnaam,
                schools=(scope.origin.brin6,),
                provenance=provenance,
            ),
            fill_blanks=True,
        )
        who = f"leerkracht {leerkracht.key!r}"
        seen: set[tuple[str, Role]] = set()
        for koppeling in leerkracht.groepen:
            for role in self._roles(scope, koppeling.rollen or leerkracht.rollen, koppeling.line, ref):
                self._member(scope, pkey, who, koppeling.key, role, seen, koppeling.line, provenance)

    def _roles(
        self, scope: _DocumentScope, rollen: tuple[str, ...], line: int | None, ref: str
    ) -> list[Role]:
        """The koppel roles of one group link: teacher without rollen; else each rol as configured."""
        if not rollen:
            return [Role.TEACHER]
        roles: list[Role] = []
        for rol in rollen:
            code = rol.upper()
            choice = self.options.rollen.get(code)
            if choice is None:
                if code not in EDEXML_ROLLEN and code not in self._reported_rollen:
                    self._reported_rollen.add(code)
                    self._report(
                        scope, "unknown-rol", f"rol {rol!r} is not an EDEXML rol; read as teacher", line, ref
                    )
                choice = RoleChoice.TEACHER
            if choice is not RoleChoice.SKIP and Role(choice.value) not in roles:
                roles.append(Role(choice.value))
        return roles

    # -- result --------------------------------------------------------------------------------

    def last_problems(self, count: int = 3) -> str:
        """The last few diagnostics as one line, for the message of an error that stops the read."""
        diagnostics = self.out.diagnostics
        if not diagnostics:
            return "no <leerling> elements"
        shown = "; ".join(d.message for d in diagnostics[-count:])
        more = len(diagnostics) - count
        return f"{shown}; and {more} more" if more > 0 else shown

    def build(self, *, kind: str, location: str | None) -> Roster:
        return self.out.build(self.school_year, kind=kind, location=location)


def _roepnaam(person: Leerling | Leerkracht) -> str:
    """``roepnaam``; without one, the first of the ``voornamen`` (inference: what most are called)."""
    if person.roepnaam:
        return person.roepnaam
    if person.voornamen:
        return person.voornamen.split()[0]
    return ""
