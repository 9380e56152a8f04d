"""What an approved takeover writes to koppel's state, as values (pure).

Each adopted object becomes a state row under koppel's key with the platform's id as its target id and,
as its attributes, what the platform holds (``Adoption.attrs``): the first plan after the takeover then
updates only the owned fields that differ. Each stale account becomes a row whose fingerprint marks it
for confirmation in a later plan; each account left alone becomes a row that is never planned but keeps
its user name taken. The state store writes them all in one transaction (``StateStore.record_takeover``).
"""

from __future__ import annotations

from collections.abc import Mapping

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.plan.engine import PHASE_MEMBERSHIP, PHASE_PERSON
from koppel.takeover.match import record_fingerprint
from koppel.takeover.model import TakeoverPlan

__all__ = ["state_changes"]


def state_changes(plan: TakeoverPlan, converted: Mapping[str, str] | None = None) -> tuple[list[Change], list[str]]:
    """The rows to record and the keys of earlier takeover rows they replace.

    ``converted`` maps the user name of an adopted account made by hand to the sync key itslearning gave it
    on approval; an account made by hand that did not get one is not recorded (the caller refuses that)."""
    converted = {name.casefold(): key for name, key in (converted or {}).items()}
    changes: list[Change] = []
    drop: list[str] = []
    for a in plan.adopt:
        target_id = a.target_id or (converted.get(a.username.casefold()) if a.username else None)
        if target_id is None:
            continue
        kind = ObjectKind(a.kind)
        phase = PHASE_PERSON if kind is ObjectKind.PERSON else PHASE_MEMBERSHIP
        changes.append(Change(
            Action.CREATE, kind, a.key, f"adopted at the takeover: {a.site_label or target_id} (matched on "
            f"{a.matched_on})", phase, a.school, a.label, None, dict(a.attrs), fingerprint=a.fingerprint,
            meta=dict(a.meta) or None, target_id=target_id,
        ))
        if a.replaces:
            drop.append(a.replaces)
    for f in plan.foreign:
        if f.record_key is None:
            continue
        what = ("no LAS person: proposed for suspension in a later plan, for approval" if f.status == "stale"
                else "left alone; recorded so that its user name stays taken")
        changes.append(Change(
            Action.CREATE, ObjectKind.PERSON, f.record_key, f"found at the takeover: {f.reason}; {what}",
            PHASE_PERSON, f.school, f.label, None, dict(f.attrs),
            fingerprint=record_fingerprint(f.status, plan.serial), target_id=f.target_id,
        ))
    return changes, drop
