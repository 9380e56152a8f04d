"""Requests: from a SOAP body element to a typed request, read the way WCF's XmlSerializer reads it.

:mod:`.contract` does the reading — unknown, wrong-namespace and out-of-order elements are skipped
and counted, values it cannot convert (an enumeration value not in the 2017 WSDL, a boolean that is
not one, an unparsable int or date) fail the whole request as ``a:DeserializationFailed``. This module
turns what was read into the sandbox's requests and payloads. A skipped element simply is not there:
a client that puts ``identifier`` in the Mess namespace instead of Common finds out through an
``incompletedata`` or ``unknownobject`` failure, as it would in production.

Where each element lives (facts file §9): wrappers, ``sourcedId``, sets and pairs in the service's
Mess schema; ``identifier``, ``email``, ``userIdValue`` and ``extensionField`` in Common; the object's
contents in its Data schema; a person's parent→child ``relationship`` in Common, directly under the
Data ``extension``; a group's ``relationship`` in the group Data schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from .contract import REQUESTS, ContractReader, DeserializationError, Skipped
from .model import ExtensionField, GroupData, MemberData, MembershipData, ObjectKind, PersonData
from .operations import Operation, Verb
from .soap import SoapFault

__all__ = [
    "Decoded",
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
Values = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decoded:
    request: Request
    skipped: Skipped
    """Elements the serializer skipped in this request (unknown, out of order)."""


def decode_request(
    operation: Operation, body: etree._Element, extra_institution_roles: Iterable[str] = ()
) -> Decoded:
    """Read ``body`` (the element inside ``s:Body``) as a request for ``operation``.

    Raises SoapFault (``a:DeserializationFailed``) when the body is not the operation's request
    element or holds a value the serializer cannot convert.
    """
    if body.tag != operation.request_tag:
        found_namespace, found_local = _split(str(body.tag))
        expected_namespace, expected_local = _split(operation.request_tag)
        raise SoapFault.deserialization_failed(
            operation.name,
            "OperationFormatter encountered an invalid Message body. Expected to find node type 'Element' "
            f"with name '{expected_local}' and namespace '{expected_namespace}'. Found node type 'Element' "
            f"with name '{found_local}' and namespace '{found_namespace}'",
        )
    reader = ContractReader(extra_institution_roles)
    try:
        values = reader.read(body, REQUESTS[operation.name])
    except DeserializationError as error:
        raise SoapFault.deserialization_failed(operation.name, str(error)) from None
    if operation.verb.upserts:
        request: Request = _writes(operation, values)
    elif operation.verb in (Verb.DELETE, Verb.READ):
        request = _keys(operation, values)
    elif operation.verb is Verb.READ_FOR:
        request = _subject(operation, values)
    else:
        request = _page(values)
    return Decoded(request, reader.skipped)


def _split(tag: str) -> tuple[str, str]:
    qualified = etree.QName(tag)
    return qualified.namespace or "", qualified.localname


def item_count(request: Request) -> int:
    """How many statuses a batch answer carries (1 for the rest)."""
    if isinstance(request, WriteRequest):
        return len(request.items)
    if isinstance(request, KeysRequest):
        return len(request.keys)
    return 1


def request_keys(request: Request) -> tuple[str, ...]:
    """The sync ids a request names (its objects' ids, or the subject of a read-for)."""
    if isinstance(request, WriteRequest):
        return tuple(item.key for item in request.items if item.key)
    if isinstance(request, KeysRequest):
        return tuple(key for key in request.keys if key)
    if isinstance(request, SubjectRequest) and request.key:
        return (request.key,)
    return ()


def operation_count(request: Request) -> int:
    """Operations in itslearning's sense (Dos-and-don'ts): objects, and for memberships every member."""
    if isinstance(request, WriteRequest):
        return sum(_units(item.payload) for item in request.items)
    return item_count(request)


def _units(payload: Payload | None) -> int:
    if isinstance(payload, MembershipData):
        return max(1, len(payload.members))
    return 1


# ---------------------------------------------------------------------------------------------------
# Request shapes


def _identifier(holder: Values | None) -> str | None:
    """``<x><identifier>…</identifier></x>``: the identifier, or None when either is missing."""
    return None if holder is None else holder.get("identifier")


def _writes(operation: Operation, values: Values) -> WriteRequest:
    kind = operation.kind
    if operation.many:
        carriers = (values.get(f"{kind.value}IdPairSet") or {}).get(f"{kind.value}IdPair", [])
    else:
        carriers = [values]
    decode_payload = _PAYLOAD_DECODERS[kind]
    return WriteRequest(
        tuple(
            WriteItem(
                key=_identifier(carrier.get("sourcedId")),
                payload=None if carrier.get(kind.value) is None else decode_payload(carrier[kind.value]),
            )
            for carrier in carriers
        )
    )


def _keys(operation: Operation, values: Values) -> KeysRequest:
    if operation.many:
        return KeysRequest(tuple((values.get("sourcedIdSet") or {}).get("identifier", [])))
    return KeysRequest((_identifier(values.get("sourcedId")),))


def _subject(operation: Operation, values: Values) -> SubjectRequest:
    assert operation.subject is not None
    return SubjectRequest(_identifier(values.get(f"{operation.subject.value}SourcedId")))


def _page(values: Values) -> PageRequest:
    """readAllPersons: the fields are ``int?``/``bool?``/``DateTime?`` — absent or nil reads as null."""
    created_from = values.get("CreatedFrom")
    if created_from is not None:
        created_from = (
            created_from.replace(tzinfo=UTC) if created_from.tzinfo is None else created_from.astimezone(UTC)
        )
    return PageRequest(
        page_index=values.get("PageIndex") or 0,
        page_size=values.get("PageSize") or 0,
        created_from=created_from,
        only_manually_created=bool(values.get("OnlyManuallyCreatedUsers")),
        convert_from_manual=bool(values.get("ConvertFromManual")),
    )


# ---------------------------------------------------------------------------------------------------
# Objects


def _extension_fields(extension: Values | None) -> tuple[ExtensionField, ...]:
    return tuple(
        ExtensionField(
            name=field.get("fieldName") or "",
            type=field.get("fieldType") or "String",
            value=field.get("fieldValue") or "",
        )
        for field in (extension or {}).get("extensionField", [])
    )


def decode_person(values: Values) -> PersonData:
    parts: dict[str, str] = {}
    for part in (values.get("name") or {}).get("partName", []):
        part_type = part.get("namePartType")
        if part_type:
            parts[part_type] = part.get("namePartValue") or ""
    roles = values.get("institutionRole")
    extension = values.get("extension")
    relationships = (extension or {}).get("relationship", [])
    return PersonData(
        first=parts.get("First"),
        last=parts.get("Last"),
        prefix=parts.get("Prefix"),
        email=values.get("email"),
        username=(values.get("userId") or {}).get("userIdValue"),
        institution_role=None if roles is None else roles[0].get("institutionRoleType", ""),
        extension_fields=_extension_fields(extension),
        children=(
            tuple(
                _identifier(relationship.get("sourceId")) or ""
                for relationship in relationships
                if relationship.get("relation") == "Child"
            )
            if relationships
            else None
        ),
    )


def decode_group(values: Values) -> GroupData:
    group_type = values.get("groupType")
    type_value = (group_type or {}).get("typeValue") or {}
    relationships = values.get("relationship", [])
    parent = next((rel for rel in relationships if rel.get("relation") == "Parent"), None)
    if parent is None and relationships:
        parent = relationships[0]  # not a Parent relation: the rules refuse it with a clear message
    description = values.get("description") or {}
    return GroupData(
        has_group_type=group_type is not None,
        scheme=(group_type or {}).get("scheme"),
        type_name=type_value.get("type"),
        level=type_value.get("level"),
        relation=None if parent is None else parent.get("relation") or "",
        parent_key=None if parent is None else _identifier(parent.get("sourceId")),
        name=description.get("descShort"),
        desc_long=description.get("descLong"),
        desc_full=description.get("descFull"),
        extension_fields=_extension_fields(values.get("extension")),
    )


def decode_membership(values: Values) -> MembershipData:
    member = values.get("member")
    return MembershipData(
        group_key=_identifier(values.get("groupSourcedId")),
        members=() if member is None else (_decode_member(member),),
    )


def _decode_member(values: Values) -> MemberData:
    roles = values.get("role") or [{}]
    role = roles[0]
    fields = _extension_fields(role.get("extension"))
    return MemberData(
        person_key=_identifier(values.get("memberSourcedId")),
        role=role.get("roleType"),
        home_organisation=next((field.value for field in fields if field.name == "HomeOrganisation"), None),
    )


_PAYLOAD_DECODERS: dict[ObjectKind, Callable[[Values], Payload]] = {
    ObjectKind.PERSON: decode_person,
    ObjectKind.GROUP: decode_group,
    ObjectKind.MEMBERSHIP: decode_membership,
}
