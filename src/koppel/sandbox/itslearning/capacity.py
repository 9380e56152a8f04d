"""Load: the site's capacity as one FIFO queue of operations, and the operations in flight, measured.

itslearning counts *operations*: objects in a request, every membership member one
(Dos-and-don'ts-for-itslearning-IMS-ES-clients.html). It asks clients to keep fewer than 10 of them
unprocessed and to send at most 50 a request, and it publishes no answer for a client that does not.
So by default the sandbox only measures; it refuses when told to:

* **capacity** (``capacity_ops_per_s``): the site works through operations at that rate, one FIFO
  queue for every request. A request is answered once its own operations were processed (plus
  ``latency_ms``), so a client that sends more than the site can take sees its latency grow. When a
  request would put more than ``queue_limit_ops`` unprocessed operations in the queue it is answered
  HTTP 503 at once; a request that finds the queue empty is always taken, however large.
* **strict cap** (``max_operations_in_flight``, for tests): a request that would make the operations
  received and not yet answered more than the cap is answered HTTP 503 at once — also when it alone
  is larger than the cap.

The queue is simulated, not run: each admitted request gets the moment its operations will have been
processed (after those of the requests before it), and its handler sleeps until then. No thread, task
or timer exists per queued operation; admission is a few arithmetic steps in the event loop.

*Operations in flight* = the operations of the requests received and not yet answered. It is sampled
at every request arrival that reaches admission (the request authenticated, routed and read),
*including the arriving request* and also when that request is then refused: the sample is what the
client asked the site to hold. Peak, 95th percentile (nearest rank) and the number of samples are in
``/sandbox/api/stats`` under ``operations_in_flight``.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .config import SandboxConfig

__all__ = ["Admission", "InFlightMeter", "Refusal", "Ticket"]


class Refusal(Enum):
    """Why a request was answered 503."""

    QUEUE_FULL = "queue-full"
    OVER_STRICT_LIMIT = "over-max-operations-in-flight"


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted request: its operations, and when (loop time) they will have been processed."""

    operations: int
    processed_at: float


class InFlightMeter:
    """Samples of operations in flight. Written from the event loop, read from the stats route's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histogram: Counter[int] = Counter()
        self._samples = 0
        self._peak = 0

    def sample(self, operations: int) -> None:
        with self._lock:
            self._histogram[operations] += 1
            self._samples += 1
            self._peak = max(self._peak, operations)

    def reset(self) -> None:
        with self._lock:
            self._histogram.clear()
            self._samples = 0
            self._peak = 0

    def snapshot(self) -> dict[str, Any]:
        """``{"peak": int, "p95": float, "samples": int}``; all 0 before the first sample."""
        with self._lock:
            histogram = sorted(self._histogram.items())
            samples, peak = self._samples, self._peak
        return {"peak": peak, "p95": float(_nearest_rank(histogram, samples, percent=95)), "samples": samples}


def _nearest_rank(histogram: list[tuple[int, int]], samples: int, *, percent: int) -> int:
    """The smallest value that at least ``percent`` % of the samples are less than or equal to."""
    if samples == 0:
        return 0
    rank = max(1, -(-samples * percent // 100))  # ceil without floats
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


class Admission:
    """Admits requests into the site, or refuses them. Used from the server's event loop only."""

    def __init__(self, config: SandboxConfig, meter: InFlightMeter):
        self._rate = config.capacity_ops_per_s
        self._queue_limit = config.queue_limit_ops
        self._strict_limit = config.max_operations_in_flight
        self.meter = meter
        self.operations_in_flight = 0
        self.requests_in_flight = 0
        self.peak_requests = 0
        """The most requests in flight at one moment, the arriving one included (refused or not)."""
        self.queued_operations = 0
        self._queue: deque[tuple[float, int]] = deque()  # (processed_at, operations), FIFO
        self._free_at = 0.0

    def admit(self, operations: int, now: float) -> Ticket | Refusal:
        """Take a request of ``operations`` arriving at loop time ``now``, or say why not."""
        self._drain(now)
        self.meter.sample(self.operations_in_flight + operations)
        self.peak_requests = max(self.peak_requests, self.requests_in_flight + 1)
        if self._strict_limit is not None and self.operations_in_flight + operations > self._strict_limit:
            return Refusal.OVER_STRICT_LIMIT
        processed_at = now
        if self._rate is not None:
            if self.queued_operations and self.queued_operations + operations > self._queue_limit:
                return Refusal.QUEUE_FULL
            processed_at = max(now, self._free_at) + operations / self._rate
            self._free_at = processed_at
            self._queue.append((processed_at, operations))
            self.queued_operations += operations
        self.operations_in_flight += operations
        self.requests_in_flight += 1
        return Ticket(operations, processed_at)

    def release(self, ticket: Ticket) -> None:
        """The request was answered (whatever the answer)."""
        self.operations_in_flight -= ticket.operations
        self.requests_in_flight -= 1

    def reset_peak(self) -> None:
        self.peak_requests = self.requests_in_flight

    def _drain(self, now: float) -> None:
        """Forget the queued requests whose operations have been processed by ``now``."""
        queue = self._queue
        while queue and queue[0][0] <= now:
            self.queued_operations -= queue.popleft()[1]
