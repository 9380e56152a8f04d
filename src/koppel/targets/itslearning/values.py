"""The values of itslearning's IMS Enterprise Services v1.0 messages: services, operations, objects.

itslearning provisions persons, hierarchies (groups) and memberships over IMS Enterprise Services v1.0
(SOAP 1.1), hosted as WCF services. This module names what travels: the namespaces, the services and
their operations, the IMS objects koppel sends and reads (:class:`ImsPerson`, :class:`ImsGroup`,
:class:`ImsMembership`), a request ready to post (:class:`SoapRequest`) and the parts of an answer
(:class:`SoapResponse`, :class:`StatusInfo`). :mod:`.requests` turns values into request envelopes,
:mod:`.responses` turns response envelopes into values; all three are pure (no sockets, no clock, no
randomness — the message identifier is an argument).

Only koppel's client uses them. The itslearning sandbox (:mod:`koppel.sandbox.itslearning`) does not:
it reads and writes the wire format on its own, from itslearning's documentation, so that a
misunderstanding in one shows up as a failing test instead of cancelling out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from lxml import etree

__all__ = [
    "CONTENT_TYPE",
    "NS",
    "ORGANISATION_TYPES_SCHEME",
    "PASSWORD_TEXT",
    "CodeMajor",
    "Credentials",
    "ExtensionField",
    "GroupType",
    "ImsGroup",
    "ImsMembership",
    "ImsPerson",
    "NamePartType",
    "Operation",
    "PageRequest",
    "PersonPage",
    "RequestHeader",
    "Service",
    "Severity",
    "SoapRequest",
    "SoapResponse",
    "StatusInfo",
    "WireObject",
]


class NS:
    """Namespace URIs. All IMS ones are the ES *v1p0* namespaces itslearning uses."""

    SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
    # Seen in itslearning's published deleteMembership(s) / changePersonIdentifier responses.
    SOAP_WITHOUT_SLASH = "http://schemas.xmlsoap.org/soap/envelope"
    XSI = "http://www.w3.org/2001/XMLSchema-instance"
    WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    BIND = "http://www.imsglobal.org/services/common/imsMessBindSchema_v1p0"
    COMMON = "http://www.imsglobal.org/services/common/imsCommonSchema_v1p0"
    PMS_MESS = "http://www.imsglobal.org/services/pms/xsd/imsPersonManMessSchema_v1p0"
    PMS_DATA = "http://www.imsglobal.org/services/pms/xsd/imsPersonManDataSchema_v1p0"
    GMS_MESS = "http://www.imsglobal.org/services/gms/xsd/imsGroupManMessSchema_v1p0"
    GMS_DATA = "http://www.imsglobal.org/services/gms/xsd/imsGroupManDataSchema_v1p0"
    MMS_MESS = "http://www.imsglobal.org/services/mms/xsd/imsMemberManMessSchema_v1p0"
    MMS_DATA = "http://www.imsglobal.org/services/mms/xsd/imsMemberManDataSchema_v1p0"


PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
)
ORGANISATION_TYPES_SCHEME = "ItslearningOrganisationTypes"
CONTENT_TYPE = "text/xml; charset=utf-8"

class Service(StrEnum):
    """An itslearning IMS ES service. The value is koppel's short name, also used in settings.

    ``epms`` is itslearning's proprietary ExtendedPersonManagement service (``readAllPersons``);
    its messages use the person management namespaces and the ``pms`` SOAPAction prefix.
    """

    PERSON = "pms"
    EXTENDED_PERSON = "epms"
    GROUP = "gms"
    MEMBERSHIP = "mms"

    @property
    def mess_ns(self) -> str:
        return _SERVICE_NS[self][0]

    @property
    def data_ns(self) -> str:
        return _SERVICE_NS[self][1]

    @property
    def action_prefix(self) -> str:
        return "pms" if self is Service.EXTENDED_PERSON else self.value

    @property
    def endpoint_file(self) -> str:
        """The WCF ``.svc`` file of the per-service endpoint (developer.itslearning.com)."""
        return _SERVICE_FILES[self]


_SERVICE_NS = {
    Service.PERSON: (NS.PMS_MESS, NS.PMS_DATA),
    Service.EXTENDED_PERSON: (NS.PMS_MESS, NS.PMS_DATA),
    Service.GROUP: (NS.GMS_MESS, NS.GMS_DATA),
    Service.MEMBERSHIP: (NS.MMS_MESS, NS.MMS_DATA),
}
_SERVICE_FILES = {
    Service.PERSON: "PersonManagementServiceSync.svc",
    Service.EXTENDED_PERSON: "ExtendedPersonManagementServiceSync.svc",
    Service.GROUP: "GroupManagementServiceSync.svc",
    Service.MEMBERSHIP: "MembershipManagementServiceSync.svc",
}


class Operation(StrEnum):
    """The IMS ES operations koppel uses; the value is the operation name on the wire."""

    CREATE_PERSON = "createPerson"
    CREATE_PERSONS = "createPersons"
    UPDATE_PERSON = "updatePerson"
    UPDATE_PERSONS = "updatePersons"
    DELETE_PERSON = "deletePerson"
    DELETE_PERSONS = "deletePersons"
    READ_PERSON = "readPerson"
    READ_PERSONS = "readPersons"
    READ_ALL_PERSONS = "readAllPersons"
    CREATE_GROUP = "createGroup"
    CREATE_GROUPS = "createGroups"
    UPDATE_GROUP = "updateGroup"
    UPDATE_GROUPS = "updateGroups"
    DELETE_GROUP = "deleteGroup"
    DELETE_GROUPS = "deleteGroups"
    READ_GROUP = "readGroup"
    READ_GROUPS = "readGroups"
    CREATE_MEMBERSHIP = "createMembership"
    CREATE_MEMBERSHIPS = "createMemberships"
    UPDATE_MEMBERSHIP = "updateMembership"
    UPDATE_MEMBERSHIPS = "updateMemberships"
    DELETE_MEMBERSHIP = "deleteMembership"
    DELETE_MEMBERSHIPS = "deleteMemberships"
    READ_MEMBERSHIPS_FOR_GROUP = "readMembershipsForGroup"
    READ_MEMBERSHIPS_FOR_PERSON = "readMembershipsForPerson"

    @property
    def service(self) -> Service:
        if self is Operation.READ_ALL_PERSONS:
            return Service.EXTENDED_PERSON
        if "Membership" in self.value:
            return Service.MEMBERSHIP
        return Service.GROUP if "Group" in self.value else Service.PERSON

    @property
    def is_read(self) -> bool:
        """Reads change nothing (``readAllPersons`` with ``ConvertFromManual`` only gives manual accounts a
        sync key, once): the client may repeat them after a transient failure."""
        return self.value.startswith("read")

    @property
    def soap_action(self) -> str:
        """``http://www.imsglobal.org/soap/{pms|gms|mms}/<operation>``."""
        return f"http://www.imsglobal.org/soap/{self.service.action_prefix}/{self.value}"

    @property
    def request_tag(self) -> str:
        return f"{self.value}Request"

    @property
    def response_tag(self) -> str:
        return f"{self.value}Response"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The integration's username and password from itslearning's admin UI.

    They select the site and the hierarchy scope; there is no separate site or tenant id.
    """

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """What goes into the SOAP header: a unique message identifier and, normally, credentials.

    ``credentials=None`` builds the header without WS-Security, as in itslearning's own examples;
    only golden tests and previews use that.
    """

    message_id: str
    credentials: Credentials | None = None


@dataclass(frozen=True, slots=True)
class ExtensionField:
    """``extension/extensionField{fieldName, fieldType, fieldValue}`` (Common namespace)."""

    name: str
    value: str
    type: str = "String"


class NamePartType(StrEnum):
    """``name/partName/namePartType`` values itslearning maps to user name fields."""

    PREFIX = "Prefix"
    FIRST = "First"
    LAST = "Last"


class GroupType(StrEnum):
    """``groupType/typeValue/type`` in the ``ItslearningOrganisationTypes`` scheme."""

    SITE = "Site"
    SCHOOL = "School"
    UNSPECIFIED = "Unspecified"
    COURSE = "Course"
    COURSE_GROUP = "CourseGroup"


@dataclass(frozen=True, slots=True)
class ImsPerson:
    """An IMS ES person as itslearning reads it.

    ``None`` means "not sent" (the field is left as it is: updatePerson is additive); an empty
    string is sent as an empty element, which clears the field (itslearning clears e-mail that
    way). ``institution_role`` is never sent empty: an empty ``institutionRoleType`` resets the
    user's profile to the site default.
    """

    given: str | None = None  # partName First, "max 64"
    family: str | None = None  # partName Last, "max 64"
    prefix: str | None = None  # partName Prefix (voorvoegsel), "max 32"
    email: str | None = None
    user_id: str | None = None  # userId/userIdValue: the itslearning username
    institution_role: str | None = None  # institutionRole/institutionRoleType → profile
    children: tuple[str, ...] = ()  # extension/relationship{relation=Child} (parent → child)
    extension_fields: tuple[ExtensionField, ...] = ()


@dataclass(frozen=True, slots=True)
class ImsGroup:
    """An IMS ES group: in itslearning, a hierarchy node, possibly with a linked course.

    ``parent`` is the syncId of the parent hierarchy (``relationship{relation=Parent}``);
    ``name`` is ``description/descShort`` ("max 64"); a course carries the extension fields
    ``course`` (title) and ``course/code``.
    """

    type: str | None = None
    parent: str | None = None
    name: str | None = None
    extension_fields: tuple[ExtensionField, ...] = ()

    def extension(self, name: str) -> str | None:
        return next((f.value for f in self.extension_fields if f.name == name), None)


@dataclass(frozen=True, slots=True)
class ImsMembership:
    """An IMS ES membership: one member (a person) in one group with one role.

    ``role_type`` is the IMS roleType, literal (``Learner``) or numeric (``01``); the
    ``HomeOrganisation`` extension sits in ``member/role/extension``.
    """

    group: str
    person: str
    role_type: str
    extension_fields: tuple[ExtensionField, ...] = ()

    def extension(self, name: str) -> str | None:
        return next((f.value for f in self.extension_fields if f.name == name), None)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """readAllPersons paging: ``PageIndex`` starts at 1; ``PageSize`` "≤ 100 recommended".

    ``ConvertFromManual`` gives the manual accounts on the page a sync key (``itsla-<GUID>``). Reading
    for reconciliation never sets it; only an approved adoption does.
    """

    index: int
    size: int = 100
    created_from: str | None = None  # UTC, xs:dateTime
    only_manually_created: bool = False
    convert_from_manual: bool = False


@dataclass(frozen=True)
class SoapRequest:
    """One SOAP request, ready to POST: which operation, which message id, the envelope bytes.

    The envelope holds the password, so it is left out of ``repr``.
    """

    operation: Operation
    message_id: str
    envelope: bytes = field(repr=False)
    item_count: int

    @property
    def service(self) -> Service:
        return self.operation.service

    @property
    def http_headers(self) -> dict[str, str]:
        # SOAP 1.1 §6.1.1: the SOAPAction value is a quoted URI.
        return {"Content-Type": CONTENT_TYPE, "SOAPAction": f'"{self.operation.soap_action}"'}


class CodeMajor(StrEnum):
    """``statusInfo/codeMajor``: IMS says success | processing | failure | unsupported."""

    SUCCESS = "success"
    PROCESSING = "processing"
    FAILURE = "failure"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"  # anything else: treated as a failure


class Severity(StrEnum):
    """``statusInfo/severity``: status | warning | error."""

    STATUS = "status"
    WARNING = "warning"
    ERROR = "error"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """One IMS ``statusInfo``: the outcome of one request item.

    ``code_minor`` holds the ``codeMinorField`` values (IMS vocabulary: invaliddata,
    incompletedata, unknownobject, targetisbusy …). itslearning does not publish which ones it
    emits, so decisions key on ``code_major``/``severity`` first.
    """

    code_major: CodeMajor
    severity: Severity
    code_minor: tuple[str, ...] = ()
    message_id_ref: str | None = None
    description: str | None = None

    def has_code(self, code: str) -> bool:
        return code.lower() in self.code_minor

    @property
    def code(self) -> str | None:
        return ",".join(self.code_minor) or None

    @property
    def text(self) -> str:
        """What went wrong, for a message: the description, else the codes, else ``codeMajor``."""
        return self.description or self.code or self.code_major.value


@dataclass(frozen=True, eq=False)
class SoapResponse:
    """A parsed response: its statuses (in order), how they came, and the body element.

    ``in_set`` tells whether the statuses came in a ``statusInfoSet``; ``body`` is the
    operation's response element (``createPersonsResponse`` …) or None when the body is empty.
    """

    statuses: tuple[StatusInfo, ...]
    in_set: bool
    message_identifier: str | None
    body: etree._Element | None


@dataclass(frozen=True, slots=True)
class PersonPage:
    """One readAllPersons page: (sync key or None for manual users, person) pairs and the total."""

    persons: tuple[tuple[str | None, ImsPerson], ...]
    virtual_count: int


# What a write request carries per item.
WireObject: TypeAlias = ImsPerson | ImsGroup | ImsMembership
