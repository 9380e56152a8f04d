"""Request envelopes for itslearning's IMS Enterprise Services v1.0 operations. Pure.

Every request is built *exactly* as itslearning's published examples show it
(docs/targets/itslearning.md, ``shared/reference/itslearning-wire-facts.md``), so every byte koppel
sends is reviewable (``koppel plan --show-payloads``) and golden-tested:

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

:func:`build_request` builds any operation from its items, by the table :data:`_SHAPES`; the reads koppel
sends by name have a function each. The one-object writes (``createPerson`` …) are built the same way;
koppel itself sends only the batch operations, and the tests name the others
(``tests/target_itslearning/builders.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from koppel.targets.itslearning.values import (
    NS,
    ORGANISATION_TYPES_SCHEME,
    PASSWORD_TEXT,
    Credentials,
    ExtensionField,
    ImsGroup,
    ImsMembership,
    ImsPerson,
    NamePartType,
    Operation,
    PageRequest,
    RequestHeader,
    SoapRequest,
    WireObject,
)

__all__ = [
    "build_request",
    "read_all_persons",
    "read_group",
    "read_groups",
    "read_memberships_for_group",
    "read_memberships_for_person",
    "read_person",
]


# -- the public builders -----------------------------------------------------------------------


def build_request(
    operation: Operation, items: Sequence[tuple[str, WireObject]] | Sequence[str], *, header: RequestHeader
) -> SoapRequest:
    """The request for ``operation`` (any but readAllPersons: :func:`read_all_persons`).

    Writes take (sourcedId, object) pairs, deletes and reads take sourcedIds. An operation on one object
    (``createPerson``, ``deleteGroup``, ``readMembershipsForGroup`` …) takes exactly one item.
    """
    shape = _SHAPES.get(operation)
    if shape is None:
        raise ValueError(f"{operation.value} takes a PageRequest: build it with read_all_persons")
    if shape.single and len(items) != 1:
        raise ValueError(f"{operation.value} takes one item, not {len(items)}")
    envelope, request = _envelope(operation, header)
    shape.fill(request, operation.service.mess_ns, items)
    return _finish(operation, header, envelope, len(items))


def read_person(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.READ_PERSON, [sourced_id], header=header)


def read_group(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.READ_GROUP, [sourced_id], header=header)


def read_groups(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.READ_GROUPS, sourced_ids, header=header)


def read_memberships_for_group(group_id: str, *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.READ_MEMBERSHIPS_FOR_GROUP, [group_id], header=header)


def read_memberships_for_person(person_id: str, *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.READ_MEMBERSHIPS_FOR_PERSON, [person_id], header=header)


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


# -- the envelope ------------------------------------------------------------------------------


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


def _bool(value: bool) -> str:
    return "true" if value else "false"


# -- the objects -------------------------------------------------------------------------------


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


_OBJECT_WRITERS: Mapping[str, Callable[[etree._Element, Any], None]] = {
    "person": _person,
    "group": _group,
    "membership": _membership,
}


# -- what each operation's request element holds -----------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """How the items of one operation go into its request element.

    ``kind`` names the object of a write (``person`` …), None for deletes and reads; ``single`` tells an
    operation on one object from one on a set; ``id_tag`` is the element holding a single object's id.
    """

    kind: str | None
    single: bool
    id_tag: str = "sourcedId"

    def fill(self, request: etree._Element, mess: str, items: Sequence[Any]) -> None:
        if self.kind is not None and self.single:
            ((sourced_id, obj),) = items
            _identifier(request, mess, "sourcedId", sourced_id)
            _OBJECT_WRITERS[self.kind](request, obj)
        elif self.kind is not None:
            # <kind>IdPairSet/<kind>IdPair/{sourcedId, <kind>} (lower-case "Id" in requests)
            pair_set = _sub(request, mess, f"{self.kind}IdPairSet")
            for sourced_id, obj in items:
                pair = _sub(pair_set, mess, f"{self.kind}IdPair")
                _identifier(pair, mess, "sourcedId", sourced_id)
                _OBJECT_WRITERS[self.kind](pair, obj)
        elif self.single:
            _identifier(request, mess, self.id_tag, items[0])
        else:
            id_set = _sub(request, mess, "sourcedIdSet")
            for sourced_id in items:
                _sub(id_set, NS.COMMON, "identifier", sourced_id)


# Notes from itslearning's method pages: createX is an upsert ("if the syncID already exists … will be
# updated instead"); updatePerson is additive (fields not sent stay) and creates if missing;
# updateGroup needs the parent relationship every time; deletePerson is soft (the trash can, restored
# by re-creating); deleteGroup takes descendants and their memberships along, a linked course is only
# disconnected; updateMembership can change only roleType and the HomeOrganisation flag.
_SHAPES: Mapping[Operation, _Shape] = {
    Operation.CREATE_PERSON: _Shape("person", single=True),
    Operation.CREATE_PERSONS: _Shape("person", single=False),
    Operation.UPDATE_PERSON: _Shape("person", single=True),
    Operation.UPDATE_PERSONS: _Shape("person", single=False),
    Operation.DELETE_PERSON: _Shape(None, single=True),
    Operation.DELETE_PERSONS: _Shape(None, single=False),
    Operation.READ_PERSON: _Shape(None, single=True),
    Operation.READ_PERSONS: _Shape(None, single=False),
    Operation.CREATE_GROUP: _Shape("group", single=True),
    Operation.CREATE_GROUPS: _Shape("group", single=False),
    Operation.UPDATE_GROUP: _Shape("group", single=True),
    Operation.UPDATE_GROUPS: _Shape("group", single=False),
    Operation.DELETE_GROUP: _Shape(None, single=True),
    Operation.DELETE_GROUPS: _Shape(None, single=False),
    Operation.READ_GROUP: _Shape(None, single=True),
    Operation.READ_GROUPS: _Shape(None, single=False),
    Operation.CREATE_MEMBERSHIP: _Shape("membership", single=True),
    Operation.CREATE_MEMBERSHIPS: _Shape("membership", single=False),
    Operation.UPDATE_MEMBERSHIP: _Shape("membership", single=True),
    Operation.UPDATE_MEMBERSHIPS: _Shape("membership", single=False),
    Operation.DELETE_MEMBERSHIP: _Shape(None, single=True),
    Operation.DELETE_MEMBERSHIPS: _Shape(None, single=False),
    Operation.READ_MEMBERSHIPS_FOR_GROUP: _Shape(None, single=True, id_tag="groupSourcedId"),
    Operation.READ_MEMBERSHIPS_FOR_PERSON: _Shape(None, single=True, id_tag="personSourcedId"),
}
