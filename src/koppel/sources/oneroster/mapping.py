"""From OneRoster tables to the canonical roster: orgs → schools, users → persons, classes → groups,
enrollments → memberships, academicSessions → the school year. Pure: no I/O, no clock.

Decisions (docs/sources/oneroster.md has the tables; "inference" marks what the spec does not say):

* **Schools.** An org of type ``school`` is a school when its ``identifier`` is a BRIN6 (or a
  BRIN4, read as its hoofdvestiging ``…00``: inference); any org — of any type — can be made a
  school by the ``schools`` setting (sourcedId or name → BRIN6). A school org without BRIN6 is an
  error, and its classes are left out.
* **Persons.** Key: ECK iD when one is delivered — ``userMasterIdentifier`` (1.2) or a ``userIds``
  entry — *and looks like one* (``https://ketenid.nl/…/<128 hex>``); else (source, sourcedId). Kind
  from the role (1.1 ``users.role``; 1.2 ``roles.csv``, the primary role first): student → pupil;
  parent, guardian, relative → guardian; every other role → staff. ``enabledUser=false`` users are
  left out (counted): they may not log in. The Dutch voorvoegsel has no OneRoster field; by default
  a leading one is split off ``familyName`` (``van der Berg`` → ``van der`` + ``Berg``: inference).
* **Groups.** ``classType`` homeroom → stamgroep (klas), scheduled → lesgroep; subject from the
  class's ``subjectCodes``/``subjects``, else its course's; ``grades``, when one whole number, as
  leerjaar (taken as written: no translation of US grade levels).
* **School year.** A session's year is the school year containing its ``startDate``; without
  dates, its ``schoolYear`` column read as the *ending* year (``2023`` = 2022-2023: inference,
  the usual reading). A class whose terms all lie in another year is left out.
* **Memberships.** Enrollment role student → student, teacher → teacher (→ *mentor* in a homeroom
  class: the homeroom teacher is the klas's mentor, inference), parent/guardian/relative → guardian;
  administrator, proctor and aide have no counterpart and are left out with a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from koppel.errors import SourceDataError
from koppel.model.roster import (
    BRIN4_RE,
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
from koppel.sources.builder import RosterBuilder
from koppel.sources.oneroster.dataset import Dataset
from koppel.sources.oneroster.settings import VoorvoegselSource
from koppel.sources.oneroster.tables import Row, parse_date

__all__ = ["ECKID_RE", "MappingOptions", "OneRosterMapper", "split_voorvoegsel"]

ECKID_RE = re.compile(r"^https://ketenid\.nl/[0-9A-Za-z]+/[0-9a-fA-F]{128}$")
_USER_IDS_RE = re.compile(r"\{([^{}]*)\}")  # userIds: "{Fed:1234},{ECK:https://ketenid.nl/…}"

ORG_TYPES = ("district", "school", "department", "local", "state", "national")
CLASS_TYPES = {"homeroom": GroupKind.STAMGROEP, "scheduled": GroupKind.LESGROEP}
_GUARDIAN_ROLES = ("guardian", "parent", "relative")
_STAFF_ROLES = (
    "teacher",
    "administrator",
    "aide",
    "proctor",
    "counselor",
    "principal",
    "districtAdministrator",
    "siteAdministrator",
    "systemAdministrator",
)
USER_ROLES: dict[str, PersonKind] = {
    "student": PersonKind.STUDENT,
    **{r: PersonKind.GUARDIAN for r in _GUARDIAN_ROLES},
    **{r: PersonKind.STAFF for r in _STAFF_ROLES},
}
ENROLLMENT_ROLES: dict[str, Role | None] = {
    "student": Role.STUDENT,
    "teacher": Role.TEACHER,
    **{r: Role.GUARDIAN for r in _GUARDIAN_ROLES},
    "administrator": None,
    "proctor": None,
    "aide": None,
}
_KIND_ROLE = {
    PersonKind.STUDENT: Role.STUDENT,
    PersonKind.STAFF: Role.TEACHER,
    PersonKind.GUARDIAN: Role.GUARDIAN,
}
_KIND_WORDS = {PersonKind.STUDENT: "a pupil", PersonKind.STAFF: "staff", PersonKind.GUARDIAN: "a guardian"}

# Longest first, so "van der" wins over "van". Arabic "El"/"Al" are left out on purpose: Dutch
# administrations keep them in the achternaam ("El Amrani").
_VOORVOEGSEL_LIST = (
    "van_der van_den van_de van_het van_'t van_t in_'t in_de in_den in_het op_de op_den op_'t op_het uit_de "
    "uit_den uit_het uijt_de voor_de voor_den aan_de aan_den aan_het bij_de onder_de over_de van de den "
    "der het 't ter ten te d' la le les du des von von_der zu da das do dos di del della"
)
VOORVOEGSELS = tuple(sorted((v.replace("_", " ") for v in _VOORVOEGSEL_LIST.split()), key=len, reverse=True))


def split_voorvoegsel(family_name: str) -> tuple[str, str]:
    """``"van der Berg"`` → ``("van der", "Berg")``; a name that is only a voorvoegsel stays whole."""
    lowered = family_name.lower()
    for voorvoegsel in VOORVOEGSELS:
        if lowered.startswith(voorvoegsel):
            rest = family_name[len(voorvoegsel) :]
            if voorvoegsel.endswith("'") and rest.strip():
                return family_name[: len(voorvoegsel)], rest.strip()
            if rest[:1] == " " and rest.strip():
                return family_name[: len(voorvoegsel)], rest.strip()
    return "", family_name


@dataclass(frozen=True, slots=True)
class MappingOptions:
    source: str
    schools: dict[str, str]
    voorvoegsel: VoorvoegselSource
    fixed_year: SchoolYear | None
    requested_year: SchoolYear | None
    today: dt.date


def _vocabulary(value: str, allowed: Iterable[str]) -> tuple[str | None, bool]:
    """The spec's term for ``value`` (case-insensitively) and whether the case differed."""
    for term in allowed:
        if value == term:
            return term, False
    for term in allowed:
        if value.lower() == term.lower():
            return term, True
    return None, False


@dataclass(slots=True)
class _User:
    row: Row
    kinds: list[PersonKind]
    orgs: list[str]


class _Pass:
    """What every step of the mapping shares: the tables, the options, and the builder it reports into."""

    def __init__(self, dataset: Dataset, options: MappingOptions, out: RosterBuilder) -> None:
        self.data = dataset
        self.options = options
        self.source = options.source
        self.out = out

    def _at(self, row: Row, severity: Severity, code: str, message: str, field: str | None = None) -> None:
        self.out.report(severity, code, message, row.file, row.line, field, row.sourced_id)

    def _provenance(self, row: Row) -> Provenance:
        return self.out.provenance(row.file, row.line)

    def _reference(
        self, row: Row, table: str, sourced_id: str, what: str, field: str, *, required: bool = True
    ) -> Row | None:
        """The row ``sourced_id`` refers to in ``table``, or a diagnostic.

        A reference to something a delta deleted is a warning; to something that never was, an error
        when the row cannot do without it (``required``), else a warning.
        """
        target = self.data.table(table).get(sourced_id)
        if target is not None:
            return target
        consequence = "this row is left out" if required else "read without it"
        if self.data.was_deleted(table, sourced_id):
            self._at(
                row,
                Severity.WARNING,
                "reference-to-deleted",
                f"{what} {sourced_id} was deleted by a delta; {consequence}",
                field,
            )
        else:
            severity = Severity.ERROR if required else Severity.WARNING
            self._at(
                row,
                severity,
                f"unknown-{what}",
                f"{what} {sourced_id} is not in {table}.csv; {consequence}",
                field,
            )
        return None


class _Places(_Pass):
    """orgs → schools, academicSessions → the school year, classes (with their courses) → groups."""

    def __init__(self, dataset: Dataset, options: MappingOptions, out: RosterBuilder) -> None:
        super().__init__(dataset, options, out)
        self.school_of_org: dict[str, str] = {}  # org sourcedId -> BRIN6
        self.groups: dict[str, Group] = {}  # class sourcedId -> group
        self.skipped_classes: set[str] = set()
        self.session_years: dict[str, SchoolYear | None] = {}
        self.year = SchoolYear(0)  # set by read() before anything uses it

    def read(self) -> None:
        self._schools()
        self.year = self._school_year()
        self._classes()

    # -- orgs ---------------------------------------------------------------------------------

    def _brin6_of(self, org: Row) -> str | None:
        configured = self.options.schools.get(org.sourced_id) or self.options.schools.get(org["name"])
        if configured:
            return configured
        org_type, _ = _vocabulary(org["type"], ORG_TYPES)
        if org_type is None:
            self._at(
                org,
                Severity.WARNING,
                "unknown-org-type",
                f"org type {org['type']!r} is not one of {', '.join(ORG_TYPES)}",
                "type",
            )
        if org_type != "school":
            return None
        identifier = org["identifier"].replace(" ", "").upper()
        if BRIN6_RE.match(identifier):
            return identifier
        if BRIN4_RE.match(identifier):
            return identifier + "00"
        shown = repr(org["identifier"]) if org["identifier"] else "empty"
        self._at(
            org,
            Severity.ERROR,
            "school-without-brin6",
            f"school {org['name']!r} ({org.sourced_id}) has identifier {shown}, not a BRIN6; map it under "
            "schools "
            f'("{org.sourced_id}" = "12AB00"); its classes are left out',
            "identifier",
        )
        return None

    def _schools(self) -> None:
        for org in self.data.table("orgs").values():
            brin6 = self._brin6_of(org)
            if brin6 is None:
                continue
            self.school_of_org[org.sourced_id] = brin6
            self.out.add_school(brin6, org["name"] or brin6, self._provenance(org))
        for name in self.options.schools:
            if not any(name in (o.sourced_id, o["name"]) for o in self.data.table("orgs").values()):
                self.out.report(
                    Severity.WARNING,
                    "unknown-org",
                    f"the schools setting names org {name!r}, which the export does not have",
                    field="schools",
                )

    # -- school year --------------------------------------------------------------------------

    def _session_year(self, session: Row) -> SchoolYear | None:
        start = parse_date(session["startDate"])
        by_dates = SchoolYear.containing(start) if start else None
        column = session["schoolYear"]
        by_column = SchoolYear(int(column) - 1) if column.isdigit() and len(column) == 4 else None
        if by_dates and by_column and by_dates != by_column:
            self._at(
                session,
                Severity.WARNING,
                "school-year-mismatch",
                f"schoolYear {column} reads as {by_column}, but startDate {session['startDate']} lies in "
                f"{by_dates}; the dates are followed",
                "schoolYear",
            )
        return by_dates or by_column

    def _school_year(self) -> SchoolYear:
        sessions = self.data.table("academicSessions")
        self.session_years = {sid: self._session_year(row) for sid, row in sessions.items()}
        years = {y for y in self.session_years.values() if y is not None}
        requested = self.options.requested_year
        chosen = self.options.fixed_year
        if chosen is None:
            today = SchoolYear.containing(self.options.today)
            if requested in years or (not years and requested is not None):
                chosen = requested
            elif len(years) == 1:
                chosen = next(iter(years))
            elif today in years or not years:
                chosen = today
            else:
                listed = ", ".join(str(y) for y in sorted(years))
                raise SourceDataError(
                    f"academicSessions span several school years ({listed}) and none is the one asked for or "
                    "the current one; set school_year to choose",
                    source=self.source,
                )
        self.out.year_mismatch(requested, chosen)
        return chosen

    # -- classes ------------------------------------------------------------------------------

    def _classes(self) -> None:
        unplaced: Counter[str] = Counter()
        other_year = 0
        for row in self.data.table("classes").values():
            group = self._class(row, unplaced)
            if group is None:
                self.skipped_classes.add(row.sourced_id)
            elif group.school_year != self.year:
                other_year += 1
                self.skipped_classes.add(row.sourced_id)
            else:
                self.groups[row.sourced_id] = group
        orgs = self.data.table("orgs")
        for org_id, count in sorted(unplaced.items()):
            org = orgs[org_id]
            if org_id in self.school_of_org or (_vocabulary(org["type"], ORG_TYPES)[0] == "school"):
                continue  # a school org without BRIN6 was reported already
            self._at(
                org,
                Severity.ERROR,
                "class-outside-school",
                f"{count} class(es) belong to org {org['name']!r} ({org['type']}), which is not a school; "
                "map it to a BRIN6 under schools; they are left out",
                "type",
            )
        if other_year:
            self.out.counts["classes.other_school_year"] = other_year
            self.out.report(
                Severity.WARNING,
                "other-school-year",
                f"{other_year} class(es) have terms in another school year than {self.year}; left out",
                file=f"{self._file('classes')}",
            )

    def _file(self, table: str) -> str:
        rows = self.data.table(table)
        return next(iter(rows.values())).file if rows else f"{table}.csv"

    def _class(self, row: Row, unplaced: Counter[str]) -> Group | None:
        kind_name, odd_case = _vocabulary(row["classType"], CLASS_TYPES)
        if kind_name is None:
            self._at(
                row,
                Severity.ERROR,
                "unknown-class-type",
                f"classType {row['classType']!r} is neither homeroom nor scheduled; class left out",
                "classType",
            )
            return None
        if odd_case:
            self._at(
                row,
                Severity.WARNING,
                "vocabulary-case",
                f"classType {row['classType']!r} is written {kind_name!r} in the spec; read as {kind_name}",
                "classType",
            )
        if self._reference(row, "orgs", row["schoolSourcedId"], "org", "schoolSourcedId") is None:
            return None
        brin6 = self.school_of_org.get(row["schoolSourcedId"])
        if brin6 is None:
            unplaced[row["schoolSourcedId"]] += 1
            return None
        course = self._course(row)
        year = self._class_year(row)
        return Group(
            key=group_key(source=self.source, brin6=brin6, school_year=year, las_key=row.sourced_id),
            kind=CLASS_TYPES[kind_name],
            name=row["title"] or row["classCode"] or row.sourced_id,
            school=brin6,
            school_year=year,
            source=self.source,
            las_key=row.sourced_id,
            leerjaar=_leerjaar(row.many("grades") or (course.many("grades") if course else [])),
            subject=_first(
                row.many("subjectCodes"),
                course.many("subjectCodes") if course else [],
                [course["courseCode"]] if course else [],
            ),
            subject_name=_first(
                row.many("subjects"),
                course.many("subjects") if course else [],
                [course["title"]] if course else [],
            ),
            provenance=self._provenance(row),
        )

    def _course(self, row: Row) -> Row | None:
        course_id = row["courseSourcedId"]
        if not course_id or "courses" not in self.data.present:
            return None  # no courses.csv: the class's own subject fields are all there is
        return self._reference(row, "courses", course_id, "course", "courseSourcedId", required=False)

    def _class_year(self, row: Row) -> SchoolYear:
        """The year of the class's terms: the roster year if any term is in it or none is known."""
        years: set[SchoolYear] = set()
        for term in row.many("termSourcedIds"):
            if term not in self.session_years:
                self._at(
                    row,
                    Severity.WARNING,
                    "unknown-session",
                    f"term {term} is not in academicSessions.csv",
                    "termSourcedIds",
                )
                continue
            year = self.session_years[term]
            if year is not None:
                years.add(year)
        if not years or self.year in years:
            return self.year
        return min(years)


class _People(_Pass):
    """users → persons, enrollments → memberships, guardians ↔ pupils; only persons placed in a school."""

    def __init__(self, places: _Places) -> None:
        super().__init__(places.data, places.options, places.out)
        self.places = places
        self.persons: dict[str, Person] = {}  # user sourcedId -> person
        self.disabled: set[str] = set()

    def read(self) -> list[Membership]:
        """Put the persons into the builder; returns the memberships."""
        self._users()
        memberships = self._enrollments()
        self._guardians()
        self._place_persons()
        return memberships

    # -- users --------------------------------------------------------------------------------

    def _users(self) -> None:
        users = self.data.table("users")
        roles = self._roles_by_user(users) if self.data.version == "1.2" else {}
        for row in users.values():
            if row["enabledUser"].lower() == "false":
                self.disabled.add(row.sourced_id)
                self.out.counts["users.disabled"] += 1
                continue
            user = self._user(row, roles.get(row.sourced_id, []))
            if user is not None:
                self.persons[row.sourced_id] = self._person(user)

    def _roles_by_user(self, users: dict[str, Row]) -> dict[str, list[Row]]:
        by_user: dict[str, list[Row]] = {}
        for role in self.data.table("roles").values():
            if self._reference(role, "users", role["userSourcedId"], "user", "userSourcedId") is not None:
                by_user.setdefault(role["userSourcedId"], []).append(role)
        for rows in by_user.values():
            rows.sort(key=lambda r: (r["roleType"].lower() != "primary", r.line))
        return by_user

    def _kind(self, row: Row, role: str) -> PersonKind | None:
        term, odd_case = _vocabulary(role, USER_ROLES)
        if term is None:
            self._at(row, Severity.ERROR, "unknown-role", f"role {role!r} is not a OneRoster role", "role")
            return None
        if odd_case:
            self._at(
                row,
                Severity.WARNING,
                "vocabulary-case",
                f"role {role!r} is written {term!r} in the spec",
                "role",
            )
        return USER_ROLES[term]

    def _user(self, row: Row, roles: list[Row]) -> _User | None:
        if self.data.version == "1.2":
            kinds = [k for r in roles if (k := self._kind(r, r["role"])) is not None]
            orgs = [r["orgSourcedId"] for r in roles] + [row["primaryOrgSourcedId"]]
            if not roles:
                self._at(row, Severity.ERROR, "user-without-role", "user has no row in roles.csv; left out")
        else:
            kind = self._kind(row, row["role"])
            kinds = [kind] if kind is not None else []
            orgs = row.many("orgSourcedIds")
        if not kinds:
            return None
        known = self.data.table("orgs")
        for org in dict.fromkeys(o for o in orgs if o):
            if org not in known and not self.data.was_deleted("orgs", org):
                self._at(
                    row, Severity.WARNING, "unknown-org", f"org {org} is not in orgs.csv", "orgSourcedIds"
                )
        return _User(row, kinds, [o for o in dict.fromkeys(orgs) if o in known])

    def _eckid(self, row: Row) -> str | None:
        master = row["userMasterIdentifier"]
        if ECKID_RE.match(master):
            return master
        for entry in _USER_IDS_RE.finditer(row["userIds"]):
            value = entry.group(1).partition(":")[2].strip()
            if ECKID_RE.match(value):
                return value
        return None

    def _names(self, row: Row) -> tuple[str, str, str]:
        roepnaam = row["preferredGivenName"] or row["givenName"]
        family = row["familyName"]
        match self.options.voorvoegsel:
            case VoorvoegselSource.SPLIT:
                voorvoegsel, achternaam = split_voorvoegsel(family)
            case VoorvoegselSource.MIDDLE_NAME:
                voorvoegsel, achternaam = row["middleName"], family
            case _:
                voorvoegsel, achternaam = "", family
        return roepnaam, voorvoegsel, achternaam

    def _person(self, user: _User) -> Person:
        row = user.row
        kind = user.kinds[0]
        eckid = self._eckid(row)
        roepnaam, voorvoegsel, achternaam = self._names(row)
        schools = tuple(dict.fromkeys(self.places.school_of_org[o] for o in user.orgs if o in self.places.school_of_org))
        return Person(
            key=self.out.person_key(row.sourced_id, eckid),
            kind=kind,
            source=self.source,
            las_key=row.sourced_id,
            roepnaam=roepnaam,
            voorvoegsel=voorvoegsel,
            achternaam=achternaam,
            email=row["email"] or None,
            eckid=eckid,
            leerlingnummer=(row["identifier"] or None) if kind is PersonKind.STUDENT else None,
            las_username=row["username"] or None,
            schools=schools,
            leerjaar=_leerjaar(row.many("grades")),
            provenance=self._provenance(row),
        )

    # -- enrollments --------------------------------------------------------------------------

    def _enrollments(self) -> list[Membership]:
        """One membership per (person, class, role); a repeated enrollment adds nothing."""
        found: dict[tuple[str, str, str], Membership] = {}
        for row in self.data.table("enrollments").values():
            membership = self._enrollment(row)
            if membership is not None:
                found.setdefault(membership.key, membership)
        return list(found.values())

    def _enrollment(self, row: Row) -> Membership | None:
        class_id, user_id = row["classSourcedId"], row["userSourcedId"]
        if class_id in self.places.skipped_classes:
            return None
        group = self.places.groups.get(class_id)
        if group is None:
            self._reference(row, "classes", class_id, "class", "classSourcedId")
            return None
        if user_id in self.disabled:
            return None
        person = self.persons.get(user_id)
        if person is None:
            if user_id not in self.data.table("users"):  # else: the user was reported already
                self._reference(row, "users", user_id, "user", "userSourcedId")
            return None
        role = self._enrollment_role(row)
        if role is None:
            return None
        self._check_enrollment(row, person, role, group)
        if role is Role.TEACHER and group.kind is GroupKind.STAMGROEP:
            role = Role.MENTOR  # the teacher of a homeroom is the klas's mentor
        if group.school not in person.schools:
            person = self.persons[user_id] = replace(person, schools=(*person.schools, group.school))
        return Membership(
            person.key,
            group.key,
            role,
            parse_date(row["beginDate"]),
            parse_date(row["endDate"]),
            self._provenance(row),
        )

    def _enrollment_role(self, row: Row) -> Role | None:
        term, odd_case = _vocabulary(row["role"], ENROLLMENT_ROLES)
        if term is None:
            self._at(
                row,
                Severity.ERROR,
                "unknown-role",
                f"enrollment role {row['role']!r} is not a OneRoster role; left out",
                "role",
            )
            return None
        if odd_case:
            self._at(
                row,
                Severity.WARNING,
                "vocabulary-case",
                f"role {row['role']!r} is written {term!r} in the spec",
                "role",
            )
        role = ENROLLMENT_ROLES[term]
        if role is None:
            self._at(
                row,
                Severity.WARNING,
                "unmapped-role",
                f"enrollment role {term} has no counterpart in koppel (student, teacher, guardian); left out",
                "role",
            )
        return role

    def _check_enrollment(self, row: Row, person: Person, role: Role, group: Group) -> None:
        if _KIND_ROLE[person.kind] is not role:
            self._at(
                row,
                Severity.WARNING,
                "role-mismatch",
                f"{person.display_name} is {_KIND_WORDS[person.kind]} but enrolled as {role.value} in "
                f"{group.name}; read as enrolled",
                "role",
            )
        school = row["schoolSourcedId"]
        if school and self.places.school_of_org.get(school, school) != group.school:
            self._at(
                row,
                Severity.WARNING,
                "school-mismatch",
                f"schoolSourcedId {school} differs from the school of class {group.las_key}; the class's "
                "school is used",
                "schoolSourcedId",
            )

    # -- guardians and the final persons -------------------------------------------------------

    def _guardians(self) -> None:
        """Link guardians and pupils both ways (agentSourcedIds); guardians share their children's schools."""
        children: dict[str, list[str]] = {}
        for user_id, person in self.persons.items():
            agents = self.data.table("users")[user_id].many("agentSourcedIds")
            for agent in agents:
                other = self.persons.get(agent)
                if other is None:
                    continue
                if person.kind is PersonKind.GUARDIAN and other.kind is PersonKind.STUDENT:
                    children.setdefault(user_id, []).append(agent)
                elif person.kind is PersonKind.STUDENT and other.kind is PersonKind.GUARDIAN:
                    children.setdefault(agent, []).append(user_id)
        for guardian_id, child_ids in children.items():
            guardian = self.persons[guardian_id]
            kids = [self.persons[c] for c in dict.fromkeys(child_ids)]
            schools = tuple(dict.fromkeys((*guardian.schools, *(s for k in kids for s in k.schools))))
            self.persons[guardian_id] = replace(
                guardian, children=tuple(k.key for k in kids), schools=schools
            )

    def _place_persons(self) -> None:
        """Put every user placed in a school into the roster; of two users with one ECK iD, the first."""
        placed = self.out.persons
        for person in self.persons.values():
            if not person.schools:
                self.out.report(
                    Severity.WARNING,
                    "person-without-school",
                    f"{person.display_name} ({person.las_key}) belongs to no school and is in no class of "
                    "one; left out",
                    person.provenance.file if person.provenance else None,
                    person.provenance.line if person.provenance else None,
                    object=person.las_key,
                )
                continue
            known = placed.get(person.key)
            if known is not None:  # two users with one ECK iD
                self.out.report(
                    Severity.ERROR,
                    "duplicate-eckid",
                    f"users {known.las_key} and {person.las_key} share ECK iD {person.eckid}; the first is "
                    "kept",
                    person.provenance.file if person.provenance else None,
                    person.provenance.line if person.provenance else None,
                    object=person.las_key,
                )
                continue
            placed[person.key] = person


class OneRosterMapper:
    """Maps a :class:`Dataset` into a :class:`RosterBuilder` (``out``, which may already hold what
    reading the files reported) and builds one Roster; reports row problems as diagnostics."""

    def __init__(self, dataset: Dataset, options: MappingOptions, out: RosterBuilder | None = None) -> None:
        self.source = options.source
        self.out = out if out is not None else RosterBuilder(options.source)
        self.places = _Places(dataset, options, self.out)
        self.people = _People(self.places)

    def build(self, location: str) -> Roster:
        self.places.read()
        memberships = self.people.read()
        if not any(p.kind is PersonKind.STUDENT for p in self.out.persons.values()):
            raise SourceDataError(self._nothing_read(), source=self.source)
        groups = self.places.groups.values()
        return self.out.build(
            self.places.year, kind="oneroster", location=location, groups=groups, memberships=memberships
        )

    def _nothing_read(self) -> str:
        errors = [d for d in self.out.diagnostics if d.severity is Severity.ERROR][:3]
        first = "; ".join(str(d) for d in errors)
        return "no pupil could be read from the export" + (f" (first errors: {first})" if first else "")


def _first(*candidates: list[str]) -> str | None:
    for values in candidates:
        for value in values:
            if value:
                return value
    return None


def _leerjaar(grades: list[str]) -> int | None:
    distinct = set(grades)
    if len(distinct) == 1:
        value = distinct.pop()
        if value.isdigit():
            return int(value)
    return None
