"""From Somtoday Connect records to the canonical roster: pure, no I/O, one vestiging at a time.

Decisions (docs/sources/somtoday.md has the tables):

* **Keys.** A leerling or medewerker is unique within the instelling, so its Somtoday ``uuid`` is
  the LAS key and the ECK iD, where delivered, the person key (:func:`person_key`). A person met at
  two vestigingen is one person with both schools. Groups are keyed by (source, BRIN6, school
  year, lesgroep/stamgroep ``uuid``) (:func:`group_key`).
* **One school year.** The roster describes the year asked for. A pupil's plaatsing is the one of
  that year that runs on the reference day (else the first to start, else the last to end); a
  lesgroep whose ``schooljaar`` is another year is left out with a warning.
* **Who is in a group** is the union of what both sides say: ``lesgroep.leerlingen`` and
  ``leerling.lesgroepen``, ``lesgroep.docenten`` and ``medewerker.lesgroepen``, the plaatsing's
  stamgroep and ``stamgroep.leerlingen``. Veldpermissies may hide one side; either suffices.
  Memberships are only made to groups the group endpoints returned for this year (a bare
  reference carries no school year), except the stamgroep of a plaatsing, which is complete.
* **Mentors** assigned to the stamgroep (``EersteMentorStamgroep``, ``TweedeMentorStamgroep``)
  become mentor memberships of that stamgroep. A mentor assigned to one pupil's plaatsing
  (``toewijzing = Plaatsing``) has no group to be mentor of and is not mapped.
* **Staff** whose ``datum_uit_dienst`` lies before the reference day, or whose ``datum_in_dienst``
  lies after the school year, have left or not yet started and are left out (counted, not
  reported: leaving is not a data error).
* **Missing fields** stay empty: a person without achternaam is still that person (validation
  reports the missing name); only a record without ``uuid`` cannot be placed and is left out
  with an error.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from koppel.model.roster import (
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
from koppel.sources.builder import RosterBuilder
from koppel.sources.somtoday.protocol import Endpoint, record_ref
from koppel.sources.somtoday.wire import (
    Leerling,
    Lesgroep,
    Medewerker,
    Mentor,
    Plaatsing,
    RecordProblem,
    Stamgroep,
)

__all__ = ["RosterAssembler", "VestigingRecords", "choose_plaatsing", "school_year_of"]

_STAMGROEP_MENTORS = frozenset({"EersteMentorStamgroep", "TweedeMentorStamgroep"})


@dataclass(frozen=True, slots=True)
class VestigingRecords:
    """What one vestiging delivered, parsed, plus the records that could not be parsed."""

    uuid: str
    brin6: str
    naam: str
    leerlingen: list[Leerling]
    medewerkers: list[Medewerker]
    lesgroepen: list[Lesgroep]
    stamgroepen: list[Stamgroep]
    problems: dict[Endpoint, list[RecordProblem]] = field(default_factory=dict)


def school_year_of(text: str | None) -> SchoolYear | None:
    """Somtoday writes ``2021/2022``; None when absent or unreadable."""
    if not text:
        return None
    try:
        return SchoolYear.parse(text)
    except ValueError:
        return None


def _plaatsing_year(plaatsing: Plaatsing) -> SchoolYear | None:
    year = school_year_of(plaatsing.schooljaar)
    if year is None and plaatsing.startdatum is not None:
        year = SchoolYear.containing(plaatsing.startdatum)
    return year


def choose_plaatsing(
    plaatsingen: Iterable[Plaatsing], year: SchoolYear, reference: dt.date
) -> Plaatsing | None:
    """The plaatsing that places a pupil in ``year`` on ``reference``.

    Of the plaatsingen of that year: the one running on the reference day, else the first one to
    start after it, else the last one to end before it. A plaatsing without schooljaar or dates
    counts only when it is the pupil's only one (veldpermissies may hide the dates).
    """
    all_of_them = list(plaatsingen)
    of_year = [p for p in all_of_them if _plaatsing_year(p) == year]
    if not of_year:
        undated = [p for p in all_of_them if _plaatsing_year(p) is None]
        return undated[0] if len(all_of_them) == 1 and undated else None

    def runs(p: Plaatsing) -> bool:
        return (p.startdatum is None or p.startdatum <= reference) and (
            p.einddatum is None or reference <= p.einddatum
        )

    running = [p for p in of_year if runs(p)]
    if running:
        return max(running, key=lambda p: p.startdatum or dt.date.min)
    upcoming = [p for p in of_year if p.startdatum is not None and p.startdatum > reference]
    if upcoming:
        return min(upcoming, key=lambda p: p.startdatum or dt.date.max)
    return max(of_year, key=lambda p: p.einddatum or dt.date.min)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A membership stated by a record, to be resolved once every vestiging is read."""

    person_uuid: str
    person_kind: PersonKind
    group_uuid: str
    role: Role
    provenance: Provenance
    start: dt.date | None = None
    end: dt.date | None = None


def _report_problems(out: RosterBuilder, records: VestigingRecords) -> None:
    """Report the records of one vestiging that could not be parsed (they are left out)."""
    for endpoint, problems in records.problems.items():
        for problem in problems:
            ref = (
                record_ref(records.uuid, endpoint, problem.uuid)
                if problem.uuid
                else f"/connect/vestiging/{records.uuid}/{endpoint.path}"
            )
            said = "breaks the spec" if problem.code == "bad-record" else "has a value koppel does not accept"
            out.report(
                Severity.ERROR,
                problem.code,
                f"{endpoint.entity} record {problem.index + 1} of {records.naam} {said} "
                f"({problem.reason}); left out",
                field=problem.field,
                object=ref,
            )


class _StatedMemberships:
    """Every membership a record states, resolved once every vestiging is read: a record may name a
    person or group another endpoint (or vestiging) delivers, or none does."""

    def __init__(self, out: RosterBuilder, year: SchoolYear) -> None:
        self.out = out
        self.year = year
        self._stated: list[_Pending] = []

    def add(self, membership: _Pending) -> None:
        self._stated.append(membership)

    def extend(self, memberships: Iterable[_Pending]) -> None:
        self._stated.extend(memberships)

    def resolve(self, leerlingen: Mapping[str, str], medewerkers: Mapping[str, str],
                groups: Mapping[str, str]) -> list[Membership]:
        """Every stated membership whose person and group were delivered (uuid → key in ``leerlingen``,
        ``medewerkers`` and ``groups``): the same (person, group, role) once, with dates where known.
        What refers to a person or group that was not delivered is reported, counted."""
        found: dict[tuple[str, str, Role], Membership] = {}
        unknown_persons: Counter[tuple[str, PersonKind]] = Counter()
        unknown_groups: Counter[str] = Counter()
        for p in self._stated:
            keys = leerlingen if p.person_kind is PersonKind.STUDENT else medewerkers
            person = keys.get(p.person_uuid)
            group = groups.get(p.group_uuid)
            if group is None:
                unknown_groups[p.group_uuid] += 1
                continue
            if person is None:
                unknown_persons[(group, p.person_kind)] += 1
                continue
            membership_key = (person, group, p.role)
            known = found.get(membership_key)
            if known is None or (known.start is None and known.end is None and (p.start or p.end)):
                found[membership_key] = Membership(person, group, p.role, p.start, p.end, p.provenance)
        self._report_unknown(unknown_persons, unknown_groups)
        return list(found.values())

    def _report_unknown(self, persons: Counter[tuple[str, PersonKind]], groups: Counter[str]) -> None:
        """Per group, how many of its members were not delivered; in all, memberships of groups that were not."""
        for (group, kind), count in sorted(persons.items()):
            what = "leerlingen" if kind is PersonKind.STUDENT else "medewerkers"
            endpoint = "leerling" if kind is PersonKind.STUDENT else "medewerker"
            target = self.out.groups[group]
            self.out.report(
                Severity.WARNING,
                f"unknown-{endpoint}",
                f"{target.name}: {count} of its {what} were not returned by /{endpoint} (breedtepermissies, "
                "or left the school); their memberships are left out",
                object=target.provenance.ref if target.provenance else None,
            )
        if groups:
            listed = ", ".join(sorted(groups)[:5]) + (" …" if len(groups) > 5 else "")
            self.out.report(
                Severity.WARNING,
                "unknown-group",
                f"{sum(groups.values())} membership(s) refer to {len(groups)} lesgroep(en) that /lesgroep/ "
                f"did not return for {self.year} ({listed}); left out",
            )


class RosterAssembler:
    """Maps the records of every vestiging of one read into one :class:`RosterBuilder` (``out``)."""

    def __init__(self, source: str, year: SchoolYear, reference: dt.date) -> None:
        self.source = source
        self.year = year
        self.reference = reference
        self.out = RosterBuilder(source)  # LAS keys are uuids, unique within the instelling
        self.group_by_uuid: dict[str, str] = {}  # lesgroep/stamgroep uuid -> group key
        self.leerling_keys: dict[str, str] = {}  # uuid -> person key
        self.medewerker_keys: dict[str, str] = {}
        self.stated = _StatedMemberships(self.out, year)  # resolved in roster()

    def _report(
        self, severity: Severity, code: str, message: str, ref: str | None, field: str | None = None
    ) -> None:
        self.out.report(severity, code, message, field=field, object=ref)

    # -- one vestiging ------------------------------------------------------------------------

    def add(self, records: VestigingRecords) -> None:
        """Take in everything one vestiging delivered."""
        self.out.add_school(
            records.brin6, records.naam, self.out.provenance(ref=f"/connect/vestiging/{records.uuid}")
        )
        _report_problems(self.out, records)
        for medewerker in records.medewerkers:
            self._medewerker(records, medewerker)
        for lesgroep in records.lesgroepen:
            self._lesgroep(records, lesgroep)
        for stamgroep in records.stamgroepen:
            self._stamgroep(records, stamgroep)
        for leerling in records.leerlingen:
            self._leerling(records, leerling)

    def _without_uuid(self, records: VestigingRecords, endpoint: Endpoint, name: str | None) -> None:
        what = f"{endpoint.entity} {name!r}" if name else f"a {endpoint.entity}"
        self._report(
            Severity.ERROR,
            "missing-uuid",
            f"{what} of {records.naam} has no uuid (hidden by veldpermissies?) and cannot be keyed; left out",
            f"/connect/vestiging/{records.uuid}/{endpoint.path}",
            field="uuid",
        )

    def _medewerker(self, records: VestigingRecords, m: Medewerker) -> None:
        if not m.uuid:
            self._without_uuid(records, Endpoint.MEDEWERKER, m.afkorting or m.achternaam)
            return
        if m.datum_uit_dienst is not None and m.datum_uit_dienst < self.reference:
            self.out.counts["medewerkers.uit_dienst"] += 1
            return
        if m.datum_in_dienst is not None and m.datum_in_dienst > self.year.end:
            self.out.counts["medewerkers.nog_niet_in_dienst"] += 1
            return
        ref = record_ref(records.uuid, Endpoint.MEDEWERKER, m.uuid)
        provenance = self.out.provenance(ref=ref)
        key = self.out.put_person(  # one ECK iD at two vestigingen: one person, both schools
            Person(
                key=self.out.person_key(m.uuid, m.eckid),
                kind=PersonKind.STAFF,
                source=self.source,
                las_key=m.uuid,
                roepnaam=m.roepnaam or m.voorletters or "",
                voorvoegsel=m.voorvoegsel or "",
                achternaam=m.achternaam or "",
                email=m.emailadres,
                eckid=m.eckid,
                docentcode=m.afkorting,
                las_username=m.gebruikersnaam,
                schools=(records.brin6,),
                provenance=provenance,
            )
        )
        self.medewerker_keys[m.uuid] = key
        self.stated.extend(
            _Pending(m.uuid, PersonKind.STAFF, ref_.uuid, Role.TEACHER, provenance)
            for ref_ in m.lesgroepen
            if ref_.uuid
        )

    def _group(
        self,
        records: VestigingRecords,
        kind: GroupKind,
        uuid: str,
        endpoint: Endpoint,
        naam: str | None,
        *,
        leerjaar: int | None,
        onderwijssoort: str | None,
        subject: str | None = None,
        subject_name: str | None = None,
    ) -> str:
        """The key of the group with this uuid, made on first mention (from its endpoint or a plaatsing)."""
        key = self.group_by_uuid.get(uuid)
        if key is not None:
            return key
        key = group_key(source=self.source, brin6=records.brin6, school_year=self.year, las_key=uuid)
        ref = record_ref(records.uuid, endpoint, uuid)
        if not naam:
            self._report(
                Severity.WARNING,
                "missing-name",
                f"{endpoint.entity} {uuid} has no naam; its uuid is used",
                ref,
                field="naam",
            )
        self.out.groups[key] = Group(
            key=key,
            kind=kind,
            name=naam or uuid,
            school=records.brin6,
            school_year=self.year,
            source=self.source,
            las_key=uuid,
            leerjaar=leerjaar,
            subject=subject,
            subject_name=subject_name,
            onderwijssoort=onderwijssoort,
            provenance=self.out.provenance(ref=ref),
        )
        self.group_by_uuid[uuid] = key
        return key

    def _lesgroep(self, records: VestigingRecords, g: Lesgroep) -> None:
        if not g.uuid:
            self._without_uuid(records, Endpoint.LESGROEP, g.naam)
            return
        year = school_year_of(g.schooljaar)
        if year is not None and year != self.year:
            self.out.counts["lesgroepen.ander_schooljaar"] += 1
            self._report(
                Severity.WARNING,
                "other-school-year",
                f"lesgroep {g.naam or g.uuid} is of {year}, not {self.year}; left out",
                record_ref(records.uuid, Endpoint.LESGROEP, g.uuid),
                field="schooljaar",
            )
            return
        self._group(
            records,
            GroupKind.LESGROEP,
            g.uuid,
            Endpoint.LESGROEP,
            g.naam,
            leerjaar=g.leerjaar,
            subject=g.vak,
            subject_name=g.vaknaam,
            onderwijssoort=g.onderwijssoort,
        )
        provenance = self.out.provenance(ref=record_ref(records.uuid, Endpoint.LESGROEP, g.uuid))
        self.stated.extend(
            _Pending(ll.uuid, PersonKind.STUDENT, g.uuid, Role.STUDENT, provenance)
            for ll in g.leerlingen
            if ll.uuid
        )
        self.stated.extend(
            _Pending(d, PersonKind.STAFF, g.uuid, Role.TEACHER, provenance) for d in g.docenten if d
        )

    def _stamgroep(self, records: VestigingRecords, s: Stamgroep) -> None:
        if not s.uuid:
            self._without_uuid(records, Endpoint.STAMGROEP, s.naam)
            return
        self._group(
            records,
            GroupKind.STAMGROEP,
            s.uuid,
            Endpoint.STAMGROEP,
            s.naam,
            leerjaar=s.leerjaar,
            onderwijssoort=s.onderwijssoort,
        )
        provenance = self.out.provenance(ref=record_ref(records.uuid, Endpoint.STAMGROEP, s.uuid))
        self.stated.extend(
            _Pending(ll.uuid, PersonKind.STUDENT, s.uuid, Role.STUDENT, provenance)
            for ll in s.leerlingen
            if ll.uuid
        )
        self._mentors(s.mentoren, s.uuid, provenance)

    def _mentors(self, mentors: Iterable[Mentor], stamgroep: str, provenance: Provenance) -> None:
        for mentor in mentors:
            if not mentor.medewerker_uuid:
                continue
            if mentor.toewijzing is None or mentor.toewijzing in _STAMGROEP_MENTORS:
                self.stated.add(
                    _Pending(mentor.medewerker_uuid, PersonKind.STAFF, stamgroep, Role.MENTOR, provenance)
                )
            else:
                self.out.counts["mentoren.per_plaatsing"] += 1

    def _leerling(self, records: VestigingRecords, ll: Leerling) -> None:
        if not ll.uuid:
            self._without_uuid(records, Endpoint.LEERLING, ll.achternaam)
            return
        ref = record_ref(records.uuid, Endpoint.LEERLING, ll.uuid)
        provenance = self.out.provenance(ref=ref)
        plaatsing = choose_plaatsing(ll.plaatsingen, self.year, self.reference)
        roepnaam = ll.roepnaam or (ll.voornamen.split()[0] if ll.voornamen else "")
        key = self.out.put_person(
            Person(
                key=self.out.person_key(ll.uuid, ll.eckid),
                kind=PersonKind.STUDENT,
                source=self.source,
                las_key=ll.uuid,
                roepnaam=roepnaam,
                voorvoegsel=ll.voorvoegsel or "",
                achternaam=ll.achternaam or "",
                email=ll.emailadres,
                eckid=ll.eckid,
                leerlingnummer=str(ll.leerlingnummer) if ll.leerlingnummer is not None else None,
                las_username=ll.gebruikersnaam,
                schools=(records.brin6,),
                leerjaar=plaatsing.leerjaar if plaatsing else None,
                provenance=provenance,
            )
        )
        self.leerling_keys[ll.uuid] = key
        if plaatsing is not None and plaatsing.stamgroep is not None and plaatsing.stamgroep.uuid:
            self._plaatsing_stamgroep(records, ll.uuid, plaatsing, plaatsing.stamgroep, provenance)
        self.stated.extend(
            _Pending(ll.uuid, PersonKind.STUDENT, ref_.uuid, Role.STUDENT, provenance)
            for ref_ in ll.lesgroepen
            if ref_.uuid
        )

    def _plaatsing_stamgroep(
        self,
        records: VestigingRecords,
        leerling: str,
        plaatsing: Plaatsing,
        stamgroep: Stamgroep,
        provenance: Provenance,
    ) -> None:
        assert stamgroep.uuid is not None
        self._group(
            records,
            GroupKind.STAMGROEP,
            stamgroep.uuid,
            Endpoint.STAMGROEP,
            stamgroep.naam,
            leerjaar=stamgroep.leerjaar or plaatsing.leerjaar,
            onderwijssoort=stamgroep.onderwijssoort,
        )
        self.stated.add(
            _Pending(
                leerling,
                PersonKind.STUDENT,
                stamgroep.uuid,
                Role.STUDENT,
                provenance,
                plaatsing.startdatum,
                plaatsing.einddatum,
            )
        )
        self._mentors(plaatsing.mentoren, stamgroep.uuid, provenance)

    # -- the roster ---------------------------------------------------------------------------

    def roster(self, *, location: str) -> Roster:
        memberships = self.stated.resolve(self.leerling_keys, self.medewerker_keys, self.group_by_uuid)
        return self.out.build(self.year, kind="somtoday", location=location, memberships=memberships)
