"""The plan reads nothing itself: ``diff_index`` names every object whose stored attributes the later passes
read, and a plan made from the index plus exactly those equals the plan made from a view that holds every
attribute — in the full form of the state and in the lean one (memberships as key → fingerprint)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from koppel.model.desired import ObjectKind
from koppel.plan.engine import diff_index, make_plan
from koppel.plan.policy import ArchivedMemberships, GuardPolicy, PlanPolicy
from koppel.plan.state_view import ObjectStatus, StateView

from .test_engine import TODAY, bestuur, desired, group, member, person, state_from

LOOSE = GuardPolicy(max_percent=100, max_count=10**6)


def _mutated(seed: int) -> tuple[list, dict]:
    """The state's objects and what the LAS holds now: a random mix of moves, leavers, renames, new pupils,
    a dropped course, a dropped subject and changes by hand."""
    rnd = random.Random(seed)
    old = bestuur(pupils=12)
    new = list(old)
    drift = {}
    for _ in range(rnd.randint(1, 6)):
        i = rnd.randrange(12)
        what = rnd.choice(["move", "leave", "rename", "join", "drop-course", "drop-subject", "by-hand"])
        if what == "move":
            new = [member(f"p{i}", "k3b") if o.key == f"p{i}|k3a|student" else o for o in new]
        elif what == "leave":
            new = [o for o in new if o.key != f"p{i}" and not o.key.startswith(f"p{i}|")]
        elif what == "rename":
            new = [person(f"p{i}", given="Hernoemd") if o.key == f"p{i}" else o for o in new]
        elif what == "join":
            new += [person(f"n{i}"), member(f"n{i}", "k3a")]
        elif what == "drop-course":
            new = [o for o in new if o.key != "c-ne" and "|c-ne|" not in o.key]
        elif what == "drop-subject":
            new = [o for o in new if o.key != f"p{i}|c-ne|student"]
        else:
            drift[f"p{i}"] = {"given": "Handmatig"}
    new = list({o.key: o for o in new}.values())
    return old, {"objects": new, "drift": drift}


def _index_only(full: StateView, *, lean: bool) -> StateView:
    """The view as the store loads it for a plan: no attributes; in the lean form, active memberships only as
    key → fingerprint (their labels come with the details)."""
    if not lean:
        return replace(full, attrs_json={}, labels={})
    records = {k: r for k, r in full.records.items()
               if not (r.kind is ObjectKind.MEMBERSHIP and r.status is ObjectStatus.ACTIVE)}
    memberships = {k: r.fingerprint for k, r in full.records.items() if k not in records}
    totals = Counter(full.records[k].school for k in memberships)
    return replace(full, records=records, attrs_json={}, labels={}, memberships=memberships,
                   membership_totals=dict(totals))


@pytest.mark.parametrize("lean", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_a_plan_from_the_index_and_the_details_it_names_is_the_plan_from_everything(seed: int, lean: bool) -> None:
    old, now = _mutated(seed)
    full = replace(state_from(old), drift=now["drift"])
    labels = {k: r.label or "" for k, r in full.records.items()}
    full = replace(full, labels=labels)
    wanted = desired(now["objects"])
    policy = PlanPolicy(guards=LOOSE, archived_memberships=ArchivedMemberships.REMOVE)
    expected = make_plan(wanted, full, policy, tenant="t", today=TODAY)

    index = _index_only(full, lean=lean)
    diff = diff_index(wanted, index, policy)
    details = index.with_details({k: full.attrs_json[k] for k in diff.details_needed if k in full.attrs_json},
                                 {k: labels[k] for k in diff.details_needed if k in labels})
    assert make_plan(wanted, details, policy, tenant="t", today=TODAY, diff=diff) == expected
    assert not diff.details_needed or set(diff.details_needed) < set(full.attrs_json), "only what it reads"


def test_what_the_view_holds_already_is_not_asked_for_and_wins() -> None:
    objs = bestuur(pupils=4)
    full = state_from(objs)
    sent = {"p1": b'{"given": "as sent"}'}
    index = replace(full, attrs_json=sent)
    diff = diff_index(desired([o for o in objs if o.key != "p1" and not o.key.startswith("p1|")] +
                              [group("k9", "9Z", "y", "klas")]), index, PlanPolicy())
    assert "p1" not in diff.details_needed
    merged = index.with_details({"p1": b'{"given": "stored"}'}, {})
    assert merged.attrs("p1") == {"given": "as sent"}
