"""Roster → Desired for one target profile.

This is where a school's choices live: which courses exist (one per lesgroep, per klas × vak or per
vak × jaarlaag), how the hierarchy is laid out, what things are called, what user names and e-mail
addresses look like, and who is in scope. The output is target-neutral (see
``koppel.model.desired``); the target's mapping turns it into wire objects.

Identity is sticky: a person koppel already manages keeps their sync key and user name, even when
the LAS later adds an ECK iD or the person's name changes (a changed key would be a new account to
itslearning; a renamed account would lock a pupil out). That is why the rules take an
``IdentityIndex`` read from the state.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from koppel.model.attrs import GroupAttrs, MembershipRole, PersonAttrs, PersonRole
from koppel.model.desired import Desired, DesiredObject, LeanMembership, ObjectKind
from koppel.model.keys import (
    MEMBERSHIP_AWAY,
    eck_sync_key,
    klas_vak_key,
    leerjaar_key,
    membership_key,
    person_sync_key,
    school_key,
    vak_jaarlaag_key,
    year_key,
)
from koppel.model.roster import (
    Diagnostic,
    Group,
    GroupKind,
    Person,
    PersonKind,
    Role,
    Roster,
    School,
    Severity,
)
from koppel.rules.accounts import email_of, normalise_username, unique_usernames, username_base
from koppel.rules.settings import CourseStrategy, FilterSettings, RulesSettings

# The sync-key functions are koppel.model.keys'; the ones tests and callers long imported from here stay importable.
__all__ = ["IdentityIndex", "build_desired", "normalise_username", "person_sync_key", "school_key", "year_key"]

_ROLE_OF_KIND: dict[PersonKind, PersonRole] = {
    PersonKind.STUDENT: "student", PersonKind.STAFF: "staff", PersonKind.GUARDIAN: "guardian"}
_SCHOOL_ROLE: dict[PersonKind, MembershipRole] = {
    PersonKind.STUDENT: "student", PersonKind.STAFF: "teacher", PersonKind.GUARDIAN: "guardian"}
_ROLE_RANK: dict[MembershipRole, int] = {"teacher": 0, "mentor": 1, "student": 2, "guardian": 3}
# Plain str: Enum.value goes through a slow descriptor.
_ROLE_NAME: dict[Role, MembershipRole] = {
    Role.STUDENT: "student", Role.TEACHER: "teacher", Role.MENTOR: "mentor", Role.GUARDIAN: "guardian"}
_ROUTE_KLAS, _ROUTE_COURSE, _ROUTE_DERIVED = 1, 2, 3


@dataclass(frozen=True)
class IdentityIndex:
    """What the state already knows about persons: their sync keys and user names."""

    by_eckid: Mapping[str, str] = field(default_factory=dict)
    by_las: Mapping[tuple[str, str], str] = field(default_factory=dict)
    usernames: Mapping[str, str] = field(default_factory=dict)  # sync key -> user name in use

    def resolve(self, person: Person) -> str:
        return self.resolve_key(person.source, person.las_key, person.eckid)

    def resolve_key(self, source: str, las_key: str, eckid: str | None) -> str:
        """The sync key of the person the source knows as ``las_key`` (with this ECK iD): the one koppel already
        manages them under, else a new one (:func:`~koppel.model.keys.person_sync_key`)."""
        if eckid and eckid in self.by_eckid:
            return self.by_eckid[eckid]
        known = self.by_las.get((source, las_key))
        if known is not None:
            return known
        return eck_sync_key(eckid) if eckid else f"{source}:{las_key}"

    def with_usernames_of(self, other: IdentityIndex) -> IdentityIndex:
        """This index, with the user names another target gave the persons this one has no user name for yet
        (``accounts.username_from``). A name in use here stays; a name another person here has is not taken."""
        usernames = dict(self.usernames)
        taken = set(usernames.values())
        for key, name in other.usernames.items():
            if key not in usernames and name not in taken:
                usernames[key] = name
                taken.add(name)
        return IdentityIndex(self.by_eckid, self.by_las, usernames)


def build_desired(
    roster: Roster,
    settings: RulesSettings,
    *,
    target: str,
    identities: IdentityIndex | None = None,
    provision: Roster | None = None,
    provision_members: str = "teachers",
    notes: Iterable[str] = (),
) -> Desired:
    """Build what ``target`` should contain.

    ``provision`` is the LAS's data for the *next* school year (read before the switch date): its
    groups are created ahead of the jaarovergang with only their teachers (``provision_members =
    "teachers"``) or with nobody (``"none"``), so pupils do not see next year's courses early.
    """
    identities = identities or IdentityIndex()
    builder = _Builder(settings, identities, target)
    builder.add_roster(roster, members="all")
    if provision is not None:
        builder.add_roster(provision, members=provision_members)
    builder.finish_accounts()
    return Desired.from_table(
        target,
        str(roster.school_year),
        builder.objects,
        memberships=builder.memberships,
        diagnostics=list(roster.diagnostics) + builder.diagnostics,
        schools=builder.scope,
        years={str(roster.school_year)} | ({str(provision.school_year)} if provision is not None else set()),
        notes=notes,
    )


class _Builder:
    def __init__(self, settings: RulesSettings, identities: IdentityIndex, target: str):
        self.s = settings
        self.ids = identities
        self.target = target
        self.objects: dict[str, DesiredObject] = {}  # groups and persons
        self.memberships: dict[str, LeanMembership] = {}
        self.diagnostics: list[Diagnostic] = []
        self.scope: set[str] = set()
        self.person_keys: dict[str, str] = {}  # roster person key -> sync key
        self.persons: dict[str, Person] = {}  # sync key -> person
        self.home: dict[str, str] = {}  # sync key -> home school BRIN6
        self.person_schools: dict[str, list[str]] = defaultdict(list)
        self.person_labels: dict[str, str] = {}
        self.non_pupils: set[str] = set()  # sync keys of staff and guardians
        self.school_names: dict[str, str] = {}

    # -- scope ----------------------------------------------------------------------------

    # -- the roster ----------------------------------------------------------------------

    def add_roster(self, roster: Roster, *, members: str) -> None:
        year = str(roster.school_year)
        filters = self.s.filters
        schools = {b: s for b, s in roster.schools.items() if _school_in_scope(filters, b)}
        if members == "all":
            self.scope.update(schools)
        for school in schools.values():
            self._school_nodes(school, roster)
        persons_in = _persons_in_scope(roster, schools, filters)
        groups_in = _groups_in_scope(roster, schools, filters)
        if members == "all":
            for person in persons_in.values():
                self._person(person)
        self._groups_and_memberships(roster, schools, groups_in, persons_in, year, members)

    def _school_nodes(self, school: School, roster: Roster) -> None:
        s, n = self.s, self.s.names
        year = roster.school_year
        self.school_names[school.brin6] = school.name
        skey = school_key(school.brin6)
        name = n.school.format(school_name=school.name, brin6=school.brin6, brin4=school.brin4)
        self._add_group(skey, {"type": "school", "name": name, "code": school.brin6, "parent": None,
                               "school": school.brin6, "school_year": None}, school.brin6, name)
        if s.hierarchy.year:
            ykey = year_key(school.brin6, str(year))
            yname = n.year.format(school_year=str(year), school_year_short=year.short, school_name=school.name,
                                  brin6=school.brin6)
            self._add_group(ykey, {"type": "folder", "name": yname, "code": None, "parent": skey,
                                   "school": school.brin6, "school_year": str(year)}, school.brin6, yname)

    def _year_parent(self, brin6: str, year: str) -> str:
        return year_key(brin6, year) if self.s.hierarchy.year else school_key(brin6)

    def _leerjaar_parent(self, brin6: str, year: str, leerjaar: int | None, short: str) -> str:
        parent = self._year_parent(brin6, year)
        if not self.s.hierarchy.leerjaar or leerjaar is None:
            return parent
        key = leerjaar_key(brin6, year, leerjaar)
        if key not in self.objects:
            name = self.s.names.leerjaar.format(leerjaar=leerjaar, school_year=year, school_year_short=short)
            self._add_group(key, {"type": "folder", "name": name, "code": None, "parent": parent, "school": brin6,
                                  "school_year": year, "leerjaar": leerjaar}, brin6, name)
        return key

    # -- groups and memberships -------------------------------------------------------------

    def _groups_and_memberships(self, roster: Roster, schools: Mapping[str, School], groups_in: Mapping[str, Group],
                                persons_in: Mapping[str, Person], year: str, members: str) -> None:
        short = roster.school_year.short
        course_of, klas_node = self._klas_and_course_nodes(groups_in, schools, year, short)
        klas_of_person: dict[str, Group] = {}
        if self.s.course_strategy is not CourseStrategy.LESGROEP:
            klas_of_person = _klas_of_person(roster, groups_in)
        routes = _routes(groups_in, course_of, klas_node)
        pupils_of, teachers_of = self._memberships(roster, routes, members, groups_in, klas_of_person, year, short,
                                                   schools)
        # A teacher of a lesgroep that feeds derived courses teaches each course its pupils are in.
        for group_key, teacher_keys in teachers_of.items():
            g = groups_in[group_key]
            courses = {self._derived_course(g, klas_of_person.get(p), year, short, schools)
                       for p in pupils_of.get(group_key, ())}
            for course in sorted(courses):
                for teacher in teacher_keys:
                    self._add_membership(teacher, course, "teacher", g.school)

    def _klas_and_course_nodes(self, groups_in: Mapping[str, Group], schools: Mapping[str, School], year: str,
                               short: str) -> tuple[dict[str, list[str]], dict[str, str]]:
        """The klas nodes, and the courses of lesgroepen (and of groups without a vak) — those a lesgroep feeds
        by itself; courses derived per klas × vak or vak × jaarlaag are made as their pupils are met."""
        s = self.s
        course_of: dict[str, list[str]] = {}  # roster group key -> course sync keys it feeds
        klas_node: dict[str, str] = {}
        for key, g in groups_in.items():
            if g.kind is GroupKind.STAMGROEP:
                if s.hierarchy.klassen:
                    parent = self._leerjaar_parent(g.school, year, g.leerjaar, short)
                    name = s.names.klas.format(klas=g.name, leerjaar=g.leerjaar or "", onderwijssoort=g.onderwijssoort or "",
                                               school_year=year, school_year_short=short, brin6=g.school)
                    self._add_group(key, {"type": "klas", "name": name, "code": g.name, "parent": parent,
                                          "school": g.school, "school_year": year, "leerjaar": g.leerjaar},
                                    g.school, name)
                    klas_node[key] = key
            elif s.course_strategy is CourseStrategy.LESGROEP or not g.subject:
                course_of[key] = [self._course(key, g, g.name, year, short, schools)]
        return course_of, klas_node

    def _memberships(self, roster: Roster, routes: Mapping[str, tuple[int, str, str, str]], members: str,
                     groups_in: Mapping[str, Group], klas_of_person: Mapping[str, Group], year: str, short: str,
                     schools: Mapping[str, School]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Memberships in roster order: the hot loop of a bestuur (a million), so a group's route is looked up
        once and the common case (klas node or lesgroep course) is handled inline. Returns, per lesgroep that
        feeds derived courses, its pupils (roster keys) and its teachers (sync keys)."""
        pupils_of: dict[str, list[str]] = defaultdict(list)
        teachers_of: dict[str, list[str]] = defaultdict(list)
        person_keys, memberships, non_pupils = self.person_keys, self.memberships, self.non_pupils
        with_pupils = members == "all"
        with_teachers = members in ("all", "teachers")
        role_name, new, lean, away = _ROLE_NAME, tuple.__new__, LeanMembership, MEMBERSHIP_AWAY
        for m in roster.memberships:
            route = routes.get(m.group)
            if route is None:
                continue
            person = person_keys.get(m.person)
            if person is None:
                continue  # out of scope, or next year's newcomer (provisioned after the switch)
            role = role_name[m.role]
            if not (with_pupils if role == "student" else with_teachers):
                continue
            mode, target, school, _ = route
            if mode is _ROUTE_DERIVED:
                if role == "student":
                    pupils_of[m.group].append(m.person)
                    course = self._derived_course(groups_in[m.group], klas_of_person.get(m.person), year, short,
                                                  schools)
                    self._add_membership(person, course, role, school)
                else:
                    teachers_of[m.group].append(person)
                continue
            if mode is _ROUTE_KLAS and role not in ("student", "mentor"):
                continue
            key = membership_key(person, target, role)
            if key in memberships:
                continue
            if (role != "student" or person in non_pupils) and not self._one_role(person, target, role):
                continue
            # Person, group and role are in the key; only ``home`` can change for the same key.
            memberships[key] = new(lean, (person, target, role, False, school, away))
        return pupils_of, teachers_of

    def _course(self, key: str, g: Group, groep: str, year: str, short: str, schools: Mapping[str, School],
                klas: str = "") -> str:
        if key in self.objects:
            return key
        s = self.s
        values = {
            "groep": groep, "vak": g.subject or "", "vak_naam": g.subject_name or g.subject or "",
            "klas": klas, "leerjaar": g.leerjaar if g.leerjaar is not None else "", "school_year": year,
            "school_year_short": short, "school_name": schools[g.school].name, "brin6": g.school,
        }
        name = " ".join(s.names.course.format(**values).split()) or groep
        code = " ".join(s.names.course_code.format(**values).split())
        if s.hierarchy.course_parent == "school":
            parent = school_key(g.school)
        elif s.hierarchy.course_parent == "leerjaar":
            parent = self._leerjaar_parent(g.school, year, g.leerjaar, short)
        else:
            parent = self._year_parent(g.school, year)
        self._add_group(key, {"type": "course", "name": name, "code": code, "parent": parent, "school": g.school,
                              "school_year": year, "subject": g.subject, "leerjaar": g.leerjaar}, g.school, name)
        return key

    def _derived_course(self, g: Group, klas: Group | None, year: str, short: str, schools: Mapping[str, School]) -> str:
        vak = g.subject or g.name
        if self.s.course_strategy is CourseStrategy.KLAS_VAK and klas is not None:
            key = klas_vak_key(klas.key, vak)
            return self._course(key, g, f"{klas.name} {vak}", year, short, schools, klas=klas.name)
        leerjaar = g.leerjaar if g.leerjaar is not None else (klas.leerjaar if klas else None)
        key = vak_jaarlaag_key(g.school, year, leerjaar, vak)
        groep = f"{vak} leerjaar {leerjaar}" if leerjaar is not None else vak
        return self._course(key, g, groep, year, short, schools)

    def _add_group(self, key: str, attrs: GroupAttrs, school: str, label: str) -> None:
        if key not in self.objects:
            self.objects[key] = DesiredObject.make(ObjectKind.GROUP, key, attrs, school=school, label=label)

    def _add_membership(self, person: str, group: str, role: MembershipRole, school: str) -> None:
        key = membership_key(person, group, role)
        if key in self.memberships:
            return
        if (role != "student" or person in self.non_pupils) and not self._one_role(person, group, role):
            return
        self.memberships[key] = LeanMembership.of(person, group, role, False, school)

    def _one_role(self, person: str, group: str, role: MembershipRole) -> bool:
        """A platform holds one role per person per group: keep the strongest (teacher > mentor > student).

        Only staff and non-pupil roles are checked (a few per group), which keeps the million pupil
        memberships of a bestuur free of extra lookups."""
        for other in _ROLE_RANK:
            other_key = membership_key(person, group, other)
            if other == role or other_key not in self.memberships:
                continue
            keep = role if _ROLE_RANK[role] < _ROLE_RANK[other] else other
            self.diagnostics.append(Diagnostic(
                Severity.WARNING, "two-roles", f"{self.person_labels.get(person, person)} is both {role} and "
                f"{other} in {self.objects[group].label}; keeping {keep}", object=f"{person}|{group}",
            ))
            if keep == role:
                del self.memberships[other_key]
                return True
            return False
        return True

    # -- persons and accounts ---------------------------------------------------------------

    def _person(self, person: Person) -> None:
        sync = self.ids.resolve(person)
        self.person_keys[person.key] = sync
        if sync in self.persons:
            return
        self.persons[sync] = person
        self.person_labels[sync] = person.display_name
        if person.kind is not PersonKind.STUDENT:
            self.non_pupils.add(sync)
        in_scope = [b for b in person.schools if b in self.scope]
        self.home[sync] = in_scope[0]
        self.person_schools[sync] = in_scope

    def finish_accounts(self) -> None:
        """User names (never renaming an existing account), e-mail, person objects, school memberships."""
        order = sorted(self.persons)
        usernames = unique_usernames(order, self.ids.usernames, self._username_base)
        for sync in order:
            person = self.persons[sync]
            self._person_object(sync, person, usernames[sync])
            role = _SCHOOL_ROLE[person.kind]
            home_school = self.home[sync]
            for brin6 in self.person_schools[sync]:
                group = school_key(brin6)
                self.memberships[membership_key(sync, group, role)] = LeanMembership.of(sync, group, role,
                                                                                        brin6 == home_school, brin6)

    def _username_base(self, sync: str) -> str:
        name, problem = username_base(self.s.accounts, self.persons[sync], self._template_values)
        if problem is not None:
            self.diagnostics.append(problem)
        return name

    def _template_values(self, person: Person) -> dict[str, str]:
        home = self.home.get(self.person_keys.get(person.key, ""), person.schools[0] if person.schools else "")
        return {
            "roepnaam": person.roepnaam, "voorvoegsel": person.voorvoegsel, "achternaam": person.achternaam,
            "initial": person.roepnaam[:1], "leerlingnummer": person.leerlingnummer or person.las_key,
            "docentcode": person.docentcode or person.las_key, "las_key": person.las_key, "brin6": home,
            "school_name": self.school_names.get(home, ""),
        }

    def _person_object(self, sync: str, person: Person, username: str) -> None:
        attrs: PersonAttrs = {
            "role": _ROLE_OF_KIND[person.kind],
            "given": person.roepnaam,
            "prefix": person.voorvoegsel,
            "family": person.achternaam,
            "username": username,
            "email": email_of(self.s.accounts, person, username, self._template_values),
        }
        if person.kind is PersonKind.GUARDIAN:
            attrs["children"] = tuple(sorted(self.person_keys[c] for c in person.children if c in self.person_keys))
        meta = {
            "source": person.source, "las_key": person.las_key, "eckid": person.eckid,
            "leerlingnummer": person.leerlingnummer, "docentcode": person.docentcode,
            "schools": list(self.person_schools[sync]),
        }
        meta = {k: v for k, v in meta.items() if v}
        self.objects[sync] = DesiredObject.make(ObjectKind.PERSON, sync, attrs, school=self.home[sync],
                                                label=self.person_labels[sync], meta=meta)


# -- scope ------------------------------------------------------------------------------------------


def _school_in_scope(f: FilterSettings, brin6: str) -> bool:
    if f.schools and not any(fnmatch.fnmatchcase(brin6, p) for p in f.schools):
        return False
    return not any(fnmatch.fnmatchcase(brin6, p) for p in f.exclude_schools)


def _klas_in_scope(f: FilterSettings, group: Group) -> bool:
    if f.leerjaren and group.leerjaar not in f.leerjaren:
        return False
    return not f.klassen or any(fnmatch.fnmatchcase(group.name, p) for p in f.klassen)


def _persons_in_scope(roster: Roster, schools: Mapping[str, School], f: FilterSettings) -> dict[str, Person]:
    """By kind and school, and pupils by the klas and leerjaar filters through their stamgroep."""
    kinds = set(f.person_kinds)
    filtering_klassen = bool(f.leerjaren or f.klassen)
    # A pass over every membership: only when a filter needs it.
    klas_of = _klas_of_person(roster, roster.groups) if filtering_klassen else {}
    persons_in: dict[str, Person] = {}
    for key, person in roster.persons.items():
        if person.kind not in kinds:
            continue
        if not any(b in schools for b in person.schools):
            continue
        if person.kind is PersonKind.STUDENT and filtering_klassen:
            klas = klas_of.get(key)
            if klas is None or not _klas_in_scope(f, klas):
                continue
        persons_in[key] = person
    return persons_in


def _groups_in_scope(roster: Roster, schools: Mapping[str, School], f: FilterSettings) -> dict[str, Group]:
    filtering_klassen = bool(f.leerjaren or f.klassen)
    groups_in: dict[str, Group] = {}
    for key, g in roster.groups.items():
        if g.school not in schools:
            continue
        if g.kind is GroupKind.STAMGROEP and filtering_klassen and not _klas_in_scope(f, g):
            continue
        if g.kind is not GroupKind.STAMGROEP and f.leerjaren and g.leerjaar is not None \
                and g.leerjaar not in f.leerjaren:
            continue
        groups_in[key] = g
    return groups_in


# -- memberships ------------------------------------------------------------------------------------


def _klas_of_person(roster: Roster, groups_in: Mapping[str, Group]) -> dict[str, Group]:
    """Each pupil's klas (stamgroep): what a klas × vak or vak × jaarlaag course is derived from."""
    out: dict[str, Group] = {}
    for m in roster.memberships:
        if m.role is Role.STUDENT:
            klas = groups_in.get(m.group)
            if klas is not None and klas.kind is GroupKind.STAMGROEP:
                out[m.person] = klas
    return out


def _routes(groups_in: Mapping[str, Group], course_of: Mapping[str, list[str]],
            klas_node: Mapping[str, str]) -> dict[str, tuple[int, str, str, str]]:
    """Where a group's members go: group -> (mode, its klas node or course ("" when derived), school, "")."""
    routes: dict[str, tuple[int, str, str, str]] = {}
    for key, g in groups_in.items():
        if g.kind is GroupKind.STAMGROEP:
            node = klas_node.get(key)
            if node is not None:
                routes[key] = (_ROUTE_KLAS, node, g.school, "")
        elif key in course_of:
            routes[key] = (_ROUTE_COURSE, course_of[key][0], g.school, "")
        else:
            routes[key] = (_ROUTE_DERIVED, "", g.school, "")
    return routes


def identity_index_from_rows(rows: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any], str]]) -> IdentityIndex:
    """Build the index from state rows of persons: (sync key, attrs, meta, status)."""
    by_eckid: dict[str, str] = {}
    by_las: dict[tuple[str, str], str] = {}
    usernames: dict[str, str] = {}
    for key, attrs, meta, status in rows:
        if meta.get("eckid"):
            by_eckid[meta["eckid"]] = key
        if meta.get("source") and meta.get("las_key"):
            by_las[(meta["source"], meta["las_key"])] = key
        if attrs.get("username") and status != "deleted":
            usernames[key] = attrs["username"]
    return IdentityIndex(by_eckid, by_las, usernames)
