"""Backoff for transient failures, shared by the applier (writes) and the connectors' reads.

A transient failure (HTTP 5xx, a timeout, a busy platform) is tried again after an exponentially
growing delay with jitter, so that many clients that failed together do not come back together.

The jitter is *equal jitter*, not full jitter (AWS Architecture Blog, *Exponential Backoff And
Jitter*): after failed try ``n`` the ceiling is ``c = min(max_delay_s, initial_delay_s · 2^(n-1))``
and the wait is drawn uniformly from ``[c/2, c]`` — half the exponential delay is always kept, so a
retry never comes back at once (full jitter would draw from ``[0, c]``). A platform's own
``Retry-After`` lengthens the wait when it asks for longer, up to ``5 × max(max_delay_s, 1 s)``, so a
platform asking for hours cannot stall a run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from koppel.errors import TransientTargetError

__all__ = ["RetryPolicy", "call_with_retries"]

log = structlog.get_logger("koppel.retry")

_T = TypeVar("_T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is tried again.

    ``max_attempts`` counts the first try: 5 means one try and four retries.
    """

    max_attempts: int = 5
    initial_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based): uniform(c/2, c) with
        c = min(max_delay, initial · 2^(attempt-1)); at least ``retry_after`` when the platform gave one."""
        ceiling = min(self.max_delay_s, self.initial_delay_s * (2 ** max(0, attempt - 1)))
        wait = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, max(self.max_delay_s, 1.0) * 5))
        return wait


def call_with_retries(
    call: Callable[[], _T],
    policy: RetryPolicy,
    *,
    what: str,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """``call()``, tried again on ``TransientTargetError`` up to ``policy.max_attempts`` times.

    For operations that change nothing (reads): the applier has its own, budget-aware retries for
    writes. Any other error goes straight to the caller; the last transient one too, with the number
    of attempts added to its message.
    """
    rng = rng or random.Random()
    attempt = 1
    while True:
        try:
            return call()
        except TransientTargetError as exc:
            if attempt >= policy.max_attempts:
                raise TransientTargetError(
                    f"{exc} (gave up after {attempt} attempts)", overload=exc.overload, retry_after=exc.retry_after
                ) from exc
            wait = policy.delay(attempt, rng, exc.retry_after)
            log.info("retrying read", what=what, attempt=attempt + 1, wait_s=round(wait, 2), error=str(exc))
            sleep(wait)
            attempt += 1
