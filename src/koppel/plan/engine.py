"""``make_plan(desired, state, policy, today)``: the pure diff at the heart of koppel.

Everything the plan needs comes in as arguments — no clock, no I/O — so the same inputs give the
same plan, byte for byte, and the whole lifecycle policy is tested with plain values.

The lifecycle (DESIGN §7):

* in the LAS, not in the state (or deleted there) → **create**;
* in both, attributes differ → **update** of the fields koppel owns; fields it does not own are
  *kept* and named in the plan;
* in the LAS again after being suspended or archived → **restore** (the same account, not a new one);
* gone from the LAS: a membership is **deleted**; a person is **suspended**, and **deleted** only when
  the grace period for their kind has passed; a group is **archived** (or deleted, by policy) and the
  memberships of an archived group are kept or removed by policy (the jaarovergang);
* objects of schools outside this run's scope are left alone: a filter or a missing school never
  reads as "everyone left".

The plan is made in passes:

1. **wanted** — everything the LAS wants, against the state's index (key, status, fingerprint): what is
   unchanged is passed over, what is new becomes a create, the rest waits for its stored attributes;
2. **absent** — everything the state holds that the LAS no longer wants.

   These two need only the index, which holds no attributes (a bestuur's state is a million rows). Together
   they are :func:`diff_index`, whose ``details_needed`` names the objects whose stored attributes the plan
   reads: the caller loads those — in the same read of the state as the index — and hands them in with
   ``StateView.with_details``. The plan itself never reads anything.
3. **decide** — updates, restores, suspensions, archives and deletions, each with its before and reason;
4. **annotate and order** — moves, the target ids changes refer to, kept fields; parents before children
   (``plan.order``, ``plan.annotate``);
5. **guards** — count suspensions and deletions per kind and per school and hold the plan when a limit is
   passed (``plan.guards``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from koppel.model.attrs import MembershipAttrs, group_attrs, membership_attrs, person_attrs
from koppel.model.change import Action, Change
from koppel.model.desired import Desired, DesiredObject, LeanMembership, ObjectKind
from koppel.model.keys import MEMBERSHIP_AWAY, TAKEOVER_FOREIGN, stale_serial
from koppel.plan.annotate import annotate_moves, attach_target_refs, kept_notes
from koppel.plan.guards import holds
from koppel.plan.model import Plan
from koppel.plan.order import (
    MAX_DEPTH,
    PHASE_GROUP_REMOVE,
    PHASE_GROUP_UPSERT,
    PHASE_GUARDIAN,
    PHASE_MEMBERSHIP,
    PHASE_MEMBERSHIP_REMOVE,
    PHASE_PERSON,
    PHASE_PERSON_REMOVE,
    PHASES,
    desired_depths,
    in_order,
    state_depths,
    upsert_phase,
)
from koppel.plan.policy import AbsentGroupAction, ArchivedMemberships, PlanPolicy
from koppel.plan.reasons import R_GONE, R_NEW, R_STALE
from koppel.plan.state_view import ObjectStatus, StateRecord, StateView, group_digest, membership_line

__all__ = [
    "PHASES",
    "PHASE_GROUP_REMOVE",
    "PHASE_GROUP_UPSERT",
    "PHASE_GUARDIAN",
    "PHASE_MEMBERSHIP",
    "PHASE_MEMBERSHIP_REMOVE",
    "PHASE_PERSON",
    "PHASE_PERSON_REMOVE",
    "IndexDiff",
    "desired_membership_groups",
    "diff_index",
    "make_plan",
    "settled_groups",
]


@dataclass(slots=True)
class IndexDiff:
    """What the passes over the state's index found: passes 1 (wanted) and 2 (absent)."""

    creates: list[Change]  # new objects: the bulk of a first plan, complete already
    pending: list[tuple[DesiredObject, StateRecord | None]]  # wanted, and not as the state holds them
    lean_pending: list[DesiredObject]  # the same, of the state's lean memberships
    absent: list[StateRecord]  # held by the state, no longer wanted
    lean_absent: list[str]  # the same, of the state's lean memberships
    groups: dict[str, StateRecord]  # every group of the state
    foreign: set[str]  # objects the target knows by an id other than their key
    depth: dict[str, int]  # of every desired group
    notes: list[str]
    # The objects whose stored attributes (and labels) the plan shows a before for, or reads to decide,
    # that the state view does not hold yet: what the caller loads for ``StateView.with_details``.
    details_needed: list[str]


def diff_index(desired: Desired, state: StateView, policy: PlanPolicy,
               groups: Mapping[str, list[str]] | None = None) -> IndexDiff:
    """Passes 1 and 2, on the state's index alone.

    With ``state.settled_groups`` (groups whose membership digest equals the state's), ``groups`` is
    :func:`desired_membership_groups` of ``desired``: only the memberships of the other groups are compared, and
    ``state.memberships`` holds only theirs."""
    depth = desired_depths(desired)
    creates: list[Change] = []
    pending: list[tuple[DesiredObject, StateRecord | None]] = []
    lean_pending: list[DesiredObject] = []
    settled = state.settled_groups
    if settled and groups is None:
        raise ValueError("settled groups need the desired memberships per group")
    _wanted_objects(desired, state, depth, creates, pending, lean_pending)
    if settled and groups is not None:
        wanted = desired.memberships
        keys = (line.partition("\t")[0] for group, lines in groups.items() if group not in settled for line in lines)
        items: Iterable[tuple[str, LeanMembership]] = [(k, wanted[k]) for k in keys if k in wanted]
    else:
        items = desired.memberships.items()
    _wanted_memberships(desired, state, creates, pending, lean_pending, items)
    notes: list[str] = []
    if policy.supported is not None and not all((k, Action.CREATE) in policy.supported for k in ObjectKind):
        creates = [c for c in creates if _supported(c, policy, notes)]
        notes = sorted(set(notes))  # in a fixed order, whatever order the desired objects came in
    state_groups, absent, foreign, lean_absent = _absent(desired, state)
    have = state.attrs_json
    needed = [k for k in [obj.key for obj, _ in pending] + [rec.key for rec in absent] + list(state.drift)
              + [obj.key for obj in lean_pending] + lean_absent if k not in have]
    return IndexDiff(creates, pending, lean_pending, absent, lean_absent, state_groups, foreign, depth, notes, needed)


def make_plan(desired: Desired, state: StateView, policy: PlanPolicy, *, tenant: str, today: dt.date,
              diff: IndexDiff | None = None) -> Plan:
    """The plan that brings the target from ``state`` to ``desired``.

    ``diff`` is :func:`diff_index` of the same desired, state and policy (made here when not given), and
    ``state`` holds the stored attributes of its ``details_needed`` — ``state.with_details(...)`` — or of every
    object, as a test's view does. An object whose attributes it does not hold shows an empty before."""
    if diff is None:
        diff = diff_index(desired, state, policy)
    notes = list(diff.notes)
    # 3. Decide: updates and restores, then removals; the stale accounts of a takeover once all else is known.
    creates, others = _upserts(diff, state, policy, notes)
    removals, stale, closing_notes = _removals(diff, desired, state, policy, today, notes)
    others += removals
    if stale:
        others += _stale_suspensions(stale, state, policy, today, quiet=not creates and not others, notes=notes)
    if policy.supported is not None:
        unsupported: list[str] = []
        others = [c for c in others if _supported(c, policy, unsupported)]
        notes.extend(sorted(set(unsupported)))
    # 4. Annotate and order.
    changes = creates + others
    if any(c.kind is ObjectKind.MEMBERSHIP and c.action is Action.DELETE for c in others):
        annotate_moves(changes, desired, state.records)
    attach_target_refs(changes, state.records, others, diff.foreign)
    changes = in_order(changes)
    if state.drift:
        notes.extend(kept_notes(desired, state, policy, {c.key for c in others}))
    notes.extend(closing_notes)
    # 5. Guards.
    held = holds(others, state.records, policy, desired.schools, desired.school_year, state.membership_totals)
    return Plan(
        tenant=tenant,
        target=state.target,
        lineage=state.lineage,
        serial=state.serial,
        today=today.isoformat(),
        school_year=desired.school_year,
        changes=tuple(changes),
        holds=tuple(held),
        policy=policy.to_json(),
        notes=tuple(_capped(_dedupe([*desired.notes, *notes]))),
        diagnostics=_diagnostic_counts(desired),
    )


# -- per-group membership digests (issue 13) ---------------------------------------------------------


def desired_membership_groups(desired: Desired) -> dict[str, list[str]]:
    """Every wanted membership (lean or a full object) as :func:`~koppel.plan.state_view.membership_line`, per
    group: the hot loop of a one-pupil plan, so the common fingerprint costs no new string."""
    groups: dict[str, list[str]] = {}
    get = groups.get
    away = MEMBERSHIP_AWAY
    for key, m in desired.memberships.items():
        lines = get(m.group)
        if lines is None:
            groups[m.group] = lines = []
        fp = m.fingerprint
        lines.append(key if fp == away else f"{key}\t{fp}")
    for key, obj in desired.objects.items():
        if obj.kind is ObjectKind.MEMBERSHIP:
            group = membership_attrs(obj.attrs).get("group") or ""
            groups.setdefault(group, []).append(membership_line(key, obj.fingerprint))
    return groups


def settled_groups(groups: Mapping[str, list[str]], state_digests: Mapping[str, str]) -> frozenset[str]:
    """The groups whose wanted memberships are exactly the state's active ones (equal digests)."""
    return frozenset(group for group, lines in groups.items()
                     if (known := state_digests.get(group)) is not None and known == group_digest(lines))


# -- 1. wanted ---------------------------------------------------------------------------------------


def _wanted_objects(desired: Desired, state: StateView, depth: Mapping[str, int], creates: list[Change],
                    pending: list[tuple[DesiredObject, StateRecord | None]],
                    lean_pending: list[DesiredObject]) -> None:
    """The groups and persons the LAS wants (and memberships given as full objects). The hot path of a
    bestuur: the common cases — unchanged, or new — are decided inline; the rest wait for the stored
    attributes (``pending``)."""
    get = state.records.get
    append = creates.append
    drift = state.drift
    create, group_kind, person_kind = Action.CREATE, ObjectKind.GROUP, ObjectKind.PERSON
    active = ObjectStatus.ACTIVE
    lean = state.memberships  # active memberships of a lean state: key -> fingerprint
    lean_get = lean.get
    settled, membership_kind = state.settled_groups, ObjectKind.MEMBERSHIP
    for key, obj in desired.objects.items():
        if settled and obj.kind is membership_kind and membership_attrs(obj.attrs).get("group") in settled:
            continue  # its group's members equal the state's (digest): nothing to compare
        rec = get(key)
        if rec is None and lean:
            fp = lean_get(key)
            if fp is not None:
                if fp != obj.fingerprint or key in drift:
                    lean_pending.append(obj)
                continue
        if rec is None:
            kind = obj.kind
            if kind is group_kind:
                phase = PHASE_GROUP_UPSERT + min(depth.get(key, 1), MAX_DEPTH)
            elif kind is person_kind:
                phase = PHASE_GUARDIAN if person_attrs(obj.attrs).get("role") == "guardian" else PHASE_PERSON
            else:
                phase = PHASE_MEMBERSHIP
            append(Change(create, kind, key, R_NEW, phase, obj.school, obj.label, None, obj.attrs, (), (),
                          obj.fingerprint, obj.meta or None))
        elif rec.status is active and rec.fingerprint == obj.fingerprint and key not in drift:
            continue
        else:
            pending.append((obj, rec))


def _wanted_memberships(desired: Desired, state: StateView, creates: list[Change],
                        pending: list[tuple[DesiredObject, StateRecord | None]],
                        lean_pending: list[DesiredObject], items: Iterable[tuple[str, LeanMembership]]) -> None:
    """The rules' lean memberships, compared by key and fingerprint; a full change is built only for what
    changes (most of a bestuur's million memberships, most of the time, do not)."""
    get = state.records.get
    append = creates.append
    drift = state.drift
    create, membership_kind, active = Action.CREATE, ObjectKind.MEMBERSHIP, ObjectStatus.ACTIVE
    lean = state.memberships
    lean_get = lean.get
    materialise = desired.materialise
    objects_get = desired.objects.get
    for key, m in items:
        if lean:
            fp = lean_get(key)
            if fp is not None:
                if fp != m.fingerprint or key in drift:
                    lean_pending.append(materialise(key, m))
                continue
        rec = get(key)
        if rec is None:
            # Built here, without the full object: a first plan makes a million of these.
            person, group = objects_get(m.person), objects_get(m.group)
            label = f"{person.label if person else m.person} → {group.label if group else m.group}"
            after: MembershipAttrs = {"person": m.person, "group": m.group, "role": m.role, "home": m.home}
            append(Change(create, membership_kind, key, R_NEW, PHASE_MEMBERSHIP, m.school, label, None, after,
                          (), (), m.fingerprint, None))
        elif rec.status is active and rec.fingerprint == m.fingerprint and key not in drift:
            continue
        else:
            pending.append((materialise(key, m), rec))


# -- 2. absent ---------------------------------------------------------------------------------------


def _absent(desired: Desired, state: StateView) -> tuple[dict[str, StateRecord], list[StateRecord], set[str],
                                                         list[str]]:
    """Everything the state holds that the LAS no longer wants, in one pass over the state (a million
    records) that also collects its groups and the objects the target knows by another id."""
    wanted, wanted_memberships = desired.objects, desired.memberships
    deleted, group_kind = ObjectStatus.DELETED, ObjectKind.GROUP
    groups: dict[str, StateRecord] = {}
    absent: list[StateRecord] = []
    foreign: set[str] = set()
    for key, rec in state.records.items():
        if rec.kind is group_kind:
            groups[key] = rec
        if rec.target_id is not None and rec.target_id != key:
            foreign.add(key)
        if rec.status is not deleted and key not in wanted and key not in wanted_memberships:
            absent.append(rec)
    lean_absent = [key for key in state.memberships if key not in wanted_memberships and key not in wanted]
    return groups, absent, foreign, lean_absent


# -- 3. decide: creates, updates, restores -------------------------------------------------------------


def _upserts(diff: IndexDiff, state: StateView, policy: PlanPolicy,
             notes: list[str]) -> tuple[list[Change], list[Change]]:
    """The creates (those of pass 1 and the objects back after a deletion) and the updates and restores."""
    creates = list(diff.creates)
    others: list[Change] = []
    pending = diff.pending + [(obj, state.record(obj.key)) for obj in diff.lean_pending]
    # In key order: the notes decided here ("kept: …") do not depend on the order the desired objects came in
    # (a plan of some schools' recomputed objects and the others' remembered ones equals the full plan).
    pending.sort(key=_pending_key)
    for obj, rec in pending:
        change = _upsert_change(obj, rec, state, policy, diff.depth, notes)
        if change is not None:
            (creates if change.action is Action.CREATE else others).append(change)
    return creates, others


def _pending_key(item: tuple[DesiredObject, StateRecord | None]) -> str:
    return item[0].key


def _upsert_change(obj: DesiredObject, rec: StateRecord | None, state: StateView, policy: PlanPolicy,
                   depth: Mapping[str, int], notes: list[str]) -> Change | None:
    phase = upsert_phase(obj, depth)
    sent = state.unrecorded.get(obj.key) if rec is not None else None
    if rec is not None and sent is not None:
        resent = _send_again(obj, rec, sent, state, policy, phase)
        if resent is not None:
            return resent
    if rec is None or rec.status is ObjectStatus.DELETED:
        reason = R_NEW
        if rec is not None:
            reason = f"back in the LAS (deleted after absence since {rec.absent_since or 'earlier'})"
        return Change(Action.CREATE, obj.kind, obj.key, reason, phase, obj.school, obj.label, None, obj.attrs,
                      fingerprint=obj.fingerprint, meta=obj.meta or None)
    if rec.status is not ObjectStatus.ACTIVE:
        before = state.attrs(obj.key)
        since = f" (absent since {rec.absent_since})" if rec.absent_since else ""
        what = "suspended" if rec.status is ObjectStatus.SUSPENDED else "archived"
        protected = policy.protected.get(obj.kind, frozenset())
        # The account comes back as it was: fields koppel does not own are not sent (an upsert keeps them).
        after = {k: v for k, v in obj.attrs.items() if k not in protected} if protected and before else obj.attrs
        return Change(Action.RESTORE, obj.kind, obj.key, f"back in the LAS{since}; was {what}", phase, obj.school,
                      obj.label, before, after, fingerprint=obj.fingerprint, meta=obj.meta or None,
                      target_id=rec.target_id)
    return _update_change(obj, rec, state, policy, phase, notes)


def _update_change(obj: DesiredObject, rec: StateRecord, state: StateView, policy: PlanPolicy, phase: int,
                   notes: list[str]) -> Change | None:
    """An active object whose fingerprint differs, or whose fields were changed by hand in the platform."""
    drifted = state.drift.get(obj.key, {})
    if rec.fingerprint == obj.fingerprint and not drifted:
        return None
    before = state.attrs(obj.key) or {}
    protected = policy.protected.get(obj.kind, frozenset())
    changed = tuple(sorted(f for f in set(obj.attrs) | set(before) if obj.attrs.get(f) != before.get(f)))
    owned_changes = tuple(f for f in changed if f not in protected)
    kept = tuple(f for f in changed if f in protected and f in before)
    # Changed by hand in the platform (seen by reconciliation): what koppel owns is set back to the LAS's
    # value (the LAS is leading); what it does not own is kept and said so.
    by_hand = tuple(sorted(f for f in drifted if f not in protected and f in obj.attrs and f not in owned_changes))
    kept_by_hand = tuple(sorted(f for f in drifted if f in protected))
    if not owned_changes and not by_hand:
        if kept:
            notes.append(f"kept: {obj.label or obj.key} — {', '.join(kept)} changed in the LAS, not sent "
                         "(not owned by koppel)")
        return None
    after = {k: v for k, v in obj.attrs.items() if k not in protected}
    parts = []
    if owned_changes:
        parts.append("changed in the LAS: " + ", ".join(
            _describe(f, before.get(f), obj.attrs.get(f)) for f in owned_changes))
    if by_hand:
        parts.append("changed by hand in the platform, set back to the LAS's value (the LAS is leading): " + ", ".join(
            _describe(f, drifted[f], obj.attrs.get(f)) for f in by_hand))
    kept_all = tuple(dict.fromkeys(kept + kept_by_hand))
    if kept:
        parts.append("kept (not owned by koppel): " + ", ".join(kept))
    if kept_by_hand:
        parts.append("kept: changed in the platform (not owned by koppel): " + ", ".join(kept_by_hand))
    fields = tuple(sorted(owned_changes + by_hand))
    shown_before = {k: before.get(k) for k in changed} | {f: drifted[f] for f in by_hand}
    return Change(Action.UPDATE, obj.kind, obj.key, "; ".join(parts), phase, obj.school, obj.label,
                  shown_before, after, fields=fields, kept=kept_all,
                  fingerprint=obj.fingerprint, meta=obj.meta or None, target_id=rec.target_id)


_SENT = {"create": "a create", "update": "an update", "restore": "a restore", "suspend": "a suspension",
         "archive": "an archive", "delete": "a deletion"}


def _send_again(obj: DesiredObject, rec: StateRecord, sent: str, state: StateView, policy: PlanPolicy,
                phase: int) -> Change | None:
    """An object whose last change was sent without its outcome being recorded: the platform may hold it or
    not, so it is sent again as the LAS has it now — even when that equals what the state recorded (the LAS
    may have gone back to it while the platform kept what was sent)."""
    why = f"an earlier run sent {_SENT.get(sent, sent)} and could not record the platform's answer"
    meta = obj.meta or None
    if sent in ("create", "delete"):
        return Change(Action.CREATE, obj.kind, obj.key, f"{why}; created again as the LAS has it", phase, obj.school,
                      obj.label, None, obj.attrs, fingerprint=obj.fingerprint, meta=meta, target_id=rec.target_id)
    protected = policy.protected.get(obj.kind, frozenset())
    before = state.attrs(obj.key) or {}
    after = {k: v for k, v in obj.attrs.items() if k not in protected}
    if sent in ("suspend", "archive", "restore"):
        restore_after = after if protected and before else obj.attrs
        return Change(Action.RESTORE, obj.kind, obj.key, f"{why}; restored, as it is in the LAS", phase, obj.school,
                      obj.label, before, restore_after, fingerprint=obj.fingerprint, meta=meta,
                      target_id=rec.target_id)
    if rec.status is not ObjectStatus.ACTIVE:
        return None
    changed = tuple(sorted(f for f in after if after.get(f) != before.get(f)))
    fields = changed or tuple(sorted(after))
    return Change(Action.UPDATE, obj.kind, obj.key, f"{why}; sent again as the LAS has it", phase, obj.school,
                  obj.label, {f: before.get(f) for f in fields}, after, fields=fields,
                  fingerprint=obj.fingerprint, meta=meta, target_id=rec.target_id)


def _describe(field: str, old: Any, new: Any) -> str:
    if field in ("parent",):
        return f"{field} {old} → {new}"
    if isinstance(old, (list, tuple)) or isinstance(new, (list, tuple)):
        return field
    return f"{field} {_short(old)} → {_short(new)}"


def _short(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "…")


# -- 3. decide: suspensions, archives, deletions -----------------------------------------------------


def _removals(diff: IndexDiff, desired: Desired, state: StateView, policy: PlanPolicy, today: dt.date,
              notes: list[str]) -> tuple[list[Change], list[StateRecord], list[str]]:
    """What leaves: the removals, the stale accounts a takeover found (decided once everything else is known)
    and the notes that close the plan's list. Groups of a later school year this run did not read
    (provisioned earlier; next year's data unavailable now) are left alone, and so are their memberships."""
    scope = desired.schools
    absent = diff.absent + [rec for key in diff.lean_absent if (rec := state.record(key)) is not None]
    later = _later_groups(desired, diff.groups, state)
    if later:
        notes.append(f"{len(later)} group(s) of a later school year were not read this run and are left alone")
    removed_groups = _removal_groups(desired, diff.groups) - later
    state_depth = state_depths(diff.groups)
    changes: list[Change] = []
    stale: list[StateRecord] = []
    pending_deletes: list[str] = []
    out_of_scope = 0
    for rec in absent:
        key = rec.key
        if rec.fingerprint == TAKEOVER_FOREIGN and rec.status is ObjectStatus.ACTIVE:
            continue  # an account koppel found and leaves alone: recorded only to keep its user name taken
        if scope and rec.school is not None and rec.school not in scope:
            out_of_scope += 1
            continue
        if rec.status is ObjectStatus.ACTIVE and stale_serial(rec.fingerprint) is not None:
            stale.append(rec)
            continue
        if later and (key in later or (rec.kind is ObjectKind.MEMBERSHIP
                                       and (state.attrs(key) or {}).get("group") in later)):
            continue
        change = _removal_change(rec, state, policy, today, removed_groups, state_depth, desired.school_year)
        if change is None:
            if rec.kind is ObjectKind.PERSON and rec.status is ObjectStatus.SUSPENDED and rec.delete_after:
                pending_deletes.append(rec.delete_after)
            continue
        changes.append(change)
    closing = []
    if pending_deletes:
        closing.append(f"{len(pending_deletes)} suspended person(s) wait for their grace period; "
                       f"the first deletion is due on {min(pending_deletes)}")
    if out_of_scope:
        closing.append(f"{out_of_scope} object(s) of schools outside this run's scope are left alone")
    return changes, stale, closing


def _later_groups(desired: Desired, groups: Mapping[str, StateRecord], state: StateView) -> set[str]:
    out = set()
    for key, rec in groups.items():
        if key in desired.objects or rec.status is ObjectStatus.DELETED:
            continue
        year = (state.attrs(key) or {}).get("school_year")
        if year and year > desired.school_year and year not in desired.years:
            out.add(key)
    return out


def _removal_groups(desired: Desired, groups: Mapping[str, StateRecord]) -> set[str]:
    """Groups that are archived already or leave the LAS now (their memberships follow policy)."""
    return {
        key for key, rec in groups.items()
        if key not in desired.objects and rec.status in (ObjectStatus.ACTIVE, ObjectStatus.ARCHIVED)
    }


def _removal_change(rec: StateRecord, state: StateView, policy: PlanPolicy, today: dt.date, removed_groups: set[str],
                    state_depth: Mapping[str, int], school_year: str) -> Change | None:
    if rec.kind is ObjectKind.MEMBERSHIP:
        return _membership_removal(rec, state, policy, removed_groups)
    if rec.kind is ObjectKind.PERSON:
        return _person_removal(rec, state, policy, today)
    return _group_removal(rec, state, policy, today, state_depth, school_year)


def _membership_removal(rec: StateRecord, state: StateView, policy: PlanPolicy,
                        removed_groups: set[str]) -> Change | None:
    if rec.status is not ObjectStatus.ACTIVE:
        return None
    before = membership_attrs(state.attrs(rec.key) or {})
    if before.get("group") in removed_groups and not _remove_with_archive(policy, before.get("role")):
        return None
    return Change(Action.DELETE, rec.kind, rec.key, R_GONE, PHASE_MEMBERSHIP_REMOVE, rec.school, state.label(rec.key),
                  before, None, target_id=rec.target_id)


def _person_removal(rec: StateRecord, state: StateView, policy: PlanPolicy, today: dt.date) -> Change | None:
    """Suspended when it leaves the LAS; deleted when the grace period for its role has passed."""
    before = person_attrs(state.attrs(rec.key) or {})
    if rec.status is ObjectStatus.ACTIVE:
        grace = policy.grace(before.get("role"))
        delete_after = (today + dt.timedelta(days=grace)).isoformat()
        dates = {"absent_since": today.isoformat(), "delete_after": delete_after}
        reason = f"absent from the LAS since {today.isoformat()}; delete after {delete_after} ({grace} days' grace)"
        return Change(Action.SUSPEND, rec.kind, rec.key, reason, PHASE_PERSON_REMOVE, rec.school, rec.label or "",
                      before, None, dates=dates, target_id=rec.target_id)
    if rec.status is ObjectStatus.SUSPENDED and rec.delete_after and today.isoformat() >= rec.delete_after:
        dates = {"absent_since": rec.absent_since or "", "delete_after": rec.delete_after}
        reason = f"absent from the LAS since {rec.absent_since}; grace period ended on {rec.delete_after}"
        return Change(Action.DELETE, rec.kind, rec.key, reason, PHASE_PERSON_REMOVE, rec.school, rec.label or "",
                      before, None, dates=dates, target_id=rec.target_id)
    return None


def _group_removal(rec: StateRecord, state: StateView, policy: PlanPolicy, today: dt.date,
                   state_depth: Mapping[str, int], school_year: str) -> Change | None:
    """Archived (or deleted, by policy); last year's groups leave as the jaarovergang."""
    if rec.status is not ObjectStatus.ACTIVE:
        return None
    before = group_attrs(state.attrs(rec.key) or {})
    phase = PHASE_GROUP_REMOVE + (MAX_DEPTH - min(state_depth.get(rec.key, 1), MAX_DEPTH))
    group_year = before.get("school_year")
    if group_year and group_year < school_year:
        reason = f"school year {group_year} ended (jaarovergang)"
    else:
        reason = R_GONE
    action = Action.ARCHIVE if policy.absent_groups is AbsentGroupAction.ARCHIVE else Action.DELETE
    dates = {"absent_since": today.isoformat()}
    return Change(action, rec.kind, rec.key, reason, phase, rec.school, rec.label or "", before, None, dates=dates,
                  target_id=rec.target_id)


def _stale_suspensions(stale: list[StateRecord], state: StateView, policy: PlanPolicy, today: dt.date, *,
                       quiet: bool, notes: list[str]) -> list[Change]:
    """Accounts a takeover found without a LAS person: their suspension is proposed — always held, see
    ``plan.guards`` — from the first plan after the takeover's first sync on (or in that first plan when
    it has nothing else to do), so that confirming them never holds up the takeover's own first sync."""
    changes, waiting = [], 0
    for rec in stale:
        if not quiet and state.serial <= (stale_serial(rec.fingerprint) or 0):
            waiting += 1
            continue
        change = _removal_change(rec, state, policy, today, set(), {}, "")
        if change is not None:
            changes.append(replace(change, reason=f"{R_STALE}; {change.reason}"))
    if waiting:
        notes.append(f"{waiting} account(s) found when koppel took over the platform match no LAS person: their "
                     "suspension is proposed in the next plan, after this one, and waits for approval")
    return changes


def _remove_with_archive(policy: PlanPolicy, role: str | None) -> bool:
    rule = policy.archived_memberships
    if rule is ArchivedMemberships.REMOVE:
        return True
    if rule is ArchivedMemberships.KEEP_TEACHERS:
        return role not in ("teacher", "mentor")
    return False


def _supported(change: Change, policy: PlanPolicy, notes: list[str]) -> bool:
    if policy.supported is None or (change.kind, change.action) in policy.supported:
        return True
    notes.append(f"the target cannot {change.action.value} a {change.kind.value}; such changes are left out")
    return False


# -- the plan's notes ------------------------------------------------------------------------------


def _diagnostic_counts(desired: Desired) -> dict[str, int]:
    counts = Counter(getattr(d, "severity", "warning") for d in desired.diagnostics)
    return {str(getattr(k, "value", k)): v for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))}


def _capped(notes: list[str], limit: int = 20) -> list[str]:
    """Per-object "kept:" notes are useful by the dozen, not by the thousand."""
    kept = [n for n in notes if n.startswith("kept: ")]
    if len(kept) <= limit:
        return notes
    shown = set(kept[:limit])
    out = [n for n in notes if not n.startswith("kept: ") or n in shown]
    out.append(f"… and {len(kept) - limit} more objects with fields koppel does not own left as they are")
    return out


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
