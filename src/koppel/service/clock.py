"""The service's sense of time, injectable.

The scheduler, the session expiry and the login throttle ask a clock instead of the system, so a
test can say "it is Monday 21:59 in Amsterdam" and assert exactly when a cron schedule with a time
window fires, or that the sixth wrong password is refused for thirty seconds, without sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

__all__ = ["Clock", "ManualClock", "iso", "parse_iso", "system_clock"]

Clock = Callable[[], dt.datetime]
"""A function returning the current moment as an aware datetime."""


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that only moves when told to: for tests and simulations."""

    def __init__(self, start: dt.datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        with self._lock:
            self._now = moment

    def advance(self, seconds: float = 0.0, **delta: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(seconds=seconds, **delta)
            return self._now


def iso(moment: dt.datetime) -> str:
    """The state store's timestamp format: ISO-8601 UTC to the second, ``2026-11-28T21:00:00Z``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)  # Python 3.11 reads the Z
