"""Trouble on purpose: transient faults and permanent per-object failures.

A client is only as good as its handling of a bad day, so the sandbox can make one, reproducibly:

* **transient faults** — ``fail_rate`` of requests get HTTP 500 + SOAP fault, drawn from an RNG seeded
  with ``seed``; ``fail_mode`` decides whether the request was processed first (``after``: written, the
  answer lost — a retry must be harmless) or not (``before``).
* **permanent failures** — ``permanent_fail_rate`` of *objects* always fail with ``invaliddata``; which
  ones is decided by hashing the sync key with the seed, so a retry fails the same way.

Overload is not injected here: it follows from the capacity model (:mod:`.capacity`), which answers
HTTP 503 as IIS does. (itslearning documents no ``targetisbusy`` status, so the sandbox sends none.)
"""

from __future__ import annotations

import hashlib
import random
import threading
from enum import Enum

from .config import FailMode, SandboxConfig
from .model import ObjectKind

__all__ = ["FaultInjector", "InjectedFault"]


class InjectedFault(Enum):
    NONE = "none"
    BEFORE = "before"
    AFTER = "after"


class FaultInjector:
    def __init__(self, config: SandboxConfig):
        self._rate = config.fail_rate
        self._mode = config.fail_mode
        self._permanent_rate = config.permanent_fail_rate
        self._seed = config.seed
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Start the fault sequence again from the seed (after a sandbox reset)."""
        with self._lock:
            self._rng.seed(self._seed)

    def draw(self) -> InjectedFault:
        """Whether the next request fails, and when. One or two draws per request, in arrival order."""
        with self._lock:
            if self._rng.random() >= self._rate:
                return InjectedFault.NONE
            if self._mode is FailMode.MIXED:
                return InjectedFault.BEFORE if self._rng.random() < 0.5 else InjectedFault.AFTER
        return InjectedFault.BEFORE if self._mode is FailMode.BEFORE else InjectedFault.AFTER

    def doomed(self, kind: ObjectKind, key: str) -> bool:
        """True for the objects ``permanent_fail_rate`` picks; stable for a given seed and key."""
        if self._permanent_rate <= 0.0:
            return False
        digest = hashlib.sha256(f"{self._seed}\x1f{kind.value}\x1f{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self._permanent_rate
