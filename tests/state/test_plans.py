"""The plan repository on SQLite and PostgreSQL: plans stored, found by prefix, decided and made stale."""

from __future__ import annotations

import pytest

from koppel.errors import PlanNotFound
from koppel.plan.model import Plan
from koppel.state.store import StateStore
from koppel.testing.conformance import person


def _plan(key: str = "las:9", serial: int = 0) -> Plan:
    return Plan("b", "x", "lin", serial, "2026-03-02", "2025-2026", (person(key),))


def test_a_plan_round_trips_with_its_json(store: StateStore):
    p = _plan()
    store.plans_repo.save_plan(p, status="held")
    assert store.plans_repo.plan_json(p.id) == p.to_json_bytes()
    assert store.plans_repo.plan_json("nope") is None
    assert store.plans_repo.load_plan(p.id[:8]).id == p.id
    with pytest.raises(PlanNotFound):
        store.plans_repo.load_plan("nope")


def test_saving_a_plan_again_forgets_its_decision(store: StateStore):
    p = _plan()
    store.plans_repo.save_plan(p, status="held")
    store.plans_repo.set_plan_status(p.id, "discarded", by="beheerder")
    assert store.plans_repo.plan_record(p.id).decided_by == "beheerder"
    store.plans_repo.save_plan(p, status="held")
    record = store.plans_repo.plan_record(p.id)
    assert (record.status, record.decided_by) == ("held", None)


def test_only_pending_plans_of_an_older_serial_go_stale(store: StateStore):
    old, applied, current = _plan("las:1"), _plan("las:2"), _plan("las:3", serial=3)
    for plan in (old, applied, current):
        store.plans_repo.save_plan(plan, status="held")
    store.plans_repo.set_plan_status(applied.id, "applied", by="b", approved=True, run_id=7)
    assert store.plans_repo.mark_stale_plans("b", "x", serial=3) == 1
    statuses = {r.id: r.status for r in store.plans_repo.plans("b", "x")}
    assert statuses == {old.id: "stale", applied.id: "applied", current.id: "held"}
    assert [r.id for r in store.plans_repo.plans(status=["held"])] == [current.id]
