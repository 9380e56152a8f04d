"""koppel's target-neutral objects as OneRoster CSV rows, per file and per version. Pure: no I/O, no clock.

What becomes what (docs/targets/oneroster-csv.md has the tables):

* a **school** group → an ``orgs`` row (type ``school``, identifier the BRIN6);
* a **klas** → a ``classes`` row with classType ``homeroom``, a **course** → ``scheduled``; each with its own
  ``courses`` row (OneRoster requires a class's course: koppel's course strategy already decided what a course
  is, so one OneRoster course per class, its courseCode the vak) and, as its term, the ``academicSessions`` row of its school year
  (type ``schoolYear``, 1 August – 31 July); folders (school year, leerjaar) have no OneRoster counterpart;
* a **person** → a ``users`` row; its school memberships are the user's orgs (1.1 ``orgSourcedIds`` and
  ``role``; 1.2 one ``roles`` row each, the home school ``primary``);
* a membership of a klas or course → an ``enrollments`` row (a mentor is the klas's ``teacher``, primary).

Every sourcedId is the object's sync key (a membership's ``person|group|role``), which never changes for the
same object; a key OneRoster cannot carry (a comma, which would split a multi-value cell, a control character,
or over 200 characters) is replaced by ``h-`` and a stable digest of it. Rows are tuples of strings in the
order of the version's header, without the three leading columns (sourcedId, status, dateLastModified), which
the writer adds: a bulk file leaves status and dateLastModified empty, a delta fills them.

Nothing the platform does not need is written (AVG data minimisation): no demographics, no password, no ECK iD,
no leerlingnummer; ``sms``, ``phone``, ``identifier`` and ``userIds`` stay empty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.model.keys import school_key
from koppel.model.roster import SchoolYear
from koppel.targets.onerostercsv.settings import ArchivedClasses, SuspendedUsers, Voorvoegsel
from koppel.textsafe import field_problem

__all__ = [
    "COMMON",
    "FILES",
    "HEADERS",
    "MANIFEST_FILES",
    "Body",
    "MappingOptions",
    "Obj",
    "SchoolTie",
    "class_body",
    "course_body",
    "course_id",
    "enrollment_body",
    "org_body",
    "org_id_of",
    "refusal",
    "role_bodies",
    "session_body",
    "session_id",
    "sourced_id",
    "user_body",
]

Body = tuple[str, ...]
"""A row's values after sourcedId, status and dateLastModified, in the header's order."""

COMMON = ("sourcedId", "status", "dateLastModified")

_USERS_11 = ("enabledUser", "orgSourcedIds", "role", "username", "userIds", "givenName", "familyName", "middleName",
             "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password")
_USERS_12 = ("enabledUser", "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
             "sms", "phone", "agentSourcedIds", "grades", "password", "userMasterIdentifier", "preferredGivenName",
             "preferredMiddleName", "preferredFamilyName", "primaryOrgSourcedId", "pronouns")
_SHARED = {
    "academicSessions": ("title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"),
    "orgs": ("name", "type", "identifier", "parentSourcedId"),
    "courses": ("schoolYearSourcedId", "title", "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes"),
    "classes": ("title", "grades", "courseSourcedId", "classCode", "classType", "location", "schoolSourcedId",
                "termSourcedIds", "subjects", "subjectCodes", "periods"),
    "enrollments": ("classSourcedId", "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate", "endDate"),
}
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "1.1": {**_SHARED, "users": _USERS_11},
    "1.2": {**_SHARED, "users": _USERS_12,
            "roles": ("userSourcedId", "roleType", "role", "beginDate", "endDate", "orgSourcedId",
                      "userProfileSourcedId")},
}
"""The columns of each file koppel writes, after :data:`COMMON`, as the OneRoster 1.1 CSV tables and the 1.2 CSV
binding name them (and as the sample sets in shared/specs/oneroster/ spell them, case included)."""

FILES: dict[str, tuple[str, ...]] = {
    "1.1": ("academicSessions", "orgs", "courses", "classes", "users", "enrollments"),
    "1.2": ("academicSessions", "orgs", "courses", "classes", "users", "roles", "enrollments"),
}
"""The files koppel writes, in the order a consumer processes them (sessions and orgs before what refers to them)."""

MANIFEST_FILES: dict[str, tuple[str, ...]] = {
    "1.1": ("academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
            "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users"),
    "1.2": ("academicSessions", "categories", "classResources", "classes", "courseResources", "courses",
            "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItemScoreScales", "lineItems",
            "orgs", "resources", "resultLearningObjectiveIds", "resultScoreScales", "results", "roles",
            "scoreScales", "userProfiles", "userResources", "users"),
}
"""Every file type of the version, each listed in manifest.csv (those koppel does not write as ``absent``)."""

_USER_ROLE = {"student": "student", "staff": "teacher", "guardian": "guardian"}
_CLASS_TYPE = {"klas": "homeroom", "course": "scheduled"}
_GROUP_TYPES = ("school", "folder", "klas", "course")
_PERSON_ROLES = ("student", "staff", "guardian")
_TRUE, _FALSE = "TRUE", "FALSE"  # as the sample sets write booleans


class Obj(Protocol):
    """An object as the target holds it: the published mirror's objects (``koppel.targets.files.MirrorObject``)."""

    kind: ObjectKind
    key: str
    attrs: dict[str, Any]
    status: str


@dataclass(frozen=True, slots=True)
class MappingOptions:
    version: str = "1.1"
    voorvoegsel: Voorvoegsel = Voorvoegsel.FAMILY_NAME
    suspended: SuspendedUsers = SuspendedUsers.DISABLE
    archived: ArchivedClasses = ArchivedClasses.KEEP

    def written_group(self, group: Obj) -> bool:
        return group.status != "archived" or self.archived is ArchivedClasses.KEEP

    def written_person(self, person: Obj) -> bool:
        return person.status != "suspended" or self.suspended is SuspendedUsers.DISABLE


@dataclass(frozen=True, slots=True)
class SchoolTie:
    """A person's membership of a school group: what 1.1 writes as an orgSourcedId, 1.2 as a roles row."""

    key: str  # the membership's sync key
    org: str  # the school's org sourcedId
    role: str  # student | teacher | guardian
    home: bool


# -- identifiers ------------------------------------------------------------------------------------------


def sourced_id(key: str) -> str:
    """The sourcedId of the object with sync key ``key``: the key itself, or ``h-<32 hex>`` of it when OneRoster
    cannot carry it (a comma splits a multi-value cell; control characters; over 200 characters)."""
    if len(key) <= 200 and "," not in key and '"' not in key and field_problem(key, "id") is None:
        return key
    return "h-" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def session_id(school_year: str) -> str:
    """The academicSession of a school year, shared by every school: ``schoolyear:2025-2026``."""
    return f"schoolyear:{school_year}"


def course_id(class_key: str) -> str:
    """The OneRoster course of the class with sync key ``class_key``."""
    return sourced_id(f"course:{class_key}")


def org_id_of(brin6: str, orgs_by_brin: Mapping[str, str]) -> str:
    """The org sourcedId of the school with this BRIN6: its school group's, else the school key's."""
    return orgs_by_brin.get(brin6) or sourced_id(school_key(brin6))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _grades(leerjaar: Any) -> str:
    """A leerjaar as OneRoster's grades cell: two digits, as CEDS grade codes are written ("01")."""
    return f"{leerjaar:02d}" if isinstance(leerjaar, int) and not isinstance(leerjaar, bool) and leerjaar >= 0 else ""


# -- rows ---------------------------------------------------------------------------------------------------


def org_body(school: Obj) -> Body:
    a = school.attrs
    return (_text(a.get("name")), "school", _text(a.get("code") or a.get("school")), "")


def session_body(school_year: str) -> Body:
    year = SchoolYear.parse(school_year)
    return (school_year, "schoolYear", year.start.isoformat(), year.end.isoformat(), "", str(year.start_year + 1))


def course_body(group: Obj, org: str) -> Body:
    a = group.attrs
    year = a.get("school_year")
    return (session_id(year) if year else "", _text(a.get("name")), _text(a.get("subject")),
            _grades(a.get("leerjaar")), org, "", _text(a.get("subject")))


def class_body(group: Obj, org: str) -> Body:
    a = group.attrs
    year = a.get("school_year")
    return (_text(a.get("name")), _grades(a.get("leerjaar")), course_id(group.key), _text(a.get("code")),
            _CLASS_TYPE[a["type"]], "", org, session_id(year) if year else "", "", _text(a.get("subject")), "")


def _names(person: Obj, opts: MappingOptions) -> tuple[str, str, str]:
    """(givenName, familyName, middleName)."""
    a = person.attrs
    given, prefix, family = _text(a.get("given")), _text(a.get("prefix")).strip(), _text(a.get("family"))
    if opts.voorvoegsel is Voorvoegsel.MIDDLE_NAME:
        return given, family, prefix
    return given, f"{prefix} {family}" if prefix else family, ""


def user_body(person: Obj, ties: Sequence[SchoolTie], agents: Iterable[str], opts: MappingOptions,
              orgs_by_brin: Mapping[str, str]) -> Body | None:
    """The users row of ``person``; None when it is not written (suspended, with ``suspended_users = omit``).

    ``ties`` are its school memberships (the home school first); a person without any (a suspended one whose
    memberships were removed) keeps the org of the school it was last seen in, as OneRoster requires one.
    """
    if not opts.written_person(person):
        return None
    a = person.attrs
    given, family, middle = _names(person, opts)
    enabled = _TRUE if person.status == "active" else _FALSE
    orgs = list(dict.fromkeys(t.org for t in sorted(ties, key=lambda t: not t.home)))
    if not orgs and a.get("_school"):
        orgs = [org_id_of(a["_school"], orgs_by_brin)]
    agent_cell = ",".join(sorted(dict.fromkeys(agents)))
    if opts.version == "1.1":
        return (enabled, ",".join(orgs), _USER_ROLE.get(a.get("role", ""), "teacher"), _text(a.get("username")), "",
                given, family, middle, "", _text(a.get("email")), "", "", agent_cell, "", "")
    return (enabled, _text(a.get("username")), "", given, family, middle, "", _text(a.get("email")), "", "",
            agent_cell, "", "", "", "", "", "", orgs[0] if orgs else "", "")


def role_bodies(person: Obj, ties: Sequence[SchoolTie], opts: MappingOptions) -> dict[str, Body]:
    """1.2: the roles rows of ``person``, one per school membership (``primary`` for the home school)."""
    if not opts.written_person(person):
        return {}
    user = sourced_id(person.key)
    return {sourced_id(t.key): (user, "primary" if t.home else "secondary", t.role, "", "", t.org, "") for t in ties}


def enrollment_body(membership: Obj, group: Obj, org: str, opts: MappingOptions) -> Body | None:
    """The enrollments row of a membership of a klas or course; None for one OneRoster has no row for (of a
    school or a folder, of a group not written, a guardian's in 1.1)."""
    if group.attrs.get("type") not in _CLASS_TYPE or not opts.written_group(group):
        return None
    a = membership.attrs
    role = a.get("role")
    primary = ""
    if role == "mentor":
        role, primary = "teacher", _TRUE
    elif role == "guardian" and opts.version == "1.1":
        return None
    return (sourced_id(group.key), org, sourced_id(a["person"]), _text(role), primary, "", "")


# -- what cannot be written -----------------------------------------------------------------------------------


def refusal(change: Change, attrs: Mapping[str, Any], exists: Any, opts: MappingOptions) -> str | None:
    """Why ``change`` cannot be staged (a per-object data error), or None. ``attrs`` are the object's attributes
    after the change; ``exists(kind, key)`` says whether an object is held (published or staged)."""
    if change.action in (Action.DELETE, Action.SUSPEND, Action.ARCHIVE):
        return None
    if change.kind is ObjectKind.GROUP:
        kind = attrs.get("type")
        if kind not in _GROUP_TYPES:
            return f"group type {kind!r} is none of {', '.join(_GROUP_TYPES)}"
        if not _text(attrs.get("name")).strip():
            return "a group needs a name (OneRoster's title/name is required)"
        parent = attrs.get("parent")
        if parent and not exists(ObjectKind.GROUP, parent):
            return f"parent group {parent} is not in the roster (it must be created first)"
        if kind in _CLASS_TYPE and not attrs.get("school"):
            return "a klas or course needs its school (schoolSourcedId is required)"
        year = attrs.get("school_year")
        if kind in _CLASS_TYPE and year:
            try:
                SchoolYear.parse(year)
            except ValueError as exc:
                return str(exc)
        return None
    if change.kind is ObjectKind.PERSON:
        if attrs.get("role") not in _PERSON_ROLES:
            return f"person role {attrs.get('role')!r} is none of {', '.join(_PERSON_ROLES)}"
        missing = [name for name, field in (("givenName", "given"), ("familyName", "family"), ("username", "username"))
                   if not _text(attrs.get(field)).strip()]
        if missing:
            return f"OneRoster requires {', '.join(missing)}; this person has none"
        return None
    person, group = attrs.get("person"), attrs.get("group")
    if not person or not exists(ObjectKind.PERSON, person):
        return f"person {person} is not in the roster (it must be created first)"
    if not group or not exists(ObjectKind.GROUP, group):
        return f"group {group} is not in the roster (it must be created first)"
    return None
