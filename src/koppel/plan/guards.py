"""The guards: a plan that would change too much at once is *held* — it says why, and applies only with
approval. Too many removals, fields koppel owns emptied, names changed only in their accents, the
jaarovergang, and the accounts a takeover found without a LAS person."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping
from typing import TypeAlias

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.model.keys import TAKEOVER_FOREIGN
from koppel.plan.model import Hold
from koppel.plan.policy import AbsentGroupAction, GuardPolicy, PlanPolicy
from koppel.plan.reasons import R_STALE
from koppel.plan.state_view import ObjectStatus, StateRecord

__all__ = ["holds"]

# (kind, school) -> count; school None: the whole tenant.
_Counts: TypeAlias = Counter[tuple[ObjectKind, str | None]]
_EMPTY = (None, "", ())


def holds(changes: list[Change], records: Mapping[str, StateRecord], policy: PlanPolicy, scope: frozenset[str],
          school_year: str, membership_totals: Mapping[str | None, int]) -> list[Hold]:
    """Every hold of a plan whose updates, restores and removals are ``changes`` (creates are never held)."""
    return (_guards(changes, records, policy, scope, school_year, membership_totals)
            + _jaarovergang_hold(changes, policy, school_year) + _takeover_hold(changes))


def _guards(changes: list[Change], records: Mapping[str, StateRecord], policy: PlanPolicy,
            scope: frozenset[str], school_year: str, membership_totals: Mapping[str | None, int]) -> list[Hold]:
    """Hold the plan when too much would go at once: suspensions, deletions and archives (the
    jaarovergang has its own hold), and updates that empty a field koppel owns (a column that vanished
    from the export must not wipe every pupil's e-mail)."""
    guard = policy.guards
    removing, clearing, accents = _counts(changes, guard, school_year)
    if not removing and not clearing and not accents:
        return []
    totals = _totals(records, guard, scope, membership_totals)
    return (_holds("removals", "would be suspended, archived or deleted", removing, totals, guard)
            + _holds("cleared-fields", "would have a field emptied", clearing, totals, guard)
            + _holds("accent-renames", "would be renamed only in their accents (an export read in the wrong "
                     "encoding? check the source's encoding setting)", accents, totals, guard, any_share=True))


def _counts(changes: list[Change], guard: GuardPolicy, school_year: str) -> tuple[_Counts, _Counts, _Counts]:
    """Removals, updates that empty a field, and renames only in accents, per kind and school."""
    removing: _Counts = Counter()
    clearing: _Counts = Counter()
    accents: _Counts = Counter()
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
                c.before.get(f) not in _EMPTY and c.after.get(f) in _EMPTY for f in c.fields):
            clearing[(c.kind, None)] += 1
            clearing[(c.kind, c.school)] += 1
    return removing, clearing, accents


def _totals(records: Mapping[str, StateRecord], guard: GuardPolicy, scope: frozenset[str],
            membership_totals: Mapping[str | None, int]) -> _Counts:
    """What koppel manages, per kind and school: what a share of removals is counted against."""
    totals: _Counts = Counter()
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
    return totals


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


def _holds(name: str, what: str, counts: _Counts, totals: _Counts, guard: GuardPolicy, *,
           any_share: bool = False) -> list[Hold]:
    """Holds per kind and school over the guard's limits; ``any_share``: ``min_count`` alone is enough
    (accent-only renames are never a normal day's work, whatever share of the school they are)."""
    out = []
    for (kind, school), count in sorted(counts.items(), key=lambda kv: (kv[0][0].value, kv[0][1] or "")):
        if school is None and _single_school(counts, kind):
            continue  # the per-school hold says it already
        total = totals.get((kind, school), 0)
        pct = 100.0 * count / total if total else 100.0
        if not (count > guard.max_count or (count >= guard.min_count and (any_share or pct > guard.max_percent))):
            continue
        where = f"school {school}" if school else "the whole tenant"
        limit = f"{guard.min_count} objects" if any_share else f"{guard.max_percent:g}% or {guard.max_count} objects"
        out.append(Hold(guard=name, kind=kind.value, school=school, count=count, total=total, limit=limit,
                        message=f"{count} of {total} {kind.value}s ({pct:.1f}%) in {where} {what}; "
                                f"the limit is {limit}"))
    return out


def _single_school(counts: _Counts, kind: ObjectKind) -> bool:
    schools = [s for (k, s) in counts if k is kind and s is not None]
    return len(schools) == 1


def _jaarovergang_hold(changes: list[Change], policy: PlanPolicy, school_year: str) -> list[Hold]:
    """Last year's groups leaving is the jaarovergang: one step that a person approves."""
    if not policy.guards.hold_jaarovergang:
        return []
    ended: Counter[str] = Counter()
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


def _takeover_hold(changes: list[Change]) -> list[Hold]:
    """Accounts found at a takeover without a LAS person leave only after someone confirms it."""
    n = sum(1 for c in changes if c.action is Action.SUSPEND and c.reason.startswith(R_STALE))
    if not n:
        return []
    return [Hold(guard="takeover-stale", kind="person", school=None, count=n, total=n, limit="approval",
                 message=f"{n} account(s) found when koppel took over the platform match no LAS person (the previous "
                         "koppeling's leavers?): check the list, then approve their suspension; the grace period "
                         "runs from then")]
