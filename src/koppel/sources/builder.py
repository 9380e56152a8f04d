"""What every source does on its way to a Roster, once: diagnostics, provenance, persons, the result.

A source reads its own format (files, an API, an XML answer) and maps each record onto the model;
the :class:`RosterBuilder` collects the outcome, the same way for every source:

* **Diagnostics.** A bad record is not an exception but a :class:`Diagnostic` with the source's
  name and, where known, file and line, the field and the object (:meth:`RosterBuilder.report`).
* **Provenance.** Every school, person, group and membership says where it came from: the source
  name and a file and line or a record reference (:meth:`RosterBuilder.provenance`).
* **Persons by key.** A person's key is the ECK iD where there is one, else (source, LAS key)
  (DESIGN §3; LAS keys per school or per source: :meth:`RosterBuilder.las_key`). The same human met
  twice — at two schools, under one ECK iD or one source-wide LAS key — is one person at every
  school (:meth:`RosterBuilder.put_person`, :meth:`RosterBuilder.join_schools`). A *second record*
  claiming a key in one school is another matter: which record wins and how it is reported is the
  format's decision, made before it puts the person.
* **The result.** :meth:`RosterBuilder.build` counts what was read, records the source
  (:class:`SourceInfo`) and freezes the Roster.

:func:`gc_paused` pauses the cyclic garbage collector while a large read builds its objects.

A new source (ParnasSys, ESIS, EduArte …) starts here: it makes one builder per read, maps its
records into it, and calls ``build``. It keeps only what is its own: the format and its mapping.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from koppel.model.roster import (
    Diagnostic,
    Group,
    Membership,
    Person,
    Provenance,
    Roster,
    School,
    SchoolYear,
    Severity,
    SourceInfo,
    person_key,
)

__all__ = ["STAFF_KEY_PREFIX", "RosterBuilder", "gc_paused"]

STAFF_KEY_PREFIX = "mw:"
"""Before a staff member's LAS number in their LAS key: a LAS numbers pupils and staff separately."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a read builds its many small, acyclic objects.

    A large bestuur is a million persons, memberships and model values, all alive until the roster is
    built; the collector would rescan the growing heap over and over for nothing (pausing it roughly
    halves a large read). They are still freed by reference counting. The collector is switched back
    on, as it was, when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class RosterBuilder:
    """Everything one read of one source collects, and the Roster made of it.

    The collections are plain and public, for the loops of the format's mapping to use directly:
    ``schools`` by BRIN6, ``persons`` and ``groups`` by key, ``memberships`` in reading order,
    ``diagnostics`` in finding order, and ``counts``: what the source wants said besides the sizes
    (pupils that left, records of another year …), in the source's record of the read.
    """

    def __init__(self, source: str, *, per_school_keys: bool = False) -> None:
        self.source = source
        self.per_school_keys = per_school_keys
        self.schools: dict[str, School] = {}
        self.persons: dict[str, Person] = {}
        self.groups: dict[str, Group] = {}
        self.memberships: list[Membership] = []
        self.diagnostics: list[Diagnostic] = []
        self.counts: Counter[str] = Counter()

    # -- diagnostics and provenance ------------------------------------------------------------

    def report(
        self,
        severity: Severity,
        code: str,
        message: str,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        object: str | None = None,
    ) -> None:
        """Note a finding of this source, with where it was found."""
        self.diagnostics.append(
            Diagnostic(
                severity, code, message, source=self.source, file=file, line=line, field=field, object=object
            )
        )

    def error(self, code: str, message: str, file: str | None = None, line: int | None = None,
              **where: str | None) -> None:
        """An error (``where``: ``field``, ``object``): the record, or the value, is left out."""
        self.report(Severity.ERROR, code, message, file, line, **where)

    def warning(self, code: str, message: str, file: str | None = None, line: int | None = None,
                **where: str | None) -> None:
        """A warning (``where``: ``field``, ``object``): read, but worth a look."""
        self.report(Severity.WARNING, code, message, file, line, **where)

    def year_mismatch(self, requested: SchoolYear | None, year: SchoolYear, file: str | None = None) -> None:
        """Warn when koppel asked for another school year than the one the data describes."""
        if requested is not None and requested != year:
            self.warning(
                "school-year-mismatch", f"koppel asked for {requested}, but the export describes {year}", file
            )

    def provenance(self, file: str | None = None, line: int | None = None, ref: str | None = None) -> Provenance:
        """Where an object of this source came from: a file and line, or a record reference."""
        return Provenance(self.source, file, line, ref)

    # -- schools and persons -------------------------------------------------------------------

    def add_school(self, brin6: str, name: str, provenance: Provenance | None = None) -> School:
        """The school ``brin6``; made with this name on first mention, kept as it was after."""
        school = self.schools.get(brin6)
        if school is None:
            school = self.schools[brin6] = School(brin6, name, provenance)
        return school

    def las_key(self, school: str, number: str, prefix: str = "") -> str:
        """A person's LAS key: ``<BRIN6>:<prefix><number>`` where LAS numbers are unique within a school
        only (``per_school_keys``), else ``<prefix><number>``."""
        if self.per_school_keys:
            return f"{school}:{prefix}{number}"
        return f"{prefix}{number}"

    def person_key(self, las_key: str, eckid: str | None) -> str:
        """The person key: ``eck:<ECK iD>`` where there is one, else ``<source>:<LAS key>``."""
        return person_key(source=self.source, las_key=las_key, eckid=eckid)

    def put_person(self, person: Person, *, fill_blanks: bool = False) -> str:
        """Add ``person``, or join them with the person already under their key; returns the key.

        The person already there is the same human met again at another school: they stay as first
        read, at the schools of both (and with ``fill_blanks``, their e-mail address, LAS user name
        and leerjaar are taken from this record where the first had none)."""
        known = self.persons.get(person.key)
        if known is None:
            self.persons[person.key] = person
        elif fill_blanks:
            self.persons[person.key] = replace(
                known,
                schools=tuple(dict.fromkeys(known.schools + person.schools)),
                email=known.email or person.email,
                las_username=known.las_username or person.las_username,
                leerjaar=known.leerjaar if known.leerjaar is not None else person.leerjaar,
            )
        else:
            self.join_schools(person.key, person.schools)
        return person.key

    def join_schools(self, key: str, schools: Iterable[str]) -> None:
        """The person under ``key`` is (also) at these schools."""
        known = self.persons[key]
        added = tuple(s for s in dict.fromkeys(schools) if s not in known.schools)
        if added:
            self.persons[key] = replace(known, schools=known.schools + added)

    # -- the result ----------------------------------------------------------------------------

    def build(
        self,
        school_year: SchoolYear,
        *,
        kind: str,
        location: str | None,
        schools: Iterable[School] | None = None,
        persons: Iterable[Person] | None = None,
        groups: Iterable[Group] | None = None,
        memberships: Iterable[Membership] | None = None,
    ) -> Roster:
        """The Roster of this read, with a record of the source (what it read, from where, how much).

        Each of ``schools``, ``persons``, ``groups`` and ``memberships`` replaces the builder's own
        collection when given: for a source that keeps them otherwise while it reads (drafts, or
        keyed by the format's ids) and settles them at the end."""
        schools = list(self.schools.values() if schools is None else schools)
        persons = list(self.persons.values() if persons is None else persons)
        groups = list(self.groups.values() if groups is None else groups)
        memberships = self.memberships if memberships is None else list(memberships)
        counts = {
            "schools": len(schools),
            "persons": len(persons),
            "groups": len(groups),
            "memberships": len(memberships),
            **dict(sorted(self.counts.items())),
        }
        info = SourceInfo(
            name=self.source, kind=kind, location=location, school_year=str(school_year), counts=counts
        )
        return Roster.build(
            school_year=school_year,
            schools=schools,
            persons=persons,
            groups=groups,
            memberships=memberships,
            diagnostics=self.diagnostics,
            sources=(info,),
        )
