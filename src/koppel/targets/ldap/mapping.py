"""koppel's objects as directory entries, and back. Pure: no sockets, no clock (sans-I/O, STYLE §3).

The functions here turn a change into the LDAP operations that carry it out — :class:`AddEntry`,
:class:`ModifyEntry`, :class:`MoveEntry`, :class:`DeleteEntry`, :class:`SetPassword` — given what the
target found in the directory (a DN, whether an account is locked). :mod:`.client` sends them,
:mod:`.target` looks things up and decides, and :func:`ldif` renders them for ``koppel plan
--show-payloads``. A password is never part of an operation: :class:`SetPassword` names the entry only.

The layout under ``base_dn`` (docs/targets/ldap.md)::

    ou=<BRIN6>                          a school (organizationalUnit; description = the school's name)
      ou=<school year>                  a folder group (the year; a leerjaar folder below it)
        cn=<klas or course name>        groupOfNames (ad: group), member = the persons' DNs
      ou=students|staff|guardians       the persons, uid=<user name> (ad: cn=<user name>)
    ou=leavers                          suspended (locked) accounts

Entries are found by their sync key (``person_key_attribute``, ``group_key_attribute``), never by name,
and a person's entry is never renamed: the user name is the RDN and stays what it was at creation.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ldap3.utils.dn import escape_rdn

from koppel.model.attrs import PersonRole
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.targets.ldap.settings import Flavour, LdapSettings, LockMethod

__all__ = [
    "LOCKED_FOREVER",
    "AddEntry",
    "DeleteEntry",
    "MappingConfig",
    "ModifyEntry",
    "MoveEntry",
    "Operation",
    "SetPassword",
    "ad_group_name",
    "group_add",
    "group_rdn",
    "group_update",
    "held_attrs",
    "ldif",
    "lock_changes",
    "member_add",
    "member_delete",
    "member_delete_last",
    "norm_dn",
    "ou_add",
    "person_add",
    "person_attrs_of",
    "person_update",
    "unlock_changes",
]

# ppolicy: "000001010000Z" in pwdAccountLockedTime locks the account until an administrator removes it.
LOCKED_FOREVER = "000001010000Z"
# userAccountControl bits (MS-ADTS 2.2.16): NORMAL_ACCOUNT, ACCOUNTDISABLE.
UAC_NORMAL = 0x200
UAC_DISABLED = 0x2
# groupType of a global security group (ADS_GROUP_TYPE_GLOBAL_GROUP | ADS_GROUP_TYPE_SECURITY_ENABLED).
AD_GLOBAL_SECURITY_GROUP = str(-2147483646)
# sAMAccountName: at most 20 characters for users (the pre-Windows 2000 logon name), none of these.
AD_USER_NAME_MAX = 20
_AD_FORBIDDEN = re.compile(r'["/\\\[\]:;|=,+*?<>@]')

ModifyKind = Literal["add", "delete", "replace"]


@dataclass(frozen=True)
class MappingConfig:
    """What the mapping needs of the settings, with the flavour's defaults filled in."""

    flavour: Flavour
    base_dn: str
    person_ous: Mapping[str, str]
    leavers_ou: str
    person_key: str
    group_key: str
    placeholder: str | None  # the member of an empty groupOfNames; None for ad (its groups may be empty)
    lock: LockMethod
    upn_suffix: str
    must_change_password: bool

    @classmethod
    def from_settings(cls, settings: LdapSettings) -> MappingConfig:
        ad = settings.flavour is Flavour.AD
        return cls(
            flavour=settings.flavour,
            base_dn=settings.base_dn,
            person_ous=settings.person_ous.model_dump(),
            leavers_ou=settings.leavers_ou,
            person_key=settings.person_key_attribute,
            group_key=settings.group_key_attribute or ("adminDescription" if ad else "businessCategory"),
            placeholder=None if ad else (settings.empty_group_member or settings.base_dn),
            lock=settings.lock,
            upn_suffix=settings.upn_suffix or upn_suffix_of(settings.base_dn),
            must_change_password=settings.must_change_password,
        )

    @property
    def ad(self) -> bool:
        return self.flavour is Flavour.AD

    @property
    def username_attr(self) -> str:
        return "sAMAccountName" if self.ad else "uid"

    @property
    def person_classes(self) -> tuple[str, ...]:
        return ("top", "person", "organizationalPerson", "user") if self.ad else ("top", "inetOrgPerson")

    @property
    def group_classes(self) -> tuple[str, ...]:
        return ("top", "group") if self.ad else ("top", "groupOfNames")

    @property
    def person_class(self) -> str:
        return "user" if self.ad else "inetOrgPerson"

    @property
    def group_class(self) -> str:
        return "group" if self.ad else "groupOfNames"

    def school_dn(self, brin6: str) -> str:
        return f"ou={escape_rdn(brin6)},{self.base_dn}"

    def person_parent(self, role: str, school: str | None) -> str:
        """The OU a person of this role lives in: under their home school's OU, or under base_dn without one."""
        ou = f"ou={escape_rdn(self.person_ous.get(role, self.person_ous['student']))}"
        return f"{ou},{self.school_dn(school)}" if school else f"{ou},{self.base_dn}"

    @property
    def leavers_dn(self) -> str:
        return f"ou={escape_rdn(self.leavers_ou)},{self.base_dn}"

    def person_rdn(self, username: str) -> str:
        return f"{'cn' if self.ad else 'uid'}={escape_rdn(username)}"


def upn_suffix_of(base_dn: str) -> str:
    """``dc=school,dc=nl`` → ``school.nl``: the domain an Active Directory's base DN names."""
    parts = [unescape_value(value) for attr, value in rdns(base_dn) if attr.lower() == "dc"]
    return ".".join(parts) or "example.invalid"


# -- operations ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddEntry:
    dn: str
    attributes: Mapping[str, tuple[str, ...]]  # objectClass first


@dataclass(frozen=True)
class ModifyEntry:
    """One modify request. ``permissive``: with the Permissive Modify control (1.2.840.113556.1.4.1413), so
    adding a value that is there or deleting one that is not is no error — what makes membership changes
    idempotent."""

    dn: str
    changes: tuple[tuple[ModifyKind, str, tuple[str, ...]], ...]
    permissive: bool = False


@dataclass(frozen=True)
class MoveEntry:
    """Modify DN: the same RDN (an entry is never renamed) under ``new_superior``, or a new RDN in place."""

    dn: str
    new_rdn: str
    new_superior: str | None = None

    @property
    def new_dn(self) -> str:
        parent = self.new_superior if self.new_superior is not None else parent_dn(self.dn)
        return f"{self.new_rdn},{parent}"


@dataclass(frozen=True)
class DeleteEntry:
    dn: str


@dataclass(frozen=True)
class SetPassword:
    """Give the entry a new initial password: the Password Modify extended operation (RFC 3062) on OpenLDAP,
    a unicodePwd replace on Active Directory. The password is the target's, made at apply time."""

    dn: str


Operation = AddEntry | ModifyEntry | MoveEntry | DeleteEntry | SetPassword


def split_rdn(dn: str) -> tuple[str, str]:
    """``uid=a\\,b,ou=c`` → (``uid=a\\,b``, ``ou=c``): the first RDN and the rest, at the first unescaped comma."""
    i = 0
    while i < len(dn):
        if dn[i] == "\\":
            i += 2
            continue
        if dn[i] == ",":
            return dn[:i].strip(), dn[i + 1:].strip()
        i += 1
    return dn.strip(), ""


def parent_dn(dn: str) -> str:
    """The DN without its first RDN (``uid=a,ou=b,dc=c`` → ``ou=b,dc=c``); escaped commas are respected."""
    return split_rdn(dn)[1]


def rdn_of(dn: str) -> str:
    return split_rdn(dn)[0]


def rdn_value(dn: str) -> str:
    """The value of the first RDN, unescaped (``ou=Zo\\, x,dc=a`` → ``Zo, x``)."""
    return unescape_value(rdns(rdn_of(dn))[0][1]) if dn else ""


def same_dn(a: str, b: str) -> bool:
    """DNs compared as a directory would: attribute names and values case-insensitively, escapes undone."""
    return norm_dn(a) == norm_dn(b)


def rdns(dn: str) -> list[tuple[str, str]]:
    """The (attribute, raw value) pairs of a DN, first RDN first (values keep their escapes)."""
    out = []
    rest = dn
    while rest:
        rdn, rest = split_rdn(rest)
        attr, _, value = rdn.partition("=")
        out.append((attr.strip(), value.strip()))
    return out


@functools.lru_cache(maxsize=65536)
def norm_dn(dn: str) -> str:
    """A DN as a directory compares them: escapes undone (``\\2C`` and ``\\,`` alike), case folded, no spaces
    around the separators."""
    return ",".join(f"{attr.lower()}={unescape_value(value).lower()}" for attr, value in rdns(dn))


def unescape_value(value: str) -> str:
    """An RDN value with its escapes undone: ``\\2C`` and ``\\,`` are both a comma."""
    out: list[str] = []
    raw = bytearray()
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 2 < len(value) + 1 and len(value[i + 1:i + 3]) == 2 and _hex(value[i + 1:i + 3]):
            raw.append(int(value[i + 1:i + 3], 16))
            i += 3
            continue
        if raw:
            out.append(raw.decode("utf-8", "replace"))
            raw.clear()
        if c == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    if raw:
        out.append(raw.decode("utf-8", "replace"))
    return "".join(out).strip()


def _hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


# -- persons ------------------------------------------------------------------------------------------


def display_name(attrs: Mapping[str, Any]) -> str:
    return " ".join(part for part in (attrs.get("given"), attrs.get("prefix"), attrs.get("family")) if part)


def _person_values(attrs: Mapping[str, Any], cfg: MappingConfig) -> dict[str, tuple[str, ...]]:
    """The attributes koppel owns on a person entry, from the neutral attributes (an empty tuple clears)."""
    family = attrs.get("family") or attrs.get("given") or attrs.get("username") or "-"
    full = display_name(attrs) or family
    values: dict[str, tuple[str, ...]] = {
        "givenName": _one(attrs.get("given")),
        "sn": (family,),
        "displayName": (full,),
        "mail": _one(attrs.get("email")),
        "employeeType": _one(attrs.get("role")),
    }
    if not cfg.ad:
        values["cn"] = (full,)  # inetOrgPerson: cn is the full name; ad: cn is the RDN (the user name)
    return values


def _one(value: Any) -> tuple[str, ...]:
    return (str(value),) if value not in (None, "") else ()


def person_add(attrs: Mapping[str, Any], key: str, parent: str, cfg: MappingConfig) -> AddEntry:
    """A new account at ``parent``. ad: disabled until it has a password (Active Directory refuses an enabled
    account without one); the target enables it after :class:`SetPassword`."""
    username = str(attrs["username"])
    values = {k: v for k, v in _person_values(attrs, cfg).items() if v}
    entry: dict[str, tuple[str, ...]] = {"objectClass": cfg.person_classes, cfg.username_attr: (username,)}
    if cfg.ad:
        entry["cn"] = (username,)
        entry["userPrincipalName"] = (f"{username}@{cfg.upn_suffix}",)
        entry["userAccountControl"] = (str(UAC_NORMAL | UAC_DISABLED),)
    entry.update(values)
    entry[cfg.person_key] = (key,)
    return AddEntry(f"{cfg.person_rdn(username)},{parent}", entry)


def check_username(username: str, cfg: MappingConfig) -> str | None:
    """Why the directory cannot take this user name, or None."""
    if not username:
        return "the person has no user name"
    if cfg.ad:
        if len(username) > AD_USER_NAME_MAX:
            return (f"user name {username!r} is longer than Active Directory's {AD_USER_NAME_MAX} characters for "
                    "sAMAccountName; shorten the username template")
        if _AD_FORBIDDEN.search(username):
            return f"user name {username!r} holds a character sAMAccountName does not allow"
    return None


def person_update(change: Change, dn: str, cfg: MappingConfig) -> tuple[ModifyEntry | None, str | None]:
    """The modify for an update (only the fields that changed, as ``change.fields`` names them), and a warning
    when the user name changed: the entry keeps the name it was made with (entries are never renamed)."""
    after = {**(change.before or {}), **(change.after or {})}
    fields = set(change.fields) or set((change.after or {}).keys())
    wanted = _person_values(after, cfg)
    names: set[str] = set()
    if fields & {"given", "prefix", "family"}:
        names |= {"givenName", "sn", "displayName", "cn"}
    if "email" in fields:
        names.add("mail")
    if "role" in fields:
        names.add("employeeType")
    replace: ModifyKind = "replace"
    changes = tuple((replace, name, wanted[name]) for name in sorted(names) if name in wanted)
    warning = None
    old, new = (change.before or {}).get("username"), (change.after or {}).get("username")
    if "username" in fields and old and new and old != new:
        warning = (f"user name stays {old!r} in the directory (entries are never renamed; the LAS would make it "
                   f"{new!r})")
    return (ModifyEntry(dn, changes) if changes else None), warning


def refresh_person(attrs: Mapping[str, Any], dn: str, cfg: MappingConfig) -> ModifyEntry:
    """Every owned attribute set to what koppel wants: the create of an entry that is already there (an upsert)."""
    replace: ModifyKind = "replace"
    return ModifyEntry(dn, tuple((replace, name, values) for name, values in sorted(_person_values(attrs, cfg).items())))


def lock_changes(dn: str, cfg: MappingConfig, uac: int | None = None) -> ModifyEntry | None:
    """Lock (openldap: ppolicy's pwdAccountLockedTime) or disable (ad: ACCOUNTDISABLE) an account."""
    if cfg.ad:
        return ModifyEntry(dn, (("replace", "userAccountControl", (str((uac or UAC_NORMAL) | UAC_DISABLED),)),))
    if cfg.lock is LockMethod.PPOLICY:
        return ModifyEntry(dn, (("replace", "pwdAccountLockedTime", (LOCKED_FOREVER,)),))
    return None


def unlock_changes(dn: str, cfg: MappingConfig, uac: int | None = None) -> ModifyEntry | None:
    """Undo :func:`lock_changes` (a replace with no value removes the lock, and is no error when there is none)."""
    if cfg.ad:
        return ModifyEntry(dn, (("replace", "userAccountControl", (str((uac or UAC_NORMAL) & ~UAC_DISABLED),)),))
    if cfg.lock is LockMethod.PPOLICY:
        return ModifyEntry(dn, (("replace", "pwdAccountLockedTime", ()),))
    return None


def after_password(dn: str, cfg: MappingConfig) -> ModifyEntry | None:
    """ad: enable the new account now that it has a password, and make the user choose their own at first logon."""
    if not cfg.ad:
        return None
    changes: list[tuple[ModifyKind, str, tuple[str, ...]]] = [("replace", "userAccountControl", (str(UAC_NORMAL),))]
    if cfg.must_change_password:
        changes.append(("replace", "pwdLastSet", ("0",)))
    return ModifyEntry(dn, tuple(changes))


def person_attrs_of(entry: Mapping[str, Sequence[str]], cfg: MappingConfig) -> dict[str, Any]:
    """The neutral attributes of a person entry (what :func:`held_attrs` says koppel's attributes become)."""
    given = first_value(entry, "givenName") or ""
    family = first_value(entry, "sn") or ""
    full = first_value(entry, "displayName") or ("" if cfg.ad else first_value(entry, "cn")) or ""
    prefix = ""
    if given and family and full.startswith(given + " ") and full.endswith(" " + family):
        prefix = full[len(given) + 1:len(full) - len(family) - 1].strip()
    return {"role": first_value(entry, "employeeType"), "given": given, "prefix": prefix, "family": family,
            "username": first_value(entry, cfg.username_attr), "email": first_value(entry, "mail")}


def first_value(entry: Mapping[str, Sequence[str]], name: str) -> str | None:
    for attr, values in entry.items():
        if attr.lower() == name.lower():
            if isinstance(values, str):
                return values
            return str(values[0]) if values else None
    return None


def uac_of(entry: Mapping[str, Sequence[str]]) -> int | None:
    value = first_value(entry, "userAccountControl")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- groups -------------------------------------------------------------------------------------------


def group_rdn(attrs: Mapping[str, Any]) -> str:
    """A school's OU is named by its BRIN6 (stable), a folder's by its name; klassen and courses are
    ``cn=<name>``."""
    kind = attrs.get("type")
    if kind == "school":
        return f"ou={escape_rdn(str(attrs.get('school') or attrs.get('code') or attrs.get('name')))}"
    if kind == "folder":
        return f"ou={escape_rdn(str(attrs['name']))}"
    return f"cn={escape_rdn(str(attrs['name']))}"


def is_ou(attrs: Mapping[str, Any]) -> bool:
    return attrs.get("type") in ("school", "folder")


def ou_add(dn: str, description: str | None, key: str | None, cfg: MappingConfig) -> AddEntry:
    """An organizationalUnit; ``key`` when it is one of koppel's groups (a school, a year), None for the OUs
    koppel makes for its own layout (persons, leavers)."""
    entry: dict[str, tuple[str, ...]] = {"objectClass": ("top", "organizationalUnit"), "ou": (rdn_value(dn),)}
    if description:
        entry["description"] = (description,)
    if key:
        entry[cfg.group_key] = (key,)
    return AddEntry(dn, entry)


def ad_group_name(attrs: Mapping[str, Any]) -> str:
    """sAMAccountName of an Active Directory group: unique in the domain, so school and year are in it
    (``12AB00 2526 4hnat1``), at most 64 characters (longer names end in a digest)."""
    year = str(attrs.get("school_year") or "")
    short = year[2:4] + year[7:9] if len(year) == 9 else year
    name = " ".join(part for part in (str(attrs.get("school") or ""), short, str(attrs.get("name") or "")) if part)
    name = _AD_FORBIDDEN.sub("_", name)
    if len(name) > 64:
        name = name[:55] + "~" + hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return name


def group_add(attrs: Mapping[str, Any], key: str, parent: str, cfg: MappingConfig) -> AddEntry:
    dn = f"{group_rdn(attrs)},{parent}"
    name = str(attrs.get("name") or "")
    if is_ou(attrs):
        return ou_add(dn, name, key, cfg)
    entry: dict[str, tuple[str, ...]] = {"objectClass": cfg.group_classes, "cn": (name,)}
    if name:
        entry["description"] = (name,)
    if cfg.ad:
        entry["sAMAccountName"] = (ad_group_name(attrs),)
        entry["groupType"] = (AD_GLOBAL_SECURITY_GROUP,)
    else:
        assert cfg.placeholder is not None
        entry["member"] = (cfg.placeholder,)  # groupOfNames MUST member: a placeholder until the first one
    entry[cfg.group_key] = (key,)
    return AddEntry(dn, entry)


def group_update(attrs: Mapping[str, Any], dn: str, parent: str, cfg: MappingConfig) -> list[Operation]:
    """A group renamed or moved in the LAS: its description, then a modify DN when its RDN or parent changed
    (groups may be renamed; persons never are)."""
    ops: list[Operation] = [ModifyEntry(dn, (("replace", "description", _one(attrs.get("name"))),))]
    rdn = group_rdn(attrs)
    same_parent = same_dn(parent_dn(dn), parent)
    if not same_dn(rdn_of(dn), rdn) or not same_parent:
        ops.append(MoveEntry(dn, rdn, None if same_parent else parent))
    return ops


# -- memberships --------------------------------------------------------------------------------------


def member_add(group: str, persons: Sequence[str], cfg: MappingConfig) -> ModifyEntry:
    """Add members (and take the placeholder out); permissive, so a member already there is no error."""
    changes: list[tuple[ModifyKind, str, tuple[str, ...]]] = [("add", "member", tuple(persons))]
    if cfg.placeholder is not None:
        changes.append(("delete", "member", (cfg.placeholder,)))
    return ModifyEntry(group, tuple(changes), permissive=True)


def member_delete(group: str, persons: Sequence[str]) -> ModifyEntry:
    return ModifyEntry(group, (("delete", "member", tuple(persons)),), permissive=True)


def member_delete_last(group: str, persons: Sequence[str], cfg: MappingConfig) -> ModifyEntry:
    """The removal that would leave a groupOfNames without a member: the placeholder goes in with it."""
    assert cfg.placeholder is not None
    return ModifyEntry(group, (("add", "member", (cfg.placeholder,)), ("delete", "member", tuple(persons))),
                       permissive=True)


# -- reading back -------------------------------------------------------------------------------------


_PERSON_HELD = ("role", "given", "prefix", "family", "username", "email")
_GROUP_HELD = ("name", "parent")


def held_attrs(kind: ObjectKind, attrs: Mapping[str, Any], cfg: MappingConfig) -> dict[str, Any]:
    """What the directory holds after koppel sent ``attrs``, in the vocabulary the reader returns. Groups keep
    their name and place; a membership is a member value (its role is inferred from the person's kind)."""
    if kind is ObjectKind.PERSON:
        return {name: (attrs.get(name) or None) for name in _PERSON_HELD}
    if kind is ObjectKind.GROUP:
        return {name: attrs.get(name) for name in _GROUP_HELD}
    return {name: attrs.get(name) for name in ("person", "group")}


# -- previews -----------------------------------------------------------------------------------------


def ldif(op: Operation | Note) -> str:
    """An operation as LDIF change records (RFC 2849), the way ``ldapmodify`` would take it. SetPassword shows
    the extended operation's name only: a preview never holds a password."""
    if isinstance(op, AddEntry):
        lines = [f"dn: {op.dn}", "changetype: add"]
        lines += [f"{name}: {value}" for name, values in op.attributes.items() for value in values]
    elif isinstance(op, ModifyEntry):
        lines = [f"dn: {op.dn}", "changetype: modify"]
        if op.permissive:
            lines.insert(1, "control: 1.2.840.113556.1.4.1413 false")
        for kind, name, values in op.changes:
            lines.append(f"{kind}: {name}")
            lines += [f"{name}: {value}" for value in values]
            lines.append("-")
    elif isinstance(op, MoveEntry):
        lines = [f"dn: {op.dn}", "changetype: modrdn", f"newrdn: {op.new_rdn}", "deleteoldrdn: 1"]
        if op.new_superior is not None:
            lines.append(f"newsuperior: {op.new_superior}")
    elif isinstance(op, DeleteEntry):
        lines = [f"dn: {op.dn}", "changetype: delete"]
    elif isinstance(op, Note):
        lines = [f"# {op.text}"]
    else:
        lines = [f"# extended operation: Password Modify (RFC 3062) for {op.dn}",
                 "# a new random initial password; it is written to the delivery report only"]
    return "\n".join(lines)


# koppel's own key formats of schools and folders (model/keys.py): OUs, whose memberships need no write.
_FOLDER_KEYS = ("school:", "year:", "leerjaar:")


@dataclass(frozen=True)
class Note:
    """A line of a preview that is no operation: why nothing is sent."""

    text: str


@dataclass(frozen=True)
class PreviewLookup:
    """Stands in for the directory in a preview: an entry koppel would find by its key is shown by that key."""

    cfg: MappingConfig
    created: dict[str, str] = field(default_factory=dict)

    def person(self, key: str) -> str:
        return f"<{self.cfg.person_key}={key}>"

    def group(self, key: str | None) -> str:
        return self.cfg.base_dn if key is None else f"<{self.cfg.group_key}={key}>"


def preview_operations(change: Change, cfg: MappingConfig, *, passwords: bool) -> list[Operation | Note]:
    """The operations of one change as the target would send them to an empty directory (creates) or to one
    holding the objects (the rest), with entries the target would look up shown by their key."""
    look = PreviewLookup(cfg)
    attrs = {**(change.before or {}), **(change.after or {})}
    if change.kind is ObjectKind.PERSON:
        return _preview_person(change, attrs, cfg, look, passwords=passwords)
    if change.kind is ObjectKind.GROUP:
        if change.action in (Action.CREATE, Action.RESTORE):
            return [group_add(attrs, change.key, look.group(attrs.get("parent")), cfg)]
        if change.action is Action.UPDATE:
            return [*group_update(attrs, look.group(change.key), look.group(attrs.get("parent")), cfg)]
        if change.action is Action.DELETE:
            return [DeleteEntry(look.group(change.key))]
        return [Note("nothing is sent: an archived group stays in its school year's OU")]
    if str(attrs.get("group")).startswith(_FOLDER_KEYS) or change.action is Action.UPDATE:
        return [Note("nothing is sent: a school or folder membership is the place of the person's entry")]
    group, person = look.group(attrs.get("group")), look.person(str(attrs.get("person")))
    if change.action is Action.CREATE:
        return [member_add(group, [person], cfg)]
    if change.action is Action.DELETE:
        return [member_delete(group, [person])]
    return []


def _preview_person(change: Change, attrs: Mapping[str, Any], cfg: MappingConfig, look: PreviewLookup, *,
                    passwords: bool) -> list[Operation | Note]:
    dn = look.person(change.key)
    if change.action is Action.CREATE:
        add = person_add(attrs, change.key, cfg.person_parent(str(attrs.get("role")), change.school), cfg)
        ops: list[Operation | Note] = [add]
        if passwords:
            ops.append(SetPassword(add.dn))
            enable = after_password(add.dn, cfg)
            if enable is not None:
                ops.append(enable)
        return ops
    if change.action is Action.UPDATE:
        modify, _ = person_update(change, dn, cfg)
        return [modify] if modify else []
    if change.action is Action.SUSPEND:
        lock = lock_changes(dn, cfg)
        return [*([lock] if lock else []), MoveEntry(dn, f"<rdn of {change.key}>", cfg.leavers_dn)]
    if change.action is Action.RESTORE:
        unlock = unlock_changes(dn, cfg)
        move = MoveEntry(dn, f"<rdn of {change.key}>", cfg.person_parent(str(attrs.get("role")), change.school))
        return [move, *([unlock] if unlock else []), refresh_person(attrs, f"<{cfg.person_key}={change.key}>", cfg)]
    if change.action is Action.DELETE:
        return [DeleteEntry(dn)]
    return []


PERSON_ROLES: tuple[PersonRole, ...] = ("student", "staff", "guardian")
