"""Reading the directory back in koppel's vocabulary, for reconciliation. Read-only.

One paged search under ``base_dn`` returns every person, group and OU with the attributes koppel writes:

* persons: entries of the person class; with the key attribute they are koppel's (``key``), without it made
  by hand (``manual=True``). Attributes as :func:`~.mapping.person_attrs_of` reads them, plus ``locked``
  (in the leavers OU);
* groups: OUs and groups with the group key attribute: ``name`` (their description, else their RDN value)
  and ``parent`` (the key of the entry above, None under base_dn);
* memberships: each member of a koppel group, and each person's home school (the OU they live under).
  The directory holds no role: a member koppel made is mapped back by its target id (``<person>|<group>``,
  from ``known_target_ids``), others get the role their kind usually has (student, guardian; staff:
  teacher).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from koppel.model.desired import ObjectKind
from koppel.model.keys import membership_key
from koppel.targets.base import ReadObject, TargetSnapshot
from koppel.targets.ldap import mapping
from koppel.targets.ldap.client import Found, LdapClient
from koppel.targets.ldap.index import norm_dn
from koppel.targets.ldap.mapping import MappingConfig, first_value
from koppel.targets.ldap.members import membership_target_id

__all__ = ["read_directory"]

_USUAL_ROLE = {"student": "student", "guardian": "guardian", "staff": "teacher"}


def read_directory(client: LdapClient, cfg: MappingConfig, known_target_ids: Mapping[str, str]) -> TargetSnapshot:
    wanted = f"(|(objectClass={cfg.person_class})(objectClass={cfg.group_class})(objectClass=organizationalUnit))"
    attributes = ["objectClass", cfg.person_key, cfg.group_key, cfg.username_attr, "givenName", "sn", "cn",
                  "displayName", "mail", "employeeType", "description", "ou", "member"]
    persons: list[Found] = []
    groups: list[Found] = []
    for found in client.iter_search(cfg.base_dn, wanted, attributes):
        classes = {c.lower() for c in found.attributes.get("objectClass", ())}
        if cfg.person_class.lower() in classes:
            persons.append(found)
        elif first_value(found.attributes, cfg.group_key):
            groups.append(found)
    group_keys = {norm_dn(g.dn): str(first_value(g.attributes, cfg.group_key)) for g in groups}
    person_keys = {norm_dn(p.dn): key for p in persons if (key := first_value(p.attributes, cfg.person_key))}
    by_target_id = {target_id: key for key, target_id in known_target_ids.items() if "|" in target_id}
    objects = [_person(p, cfg) for p in persons]
    objects += [_group(g, cfg, group_keys) for g in groups]
    roles = {norm_dn(p.dn): first_value(p.attributes, "employeeType") or "student" for p in persons}
    for group in groups:
        group_key = group_keys[norm_dn(group.dn)]
        for member in group.attributes.get("member", ()):
            person_key = person_keys.get(norm_dn(member))
            if person_key is not None:
                objects.append(_membership(person_key, group_key, roles[norm_dn(member)], by_target_id, home=False))
    leavers = norm_dn(cfg.leavers_dn)
    for person in persons:
        key = person_keys.get(norm_dn(person.dn))
        school = group_keys.get(norm_dn(mapping.parent_dn(mapping.parent_dn(person.dn))))
        if key and school and norm_dn(mapping.parent_dn(person.dn)) != leavers:
            objects.append(_membership(key, school, roles[norm_dn(person.dn)], by_target_id, home=True))
    return TargetSnapshot(objects=tuple(objects))


def _person(found: Found, cfg: MappingConfig) -> ReadObject:
    key = first_value(found.attributes, cfg.person_key)
    attrs: dict[str, Any] = mapping.person_attrs_of(found.attributes, cfg)
    attrs["locked"] = norm_dn(mapping.parent_dn(found.dn)) == norm_dn(cfg.leavers_dn)
    return ReadObject(ObjectKind.PERSON, key, attrs, target_id=found.dn, manual=key is None)


def _group(found: Found, cfg: MappingConfig, group_keys: Mapping[str, str]) -> ReadObject:
    classes = {c.lower() for c in found.attributes.get("objectClass", ())}
    parent = mapping.parent_dn(found.dn)
    ou = "organizationalunit" in classes
    name = first_value(found.attributes, "description") or first_value(found.attributes, "ou" if ou else "cn")
    kind = ("school" if norm_dn(parent) == norm_dn(cfg.base_dn) else "folder") if ou else None
    attrs = {"type": kind, "name": name, "parent": group_keys.get(norm_dn(parent))}
    return ReadObject(ObjectKind.GROUP, group_keys[norm_dn(found.dn)], attrs, target_id=found.dn)


def _membership(person: str, group: str, person_role: str, by_target_id: Mapping[str, str], *,
                home: bool) -> ReadObject:
    known = by_target_id.get(membership_target_id(person, group))
    role = known.rsplit("|", 1)[-1] if known else _USUAL_ROLE.get(person_role, "student")
    key = known or membership_key(person, group, role)
    return ReadObject(ObjectKind.MEMBERSHIP, key, {"person": person, "group": group, "role": role, "home": home},
                      target_id=membership_target_id(person, group))
