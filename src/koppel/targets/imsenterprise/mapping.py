"""koppel's objects as IMS Enterprise 1.1 records: pure (no files, no clock), shared by the target and previews.

What Moodle's ``enrol_imsenterprise`` can read decides the shape (shared/reference/moodle-imsenterprise-facts.md):
it cuts the file into ``<person>``, ``<group>`` and ``<membership>`` records with regular expressions, line by
line, and never decodes an entity. So a record is written on a few short lines, unprefixed, in UTF-8, without
CDATA, with every attribute Moodle looks for first in its tag (``<role roletype=…>``, ``<userid
authenticationtype=…>``), and — for Moodle — without ``&``, ``<`` or ``>`` in any text: an ``&`` in a name becomes
the ``ampersand`` setting's word, ``<`` and ``>`` become ``‹`` and ``›``, identifiers holding them are refused
(user names, e-mail) or hashed (sync keys). Quotes and apostrophes ("d'Artagnan", "in 't Veld") are written as
they are: text content needs no escaping for them. For itslearning, whose import parses XML, text is escaped
the ordinary way.

The records (IMS Enterprise Information Binding 1.1):

* ``<person>``: sourcedid (source, id = the sync key or its hash), userid (the user name), name (fn; n with
  family — the voorvoegsel in front, "van der Berg", as Moodle shows a last name — given, and the voorvoegsel
  again as ``<partname partnametype="Voorvoegsel">``), email, institutionrole;
* ``<group>``: sourcedid, grouptype, description (short = the name, which Moodle makes the course's full name on
  create; long = the code; full = the name, which Moodle's update sets as the full name), org (Moodle's course
  category), relationship (itslearning: the parent group);
* ``<membership>``: the group's sourcedid and one ``<member>`` per person and role: sourcedid, idtype 1, role
  (roletype 01 Learner, 02 Instructor, 06 Mentor … with userid and status 1 active / 0 inactive).

``recstatus`` 1 adds, 2 updates, 3 deletes (Moodle: hides a course; unenrols a member); a record without it is
an add-or-update of snapshot semantics.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.targets.imsenterprise.settings import Categories, ImsEnterpriseSettings, Mode, Profile

__all__ = [
    "CODE_INVALID",
    "CODE_MISSING_PARENT",
    "CODE_UNSUPPORTED",
    "GROUP_ID_LIMIT",
    "PERSON_ID_LIMIT",
    "SUPPORTED",
    "Event",
    "MappingConfig",
    "Refusal",
    "clean_name",
    "event_of",
    "group_record",
    "member_line",
    "membership_record",
    "person_record",
    "properties_record",
    "wire_id",
]

CODE_INVALID = "invaliddata"
CODE_MISSING_PARENT = "unknownobject"
CODE_UNSUPPORTED = "unsupported"

# Moodle's course.idnumber holds 100 characters; user.idnumber 255. Longer keys (or keys holding characters
# Moodle would store escaped) are sent as a stable digest: PostgreSQL refuses a longer value and Moodle's whole
# run stops there.
GROUP_ID_LIMIT = 100
PERSON_ID_LIMIT = 100

SUPPORTED: frozenset[tuple[ObjectKind, Action]] = frozenset(
    [(ObjectKind.PERSON, a) for a in (Action.CREATE, Action.UPDATE, Action.SUSPEND, Action.RESTORE, Action.DELETE)]
    + [(ObjectKind.GROUP, a) for a in (Action.CREATE, Action.UPDATE, Action.ARCHIVE, Action.RESTORE, Action.DELETE)]
    + [(ObjectKind.MEMBERSHIP, a) for a in (Action.CREATE, Action.UPDATE, Action.DELETE)]
)

# XML 1.0 §2.2: the characters a document may hold (no C0 controls but tab, newline and carriage return; no
# surrogates, no U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PLAIN = re.compile("[&<>]|[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # what _esc must handle
_SPACES = re.compile(r"\s+")
_AMPERSAND = re.compile(r"\s*&\s*")
_UNSAFE_ID = re.compile("[&<>\"'\\s]")
_IDENTITY_FIELDS = ("role", "given", "prefix", "family", "username")
_GROUP_TYPES = {"school": "School", "folder": "Unspecified", "klas": "Unspecified", "course": "Course"}


class Refusal(ValueError):
    """An object that cannot be written: the message names what is wrong and what to do."""

    def __init__(self, message: str, code: str = CODE_INVALID):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class MappingConfig:
    """What the mapping needs of the settings (see :class:`ImsEnterpriseSettings` for each)."""

    profile: Profile = Profile.MOODLE
    mode: Mode = Mode.SNAPSHOT
    source: str = "koppel"
    ampersand: str = "en"
    lowercase_usernames: bool = True
    auth: str | None = None
    suspend_auth: str | None = None
    course_types: frozenset[str] = frozenset({"course"})
    categories: Categories = Categories.SCHOOL
    role_codes: Mapping[str, str | None] = field(default_factory=dict)
    institution_roles: Mapping[str, str] = field(default_factory=dict)
    properties_target: str | None = None
    moodle: bool = field(init=False)  # the profile, looked up a million times per file
    source_text: str = field(init=False)  # the source, escaped once

    def __post_init__(self) -> None:
        object.__setattr__(self, "moodle", self.profile is Profile.MOODLE)
        object.__setattr__(self, "source_text", _esc(self.source))

    @classmethod
    def of(cls, settings: ImsEnterpriseSettings) -> MappingConfig:
        return cls(profile=settings.profile, mode=settings.mode, source=settings.source, ampersand=settings.ampersand,
                   lowercase_usernames=settings.lowercase_usernames, auth=settings.auth,
                   suspend_auth=settings.suspend_auth, course_types=frozenset(settings.course_types),
                   categories=settings.categories, role_codes=settings.role_codes(),
                   institution_roles=settings.institution_role_types(),
                   properties_target=settings.properties_target)

    def writes_group(self, group_type: str | None) -> bool:
        """Whether a group of this type is a ``<group>`` record (Moodle: a course; itslearning: every group)."""
        return not self.moodle or group_type in self.course_types

    def username(self, value: str) -> str:
        return value.lower() if self.moodle and self.lowercase_usernames else value


# -- text -------------------------------------------------------------------------------------------------


def clean_name(value: Any, what: str, config: MappingConfig, *, required: bool = True) -> str:
    """A name as the platform will store it: one line, no characters XML cannot hold, and for Moodle no ``&``,
    ``<`` or ``>`` (it would store ``&amp;`` literally). Raises :class:`Refusal` naming ``what``."""
    text = "" if value is None else str(value)
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise Refusal(f"{what} {text!r} holds the control character U+{ord(bad.group()):04X}, which XML cannot "
                      "carry: correct it in the LAS")
    text = _SPACES.sub(" ", text).strip()
    if config.moodle:
        if "&" in text:
            word = config.ampersand
            text = (_SPACES.sub(" ", _AMPERSAND.sub(f" {word} ", text)).strip() if word.isalnum()
                    else text.replace("&", word))
        text = text.replace("<", "‹").replace(">", "›")
    if required and not text:
        raise Refusal(f"{what} is empty: Moodle and itslearning need it")
    return text


def clean_identifier(value: Any, what: str, config: MappingConfig, *, required: bool = True) -> str:
    """A user name or e-mail address: as it is, or refused — an identifier is never rewritten."""
    text = "" if value is None else str(value).strip()
    if _NOT_XML.search(text) or any(ch in text for ch in "\r\n\t"):
        raise Refusal(f"{what} {text!r} holds a control character: correct it in the LAS or the user name template")
    if config.moodle and any(ch in text for ch in "&<>"):
        raise Refusal(f"{what} {text!r} holds &, < or >, which Moodle would store escaped ('&amp;'): "
                      "change it in the LAS or the template")
    if required and not text:
        raise Refusal(f"{what} is empty: Moodle creates no account without a user name (<userid>)")
    return text


def _esc(text: str) -> str:
    """Text content, escaped (a no-op for Moodle's cleaned names) and checked once more: never invalid XML."""
    if _PLAIN.search(text) is None:
        return text
    if _NOT_XML.search(text):
        raise Refusal(f"{text!r} holds a character XML cannot carry")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return _esc(text).replace('"', "&quot;")


def wire_id(key: str, limit: int) -> str:
    """The id a record carries for ``key``: the key itself, or ``koppel-<32 hex>`` when it is longer than the
    platform holds or holds characters Moodle would store escaped."""
    if len(key) <= limit and not _UNSAFE_ID.search(key) and not _NOT_XML.search(key):
        return key
    return "koppel-" + hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


# -- records ----------------------------------------------------------------------------------------------


def _sourcedid(config: MappingConfig, ident: str, indent: str = "  ") -> str:
    return f"{indent}<sourcedid><source>{_esc(config.source)}</source><id>{_esc(ident)}</id></sourcedid>\n"


def _recstatus(recstatus: int | None) -> str:
    return f' recstatus="{recstatus}"' if recstatus else ""


def person_record(ident: str, attrs: Mapping[str, Any], config: MappingConfig, *, recstatus: int | None = None,
                  auth: str | None = None, fields: frozenset[str] | None = None) -> str:
    """One ``<person>``. ``fields`` (an update) limits the optional fields to those koppel owns: Moodle's update
    sets every field present, so a protected e-mail is left out rather than sent as it was at create."""
    username = config.username(clean_identifier(attrs.get("username"), "user name", config))
    auth = auth or config.auth
    userid = (f'<userid authenticationtype="{_attr(auth)}">' if auth else "<userid>") + f"{_esc(username)}</userid>"
    out = [f"<person{_recstatus(recstatus)}>\n", _sourcedid(config, ident), f"  {userid}\n"]
    if recstatus != 3:
        given = clean_name(attrs.get("given"), "first name", config)
        family = clean_name(attrs.get("family"), "last name", config)
        prefix = clean_name(attrs.get("prefix"), "voorvoegsel", config, required=False)
        last = (prefix + family if prefix.endswith(("'", "’")) else f"{prefix} {family}") if prefix else family
        part = f'<partname partnametype="Voorvoegsel">{_esc(prefix)}</partname>' if prefix else ""
        out.append(f"  <name><fn>{_esc(f'{given} {last}')}</fn><n><family>{_esc(last)}</family>"
                   f"<given>{_esc(given)}</given>{part}</n></name>\n")
        if fields is None or "email" in fields:
            email = clean_identifier(attrs.get("email"), "e-mail address", config, required=False)
            if email or recstatus == 2:  # an update with an empty <email></email> clears it in Moodle
                out.append(f"  <email>{_esc(email)}</email>\n")
        role = config.institution_roles.get(str(attrs.get("role") or ""))
        if role:
            out.append(f'  <institutionrole institutionroletype="{_attr(role)}" primaryrole="Yes"/>\n')
    out.append("</person>\n")
    return "".join(out)


def group_record(ident: str, attrs: Mapping[str, Any], config: MappingConfig, *, recstatus: int | None = None,
                 categories: tuple[str, ...] = (), parent: tuple[str, str] | None = None) -> str:
    """One ``<group>``. ``categories``: Moodle's ``<org><orgunit>`` names; ``parent``: (id, name) of the parent
    group, itslearning's ``<relationship relation="1">``.

    A Moodle update (recstatus 2) carries only ``<full>``: Moodle's update sets the short name from ``<short>``,
    which would rename the course's short name away from its id (and collide with another course's)."""
    name = clean_name(attrs.get("name"), "group name", config)
    code = clean_name(attrs.get("code"), "group code", config, required=False)
    group_type = str(attrs.get("type") or "course")
    out = [f"<group{_recstatus(recstatus)}>\n", _sourcedid(config, ident),
           f"  <grouptype><scheme>{'itslearning' if not config.moodle else 'koppel'}</scheme>"
           f'<typevalue level="1">{_esc(_GROUP_TYPES.get(group_type, group_type) if not config.moodle else group_type)}'
           "</typevalue></grouptype>\n"]
    if config.moodle and recstatus == 2:
        out.append(f"  <description><full>{_esc(name)}</full></description>\n")
    else:
        long = f"<long>{_esc(code)}</long>" if code else ""
        out.append(f"  <description><short>{_esc(name)}</short>{long}<full>{_esc(name)}</full></description>\n")
    if categories:
        units = "".join(f"<orgunit>{_esc(clean_name(unit, 'category', config))}</orgunit>" for unit in categories)
        out.append(f"  <org>{units}</org>\n")
    if parent is not None:
        out.append(f'  <relationship relation="1">\n  {_sourcedid(config, parent[0])}'
                   f"    <label>{_esc(clean_name(parent[1], 'parent name', config))}</label>\n  </relationship>\n")
    out.append("</group>\n")
    return "".join(out)


def member_line(person_id: str, username: str, roletype: str, config: MappingConfig, *, active: bool = True) -> str:
    """One ``<member>`` on one line. An inactive member is ``recstatus="3"`` with ``<status>0</status>``: Moodle
    unenrols on either (its whole enrolment in the course, every role)."""
    recstatus = "" if active else ' recstatus="3"'
    return (f"  <member><sourcedid><source>{config.source_text}</source><id>{_esc(person_id)}</id></sourcedid>"
            f'<idtype>1</idtype><role roletype="{_attr(roletype)}"{recstatus}>'
            f"<userid>{_esc(config.username(username))}</userid><status>{1 if active else 0}</status></role>"
            "</member>\n")


def membership_record(group_id: str, members: list[str], config: MappingConfig) -> str:
    return "".join(["<membership>\n", _sourcedid(config, group_id), *members, "</membership>\n"])


def properties_record(config: MappingConfig, *, when: str, kind: str) -> str:
    target = f"  <target>{_esc(config.properties_target)}</target>\n" if config.properties_target else ""
    return (f'<properties lang="nl">\n  <datasource>{_esc(config.source)}</datasource>\n{target}'
            f"  <type>{_esc(kind)}</type>\n  <datetime>{_esc(when)}</datetime>\n</properties>\n")


HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<enterprise>\n'
TAIL = "</enterprise>\n"


# -- events: what a change must tell the platform beyond the snapshot --------------------------------------


@dataclass(slots=True)
class Event:
    """The record(s) one change needs in a file: ``records`` are their recstatus values in order (1 add, 2 update,
    3 delete), ``attrs`` what they carry (ids resolved), ``since`` when the change was first published (for
    ``carry_days``), ``auth`` the authentication plugin of a suspend or restore."""

    kind: ObjectKind
    key: str
    records: tuple[int, ...]
    attrs: dict[str, Any]
    since: str = ""
    auth: str | None = None
    fields: tuple[str, ...] | None = None  # person updates: the fields written

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "key": self.key, "records": list(self.records), "attrs": self.attrs,
                "since": self.since, "auth": self.auth, "fields": list(self.fields) if self.fields is not None else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        fields = data.get("fields")
        return cls(ObjectKind(data["kind"]), data["key"], tuple(int(r) for r in data["records"]), dict(data["attrs"]),
                   data.get("since", ""), data.get("auth"), tuple(fields) if fields is not None else None)


def event_of(change: Change, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
             config: MappingConfig, *, ids: Mapping[str, Any]) -> Event | None:
    """The records a staged change needs besides the snapshot (Moodle; itslearning needs none: its import compares
    snapshots). ``before``/``after``: the object's attributes before and after the change (None: absent);
    ``ids``: the record's own id and, for a membership, its person's id, user name and group's type and id.
    None: nothing to write (a snapshot holds it already), and any earlier carried event of the key is void."""
    if not config.moodle:
        return None
    delta = config.mode is Mode.DELTA
    action = change.action
    kind = change.kind
    if kind is ObjectKind.PERSON:
        ident = ids["id"]
        if action is Action.CREATE:
            return Event(kind, change.key, (1,), {**(after or {}), "id": ident}) if delta else None
        if action is Action.UPDATE:
            fields = tuple(sorted(set(_IDENTITY_FIELDS) | set(change.after or {})))
            return Event(kind, change.key, (2,), {**(after or {}), "id": ident}, fields=fields)
        if action is Action.RESTORE:
            auth = config.auth if config.suspend_auth else None
            fields = tuple(sorted(set(_IDENTITY_FIELDS) | set(change.after or {})))
            return Event(kind, change.key, (1, 2) if delta else (2,), {**(after or {}), "id": ident}, auth=auth,
                         fields=fields)
        if action is Action.SUSPEND:
            if not config.suspend_auth:
                return None
            return Event(kind, change.key, (2,), {**(after or {}), "id": ident}, auth=config.suspend_auth,
                         fields=_IDENTITY_FIELDS)
        if action is Action.DELETE and before is not None and before.get("username"):
            return Event(kind, change.key, (3,), {**before, "id": ident})
        return None
    if kind is ObjectKind.GROUP:
        attrs = after if after is not None else before
        if attrs is None or not config.writes_group(attrs.get("type")):
            return None
        ident = ids["id"]
        if action is Action.CREATE:
            return Event(kind, change.key, (1,), {**attrs, "id": ident}) if delta else None
        if action is Action.UPDATE:
            return Event(kind, change.key, (2,), {**attrs, "id": ident})
        if action is Action.RESTORE:
            return Event(kind, change.key, (1, 2) if delta else (2,), {**attrs, "id": ident})
        if action in (Action.ARCHIVE, Action.DELETE) and before is not None:
            return Event(kind, change.key, (3,), {**attrs, "id": ident})
        return None
    # memberships: Moodle knows a role in a course; the home flag (itslearning's) is not written
    attrs = after if after is not None else before
    if attrs is None or not config.writes_group(ids.get("group_type")):
        return None
    roletype = config.role_codes.get(str(attrs.get("role")))
    if roletype is None:
        return None
    carried = {"person": attrs["person"], "group": attrs["group"], "role": attrs["role"], "roletype": roletype,
               "person_id": ids["person_id"], "group_id": ids["group_id"], "username": ids["username"]}
    if action is Action.CREATE:
        return Event(kind, change.key, (1,), carried) if delta else None
    if action is Action.DELETE and before is not None:
        return Event(kind, change.key, (3,), carried)
    return None
