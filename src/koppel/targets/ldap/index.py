"""Where koppel's entries are: sync key → DN, read once per run with one paged search under ``base_dn``.

Entries are found by their key attribute, never by their name, so a person suspended into the leavers OU
or a group renamed is found all the same. The index also knows every user name under the base (taken ones
are refused, never reused), which OUs exist, and which groups hold the placeholder member. The target
keeps it current as it writes; it lives as long as the target (one run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ldap3.utils.conv import escape_filter_chars

from koppel.targets.ldap.client import Found, LdapClient
from koppel.targets.ldap.mapping import MappingConfig, first_value, norm_dn

__all__ = ["DirectoryIndex", "GroupEntry", "norm_dn"]


@dataclass(slots=True)
class GroupEntry:
    dn: str
    ou: bool  # an organizationalUnit (a school or a folder): memberships are the persons' place, not members


@dataclass
class DirectoryIndex:
    persons: dict[str, str] = field(default_factory=dict)  # sync key -> DN
    groups: dict[str, GroupEntry] = field(default_factory=dict)  # sync key -> entry
    usernames: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # lower name -> (DN, key)
    ous: set[str] = field(default_factory=set)  # normalised DNs of the OUs that exist
    with_placeholder: set[str] = field(default_factory=set)  # normalised DNs of groups holding the placeholder

    @classmethod
    def load(cls, client: LdapClient, cfg: MappingConfig) -> DirectoryIndex:
        index = cls()
        wanted = (f"(|(objectClass={cfg.person_class})(objectClass={cfg.group_class})"
                  "(objectClass=organizationalUnit))")
        for found in client.iter_search(cfg.base_dn, wanted, [cfg.person_key, cfg.group_key, cfg.username_attr,
                                                               "objectClass"]):
            index.take(found, cfg)
        if cfg.placeholder is not None:
            holding = f"(&(objectClass={cfg.group_class})(member={escape_filter_chars(cfg.placeholder)}))"
            index.with_placeholder = {norm_dn(f.dn) for f in client.iter_search(cfg.base_dn, holding, [])}
        return index

    def take(self, found: Found, cfg: MappingConfig) -> None:
        classes = {c.lower() for c in found.attributes.get("objectClass", ())}
        if "organizationalunit" in classes:
            self.ous.add(norm_dn(found.dn))
        if cfg.person_class.lower() in classes:
            key = first_value(found.attributes, cfg.person_key)
            if key:
                self.persons[key] = found.dn
            username = first_value(found.attributes, cfg.username_attr)
            if username:
                self.usernames[username.lower()] = (found.dn, key)
            return
        key = first_value(found.attributes, cfg.group_key)
        if key and (cfg.group_class.lower() in classes or "organizationalunit" in classes):
            self.groups[key] = GroupEntry(found.dn, "organizationalunit" in classes)

    def add_person(self, key: str, dn: str, username: str) -> None:
        self.persons[key] = dn
        self.usernames[username.lower()] = (dn, key)

    def move_person(self, key: str, dn: str) -> None:
        old = self.persons.get(key)
        self.persons[key] = dn
        for name, (held, owner) in list(self.usernames.items()):
            if owner == key or (old is not None and held == old):
                self.usernames[name] = (dn, key)

    def drop_person(self, key: str) -> None:
        dn = self.persons.pop(key, None)
        for name, (held, owner) in list(self.usernames.items()):
            if owner == key or held == dn:
                del self.usernames[name]
