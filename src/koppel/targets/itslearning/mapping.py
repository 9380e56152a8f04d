"""Pure mapping between koppel's target-neutral changes and itslearning's IMS ES objects.

This is where the itslearning-specific decisions live, as data and small functions, so that they
can be read in one place, tested without a network, and shown in documentation
(docs/targets/itslearning.md):

* **Sync keys.** itslearning stores a person's sync key and a hierarchy's syncId in at most
  64 characters. A koppel key that fits is sent unchanged; a longer one is shortened by
  :func:`stable_key` — its head, ``~``, and 32 hex digits of its SHA-256 — which is deterministic,
  so the same object gets the same id on every run and every machine. The id sent is returned as
  ``ItemResult.target_id``; a Change that carries ``target_id`` (an adopted manual account) uses
  that instead of deriving one. References to other objects (a group's parent, a membership's
  person and group, a guardian's children) are derived the same way, unless
  ``Change.meta["target_ids"]`` maps the referenced koppel key to a recorded target id.
* **Membership ids** are derived from the person and group ids (``<person>|<group>``, at most
  129 characters, well under itslearning's 255), so replays and deletes find the same membership.
* **Field limits.** Names longer than itslearning's documented maxima (First/Last 64, Prefix 32,
  ``descShort`` 64) are cut to the limit; the item then reports ``WARNING`` with what was cut
  instead of failing the batch.
* **Updates send what the Change's ``after`` holds** — fields koppel does not own are absent from
  ``after`` and are not sent (``updatePerson``/``updateGroup`` are additive) — plus what
  itslearning requires on every update (:data:`MANDATORY_FIELDS`), taken from ``before`` when
  ``after`` lacks it. An owned field that became empty is sent empty, which clears it; the
  institution role is never sent empty, because itslearning then resets the profile.
* **Statuses** are classified into koppel's item outcomes by :func:`item_result`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from koppel.model import attrs as contract  # the desired attributes per kind (not the wire's: *_attrs below)
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.model.roster import PersonKind, Role
from koppel.targets.itslearning.values import (
    CodeMajor,
    ExtensionField,
    GroupType,
    ImsGroup,
    ImsMembership,
    ImsPerson,
    Severity,
    StatusInfo,
)

__all__ = [
    "DEFAULT_INSTITUTION_ROLES",
    "DEFAULT_MEMBERSHIP_ROLES",
    "GROUP_TYPES",
    "MANDATORY_FIELDS",
    "ArchiveFolder",
    "KeyResolver",
    "Limits",
    "MappingConfig",
    "Prepared",
    "archive_name",
    "group_attrs",
    "held_attrs",
    "item_result",
    "membership_attrs",
    "membership_id",
    "person_attrs",
    "prepare",
    "stable_key",
]

_T = TypeVar("_T")


class Limits:
    """itslearning's documented maxima, in characters."""

    SYNC_KEY = 64  # person sync key ("Max 64 chars") and hierarchy syncId
    MEMBERSHIP_ID = 255  # membership syncId, client-chosen
    FIRST_NAME = 64
    LAST_NAME = 64
    PREFIX = 32
    DESC_SHORT = 64


# Fields of the desired vocabulary itslearning needs on every update: a person update must
# carry "all mandatory fields" (names and profile); a group update must always carry the parent
# relationship, its type (a group sent without a type becomes a Course) and its name (an update
# creates the group when it is missing, and a hierarchy has no existence without a name; a
# course needs its title); a membership is person × group × role.
MANDATORY_FIELDS: Mapping[str, frozenset[str]] = {
    ObjectKind.PERSON.value: frozenset({"given", "family", "role"}),
    ObjectKind.GROUP.value: frozenset({"type", "parent", "name"}),
    ObjectKind.MEMBERSHIP.value: frozenset({"person", "group", "role"}),
}

# Desired group type → itslearning hierarchy type. klas and folder are both plain hierarchies.
GROUP_TYPES: Mapping[str, GroupType] = {
    "school": GroupType.SCHOOL,
    "folder": GroupType.UNSPECIFIED,
    "klas": GroupType.UNSPECIFIED,
    "course": GroupType.COURSE,
}
_HELD_GROUP_TYPES = {"school": "school", "folder": "folder", "klas": "folder", "course": "course"}
_READ_GROUP_TYPES = {
    GroupType.SCHOOL.value.lower(): "school",
    GroupType.UNSPECIFIED.value.lower(): "folder",
    GroupType.COURSE.value.lower(): "course",
}

# Person role → institutionRoleType; itslearning's default profile table maps Student →
# Student/Pupil, Staff → Staff and the non-standard Carer → Parent.
DEFAULT_INSTITUTION_ROLES: Mapping[str, str] = {
    PersonKind.STUDENT.value: "Student",
    PersonKind.STAFF.value: "Staff",
    PersonKind.GUARDIAN.value: "Carer",
}

# Membership role → roleType. Learner → Student and Instructor → Teacher in the hierarchy;
# Mentor is IMS 06. itslearning has no parent role in a hierarchy — parents reach their
# children's courses through the Carer person's Child relationship — so a guardian's (school)
# membership is sent as Member (IMS 04, "Guest" in the hierarchy): it gives the parent account
# its school and home organisation without rights in it.
DEFAULT_MEMBERSHIP_ROLES: Mapping[str, str] = {
    Role.STUDENT.value: "Learner",
    Role.TEACHER.value: "Instructor",
    Role.MENTOR.value: "Mentor",
    Role.GUARDIAN.value: "Member",
}

# IMS roleType codes, for reading memberships answered with numbers.
_ROLE_CODES = {
    "01": "Learner",
    "02": "Instructor",
    "03": "ContentDeveloper",
    "04": "Member",
    "05": "Manager",
    "06": "Mentor",
    "07": "Administrator",
    "08": "TeachingAssistant",
}

HOME_ORGANISATION = "HomeOrganisation"
COURSE_TITLE = "course"
COURSE_CODE = "course/code"

# Codes koppel sets on results it decides itself, before or without asking itslearning.
CODE_MISSING_FIELD = "koppel:missing-field"
CODE_UNMAPPED = "koppel:unmapped"
CODE_UNSUPPORTED = "koppel:unsupported-action"

# Characters XML 1.0 cannot carry (C0 controls except tab, newline, carriage return; surrogates;
# U+FFFE/U+FFFF). A value holding them could not be sent at all.
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# How itslearning may word "that object is not there" on a delete. It does not publish its
# codeMinor values; IMS says ``unknownobject``. Matching the description as well is inference,
# listed as an open point in the documentation.
_GONE = re.compile(
    r"does\s*n[o']t\s+exist|not\s+exist|not\s+found|already\s+(?:been\s+)?deleted"
    r"|trash\s*can|unknown\s*object",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MappingConfig:
    """The settings the mapping needs, resolved: no secrets, no I/O."""

    site_root: str
    institution_roles: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_INSTITUTION_ROLES))
    membership_roles: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MEMBERSHIP_ROLES))
    send_guardian_relationships: bool = False
    archive_name: str = "Archief"


@dataclass(frozen=True, slots=True)
class ArchiveFolder:
    """The per-school archive hierarchy a group moves into when it is archived."""

    sync_id: str
    parent: str
    name: str

    def as_group(self) -> ImsGroup:
        return ImsGroup(type=GroupType.UNSPECIFIED.value, parent=self.parent, name=self.name)


@dataclass(frozen=True, slots=True)
class Prepared(Generic[_T]):
    """A change ready for the wire: the id to send, the object (None for deletes), diagnostics."""

    key: str
    wire_id: str
    payload: _T | None = None
    notes: tuple[str, ...] = ()
    archive_folder: ArchiveFolder | None = None


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def stable_key(key: str, limit: int = Limits.SYNC_KEY) -> str:
    """``key`` itself when it fits in ``limit`` characters, else a stable shortened form.

    The short form keeps the head of the key for people reading itslearning's admin pages and
    appends ``~`` and the first 32 hex digits (128 bits) of the key's SHA-256 (UTF-8):
    ``eck:https://id.school/LL_0f3…~9c1b…``. Same key, same result, everywhere, forever. A key
    holding characters XML cannot carry is shortened the same way (its head without them).
    """
    if len(key) <= limit and not _XML_UNSAFE.search(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{_XML_UNSAFE.sub('', key)[: limit - len(digest) - 1]}~{digest}"


def membership_id(person_id: str, group_id: str) -> str:
    """The membership syncId for a person and a group id: ``<person>|<group>``.

    Injective as long as neither id contains ``|``; otherwise ``m~`` and a SHA-256 of the pair,
    which cannot collide with the plain form (it has no ``|``).
    """
    if "|" not in person_id and "|" not in group_id:
        return f"{person_id}|{group_id}"
    digest = hashlib.sha256(f"{person_id}\x00{group_id}".encode()).hexdigest()[:40]
    return f"m~{digest}"


def _references(change: Change) -> Mapping[str, str]:
    meta = change.meta or {}
    refs = meta.get("target_ids")
    return refs if isinstance(refs, Mapping) else {}


def _ref(key: str, refs: Mapping[str, str]) -> str:
    return refs.get(key) or stable_key(key)


def _own_id(change: Change) -> str:
    return change.target_id or stable_key(change.key)


@dataclass(frozen=True)
class KeyResolver:
    """Maps the ids itslearning holds back to koppel keys, for reading (the inverse of ``_ref``).

    Built from the keys koppel knows; an id it does not recognise maps to itself.
    """

    to_key: Mapping[str, str]

    @classmethod
    def build(
        cls, known_keys: Collection[str], known_target_ids: Mapping[str, str] | None = None
    ) -> KeyResolver:
        table = {stable_key(key): key for key in known_keys}
        table.update({target_id: key for key, target_id in (known_target_ids or {}).items() if target_id})
        return cls(table)

    def __call__(self, wire_id: str) -> str:
        return self.to_key.get(wire_id, wire_id)


# --------------------------------------------------------------------------------------------
# Changes → IMS objects
# --------------------------------------------------------------------------------------------


class _Refusal(Exception):
    """A change that cannot be sent as it is; becomes a FAILED item result, never escapes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class _Fields:
    """The attributes of one change, read with the update rules: ``after`` first, then ``before``
    for fields itslearning requires on every update."""

    def __init__(self, change: Change, *, full: bool):
        self.change = change
        self.full = full
        # A restore may carry only ``before``: what koppel last sent is what comes back.
        self.after: Mapping[str, Any] = change.after if change.after is not None else (change.before or {})
        self.before: Mapping[str, Any] = change.before or {}
        self.notes: list[str] = []

    def has(self, name: str) -> bool:
        return name in self.after

    def get(self, name: str) -> Any:
        return self.after.get(name)

    def required(self, name: str) -> Any:
        if name in self.after and self.after[name] not in (None, ""):
            return self.after[name]
        if name in self.before and self.before[name] not in (None, ""):
            return self.before[name]
        raise _Refusal(
            CODE_MISSING_FIELD,
            f"itslearning requires {name!r} on every {self.change.action.value}, and the change has none",
        )

    def optional_text(self, name: str) -> str | None:
        """The value to send for an optional text field: None = leave alone, "" = clear."""
        if name not in self.after:
            return None
        value = self.after[name]
        if value in (None, ""):
            return None if self.full else ""
        return self.clean(name, str(value))

    def clean(self, label: str, value: str, limit: int | None = None) -> str:
        """``value`` without characters XML cannot carry, cut to ``limit``; each change noted."""
        if _XML_UNSAFE.search(value):
            value = _XML_UNSAFE.sub("", value)
            self.notes.append(f"{label}: removed control characters XML cannot carry")
        if limit is not None and len(value) > limit:
            self.notes.append(
                f"{label} cut to itslearning's maximum of {limit} characters (was {len(value)})"
            )
            value = value[:limit]
        return value


def prepare(change: Change, config: MappingConfig) -> Prepared[Any] | ItemResult:
    """The wire form of one change, or a FAILED result saying why it cannot be sent."""
    handler = _PREPARERS.get((change.kind, change.action))
    if handler is None:
        return ItemResult(
            key=change.key,
            outcome=ItemOutcome.FAILED,
            message=f"itslearning cannot {change.action.value} a {change.kind.value} over IMS ES",
            code=CODE_UNSUPPORTED,
        )
    try:
        return handler(change, config)
    except _Refusal as refusal:
        return ItemResult(
            key=change.key, outcome=ItemOutcome.FAILED, message=refusal.message, code=refusal.code
        )


def _person(change: Change, config: MappingConfig) -> Prepared[ImsPerson]:
    full = change.action is not Action.UPDATE
    fields = _Fields(change, full=full)
    refs = _references(change)
    role_name = str(fields.required("role"))
    institution_role = config.institution_roles.get(role_name)
    if not institution_role:
        raise _Refusal(
            CODE_UNMAPPED,
            f"person role {role_name!r} has no itslearning profile (institutionRoleType); see profile_map",
        )
    prefix = fields.optional_text("prefix")
    person = ImsPerson(
        given=fields.clean("first name", str(fields.required("given")), Limits.FIRST_NAME),
        family=fields.clean("last name", str(fields.required("family")), Limits.LAST_NAME),
        prefix=None if prefix is None else fields.clean("prefix", prefix, Limits.PREFIX),
        email=fields.optional_text("email"),
        user_id=fields.optional_text("username") or None,  # a username is never cleared
        institution_role=institution_role,
        children=_children(fields, role_name, refs, config),
    )
    return Prepared(key=change.key, wire_id=_own_id(change), payload=person, notes=tuple(fields.notes))


def _children(
    fields: _Fields, role_name: str, refs: Mapping[str, str], config: MappingConfig
) -> tuple[str, ...]:
    if not config.send_guardian_relationships or role_name != PersonKind.GUARDIAN.value:
        return ()
    return tuple(_ref(str(child), refs) for child in fields.get("children") or ())


def _group(change: Change, config: MappingConfig) -> Prepared[ImsGroup]:
    full = change.action is not Action.UPDATE
    fields = _Fields(change, full=full)
    refs = _references(change)
    group_type = _group_type(fields.required("type"))
    parent = fields.get("parent") if (full or fields.has("parent")) else _required_parent(fields)
    name = fields.clean("name", str(fields.required("name")))
    extension: list[ExtensionField] = []
    if group_type is GroupType.COURSE:
        extension.append(ExtensionField(COURSE_TITLE, name))
        code = fields.optional_text("code")
        if code is not None:
            extension.append(ExtensionField(COURSE_CODE, code))
    group = ImsGroup(
        type=group_type.value,
        parent=_ref(str(parent), refs) if parent else config.site_root,
        name=fields.clean("name", name, Limits.DESC_SHORT),
        extension_fields=tuple(extension),
    )
    return Prepared(key=change.key, wire_id=_own_id(change), payload=group, notes=tuple(fields.notes))


def _required_parent(fields: _Fields) -> str | None:
    """On update the parent relationship is always sent: from after, else before; None = top."""
    if "parent" in fields.before:
        return fields.before["parent"]
    raise _Refusal(
        CODE_MISSING_FIELD,
        "itslearning requires the parent relationship on every group update, and the change has none",
    )


def _group_type(value: Any) -> GroupType:
    group_type = GROUP_TYPES.get(str(value))
    if group_type is None:
        known = ", ".join(GROUP_TYPES)
        raise _Refusal(
            CODE_UNMAPPED, f"group type {value!r} has no itslearning hierarchy type (known: {known})"
        )
    return group_type


def _archive(change: Change, config: MappingConfig) -> Prepared[ImsGroup]:
    """Move the group under its school's archive hierarchy, its name marked with the school year.

    The group keeps its type, so a course stays a course with its content; the course title is
    marked too, because that is the name people see in their course list, and its code is sent
    along so that an upsert that replaces the course fields keeps it.
    """
    attrs = contract.group_attrs({**(change.before or {}), **(change.after or {})})
    refs = _references(change)
    group_type = _group_type(attrs.get("type"))
    folder = _archive_folder(change, attrs, refs, config)
    name = _XML_UNSAFE.sub("", str(attrs.get("name") or ""))
    if not name:
        raise _Refusal(
            CODE_MISSING_FIELD, "itslearning requires 'name' on every group update, and the change has none"
        )
    marked, cut = _archive_label(name, attrs.get("school_year"))
    notes = (f"archived name cut to itslearning's maximum of {Limits.DESC_SHORT} characters",) if cut else ()
    extension: tuple[ExtensionField, ...] = ()
    if group_type is GroupType.COURSE:
        code = _XML_UNSAFE.sub("", str(attrs.get("code") or ""))
        extension = (ExtensionField(COURSE_TITLE, marked),) + (
            (ExtensionField(COURSE_CODE, code),) if code else ()
        )
    group = ImsGroup(type=group_type.value, parent=folder.sync_id, name=marked, extension_fields=extension)
    return Prepared(
        key=change.key, wire_id=_own_id(change), payload=group, notes=notes, archive_folder=folder
    )


def _archive_folder(
    change: Change, attrs: Mapping[str, Any], refs: Mapping[str, str], config: MappingConfig
) -> ArchiveFolder:
    """One archive hierarchy per school: under the school's group when the plan names it in
    ``meta["school_group"]``, otherwise under the site root, named after the school's BRIN."""
    school_group = (change.meta or {}).get("school_group")
    if school_group:
        parent = _ref(str(school_group), refs)
        return ArchiveFolder(sync_id=stable_key(f"{parent}:archive"), parent=parent, name=config.archive_name)
    brin = attrs.get("school") or change.school
    if brin:
        return ArchiveFolder(
            sync_id=stable_key(f"{config.site_root}:archive:{brin}"),
            parent=config.site_root,
            name=f"{config.archive_name} {brin}",
        )
    return ArchiveFolder(
        sync_id=stable_key(f"{config.site_root}:archive"), parent=config.site_root, name=config.archive_name
    )


def archive_name(name: str, school_year: Any) -> str:
    """``3A wiskunde (2025-2026)``, cut to 64 characters by shortening the name, not the year."""
    return _archive_label(name, school_year)[0]


def _archive_label(name: str, school_year: Any) -> tuple[str, bool]:
    """The archived name and whether the name had to be cut. Archiving twice marks once."""
    suffix = f" ({school_year})" if school_year and not name.endswith(f"({school_year})") else ""
    room = Limits.DESC_SHORT - len(suffix)
    return name[:room] + suffix, len(name) > room


def _membership(change: Change, config: MappingConfig) -> Prepared[ImsMembership]:
    full = change.action is not Action.UPDATE
    fields = _Fields(change, full=full)
    refs = _references(change)
    person = _ref(str(fields.required("person")), refs)
    group = _ref(str(fields.required("group")), refs)
    role_name = str(fields.required("role"))
    role_type = config.membership_roles.get(role_name)
    if not role_type:
        raise _Refusal(
            CODE_UNMAPPED, f"membership role {role_name!r} has no itslearning roleType; see profile_map"
        )
    extension: tuple[ExtensionField, ...] = ()
    if fields.has("home") and (fields.get("home") or not full):
        extension = (ExtensionField(HOME_ORGANISATION, "1" if fields.get("home") else "0", type="bool"),)
    membership = ImsMembership(group=group, person=person, role_type=role_type, extension_fields=extension)
    wire_id = change.target_id or membership_id(person, group)
    return Prepared(key=change.key, wire_id=wire_id, payload=membership, notes=tuple(fields.notes))


def _delete_object(change: Change, config: MappingConfig) -> Prepared[None]:
    return Prepared(key=change.key, wire_id=_own_id(change))


def _delete_membership(change: Change, config: MappingConfig) -> Prepared[None]:
    if change.target_id:
        return Prepared(key=change.key, wire_id=change.target_id)
    attrs = contract.membership_attrs({**(change.after or {}), **(change.before or {})})
    if not attrs.get("person") or not attrs.get("group"):
        raise _Refusal(
            CODE_MISSING_FIELD, "cannot tell which membership to delete: no target id and no person and group"
        )
    refs = _references(change)
    return Prepared(
        key=change.key,
        wire_id=membership_id(_ref(str(attrs["person"]), refs), _ref(str(attrs["group"]), refs)),
    )


_Preparer = Callable[[Change, MappingConfig], Prepared[Any]]
_PREPARERS: Mapping[tuple[ObjectKind, Action], _Preparer] = {
    (ObjectKind.PERSON, Action.CREATE): _person,
    (ObjectKind.PERSON, Action.UPDATE): _person,
    (ObjectKind.PERSON, Action.RESTORE): _person,
    (ObjectKind.PERSON, Action.SUSPEND): _delete_object,
    (ObjectKind.PERSON, Action.DELETE): _delete_object,
    (ObjectKind.GROUP, Action.CREATE): _group,
    (ObjectKind.GROUP, Action.UPDATE): _group,
    (ObjectKind.GROUP, Action.RESTORE): _group,
    (ObjectKind.GROUP, Action.ARCHIVE): _archive,
    (ObjectKind.GROUP, Action.DELETE): _delete_object,
    (ObjectKind.MEMBERSHIP, Action.CREATE): _membership,
    (ObjectKind.MEMBERSHIP, Action.UPDATE): _membership,
    (ObjectKind.MEMBERSHIP, Action.DELETE): _delete_membership,
}
SUPPORTED: frozenset[tuple[ObjectKind, Action]] = frozenset(_PREPARERS)


# --------------------------------------------------------------------------------------------
# Statuses → item results
# --------------------------------------------------------------------------------------------


def item_result(prepared: Prepared[Any], status: StatusInfo, *, deleting: bool) -> ItemResult:
    """Classify itslearning's status for one item.

    success → DONE (WARNING when itslearning warned or koppel cut a value); ``targetisbusy`` or
    ``processing`` → RETRY; on a delete, an unknown or already deleted object → DONE (deletes
    are idempotent); any other failure, ``unsupported`` or an unknown codeMajor → FAILED with
    itslearning's description and codeMinor (a data error: not retried blindly).
    """
    if status.code_major is CodeMajor.SUCCESS:
        return _success(prepared, status)
    if status.has_code("targetisbusy") or status.code_major is CodeMajor.PROCESSING:
        return ItemResult(
            key=prepared.key,
            outcome=ItemOutcome.RETRY,
            message=status.description or f"itslearning answered {status.code_major.value}: try again later",
            code=status.code or status.code_major.value,
            target_id=prepared.wire_id,
        )
    if deleting and _gone(status):
        return ItemResult(
            key=prepared.key,
            outcome=ItemOutcome.DONE,
            message=f"already gone from itslearning ({status.description or status.code})",
            target_id=prepared.wire_id,
        )
    return ItemResult(
        key=prepared.key,
        outcome=ItemOutcome.FAILED,
        message=status.description
        or f"itslearning answered {status.code_major.value}/{status.severity.value}",
        code=status.code or status.code_major.value,
        target_id=prepared.wire_id,
    )


def _success(prepared: Prepared[Any], status: StatusInfo) -> ItemResult:
    messages = list(prepared.notes)
    warned = status.severity in (Severity.WARNING, Severity.ERROR)
    if warned:
        messages.insert(
            0, status.description or f"itslearning answered success with severity {status.severity.value}"
        )
    if not messages:
        return ItemResult(key=prepared.key, outcome=ItemOutcome.DONE, target_id=prepared.wire_id)
    return ItemResult(
        key=prepared.key,
        outcome=ItemOutcome.WARNING,
        message="; ".join(messages),
        code=status.code if warned else None,
        target_id=prepared.wire_id,
    )


def _gone(status: StatusInfo) -> bool:
    return status.has_code("unknownobject") or bool(status.description and _GONE.search(status.description))


# --------------------------------------------------------------------------------------------
# IMS objects → koppel's vocabulary (reading)
# --------------------------------------------------------------------------------------------


def _inverse(table: Mapping[str, str]) -> dict[str, str]:
    return {value.lower(): key for key, value in table.items()}


def person_attrs(person: ImsPerson, resolve: Callable[[str], str], config: MappingConfig) -> dict[str, Any]:
    """A person as itslearning holds it, in the desired vocabulary (unmapped profiles kept raw)."""
    raw_role = person.institution_role or ""
    attrs: dict[str, Any] = {
        "role": _inverse(config.institution_roles).get(raw_role.lower(), raw_role or None),
        "given": person.given or "",
        "prefix": person.prefix or "",
        "family": person.family or "",
        "username": person.user_id or None,
        "email": person.email or None,
    }
    if person.children:
        attrs["children"] = tuple(resolve(child) for child in person.children)
    return attrs


def group_attrs(group: ImsGroup, resolve: Callable[[str], str], config: MappingConfig) -> dict[str, Any]:
    """A hierarchy in the desired vocabulary. ``Unspecified`` reads as ``folder`` (also for klas)."""
    raw_type = group.type or ""
    parent = group.parent
    attrs: dict[str, Any] = {
        "type": _READ_GROUP_TYPES.get(raw_type.lower(), raw_type or None),
        "name": group.name or "",
        "parent": resolve(parent) if parent and parent != config.site_root else None,
    }
    code = group.extension(COURSE_CODE)
    if code:
        attrs["code"] = code
    return attrs


def membership_attrs(
    membership: ImsMembership, resolve: Callable[[str], str], config: MappingConfig
) -> dict[str, Any]:
    role_type = _ROLE_CODES.get(membership.role_type, membership.role_type)
    home = (membership.extension(HOME_ORGANISATION) or "").strip().lower() in ("1", "true")
    return {
        "person": resolve(membership.person),
        "group": resolve(membership.group),
        "role": _inverse(config.membership_roles).get(role_type.lower(), role_type or None),
        "home": home,
    }


def held_attrs(kind: ObjectKind, attrs: Mapping[str, Any], config: MappingConfig) -> dict[str, Any]:
    """What itslearning would hold after koppel sent ``attrs``, in the vocabulary ``read`` returns.

    Use it to compare desired or recorded attributes with a snapshot without false drift:
    ``klas`` reads back as ``folder``, over-long names come back cut, and attributes itslearning
    does not store (school year, school, subject, leerjaar) are dropped.
    """
    out: dict[str, Any]
    if kind is ObjectKind.PERSON:
        out = {
            name: attrs.get(name)
            for name in ("role", "given", "prefix", "family", "username", "email")
            if name in attrs
        }
        for name, limit in (
            ("given", Limits.FIRST_NAME),
            ("family", Limits.LAST_NAME),
            ("prefix", Limits.PREFIX),
        ):
            if isinstance(out.get(name), str):
                out[name] = out[name][:limit]
        if "prefix" in out and out["prefix"] is None:
            out["prefix"] = ""
        children = contract.person_attrs(attrs).get("children")
        if config.send_guardian_relationships and children:
            out["children"] = tuple(children)
        return out
    if kind is ObjectKind.GROUP:
        out = {name: attrs.get(name) for name in ("type", "name", "parent") if name in attrs}
        if "type" in out:
            out["type"] = _HELD_GROUP_TYPES.get(out["type"], out["type"])
        if isinstance(out.get("name"), str):
            out["name"] = out["name"][: Limits.DESC_SHORT]
        if attrs.get("type") == "course" and attrs.get("code"):
            out["code"] = attrs["code"]
        return out
    return {name: attrs.get(name) for name in ("person", "group", "role", "home") if name in attrs}
