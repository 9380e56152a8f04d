"""Matching: what a site already holds, recognised as the objects koppel's rules want (pure).

``match(desired, facts, discovery, settings, …) -> TakeoverPlan`` — no I/O, no clock. It decides, per
object, one of:

* **adopt** — the site's object *is* koppel's desired object: from now on koppel manages it under the
  site's sync id, and records what the site holds so that the first sync changes only what differs;
* **create** — the LAS has it, the site does not: the first sync makes it;
* **stale** — an account the previous koppeling made in a school koppel covers, for which the LAS has
  no person: recorded, and proposed for suspension only in a later plan that waits for approval;
* **left alone** — everything else on the site (accounts made by hand, other schools, last year's
  courses, memberships the LAS does not know): never touched.

Persons and groups are matched rule by rule, strongest first (``settings.match_persons_on`` /
``match_groups_on``), after the school's own mapping CSV. A rule matches only one to one: a site object
with two LAS candidates, or a LAS object with two site candidates, is listed as ambiguous and decided by
no rule — never guessed. The rules run again until nothing new matches, because a matched parent
narrows its children (two klassen "1A" in two schools are told apart by their school). Memberships
follow: a site membership whose person and group were matched is the LAS's membership of that person in
that group (itslearning holds one per person and hierarchy), its role updated if the LAS says another.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from koppel.model.desired import Desired, DesiredObject, ObjectKind
from koppel.plan.state_view import TAKEOVER_FOREIGN, TAKEOVER_STALE
from koppel.takeover.adopt import (
    adopt_groups,
    adopt_memberships,
    adopt_persons,
    find_collisions,
    find_foreign,
    membership_label,
)
from koppel.takeover.facts import LasFacts, applies, render_all
from koppel.takeover.mapping_file import MappingFile
from koppel.takeover.model import (
    Ambiguity,
    Discovery,
    FoundGroup,
    FoundPerson,
    Missing,
    TakeoverPlan,
)
from koppel.takeover.settings import GroupRule, PersonRule, TakeoverSettings, template_scope

__all__ = ["StateFacts", "match", "record_fingerprint"]

Held = Callable[[ObjectKind, Mapping[str, Any]], Mapping[str, Any]]
MAX_ROUNDS = 12
_COMPATIBLE = {"course": {"course"}, "folder": {"klas", "folder"}, "school": {"school"}}


@dataclass(frozen=True)
class StateFacts:
    """What the takeover needs of koppel's state: its lineage and serial, the keys koppel manages
    already, and the keys an earlier takeover recorded accounts under (stale or left alone)."""

    lineage: str
    serial: int
    managed: Collection[str] = frozenset()
    markers: Collection[str] = frozenset()


def record_fingerprint(status: str, serial: int) -> str:
    """The fingerprint a stale or left-alone account is recorded with (see ``plan.state_view``)."""
    return f"{TAKEOVER_STALE}{serial + 1}" if status == "stale" else TAKEOVER_FOREIGN


def _fold(text: str | None) -> str:
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text).strip().casefold()


class _Pairs:
    """One-to-one matches between site objects (by their index) and desired keys, built rule by rule."""

    def __init__(self) -> None:
        self.f2d: dict[int, str] = {}
        self.d2f: dict[str, int] = {}
        self.how: dict[int, str] = {}
        self.blocked: set[int] = set()  # site objects the mapping says are no one's

    def free_f(self, f: int) -> bool:
        return f not in self.f2d and f not in self.blocked

    def fix(self, f: int, d: str, how: str) -> None:
        self.f2d[f] = d
        self.d2f[d] = f
        self.how[f] = how

    def _candidates(self, pairs: Iterable[tuple[int, str]]) -> tuple[dict[int, set[str]], dict[str, set[int]]]:
        by_f: dict[int, set[str]] = defaultdict(set)
        by_d: dict[str, set[int]] = defaultdict(set)
        for f, d in pairs:
            if self.free_f(f) and d not in self.d2f:
                by_f[f].add(d)
                by_d[d].add(f)
        return by_f, by_d

    def apply(self, rule: str, pairs: Iterable[tuple[int, str]]) -> bool:
        by_f, by_d = self._candidates(pairs)
        progress = False
        for f, ds in sorted(by_f.items()):
            if len(ds) == 1:
                d = next(iter(ds))
                if len(by_d[d]) == 1 and d not in self.d2f:
                    self.fix(f, d, rule)
                    progress = True
        return progress

    def ambiguous(self, pairs: Iterable[tuple[int, str]]) -> tuple[dict[int, set[str]], dict[str, set[int]]]:
        by_f, by_d = self._candidates(pairs)
        return {f: ds for f, ds in by_f.items() if len(ds) > 1}, {d: fs for d, fs in by_d.items() if len(fs) > 1}


def match(
    desired: Desired,
    facts: LasFacts,
    discovery: Discovery,
    settings: TakeoverSettings,
    *,
    state: StateFacts,
    tenant: str,
    target: str,
    today: str,
    held: Held,
    mapping: MappingFile | None = None,
    person_kinds: Collection[str] = ("student", "staff", "guardian"),
) -> TakeoverPlan:
    return _Matching(desired, facts, discovery, settings, state, held, mapping, person_kinds).plan(
        tenant=tenant, target=target, today=today)


class _Matching:
    def __init__(self, desired: Desired, facts: LasFacts, discovery: Discovery, settings: TakeoverSettings,
                 state: StateFacts, held: Held, mapping: MappingFile | None, person_kinds: Collection[str]):
        self.desired = desired
        self.facts = facts
        self.discovery = discovery
        self.settings = settings
        self.state = state
        self.held = held
        self.mapping = mapping
        self.person_kinds = set(person_kinds)
        managed = state.managed
        self.persons_d: dict[str, DesiredObject] = {
            o.key: o for o in desired.of_kind(ObjectKind.PERSON) if o.key not in managed}
        self.groups_d: dict[str, DesiredObject] = {
            o.key: o for o in desired.of_kind(ObjectKind.GROUP) if o.key not in managed}
        self.persons_f: list[FoundPerson] = [p for p in discovery.persons if p.managed_key is None]
        self.groups_f: list[FoundGroup] = [g for g in discovery.groups if g.managed_key is None and g.type != "site"]
        self.all_groups: dict[str, FoundGroup] = {g.target_id: g for g in discovery.groups}
        self.group_index: dict[str, int] = {g.target_id: j for j, g in enumerate(self.groups_f)}
        self.people = _Pairs()
        self.groups = _Pairs()
        self.problems: list[str] = []
        self.by_target_id: dict[str, list[tuple[int | None, FoundPerson]]] | None = None

    # -- the whole plan -----------------------------------------------------------------------

    def plan(self, *, tenant: str, target: str, today: str) -> TakeoverPlan:
        _apply_mapping(self)
        self._match_groups()
        self._match_persons()
        ambiguous = _ambiguities(self)
        adopt = adopt_persons(self) + adopt_groups(self)
        memberships, left_memberships, managed_memberships = adopt_memberships(self)
        adopt += memberships
        adopted = {a.key for a in adopt}
        managed = self.state.managed
        create = [Missing(o.kind.value, o.key, o.label, o.school) for o in self.desired.objects.values()
                  if o.kind is not ObjectKind.MEMBERSHIP and o.key not in managed and o.key not in adopted]
        create += [Missing("membership", key, membership_label(self, m.person, m.group), m.school)
                   for key, m in self.desired.memberships.items() if key not in managed and key not in adopted]
        create += [Missing("membership", o.key, o.label, o.school) for o in self.desired.objects.values()
                   if o.kind is ObjectKind.MEMBERSHIP and o.key not in managed and o.key not in adopted]
        foreign = find_foreign(self)
        collisions = find_collisions(self, create)
        unmatched_groups = tuple(sorted((g.target_id, g.name) for j, g in enumerate(self.groups_f)
                                        if j not in self.groups.f2d))
        managed_count = (sum(1 for p in self.discovery.persons if p.managed_key)
                         + sum(1 for g in self.discovery.groups if g.managed_key) + managed_memberships)
        return TakeoverPlan(
            tenant=tenant, target=target, lineage=self.state.lineage, serial=self.state.serial, today=today,
            school_year=self.desired.school_year, discovery=self.discovery.summary(),
            adopt=tuple(sorted(adopt, key=lambda a: (_KIND_ORDER[a.kind], a.key))),
            create=tuple(sorted(create, key=lambda m: (_KIND_ORDER[m.kind], m.key))),
            foreign=tuple(sorted(foreign, key=lambda f: (f.status, f.label, f.target_id or ""))),
            unmatched_groups=unmatched_groups, unmatched_memberships=left_memberships,
            ambiguous=tuple(ambiguous), collisions=tuple(collisions), problems=tuple(self.problems),
            managed=managed_count, settings=self.settings.model_dump(mode="json"),
        )

    # -- persons ---------------------------------------------------------------------------------

    def _person_rules(self) -> dict[str, Callable[[], list[tuple[int, str]]]]:
        return {PersonRule.SYNC_ID: self._persons_by_sync_id, PersonRule.ECKID: self._persons_by_eckid,
                PersonRule.EMAIL: self._persons_by_email, PersonRule.USERNAME: self._persons_by_username}

    def _match_persons(self) -> None:
        rules = self._person_rules()
        computed = {rule: rules[rule]() for rule in self.settings.match_persons_on}
        for _ in range(MAX_ROUNDS):
            progress = False
            for rule in self.settings.match_persons_on:
                progress |= self.people.apply(rule.value, computed[rule])
            if not progress:
                break
        self._person_pairs = computed

    def _persons_by_sync_id(self) -> list[tuple[int, str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for key in self.persons_d:
            for rendered in render_all(self.settings.person_sync_ids, self.facts.persons.get(key, ())):
                index[rendered.casefold()].append(key)
        return [(i, key) for i, p in enumerate(self.persons_f) if p.target_id
                for key in index.get(p.target_id.casefold(), ())]

    def _persons_by_eckid(self) -> list[tuple[int, str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for key in self.persons_d:
            for values in self.facts.persons.get(key, ()):
                if values.get("eckid"):
                    index[values["eckid"]].append(key)
                    break
        out = []
        for i, p in enumerate(self.persons_f):
            for value in {p.target_id or "", *p.ids}:
                out += [(i, key) for key in index.get(value, ())]
        return out

    def _persons_by_email(self) -> list[tuple[int, str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for key, obj in self.persons_d.items():
            if obj.attrs.get("email"):
                index[str(obj.attrs["email"]).casefold()].append(key)
        return [(i, key) for i, p in enumerate(self.persons_f) if p.email for key in index.get(p.email.casefold(), ())]

    def _persons_by_username(self) -> list[tuple[int, str]]:
        index: dict[tuple[str, str], list[str]] = defaultdict(list)
        for key, obj in self.persons_d.items():
            if obj.attrs.get("username"):
                index[(str(obj.attrs["username"]).casefold(), _fold(obj.attrs.get("family")))].append(key)
        return [(i, key) for i, p in enumerate(self.persons_f) if p.username
                for key in index.get((p.username.casefold(), _fold(p.family)), ())]

    # -- groups ----------------------------------------------------------------------------------

    def _compatible(self, found: FoundGroup, wanted: DesiredObject) -> bool:
        return wanted.attrs.get("type") in _COMPATIBLE.get(found.type or "", ())

    def _match_groups(self) -> None:
        sync_ids = self._groups_by_sync_id() if GroupRule.SYNC_ID in self.settings.match_groups_on else []
        for _ in range(MAX_ROUNDS):
            progress = False
            for rule in self.settings.match_groups_on:
                pairs = sync_ids if rule is GroupRule.SYNC_ID else self._group_pairs(rule)
                progress |= self.groups.apply(rule.value, pairs)
            if not progress:
                break

    def _group_pairs(self, rule: GroupRule) -> list[tuple[int, str]]:
        if rule is GroupRule.SYNC_ID:
            return self._groups_by_sync_id()
        if rule is GroupRule.CODE:
            return self._groups_by_code()
        if rule is GroupRule.TITLE:
            return self._groups_by_title()
        return self._groups_by_parent()

    def _groups_by_sync_id(self) -> list[tuple[int, str]]:
        templates = [(t, template_scope(t)) for t in self.settings.group_sync_ids]
        index: dict[str, list[str]] = defaultdict(list)
        for key in self.groups_d:
            scope = self.facts.scopes.get(key, "")
            usable = [t for t, t_scope in templates if applies(t_scope, scope)]
            for rendered in render_all(usable, [self.facts.groups.get(key, {})]):
                index[rendered.casefold()].append(key)
        return [(j, key) for j, g in enumerate(self.groups_f) for key in index.get(g.target_id.casefold(), ())
                if self._compatible(g, self.groups_d[key])]

    def _school_of(self, group: FoundGroup) -> str | None:
        """The BRIN6 of the matched school the site group lies in; None when that is not known."""
        node: FoundGroup | None = group
        for _ in range(MAX_ROUNDS * 2):
            if node is None:
                return None
            if node.type == "school":
                key = self._group_key(node.target_id)
                wanted = self.desired.objects.get(key) if key else None
                return str(wanted.attrs.get("school") or wanted.school) if wanted is not None else None
            node = self.all_groups.get(node.parent) if node.parent else None
        return None

    def _group_key(self, target_id: str | None) -> str | None:
        """koppel's key of a site group: adopted now, or managed already."""
        if target_id is None:
            return None
        found = self.all_groups.get(target_id)
        if found is not None and found.managed_key:
            return found.managed_key
        j = self.group_index.get(target_id)
        return self.groups.f2d.get(j) if j is not None else None

    def _parent_key(self, parent: str | None) -> str | None:
        """A site group's parent in koppel's words: None at the top, its key when known, else its sync id."""
        if parent is None or parent == self.discovery.site_root:
            return None
        return self._group_key(parent) or parent

    def _same_school(self, group: FoundGroup, wanted: DesiredObject) -> bool:
        school = self._school_of(group)
        return school is None or school == (wanted.attrs.get("school") or wanted.school)

    def _groups_by_code(self) -> list[tuple[int, str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for key, obj in self.groups_d.items():
            if obj.attrs.get("type") == "course" and obj.attrs.get("code") and key not in self.groups.d2f:
                index[_fold(str(obj.attrs["code"]))].append(key)
        return [(j, key) for j, g in enumerate(self.groups_f)
                if g.type == "course" and g.code and self.groups.free_f(j)
                for key in index.get(_fold(g.code), ()) if self._same_school(g, self.groups_d[key])]

    def _groups_by_title(self) -> list[tuple[int, str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for key, obj in self.groups_d.items():
            if key not in self.groups.d2f and obj.attrs.get("name"):
                index[_fold(str(obj.attrs["name"]))].append(key)
        by_f: dict[int, list[str]] = {}
        for j, g in enumerate(self.groups_f):
            if not self.groups.free_f(j) or not g.name:
                continue
            candidates = [key for key in index.get(_fold(g.name), ())
                          if self._compatible(g, self.groups_d[key]) and self._same_school(g, self.groups_d[key])]
            if len(candidates) > 1:  # a matched parent tells them apart
                parent = self._parent_key(g.parent)
                same_parent = [key for key in candidates if self.groups_d[key].attrs.get("parent") == parent]
                candidates = same_parent or candidates
            if candidates:
                by_f[j] = candidates
        # The other side: one desired group, several site groups of that name — the same narrowing.
        by_d: dict[str, list[int]] = defaultdict(list)
        for j, keys in by_f.items():
            for key in keys:
                by_d[key].append(j)
        pairs = []
        for key, js in by_d.items():
            if len(js) > 1:
                parent = self.groups_d[key].attrs.get("parent")
                narrowed = [j for j in js if self._parent_key(self.groups_f[j].parent) == parent]
                js = narrowed or js
            pairs += [(j, key) for j in js]
        return pairs

    def _groups_by_parent(self) -> list[tuple[int, str]]:
        """The only school on each side; under a matched school, the only folder named after the school year."""
        pairs: list[tuple[int, str]] = []
        schools_f = [j for j, g in enumerate(self.groups_f) if g.type == "school" and self.groups.free_f(j)]
        schools_d = [k for k, o in self.groups_d.items() if o.attrs.get("type") == "school" and k not in self.groups.d2f]
        if len(schools_f) == 1 and len(schools_d) == 1:
            pairs.append((schools_f[0], schools_d[0]))
        for key, obj in self.groups_d.items():
            if key in self.groups.d2f or self.facts.scopes.get(key) != "year":
                continue
            values = self.facts.groups.get(key, {})
            year = values.get("school_year", "")
            forms = {year, values.get("school_year_short", ""), f"{year[2:4]}-{year[7:9]}" if year else "",
                     f"{year[:4]}/{year[5:9]}" if year else ""} - {""}
            for j, g in enumerate(self.groups_f):
                if (g.type == "folder" and self.groups.free_f(j) and self._parent_key(g.parent) == obj.attrs.get("parent")
                        and any(form in g.name for form in forms)):
                    pairs.append((j, key))
        return pairs

    # -- how site objects are named in the plan -------------------------------------------------

    def _person_id(self, i: int) -> str:
        p = self.persons_f[i]
        return p.target_id or p.username or f"(account without sync id or user name #{i})"

    def _person_label(self, i: int) -> str:
        return self.persons_f[i].label

    def _group_id(self, j: int) -> str:
        return self.groups_f[j].target_id

    def _group_label(self, j: int) -> str:
        return self.groups_f[j].name


# -- the school's own mapping ------------------------------------------------------------------


def _apply_mapping(m: _Matching) -> None:
    """Fix the pairs the school's mapping CSV names (or block a site object: no one's), before any rule;
    a row that cannot be applied is a problem of the plan."""
    if m.mapping is None:
        return
    persons_by_id: dict[str, int] = {}
    for i, p in enumerate(m.persons_f):
        if p.target_id:
            persons_by_id.setdefault(p.target_id.casefold(), i)
    manual_by_name = {p.username.casefold(): i for i, p in enumerate(m.persons_f)
                      if p.username and not p.target_id}
    groups_by_id = {g.target_id.casefold(): j for j, g in enumerate(m.groups_f)}
    managed_ids = {x.casefold() for x in [*(p.target_id for p in m.discovery.persons if p.managed_key),
                                          *(g.target_id for g in m.discovery.groups if g.managed_key)] if x}
    for row in m.mapping.rows:
        where = m.mapping.where(row)
        site = row.site_id.casefold()
        person = persons_by_id.get(site, manual_by_name.get(site))
        group = groups_by_id.get(site)
        if person is None and group is None:
            what = "koppel manages it already" if site in managed_ids else "there is no such account or group on the site"
            m.problems.append(f"{where}: {row.site_id!r}: {what}")
            continue
        if person is not None and group is not None:
            m.problems.append(f"{where}: {row.site_id!r} names both an account and a group; use the group's "
                              "sync id and the account's user name apart")
            continue
        pairs, index = (m.people, person) if person is not None else (m.groups, group)
        assert index is not None
        if row.key is None:
            pairs.blocked.add(index)
            continue
        wanted = m.persons_d if person is not None else m.groups_d
        if row.key not in wanted:
            other = m.groups_d if person is not None else m.persons_d
            if row.key in other:
                what = "a group" if person is not None else "a person"
                m.problems.append(f"{where}: {row.key!r} is {what} in koppel, {row.site_id!r} is not")
            elif row.key in m.state.managed:
                m.problems.append(f"{where}: koppel manages {row.key!r} already")
            else:
                m.problems.append(f"{where}: no LAS object with koppel key {row.key!r} (the takeover's CSV "
                                  "report lists the keys)")
            continue
        if group is not None and not m._compatible(m.groups_f[group], m.groups_d[row.key]):
            m.problems.append(f"{where}: {row.site_id!r} is a {m.groups_f[group].type}, {row.key!r} a "
                              f"{m.groups_d[row.key].attrs.get('type')}: itslearning cannot turn one into "
                              "the other")
            continue
        if row.key in pairs.d2f:
            m.problems.append(f"{where}: {row.key!r} is mapped twice")
            continue
        pairs.fix(index, row.key, f"mapping {where}")


# -- ambiguity ---------------------------------------------------------------------------------


def _ambiguities(m: _Matching) -> list[Ambiguity]:
    """Site objects with several LAS candidates and LAS objects with several site candidates, per rule:
    listed for a person to decide (each object once, under the strongest rule that found it)."""
    out: list[Ambiguity] = []
    seen: set[tuple[str, str, str]] = set()
    plans = [("person", m.people, m._person_pairs, m._person_id, m._person_label, m.persons_d)]
    group_rules = [(rule.value, m._group_pairs(rule)) for rule in m.settings.match_groups_on]
    for kind, pairs, computed, site_id, site_label, wanted in plans + [
            ("group", m.groups, dict(group_rules), m._group_id, m._group_label, m.groups_d)]:
        for rule, rule_pairs in computed.items():
            by_f, by_d = pairs.ambiguous(rule_pairs)
            for f, ds in sorted(by_f.items()):
                if (kind, "site", site_id(f)) not in seen:
                    seen.add((kind, "site", site_id(f)))
                    out.append(Ambiguity(kind, "site", site_id(f), site_label(f),
                                         tuple(sorted((d, wanted[d].label) for d in ds)), str(rule)))
            for d, fs in sorted(by_d.items()):
                if (kind, "las", d) not in seen:
                    seen.add((kind, "las", d))
                    out.append(Ambiguity(kind, "las", d, wanted[d].label,
                                         tuple(sorted((site_id(f), site_label(f)) for f in fs)), str(rule)))
    return out


_KIND_ORDER = {"group": 0, "person": 1, "membership": 2}
