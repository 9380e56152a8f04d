"""What the plan knows of the state: plain values, loaded by the caller (the plan does no I/O).

Attributes are loaded in two steps to keep a million-membership plan lean: the index (key, kind,
status, fingerprint, school …) for every object, then — through ``details``, a reader of the same
snapshot — the attribute JSON only of the objects the plan will actually show a before for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from koppel.model.desired import ObjectKind

__all__ = ["TAKEOVER_FOREIGN", "TAKEOVER_STALE", "UNRECORDED", "ObjectStatus", "StateRecord", "StateView",
           "stale_serial"]

# Fingerprints of the accounts a takeover (`koppel takeover --approve`) found on the platform without a LAS
# person. A stale one — made by the previous koppeling in a school koppel covers — is proposed for
# suspension by a later plan, always held for approval; the number after the colon is the state's serial
# the takeover left, so that the takeover's first sync does not carry them. A foreign one (made by hand,
# outside koppel's schools) is never planned: it is recorded only so that its user name stays taken.
TAKEOVER_STALE = "takeover-stale:"
TAKEOVER_FOREIGN = "takeover-foreign"

# The fingerprint of an object whose last change was sent to the target without its outcome being recorded
# (the state could not be written after the platform answered, or the process died with the request in
# flight). It never equals a real fingerprint, so the plan looks at the object again; ``StateView.unrecorded``
# says what was sent.
UNRECORDED = "unrecorded"


def stale_serial(fingerprint: str) -> int | None:
    """The serial in a stale account's fingerprint; None for any other fingerprint."""
    if not fingerprint.startswith(TAKEOVER_STALE):
        return None
    try:
        return int(fingerprint[len(TAKEOVER_STALE):])
    except ValueError:
        return 0


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
    # Reads (attribute JSON, labels) of given keys from the same snapshot. The plan asks for exactly the
    # objects it shows a before for; without a reader, ``attrs_json`` and ``labels`` are all there is.
    details: Callable[[Iterable[str]], tuple[Mapping[str, str | bytes], Mapping[str, str]]] | None = None

    def with_details(self, keys: Iterable[str]) -> StateView:
        if self.details is None:
            return self
        wanted = [k for k in keys if k not in self.attrs_json]
        if not wanted:
            return self
        attrs, labels = self.details(wanted)
        return replace(self, attrs_json={**self.attrs_json, **attrs}, labels={**self.labels, **labels}, details=None)

    def label(self, key: str) -> str:
        rec = self.records.get(key)
        return (rec.label if rec is not None and rec.label else None) or self.labels.get(key, "")

    def record(self, key: str) -> StateRecord | None:
        """The record of any object, a lean membership included (an active membership with a fingerprint)."""
        rec = self.records.get(key)
        if rec is None:
            fp = self.memberships.get(key)
            if fp is not None:
                attrs = self.attrs(key) or {}
                group = self.records.get(attrs.get("group", ""))
                rec = StateRecord(ObjectKind.MEMBERSHIP, key, ObjectStatus.ACTIVE, fp,
                                  group.school if group is not None else None,
                                  target_id=self.membership_target_ids.get(key))
        return rec

    def attrs(self, key: str) -> dict[str, Any] | None:
        raw = self.attrs_json.get(key)
        if raw is None:
            return None
        return orjson.loads(raw)

    @classmethod
    def empty(cls, tenant: str, target: str, lineage: str = "", serial: int = 0) -> StateView:
        return cls(tenant, target, lineage, serial, {})
