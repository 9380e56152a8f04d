"""The operations budget: how much the applier may have unanswered at the platform at any moment.

itslearning counts *operations* — the objects in all requests it has not answered yet, each membership
member one — and asks that fewer than 10 are unprocessed at any time, in batches of at most 50
(*Dos and don'ts for itslearning IMS ES clients*; shared/reference/itslearning-and-target-formats.md
§1.5). So the applier budgets operations, not requests:

* a hard **ceiling** that is never passed (``max_operations_in_flight``, 9 by default: "fewer than 10");
* below it, an adaptive **limit**. It starts at the documented safe level (9, or the ceiling when that is
  lower), grows while the platform keeps up — doubling per round trip at first ("slow start"), then one
  operation per round trip (additive increase) — and shrinks multiplicatively when the platform shows
  strain: halved on "busy" (HTTP 503 or 429, ``targetisbusy``, a timeout), cut by a fifth on another
  whole-request failure (HTTP 5xx, a SOAP fault), by a tenth when requests take clearly longer than
  the same size took before (a queue is building up at the platform). This is TCP's AIMD with a delay
  signal, as in Netflix's concurrency-limits (``AIMDLimit``, ``Gradient2Limit``). At most one decrease per
  round trip: answers to requests sent before the last decrease say nothing new.
* the **batch size** follows the budget: at most ``max_batch`` objects, about half the current limit,
  so that two requests are in flight and the platform never waits for koppel's bookkeeping between
  them; never more than the room left under the limit. A smaller limit therefore means smaller requests,
  which a platform with a short queue can take where it refuses a large one.
* the level at which the platform last said "busy" is remembered (as TCP CUBIC remembers ``W_max``):
  near it the limit grows five times more slowly, so that it settles just under the platform's
  capacity instead of running into it every few seconds; well above it normal growth resumes, in case
  the platform got faster.
* a platform's ``Retry-After`` pauses all sending until it has passed.
* a request that timed out may still be running at the platform: its operations stay counted for
  ``timeout_hold_s`` more before they are given back.

With ``adaptive=False`` the limit is pinned at the ceiling (a school that agreed a fixed rate with
itslearning). Everything here runs on the applier's own thread; worker threads only talk to the target.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SAFE_START", "LoadStats", "OperationsBudget", "Ticket"]

SAFE_START = 9
"""itslearning's guidance: fewer than 10 unprocessed operations."""

BUSY_FACTOR = 0.5
FAILURE_FACTOR = 0.8
SLOWER_FACTOR = 0.9
SLOWER_THAN = 1.5
"""Requests taking 1.5× what the same size took unloaded (smoothed) count as "a queue is building up"."""
FLAT_BELOW = 1.2
"""Below 1.2× the unloaded time the platform keeps up: the limit may grow."""
QUEUE_NOISE_S = 0.025
"""A round trip less than this much over the unloaded one is noise (thread scheduling, a local server),
not a queue at the platform."""
SMOOTHING = 0.3
NEAR_BUSY = 0.85
"""From this fraction of the level where the platform last said busy, the limit grows slowly..."""
PAST_BUSY = 1.15
"""...up to this multiple of it; above it, the platform evidently got faster: normal growth again."""
PROBE_SLOWDOWN = 0.2
BASELINE_DRIFT = 0.01
"""The unloaded time per batch size follows a permanently slower platform, slowly."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """One request on its way: its operations, when it left, and whether it filled the budget."""

    operations: int
    sent_at: float
    window_full: bool


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


@dataclass
class LoadStats:
    """What the run summary and ``koppel status --run N`` report about the load koppel put on the target."""

    ceiling: int = 0
    adaptive: bool = True
    in_flight: list[int] = field(default_factory=list)
    """Operations in flight right after each request was sent."""
    seconds_per_operation: list[float] = field(default_factory=list)
    """Per answered request: its round trip divided by its operations."""
    limits: list[float] = field(default_factory=list)
    backoffs: int = 0
    busy: int = 0
    """Answers that said "busy" (HTTP 503 or 429, targetisbusy, a timeout)."""
    splits: int = 0
    """Batches split to isolate an object the platform refused as a whole request."""
    paused_s: float = 0.0
    """Seconds the platform's Retry-After kept koppel from sending."""

    def to_json(self) -> dict[str, Any]:
        flight = [float(v) for v in self.in_flight]
        per_op = self.seconds_per_operation
        return {
            "ceiling": self.ceiling,
            "adaptive": self.adaptive,
            "operations_in_flight": {
                "p50": _percentile(flight, 0.5), "p95": _percentile(flight, 0.95), "max": max(flight, default=0.0),
            },
            "ms_per_operation": {
                "p50": round(_percentile(per_op, 0.5) * 1000, 2), "p95": round(_percentile(per_op, 0.95) * 1000, 2),
            },
            "limit": {
                "min": round(min(self.limits, default=0.0), 1), "max": round(max(self.limits, default=0.0), 1),
                "end": round(self.limits[-1], 1) if self.limits else 0.0,
            },
            "backoffs": self.backoffs,
            "busy": self.busy,
            "splits": self.splits,
            "paused_s": round(self.paused_s, 1),
        }


class OperationsBudget:
    """Operations in flight under a ceiling, with an adaptive limit (see the module docstring)."""

    def __init__(
        self,
        ceiling: int,
        *,
        max_batch: int,
        adaptive: bool = True,
        timeout_hold_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if ceiling < 1 or max_batch < 1:
            raise ValueError("the operations ceiling and the batch size must be 1 or more")
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.clock = clock
        self.limit = float(min(ceiling, SAFE_START)) if adaptive else float(ceiling)
        self.batch_cap = min(max_batch, max(1, math.ceil(ceiling / 2)))
        """The most objects a request carries (lowered when the platform said a request was too large)."""
        self.in_flight = 0
        self.paused_until = 0.0
        self.timeout_hold_s = timeout_hold_s
        self._held: list[tuple[float, int]] = []
        self._slow_start = adaptive and self.limit < ceiling
        self._last_decrease = -math.inf
        self._unloaded: dict[int, float] = {}
        self._ratio = 1.0
        self._busy_level: float | None = None
        self.stats = LoadStats(ceiling=ceiling, adaptive=adaptive, limits=[self.limit])

    @property
    def batch_size(self) -> int:
        """Objects per request now: about half the limit, at most ``batch_cap``."""
        return min(self.batch_cap, max(1, math.ceil(self.limit / 2)))

    # -- sending ---------------------------------------------------------------------------------

    def pause_left(self) -> float:
        """Seconds until the platform's Retry-After has passed (0 when sending may go on)."""
        return max(0.0, self.paused_until - self.clock())

    def admit(self, available: int, *, busy: bool) -> int:
        """How many objects the next request may carry now; 0 means wait for an answer first.

        ``available`` is how many are waiting to go; ``busy`` whether other requests are in flight.
        While others are in flight, a request smaller than half a batch waits for more room, so that a
        budget's worth is sent in a few full requests rather than many fragments.
        """
        self._give_back_held()
        if available <= 0 or self.pause_left() > 0:
            return 0
        room = int(self.limit) - self.in_flight
        wanted = min(self.batch_size, int(self.limit), available)
        if room <= 0 or (busy and room < min(wanted, max(1, self.batch_size // 2))):
            return 0
        return min(wanted, room)

    def sent(self, operations: int) -> Ticket:
        self.in_flight += operations
        self.stats.in_flight.append(self.in_flight)
        room = int(self.limit) - self.in_flight
        return Ticket(operations, self.clock(), window_full=room < max(1, self.batch_size // 2))

    # -- answers ---------------------------------------------------------------------------------

    def answered(self, ticket: Ticket, seconds: float) -> None:
        """The platform answered the request (whatever it said about each object)."""
        self.in_flight -= ticket.operations
        self.stats.seconds_per_operation.append(seconds / max(1, ticket.operations))
        if not self.adaptive:
            return
        ratio = self._slowdown(ticket.operations, seconds)
        if ratio > SLOWER_THAN:
            self._decrease(ticket, SLOWER_FACTOR)
        elif ratio < FLAT_BELOW and ticket.window_full:
            step = ticket.operations if self._slow_start else ticket.operations / self.limit
            level = self._busy_level
            if level is not None and NEAR_BUSY * level <= self.limit < PAST_BUSY * level:
                step *= PROBE_SLOWDOWN
            self._set(min(float(self.ceiling), self.limit + step))

    def busy(self, ticket: Ticket, *, retry_after: float | None = None, unanswered: bool = False) -> None:
        """The platform said it is busy (503/429, targetisbusy) or did not answer in time."""
        self.stats.busy += 1
        self._release(ticket, unanswered)
        if retry_after:
            until = self.clock() + retry_after
            if until > self.paused_until:
                self.stats.paused_s += until - max(self.paused_until, self.clock())
                self.paused_until = until
        level = self.limit
        if self._decrease(ticket, BUSY_FACTOR):
            self._busy_level = level

    def failed(self, ticket: Ticket) -> None:
        """The request failed as a whole for another reason (HTTP 5xx, a SOAP fault)."""
        self._release(ticket, unanswered=False)
        self._decrease(ticket, FAILURE_FACTOR)

    def released(self, ticket: Ticket) -> None:
        """The request ended without telling anything about load (refused credentials, a protocol error)."""
        self._release(ticket, unanswered=False)

    # -- internals -------------------------------------------------------------------------------

    def _release(self, ticket: Ticket, unanswered: bool) -> None:
        if unanswered and self.timeout_hold_s > 0:
            self._held.append((self.clock() + self.timeout_hold_s, ticket.operations))  # still counted
        else:
            self.in_flight -= ticket.operations

    def _give_back_held(self) -> None:
        if not self._held:
            return
        now = self.clock()
        due = [n for at, n in self._held if at <= now]
        if due:
            self._held = [(at, n) for at, n in self._held if at > now]
            self.in_flight -= sum(due)

    def next_release(self) -> float | None:
        """When held operations are given back (for the applier's wait), or None."""
        return min((at for at, _ in self._held), default=None)

    def _slowdown(self, operations: int, seconds: float) -> float:
        """Smoothed ratio of round trips to the unloaded round trip of the same batch size."""
        unloaded = self._unloaded.get(operations)
        if unloaded is None or seconds < unloaded:
            self._unloaded[operations] = unloaded = max(seconds, 1e-6)
        else:
            self._unloaded[operations] = unloaded + (seconds - unloaded) * BASELINE_DRIFT
        sample = seconds / unloaded if seconds - unloaded > QUEUE_NOISE_S else 1.0
        self._ratio += SMOOTHING * (sample - self._ratio)
        return self._ratio

    def _decrease(self, ticket: Ticket, factor: float) -> bool:
        """Shrink the limit, once per round trip; whether it did."""
        if not self.adaptive or ticket.sent_at <= self._last_decrease:
            return False
        self._slow_start = False
        self._last_decrease = self.clock()
        self.stats.backoffs += 1
        self._ratio = 1.0
        self._set(max(1.0, self.limit * factor))
        return True

    def _set(self, limit: float) -> None:
        self.limit = limit
        self.stats.limits.append(limit)
