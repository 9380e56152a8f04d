"""What a plan says beyond the changes themselves: a pupil who *moved* (not left one klas and joined another),
the target ids a change refers to, and the fields changed by hand that koppel keeps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from koppel.model.attrs import membership_attrs
from koppel.model.change import Action, Change
from koppel.model.desired import Desired, ObjectKind
from koppel.plan.order import MAX_DEPTH
from koppel.plan.policy import PlanPolicy
from koppel.plan.reasons import R_GONE, R_NEW
from koppel.plan.state_view import StateRecord, StateView

__all__ = ["annotate_moves", "attach_target_refs", "kept_notes"]


def annotate_moves(changes: list[Change], desired: Desired, records: Mapping[str, StateRecord]) -> None:
    """A pupil who leaves one klas and joins another in the same plan has *moved*: say so on both."""
    added: dict[str, list[int]] = defaultdict(list)
    removed: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(changes):
        if c.kind is not ObjectKind.MEMBERSHIP:
            continue
        raw = c.after if c.action is Action.CREATE else c.before
        if not raw:
            continue
        attrs = membership_attrs(raw)
        if attrs.get("role") != "student":
            continue
        group = attrs.get("group", "")
        if c.action is Action.CREATE:
            g = desired.objects.get(group)
            if g is not None and g.attrs.get("type") == "klas":
                added[attrs["person"]].append(i)
        elif c.action is Action.DELETE:
            rec = records.get(group)
            if rec is not None and rec.group_type == "klas":
                removed[attrs["person"]].append(i)
    moved: dict[str, str] = {}
    for person, adds in added.items():
        rems = removed.get(person)
        if not rems or len(adds) != 1 or len(rems) != 1:
            continue
        a, r = adds[0], rems[0]
        old_group = membership_attrs(changes[r].before or {})["group"]
        new_group = membership_attrs(changes[a].after or {})["group"]
        old = records[old_group].label or old_group
        new = desired.objects[new_group].label or new_group
        changes[a] = replace(changes[a], reason=f"moved from {old} to {new}")
        changes[r] = replace(changes[r], reason=f"moved from {old} to {new}")
        moved[person] = f"from {old} to {new}"
    if moved:
        _with_the_move(changes, moved)


def _with_the_move(changes: list[Change], moved: Mapping[str, str]) -> None:
    """The moved pupils' other memberships that change in the same plan (whole-klas lesgroepen) go with the
    move."""
    for i, c in enumerate(changes):
        if c.kind is ObjectKind.MEMBERSHIP and c.action in (Action.CREATE, Action.DELETE) \
                and c.reason in (R_NEW, R_GONE):
            raw = c.after if c.action is Action.CREATE else c.before
            move = moved.get(membership_attrs(raw).get("person", "")) if raw else None
            if move:
                changes[i] = replace(c, reason=f"{c.reason} (with the move {move})")


def attach_target_refs(changes: list[Change], records: Mapping[str, StateRecord], others: list[Change],
                       foreign: set[str]) -> None:
    """Tell the target what it needs beyond the change itself: the recorded target id of every object a
    change refers to, where that id is not the key (an adopted manual account), and for a group that is
    archived, the school group it belongs to (where the target keeps its archive)."""
    removals = any(c.kind is ObjectKind.GROUP and c.action in (Action.ARCHIVE, Action.DELETE) for c in others)
    if not foreign and not removals:
        return
    for i, c in enumerate(changes):
        meta: dict[str, Any] | None = None
        attrs = c.after if c.after is not None else c.before
        if attrs:
            refs: dict[str, str] = {}
            for name in ("person", "group", "parent"):  # a membership's person and group, a group's parent
                ref = attrs.get(name)
                rec = records.get(ref) if isinstance(ref, str) else None
                if isinstance(ref, str) and rec is not None and rec.target_id and rec.target_id != ref:
                    refs[ref] = rec.target_id
            if refs:
                meta = {**(c.meta or {}), "target_ids": refs}
        if c.kind is ObjectKind.GROUP and c.action in (Action.ARCHIVE, Action.DELETE):
            school = _school_group(c.key, records)
            if school is not None:
                meta = {**(meta or c.meta or {}), "school_group": school}
        if meta is not None:
            changes[i] = replace(c, meta=meta)


def _school_group(key: str, records: Mapping[str, StateRecord]) -> str | None:
    node: str | None = key
    for _ in range(MAX_DEPTH + 1):
        rec = records.get(node) if node else None
        if rec is None:
            return None
        if rec.group_type == "school":
            return node
        node = rec.parent
    return None


def kept_notes(desired: Desired, state: StateView, policy: PlanPolicy, planned: set[str]) -> list[str]:
    """Objects with no change of their own whose fields changed by hand are kept as they are: say so."""
    notes = []
    for key, fields in sorted(state.drift.items()):
        obj = desired.get(key)
        if obj is None or key in planned:
            continue
        kept = sorted(f for f in fields if f in policy.protected.get(obj.kind, frozenset()))
        if kept:
            notes.append(f"kept: {obj.label or key} — {', '.join(kept)} changed in the platform (not owned by koppel)")
    return notes
