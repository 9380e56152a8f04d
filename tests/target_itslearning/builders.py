"""One builder per IMS ES operation, by name, for the tests (golden envelopes, the WSDL schemas, stubs).

koppel itself sends the batch operations through ``build_request`` (and the reads it needs by name);
these are the rest, as one-liners over the same builder, so that every operation's wire form is tested
under the name itslearning's documentation gives it. The notes are from itslearning's method pages.
"""

from __future__ import annotations

from collections.abc import Sequence

from koppel.targets.itslearning.requests import (
    build_request,
    read_all_persons,
    read_group,
    read_groups,
    read_memberships_for_group,
    read_memberships_for_person,
    read_person,
)
from koppel.targets.itslearning.values import (
    ImsGroup,
    ImsMembership,
    ImsPerson,
    Operation,
    RequestHeader,
    SoapRequest,
)

__all__ = [
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
    "read_all_persons",
    "read_group",
    "read_groups",
    "read_memberships_for_group",
    "read_memberships_for_person",
    "read_person",
    "read_persons",
    "update_group",
    "update_groups",
    "update_membership",
    "update_memberships",
    "update_person",
    "update_persons",
]


# -- persons -------------------------------------------------------------------------------------


def create_person(sourced_id: str, person: ImsPerson, *, header: RequestHeader) -> SoapRequest:
    """createPerson: an upsert ("if the syncID already exists … will be updated instead")."""
    return build_request(Operation.CREATE_PERSON, [(sourced_id, person)], header=header)


def create_persons(pairs: Sequence[tuple[str, ImsPerson]], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.CREATE_PERSONS, pairs, header=header)


def update_person(sourced_id: str, person: ImsPerson, *, header: RequestHeader) -> SoapRequest:
    """updatePerson: additive (fields not sent stay), creates if missing; send all mandatory fields."""
    return build_request(Operation.UPDATE_PERSON, [(sourced_id, person)], header=header)


def update_persons(pairs: Sequence[tuple[str, ImsPerson]], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.UPDATE_PERSONS, pairs, header=header)


def delete_person(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    """deletePerson: soft — the user goes to the trash can and is restored by re-creating."""
    return build_request(Operation.DELETE_PERSON, [sourced_id], header=header)


def delete_persons(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.DELETE_PERSONS, sourced_ids, header=header)


def read_persons(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.READ_PERSONS, sourced_ids, header=header)


# -- groups --------------------------------------------------------------------------------------


def create_group(sourced_id: str, group: ImsGroup, *, header: RequestHeader) -> SoapRequest:
    """createGroup: an upsert of a hierarchy (and its course, for type Course)."""
    return build_request(Operation.CREATE_GROUP, [(sourced_id, group)], header=header)


def create_groups(pairs: Sequence[tuple[str, ImsGroup]], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.CREATE_GROUPS, pairs, header=header)


def update_group(sourced_id: str, group: ImsGroup, *, header: RequestHeader) -> SoapRequest:
    """updateGroup: creates if missing; the parent ``relationship`` must always be sent."""
    return build_request(Operation.UPDATE_GROUP, [(sourced_id, group)], header=header)


def update_groups(pairs: Sequence[tuple[str, ImsGroup]], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.UPDATE_GROUPS, pairs, header=header)


def delete_group(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    """deleteGroup: descendants and all their memberships go too; a linked course is only disconnected."""
    return build_request(Operation.DELETE_GROUP, [sourced_id], header=header)


def delete_groups(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.DELETE_GROUPS, sourced_ids, header=header)


# -- memberships ---------------------------------------------------------------------------------


def create_membership(sourced_id: str, membership: ImsMembership, *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.CREATE_MEMBERSHIP, [(sourced_id, membership)], header=header)


def create_memberships(pairs: Sequence[tuple[str, ImsMembership]], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.CREATE_MEMBERSHIPS, pairs, header=header)


def update_membership(sourced_id: str, membership: ImsMembership, *, header: RequestHeader) -> SoapRequest:
    """updateMembership can change only roleType and the HomeOrganisation flag."""
    return build_request(Operation.UPDATE_MEMBERSHIP, [(sourced_id, membership)], header=header)


def update_memberships(pairs: Sequence[tuple[str, ImsMembership]], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.UPDATE_MEMBERSHIPS, pairs, header=header)


def delete_membership(sourced_id: str, *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.DELETE_MEMBERSHIP, [sourced_id], header=header)


def delete_memberships(sourced_ids: Sequence[str], *, header: RequestHeader) -> SoapRequest:
    return build_request(Operation.DELETE_MEMBERSHIPS, sourced_ids, header=header)
