"""Requests: from a SOAP body element to a typed request, read the way WCF's XmlSerializer reads it.

The serializer skips elements it does not expect — including the right name in the wrong namespace —
and leaves the field empty. The sandbox does the same: a client that puts ``identifier`` in the Mess
namespace instead of Common finds out through an ``incompletedata`` failure, as it would in
production. Values that cannot be converted at all (``<PageIndex>one</PageIndex>``) fail
deserialisation, which WCF reports as a SOAP fault. Element order is not checked.

Where each element lives (wire-facts, quirk 2): wrappers, ``sourcedId``, sets and pairs in the
service's Mess schema; ``identifier``, ``email``, ``userIdValue`` and ``extensionField`` in Common;
the object's contents in its Data schema. A person's parent→child ``relationship`` sits in Common,
directly under the Data ``extension`` (itswizard ``createParentChildRelaionship.go``); a relationship's
children are read in the relationship's own namespace, so one reader serves groups and persons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from lxml import etree

from .model import ExtensionField, GroupData, MemberData, MembershipData, ObjectKind, PersonData
from .namespaces import NS
from .operations import Operation, Verb
from .soap import SoapFault
from .xmlnodes import child, children, text

__all__ = [
    "KeysRequest",
    "PageRequest",
    "Payload",
    "Request",
    "SubjectRequest",
    "WriteItem",
    "WriteRequest",
    "decode_request",
    "item_count",
    "operation_count",
]

Payload = PersonData | GroupData | MembershipData


@dataclass(frozen=True, slots=True)
class WriteItem:
    """One object to create or update. ``None`` fields mean the element was missing."""

    key: str | None
    payload: Payload | None


@dataclass(frozen=True, slots=True)
class WriteRequest:
    items: tuple[WriteItem, ...]


@dataclass(frozen=True, slots=True)
class KeysRequest:
    """delete/read, single or batch: the ids in request order."""

    keys: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class SubjectRequest:
    """read-for: the one person or group whose related objects are asked for."""

    key: str | None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """readAllPersons (readAllPersons.html): page ``page_index`` (from 1) of ``page_size`` persons."""

    page_index: int
    page_size: int
    created_from: datetime | None
    only_manually_created: bool
    convert_from_manual: bool


Request = WriteRequest | KeysRequest | SubjectRequest | PageRequest


def decode_request(operation: Operation, body: etree._Element) -> Request:
    """Read ``body`` (the element inside ``s:Body``) as a request for ``operation``."""
    if body.tag != operation.request_tag:
        raise SoapFault.deserialization_failed(
            operation.name,
            f"OperationFormatter encountered an invalid Message body. Expected to find an element "
            f"'{operation.request_tag}', found '{body.tag}'.",
        )
    if operation.verb.upserts:
        return _decode_writes(operation, body)
    if operation.verb in (Verb.DELETE, Verb.READ):
        return _decode_keys(operation, body)
    if operation.verb is Verb.READ_FOR:
        return _decode_subject(operation, body)
    return _decode_page(operation, body)


def item_count(request: Request) -> int:
    """How many statuses a batch answer carries (1 for the rest)."""
    if isinstance(request, WriteRequest):
        return len(request.items)
    if isinstance(request, KeysRequest):
        return len(request.keys)
    return 1


def operation_count(request: Request) -> int:
    """What counts against ``max_batch``: objects, and for memberships every member (§1.5)."""
    if isinstance(request, WriteRequest):
        return sum(_units(item.payload) for item in request.items)
    return item_count(request)


def _units(payload: Payload | None) -> int:
    if isinstance(payload, MembershipData):
        return max(1, len(payload.members))
    return 1


# ---------------------------------------------------------------------------------------------------
# Request shapes


def _identifier(parent: etree._Element | None) -> str | None:
    return text(child(parent, NS.COMMON, "identifier"))


def _decode_writes(operation: Operation, body: etree._Element) -> WriteRequest:
    mess, kind = operation.service.mess_ns, operation.kind
    if operation.many:
        pair_set = child(body, mess, f"{kind.value}IdPairSet")
        carriers = children(pair_set, mess, f"{kind.value}IdPair")
    else:
        carriers = [body]
    decode_payload = _PAYLOAD_DECODERS[kind]
    items = []
    for carrier in carriers:
        payload_node = child(carrier, mess, kind.value)
        items.append(
            WriteItem(
                key=_identifier(child(carrier, mess, "sourcedId")),
                payload=None if payload_node is None else decode_payload(payload_node),
            )
        )
    return WriteRequest(tuple(items))


def _decode_keys(operation: Operation, body: etree._Element) -> KeysRequest:
    mess = operation.service.mess_ns
    if operation.many:
        id_set = child(body, mess, "sourcedIdSet")
        return KeysRequest(tuple(text(node) for node in children(id_set, NS.COMMON, "identifier")))
    return KeysRequest((_identifier(child(body, mess, "sourcedId")),))


def _decode_subject(operation: Operation, body: etree._Element) -> SubjectRequest:
    assert operation.subject is not None
    id_element = f"{operation.subject.value}SourcedId"  # personSourcedId / groupSourcedId
    return SubjectRequest(_identifier(child(body, operation.service.mess_ns, id_element)))


def _decode_page(operation: Operation, body: etree._Element) -> PageRequest:
    mess = operation.service.mess_ns

    def field(name: str) -> str | None:
        value = text(child(body, mess, name))
        return None if value is None else value.strip()

    try:
        return PageRequest(
            page_index=int(field("PageIndex") or 0),
            page_size=int(field("PageSize") or 0),
            created_from=_datetime(field("CreatedFrom")),
            only_manually_created=_boolean(field("OnlyManuallyCreatedUsers")),
            convert_from_manual=_boolean(field("ConvertFromManual")),
        )
    except ValueError as exc:
        raise SoapFault.deserialization_failed(operation.name, str(exc)) from None


def _boolean(value: str | None) -> bool:
    """xsd:boolean; absent or empty is false (XmlSerializer's default)."""
    if value in (None, "", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise ValueError(f"'{value}' is not a valid xsd:boolean")


def _datetime(value: str | None) -> datetime | None:
    """xsd:dateTime; a value without offset is UTC (readAllPersons documents CreatedFrom in UTC)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a valid xsd:dateTime") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------------------------------------------
# Objects


def _extension_fields(extension: etree._Element | None) -> tuple[ExtensionField, ...]:
    return tuple(
        ExtensionField(
            name=text(child(field, NS.COMMON, "fieldName")) or "",
            type=text(child(field, NS.COMMON, "fieldType")) or "String",
            value=text(child(field, NS.COMMON, "fieldValue")) or "",
        )
        for field in children(extension, NS.COMMON, "extensionField")
    )


class Relationship(NamedTuple):
    relation: str | None
    key: str | None


def _relationship(node: etree._Element) -> Relationship:
    """A ``relationship{relation, sourceId/identifier}``; its parts share the relationship's namespace."""
    namespace = etree.QName(node).namespace or ""
    return Relationship(
        text(child(node, namespace, "relation")), _identifier(child(node, namespace, "sourceId"))
    )


def decode_person(node: etree._Element) -> PersonData:
    data = NS.PMS_DATA
    parts: dict[str, str] = {}
    for part in children(child(node, data, "name"), data, "partName"):
        part_type = text(child(part, data, "namePartType"))
        if part_type:
            parts[part_type] = text(child(part, data, "namePartValue")) or ""
    institution_role = child(node, data, "institutionRole")
    extension = child(node, data, "extension")
    relationships = [_relationship(rel) for rel in children(extension, NS.COMMON, "relationship")]
    return PersonData(
        first=parts.get("First"),
        last=parts.get("Last"),
        prefix=parts.get("Prefix"),
        email=text(child(node, NS.COMMON, "email")),
        username=text(child(child(node, data, "userId"), NS.COMMON, "userIdValue")),
        institution_role=(
            None
            if institution_role is None
            else text(child(institution_role, data, "institutionRoleType")) or ""
        ),
        extension_fields=_extension_fields(extension),
        children=(
            tuple(rel.key or "" for rel in relationships if rel.relation == "Child")
            if relationships
            else None
        ),
    )


def decode_group(node: etree._Element) -> GroupData:
    data = NS.GMS_DATA
    group_type = child(node, data, "groupType")
    type_value = child(group_type, data, "typeValue")
    relationships = [_relationship(rel) for rel in children(node, data, "relationship")]
    parent = next((rel for rel in relationships if rel.relation == "Parent"), None)
    if parent is None and relationships:
        parent = relationships[0]  # not a Parent relation: the rules refuse it with a clear message
    description = child(node, data, "description")
    return GroupData(
        has_group_type=group_type is not None,
        scheme=text(child(group_type, data, "scheme")),
        type_name=text(child(type_value, data, "type")),
        level=text(child(type_value, data, "level")),
        relation=None if parent is None else parent.relation or "",
        parent_key=None if parent is None else parent.key,
        name=text(child(description, data, "descShort")),
        desc_long=text(child(description, data, "descLong")),
        desc_full=text(child(description, data, "descFull")),
        extension_fields=_extension_fields(child(node, data, "extension")),
    )


def decode_membership(node: etree._Element) -> MembershipData:
    data = NS.MMS_DATA
    return MembershipData(
        group_key=_identifier(child(node, data, "groupSourcedId")),
        members=tuple(_decode_member(member) for member in children(node, data, "member")),
    )


def _decode_member(node: etree._Element) -> MemberData:
    data = NS.MMS_DATA
    role = child(node, data, "role")
    fields = _extension_fields(child(role, data, "extension"))
    return MemberData(
        person_key=_identifier(child(node, data, "memberSourcedId")),
        role=text(child(role, data, "roleType")),
        home_organisation=next((field.value for field in fields if field.name == "HomeOrganisation"), None),
    )


_PAYLOAD_DECODERS: dict[ObjectKind, Callable[[etree._Element], Payload]] = {
    ObjectKind.PERSON: decode_person,
    ObjectKind.GROUP: decode_group,
    ObjectKind.MEMBERSHIP: decode_membership,
}
