"""Sandbox-only admin actions: what a school administrator does by hand in itslearning's web UI.

None of this is part of itslearning's IMS ES. Tests use it to set up reconciliation scenarios — a user
typed in by hand (with or without a sync key) for readAllPersons/ConvertFromManual to find, a name or
course title an administrator changed that koppel must not overwrite — and to start from empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from koppel.errors import SandboxError

from .model import Group, Origin, Person, Profile
from .rules import Limits
from .site import now_iso
from .store import Store

__all__ = ["ManualError", "create_person", "edit"]

# The institutionRoleType an administrator's profile choice corresponds to (the default mapping, reversed).
_ROLE_FOR_PROFILE = {
    Profile.STUDENT: "Student",
    Profile.STAFF: "Staff",
    Profile.PARENT: "Carer",
    Profile.ADMINISTRATOR: "Administrator",
    Profile.GUEST: "Guest",
    Profile.EXTERNAL_DEFAULT: "",
}
PERSON_FIELDS = ("first", "last", "prefix", "username", "email", "profile", "sync_key")
GROUP_FIELDS = ("name", "course_title", "course_code")


Found = TypeVar("Found", Person, Group)


class ManualError(SandboxError):
    """A sandbox-only request that cannot be carried out; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


def create_person(store: Store, body: Mapping[str, Any]) -> Person:
    """``{"first", "last", "username"?, "email"?, "prefix"?, "profile"?, "sync_key"?}``."""
    first, last = _text(body, "first", required=True), _text(body, "last", required=True)
    profile = _profile(body.get("profile", Profile.STUDENT.value))
    username, sync_key = _text(body, "username"), _text(body, "sync_key")
    _check_free(store, username=username, sync_key=sync_key, person_id=None)
    now = now_iso()
    person_id = store.insert_person(
        {
            "sync_key": sync_key,
            "first": first,
            "last": last,
            "prefix": _text(body, "prefix"),
            "username": username,
            "email": _text(body, "email"),
            "profile": profile.value,
            "institution_role": _ROLE_FOR_PROFILE[profile],
            "origin": Origin.MANUAL.value,
            "extension": (),
            "created_at": now,
            "updated_at": now,
        }
    )
    person = store.person_by_id(person_id)
    assert person is not None
    return person


def edit(store: Store, body: Mapping[str, Any]) -> Person | Group:
    """``{"kind": "person"|"group", "sync_key"|"sync_id"|"id", "field", "value"}``."""
    kind, field = body.get("kind"), body.get("field")
    if kind == "person":
        person = _find_person(store, body)
        _edit_person(store, person, _choice(field, PERSON_FIELDS), body.get("value"))
        edited_person = store.person_by_id(person.id)
        assert edited_person is not None
        return edited_person
    if kind == "group":
        group = _find_group(store, body)
        _edit_group(store, group, _choice(field, GROUP_FIELDS), body.get("value"))
        edited_group = store.group_by_id(group.id)
        assert edited_group is not None
        return edited_group
    raise ManualError(400, "'kind' must be 'person' or 'group'")


def _edit_person(store: Store, person: Person, field: str, value: Any) -> None:
    text = _value_text(value, required=field in ("first", "last"))
    changes: dict[str, Any] = {field: text}
    if field == "profile":
        profile = _profile(text)
        changes = {"profile": profile.value, "institution_role": _ROLE_FOR_PROFILE[profile]}
    elif field == "username":
        _check_free(store, username=text, sync_key=None, person_id=person.id)
    elif field == "sync_key":
        _check_free(store, username=None, sync_key=text, person_id=person.id)
    store.update_person(person.id, {**changes, "updated_at": now_iso()})


def _edit_group(store: Store, group: Group, field: str, value: Any) -> None:
    if field == "name":
        name = _value_text(value, required=True)
        if name is not None and len(name) > Limits.DESC_SHORT:
            raise ManualError(400, f"a hierarchy name has at most {Limits.DESC_SHORT} characters")
        store.update_group(group.id, {"name": name, "updated_at": now_iso()})
        return
    if group.course is None:
        raise ManualError(400, f"'{group.sync_id}' has no course")
    column = "title" if field == "course_title" else "code"
    store.update_course(group.course.id, {column: _value_text(value, required=column == "title")})


def _find_person(store: Store, body: Mapping[str, Any]) -> Person:
    key = body.get("sync_key", body.get("sync_id"))
    person = store.person_by_key(str(key)) if key is not None else _by_id(store.person_by_id, body)
    if person is None:
        raise ManualError(404, "no such person")
    return person


def _find_group(store: Store, body: Mapping[str, Any]) -> Group:
    key = body.get("sync_id", body.get("sync_key"))
    group = store.group_by_key(str(key)) if key is not None else _by_id(store.group_by_id, body)
    if group is None:
        raise ManualError(404, "no such group")
    return group


def _by_id(lookup: Callable[[int], Found | None], body: Mapping[str, Any]) -> Found | None:
    if not isinstance(body.get("id"), int):
        raise ManualError(400, "name the object by 'sync_key' / 'sync_id' or by its integer 'id'")
    return lookup(body["id"])


def _check_free(store: Store, *, username: str | None, sync_key: str | None, person_id: int | None) -> None:
    if username and store.username_owner(username) not in (None, person_id):
        raise ManualError(409, f"username {username!r} is already in use")
    if sync_key:
        holder = store.person_by_key(sync_key)
        if holder is not None and holder.id != person_id:
            raise ManualError(409, f"sync key {sync_key!r} is already in use")


def _choice(field: Any, allowed: tuple[str, ...]) -> str:
    if field not in allowed:
        raise ManualError(400, f"'field' must be one of {', '.join(allowed)}")
    return str(field)


def _profile(value: Any) -> Profile:
    try:
        return Profile(value)
    except ValueError:
        allowed = ", ".join(profile.value for profile in Profile)
        raise ManualError(400, f"'profile' must be one of {allowed}") from None


def _text(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    try:
        return _value_text(body.get(name), required=required)
    except ManualError as error:
        raise ManualError(400, f"'{name}': {error}") from None


def _value_text(value: Any, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ManualError(400, "a non-empty string is required")
        return None
    if not isinstance(value, str):
        raise ManualError(400, "must be a string")
    return value
