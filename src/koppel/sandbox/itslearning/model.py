"""The emulated site's vocabulary: IMS status codes, itslearning's types, roles and profiles, records.

Two kinds of value live here. *Payloads* (``PersonData``, ``GroupData``, ``MembershipData``) are what a
request said, decoded but not yet judged: ``None`` means "the element was not sent", ``""`` means "sent
empty" — the difference matters because updates are additive and an empty element clears a field
(itslearning-and-target-formats §1.3). *Records* are what the site holds, as read back from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .namespaces import Service

__all__ = [
    "GROUP_TYPE_SCHEME",
    "CodeMajor",
    "CodeMinor",
    "Course",
    "ExtensionField",
    "Group",
    "GroupData",
    "GroupType",
    "MemberData",
    "Membership",
    "MembershipData",
    "ObjectKind",
    "Origin",
    "Outcome",
    "Person",
    "PersonData",
    "Profile",
    "Record",
    "RoleType",
    "Severity",
    "Status",
    "profile_for",
]


class CodeMajor(StrEnum):
    """IMS ``statusInfo/codeMajor`` (itslearning-and-target-formats §1.4)."""

    SUCCESS = "success"
    PROCESSING = "processing"
    FAILURE = "failure"
    UNSUPPORTED = "unsupported"


class Severity(StrEnum):
    """IMS ``statusInfo/severity``."""

    STATUS = "status"
    WARNING = "warning"
    ERROR = "error"


class CodeMinor(StrEnum):
    """The IMS ES/LIS codeMinor vocabulary. itslearning does not publish which values it emits; the
    sandbox uses the ones whose IMS meaning fits (documented per rule in docs/sandbox-itslearning.md)."""

    FULLSUCCESS = "fullsuccess"
    INVALIDDATA = "invaliddata"
    INCOMPLETEDATA = "incompletedata"
    PARTIALDATASTORAGE = "partialdatastorage"
    UNKNOWNOBJECT = "unknownobject"
    UNKNOWNVOCAB = "unknownvocab"


@dataclass(frozen=True, slots=True)
class Status:
    """One ``statusInfo``: the outcome of one item of a request."""

    major: CodeMajor
    severity: Severity
    minor: CodeMinor | None = None
    description: str | None = None

    @classmethod
    def success(cls) -> Status:
        return cls(CodeMajor.SUCCESS, Severity.STATUS)

    @classmethod
    def warning(cls, minor: CodeMinor, description: str) -> Status:
        """Done, but not everything asked for was stored."""
        return cls(CodeMajor.SUCCESS, Severity.WARNING, minor, description)

    @classmethod
    def failure(cls, minor: CodeMinor, description: str) -> Status:
        """Not done; nothing of this item was written."""
        return cls(CodeMajor.FAILURE, Severity.ERROR, minor, description)

    @property
    def ok(self) -> bool:
        return self.major is CodeMajor.SUCCESS


class ObjectKind(StrEnum):
    """The three kinds of IMS ES object; the value is the element's local name."""

    PERSON = "person"
    GROUP = "group"
    MEMBERSHIP = "membership"

    @property
    def service(self) -> Service:
        """The service that manages this kind (and whose Data schema holds its contents)."""
        return _SERVICE_OF_KIND[self]

    @property
    def noun(self) -> str:
        """As it appears in operation names: ``createPerson``, ``readGroups`` …"""
        return self.value.capitalize()


_SERVICE_OF_KIND = {
    ObjectKind.PERSON: Service.PMS,
    ObjectKind.GROUP: Service.GMS,
    ObjectKind.MEMBERSHIP: Service.MMS,
}


class GroupType(StrEnum):
    """``groupType/typeValue/type`` under scheme ``ItslearningOrganisationTypes`` (§1.7)."""

    UNSPECIFIED = "Unspecified"
    SITE = "Site"
    SCHOOL = "School"
    COURSE = "Course"
    COURSE_GROUP = "CourseGroup"


GROUP_TYPE_SCHEME = "ItslearningOrganisationTypes"


class RoleType(StrEnum):
    """``member/role/roleType``: sent as the literal or as its two-digit IMS code (§1.8)."""

    LEARNER = "Learner"
    INSTRUCTOR = "Instructor"
    CONTENT_DEVELOPER = "ContentDeveloper"
    MEMBER = "Member"
    MANAGER = "Manager"
    MENTOR = "Mentor"
    ADMINISTRATOR = "Administrator"
    TEACHING_ASSISTANT = "TeachingAssistant"

    @property
    def code(self) -> str:
        return f"{list(RoleType).index(self) + 1:02d}"

    @property
    def hierarchy_role(self) -> str:
        """The role this gives in an itslearning hierarchy (Managing-memberships.html)."""
        return _HIERARCHY_ROLE.get(self, self.value)

    @classmethod
    def parse(cls, raw: str) -> RoleType | None:
        """The role for a literal (``Learner``) or code (``01``); None when it is neither."""
        for role in cls:
            if raw in (role.value, role.code):
                return role
        return None


_HIERARCHY_ROLE = {
    RoleType.LEARNER: "Student",
    RoleType.INSTRUCTOR: "Teacher",
    RoleType.CONTENT_DEVELOPER: "Guest",
    RoleType.MEMBER: "Guest",
}


class Profile(StrEnum):
    """The itslearning user profile an ``institutionRoleType`` maps to by default (§1.6)."""

    STUDENT = "Student"
    STAFF = "Staff"
    PARENT = "Parent"
    ADMINISTRATOR = "Administrator"
    GUEST = "Guest"
    EXTERNAL_DEFAULT = "Default profile for external enrolment"


_PROFILE_FOR_ROLE = {
    "Student": Profile.STUDENT,
    "Staff": Profile.STAFF,
    "Carer": Profile.PARENT,
    "Administrator": Profile.ADMINISTRATOR,
    "Guest": Profile.GUEST,
}


def profile_for(institution_role: str, site_profiles: frozenset[str] = frozenset()) -> str:
    """itslearning's default "Synchronisation – Map from profile" table; a profile name the site knows
    (``extra_institution_roles``) gives that profile (How_to_assign_profiles_to_users.html); anything
    else gets the default profile for external enrolment. Matching is exact, as the IMS vocabulary is."""
    if institution_role in site_profiles:
        return institution_role
    return _PROFILE_FOR_ROLE.get(institution_role, Profile.EXTERNAL_DEFAULT).value


class Origin(StrEnum):
    """How a user came to be: through IMS ES, or typed in by an administrator (readAllPersons'
    ``OnlyManuallyCreatedUsers`` filters on this)."""

    IMS = "ims"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class ExtensionField:
    """``extension/extensionField{fieldName, fieldType, fieldValue}`` (Common schema)."""

    name: str
    type: str
    value: str


# ---------------------------------------------------------------------------------------------------
# Payloads: what one request item said.


@dataclass(frozen=True, slots=True)
class PersonData:
    first: str | None = None
    last: str | None = None
    prefix: str | None = None
    email: str | None = None
    username: str | None = None
    institution_role: str | None = None
    """None: no ``institutionRole`` element; "": an ``institutionRole`` without ``institutionRoleType``."""
    extension_fields: tuple[ExtensionField, ...] = ()
    children: tuple[str, ...] | None = None
    """Sync keys from ``extension/relationship{relation=Child}``; None when no relationship was sent."""


@dataclass(frozen=True, slots=True)
class GroupData:
    has_group_type: bool = False
    scheme: str | None = None
    type_name: str | None = None
    level: str | None = None
    relation: str | None = None
    """``relationship/relation``; None when the group carried no ``relationship`` at all."""
    parent_key: str | None = None
    name: str | None = None
    desc_long: str | None = None
    desc_full: str | None = None
    extension_fields: tuple[ExtensionField, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberData:
    person_key: str | None = None
    role: str | None = None
    home_organisation: str | None = None
    """The raw ``HomeOrganisation`` extension value; None when not sent."""


@dataclass(frozen=True, slots=True)
class MembershipData:
    group_key: str | None = None
    members: tuple[MemberData, ...] = ()


# ---------------------------------------------------------------------------------------------------
# Records: what the site holds.


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    sync_key: str | None
    first: str
    last: str
    prefix: str | None
    username: str | None
    email: str | None
    institution_role: str
    profile: str
    """A :class:`Profile` value, or one of the site's own profile names (``extra_institution_roles``)."""
    origin: Origin
    created_at: str
    updated_at: str
    trashed_at: str | None
    extension_fields: tuple[ExtensionField, ...]
    children: tuple[str, ...]

    @property
    def trashed(self) -> bool:
        return self.trashed_at is not None


@dataclass(frozen=True, slots=True)
class Course:
    """A course lives beside its hierarchy and outlives it: deleting the hierarchy only disconnects it."""

    id: int
    group_id: int | None
    sync_id: str
    """The sync id of the hierarchy it was created with (kept after disconnection, for display)."""
    title: str
    code: str | None
    credits: str | None
    created_at: str
    disconnected_at: str | None

    @property
    def orphaned(self) -> bool:
        return self.group_id is None


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    sync_id: str
    type: GroupType
    name: str
    desc_long: str | None
    desc_full: str | None
    parent_id: int | None
    parent_sync_id: str | None
    extension_fields: tuple[ExtensionField, ...]
    course: Course | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Membership:
    id: int
    sync_id: str
    group_id: int
    group_sync_id: str
    person_id: int
    person_sync_key: str | None
    role: RoleType
    home_organisation: bool
    person_trashed: bool
    created_at: str
    updated_at: str


Record = Person | Group | Membership


@dataclass(frozen=True)
class Outcome:
    """What the site did with one request: a status per item (request order) and, for reads, what was
    found — in the order the response lists it."""

    statuses: tuple[Status, ...]
    found: tuple[Record, ...] = ()
    virtual_count: int | None = None
