"""The order of a plan: parents before children on create, persons before memberships, removals in reverse.

A change's phase says where it goes; the plan sorts by phase, then by key, so the same changes come out in the
same order whatever order they were found in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from operator import attrgetter

from koppel.model.change import Change
from koppel.model.desired import Desired, DesiredObject, ObjectKind
from koppel.plan.state_view import StateRecord

__all__ = [
    "MAX_DEPTH",
    "PHASES",
    "PHASE_GROUP_REMOVE",
    "PHASE_GROUP_UPSERT",
    "PHASE_GUARDIAN",
    "PHASE_MEMBERSHIP",
    "PHASE_MEMBERSHIP_REMOVE",
    "PHASE_PERSON",
    "PHASE_PERSON_REMOVE",
    "desired_depths",
    "in_order",
    "state_depths",
    "upsert_phase",
]

PHASE_GROUP_UPSERT = 10  # + depth of the group (school = 1)
PHASE_PERSON = 30
PHASE_GUARDIAN = 31  # guardians after the children they point at
PHASE_MEMBERSHIP = 40
PHASE_MEMBERSHIP_REMOVE = 50
PHASE_PERSON_REMOVE = 60
PHASE_GROUP_REMOVE = 70  # + (MAX_DEPTH - depth): children before parents
MAX_DEPTH = 19
PHASES = {
    "groups (parents first)": (PHASE_GROUP_UPSERT, PHASE_GROUP_UPSERT + MAX_DEPTH),
    "persons": (PHASE_PERSON, PHASE_GUARDIAN),
    "memberships": (PHASE_MEMBERSHIP, PHASE_MEMBERSHIP),
    "membership removals": (PHASE_MEMBERSHIP_REMOVE, PHASE_MEMBERSHIP_REMOVE),
    "person removals": (PHASE_PERSON_REMOVE, PHASE_PERSON_REMOVE),
    "group removals (children first)": (PHASE_GROUP_REMOVE, PHASE_GROUP_REMOVE + MAX_DEPTH),
}


def upsert_phase(obj: DesiredObject, depth: Mapping[str, int]) -> int:
    if obj.kind is ObjectKind.GROUP:
        return PHASE_GROUP_UPSERT + min(depth.get(obj.key, 1), MAX_DEPTH)
    if obj.kind is ObjectKind.PERSON:
        return PHASE_GUARDIAN if obj.attrs.get("role") == "guardian" else PHASE_PERSON
    return PHASE_MEMBERSHIP


def in_order(changes: list[Change]) -> list[Change]:
    """Phase first, then key: deterministic whatever order the inputs came in. Each phase holds one kind,
    so sorting per phase bucket by key (no tuple per change) is the same order, and much cheaper."""
    buckets: dict[int, list[Change]] = defaultdict(list)
    for c in changes:
        buckets[c.phase].append(c)
    by_key = attrgetter("key")
    out: list[Change] = []
    for phase in sorted(buckets):
        bucket = buckets[phase]
        bucket.sort(key=by_key)
        out.extend(bucket)
    return out


def desired_depths(desired: Desired) -> dict[str, int]:
    """The depth of every desired group (a school is 1): parents are created first."""
    parents = {o.key: o.attrs.get("parent") for o in desired.objects.values() if o.kind is ObjectKind.GROUP}
    return _depth_table(parents)


def state_depths(records: Mapping[str, StateRecord]) -> dict[str, int]:
    """The depth of every group of the state: children are removed first."""
    parents = {k: r.parent for k, r in records.items() if r.kind is ObjectKind.GROUP}
    return _depth_table(parents)


def _depth_table(parents: Mapping[str, str | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in parents:
        chain: list[str] = []
        node: str | None = key
        while node is not None and node not in out and node in parents and len(chain) <= MAX_DEPTH:
            chain.append(node)
            node = parents[node]
        base = out.get(node, 0) if node is not None else 0
        for i, k in enumerate(reversed(chain), start=1):
            out[k] = base + i
    return out
