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

Then the guards count suspensions and deletions per kind and per school and hold the plan when a
limit is passed.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import replace
from operator import attrgetter
from typing import Any

from koppel.model.change import Action, Change
from koppel.model.desired import Desired, DesiredObject, ObjectKind
from koppel.plan.model import Hold, Plan
from koppel.plan.policy import AbsentGroupAction, ArchivedMemberships, PlanPolicy
from koppel.plan.state_view import TAKEOVER_FOREIGN, ObjectStatus, StateRecord, StateView, stale_serial

__all__ = ["make_plan", "PHASES"]

# Phases: parents before children on create; persons before memberships; removals in reverse.
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

R_NEW = "new in the LAS"
R_GONE = "no longer in the LAS"


def make_plan(desired: Desired, state: StateView, policy: PlanPolicy, *, tenant: str, today: dt.date) -> Plan:
    records = state.records
    scope = desired.schools
    creates: list[Change] = []  # the bulk of a first plan: kept apart so the passes below skip them
    others: list[Change] = []  # updates, restores and removals: what guards and explanations look at
    notes: list[str] = []
    depth = _depths(desired)

    # 1. Everything the LAS wants. The loop is the hot path of a bestuur (a million objects): the
    #    common cases — unchanged, or new — are decided inline; the rest in _upsert_change.
    get = records.get
    append = creates.append
    drift = state.drift
    pending: list[tuple[DesiredObject, StateRecord]] = []
    create, group_kind, person_kind = Action.CREATE, ObjectKind.GROUP, ObjectKind.PERSON
    active = ObjectStatus.ACTIVE
    can_create = {k: policy.supported is None or (k, create) in policy.supported for k in ObjectKind}
    lean = state.memberships  # active memberships of a lean state: key -> fingerprint
    lean_get = lean.get
    lean_pending: list[DesiredObject] = []
    for key, obj in desired.objects.items():
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
                phase = PHASE_GUARDIAN if obj.attrs.get("role") == "guardian" else PHASE_PERSON
            else:
                phase = PHASE_MEMBERSHIP
            append(Change(create, kind, key, R_NEW, phase, obj.school, obj.label, None, obj.attrs, (), (),
                          obj.fingerprint, obj.meta or None))
        elif rec.status is active and rec.fingerprint == obj.fingerprint and key not in drift:
            continue
        else:
            pending.append((obj, rec))  # needs the stored attributes: decided below
    # 1b. The rules' lean memberships: compared by key and fingerprint; a full change is built only for
    #     what changes (most of a bestuur's million memberships, most of the time, do not).
    materialise = desired.materialise
    membership_kind = ObjectKind.MEMBERSHIP
    objects_get = desired.objects.get
    for key, m in desired.memberships.items():
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
            append(Change(create, membership_kind, key, R_NEW, PHASE_MEMBERSHIP, m.school, label, None,
                          {"person": m.person, "group": m.group, "role": m.role, "home": m.home}, (), (),
                          m.fingerprint, None))
        elif rec.status is active and rec.fingerprint == m.fingerprint and key not in drift:
            continue
        else:
            pending.append((materialise(key, m), rec))
    if not all(can_create.values()):
        creates = [c for c in creates if _supported(c, policy, notes)]

    # 2. Everything the state holds that the LAS no longer wants — except groups of a later school year
    #    this run did not read (provisioned earlier; next year's data unavailable now): left alone.
    #    One pass over the state (a million records) collects what the rest needs.
    wanted, wanted_memberships = desired.objects, desired.memberships
    deleted, group_kind_ = ObjectStatus.DELETED, ObjectKind.GROUP
    groups: dict[str, StateRecord] = {}
    absent: list[StateRecord] = []
    foreign: set[str] = set()
    for key, rec in records.items():
        if rec.kind is group_kind_:
            groups[key] = rec
        if rec.target_id is not None and rec.target_id != key:
            foreign.add(key)
        if rec.status is not deleted and key not in wanted and key not in wanted_memberships:
            absent.append(rec)
    lean_absent = [key for key in lean if key not in wanted_memberships and key not in wanted]
    # The stored attributes (and labels) of exactly the objects the plan shows a before for.
    state = state.with_details([obj.key for obj, _ in pending] + [rec.key for rec in absent] + list(drift)
                               + [obj.key for obj in lean_pending] + lean_absent)
    pending += [(obj, state.record(obj.key)) for obj in lean_pending]
    absent += [state.record(key) for key in lean_absent]
    for obj, rec in pending:
        change = _upsert_change(obj, rec, state, policy, depth, notes)
        if change is not None:
            (creates if change.action is create else others).append(change)
    later = _later_groups(desired, groups, state)
    if later:
        notes.append(f"{len(later)} group(s) of a later school year were not read this run and are left alone")
    removed_groups = _removal_groups(desired, groups) - later
    pending_deletes: list[str] = []
    out_of_scope = 0
    state_depth = _state_depths(groups)
    stale: list[StateRecord] = []
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
        others.append(change)

    if stale:
        others += _stale_suspensions(stale, state, policy, today, quiet=not creates and not others, notes=notes)
    if policy.supported is not None:
        others = [c for c in others if _supported(c, policy, notes)]
    changes = creates + others
    if any(c.kind is ObjectKind.MEMBERSHIP and c.action is Action.DELETE for c in others):
        _annotate_moves(changes, desired, records)
    _attach_target_refs(changes, records, others, foreign)
    changes = _in_order(changes)
    if state.drift:
        notes.extend(_kept_notes(desired, state, policy, {c.key for c in others}))

    if pending_deletes:
        notes.append(
            f"{len(pending_deletes)} suspended person(s) wait for their grace period; "
            f"the first deletion is due on {min(pending_deletes)}"
        )
    if out_of_scope:
        notes.append(f"{out_of_scope} object(s) of schools outside this run's scope are left alone")
    holds = _guards(others, records, policy, scope, desired.school_year, state.membership_totals) + \
        _jaarovergang_hold(others, policy, desired.school_year) + _takeover_hold(others)
    return Plan(
        tenant=tenant,
        target=state.target,
        lineage=state.lineage,
        serial=state.serial,
        today=today.isoformat(),
        school_year=desired.school_year,
        changes=tuple(changes),
        holds=tuple(holds),
        policy=policy.to_json(),
        notes=tuple(_capped(_dedupe([*desired.notes, *notes]))),
        diagnostics=_diagnostic_counts(desired),
    )


# -- creates, updates, restores ---------------------------------------------------------------


def _upsert_change(obj: DesiredObject, rec: StateRecord | None, state: StateView, policy: PlanPolicy,
                   depth: Mapping[str, int], notes: list[str]) -> Change | None:
    phase = _upsert_phase(obj, depth)
    sent = state.unrecorded.get(obj.key) if rec is not None else None
    if sent is not None:
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


def _kept_notes(desired: Desired, state: StateView, policy: PlanPolicy, planned: set[str]) -> list[str]:
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


def _upsert_phase(obj: DesiredObject, depth: Mapping[str, int]) -> int:
    if obj.kind is ObjectKind.GROUP:
        return PHASE_GROUP_UPSERT + min(depth.get(obj.key, 1), MAX_DEPTH)
    if obj.kind is ObjectKind.PERSON:
        return PHASE_GUARDIAN if obj.attrs.get("role") == "guardian" else PHASE_PERSON
    return PHASE_MEMBERSHIP


def _depths(desired: Desired) -> dict[str, int]:
    parents = {o.key: o.attrs.get("parent") for o in desired.objects.values() if o.kind is ObjectKind.GROUP}
    return _depth_table(parents)


def _state_depths(records: Mapping[str, StateRecord]) -> dict[str, int]:
    parents = {k: r.parent for k, r in records.items() if r.kind is ObjectKind.GROUP}
    return _depth_table(parents)


def _depth_table(parents: Mapping[str, str | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in parents:
        chain = []
        node: str | None = key
        while node is not None and node not in out and node in parents and len(chain) <= MAX_DEPTH:
            chain.append(node)
            node = parents[node]
        base = out.get(node, 0) if node is not None else 0
        for i, k in enumerate(reversed(chain), start=1):
            out[k] = base + i
    return out


# -- suspensions, archives, deletions ------------------------------------------------------------


def _later_groups(desired: Desired, records: Mapping[str, StateRecord], state: StateView) -> set[str]:
    out = set()
    for key, rec in records.items():
        if rec.kind is not ObjectKind.GROUP or key in desired.objects or rec.status is ObjectStatus.DELETED:
            continue
        year = (state.attrs(key) or {}).get("school_year")
        if year and year > desired.school_year and year not in desired.years:
            out.add(key)
    return out


def _removal_groups(desired: Desired, records: Mapping[str, StateRecord]) -> set[str]:
    """Groups that are archived already or leave the LAS now (their memberships follow policy)."""
    return {
        key for key, rec in records.items()
        if rec.kind is ObjectKind.GROUP and key not in desired.objects
        and rec.status in (ObjectStatus.ACTIVE, ObjectStatus.ARCHIVED)
    }


def _removal_change(rec: StateRecord, state: StateView, policy: PlanPolicy, today: dt.date, removed_groups: set[str],
                    state_depth: Mapping[str, int], school_year: str) -> Change | None:
    kind = rec.kind
    if kind is ObjectKind.MEMBERSHIP:
        if rec.status is not ObjectStatus.ACTIVE:
            return None
        before = state.attrs(rec.key) or {}
        if before.get("group") in removed_groups and not _remove_with_archive(policy, before.get("role")):
            return None
        return Change(Action.DELETE, kind, rec.key, R_GONE, PHASE_MEMBERSHIP_REMOVE, rec.school, state.label(rec.key),
                      before, None, target_id=rec.target_id)
    if kind is ObjectKind.PERSON:
        before = state.attrs(rec.key) or {}
        if rec.status is ObjectStatus.ACTIVE:
            grace = policy.grace(before.get("role"))
            delete_after = (today + dt.timedelta(days=grace)).isoformat()
            dates = {"absent_since": today.isoformat(), "delete_after": delete_after}
            reason = f"absent from the LAS since {today.isoformat()}; delete after {delete_after} ({grace} days' grace)"
            return Change(Action.SUSPEND, kind, rec.key, reason, PHASE_PERSON_REMOVE, rec.school, rec.label or "",
                          before, None, dates=dates, target_id=rec.target_id)
        if rec.status is ObjectStatus.SUSPENDED and rec.delete_after and today.isoformat() >= rec.delete_after:
            dates = {"absent_since": rec.absent_since or "", "delete_after": rec.delete_after}
            reason = f"absent from the LAS since {rec.absent_since}; grace period ended on {rec.delete_after}"
            return Change(Action.DELETE, kind, rec.key, reason, PHASE_PERSON_REMOVE, rec.school, rec.label or "",
                          before, None, dates=dates, target_id=rec.target_id)
        return None
    # groups
    if rec.status is not ObjectStatus.ACTIVE:
        return None
    before = state.attrs(rec.key) or {}
    phase = PHASE_GROUP_REMOVE + (MAX_DEPTH - min(state_depth.get(rec.key, 1), MAX_DEPTH))
    group_year = before.get("school_year")
    if group_year and group_year < school_year:
        reason = f"school year {group_year} ended (jaarovergang)"
    else:
        reason = R_GONE
    action = Action.ARCHIVE if policy.absent_groups is AbsentGroupAction.ARCHIVE else Action.DELETE
    dates = {"absent_since": today.isoformat()}
    return Change(action, kind, rec.key, reason, phase, rec.school, rec.label or "", before, None, dates=dates,
                  target_id=rec.target_id)


R_STALE = "found on the platform when koppel took it over, with no LAS person"


def _stale_suspensions(stale: list[StateRecord], state: StateView, policy: PlanPolicy, today: dt.date, *,
                       quiet: bool, notes: list[str]) -> list[Change]:
    """Accounts a takeover found without a LAS person: their suspension is proposed — always held, see
    ``_takeover_hold`` — from the first plan after the takeover's first sync on (or in that first plan when
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


def _takeover_hold(changes: list[Change]) -> list[Hold]:
    """Accounts found at a takeover without a LAS person leave only after someone confirms it."""
    n = sum(1 for c in changes if c.action is Action.SUSPEND and c.reason.startswith(R_STALE))
    if not n:
        return []
    return [Hold(guard="takeover-stale", kind="person", school=None, count=n, total=n, limit="approval",
                 message=f"{n} account(s) found when koppel took over the platform match no LAS person (the previous "
                         "koppeling's leavers?): check the list, then approve their suspension; the grace period "
                         "runs from then")]


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


# -- explanations ------------------------------------------------------------------------------


def _in_order(changes: list[Change]) -> list[Change]:
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


def _annotate_moves(changes: list[Change], desired: Desired, records: Mapping[str, StateRecord]) -> None:
    """A pupil who leaves one klas and joins another in the same plan has *moved*: say so on both."""
    added: dict[str, list[int]] = defaultdict(list)
    removed: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(changes):
        if c.kind is not ObjectKind.MEMBERSHIP:
            continue
        attrs = c.after if c.action is Action.CREATE else c.before
        if not attrs or attrs.get("role") != "student":
            continue
        group = attrs.get("group")
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
        old = records[changes[r].before["group"]].label or changes[r].before["group"]
        new = desired.objects[changes[a].after["group"]].label or changes[a].after["group"]
        changes[a] = _with_reason(changes[a], f"moved from {old} to {new}")
        changes[r] = _with_reason(changes[r], f"moved from {old} to {new}")
        moved[person] = f"from {old} to {new}"
    if not moved:
        return
    # The pupil's other memberships that change in the same plan (whole-klas lesgroepen) go with the move.
    for i, c in enumerate(changes):
        if c.kind is ObjectKind.MEMBERSHIP and c.action in (Action.CREATE, Action.DELETE) \
                and c.reason in (R_NEW, R_GONE):
            attrs = c.after if c.action is Action.CREATE else c.before
            move = moved.get(attrs.get("person")) if attrs else None
            if move:
                changes[i] = _with_reason(c, f"{c.reason} (with the move {move})")


def _attach_target_refs(changes: list[Change], records: Mapping[str, StateRecord], others: list[Change],
                        foreign: set[str]) -> None:
    """Tell the target what it needs beyond the change itself: the recorded target id of every object a
    change refers to, where that id is not the key (an adopted manual account), and for a group that is
    archived, the school group it belongs to (where the target keeps its archive)."""
    removals = any(c.kind is ObjectKind.GROUP and c.action in (Action.ARCHIVE, Action.DELETE) for c in others)
    if not foreign and not removals:
        return
    for i, c in enumerate(changes):
        meta = None
        attrs = c.after if c.after is not None else c.before
        if attrs:
            refs = {}
            for name in ("person", "group", "parent"):
                ref = attrs.get(name)
                rec = records.get(ref) if isinstance(ref, str) else None
                if rec is not None and rec.target_id and rec.target_id != ref:
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


def _with_reason(change: Change, reason: str) -> Change:
    return replace(change, reason=reason)


# -- guards --------------------------------------------------------------------------------------


def _guards(changes: list[Change], records: Mapping[str, StateRecord], policy: PlanPolicy,
            scope: frozenset[str], school_year: str, membership_totals: Mapping[str | None, int]) -> list[Hold]:
    """Hold the plan when too much would go at once: suspensions, deletions and archives (the
    jaarovergang has its own hold), and updates that empty a field koppel owns (a column that vanished
    from the export must not wipe every pupil's e-mail)."""
    guard = policy.guards
    removing: Counter = Counter()
    clearing: Counter = Counter()
    accents: Counter = Counter()
    for c in changes:
        if c.kind is ObjectKind.PERSON and c.action is Action.UPDATE and _only_accents(c):
            accents[(c.kind, None)] += 1
            accents[(c.kind, c.school)] += 1
        if c.kind not in guard.kinds:
            continue
        if c.action in (Action.SUSPEND, Action.DELETE, Action.ARCHIVE):
            if c.kind is ObjectKind.PERSON and c.action is Action.DELETE:
                continue  # a deletion after the grace period was weighed when the person was suspended
            if c.action is Action.ARCHIVE and (c.before or {}).get("school_year", school_year) < school_year:
                continue  # last year's groups: the jaarovergang hold
            removing[(c.kind, None)] += 1
            removing[(c.kind, c.school)] += 1
        elif c.action is Action.UPDATE and c.before and c.after and any(
                c.before.get(f) not in (None, "", ()) and c.after.get(f) in (None, "", ()) for f in c.fields):
            clearing[(c.kind, None)] += 1
            clearing[(c.kind, c.school)] += 1
    if not removing and not clearing and not accents:
        return []
    totals: Counter = Counter()
    for rec in records.values():
        if rec.kind in guard.kinds and rec.status in (ObjectStatus.ACTIVE, ObjectStatus.SUSPENDED) \
                and rec.fingerprint != TAKEOVER_FOREIGN:
            if scope and rec.school is not None and rec.school not in scope:
                continue
            totals[(rec.kind, None)] += 1
            totals[(rec.kind, rec.school)] += 1
    for school, n in membership_totals.items():  # a lean state counts its memberships per school
        if scope and school is not None and school not in scope:
            continue
        totals[(ObjectKind.MEMBERSHIP, None)] += n
        totals[(ObjectKind.MEMBERSHIP, school)] += n
    return (_holds("removals", "would be suspended, archived or deleted", removing, totals, guard)
            + _holds("cleared-fields", "would have a field emptied", clearing, totals, guard)
            + _holds("accent-renames", "would be renamed only in their accents (an export read in the wrong "
                     "encoding? check the source's encoding setting)", accents, totals, guard, any_share=True))


def _fold(value: object) -> str:
    """A name without its accents and case, after undoing UTF-8 read as Windows-1252 ("NoÃ«lle")."""
    text = str(value or "")
    try:
        text = text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _only_accents(change: Change) -> bool:
    """An update whose every changed field differs only in accents or in how its text was decoded."""
    before, after = change.before or {}, change.after or {}
    fields = [f for f in change.fields if isinstance(before.get(f), str) and isinstance(after.get(f), str)]
    return bool(fields) and len(fields) == len(change.fields) and all(
        before[f] != after[f] and _fold(before[f]) == _fold(after[f]) for f in fields)


def _holds(name: str, what: str, counts: Counter, totals: Counter, guard, *, any_share: bool = False) -> list[Hold]:
    """Holds per kind and school over the guard's limits; ``any_share``: ``min_count`` alone is enough
    (accent-only renames are never a normal day's work, whatever share of the school they are)."""
    holds = []
    for (kind, school), count in sorted(counts.items(), key=lambda kv: (kv[0][0].value, kv[0][1] or "")):
        if school is None and _single_school(counts, kind):
            continue  # the per-school hold says it already
        total = totals.get((kind, school), 0)
        pct = 100.0 * count / total if total else 100.0
        if not (count > guard.max_count or (count >= guard.min_count and (any_share or pct > guard.max_percent))):
            continue
        where = f"school {school}" if school else "the whole tenant"
        limit = f"{guard.min_count} objects" if any_share else f"{guard.max_percent:g}% or {guard.max_count} objects"
        holds.append(Hold(guard=name, kind=kind.value, school=school, count=count, total=total, limit=limit,
                          message=f"{count} of {total} {kind.value}s ({pct:.1f}%) in {where} {what}; "
                                  f"the limit is {limit}"))
    return holds


def _jaarovergang_hold(changes: list[Change], policy: PlanPolicy, school_year: str) -> list[Hold]:
    """Last year's groups leaving is the jaarovergang: one step that a person approves."""
    if not policy.guards.hold_jaarovergang:
        return []
    ended = Counter()
    for c in changes:
        if c.kind is ObjectKind.GROUP and c.action in (Action.ARCHIVE, Action.DELETE) and c.before:
            year = c.before.get("school_year")
            if year and year < school_year:
                ended[year] += 1
    return [
        Hold(guard="jaarovergang", kind="group", school=None, count=n, total=n, limit="approval",
             message=f"jaarovergang {year} → {school_year}: {n} group(s) of {year} are "
                     f"{'archived' if policy.absent_groups is AbsentGroupAction.ARCHIVE else 'deleted'}; "
                     "the transition applies after approval")
        for year, n in sorted(ended.items())
    ]


def _single_school(removing: Counter, kind: ObjectKind) -> bool:
    schools = [s for (k, s) in removing if k is kind and s is not None]
    return len(schools) == 1


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
