"""What the plan knows of the state: plain values, loaded by the caller (the plan does no I/O).

Attributes are loaded in two steps to keep a million-membership plan lean: the index (key, kind,
status, fingerprint, school …) for every object, then the attribute JSON only for the objects the
plan will actually show a before for (``keys_needing_attrs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from koppel.model.desired import Desired, ObjectKind

__all__ = ["ObjectStatus", "StateRecord", "StateView", "keys_needing_attrs"]


class ObjectStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"
    DELETED = "deleted"


@dataclass(slots=True)
class StateRecord:
    """One object of the state, as the plan sees it (treated as immutable; see DesiredObject)."""

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

    def label(self, key: str) -> str:
        rec = self.records.get(key)
        return (rec.label if rec is not None and rec.label else None) or self.labels.get(key, "")

    def attrs(self, key: str) -> dict[str, Any] | None:
        raw = self.attrs_json.get(key)
        if raw is None:
            return None
        return orjson.loads(raw)

    @classmethod
    def empty(cls, tenant: str, target: str, lineage: str = "", serial: int = 0) -> StateView:
        return cls(tenant, target, lineage, serial, {})


def keys_needing_attrs(desired: Desired, records: Mapping[str, StateRecord]) -> Iterable[str]:
    """Keys whose stored attributes the plan will read: changed objects and objects gone from the LAS."""
    objects = desired.objects
    for key, rec in records.items():
        if rec.status is ObjectStatus.DELETED:
            continue
        obj = objects.get(key)
        if obj is None or obj.fingerprint != rec.fingerprint or rec.status is not ObjectStatus.ACTIVE:
            yield key

