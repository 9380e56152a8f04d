"""Pure builders and parsers for itslearning's IMS Enterprise Services v1.0 (SOAP 1.1) messages.

itslearning provisions persons, hierarchies (groups) and memberships over IMS Enterprise Services
v1.0, hosted as WCF services. This module turns values into request envelopes and response
envelopes into values, and nothing else: no sockets, no clock, no randomness (the message
identifier is an argument). That keeps every byte koppel sends reviewable (``plan --show-payloads``)
and golden-testable, and lets the sandbox and the tests exercise the exact same code the client
runs (STYLE §3).

Requests are built *exactly* as itslearning's published examples show them
(docs/targets/itslearning.md, ``shared/reference/itslearning-wire-facts.md``):

* the operation wrapper, ``sourcedId``/``sourcedIdSet``, ``person``/``group``/``membership`` and the
  ``…IdPairSet``/``…IdPair`` wrappers are in the service's *Mess* schema namespace;
  ``identifier``, ``email``, ``userIdValue`` and ``extensionField`` are in the *Common* schema;
  the object contents (``formatName``, ``name``, ``partName``, ``groupType``, ``relationship``,
  ``description``, ``member``, ``role`` …) are in the service's *Data* schema;
* element order: a person is ``formatName`` (nil), ``name`` (Prefix, First, Last), ``email``,
  ``userId``, ``institutionRole``, ``extension``; a group is ``groupType``, ``relationship``,
  ``description``, ``extension``;
* the header carries ``syncRequestHeaderInfo/messageIdentifier`` and a WS-Security
  ``UsernameToken`` with a ``PasswordText`` password (SOAP ``mustUnderstand="1"``).

Responses are read *tolerantly*: by local name inside the SOAP envelope, because real WCF
responses switch default namespaces per element, the published examples use arbitrary prefixes,
and the SOAP namespace sometimes lacks its trailing slash — but the local names never vary.
Unknown header blocks (``Action``, ``Security/Timestamp``, also with ``mustUnderstand="1"``) are
ignored; ``statusInfo`` and ``statusInfoSet`` are both accepted on every operation.

Failures of a whole request raise koppel's target errors (``TargetAuthError`` for a WS-Security
fault, ``TransientTargetError`` for any other SOAP fault, ``TargetProtocolError`` for an answer
that is not a SOAP envelope or carries the wrong number of statuses); per-item outcomes are
values (:class:`StatusInfo`), classified by :mod:`koppel.targets.itslearning.mapping`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from lxml import etree

from koppel.errors import (
    TargetAuthError,
    TargetConfigError,
    TargetError,
    TargetProtocolError,
    TransientTargetError,
)
from koppel.xmlsafe import XMLParseError, parse_xml

__all__ = [
    "NS",
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
    "build_request",
    "create_group",
    "create_groups",
    "create_membership",
    "create_memberships",
    "create_person",
    "create_persons",
    "delete_group",
    "delete_groups",
    "delete_membership",
    "delete_memberships",
    "delete_person",
    "delete_persons",
    "group_from_xml",
    "item_statuses",
    "parse_response",
    "person_from_xml",
    "read_all_persons",
    "read_all_persons_result",
    "read_group",
    "read_group_result",
    "read_groups",
    "read_groups_result",
    "read_memberships_for_group",
    "read_memberships_for_person",
    "read_memberships_result",
    "read_person",
    "read_person_result",
    "read_persons",
    "read_persons_result",
    "soap_fault_error",
    "update_group",
    "update_groups",
    "update_membership",
    "update_memberships",
    "update_person",
    "update_persons",
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

_T = TypeVar("_T")


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


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Building requests
# --------------------------------------------------------------------------------------------


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        element.text = text
    return element


def _identifier(parent: etree._Element, ns: str, name: str, value: str) -> etree._Element:
    """``<name><common:identifier>value</common:identifier></name>`` with ``name`` in ``ns``."""
    holder = _sub(parent, ns, name)
    _sub(holder, NS.COMMON, "identifier", value)
    return holder


def _envelope(operation: Operation, header: RequestHeader) -> tuple[etree._Element, etree._Element]:
    """The Envelope with its header filled in; returns (envelope, operation request element)."""
    service = operation.service
    nsmap = {
        "soapenv": NS.SOAP,
        "ims": NS.BIND,
        "wsse": NS.WSSE,
        "msg": service.mess_ns,
        "common": NS.COMMON,
        "data": service.data_ns,
    }
    envelope = etree.Element(f"{{{NS.SOAP}}}Envelope", nsmap=nsmap)
    soap_header = _sub(envelope, NS.SOAP, "Header")
    sync_header = _sub(soap_header, NS.BIND, "syncRequestHeaderInfo")
    _sub(sync_header, NS.BIND, "messageIdentifier", header.message_id)
    if header.credentials is not None:
        _security(soap_header, header.credentials)
    body = _sub(envelope, NS.SOAP, "Body")
    request = _sub(body, service.mess_ns, operation.request_tag)
    return envelope, request


def _security(soap_header: etree._Element, credentials: Credentials) -> None:
    """WS-Security 1.0 UsernameToken with a PasswordText password (no Nonce, no Created)."""
    security = _sub(soap_header, NS.WSSE, "Security")
    security.set(f"{{{NS.SOAP}}}mustUnderstand", "1")
    token = _sub(security, NS.WSSE, "UsernameToken")
    _sub(token, NS.WSSE, "Username", credentials.username)
    password = _sub(token, NS.WSSE, "Password", credentials.password)
    password.set("Type", PASSWORD_TEXT)


def _finish(operation: Operation, header: RequestHeader, envelope: etree._Element, items: int) -> SoapRequest:
    raw = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    return SoapRequest(operation=operation, message_id=header.message_id, envelope=raw, item_count=items)


def _extension_fields(parent: etree._Element, data_ns: str, fields: Sequence[ExtensionField]) -> None:
    if not fields:
        return
    extension = _sub(parent, data_ns, "extension")
    for item in fields:
        _extension_field(extension, item)


def _extension_field(extension: etree._Element, item: ExtensionField) -> None:
    holder = _sub(extension, NS.COMMON, "extensionField")
    _sub(holder, NS.COMMON, "fieldName", item.name)
    _sub(holder, NS.COMMON, "fieldType", item.type)
    _sub(holder, NS.COMMON, "fieldValue", item.value)


def _person(parent: etree._Element, person: ImsPerson) -> None:
    """``person``: formatName (nil), name, email, userId, institutionRole, extension."""
    data = NS.PMS_DATA
    element = _sub(parent, NS.PMS_MESS, "person")
    format_name = _sub(element, data, "formatName")
    format_name.set(f"{{{NS.XSI}}}nil", "true")
    parts = [
        (NamePartType.PREFIX, person.prefix),
        (NamePartType.FIRST, person.given),
        (NamePartType.LAST, person.family),
    ]
    if any(value is not None for _, value in parts):
        name = _sub(element, data, "name")
        for part_type, value in parts:
            if value is not None:
                part = _sub(name, data, "partName")
                _sub(part, data, "namePartType", part_type.value)
                _sub(part, data, "namePartValue", value)
    if person.email is not None:
        _sub(element, NS.COMMON, "email", person.email)
    if person.user_id is not None:
        user_id = _sub(element, data, "userId")
        _sub(user_id, NS.COMMON, "userIdValue", person.user_id)
    if person.institution_role:
        role = _sub(element, data, "institutionRole")
        _sub(role, data, "institutionRoleType", person.institution_role)
        _sub(role, data, "primaryRoleType", "true")
    if person.children or person.extension_fields:
        extension = _sub(element, data, "extension")
        for item in person.extension_fields:
            _extension_field(extension, item)
        for child in person.children:
            # Parent → child link: relationship in the Common namespace, directly under the
            # Data-namespace extension (not wrapped in extensionField).
            relationship = _sub(extension, NS.COMMON, "relationship")
            _sub(relationship, NS.COMMON, "relation", "Child")
            _identifier(relationship, NS.COMMON, "sourceId", child)


def _group(parent: etree._Element, group: ImsGroup) -> None:
    """``group``: groupType, relationship, description, extension (the vendor's course example)."""
    data = NS.GMS_DATA
    element = _sub(parent, NS.GMS_MESS, "group")
    if group.type is not None:
        group_type = _sub(element, data, "groupType")
        _sub(group_type, data, "scheme", ORGANISATION_TYPES_SCHEME)
        type_value = _sub(group_type, data, "typeValue")
        _sub(type_value, data, "type", group.type)
    if group.parent is not None:
        relationship = _sub(element, data, "relationship")
        _sub(relationship, data, "relation", "Parent")
        _identifier(relationship, data, "sourceId", group.parent)
    if group.name is not None:
        description = _sub(element, data, "description")
        _sub(description, data, "descShort", group.name)
    _extension_fields(element, data, group.extension_fields)


def _membership(parent: etree._Element, membership: ImsMembership) -> None:
    """``membership``: groupSourcedId, member{memberSourcedId, role{roleType, extension}}."""
    data = NS.MMS_DATA
    element = _sub(parent, NS.MMS_MESS, "membership")
    _identifier(element, data, "groupSourcedId", membership.group)
    member = _sub(element, data, "member")
    _identifier(member, data, "memberSourcedId", membership.person)
    role = _sub(member, data, "role")
    _sub(role, data, "roleType", membership.role_type)
    _extension_fields(role, data, membership.extension_fields)


_OBJECT_WRITERS = {"person": _person, "group": _group, "membership": _membership}


def _single_write(
    operation: Operation, kind: str, sourced_id: str, obj: object, header: RequestHeader
) -> SoapRequest:
    envelope, request = _envelope(operation, header)
    mess = operation.service.mess_ns
    _identifier(request, mess, "sourcedId", sourced_id)
    _OBJECT_WRITERS[kind](request, obj)
    return _finish(operation, header, envelope, 1)


def _batch_write(
    operation: Operation, kind: str, pairs: Sequence[tuple[str, object]], header: RequestHeader
) -> SoapRequest:
    """``<kind>IdPairSet/<kind>IdPair/{sourcedId, <kind>}`` (lower-case "Id" in requests)."""
    envelope, request = _envelope(operation, header)
    mess = operation.service.mess_ns
    pair_set = _sub(request, mess, f"{kind}IdPairSet")
    for sourced_id, obj in pairs:
        pair = _sub(pair_set, mess, f"{kind}IdPair")
        _identifier(pair, mess, "sourcedId", sourced_id)
        _OBJECT_WRITERS[kind](pair, obj)
    return _finish(operation, header, envelope, len(pairs))


def _single_id(
    operation: Operation, sourced_id: str, header: RequestHeader, tag: str = "sourcedId"
) -> SoapRequest:
    envelope, request = _envelope(operation, header)
    _identifier(request, operation.service.mess_ns, tag, sourced_id)
    return _finish(operation, header, envelope, 1)


def _id_set(operation: Operation, sourced_ids: Sequence[str], header: RequestHeader) -> SoapRequest:
    """``sourcedIdSet/identifier*`` (deletes and reads of several objects)."""
    envelope, request = _envelope(operation, header)
    id_set = _sub(request, operation.service.mess_ns, "sourcedIdSet")
    for sourced_id in sourced_ids:
        _sub(id_set, NS.COMMON, "identifier", sourced_id)
    return _finish(operation, header, envelope, len(sourced_ids))


def create_person(sourced_id: str, person: ImsPerson, *, header: RequestHeader) -> SoapRequest:
    """createPerson: an upsert ("if the syncID already exists … will be updated instead")."""
    return _single_write(Operation.CREATE_PERSON, "person", sourced_id, person, header)


def create_persons(pairs: Sequence[tuple[str, ImsPerson]], *, header: RequestHeader) -> SoapRequest:
    return _batch_write(Operation.CREATE_PERSONS, "person", pairs, header)


def update_person(sourced_id: str, person: ImsPerson, *, header: RequestHeader) -> SoapRequest:
    """updatePerson: additive (fields not sent stay), creates if missing; send all mandatory fields."""
    return _single_write(Operation.UPDATE_PERSON, "person", sourced_id, person, header)


def update_persons(pairs: Sequence[tuple[str, ImsPerson]], *, header: RequestHeader) -> SoapRequest:
    return _batch_write(Operation.UPDATE_PERSONS, "person", pairs, header)


def delete_person(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    """deletePerson: soft — the user goes to the trash can and is restored by re-creating."""
    return _single_id(Operation.DELETE_PERSON, sourced_id, header)


def delete_persons(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return _id_set(Operation.DELETE_PERSONS, sourced_ids, header)


def read_person(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    return _single_id(Operation.READ_PERSON, sourced_id, header)


def read_persons(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return _id_set(Operation.READ_PERSONS, sourced_ids, header)


def read_all_persons(page: PageRequest, *, header: RequestHeader) -> SoapRequest:
    """readAllPersons (ExtendedPersonManagement): PascalCase children in the person Mess namespace.

    The 2017 WSDL declares all five children ``minOccurs="1" nillable="true"`` in this order, so
    ``CreatedFrom`` is always sent: ``xsi:nil="true"`` when there is no lower bound.
    """
    operation = Operation.READ_ALL_PERSONS
    envelope, request = _envelope(operation, header)
    mess = operation.service.mess_ns
    _sub(request, mess, "PageIndex", str(page.index))
    _sub(request, mess, "PageSize", str(page.size))
    created_from = _sub(request, mess, "CreatedFrom", page.created_from)
    if page.created_from is None:
        created_from.set(f"{{{NS.XSI}}}nil", "true")
    _sub(request, mess, "OnlyManuallyCreatedUsers", _bool(page.only_manually_created))
    _sub(request, mess, "ConvertFromManual", _bool(page.convert_from_manual))
    return _finish(operation, header, envelope, 1)


def create_group(sourced_id: str, group: ImsGroup, *, header: RequestHeader) -> SoapRequest:
    """createGroup: an upsert of a hierarchy (and its course, for type Course)."""
    return _single_write(Operation.CREATE_GROUP, "group", sourced_id, group, header)


def create_groups(pairs: Sequence[tuple[str, ImsGroup]], *, header: RequestHeader) -> SoapRequest:
    return _batch_write(Operation.CREATE_GROUPS, "group", pairs, header)


def update_group(sourced_id: str, group: ImsGroup, *, header: RequestHeader) -> SoapRequest:
    """updateGroup: creates if missing; the parent ``relationship`` must always be sent."""
    return _single_write(Operation.UPDATE_GROUP, "group", sourced_id, group, header)


def update_groups(pairs: Sequence[tuple[str, ImsGroup]], *, header: RequestHeader) -> SoapRequest:
    return _batch_write(Operation.UPDATE_GROUPS, "group", pairs, header)


def delete_group(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    """deleteGroup: descendants and all their memberships go too; a linked course is only disconnected."""
    return _single_id(Operation.DELETE_GROUP, sourced_id, header)


def delete_groups(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return _id_set(Operation.DELETE_GROUPS, sourced_ids, header)


def read_group(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    return _single_id(Operation.READ_GROUP, sourced_id, header)


def read_groups(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return _id_set(Operation.READ_GROUPS, sourced_ids, header)


def create_membership(sourced_id: str, membership: ImsMembership, *, header: RequestHeader) -> SoapRequest:
    return _single_write(Operation.CREATE_MEMBERSHIP, "membership", sourced_id, membership, header)


def create_memberships(pairs: Sequence[tuple[str, ImsMembership]], *, header: RequestHeader) -> SoapRequest:
    return _batch_write(Operation.CREATE_MEMBERSHIPS, "membership", pairs, header)


def update_membership(sourced_id: str, membership: ImsMembership, *, header: RequestHeader) -> SoapRequest:
    """updateMembership can change only roleType and the HomeOrganisation flag."""
    return _single_write(Operation.UPDATE_MEMBERSHIP, "membership", sourced_id, membership, header)


def update_memberships(pairs: Sequence[tuple[str, ImsMembership]], *, header: RequestHeader) -> SoapRequest:
    return _batch_write(Operation.UPDATE_MEMBERSHIPS, "membership", pairs, header)


def delete_membership(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    return _single_id(Operation.DELETE_MEMBERSHIP, sourced_id, header)


def delete_memberships(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return _id_set(Operation.DELETE_MEMBERSHIPS, sourced_ids, header)


def read_memberships_for_group(group_id: str, *, header: RequestHeader) -> SoapRequest:
    return _single_id(Operation.READ_MEMBERSHIPS_FOR_GROUP, group_id, header, tag="groupSourcedId")


def read_memberships_for_person(person_id: str, *, header: RequestHeader) -> SoapRequest:
    return _single_id(Operation.READ_MEMBERSHIPS_FOR_PERSON, person_id, header, tag="personSourcedId")


_BATCH_WRITERS = {
    Operation.CREATE_PERSONS: create_persons,
    Operation.UPDATE_PERSONS: update_persons,
    Operation.CREATE_GROUPS: create_groups,
    Operation.UPDATE_GROUPS: update_groups,
    Operation.CREATE_MEMBERSHIPS: create_memberships,
    Operation.UPDATE_MEMBERSHIPS: update_memberships,
}
_ID_SET_OPERATIONS = {
    Operation.DELETE_PERSONS: delete_persons,
    Operation.DELETE_GROUPS: delete_groups,
    Operation.DELETE_MEMBERSHIPS: delete_memberships,
    Operation.READ_PERSONS: read_persons,
    Operation.READ_GROUPS: read_groups,
}


def build_request(
    operation: Operation, items: Sequence[tuple[str, object]] | Sequence[str], *, header: RequestHeader
) -> SoapRequest:
    """Build a batch request: (sourcedId, object) pairs for writes, sourcedIds for deletes and reads."""
    if operation in _BATCH_WRITERS:
        return _BATCH_WRITERS[operation](items, header=header)  # type: ignore[arg-type]
    if operation in _ID_SET_OPERATIONS:
        return _ID_SET_OPERATIONS[operation](items, header=header)  # type: ignore[arg-type]
    raise ValueError(f"{operation.value} is not a batch operation")


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --------------------------------------------------------------------------------------------
# Parsing responses
# --------------------------------------------------------------------------------------------

# WS-Security 1.0 §12 fault codes (in the wsse namespace). WCF answers a refused UsernameToken
# with ``InvalidSecurity`` ("An error occurred when verifying security for the message.").
_SECURITY_FAULTS = frozenset(
    {
        "UnsupportedSecurityToken",
        "UnsupportedAlgorithm",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "FailedAuthentication",
        "FailedCheck",
        "SecurityTokenUnavailable",
        "MessageExpired",
    }
)
_SOAP_NAMESPACES = frozenset({NS.SOAP, NS.SOAP_WITHOUT_SLASH})


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if element is None:
        return iter(())
    return (child for child in element if isinstance(child.tag, str) and _local(child) == name)


def _child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """Follow ``path`` by local name, taking the first match at each step."""
    for name in path:
        element = next(_children(element, name), None)
        if element is None:
            return None
    return element


def _text(element: etree._Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    if found is None:
        return None
    return (found.text or "").strip()


def _excerpt(raw: bytes, limit: int = 160) -> str:
    text = raw[:limit].decode("utf-8", errors="replace").replace("\n", " ").strip()
    return text + ("…" if len(raw) > limit else "")


def parse_response(raw: bytes) -> SoapResponse:
    """Parse a SOAP 1.1 response from itslearning into statuses and the body element.

    Raises ``TargetProtocolError`` when the bytes are not a SOAP envelope or carry no status,
    ``TargetAuthError`` for a WS-Security fault, ``TransientTargetError`` for any other fault.
    """
    try:
        root = parse_xml(raw, what="itslearning response")
    except XMLParseError as exc:
        raise TargetProtocolError(
            f"itslearning answered with something that is not XML: {exc} — starts with {_excerpt(raw)!r}"
        ) from None
    if _local(root) != "Envelope" or etree.QName(root).namespace not in _SOAP_NAMESPACES:
        raise TargetProtocolError(
            f"itslearning answered with XML that is not a SOAP 1.1 envelope (root {root.tag})"
        )
    body = _child(root, "Body")
    if body is None:
        raise TargetProtocolError("itslearning answered with a SOAP envelope without a Body")
    fault = _child(body, "Fault")
    if fault is not None:
        raise _fault_error(fault)
    sync_header = _child(root, "Header", "syncResponseHeaderInfo")
    if sync_header is None:
        raise TargetProtocolError(
            "itslearning answered without syncResponseHeaderInfo: there is no status to read"
        )
    statuses, in_set = _statuses(sync_header)
    operation_body = next((child for child in body if isinstance(child.tag, str)), None)
    return SoapResponse(
        statuses=statuses,
        in_set=in_set,
        message_identifier=_text(sync_header, "messageIdentifier") or None,
        body=operation_body,
    )


def soap_fault_error(raw: bytes) -> TargetError | None:
    """The error a SOAP fault in ``raw`` stands for, or None when ``raw`` holds no SOAP fault.

    Used for non-200 answers, whose bodies may be faults, HTML error pages or nothing at all.
    """
    try:
        root = parse_xml(raw, what="itslearning error response")
    except XMLParseError:
        return None
    fault = _child(root, "Body", "Fault")
    return None if fault is None else _fault_error(fault)


# WCF dispatcher faults that no retry can fix: the request reached a service that cannot route or read
# it. ``ActionNotSupported`` is what WCF answers to a SOAPAction the endpoint does not serve (its text
# speaks of a "ContractFilter mismatch at the EndpointDispatcher"); ``DeserializationFailed`` to a body
# its XmlSerializer cannot read (an enumeration value it does not know, a boolean that is not one);
# ``MustUnderstand`` to a header it does not process.
_CONFIGURATION_FAULTS = frozenset(
    {"ActionNotSupported", "ContractFilter", "DeserializationFailed", "MustUnderstand", "EndpointNotFound",
     "DestinationUnreachable", "InvalidMessage"}
)
# WCF's throttling answers (also reached as HTTP 503): busy, not broken.
_BUSY_FAULTS = frozenset({"ServerTooBusy", "ServiceTooBusy"})


def _fault_error(fault: etree._Element) -> TargetError:
    """Name a SOAP fault by what the caller should do next (see ``koppel.errors``)."""
    code_element = _child(fault, "faultcode")
    code = (code_element.text or "").strip() if code_element is not None else ""
    prefix, _, local = code.rpartition(":")
    namespace = code_element.nsmap.get(prefix or None) if code_element is not None else None
    message = _text(fault, "faultstring") or "(no faultstring)"
    if namespace == NS.WSSE or local in _SECURITY_FAULTS:
        return TargetAuthError(
            f"itslearning refused the WS-Security credentials ({local or code}: {message}); "
            "check the integration's username and password in itslearning's admin UI"
        )
    if local in {"ActionNotSupported", "ContractFilter"} or "ContractFilter mismatch" in message:
        return TargetConfigError(
            f"itslearning's endpoint does not serve this IMS ES operation ({local}: {message}). The URL is "
            "probably not the one itslearning's admin page gives: copy it from Administration › Manage IMS "
            "Enterprise › Web services (it ends in /WCFServiceLibrary/ImsEnterpriseServicesPort.svc)"
        )
    if local == "DeserializationFailed" or "formatter threw an exception" in message:
        return TargetConfigError(
            f"itslearning could not read koppel's request ({local or code}: {message}). Values such as "
            "profiles and roles come from the configuration (profile_map): check that itslearning knows them"
        )
    if local in _CONFIGURATION_FAULTS:
        return TargetConfigError(f"itslearning refused the request as such ({local}: {message})")
    if local in _BUSY_FAULTS:
        return TransientTargetError(f"itslearning is busy ({local}: {message})", overload=True)
    return TransientTargetError(
        f"itslearning answered with a SOAP fault ({code or 'no faultcode'}: {message})"
    )


def _statuses(sync_header: etree._Element) -> tuple[tuple[StatusInfo, ...], bool]:
    status_set = _child(sync_header, "statusInfoSet")
    if status_set is not None:
        return tuple(_status(element) for element in _children(status_set, "statusInfo")), True
    single = _child(sync_header, "statusInfo")
    if single is None:
        raise TargetProtocolError("itslearning answered without statusInfo or statusInfoSet")
    return (_status(single),), False


def _status(element: etree._Element) -> StatusInfo:
    codes = []
    for minor_field in _children(_child(element, "codeMinor"), "codeMinorField"):
        value = _text(minor_field, "codeMinorValue") or _text(minor_field, "codeMinorName")
        if value:
            codes.append(value.lower())
    return StatusInfo(
        code_major=_enum(CodeMajor, _text(element, "codeMajor")),
        severity=_enum(Severity, _text(element, "severity")),
        code_minor=tuple(codes),
        message_id_ref=_text(element, "messageIdRef") or None,
        description=_text(element, "description", "text") or None,
    )


_E = TypeVar("_E", CodeMajor, Severity)


def _enum(enum: type[_E], value: str | None) -> _E:
    """The enum member for ``value``, case-insensitively (itswizard compares "Failure"); else UNKNOWN."""
    try:
        return enum((value or "").lower())
    except ValueError:
        return enum("unknown")


def item_statuses(response: SoapResponse, expected: int, *, operation: Operation) -> tuple[StatusInfo, ...]:
    """The statuses of ``expected`` request items, in request order, or a protocol error.

    One statusInfo per item, in a statusInfoSet or (for one item) on its own. A single
    non-set status answering a batch is a request-level status: ``targetisbusy`` means retry
    the request; anything else cannot be matched to items and is a protocol error.
    """
    statuses = response.statuses
    if len(statuses) == expected:
        return statuses
    if not response.in_set and len(statuses) == 1:
        only = statuses[0]
        if only.has_code("targetisbusy"):
            raise TransientTargetError(
                f"itslearning is busy (targetisbusy) on {operation.value}: {only.description or ''}".rstrip(
                    ": "
                ),
                overload=True,
            )
        raise TargetProtocolError(
            f"{operation.value}: itslearning answered {expected} items with one request-level status "
            f"({only.code_major.value}/{only.severity.value}: {only.description or 'no description'})"
        )
    raise TargetProtocolError(
        f"{operation.value}: itslearning answered {len(statuses)} statusInfo items for {expected} "
        "request items; the answer cannot be matched to the request"
    )


# Body readers --------------------------------------------------------------------------------


def _extension_fields_of(extension: etree._Element | None) -> tuple[ExtensionField, ...]:
    return tuple(
        ExtensionField(
            name=_text(element, "fieldName") or "",
            value=_text(element, "fieldValue") or "",
            type=_text(element, "fieldType") or "String",
        )
        for element in _children(extension, "extensionField")
    )


def person_from_xml(element: etree._Element) -> ImsPerson:
    """An ImsPerson from a ``person`` element (as readPerson(s) and readAllPersons return it)."""
    parts: dict[str, str] = {}
    for part in _children(_child(element, "name"), "partName"):
        part_type = _text(part, "namePartType") or ""
        parts.setdefault(part_type.lower(), _text(part, "namePartValue") or "")
    roles = list(_children(element, "institutionRole"))
    primary = next(
        (r for r in roles if (_text(r, "primaryRoleType") or "").lower() == "true"),
        roles[0] if roles else None,
    )
    extension = _child(element, "extension")
    children = tuple(
        _text(relationship, "sourceId", "identifier") or ""
        for relationship in _children(extension, "relationship")
        if (_text(relationship, "relation") or "").lower() == "child"
    )
    email = _child(element, "email")
    return ImsPerson(
        given=parts.get("first"),
        family=parts.get("last"),
        prefix=parts.get("prefix"),
        email=None if email is None else (email.text or "").strip(),
        user_id=_text(element, "userId", "userIdValue"),
        institution_role=_text(primary, "institutionRoleType") if primary is not None else None,
        children=tuple(c for c in children if c),
        extension_fields=_extension_fields_of(extension),
    )


def group_from_xml(element: etree._Element) -> ImsGroup:
    """An ImsGroup from a ``group`` element (readGroup(s))."""
    type_value = _child(element, "groupType", "typeValue")
    group_type = _text(type_value, "type") or _LEVELS.get(_text(type_value, "level") or "")
    parent = next(
        (
            _text(relationship, "sourceId", "identifier")
            for relationship in _children(element, "relationship")
            if (_text(relationship, "relation") or "").lower() == "parent"
        ),
        None,
    )
    return ImsGroup(
        type=group_type,
        parent=parent,
        name=_text(element, "description", "descShort"),
        extension_fields=_extension_fields_of(_child(element, "extension")),
    )


# groupType/typeValue/level, the numeric alternative to type ("type and level must match"). Only
# School = 1 is documented; other levels are read as unknown (type None).
_LEVELS = {"1": GroupType.SCHOOL.value}


def _successes(statuses: Iterable[StatusInfo]) -> list[int]:
    return [i for i, status in enumerate(statuses) if status.code_major is CodeMajor.SUCCESS]


def read_person_result(response: SoapResponse) -> ImsPerson | None:
    """The person of a readPerson answer, or None when the status is not a success."""
    if not response.statuses or response.statuses[0].code_major is not CodeMajor.SUCCESS:
        return None
    element = _child(response.body, "person")
    if element is None:
        raise TargetProtocolError("readPerson: success without a person in the body")
    return person_from_xml(element)


def read_persons_result(response: SoapResponse, sourced_ids: Sequence[str]) -> dict[str, ImsPerson]:
    """readPersons: ``personSet`` holds the persons of the *successful* items, in request order."""
    statuses = item_statuses(response, len(sourced_ids), operation=Operation.READ_PERSONS)
    elements = list(_children(_child(response.body, "personSet"), "person"))
    return _zip_successes("readPersons", sourced_ids, statuses, elements, person_from_xml)


def read_group_result(response: SoapResponse) -> ImsGroup | None:
    if not response.statuses or response.statuses[0].code_major is not CodeMajor.SUCCESS:
        return None
    element = _child(response.body, "group")
    if element is None:
        raise TargetProtocolError("readGroup: success without a group in the body")
    return group_from_xml(element)


def read_groups_result(response: SoapResponse, sourced_ids: Sequence[str]) -> dict[str, ImsGroup]:
    """readGroups: "only groups whose status is success are returned in groupSet", in request order."""
    statuses = item_statuses(response, len(sourced_ids), operation=Operation.READ_GROUPS)
    elements = list(_children(_child(response.body, "groupSet"), "group"))
    return _zip_successes("readGroups", sourced_ids, statuses, elements, group_from_xml)


def _zip_successes(
    operation: str,
    sourced_ids: Sequence[str],
    statuses: Sequence[StatusInfo],
    elements: Sequence[etree._Element],
    convert: Callable[[etree._Element], _T],
) -> dict[str, _T]:
    successes = _successes(statuses)
    if len(elements) != len(successes):
        raise TargetProtocolError(
            f"{operation}: {len(successes)} items succeeded but the body holds {len(elements)} objects"
        )
    return {sourced_ids[i]: convert(element) for i, element in zip(successes, elements)}


def read_all_persons_result(response: SoapResponse) -> PersonPage:
    """One readAllPersons page: ``personIdPairSet/personIdPair*`` and ``virtualCount``.

    Persons made by hand have no sync key; they come back with an empty ``sourcedId``.
    """
    body = response.body
    count_text = _text(body, "virtualCount") or _text(body, "VirtualCount")
    try:
        virtual_count = int(count_text) if count_text else 0
    except ValueError:
        raise TargetProtocolError(f"readAllPersons: virtualCount {count_text!r} is not a number") from None
    pairs = []
    for pair in _children(_child(body, "personIdPairSet"), "personIdPair"):
        key = _text(pair, "sourcedId", "identifier") or _text(pair, "sourceId", "identifier") or None
        person = _child(pair, "person")
        pairs.append((key, person_from_xml(person) if person is not None else ImsPerson()))
    return PersonPage(persons=tuple(pairs), virtual_count=virtual_count)


def read_memberships_result(response: SoapResponse) -> tuple[tuple[str, ImsMembership], ...]:
    """readMembershipsFor{Group,Person}: (membership id, membership) per member.

    The set is ``membershipIDPairSet`` — capital "ID", as in itslearning's WSDL — while the
    pairs are ``membershipIdPair``; the lower-case set name is accepted too.
    """
    body = response.body
    pair_set = _child(body, "membershipIDPairSet")
    if pair_set is None:
        pair_set = _child(body, "membershipIdPairSet")
    out = []
    for pair in _children(pair_set, "membershipIdPair"):
        membership_id = _text(pair, "sourcedId", "identifier") or ""
        membership = _child(pair, "membership")
        group = _text(membership, "groupSourcedId", "identifier") or ""
        for member in _children(membership, "member"):
            role = _child(member, "role")
            out.append(
                (
                    membership_id,
                    ImsMembership(
                        group=group,
                        person=_text(member, "memberSourcedId", "identifier") or "",
                        role_type=_text(role, "roleType") or "",
                        extension_fields=_extension_fields_of(_child(role, "extension")),
                    ),
                )
            )
    return tuple(out)
