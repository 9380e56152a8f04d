"""The operations budget on its own, with a hand-driven clock: the ceiling, growth, the three ways it shrinks,
one decrease per round trip, Retry-After, and operations of a timed-out request kept counted."""

from __future__ import annotations

import pytest

from koppel.apply.budget import OperationsBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def round_trip(budget: OperationsBudget, clock: Clock, seconds: float) -> None:
    """Fill the budget, let every request come back after ``seconds``."""
    tickets = []
    while (n := budget.admit(1000, busy=bool(tickets))):
        tickets.append(budget.sent(n))
    clock.now += seconds
    for ticket in tickets:
        budget.answered(ticket, seconds)


def test_the_default_starts_at_nine_and_never_passes_its_ceiling():
    clock = Clock()
    budget = OperationsBudget(9, max_batch=50, clock=clock)
    assert budget.limit == 9 and budget.batch_size == 5
    first = budget.sent(budget.admit(100, busy=False))
    assert first.operations == 5
    assert budget.admit(100, busy=True) == 4
    budget.sent(4)
    assert budget.admit(100, busy=True) == 0, "nine in flight: nothing more"
    for _ in range(20):
        clock.now += 0.1
        budget.answered(first, 0.1)
        first = budget.sent(budget.admit(100, busy=True) or 5)
        assert budget.limit <= 9


def test_a_higher_ceiling_is_reached_by_slow_start_while_round_trips_stay_flat():
    clock = Clock()
    budget = OperationsBudget(50, max_batch=50, clock=clock)
    assert budget.limit == 9
    for _ in range(6):
        round_trip(budget, clock, 0.1)
    assert budget.limit == 50 and budget.stats.backoffs == 0


def test_busy_halves_once_per_round_trip_and_retry_after_pauses_sending():
    clock = Clock()
    budget = OperationsBudget(40, max_batch=50, adaptive=True, clock=clock)
    budget.limit = 40.0
    tickets = [budget.sent(10) for _ in range(4)]
    clock.now += 0.05
    budget.busy(tickets[0], retry_after=2.0)
    budget.busy(tickets[1])  # sent before the decrease: tells nothing new
    assert budget.limit == 20 and budget.stats.backoffs == 1 and budget.stats.busy == 2
    assert budget.admit(10, busy=True) == 0 and budget.pause_left() == pytest.approx(2.0)
    clock.now += 2.0
    budget.answered(tickets[2], 0.05)
    budget.answered(tickets[3], 0.05)
    assert budget.admit(10, busy=False) == 10


def test_a_queue_building_up_shrinks_the_limit_gently():
    clock = Clock()
    budget = OperationsBudget(50, max_batch=50, clock=clock)
    for _ in range(6):
        round_trip(budget, clock, 0.2)
    grown = budget.limit
    for _ in range(6):
        round_trip(budget, clock, 0.6)  # three times the unloaded round trip of the same size
    assert budget.limit < grown and budget.stats.backoffs >= 1


def test_small_jitter_on_a_fast_local_server_is_not_a_queue():
    clock = Clock()
    budget = OperationsBudget(9, max_batch=50, clock=clock)
    for seconds in (0.001, 0.009, 0.002, 0.015, 0.001) * 10:
        round_trip(budget, clock, seconds)
    assert budget.stats.backoffs == 0 and budget.limit == 9


def test_a_request_that_timed_out_stays_counted_for_a_while():
    clock = Clock()
    budget = OperationsBudget(9, max_batch=50, timeout_hold_s=30, clock=clock)
    ticket = budget.sent(5)
    clock.now += 120
    budget.busy(ticket, unanswered=True)
    assert budget.in_flight == 5 and budget.limit == 4.5
    assert budget.admit(10, busy=False) == 0, "the platform may still be working on those five"
    clock.now += 30
    assert budget.admit(10, busy=False) == 3, "a limit of 4.5: requests of 3"


def test_a_pinned_budget_ignores_every_signal():
    clock = Clock()
    budget = OperationsBudget(12, max_batch=50, adaptive=False, clock=clock)
    ticket = budget.sent(6)
    budget.busy(ticket)
    budget.failed(budget.sent(6))
    assert budget.limit == 12 and budget.stats.backoffs == 0


def test_the_ceiling_and_batch_must_be_positive():
    with pytest.raises(ValueError):
        OperationsBudget(0, max_batch=50)


def test_the_batch_follows_the_limit_so_a_smaller_budget_sends_smaller_requests():
    clock = Clock()
    budget = OperationsBudget(50, max_batch=50, clock=clock)
    assert budget.batch_size == 5, "limit 9 at the start: requests of 5 and 4"
    budget.limit = 50.0
    assert budget.batch_size == 25
    budget.busy(budget.sent(25))
    assert budget.limit == 25 and budget.batch_size == 13
    budget.batch_cap = 4  # the platform said a request was too large
    assert budget.batch_size == 4


def test_near_the_level_where_the_platform_was_busy_the_limit_grows_slowly():
    clock = Clock()
    budget = OperationsBudget(50, max_batch=50, clock=clock)
    budget.limit = 40.0
    budget._slow_start = False
    clock.now += 0.1
    budget.busy(budget.sent(20))  # busy at 40: halved to 20
    budget.in_flight = 0
    def growth(round_trips: int) -> float:
        before = budget.limit
        for _ in range(round_trips):
            round_trip(budget, clock, 0.1)
        return (budget.limit - before) / round_trips

    far = growth(5)
    assert budget.limit < 34
    while budget.limit < 34:  # 0.85 × 40
        round_trip(budget, clock, 0.1)
    near = growth(5)
    assert near < 0.4 * far, (near, far)
    for _ in range(300):  # it keeps probing: the platform may have got faster
        if budget.limit >= 46:  # 1.15 × 40
            break
        round_trip(budget, clock, 0.1)
    assert growth(3) > 2 * near, "well past the old busy level: normal growth again"
