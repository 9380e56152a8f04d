"""Memberships as member values: one modify per group for a batch, per member only when that fails.

A membership in a klas or course is the person's DN in the group's ``member``. A membership in a school
or folder (an OU) is the person's place in the tree — their entry lives under their home school — so it
needs no write. A groupOfNames must keep one member: a group koppel empties gets the placeholder DN, and
loses it again with its next member (:mod:`.index` knows which groups hold it).

The directory does not know a member's role. A membership's target id is ``<person>|<group>``, so reading
back maps a member to the membership koppel made (:mod:`.reader`); and a person whose role in a group
changes (teacher → mentor: a create and a delete of the same member value) stays a member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ldap3.utils.conv import escape_filter_chars

from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.targets.ldap import mapping
from koppel.targets.ldap.client import Answer, Code, LdapClient
from koppel.targets.ldap.index import DirectoryIndex, GroupEntry, norm_dn
from koppel.targets.ldap.mapping import MappingConfig

__all__ = ["MemberWriter", "membership_target_id"]

_ALREADY = (Code.VALUE_EXISTS, Code.ALREADY_EXISTS)  # ad answers entryAlreadyExists for a member already there


def membership_target_id(person: str, group: str) -> str:
    return f"{person}|{group}"


@dataclass
class _Pending:
    change: Change
    person_dn: str


class MemberWriter:
    def __init__(self, client: LdapClient, index: DirectoryIndex, cfg: MappingConfig,
                 added: dict[tuple[str, str], set[str]]):
        self.client = client
        self.index = index
        self.cfg = cfg
        self.added = added

    def apply(self, action: Action, changes: Sequence[Change]) -> list[ItemResult]:
        results: dict[int, ItemResult] = {}
        by_group: dict[str, tuple[GroupEntry, list[tuple[int, _Pending]]]] = {}
        for i, change in enumerate(changes):
            attrs = {**(change.before or {}), **(change.after or {})}
            person, group, role = str(attrs.get("person")), str(attrs.get("group")), str(attrs.get("role"))
            done = self._done(change, person, group)
            entry = self.index.groups.get(group)
            person_dn = self.index.persons.get(person)
            if action is Action.UPDATE:
                results[i] = done  # only ``home`` changes, and the directory has no such thing
            elif entry is None:
                results[i] = done if action is Action.DELETE else ItemResult(
                    change.key, ItemOutcome.FAILED, f"group {group} is not in the directory", "group-missing")
            elif person_dn is None:
                results[i] = done if action is Action.DELETE else ItemResult(
                    change.key, ItemOutcome.FAILED, f"person {person} is not in the directory", "person-missing")
            elif entry.ou:
                results[i] = done  # the person's place under their school is the membership
            elif action is Action.DELETE and self.added.get((person, group), set()) - {role}:
                results[i] = done  # made a member in another role by this run: stays
            else:
                if action is Action.CREATE:
                    self.added.setdefault((person, group), set()).add(role)
                by_group.setdefault(norm_dn(entry.dn), (entry, []))[1].append((i, _Pending(change, person_dn)))
        for entry, pending in by_group.values():
            send = self._add if action is Action.CREATE else self._remove
            for (i, _), result in zip(pending, send(entry.dn, [p for _, p in pending]), strict=True):
                results[i] = result
        return [results[i] for i in range(len(changes))]

    def _done(self, change: Change, person: str, group: str) -> ItemResult:
        return ItemResult(change.key, ItemOutcome.DONE, target_id=membership_target_id(person, group))

    def _results(self, pending: Sequence[_Pending], answer: Answer | None = None) -> list[ItemResult]:
        out = []
        for item in pending:
            attrs = {**(item.change.before or {}), **(item.change.after or {})}
            target_id = membership_target_id(str(attrs.get("person")), str(attrs.get("group")))
            if answer is None or answer.ok:
                out.append(ItemResult(item.change.key, ItemOutcome.DONE, target_id=target_id))
            else:
                out.append(ItemResult(item.change.key, ItemOutcome.FAILED, str(answer),
                                      f"ldap-{answer.description or answer.code}", target_id))
        return out

    # -- add ------------------------------------------------------------------------------------------

    def _add(self, group: str, pending: Sequence[_Pending]) -> list[ItemResult]:
        answer = self._send_add(group, [p.person_dn for p in pending])
        if answer.ok:
            return self._results(pending)
        if len(pending) == 1:
            return self._results(pending, None if answer.code in _ALREADY else answer)
        out: list[ItemResult] = []
        for item in pending:  # one of them is already there (a replay), or one is refused: find out which
            single = self._send_add(group, [item.person_dn])
            out += self._results([item], None if single.code in _ALREADY else single)
        return out

    def _send_add(self, group: str, persons: list[str]) -> Answer:
        holds_placeholder = norm_dn(group) in self.index.with_placeholder
        cfg = self.cfg if holds_placeholder else _without_placeholder(self.cfg)
        answer = self.client.send(mapping.member_add(group, persons, cfg))
        if holds_placeholder and answer.code == Code.NO_SUCH_ATTRIBUTE:
            # The placeholder was already gone (taken out by hand): add without taking it out.
            answer = self.client.send(mapping.member_add(group, persons, _without_placeholder(self.cfg)))
        if answer.ok or answer.code in _ALREADY:
            self.index.with_placeholder.discard(norm_dn(group))
        return answer

    # -- remove ---------------------------------------------------------------------------------------

    def _remove(self, group: str, pending: Sequence[_Pending]) -> list[ItemResult]:
        answer = self._send_remove(group, [p.person_dn for p in pending])
        if answer.ok or answer.code == Code.NO_SUCH_OBJECT:
            return self._results(pending)
        if len(pending) == 1:
            return self._results(pending, None if answer.code == Code.NO_SUCH_ATTRIBUTE else answer)
        out: list[ItemResult] = []
        for item in pending:  # one of them is not a member any more (a replay): remove the others one by one
            single = self._send_remove(group, [item.person_dn])
            out += self._results([item], None if single.code in (Code.NO_SUCH_ATTRIBUTE, Code.NO_SUCH_OBJECT)
                                 else single)
        return out

    def _send_remove(self, group: str, persons: list[str]) -> Answer:
        answer = self.client.send(mapping.member_delete(group, persons))
        if answer.code == Code.OBJECT_CLASS_VIOLATION and self.cfg.placeholder is not None:
            # These were the last members: the placeholder takes their place (groupOfNames needs a member).
            answer = self.client.send(mapping.member_delete_last(group, persons, self.cfg))
            if answer.ok:
                self.index.with_placeholder.add(norm_dn(group))
        return answer

    def remove_everywhere(self, person_dn: str) -> Answer | None:
        """Take a person out of every group under base_dn (before the entry is deleted); None when done."""
        holding = f"(&(objectClass={self.cfg.group_class})(member={escape_filter_chars(person_dn)}))"
        for found in self.client.search(self.cfg.base_dn, holding, []):
            answer = self._send_remove(found.dn, [person_dn])
            if not answer.ok and answer.code not in (Code.NO_SUCH_ATTRIBUTE, Code.NO_SUCH_OBJECT):
                return answer
        return None


def _without_placeholder(cfg: MappingConfig) -> MappingConfig:
    from dataclasses import replace

    return replace(cfg, placeholder=None)
