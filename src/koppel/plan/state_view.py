"""What the plan knows of the state: plain values, loaded by the caller (the plan does no I/O).

Attributes are loaded in two steps to keep a million-membership plan lean: the index (key, kind,
status, fingerprint, school …) for every object, then the attribute JSON only of the objects the plan
will actually show a before for — ``plan.engine.diff_index`` names them, the caller reads them and
:meth:`StateView.with_details` adds them to the view.

The fingerprint markers (``TAKEOVER_STALE``, ``TAKEOVER_FOREIGN``, ``UNRECORDED``) live in
:mod:`koppel.model.keys`; they are importable from here too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from koppel.model.attrs import membership_attrs
from koppel.model.desired import ObjectKind
from koppel.model.keys import MEMBERSHIP_AWAY, TAKEOVER_FOREIGN, TAKEOVER_STALE, UNRECORDED, stale_serial

__all__ = ["TAKEOVER_FOREIGN", "TAKEOVER_STALE", "UNRECORDED", "ObjectStatus", "StateRecord", "StateView",
           "group_digest", "membership_group", "membership_line", "stale_serial"]


class ObjectStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"
    DELETED = "deleted"


class StateRecord(NamedTuple):
    """One object of the state, as the plan sees it. A named tuple: the state of a bestuur is a million
    of these, and a tuple is built several times faster than a dataclass."""

    kind: ObjectKind
    key: str
    status: ObjectStatus
    fingerprint: str
    school: str | None = None
    label: str | None = None
    target_id: str | None = None
    absent_since: str | None = None
    delete_after: str | None = None
    parent: str | None = None  # groups: parent key, for the depth of archive/delete ordering
    person_key: str | None = None
    group_type: str | None = None  # groups: school | folder | klas | course


@dataclass(frozen=True)
class StateView:
    tenant: str
    target: str
    lineage: str
    serial: int
    records: Mapping[str, StateRecord]
    attrs_json: Mapping[str, str | bytes] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # for objects whose record carries none
    # What reconciliation saw changed by hand in the platform: {key: {field: platform value}}.
    drift: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Lean form (see StateStore.load_view): active memberships not in ``records``, as key -> fingerprint,
    # with their number per school (None: no school) for the guards.
    memberships: Mapping[str, str] = field(default_factory=dict)
    membership_totals: Mapping[str | None, int] = field(default_factory=dict)
    # Lean memberships whose target id is not derived from their person and group (adopted at a takeover).
    membership_target_ids: Mapping[str, str] = field(default_factory=dict)
    # Objects whose last change was sent and not recorded: key -> the action sent. The plan sends each of them
    # again, as the LAS has it now, whether or not it differs from what the state recorded.
    unrecorded: Mapping[str, str] = field(default_factory=dict)
    # Per-group membership digests (issue 13), when the state holds valid ones and the memberships were not
    # loaded: group key -> digest of its active memberships (:func:`group_digest`). The planner compares them
    # with the desired groups' digests, loads into ``memberships`` only the members of the groups that differ,
    # and names the groups that are equal in ``settled_groups`` (their memberships are neither loaded nor
    # compared). None: ``memberships`` holds every active membership.
    membership_digests: Mapping[str, str] | None = None
    settled_groups: frozenset[str] = frozenset()

    def with_details(self, attrs: Mapping[str, str | bytes], labels: Mapping[str, str]) -> StateView:
        """This view with the stored attribute JSON and labels of more objects (what the view holds already —
        what was sent and not recorded — stays)."""
        if not attrs and not labels:
            return self
        return replace(self, attrs_json={**attrs, **self.attrs_json}, labels={**labels, **self.labels})

    def label(self, key: str) -> str:
        rec = self.records.get(key)
        return (rec.label if rec is not None and rec.label else None) or self.labels.get(key, "")

    def record(self, key: str) -> StateRecord | None:
        """The record of any object, a lean membership included (an active membership with a fingerprint)."""
        rec = self.records.get(key)
        if rec is None:
            fp = self.memberships.get(key)
            if fp is not None:
                attrs = membership_attrs(self.attrs(key) or {})
                group = self.records.get(attrs.get("group", ""))
                rec = StateRecord(ObjectKind.MEMBERSHIP, key, ObjectStatus.ACTIVE, fp,
                                  group.school if group is not None else None,
                                  target_id=self.membership_target_ids.get(key))
        return rec

    def attrs(self, key: str) -> dict[str, Any] | None:
        raw = self.attrs_json.get(key)
        if raw is None:
            return None
        attrs: dict[str, Any] = orjson.loads(raw)
        return attrs

    @classmethod
    def empty(cls, tenant: str, target: str, lineage: str = "", serial: int = 0) -> StateView:
        return cls(tenant, target, lineage, serial, {})


def membership_group(key: str) -> str | None:
    """The group of a membership's sync key (``<person>|<group>|<role>``), or None when the key cannot be split
    unambiguously (a key with a ``|`` inside a person's or group's key)."""
    parts = key.split("|")
    return parts[1] if len(parts) == 3 else None


def membership_line(key: str, fingerprint: str) -> str:
    """One membership as :func:`group_digest` reads it: its key alone for the common fingerprint (``m1:0``, no
    new string for a million memberships), else ``key\tfingerprint``. ``line.partition("\t")`` splits it back."""
    return key if fingerprint == MEMBERSHIP_AWAY else f"{key}\t{fingerprint}"


def group_digest(lines: Iterable[str]) -> str:
    """The digest of one group's memberships, each given as :func:`membership_line`, in any order. The state (of
    its active memberships) and the plan (of the desired ones) compute it alike: equal digests, equal members."""
    return hashlib.sha1("\n".join(sorted(lines)).encode(), usedforsecurity=False).hexdigest()
