"""Pure: koppel's target-neutral objects ↔ SCIM 2.0 resources and PATCH messages (RFC 7643/7644).

Requests are built with `scim2-models` (pydantic models of the RFCs: ``User``, ``Group``, ``PatchOp``),
answers are read into the small frozen views below. Nothing here opens a socket (STYLE §3): the client
sends what this module builds, and ``koppel plan --show-payloads`` prints it.

How koppel's words land in SCIM:

* a person is a ``User``: ``externalId`` = koppel's sync key, ``userName`` = the user name, ``name``
  (``givenName`` = roepnaam, ``familyName`` = voorvoegsel + achternaam, as the person is called:
  "van der Berg"; ``formatted`` and ``displayName`` the whole name), ``userType`` by role, one ``emails``
  value (primary), ``active``. A suspended person is ``active=false``;
* a school, klas or course is a ``Group``: ``externalId`` = sync key, ``displayName`` = its name,
  ``members`` = the Users in it. SCIM groups are flat: folders (school year, leerjaar) are not sent,
  and a group's parent is only checked to exist (the nearest ancestor that is sent);
* a membership is one ``members`` value of its group (the User's ``id``), added and removed with PATCH
  (``members[value eq "…"]``). SCIM has no role per member: a person is in a group once, whatever the role.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    Email,
    Group,
    GroupMember,
    Name,
    PatchOp,
    PatchOperation,
    User,
)

from koppel.model.desired import ObjectKind
from koppel.model.keys import school_key

__all__ = [
    "DEFAULT_USER_TYPES",
    "FOLDER_TYPES",
    "MANDATORY_FIELDS",
    "GroupView",
    "MappingConfig",
    "UserView",
    "anchor_of",
    "archived_name",
    "external_id_filter",
    "full_name",
    "group_attrs",
    "group_resource",
    "held_attrs",
    "members_patch",
    "membership_attrs",
    "merge_members",
    "merge_user",
    "parse_group",
    "parse_user",
    "person_attrs",
    "rename_patch",
    "split_family",
    "user_active_patch",
    "user_name_filter",
    "user_patch",
    "user_resource",
    "wire",
]

DEFAULT_USER_TYPES: Mapping[str, str] = {"student": "Student", "staff": "Staff", "guardian": "Guardian"}
# Groups of these types are not sent: SCIM groups are flat, and a folder never has members.
FOLDER_TYPES = frozenset({"folder"})
# SCIM needs nothing on every update: PATCH changes what changed, PUT merges into what the server holds.
MANDATORY_FIELDS: Mapping[str, frozenset[str]] = {}
# A member's role, read back from the User's userType (SCIM keeps no role per member).
_MEMBER_ROLE = {"student": "student", "staff": "teacher", "guardian": "guardian"}


@dataclass(frozen=True)
class MappingConfig:
    user_types: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_USER_TYPES))
    email_type: str = "work"
    archive_name: str = "{name} ({school_year})"

    def role_of(self, user_type: str | None) -> str | None:
        if user_type is None:
            return None
        for role, value in self.user_types.items():
            if value.casefold() == user_type.casefold():
                return role
        return None


# -- names -----------------------------------------------------------------------------------------


def family_name(prefix: str | None, family: str | None) -> str:
    """SCIM's familyName: the voorvoegsel and the achternaam as the person is called ("van der Berg")."""
    return " ".join(part for part in (prefix or "", family or "") if part)


def full_name(attrs: Mapping[str, Any]) -> str:
    return " ".join(part for part in (attrs.get("given") or "", family_name(attrs.get("prefix"), attrs.get("family")))
                    if part)


def split_family(value: str | None) -> tuple[str, str]:
    """(voorvoegsel, achternaam) of a familyName: its leading words written in lower case ("van der", "in 't")
    are the voorvoegsel, the rest the achternaam; the last word always stays in the achternaam. This is how a
    Dutch name reads after a roepnaam; it is what koppel infers when it reads a User back."""
    words = (value or "").split()
    cut = 0
    while cut < len(words) - 1 and words[cut].lstrip("'’")[:1].islower():
        cut += 1
    return " ".join(words[:cut]), " ".join(words[cut:])


# -- requests --------------------------------------------------------------------------------------


def user_resource(key: str, attrs: Mapping[str, Any], config: MappingConfig, *, active: bool = True) -> User:
    """A new User for a person (POST /Users). Raises ``ValueError`` for a value SCIM cannot carry."""
    user_name = attrs.get("username")
    if not user_name:
        raise ValueError("the person has no user name, and SCIM requires a userName")
    try:
        return User(
            external_id=key,
            user_name=user_name,
            name=_name(attrs),
            display_name=full_name(attrs) or None,
            user_type=config.user_types.get(attrs.get("role") or ""),
            active=active,
            emails=_emails(attrs.get("email"), config),
        )
    except ValidationError as exc:
        raise ValueError(_validation_message(exc)) from None


def _name(attrs: Mapping[str, Any]) -> Name | None:
    given, family = attrs.get("given") or None, family_name(attrs.get("prefix"), attrs.get("family")) or None
    if given is None and family is None:
        return None
    return Name(given_name=given, family_name=family, formatted=full_name(attrs) or None)


def _emails(email: str | None, config: MappingConfig) -> list[Email] | None:
    if not email:
        return None
    return [Email(value=email, type=config.email_type, primary=True)]


def user_patch(attrs: Mapping[str, Any], fields: Collection[str], config: MappingConfig, *,
               active: bool | None = None) -> PatchOp[User]:
    """PATCH replace operations for the person fields in ``fields`` (what koppel owns and what changed), and
    ``active`` when given. Fields not owned are not in ``attrs`` and are never touched."""
    ops: list[PatchOperation[User]] = []
    try:
        if "username" in fields and attrs.get("username"):
            ops.append(_replace("userName", attrs["username"]))
        if {"given", "prefix", "family"} & set(fields):
            name = _name(attrs)
            ops.append(_replace("name", name.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST) if name else None))
            ops.append(_replace("displayName", full_name(attrs) or None))
        if "email" in fields:
            emails = _emails(attrs.get("email"), config)
            ops.append(_replace("emails", [e.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST) for e in emails]
                                if emails else None))
        if "role" in fields:
            ops.append(_replace("userType", config.user_types.get(attrs.get("role") or "")))
        if active is not None:
            ops.append(_replace("active", active))
        return PatchOp[User](operations=ops)
    except ValidationError as exc:
        raise ValueError(_validation_message(exc)) from None


def user_active_patch(active: bool) -> PatchOp[User]:
    return PatchOp[User](operations=[_replace("active", active)])


def _replace(path: str, value: Any) -> PatchOperation[User]:
    return PatchOperation[User](op=PatchOperation.Op.replace_, path=path, value=value)


def merge_user(current: Mapping[str, Any], attrs: Mapping[str, Any], fields: Collection[str], config: MappingConfig,
               *, active: bool | None = None) -> dict[str, Any]:
    """For a server without PATCH: the User as read (GET), with what koppel owns and changed put in, for PUT.
    What koppel does not own (other e-mail types, extensions, attributes the application added) stays."""
    body = {k: v for k, v in current.items() if k != "meta"}
    for op in user_patch(attrs, fields, config, active=active).operations or ():
        path = str(op.path)
        if op.value is None:
            body.pop(path, None)
        else:
            body[path] = op.value
    return body


def group_resource(key: str, name: str) -> Group:
    return Group(external_id=key, display_name=name)


def rename_patch(name: str) -> PatchOp[Group]:
    return PatchOp[Group](operations=[PatchOperation[Group](op=PatchOperation.Op.replace_, path="displayName",
                                                            value=name)])


def members_patch(add: Sequence[str] = (), remove: Sequence[str] = ()) -> PatchOp[Group]:
    """One PATCH for a group's member changes: one ``add`` with every new member, one ``remove`` per member gone
    (``members[value eq "…"]``, RFC 7644 §3.5.2.2)."""
    ops: list[PatchOperation[Group]] = []
    if add:
        ops.append(PatchOperation[Group](op=PatchOperation.Op.add, path="members",
                                         value=[GroupMember(value=user_id).model_dump(
                                             scim_ctx=Context.RESOURCE_PATCH_REQUEST) for user_id in add]))
    for user_id in remove:
        ops.append(PatchOperation[Group](op=PatchOperation.Op.remove, path=f"members[value eq {_quote(user_id)}]"))
    return PatchOp[Group](operations=ops)


def merge_members(current: Mapping[str, Any], add: Sequence[str], remove: Sequence[str]) -> dict[str, Any]:
    """For a server without PATCH: the Group as read, with its members changed, for PUT."""
    body = {k: v for k, v in current.items() if k != "meta"}
    gone = set(remove)
    members = [m for m in body.get("members") or () if isinstance(m, dict) and m.get("value") not in gone]
    have = {m.get("value") for m in members}
    members += [{"value": user_id} for user_id in add if user_id not in have]
    body["members"] = members
    return body


def wire(message: User | Group | PatchOp[Any], context: Context) -> dict[str, Any]:
    """The JSON body of a request, as the RFC spells it (camelCase, ``schemas``, no empty values)."""
    data: dict[str, Any] = message.model_dump(scim_ctx=context)
    return data


# -- filters ---------------------------------------------------------------------------------------


def _quote(value: str) -> str:
    """A filter's compValue is a JSON string (RFC 7644 §3.4.2.2)."""
    return json.dumps(value, ensure_ascii=False)


def external_id_filter(keys: Sequence[str]) -> str:
    return " or ".join(f"externalId eq {_quote(key)}" for key in keys)


def user_name_filter(user_name: str) -> str:
    return f"userName eq {_quote(user_name)}"


# -- groups: what is sent --------------------------------------------------------------------------


def is_folder(attrs: Mapping[str, Any] | None) -> bool:
    return bool(attrs) and (attrs or {}).get("type") in FOLDER_TYPES


def anchor_of(attrs: Mapping[str, Any]) -> str | None:
    """The group that must exist before this one: its parent, or — when the parent is a folder, which is not sent
    (``year:…``, ``leerjaar:…``) — its school. None for a school."""
    parent = attrs.get("parent")
    if not parent:
        return None
    if str(parent).startswith(("year:", "leerjaar:")) and attrs.get("school"):
        return school_key(str(attrs["school"]))
    return str(parent)


def archived_name(attrs: Mapping[str, Any], config: MappingConfig) -> str:
    return config.archive_name.format(name=attrs.get("name") or "", school_year=attrs.get("school_year") or "")


# -- answers ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserView:
    """What koppel reads of a User."""

    id: str
    external_id: str | None
    user_name: str | None
    given: str | None = None
    family: str | None = None
    user_type: str | None = None
    active: bool = True
    email: str | None = None
    version: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class GroupView:
    id: str
    external_id: str | None
    display_name: str | None
    members: tuple[str, ...] = ()
    version: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def parse_user(data: Mapping[str, Any]) -> UserView:
    """A User from a response, through scim2-models; a value the models refuse (an e-mail address the platform
    let through) is read from the JSON as it is, so one odd account never stops a read."""
    try:
        user: User = User.model_validate(dict(data))
    except ValidationError:
        return _user_from_json(data)
    emails = user.emails or []
    email = next((e.value for e in emails if e.primary), None) or next((e.value for e in emails if e.value), None)
    return UserView(
        id=str(user.id or data.get("id") or ""),
        external_id=user.external_id,
        user_name=user.user_name,
        given=user.name.given_name if user.name else None,
        family=user.name.family_name if user.name else None,
        user_type=user.user_type,
        active=user.active is not False,
        email=str(email) if email else None,
        version=user.meta.version if user.meta else None,
        raw=data,
    )


def _user_from_json(data: Mapping[str, Any]) -> UserView:
    name: Mapping[str, Any] = data["name"] if isinstance(data.get("name"), dict) else {}
    emails = [e for e in data.get("emails") or () if isinstance(e, dict)]
    email = next((e.get("value") for e in emails if e.get("primary")), None) or next(
        (e.get("value") for e in emails if e.get("value")), None)
    meta: Mapping[str, Any] = data["meta"] if isinstance(data.get("meta"), dict) else {}
    return UserView(str(data.get("id") or ""), data.get("externalId"), data.get("userName"), name.get("givenName"),
                    name.get("familyName"), data.get("userType"), data.get("active") is not False, email,
                    meta.get("version"), data)


def parse_group(data: Mapping[str, Any]) -> GroupView:
    meta: Mapping[str, Any] = data["meta"] if isinstance(data.get("meta"), dict) else {}
    members = tuple(str(m["value"]) for m in data.get("members") or () if isinstance(m, dict) and m.get("value"))
    return GroupView(str(data.get("id") or ""), data.get("externalId"), data.get("displayName"), members,
                     meta.get("version"), data)


# -- read back in koppel's vocabulary ----------------------------------------------------------------


def person_attrs(user: UserView, config: MappingConfig) -> dict[str, Any]:
    prefix, family = split_family(user.family)
    return {"role": config.role_of(user.user_type), "given": user.given, "prefix": prefix, "family": family,
            "username": user.user_name, "email": user.email, "active": user.active}


def group_attrs(group: GroupView) -> dict[str, Any]:
    return {"name": group.display_name}


def membership_attrs(person_key: str, group_key: str, person_role: str | None) -> dict[str, Any]:
    return {"person": person_key, "group": group_key, "role": _MEMBER_ROLE.get(person_role or "", "student")}


def held_attrs(kind: ObjectKind, attrs: Mapping[str, Any], config: MappingConfig) -> dict[str, Any]:
    """What the platform holds after koppel sent ``attrs``, in the vocabulary ``read`` returns (for
    reconciliation): a User's name as its familyName splits again, no group type or parent, no member role."""
    if kind is ObjectKind.PERSON:
        prefix, family = split_family(family_name(attrs.get("prefix"), attrs.get("family")))
        held: dict[str, Any] = {"given": attrs.get("given") or None, "prefix": prefix, "family": family,
                                "username": attrs.get("username"), "email": attrs.get("email")}
        if "role" in attrs:
            held["role"] = attrs["role"] if attrs["role"] in config.user_types else None
        return {k: v for k, v in held.items() if k in attrs or k in ("prefix", "family")}
    if kind is ObjectKind.GROUP:
        return {"name": attrs.get("name")} if "name" in attrs else {}
    return {k: attrs[k] for k in ("person", "group") if k in attrs}


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts) or str(exc)
