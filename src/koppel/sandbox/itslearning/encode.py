"""Responses: an operation's outcome as the envelope itslearning would send.

The status travels in the SOAP header, the body holds only what was read (itslearning-and-target-
formats §1.4). Read bodies follow the shapes the itswizard structs record from real responses:
``readPersonsResponse/personSet/person*``; ``readGroupResponse/group``; ``readAllPersonsResponse/
{personIdPairSet, virtualCount}``; ``readMembershipsFor*Response/membershipIDPairSet/membershipIdPair*``
(capital "ID" in the set — the WSDL's own spelling). Where no real response is known the sandbox uses
the same pattern: ``groupSet``, ``membershipSet``, and ``groupIdPairSet`` for readGroupsForPerson.

Person content order follows real responses: formatName (nil), name, email, userId, institutionRole,
then extension. Group content follows the vendor's course example: groupType, relationship,
description, extension.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from lxml import etree

from .model import (
    GROUP_TYPE_SCHEME,
    ExtensionField,
    Group,
    Membership,
    ObjectKind,
    Outcome,
    Person,
    Record,
    Status,
)
from .namespaces import NS
from .operations import Operation, StatusShape, Verb
from .soap import response_envelope
from .xmlnodes import qname, sub

__all__ = ["CODE_MINOR_NAME", "encode_response"]

CODE_MINOR_NAME = "TargetEndSystem"
"""``codeMinorField/codeMinorName``: itslearning publishes none; LIS implementations use this one."""

DESCRIPTION_LANGUAGE = "en-US"

_PAIR_SET = {
    ObjectKind.PERSON: ("personIdPairSet", "personIdPair"),
    ObjectKind.GROUP: ("groupIdPairSet", "groupIdPair"),
    ObjectKind.MEMBERSHIP: ("membershipIDPairSet", "membershipIdPair"),
}


def encode_response(operation: Operation, outcome: Outcome, message_id: str | None, now: datetime) -> bytes:
    envelope = response_envelope(operation.header, operation.reply_action, now)
    _encode_sync_header(envelope.sync_header, operation.shape, outcome.statuses, message_id or None)
    _encode_body(envelope.body, operation, outcome)
    return envelope.to_bytes()


# ---------------------------------------------------------------------------------------------------
# Header


def _encode_sync_header(
    header: etree._Element, shape: StatusShape, statuses: Iterable[Status], message_id: str | None
) -> None:
    sub(header, NS.BIND, "messageIdentifier", message_id)
    parent = header if shape is StatusShape.SINGLE else sub(header, NS.BIND, "statusInfoSet")
    for status in statuses:
        _encode_status(parent, status, message_id)


def _encode_status(parent: etree._Element, status: Status, message_id: str | None) -> None:
    node = sub(parent, NS.BIND, "statusInfo")
    sub(node, NS.BIND, "codeMajor", status.major.value)
    sub(node, NS.BIND, "severity", status.severity.value)
    if status.minor is not None:
        field = sub(sub(node, NS.BIND, "codeMinor"), NS.BIND, "codeMinorField")
        sub(field, NS.BIND, "codeMinorName", CODE_MINOR_NAME)
        sub(field, NS.BIND, "codeMinorValue", status.minor.value)
    sub(node, NS.BIND, "messageIdRef", message_id)
    if status.description is not None:
        description = sub(node, NS.BIND, "description")
        sub(description, NS.BIND, "language", DESCRIPTION_LANGUAGE)
        sub(description, NS.BIND, "text", status.description)


# ---------------------------------------------------------------------------------------------------
# Body


def _encode_body(body: etree._Element, operation: Operation, outcome: Outcome) -> None:
    mess = operation.service.mess_ns
    wrapper = sub(body, mess, operation.response_local)
    kind = operation.kind
    if operation.verb is Verb.READ and operation.many:
        record_set = sub(wrapper, mess, f"{kind.value}Set")
        for record in outcome.found:
            encode_record(record_set, record)
    elif operation.verb is Verb.READ:
        for record in outcome.found:
            encode_record(wrapper, record)
    elif operation.verb in (Verb.READ_FOR, Verb.READ_ALL):
        _encode_pairs(wrapper, kind, outcome.found)
        if outcome.virtual_count is not None:
            sub(wrapper, mess, "virtualCount", str(outcome.virtual_count))


def _encode_pairs(wrapper: etree._Element, kind: ObjectKind, records: Iterable[Record]) -> None:
    mess = kind.service.mess_ns
    set_name, pair_name = _PAIR_SET[kind]
    pair_set = sub(wrapper, mess, set_name)
    for record in records:
        pair = sub(pair_set, mess, pair_name)
        sub(sub(pair, mess, "sourcedId"), NS.COMMON, "identifier", _key_of(record))
        encode_record(pair, record)


def _key_of(record: Record) -> str | None:
    if isinstance(record, Person):
        return record.sync_key
    return record.sync_id


def encode_record(parent: etree._Element, record: Record) -> None:
    if isinstance(record, Person):
        _encode_person(parent, record)
    elif isinstance(record, Group):
        _encode_group(parent, record)
    else:
        _encode_membership(parent, record)


def _encode_person(parent: etree._Element, person: Person) -> None:
    data = NS.PMS_DATA
    node = sub(parent, NS.PMS_MESS, "person")
    sub(node, data, "formatName").set(qname(NS.XSI, "nil"), "true")
    name = sub(node, data, "name")
    for part_type, value in (("Prefix", person.prefix), ("First", person.first), ("Last", person.last)):
        if value:
            part = sub(name, data, "partName")
            sub(part, data, "namePartType", part_type)
            sub(part, data, "namePartValue", value)
    if person.email:
        sub(node, NS.COMMON, "email", person.email)
    if person.username:
        sub(sub(node, data, "userId"), NS.COMMON, "userIdValue", person.username)
    role = sub(node, data, "institutionRole")
    sub(role, data, "institutionRoleType", person.institution_role)
    sub(role, data, "primaryRoleType", "true")
    if person.extension_fields or person.children:
        extension = sub(node, data, "extension")
        _encode_fields(extension, person.extension_fields)
        for child_key in person.children:
            relationship = sub(extension, NS.COMMON, "relationship")
            sub(relationship, NS.COMMON, "relation", "Child")
            sub(sub(relationship, NS.COMMON, "sourceId"), NS.COMMON, "identifier", child_key)


def _encode_group(parent: etree._Element, group: Group) -> None:
    data = NS.GMS_DATA
    node = sub(parent, NS.GMS_MESS, "group")
    group_type = sub(node, data, "groupType")
    sub(group_type, data, "scheme", GROUP_TYPE_SCHEME)
    sub(sub(group_type, data, "typeValue"), data, "type", group.type.value)
    if group.parent_sync_id is not None:
        relationship = sub(node, data, "relationship")
        sub(relationship, data, "relation", "Parent")
        sub(sub(relationship, data, "sourceId"), NS.COMMON, "identifier", group.parent_sync_id)
    description = sub(node, data, "description")
    sub(description, data, "descShort", group.name)
    if group.desc_long:
        sub(description, data, "descLong", group.desc_long)
    if group.desc_full:
        sub(description, data, "descFull", group.desc_full)
    fields = _course_fields(group) + group.extension_fields
    if fields:
        _encode_fields(sub(node, data, "extension"), fields)


def _course_fields(group: Group) -> tuple[ExtensionField, ...]:
    course = group.course
    if course is None:
        return ()
    fields = [ExtensionField("course", "String", course.title)]
    if course.code:
        fields.append(ExtensionField("course/code", "String", course.code))
    if course.credits:
        fields.append(ExtensionField("course/credits", "String", course.credits))
    return tuple(fields)


def _encode_membership(parent: etree._Element, membership: Membership) -> None:
    data = NS.MMS_DATA
    node = sub(parent, NS.MMS_MESS, "membership")
    sub(sub(node, data, "groupSourcedId"), NS.COMMON, "identifier", membership.group_sync_id)
    member = sub(node, data, "member")
    sub(sub(member, data, "memberSourcedId"), NS.COMMON, "identifier", membership.person_sync_key)
    role = sub(member, data, "role")
    sub(role, data, "roleType", membership.role.value)
    if membership.home_organisation:
        _encode_fields(sub(role, data, "extension"), (ExtensionField("HomeOrganisation", "bool", "1"),))


def _encode_fields(extension: etree._Element, fields: Iterable[ExtensionField]) -> None:
    for field in fields:
        node = sub(extension, NS.COMMON, "extensionField")
        sub(node, NS.COMMON, "fieldName", field.name)
        sub(node, NS.COMMON, "fieldType", field.type)
        sub(node, NS.COMMON, "fieldValue", field.value)
