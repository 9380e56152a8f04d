"""Desired: what one target should contain, as target-neutral objects keyed by sync key.

The rules turn a Roster into a Desired for one target profile; the plan diffs a Desired against
the state. Attributes are plain JSON scalars (str, int, bool, None) or tuples of strings, so that
fingerprints are stable and state rows can store them as JSON.

Attribute vocabulary (targets map these to their wire format):

* group: ``type`` (``school`` | ``folder`` | ``klas`` | ``course``), ``name``, ``code``,
  ``parent`` (sync key of the parent group or None for the top), ``school_year``, ``school``
  (BRIN6), ``subject``, ``leerjaar``.
* person: ``role`` (``student`` | ``staff`` | ``guardian``), ``given`` (roepnaam), ``prefix``
  (voorvoegsel), ``family`` (achternaam), ``username``, ``email``, ``children`` (sync keys of a
  guardian's children).
* membership: ``person`` and ``group`` (sync keys), ``role`` (``student`` | ``teacher`` |
  ``mentor`` | ``guardian``), ``home`` (True on exactly one school membership per person:
  itslearning's HomeOrganisation; False elsewhere).

``meta`` holds what koppel keeps for people, not for the target (leerlingnummer, docentcode, ECK iD,
display name, provenance) — stored in the state for search and history, never sent, never diffed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import orjson

__all__ = ["Desired", "DesiredObject", "ObjectKind", "fingerprint"]


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
    attrs: Mapping[str, Any]
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


@dataclass(frozen=True)
class Desired:
    """Everything one target should hold for one tenant, after rules and filters."""

    target: str
    school_year: str
    objects: Mapping[str, DesiredObject]
    diagnostics: tuple = ()
    # Scope: the schools this desired state speaks for. Objects of other schools in the state are
    # left alone (a filter or a missing source must never read as "everyone left").
    schools: frozenset[str] = frozenset()
    # The school years it speaks for: the current one, and the next when its groups are provisioned.
    # Groups of a later year that this run did not read are left alone, not archived.
    years: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, target: str, school_year: str, table: dict[str, DesiredObject], *,
                   diagnostics: Iterable = (), schools: Iterable[str] = (), years: Iterable[str] = (),
                   notes: Iterable[str] = ()) -> Desired:
        """From a table the caller built keyed by sync key and hands over (it is not copied; it is not
        wrapped in a read-only proxy either, because a million lookups through a proxy cost a second)."""
        return cls(target, school_year, table, tuple(diagnostics), frozenset(schools),
                   frozenset(years) or frozenset({school_year}), tuple(notes))

    @classmethod
    def build(
        cls,
        target: str,
        school_year: str,
        objects: Iterable[DesiredObject],
        *,
        diagnostics: Iterable = (),
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
        return (o for o in self.objects.values() if o.kind is kind)

    def counts(self) -> dict[str, int]:
        out = {k.value: 0 for k in ObjectKind}
        for o in self.objects.values():
            out[o.kind.value] += 1
        return out
