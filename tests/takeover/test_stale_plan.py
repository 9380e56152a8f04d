"""What the pure plan does with the accounts a takeover recorded: stale ones are proposed for suspension —
never in the takeover's first sync, always held — and the ones left alone are never planned at all."""

from __future__ import annotations

import datetime as dt

import orjson

from koppel.model.change import Action
from koppel.model.desired import Desired, DesiredObject, ObjectKind
from koppel.plan.engine import make_plan
from koppel.plan.policy import PlanPolicy
from koppel.plan.state_view import ObjectStatus, StateRecord, StateView

P = ObjectKind.PERSON
TODAY = dt.date(2025, 10, 1)


def person(key: str) -> DesiredObject:
    return DesiredObject.make(P, key, {"role": "student", "given": "Roos", "prefix": "", "family": "Vermeulen",
                                       "username": key, "email": None}, school="12AB00", label="Roos Vermeulen")


def view(serial: int, *records: StateRecord, new_attrs: dict | None = None) -> StateView:
    attrs = {r.key: orjson.dumps({"role": "student", "given": "Sem", "family": "Weg"}) for r in records}
    return StateView("school", "its", "L", serial, {r.key: r for r in records}, attrs_json=attrs)


ADOPTED = StateRecord(P, "las:1", ObjectStatus.ACTIVE, person("las:1").fingerprint, "12AB00", "Roos", "EC_1")
STALE = StateRecord(P, "takeover:EC_9", ObjectStatus.ACTIVE, "takeover-stale:5", "12AB00", "Sem Weg", "EC_9")
ALONE = StateRecord(P, "takeover-manual:beheerder", ObjectStatus.ACTIVE, "takeover-foreign", None, "Beheer")


def plan_for(state: StateView, *wanted: DesiredObject):
    desired = Desired.build("its", "2025-2026", [person("las:1"), *wanted], schools=["12AB00"])
    return make_plan(desired, state, PlanPolicy(), tenant="school", today=TODAY)


def test_the_takeovers_first_sync_does_not_carry_the_stale_accounts():
    plan = plan_for(view(5, ADOPTED, STALE, ALONE), person("las:2"))
    assert [(c.action, c.key) for c in plan.changes] == [(Action.CREATE, "las:2")]
    assert not plan.held
    assert any("suspension is proposed in the next plan" in n for n in plan.notes), plan.notes


def test_a_later_plan_proposes_their_suspension_and_holds_it_for_approval():
    plan = plan_for(view(6, ADOPTED, STALE, ALONE), person("las:2"))
    suspend = [c for c in plan.changes if c.action is Action.SUSPEND]
    assert [c.key for c in suspend] == ["takeover:EC_9"] and suspend[0].target_id == "EC_9"
    assert suspend[0].reason.startswith("found on the platform when koppel took it over, with no LAS person")
    assert "30 days' grace" in suspend[0].reason
    assert [h.guard for h in plan.holds] == ["takeover-stale"] and "approve" in plan.holds[0].message


def test_with_nothing_else_to_do_the_first_plan_proposes_them_held():
    plan = plan_for(view(5, ADOPTED, STALE, ALONE))
    assert [c.key for c in plan.changes] == ["takeover:EC_9"] and plan.held


def test_an_account_left_alone_is_never_planned_and_a_suspended_stale_one_follows_the_grace_rules():
    suspended = STALE._replace(status=ObjectStatus.SUSPENDED, absent_since="2025-09-01", delete_after="2025-09-30")
    plan = plan_for(view(9, ADOPTED, suspended, ALONE))
    assert [(c.action, c.key) for c in plan.changes] == [(Action.DELETE, "takeover:EC_9")]
    assert not plan.held, "the grace period ran out after the approved suspension: an ordinary deletion"
