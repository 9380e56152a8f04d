"""Person rules: upsert, soft delete into the trash can, reads, readAllPersons.

Sources (itslearning-and-target-formats §1.3, §1.6, readAllPersons.html, Deleting_Users.html):

* createPerson and updatePerson are the same upsert. Mandatory on every call: First and Last name and
  ``institutionRole``; other fields are additive (absent = keep), and an empty element clears the field.
* Deleting moves the user to the trash can. Creating or updating the same sync key restores the very
  same user (same internal id), and with it the memberships, which were hidden while it was trashed.
* Deleting an unknown or already trashed person is a per-item ``unknownobject`` failure.
* ``institutionRoleType`` picks the profile (Carer → Parent; a profile name the site knows gives that
  profile; anything else the default profile for external enrolment). A value outside the 2017
  enumeration and the site's profile names never gets here: it fails deserialisation (``contract``).
* A parent lists its children as ``extension/relationship{relation=Child}``; the children must exist.
  The list sent replaces the previous one (itswizard sends all children every time).
* Usernames are unique on a site, compared case-insensitively, trashed users included (an inference).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from .decode import PageRequest
from .model import (
    CodeMinor,
    ObjectKind,
    Origin,
    Outcome,
    Person,
    PersonData,
    Status,
    profile_for,
)
from .rules import Context, Limits, check_length, merge_fields, reject, require_key
from .store import Store

__all__ = [
    "CONVERTED_KEY_PREFIX",
    "delete_person",
    "live_person",
    "read_all_persons",
    "upsert_person",
]

CONVERTED_KEY_PREFIX = "itsla-"
"""readAllPersons with ConvertFromManual gives unsynced users the sync key ``itsla-<GUID>``."""

_KEY_NAMESPACE = uuid.UUID("6c1f0d6e-2d53-4c8e-9a55-9d1c2f3b7a10")


def upsert_person(store: Store, context: Context, key: str | None, data: PersonData | None) -> Status:
    key = require_key(key, ObjectKind.PERSON, Limits.PERSON_KEY)
    context.check_doomed(ObjectKind.PERSON, key)
    if data is None:
        reject(CodeMinor.INCOMPLETEDATA, f"The request for person '{key}' carries no 'person'.")
    values = _person_values(data, context.site_profiles)
    existing = store.person_by_key(key)
    _check_username(store, values.get("username"), existing)
    child_ids = _child_ids(store, key, data.children)
    if existing is None:
        person_id = store.insert_person(
            {
                **values,
                "sync_key": key,
                "origin": Origin.IMS.value,
                "extension": data.extension_fields,
                "created_at": context.now,
                "updated_at": context.now,
            }
        )
    else:
        person_id = existing.id
        store.update_person(
            person_id,
            {
                **values,
                "extension": merge_fields(existing.extension_fields, data.extension_fields),
                "updated_at": context.now,
                "trashed_at": None,
            },
        )
    if child_ids is not None:
        store.set_children(person_id, child_ids)
    return Status.success()


def _person_values(data: PersonData, site_profiles: frozenset[str]) -> dict[str, str | None]:
    """The columns this item sets, after the mandatory-field and length checks."""
    first = _required_name(data.first, "First", Limits.FIRST_NAME)
    last = _required_name(data.last, "Last", Limits.LAST_NAME)
    if not data.institution_role:
        reject(CodeMinor.INCOMPLETEDATA, "The person's 'institutionRole/institutionRoleType' is mandatory.")
    values: dict[str, str | None] = {
        "first": first,
        "last": last,
        "institution_role": data.institution_role,
        "profile": profile_for(data.institution_role, site_profiles),
    }
    check_length(data.prefix, Limits.PREFIX, "The name part 'Prefix'")
    for column, value in (("prefix", data.prefix), ("email", data.email), ("username", data.username)):
        if value is not None:
            values[column] = value or None
    return values


def _required_name(value: str | None, part: str, limit: int) -> str:
    if not value:
        reject(CodeMinor.INCOMPLETEDATA, f"The person's name part '{part}' is mandatory.")
    check_length(value, limit, f"The name part '{part}'")
    return value


def _check_username(store: Store, username: str | None, existing: Person | None) -> None:
    if not username:
        return
    owner = store.username_owner(username)
    if owner is not None and (existing is None or owner != existing.id):
        reject(CodeMinor.INVALIDDATA, f"The username '{username}' is already in use by another user.")


def _child_ids(store: Store, key: str, children: tuple[str, ...] | None) -> list[int] | None:
    if children is None:
        return None
    ids = []
    for child_key in children:
        if child_key == key:
            reject(CodeMinor.INVALIDDATA, "A person cannot be its own child.")
        ids.append(live_person(store, child_key, role="child").id)
    return ids


def live_person(store: Store, key: str | None, *, role: str = "person") -> Person:
    """The person with sync key ``key`` that is not in the trash can, or an ``unknownobject`` failure."""
    person = store.person_by_key(key) if key else None
    if person is None or person.trashed:
        reject(CodeMinor.UNKNOWNOBJECT, f"The 'sourcedId' '{key or ''}' of the {role} does not exist.")
    return person


def delete_person(store: Store, context: Context, key: str | None) -> Status:
    person = store.person_by_key(key) if key else None
    if person is None or person.trashed:
        reject(
            CodeMinor.UNKNOWNOBJECT,
            f"The person with 'sourcedId' '{key or ''}' does not exist or is already in the trash can.",
        )
    store.update_person(person.id, {"trashed_at": context.now, "updated_at": context.now})
    return Status.success()


def read_all_persons(store: Store, context: Context, page: PageRequest) -> Outcome:
    """One page of all users that are not trashed, synchronised or not, ordered by creation."""
    if page.page_index < 1 or page.page_size < 1:
        failure = Status.failure(CodeMinor.INVALIDDATA, "PageIndex and PageSize must be 1 or more.")
        return Outcome((failure,))
    created_from = _iso(page.created_from)
    total = store.count_persons(manual_only=page.only_manually_created, created_from=created_from)
    persons = store.persons_page(
        manual_only=page.only_manually_created,
        created_from=created_from,
        offset=(page.page_index - 1) * page.page_size,
        limit=page.page_size,
    )
    if page.convert_from_manual:
        persons = [_convert_from_manual(store, context, person) for person in persons]
    return Outcome((Status.success(),), tuple(persons), virtual_count=total)


def _convert_from_manual(store: Store, context: Context, person: Person) -> Person:
    if person.sync_key is not None:
        return person
    key = f"{CONVERTED_KEY_PREFIX}{uuid.uuid5(_KEY_NAMESPACE, f'{context.seed}:{person.id}')}"
    store.update_person(person.id, {"sync_key": key, "updated_at": context.now})
    converted = store.person_by_id(person.id)
    assert converted is not None
    return converted


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds")
