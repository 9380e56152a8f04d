"""Membership rules: one person in one hierarchy, under a client-chosen id.

Sources (itslearning-and-target-formats §1.3, §1.8; Managing-memberships.html; updateMembership.html;
Marking_an_organisation_as_a_user's_home_organisation.html):

* createMembership and updateMembership are the same upsert; the id (≤ 255) is the client's, and the
  only handle to update or delete the membership. The group and the person must exist.
* An existing membership may change only its roleType and HomeOrganisation flag; a different group
  or person is a failure ("delete + create" is the documented way to move someone).
* roleType is the literal (Learner …) or its code (01–08). The 2017 enumeration also lists
  ``Default`` and ``Guest``, whose hierarchy role itslearning does not document: the sandbox refuses
  them per item (``unknownvocab``). A value outside the enumeration fails deserialisation.
* ``HomeOrganisation`` applies to School and Site hierarchies only and is ignored for Mentor (06).
  The sandbox stores the membership and *warns* (success/warning, ``partialdatastorage``) when the flag
  is ignored — the vendor says "ignored", not "refused". Marking one membership as the home
  organisation clears the flag on the person's others (a user has one home organisation; inference).
* A membership of a trashed person is hidden — not read, not counted, not deletable — until the person
  is restored, when it returns (Deleting_Users.html: restoring keeps the user's data).
"""

from __future__ import annotations

from .groups import existing_group
from .model import (
    CodeMinor,
    Group,
    GroupType,
    MemberData,
    Membership,
    MembershipData,
    ObjectKind,
    RoleType,
    Status,
)
from .persons import live_person
from .rules import Context, Limits, reject, require_key
from .store import Store

__all__ = ["delete_membership", "read_membership", "upsert_membership"]

HOME_ORGANISATION_TYPES = frozenset({GroupType.SCHOOL, GroupType.SITE})
_TRUE, _FALSE = frozenset({"1", "true", "True"}), frozenset({"0", "false", "False"})


def upsert_membership(store: Store, context: Context, key: str | None, data: MembershipData | None) -> Status:
    key = require_key(key, ObjectKind.MEMBERSHIP, Limits.MEMBERSHIP_KEY)
    context.check_doomed(ObjectKind.MEMBERSHIP, key)
    if data is None:
        reject(CodeMinor.INCOMPLETEDATA, f"The request for membership '{key}' carries no 'membership'.")
    member = _single_member(data)
    role = _role(member.role)
    home_organisation = _flag(member.home_organisation)
    if not data.group_key:
        reject(CodeMinor.INCOMPLETEDATA, "The membership's 'groupSourcedId' is mandatory.")
    group = existing_group(store, data.group_key)
    person = live_person(store, member.person_key, role="member")
    existing = store.membership_by_key(key)
    if existing is not None and (existing.group_id, existing.person_id) != (group.id, person.id):
        reject(
            CodeMinor.INVALIDDATA,
            f"The membership '{key}' joins '{existing.person_sync_key}' to '{existing.group_sync_id}'; its "
            "group and person cannot change (only roleType and HomeOrganisation can): delete it and create "
            "a new one.",
        )
    home_organisation, warning = _applicable_home_organisation(home_organisation, group, role)
    values: dict[str, str | int] = {"role": role.value, "updated_at": context.now}
    if home_organisation is not None:
        values["home_organisation"] = int(home_organisation)
    if existing is None:
        membership_id = store.insert_membership(
            {
                **values,
                "sync_id": key,
                "group_id": group.id,
                "person_id": person.id,
                "created_at": context.now,
            }
        )
    else:
        membership_id = existing.id
        store.update_membership(membership_id, values)
    if home_organisation:
        store.clear_home_organisation(person.id, except_membership=membership_id)
    return warning or Status.success()


def _single_member(data: MembershipData) -> MemberData:
    """The schema allows one ``member`` (a second one is skipped by the serializer, see ``contract``)."""
    if not data.members:
        reject(CodeMinor.INCOMPLETEDATA, "The membership has no 'member'.")
    member = data.members[0]
    if not member.person_key:
        reject(CodeMinor.INCOMPLETEDATA, "The member's 'memberSourcedId' is mandatory.")
    return member


def _role(raw: str | None) -> RoleType:
    if not raw:
        reject(CodeMinor.INCOMPLETEDATA, "The member's 'role/roleType' is mandatory.")
    role = RoleType.parse(raw)
    if role is None:
        allowed = ", ".join(f"{role.value} ({role.code})" for role in RoleType)
        reject(
            CodeMinor.UNKNOWNVOCAB,
            f"roleType '{raw}' gives no known role in a hierarchy; use one of {allowed}.",
        )
    return role


def _flag(raw: str | None) -> bool | None:
    if raw is None or not raw.strip():
        return None
    if raw.strip() in _TRUE:
        return True
    if raw.strip() in _FALSE:
        return False
    reject(CodeMinor.INVALIDDATA, f"HomeOrganisation '{raw}' is not a boolean (1/0).")


def _applicable_home_organisation(
    requested: bool | None, group: Group, role: RoleType
) -> tuple[bool | None, Status | None]:
    """The flag to store and, when a requested flag is ignored, the warning that says so."""
    if not requested:
        return requested, None
    if group.type not in HOME_ORGANISATION_TYPES:
        return None, Status.warning(
            CodeMinor.PARTIALDATASTORAGE,
            f"HomeOrganisation applies only to School and Site hierarchies; it was ignored for the "
            f"{group.type} '{group.sync_id}'. The membership itself was stored.",
        )
    if role is RoleType.MENTOR:
        return None, Status.warning(
            CodeMinor.PARTIALDATASTORAGE,
            "HomeOrganisation is ignored for the Mentor role (06). The membership itself was stored.",
        )
    return True, None


def read_membership(store: Store, key: str | None) -> Membership:
    membership = store.membership_by_key(key) if key else None
    if membership is None or membership.person_trashed:
        reject(CodeMinor.UNKNOWNOBJECT, f"The membership with 'sourcedId' '{key or ''}' does not exist.")
    return membership


def delete_membership(store: Store, context: Context, key: str | None) -> Status:
    store.delete_membership(read_membership(store, key).id)
    return Status.success()
