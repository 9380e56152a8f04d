"""The applier against the FakeTarget: ordering, the operations budget, retries, splitting, per-object failures,
skips, stale and held plans."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import ClassVar

import pytest

from koppel.apply.applier import Applier, RetryPolicy
from koppel.errors import PlanHeldError, StalePlanError, TargetAuthError, TargetConfigError
from koppel.model.change import Action
from koppel.model.desired import Desired, ObjectKind
from koppel.plan.engine import diff_index, make_plan
from koppel.plan.model import Hold
from koppel.plan.policy import PlanPolicy
from koppel.state.store import StateStore
from koppel.testing.fake import FakeTarget
from tests.plan.test_engine import bestuur

FAST = RetryPolicy(max_attempts=8, initial_delay_s=0.001, max_delay_s=0.005)
TODAY = dt.date(2026, 3, 2)


def plan_for(store: StateStore, objs, policy=None):
    desired = Desired.build("fake", "2025-2026", objs, schools=["12AB00"])
    view = store.load_view("t", "fake")
    policy = policy or PlanPolicy()
    diff = diff_index(desired, view, policy)
    view = view.with_details(*store.load_details("t", "fake", diff.details_needed))
    return make_plan(desired, view, policy, tenant="t", today=TODAY, diff=diff)


def apply(store, target, plan, **kw):
    applier = Applier(store, target, tenant="t", retry=kw.pop("retry", FAST), rng=random.Random(1), **kw)
    applier.check(plan, approved=kw.get("approved", False))
    run = store.begin_run("t", "fake", kind="apply", plan_id=plan.id)
    return applier.run(plan, run_id=run)


def test_apply_creates_everything_and_the_next_plan_is_empty(store):
    fake = FakeTarget("fake", batch_size=7, operations_in_flight=21)
    objs = bestuur(pupils=30)
    plan = plan_for(store, objs)
    result = apply(store, fake, plan)
    assert result.status == "succeeded" and result.outcomes["done"] == len(objs)
    assert len(fake.active()) == len(objs)
    assert fake.operations_in_flight_seen <= 21 and fake.largest_request <= 7
    assert plan_for(store, objs).empty
    assert result.serial == store.serial("t", "fake")[1] > plan.serial


def test_transient_failures_are_retried_until_done(store):
    fake = FakeTarget("fake", batch_size=5, operations_in_flight=20, transient_rate=0.3, seed=7)
    objs = bestuur(pupils=40)
    result = apply(store, fake, plan_for(store, objs))
    assert result.status == "succeeded" and result.retries > 0
    assert len(fake.active()) == len(objs)


def test_failures_after_the_write_do_not_duplicate(store):
    fake = FakeTarget("fake", batch_size=5, transient_rate=0.4, fail_after_write=True, seed=3)
    objs = bestuur(pupils=25)
    result = apply(store, fake, plan_for(store, objs))
    assert result.status == "succeeded"
    assert len(fake.active()) == len(objs), "an upsert replayed after a lost answer creates nothing twice"


def test_permanent_failures_are_reported_and_the_rest_goes_on(store):
    fake = FakeTarget("fake", batch_size=10, permanent_rate=0.1, seed=5)
    objs = bestuur(pupils=60)
    result = apply(store, fake, plan_for(store, objs))
    assert result.status == "partial"
    assert result.outcomes["failed"] > 0 and result.outcomes["done"] > len(objs) // 2
    failed = {f["key"] for f in result.failures if f["code"] == "invaliddata"}
    skipped = {f["key"] for f in result.failures if f["code"] == "skipped"}
    assert failed and all(f["message"] for f in result.failures)
    # Memberships of a failed person or group are skipped, not sent to fail again.
    for key in skipped:
        person, group, _ = key.split("|")
        assert person in failed or group in failed
    # State holds exactly what the target confirmed; the next plan retries only what is missing.
    retry_plan = plan_for(store, objs)
    assert {c.key for c in retry_plan.changes} == failed | skipped


def test_gives_up_after_max_attempts(store):
    fake = FakeTarget("fake", transient_rate=1.0)
    result = apply(store, fake, plan_for(store, bestuur(pupils=2)), retry=RetryPolicy(3, 0.001, 0.001))
    assert result.status == "failed"
    assert all("gave up after 3 attempts" in f["message"] for f in result.failures if f["code"] == "transient")
    assert plan_for(store, bestuur(pupils=2)).summary()["create"] == 13


def test_stale_plan_is_refused(store):
    fake = FakeTarget("fake")
    objs = bestuur(pupils=3)
    first = plan_for(store, objs)
    second = plan_for(store, objs)
    apply(store, fake, first)
    with pytest.raises(StalePlanError, match="stale"):
        apply(store, fake, second)


def test_held_plan_needs_approval(store):
    fake = FakeTarget("fake")
    plan = plan_for(store, bestuur(pupils=3))
    from dataclasses import replace

    held = replace(plan, holds=(Hold("removals", "person", None, 5, 10, "10%", "test hold"),))
    applier = Applier(store, fake, tenant="t", retry=FAST)
    with pytest.raises(PlanHeldError, match="--approve"):
        applier.check(held, approved=False)
    applier.check(held, approved=True)


def test_stop_lets_batches_in_flight_finish(store):
    stop = threading.Event()
    fake = FakeTarget("fake", batch_size=2, operations_in_flight=4, latency_s=0.01)
    objs = bestuur(pupils=40)
    seen = []

    def progress(done, total):
        seen.append(done)
        if done >= 10:
            stop.set()

    result = apply(store, fake, plan_for(store, objs), progress=progress, stop=stop)
    assert result.status == "stopped"
    done = result.outcomes["done"]
    assert 10 <= done < len(objs)
    assert len(store.load_view("t", "fake").records) == done == len(fake.active())
    finish = apply(store, fake, plan_for(store, objs))
    assert finish.status == "succeeded" and len(fake.active()) == len(objs)


class RefusingTarget(FakeTarget):
    def apply(self, batch):
        self.requests["auth"] += 1
        raise TargetAuthError("credentials refused")


def test_refused_credentials_stop_at_once(store):
    target = RefusingTarget("fake", operations_in_flight=1)
    with pytest.raises(TargetAuthError):
        apply(store, target, plan_for(store, bestuur(pupils=10)))
    assert target.requests["auth"] == 1, "no retry storm"


def test_batches_hold_one_kind_and_action_and_respect_max_batch(store):
    class Recording(FakeTarget):
        batches: ClassVar[list[list[tuple[ObjectKind, Action]]]] = []

        def apply(self, batch):
            Recording.batches.append([(c.kind, c.action) for c in batch])
            return super().apply(batch)

    target = Recording("fake", batch_size=4)
    apply(store, target, plan_for(store, bestuur(pupils=9)))
    assert all(len(b) <= 4 and len(set(b)) == 1 for b in Recording.batches)
    kinds_in_order = [b[0][0] for b in Recording.batches]
    first_membership = kinds_in_order.index(ObjectKind.MEMBERSHIP)
    assert ObjectKind.GROUP not in kinds_in_order[first_membership:]


# -- the operations budget ----------------------------------------------------------------------


def test_operations_in_flight_never_pass_the_ceiling_and_batches_follow_the_budget(store):
    """itslearning asks for fewer than 10 unprocessed operations: at the ceiling of 9, never more than 9
    objects are in unanswered requests together, in two requests at a time rather than one."""
    fake = FakeTarget("fake", batch_size=50, operations_in_flight=9, latency_s=0.005)
    objs = bestuur(pupils=40)
    result = apply(store, fake, plan_for(store, objs))
    assert result.status == "succeeded"
    assert fake.operations_in_flight_seen <= 9
    assert fake.largest_request <= 5, "a batch is about half the ceiling, so two requests overlap"
    assert fake.in_flight_seen == 2
    load = result.summary()["load"]
    assert load["ceiling"] == 9 and load["operations_in_flight"]["max"] <= 9
    assert load["operations_in_flight"]["p50"] >= 5
    assert load["ms_per_operation"]["p50"] > 0 and load["backoffs"] == 0


def test_the_budget_grows_to_a_higher_ceiling_while_the_platform_keeps_up(store):
    fake = FakeTarget("fake", batch_size=50, operations_in_flight=40, latency_s=0.01)
    result = apply(store, fake, plan_for(store, bestuur(pupils=60)))
    load = result.summary()["load"]
    assert load["limit"]["min"] == 9, "it starts at itslearning's documented safe level"
    assert load["limit"]["max"] == 40 and fake.operations_in_flight_seen <= 40
    assert fake.operations_in_flight_seen > 9


def test_busy_answers_shrink_the_budget_and_retry_after_is_honoured(store):
    fake = FakeTarget("fake", batch_size=50, operations_in_flight=50, busy_above=20, retry_after_s=0.2,
                      latency_s=0.01)
    objs = bestuur(pupils=60)
    result = apply(store, fake, plan_for(store, objs))
    assert result.status == "succeeded" and len(fake.active()) == len(objs)
    load = result.summary()["load"]
    assert fake.busy_answers >= 1 and load["busy"] == fake.busy_answers
    assert load["backoffs"] >= 1 and load["limit"]["end"] < 50
    assert load["paused_s"] > 0, "Retry-After paused the sending"
    assert fake.busy_answers <= 6, "the limiter settles instead of hammering a busy platform"


def test_a_pinned_budget_stays_at_its_ceiling(store):
    fake = FakeTarget("fake", batch_size=50, operations_in_flight=12, adaptive=False, latency_s=0.005)
    result = apply(store, fake, plan_for(store, bestuur(pupils=30)))
    load = result.summary()["load"]
    assert load["adaptive"] is False and load["limit"]["min"] == load["limit"]["max"] == 12
    assert fake.operations_in_flight_seen <= 12


# -- one bad object never sinks a batch -----------------------------------------------------------


def test_a_poisoned_object_is_isolated_by_splitting_and_the_others_land(store):
    objs = bestuur(pupils=40)
    persons = [o.key for o in objs if o.kind is ObjectKind.PERSON]
    poison = persons[len(persons) // 2]
    fake = FakeTarget("fake", batch_size=50, operations_in_flight=50, adaptive=False, poison={poison})
    result = apply(store, fake, plan_for(store, objs))
    assert result.status == "partial"
    failed = [f for f in result.failures if f["code"] == "rejected"]
    assert [f["key"] for f in failed] == [poison]
    assert "internal server error" in failed[0]["message"]
    assert result.summary()["load"]["splits"] >= 3
    # Every other person landed; only the poisoned person's memberships were skipped.
    assert set(fake.active(ObjectKind.PERSON)) == set(persons) - {poison}
    skipped = {f["key"] for f in result.failures if f["code"] == "skipped"}
    assert skipped and all(k.startswith(poison + "|") for k in skipped)


def test_a_configuration_fault_stops_the_run_at_once_without_retries(store):
    fake = FakeTarget("fake", config_fault=True)
    plan = plan_for(store, bestuur(pupils=10))
    with pytest.raises(TargetConfigError, match="does not serve"):
        apply(store, fake, plan)
    assert sum(fake.requests.values()) == 0 and store.load_view("t", "fake").records == {}
