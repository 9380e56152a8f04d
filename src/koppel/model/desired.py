"""Desired: what one target should contain, as target-neutral objects keyed by sync key.

The rules turn a Roster into a Desired for one target profile; the plan diffs a Desired against
the state. Attributes are plain JSON scalars (str, int, bool, None) or tuples of strings, so that
fingerprints are stable and state rows can store them as JSON.

The attributes of each kind are a typed contract, in :mod:`koppel.model.attrs` (``GroupAttrs``,
``PersonAttrs``, ``MembershipAttrs``); sync keys and the membership fingerprint are made by the functions of
:mod:`koppel.model.keys`. Targets map the attributes to their wire format.

``meta`` holds what koppel keeps for people, not for the target (leerlingnummer, docentcode, ECK iD,
display name, provenance) — stored in the state for search and history, never sent, never diffed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from koppel.model.attrs import MembershipAttrs, MembershipRole
from koppel.model.keys import membership_fingerprint
from koppel.model.roster import Diagnostic

__all__ = ["Desired", "DesiredObject", "LeanMembership", "ObjectKind", "fingerprint"]

_NO_META: Mapping[str, Any] = MappingProxyType({})


class ObjectKind(StrEnum):
    GROUP = "group"
    PERSON = "person"
    MEMBERSHIP = "membership"


def fingerprint(attrs: Mapping[str, Any]) -> str:
    """A stable digest of attributes: same attributes, same fingerprint, on every machine."""
    return hashlib.blake2b(orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()


@dataclass(slots=True)
class DesiredObject:
    """One object the target should hold. Treated as immutable; not ``frozen`` only because a frozen
    dataclass costs three times as much to build, and a bestuur builds a million of these."""

    kind: ObjectKind
    key: str
    attrs: Mapping[str, Any]  # GroupAttrs, PersonAttrs or MembershipAttrs by ``kind`` (koppel.model.attrs)
    school: str | None = None  # BRIN6, for breakdowns and per-school guards
    label: str = ""  # human name for renderings ("3A", "Jan van der Berg")
    meta: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    @classmethod
    def make(
        cls,
        kind: ObjectKind,
        key: str,
        attrs: Mapping[str, Any],
        *,
        school: str | None = None,
        label: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> DesiredObject:
        return cls(kind, key, attrs, school, label, meta or {}, fingerprint(attrs))

    @property
    def depth_parent(self) -> str | None:
        return self.attrs.get("parent") if self.kind is ObjectKind.GROUP else None


class LeanMembership(NamedTuple):
    """A membership as the rules hand it over: key material and the one attribute that can change.

    A bestuur has a million memberships and most plans leave them unchanged, so the rules do not build a
    full :class:`DesiredObject` (an attribute dict, a label) for each: the plan compares this tuple's
    fingerprint with the state's and builds the full change only for what changes (``materialise``)."""

    person: str
    group: str
    role: MembershipRole
    home: bool
    school: str | None
    fingerprint: str  # keys.membership_fingerprint(home): person, group and role are the key

    @classmethod
    def of(cls, person: str, group: str, role: MembershipRole, home: bool, school: str | None) -> LeanMembership:
        return cls(person, group, role, home, school, membership_fingerprint(home))

    def attrs(self) -> MembershipAttrs:
        return {"person": self.person, "group": self.group, "role": self.role, "home": self.home}


@dataclass(frozen=True)
class Desired:
    """Everything one target should hold for one tenant, after rules and filters.

    ``objects`` holds groups and persons (and memberships given as full objects, as tests do);
    ``memberships`` holds the rules' lean memberships. Use :meth:`get`, ``in`` and :meth:`of_kind` to see
    both alike."""

    target: str
    school_year: str
    objects: Mapping[str, DesiredObject]
    diagnostics: tuple[Diagnostic, ...] = ()
    # Scope: the schools this desired state speaks for. Objects of other schools in the state are
    # left alone (a filter or a missing source must never read as "everyone left").
    schools: frozenset[str] = frozenset()
    # The school years it speaks for: the current one, and the next when its groups are provisioned.
    # Groups of a later year that this run did not read are left alone, not archived.
    years: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    memberships: Mapping[str, LeanMembership] = field(default_factory=dict)

    @classmethod
    def from_table(cls, target: str, school_year: str, table: dict[str, DesiredObject], *,
                   memberships: dict[str, LeanMembership] | None = None, diagnostics: Iterable[Diagnostic] = (),
                   schools: Iterable[str] = (), years: Iterable[str] = (), notes: Iterable[str] = ()) -> Desired:
        """From tables the caller built keyed by sync key and hands over (they are not copied, nor wrapped
        in a read-only proxy: a million lookups through a proxy cost a second)."""
        return cls(target, school_year, table, tuple(diagnostics), frozenset(schools),
                   frozenset(years) or frozenset({school_year}), tuple(notes), memberships or {})

    def __contains__(self, key: object) -> bool:
        return key in self.objects or key in self.memberships

    def get(self, key: str) -> DesiredObject | None:
        obj = self.objects.get(key)
        if obj is None:
            lean = self.memberships.get(key)
            if lean is not None:
                obj = self.materialise(key, lean)
        return obj

    def materialise(self, key: str, m: LeanMembership) -> DesiredObject:
        """The full object of a lean membership, labelled "person → group"."""
        person, group = self.objects.get(m.person), self.objects.get(m.group)
        label = f"{person.label if person else m.person} → {group.label if group else m.group}"
        return DesiredObject(ObjectKind.MEMBERSHIP, key, m.attrs(), m.school, label, _NO_META, m.fingerprint)

    @classmethod
    def build(
        cls,
        target: str,
        school_year: str,
        objects: Iterable[DesiredObject],
        *,
        diagnostics: Iterable[Diagnostic] = (),
        schools: Iterable[str] = (),
    ) -> Desired:
        table: dict[str, DesiredObject] = {}
        for obj in objects:
            if obj.key in table and table[obj.key] != obj:
                raise ValueError(f"two different desired objects share sync key {obj.key!r}")
            table[obj.key] = obj
        return cls(target, school_year, MappingProxyType(table), tuple(diagnostics), frozenset(schools),
                   frozenset({school_year}))

    def of_kind(self, kind: ObjectKind) -> Iterator[DesiredObject]:
        yield from (o for o in self.objects.values() if o.kind is kind)
        if kind is ObjectKind.MEMBERSHIP:
            yield from (self.materialise(k, m) for k, m in self.memberships.items())

    def counts(self) -> dict[str, int]:
        out = {k.value: 0 for k in ObjectKind}
        for o in self.objects.values():
            out[o.kind.value] += 1
        out[ObjectKind.MEMBERSHIP.value] += len(self.memberships)
        return out
