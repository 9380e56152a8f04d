"""The attributes a desired object carries, per kind: the contract between the rules, which make them, and the
plan, the applier, the state and the targets, which read them.

They are ``TypedDict``s, so an object's attributes stay the plain dict they are in a plan file and a state row
(the fingerprint is a digest of exactly that dict), and typing them costs nothing at run time. A change's
``before`` and ``after`` hold the same shapes, an update's ``after`` without the fields koppel does not own: read
those with ``.get``. The accessors below are ``typing.cast``\\s: they tell the type checker which kind it holds.

Attribute values are JSON scalars (str, int, bool, None) or tuples of strings, so that fingerprints are stable.
"""

# No ``from __future__ import annotations`` here: TypedDict reads ``NotRequired`` at run time
# (``__required_keys__``, which tests check the rules against).
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, cast

__all__ = [
    "GroupAttrs",
    "GroupType",
    "MembershipAttrs",
    "MembershipRole",
    "PersonAttrs",
    "PersonRole",
    "group_attrs",
    "membership_attrs",
    "person_attrs",
]

GroupType = Literal["school", "folder", "klas", "course"]
PersonRole = Literal["student", "staff", "guardian"]
MembershipRole = Literal["student", "teacher", "mentor", "guardian"]


class GroupAttrs(TypedDict):
    """A school, a folder (school year, leerjaar), a klas or a course."""

    type: GroupType
    name: str
    code: str | None
    parent: str | None  # sync key of the parent group; None for a school (the top)
    school: str  # BRIN6
    school_year: str | None  # None for a school
    subject: NotRequired[str | None]  # courses
    leerjaar: NotRequired[int | None]  # klassen, courses and leerjaar folders


class PersonAttrs(TypedDict):
    role: PersonRole
    given: str  # roepnaam
    prefix: str  # voorvoegsel
    family: str  # achternaam
    username: str
    email: str | None
    children: NotRequired[tuple[str, ...]]  # guardians: sync keys of their children


class MembershipAttrs(TypedDict):
    """Person, group and role make a membership's key (``model.keys.membership_key``)."""

    person: str  # sync keys
    group: str
    role: MembershipRole
    home: bool  # True on exactly one school membership per person: itslearning's HomeOrganisation


def group_attrs(attrs: Mapping[str, Any]) -> GroupAttrs:
    return cast("GroupAttrs", attrs)


def person_attrs(attrs: Mapping[str, Any]) -> PersonAttrs:
    return cast("PersonAttrs", attrs)


def membership_attrs(attrs: Mapping[str, Any]) -> MembershipAttrs:
    return cast("MembershipAttrs", attrs)
