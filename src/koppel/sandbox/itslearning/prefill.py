"""Fill a sandbox site the way another koppeling (or an IMS-E file import) would have: for takeover tests,
the takeover bench and trying `koppel takeover` out.

Most schools that switch to koppel have a full itslearning already. This writes such a site straight into
the sandbox's store — as the previous integration's IMS ES requests would have left it — from a generated
school (:mod:`koppel.generator`), under one of these sync-id schemes:

``educonnector``
    ``EC_{brin}_{leerlingnummer}``, ``EC_{brin}_{docentcode}``; school ``EC_{brin}`` › folder
    ``EC_{brin}_{jaar}`` ("Schooljaar 2025-2026") › klassen ``EC_{brin}_{klas}_{jaar}`` and courses
    ``EC_{brin}_{lesgroep}_{jaar}`` with the lesgroep as course code. (No public material documents
    EduConnector's ids; this is an illustration of a LAS-number scheme, which is why koppel's templates are
    configurable.)
``guid``
    UMRA/HelloID-like: every object a GUID (deterministic here), klassen and courses straight under the
    school, courses coded ``{lesgroep} {2526}``.
``ims-e``
    An IMS Enterprise 1.1 file import: the LAS's own numbers (``{leerlingnummer}``, ``{docentcode}``,
    ``{brin6}-{groep}``).

User names are the LAS logins (leerlingnummer, docentcode), e-mail the LAS's. On top, as a real site has
them (each can be switched off with :class:`Extras`):

* accounts made by hand, without sync key: an administrator no LAS knows, and one teacher's own account;
* a test account holding the user name koppel's rules would give a pupil the old koppeling never made an
  account for (that pupil is left out of the site);
* one course without a course code;
* pupils who left the school: accounts, school and course memberships, no longer in the LAS.

It writes through the sandbox's own :class:`~koppel.sandbox.itslearning.store.Store` and knows nothing of
koppel's itslearning connector (DESIGN §8). Run it before the sandbox starts on the same database::

    python -m koppel.sandbox.itslearning.prefill --db its.db --scheme educonnector --students 1200
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from koppel.generator import Bestuur, generate
from koppel.generator.model import Lesgroep, Pupil, Teacher
from koppel.model.roster import SchoolYear

from .model import GroupType, Origin, Profile, RoleType
from .site import now_iso
from .store import Store

__all__ = ["Extras", "PrefillReport", "Scheme", "prefill"]

_NAMESPACE = uuid.UUID("3b8c2f4e-6a1d-4f0e-9b7a-52c1d9e0a6f3")


class Scheme(StrEnum):
    EDUCONNECTOR = "educonnector"
    GUID = "guid"
    IMS_E = "ims-e"


@dataclass(frozen=True)
class Extras:
    """What a real site has besides the previous koppeling's own objects."""

    manual_accounts: bool = True
    collision: bool = True
    course_without_code: bool = True
    leavers: int = 3


@dataclass
class PrefillReport:
    scheme: str
    persons: int = 0
    groups: int = 0
    courses: int = 0
    memberships: int = 0
    manual: list[str] = field(default_factory=list)  # user names of accounts made by hand
    adoptable_manual: str | None = None  # the LAS teacher whose own account was made by hand (user name)
    leavers: list[str] = field(default_factory=list)  # sync keys of pupils no longer in the LAS
    missing_pupil: str | None = None  # stamnr of the pupil the old koppeling never made an account for
    collision: str | None = None  # the user name a test account holds (the missing pupil's)
    course_without_code: str | None = None  # its sync id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Ids:
    """The sync ids of one scheme."""

    def __init__(self, scheme: Scheme, year: SchoolYear):
        self.scheme = scheme
        self.year = year

    def _guid(self, *parts: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join(parts))).upper()

    def school(self, brin6: str) -> str:
        return {Scheme.EDUCONNECTOR: f"EC_{brin6[:4]}", Scheme.GUID: self._guid("school", brin6),
                Scheme.IMS_E: brin6}[self.scheme]

    def year_folder(self, brin6: str) -> str | None:
        return {Scheme.EDUCONNECTOR: f"EC_{brin6[:4]}_{self.year.start_year}", Scheme.GUID: None,
                Scheme.IMS_E: f"{brin6}-{self.year.short}"}[self.scheme]

    def klas(self, brin6: str, name: str) -> str:
        return {Scheme.EDUCONNECTOR: f"EC_{brin6[:4]}_{name}_{self.year.start_year}",
                Scheme.GUID: self._guid("klas", brin6, str(self.year), name),
                Scheme.IMS_E: f"{brin6}-{name}-{self.year.short}"}[self.scheme]

    def course(self, group: Lesgroep) -> str:
        return {Scheme.EDUCONNECTOR: f"EC_{group.brin6[:4]}_{group.name}_{self.year.start_year}",
                Scheme.GUID: self._guid("course", group.brin6, str(self.year), group.name),
                Scheme.IMS_E: f"{group.brin6}-{group.name}-{self.year.short}"}[self.scheme]

    def pupil(self, pupil: Pupil) -> str:
        return {Scheme.EDUCONNECTOR: f"EC_{pupil.brin6[:4]}_{pupil.stamnr}", Scheme.GUID: self._guid("pupil", pupil.stamnr),
                Scheme.IMS_E: pupil.stamnr}[self.scheme]

    def teacher(self, teacher: Teacher) -> str:
        return {Scheme.EDUCONNECTOR: f"EC_{teacher.brin6[:4]}_{teacher.docentcode}",
                Scheme.GUID: self._guid("teacher", teacher.brin6, teacher.stamnr),
                Scheme.IMS_E: f"{teacher.brin6}-{teacher.docentcode}"}[self.scheme]

    def membership(self, person: str, group: str) -> str:
        if self.scheme is Scheme.GUID:
            return self._guid("membership", person, group)
        return f"{person}:{group}"

    def course_code(self, group: Lesgroep) -> str:
        return f"{group.name} {self.year.short}" if self.scheme is Scheme.GUID else group.name

    def year_name(self) -> str:
        return f"Schooljaar {self.year}" if self.scheme is Scheme.EDUCONNECTOR else str(self.year)


class _Writer:
    def __init__(self, store: Store, report: PrefillReport):
        self.store = store
        self.report = report
        self.now = now_iso()

    def group(self, sync_id: str, group_type: GroupType, name: str, parent: int | None,
              course: tuple[str, str | None] | None = None) -> int:
        group_id = self.store.insert_group({"sync_id": sync_id, "type": group_type.value, "name": name[:64],
                                            "parent_id": parent, "extension": (), "created_at": self.now,
                                            "updated_at": self.now})
        self.report.groups += 1
        if course is not None:
            title, code = course
            self.store.insert_course({"group_id": group_id, "sync_id": sync_id, "title": title, "code": code,
                                      "created_at": self.now})
            self.report.courses += 1
        return group_id

    def person(self, sync_key: str | None, first: str, prefix: str, last: str, username: str, email: str | None,
               role: str, profile: Profile, origin: Origin = Origin.IMS) -> int:
        person_id = self.store.insert_person({
            "sync_key": sync_key, "first": first, "last": last, "prefix": prefix or None, "username": username,
            "email": email, "institution_role": role, "profile": profile.value, "origin": origin.value,
            "extension": (), "created_at": self.now, "updated_at": self.now})
        self.report.persons += 1
        if origin is Origin.MANUAL:
            self.report.manual.append(username)
        return person_id

    def member(self, sync_id: str, group_id: int, person_id: int, role: RoleType, home: bool = False) -> None:
        self.store.insert_membership({"sync_id": sync_id, "group_id": group_id, "person_id": person_id,
                                      "role": role.value, "home_organisation": int(home), "created_at": self.now,
                                      "updated_at": self.now})
        self.report.memberships += 1


def prefill(db_path: Path, bestuur: Bestuur, scheme: Scheme | str, *, site_root: str,
            extras: Extras = Extras()) -> PrefillReport:
    """Write ``bestuur`` into the sandbox database at ``db_path`` as ``scheme``'s koppeling left it."""
    scheme = Scheme(scheme)
    ids = _Ids(scheme, bestuur.school_year)
    report = PrefillReport(scheme.value)
    store = Store(Path(db_path))
    try:
        with store.transaction():
            _Fill(_Writer(store, report), bestuur, ids, extras).run(store, site_root)
    finally:
        store.close()
    return report


class _Fill:
    """One prefill: the site's schools, one after the other, then the accounts made by hand.

    Objects are written in a fixed order (per school: the school, its year folder, teachers, pupils,
    klassen, courses, leavers), so the same bestuur gives the same site, row for row.
    """

    def __init__(self, writer: _Writer, bestuur: Bestuur, ids: _Ids, extras: Extras):
        self.writer = writer
        self.bestuur = bestuur
        self.ids = ids
        self.extras = extras
        self.missing = bestuur.pupils[-1] if extras.collision and bestuur.pupils else None
        self.manual_teacher = bestuur.teachers[-1] if extras.manual_accounts and bestuur.teachers else None
        self.uncoded = bestuur.lesgroepen[0].name if extras.course_without_code and bestuur.lesgroepen else None
        self.persons: dict[tuple[str, str], tuple[str, int]] = {}  # (brin6, stamnr or docentcode) -> key, id
        writer.report.missing_pupil = self.missing.stamnr if self.missing else None

    def run(self, store: Store, site_root: str) -> None:
        site = store.site_group()
        root = site.id if site is not None else self.writer.group(site_root, GroupType.SITE, "Site", None)
        for number, school in enumerate(self.bestuur.schools):
            self._school(number, school.brin6, school.name, root)
        if self.extras.manual_accounts:
            self.writer.person(None, "Beheer", "", "Applicatiebeheer", "beheerder", None, "Administrator",
                               Profile.ADMINISTRATOR, Origin.MANUAL)
        if self.missing is not None:  # a test account made by hand that holds the missing pupil's user name
            self.writer.person(None, "Test", "", "Leerling", self.missing.login, None, "Student", Profile.STUDENT,
                               Origin.MANUAL)
            self.writer.report.collision = self.missing.login

    def _school(self, number: int, brin6: str, name: str, root: int) -> None:
        ids, writer = self.ids, self.writer
        school_key = ids.school(brin6)
        school_id = writer.group(school_key, GroupType.SCHOOL, name, root)
        folder = ids.year_folder(brin6)
        parent = writer.group(folder, GroupType.UNSPECIFIED, ids.year_name(), school_id) if folder else school_id
        self._teachers(brin6, school_key, school_id)
        self._pupils(brin6, school_key, school_id)
        self._klassen(brin6, parent)
        first_course = self._courses(brin6, parent)
        self._leavers(number, brin6, school_key, school_id, first_course)

    def _teachers(self, brin6: str, school_key: str, school_id: int) -> None:
        writer = self.writer
        for teacher in self.bestuur.teachers_of(brin6):
            if teacher is self.manual_teacher:  # made by hand: no sync key, so no memberships IMS ES could manage
                writer.person(None, teacher.roepnaam, teacher.voorvoegsel, teacher.achternaam, teacher.login,
                              teacher.email, "Staff", Profile.STAFF, Origin.MANUAL)
                writer.report.adoptable_manual = teacher.login
                continue
            key = self.ids.teacher(teacher)
            person_id = writer.person(key, teacher.roepnaam, teacher.voorvoegsel, teacher.achternaam, teacher.login,
                                      teacher.email, "Staff", Profile.STAFF)
            self.persons[(brin6, teacher.docentcode)] = (key, person_id)
            writer.member(self.ids.membership(key, school_key), school_id, person_id, RoleType.INSTRUCTOR, home=True)

    def _pupils(self, brin6: str, school_key: str, school_id: int) -> None:
        writer = self.writer
        for pupil in self.bestuur.pupils_of(brin6):
            if pupil is self.missing:
                continue
            key = self.ids.pupil(pupil)
            person_id = writer.person(key, pupil.roepnaam, pupil.voorvoegsel, pupil.achternaam, pupil.login,
                                      pupil.email, "Student", Profile.STUDENT)
            self.persons[(brin6, pupil.stamnr)] = (key, person_id)
            writer.member(self.ids.membership(key, school_key), school_id, person_id, RoleType.LEARNER, home=True)

    def _klassen(self, brin6: str, parent: int) -> None:
        for klas in (k for k in self.bestuur.klassen if k.brin6 == brin6):
            klas_key = self.ids.klas(brin6, klas.name)
            klas_id = self.writer.group(klas_key, GroupType.UNSPECIFIED, klas.name, parent)
            for pupil in self.bestuur.pupils_of(brin6):
                if pupil.klas == klas.name:
                    self._member(brin6, pupil.stamnr, klas_key, klas_id, RoleType.LEARNER)
            if klas.mentor:
                self._member(brin6, klas.mentor, klas_key, klas_id, RoleType.MENTOR)

    def _courses(self, brin6: str, parent: int) -> tuple[str, int] | None:
        """The school's courses; returns the first one's (sync id, id), where the leavers stay members."""
        first_course: tuple[str, int] | None = None
        for group in (g for g in self.bestuur.lesgroepen if g.brin6 == brin6):
            course_key = self.ids.course(group)
            code = None if group.name == self.uncoded else self.ids.course_code(group)
            if code is None:
                self.writer.report.course_without_code = course_key
            title = f"{group.vaknaam} {group.name}"
            course_id = self.writer.group(course_key, GroupType.COURSE, title, parent, course=(title, code))
            first_course = first_course or (course_key, course_id)
            for docentcode in group.teachers:
                self._member(brin6, docentcode, course_key, course_id, RoleType.INSTRUCTOR)
            for stamnr in group.pupils:
                self._member(brin6, stamnr, course_key, course_id, RoleType.LEARNER)
        return first_course

    def _leavers(self, number: int, brin6: str, school_key: str, school_id: int,
                 first_course: tuple[str, int] | None) -> None:
        """Pupils who left: still on the site, gone from the LAS."""
        writer = self.writer
        for n in range(self.extras.leavers):
            stamnr = f"99{number:02d}{n + 1:02d}"
            leaver = Pupil(brin6, stamnr, None, ("Sem", "Fenna", "Daan", "Lotte")[n % 4], "",
                           f"Vertrokken{n + 1}", None, stamnr, "havo", 5, "5H1", None)
            key = self.ids.pupil(leaver)
            person_id = writer.person(key, leaver.roepnaam, "", leaver.achternaam, stamnr, None, "Student",
                                      Profile.STUDENT)
            writer.report.leavers.append(key)
            writer.member(self.ids.membership(key, school_key), school_id, person_id, RoleType.LEARNER, home=True)
            if first_course is not None:
                writer.member(self.ids.membership(key, first_course[0]), first_course[1], person_id,
                              RoleType.LEARNER)

    def _member(self, brin6: str, person: str, group_key: str, group_id: int, role: RoleType) -> None:
        """A membership of the person known at ``brin6`` by ``person`` (stamnr or docentcode), if they are on
        the site."""
        found = self.persons.get((brin6, person))
        if found is not None:
            key, person_id = found
            self.writer.member(self.ids.membership(key, group_key), group_id, person_id, role)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m koppel.sandbox.itslearning.prefill",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the sandbox's SQLite file (start the sandbox on it afterwards)")
    parser.add_argument("--scheme", choices=[s.value for s in Scheme], default=Scheme.EDUCONNECTOR.value)
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--schools", type=int, default=1)
    parser.add_argument("--year", default="2025-2026")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed (use the export's)")
    parser.add_argument("--site-root", default="koppel-root")
    parser.add_argument("--plain", action="store_true", help="only the previous koppeling's objects, no extras")
    args = parser.parse_args(argv)
    bestuur = generate(students=args.students, schools=args.schools, year=SchoolYear.parse(args.year), seed=args.seed)
    extras = Extras(False, False, False, 0) if args.plain else Extras()
    report = prefill(Path(args.db), bestuur, args.scheme, site_root=args.site_root, extras=extras)
    json.dump(report.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
