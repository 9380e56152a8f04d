"""koppel's objects as School Data Sync v2.1 CSV rows. Pure: no files, no sockets, no clock (``today`` is passed in).

SDS v2.1 reads a *set* of CSV files, always the same set, every upload a complete snapshot (bulk only): a record
missing from a later upload is marked inactive (docs/targets/sds.md, with the sources). So the rows here are
built from the whole published roster (:class:`koppel.targets.files.MirrorObject`\\ s), not from a run's changes:

=====================  ===========================================================================
file                   rows
=====================  ===========================================================================
orgs.csv               every active school (type ``school``), and the bestuur when configured
users.csv              every active pupil and staff member with a role at an active school; every
                       active guardian of a published pupil (a parent contact: no role)
roles.csv              a person's school membership: ``student`` or the staff role, ``isPrimary`` on
                       the home school
classes.csv            every active course (and klas, with ``klassen``) of the flow's school year
enrollments.csv        a membership of such a class: ``student``; teachers and mentors ``teacher``
academicSessions.csv   the flow's school year (type ``schoolYear``)
relationships.csv      pupil → guardian (``guardian_role``)
=====================  ===========================================================================

Only the columns SDS requires and the ones koppel has a value for are written (AVG/GDPR data minimisation):
no password, phone, sms, birth date or demographics. A value never holds a line break (SDS refuses them): line
breaks and other control characters become a space.

**The flow's school year.** SDS accepts one inbound flow per academic year. The published set is that of the
earliest school year that still has an active class: next year's classes provisioned before the jaarovergang
are held back until the jaarovergang archives this year's, and then the set is written as a new flow (a new
folder). Without any class, the school year that ``today`` falls in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.model.roster import SchoolYear
from koppel.targets.base import Payload
from koppel.targets.files import MirrorObject

__all__ = [
    "ACADEMIC_SESSIONS",
    "CLASSES",
    "ENROLLMENTS",
    "FILES",
    "ORGS",
    "RELATIONSHIPS",
    "ROLES",
    "USERS",
    "MappingConfig",
    "SdsFiles",
    "cell",
    "csv_text",
    "flow_name",
    "object_problem",
    "preview_change",
    "write_csv",
]

ORGS = "orgs.csv"
USERS = "users.csv"
ROLES = "roles.csv"
CLASSES = "classes.csv"
ENROLLMENTS = "enrollments.csv"
ACADEMIC_SESSIONS = "academicSessions.csv"
RELATIONSHIPS = "relationships.csv"
FILES = (ORGS, USERS, ROLES, CLASSES, ENROLLMENTS, ACADEMIC_SESSIONS, RELATIONSHIPS)
"""The set koppel always writes, all seven files every time (SDS: "always supply the same set of files")."""

CLASS_TYPES = frozenset({"course", "klas"})
_STAFF_ROLES = frozenset({"teacher", "mentor"})
_NO_CONTROL = {c: " " for c in range(32)} | {0x7F: " ", 0x85: " ", 0x2028: " ", 0x2029: " "}


@dataclass(frozen=True)
class MappingConfig:
    """What of the settings the mapping needs (no secrets, nothing about SFTP)."""

    username_domain: str | None = None
    staff_role: str = "teacher"
    klassen: bool = True
    match_existing_accounts: bool = False
    emails: str = "guardians"
    guardian_role: str = "guardian"
    bestuur: tuple[str, str, str] | None = None  # (sourcedId, name, type)
    flow_folder: str = "{school_year}"

    # -- the headers: the SDS v2.1 names, in the order of Microsoft's sample set --------------------------

    def headers(self, name: str) -> tuple[str, ...]:
        if name == ORGS:
            return ("sourcedId", "name", "type") + (("parentSourcedId",) if self.bestuur else ())
        if name == USERS:
            return ("sourcedId", "username", "givenName", "familyName") + (
                ("activeDirectoryMatchId",) if self.match_existing_accounts else ()) + ("email",)
        return _FIXED_HEADERS[name]


_FIXED_HEADERS: dict[str, tuple[str, ...]] = {
    ROLES: ("userSourcedId", "orgSourcedId", "role", "isPrimary"),
    CLASSES: ("sourcedId", "orgSourcedId", "title", "sessionSourcedIds"),
    ENROLLMENTS: ("classSourcedId", "userSourcedId", "role"),
    ACADEMIC_SESSIONS: ("sourcedId", "title", "type", "schoolYear", "startDate", "endDate"),
    RELATIONSHIPS: ("userSourcedId", "relationshipUserSourcedId", "relationshipRole"),
}


def cell(value: Any) -> str:
    """A CSV value SDS accepts: text without line breaks or control characters (each becomes a space)."""
    if value is None:
        return ""
    return str(value).translate(_NO_CONTROL).strip()


def flow_name(year: SchoolYear, config: MappingConfig) -> str:
    """The folder of a school year's flow: ``2025-2026`` by default."""
    return config.flow_folder.format(school_year=str(year), academic_year=str(year.start_year + 1))


def session_id(year: SchoolYear) -> str:
    return f"schooljaar-{year}"


# -- per object: can SDS take it? -------------------------------------------------------------------------


def user_name(attrs: Mapping[str, Any], config: MappingConfig) -> str | None:
    """The sign-in name (UPN) SDS matches an account by: a guardian's e-mail (a parent contact has no account
    here); otherwise koppel's user name, with ``username_domain`` when it has no '@'. None when there is none."""
    if attrs.get("role") == "guardian":
        return cell(attrs.get("email")) or None
    username = cell(attrs.get("username"))
    if not username:
        return None
    if "@" in username:
        return username
    return f"{username}@{config.username_domain}" if config.username_domain else None


def family_name(attrs: Mapping[str, Any]) -> str:
    """SDS's familyName: voorvoegsel and achternaam together ("van der Berg"), as a Dutch surname is shown."""
    return " ".join(part for part in (cell(attrs.get("prefix")), cell(attrs.get("family"))) if part)


def object_problem(kind: ObjectKind, attrs: Mapping[str, Any], config: MappingConfig) -> str | None:
    """Why SDS cannot take this object (a per-object data error), or None."""
    if kind is ObjectKind.PERSON:
        if not cell(attrs.get("given")) or not family_name(attrs):
            return "SDS requires a givenName and a familyName for every user; this person lacks one"
        if attrs.get("role") == "guardian":
            if not cell(attrs.get("email")):
                return "a guardian has no e-mail address: SDS links a parent contact by e-mail"
            return None
        if user_name(attrs, config) is None:
            username = cell(attrs.get("username"))
            if not username:
                return "this person has no user name: SDS requires a username (the Microsoft 365 sign-in name)"
            return (f"user name {username!r} has no '@' and the target sets no username_domain: SDS requires the "
                    "Microsoft 365 sign-in name (user@domain)")
        return None
    if kind is ObjectKind.GROUP:
        group_type = attrs.get("type")
        if group_type in ("school", *CLASS_TYPES) and not cell(attrs.get("name")):
            return f"SDS requires a name for every {'org' if group_type == 'school' else 'class'}; this {group_type} has none"
        if group_type in CLASS_TYPES:
            try:
                SchoolYear.parse(str(attrs.get("school_year") or ""))
            except ValueError:
                return f"a {group_type} needs its school year (an SDS class belongs to one academic session)"
        return None
    return None


# -- the whole roster: rows per file ----------------------------------------------------------------------


class SdsFiles:
    """The rows of every file of one publication, from the roster to be published.

    Built once over the objects (bucketed by kind, references only); each file's rows are a generator, so a
    bestuur's million enrollments are written as they are made, never held as rows.
    """

    def __init__(self, objects: Iterable[MirrorObject], config: MappingConfig, *, today: Any) -> None:
        self.config = config
        self.groups: list[MirrorObject] = []
        self.persons: dict[str, MirrorObject] = {}
        self.memberships: list[MirrorObject] = []
        for obj in objects:
            if obj.status != "active":
                continue
            if obj.kind is ObjectKind.GROUP:
                self.groups.append(obj)
            elif obj.kind is ObjectKind.PERSON:
                self.persons[obj.key] = obj
            else:
                self.memberships.append(obj)
        self.schools: dict[str, str] = {}  # BRIN6 -> the school's sync key
        school_keys: set[str] = set()
        for group in self.groups:
            if group.attrs.get("type") == "school":
                school_keys.add(group.key)
                self.schools.setdefault(str(group.attrs.get("school")), group.key)
        years = {group.attrs.get("school_year") for group in self.groups if group.attrs.get("type") in CLASS_TYPES}
        parsed = sorted(SchoolYear.parse(y) for y in years if isinstance(y, str) and _is_year(y))
        self.year: SchoolYear = parsed[0] if parsed else SchoolYear.containing(today)
        self.held_back: int = sum(1 for g in self.groups if g.attrs.get("type") in CLASS_TYPES
                                  and g.attrs.get("school_year") != str(self.year))
        self.classes: dict[str, str] = {}  # class key -> its org's key
        kinds = CLASS_TYPES if config.klassen else frozenset({"course"})
        for group in self.groups:
            attrs = group.attrs
            if attrs.get("type") in kinds and attrs.get("school_year") == str(self.year):
                org = self.schools.get(str(attrs.get("school")))
                if org is not None:
                    self.classes[group.key] = org
        self._school_keys = school_keys
        self.roles: dict[tuple[str, str, str], bool] = {}  # (user, org, role) -> isPrimary
        for m in self.memberships:
            attrs = m.attrs
            org = attrs.get("group")
            if org in school_keys and attrs.get("person") in self.persons:
                role = self._org_role(attrs.get("role"))
                if role is not None:
                    ident = (attrs["person"], org, role)
                    self.roles[ident] = self.roles.get(ident, False) or bool(attrs.get("home"))
        self.users: set[str] = {user for user, _, _ in self.roles}
        self.relationships: list[tuple[str, str]] = []
        for key, person in self.persons.items():
            if person.attrs.get("role") != "guardian":
                continue
            children = [c for c in person.attrs.get("children") or () if c in self.users]
            self.relationships.extend((child, key) for child in children)
        self.users.update(guardian for _, guardian in self.relationships)

    @property
    def flow(self) -> str:
        return flow_name(self.year, self.config)

    def _org_role(self, role: object) -> str | None:
        if role == "student":
            return "student"
        if role in _STAFF_ROLES:
            return self.config.staff_role
        return None  # a guardian is a contact in relationships.csv, not a role at a school

    def rows(self, name: str) -> Iterator[tuple[str, ...]]:
        return {ORGS: self._orgs, USERS: self._users, ROLES: self._roles, CLASSES: self._classes,
                ENROLLMENTS: self._enrollments, ACADEMIC_SESSIONS: self._sessions,
                RELATIONSHIPS: self._relationships}[name]()

    def _orgs(self) -> Iterator[tuple[str, ...]]:
        bestuur = self.config.bestuur
        if bestuur is not None:
            yield (cell(bestuur[0]), cell(bestuur[1]), bestuur[2], "")
        for group in self.groups:
            if group.key in self._school_keys:
                row = (group.key, cell(group.attrs.get("name")), "school")
                yield row + (cell(bestuur[0]),) if bestuur is not None else row

    def _users(self) -> Iterator[tuple[str, ...]]:
        match, all_emails = self.config.match_existing_accounts, self.config.emails == "all"
        for key, person in self.persons.items():
            if key not in self.users:
                continue
            attrs = person.attrs
            username = user_name(attrs, self.config) or ""
            email = cell(attrs.get("email")) if all_emails or attrs.get("role") == "guardian" else ""
            head = (key, username, cell(attrs.get("given")), family_name(attrs))
            yield head + ((username if attrs.get("role") != "guardian" else "",) if match else ()) + (email,)

    def _roles(self) -> Iterator[tuple[str, ...]]:
        for (user, org, role), primary in self.roles.items():
            yield (user, org, role, "true" if primary else "false")

    def _classes(self) -> Iterator[tuple[str, ...]]:
        session = session_id(self.year)
        for group in self.groups:
            org = self.classes.get(group.key)
            if org is not None:
                yield (group.key, org, cell(group.attrs.get("name")), session)

    def _enrollments(self) -> Iterator[tuple[str, ...]]:
        classes, users = self.classes, self.users
        staff_seen: set[tuple[str, str]] = set()
        for m in self.memberships:
            attrs = m.attrs
            group, person, role = attrs.get("group"), attrs.get("person"), attrs.get("role")
            if group not in classes or person not in users:
                continue
            if role == "student":
                yield (group, person, "student")
            elif role in _STAFF_ROLES and (group, person) not in staff_seen:
                staff_seen.add((group, person))
                yield (group, person, "teacher")

    def _sessions(self) -> Iterator[tuple[str, ...]]:
        year = self.year
        yield (session_id(year), f"Schooljaar {year}", "schoolYear", str(year.start_year + 1), year.start.isoformat(),
               year.end.isoformat())

    def _relationships(self) -> Iterator[tuple[str, ...]]:
        role = self.config.guardian_role
        for child, guardian in self.relationships:
            yield (child, guardian, role)


def _is_year(text: str) -> bool:
    try:
        SchoolYear.parse(text)
    except ValueError:
        return False
    return True


def write_csv(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """RFC 4180 CSV (comma, CRLF, quotes only where needed) with the header first; returns the data rows."""
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    write_csv(out, header, rows)
    return out.getvalue()


# -- previews: what one change does to the files ----------------------------------------------------------


def preview_change(change: Change, config: MappingConfig) -> list[Payload]:
    """The row one change adds to (or takes from) the published set, for ``koppel plan --show-payloads``.

    Every publication is a full set; a change shows as its own row. Membership previews tell school and
    hierarchy groups by their sync-key form (``school:``, ``year:``, ``leerjaar:``), as the plan has no group types.
    """
    attrs: dict[str, Any] = {**(change.before or {}), **(change.after or {})}
    gone = change.action in (Action.DELETE, Action.SUSPEND, Action.ARCHIVE)
    target = _preview_row(change.kind, change.key, attrs, config)
    if target is None:
        return [Payload("(not in the SDS files)", "koppel keeps this object for the hierarchy only; SDS has no such record")]
    name, row = target
    if gone:
        return [Payload(f"{name}: row left out from the next publication on", csv_text(config.headers(name), [row]))]
    problem = object_problem(change.kind, attrs, config)
    if problem is not None:
        return []
    return [Payload(f"{name}: row in every publication from now on", csv_text(config.headers(name), [row]))]


def _preview_row(kind: ObjectKind, key: str, attrs: Mapping[str, Any],
                 config: MappingConfig) -> tuple[str, tuple[str, ...]] | None:
    if kind is ObjectKind.PERSON:
        username = user_name(attrs, config) or ""
        guardian = attrs.get("role") == "guardian"
        email = cell(attrs.get("email")) if config.emails == "all" or guardian else ""
        row = (key, username, cell(attrs.get("given")), family_name(attrs))
        return USERS, row + (((username if not guardian else ""),) if config.match_existing_accounts else ()) + (email,)
    if kind is ObjectKind.GROUP:
        group_type = attrs.get("type")
        if group_type == "school":
            org: tuple[str, ...] = (key, cell(attrs.get("name")), "school")
            return ORGS, org + ((config.bestuur[0],) if config.bestuur else ())
        if group_type == "course" or (group_type == "klas" and config.klassen):
            year = str(attrs.get("school_year") or "")
            return CLASSES, (key, f"school:{attrs.get('school')}", cell(attrs.get("name")), f"schooljaar-{year}")
        return None
    group, person, role = str(attrs.get("group", "")), str(attrs.get("person", "")), attrs.get("role")
    if group.startswith(("year:", "leerjaar:")) or role == "guardian":
        return None
    if group.startswith("school:"):
        org_role = "student" if role == "student" else config.staff_role
        return ROLES, (person, group, org_role, "true" if attrs.get("home") else "false")
    return ENROLLMENTS, (group, person, "student" if role == "student" else "teacher")
