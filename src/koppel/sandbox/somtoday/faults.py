"""Trouble on purpose, reproducibly: each API request draws once from an RNG seeded with the sandbox's seed.

One draw decides one of: nothing, HTTP 500 (``fail_rate``), HTTP 401 for a valid token
(``unauthorized_rate``: access revoked under the client's feet), or a 200 whose JSON is cut off
halfway (``malformed_rate``: a connection dropped mid-body by a proxy). With the same seed and the
same order of requests, the same requests fail.
"""

from __future__ import annotations

import random
import threading
from enum import Enum

from .config import SandboxConfig

__all__ = ["Fault", "FaultInjector"]


class Fault(Enum):
    NONE = "none"
    SERVER_ERROR = "server-error"
    UNAUTHORIZED = "unauthorized"
    MALFORMED = "malformed"


class FaultInjector:
    def __init__(self, config: SandboxConfig) -> None:
        self._seed = config.seed
        self._bands = (
            (config.fail_rate, Fault.SERVER_ERROR),
            (config.fail_rate + config.unauthorized_rate, Fault.UNAUTHORIZED),
            (config.fail_rate + config.unauthorized_rate + config.malformed_rate, Fault.MALFORMED),
        )
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def draw(self) -> Fault:
        with self._lock:
            value = self._rng.random()
        for upper, fault in self._bands:
            if value < upper:
                return fault
        return Fault.NONE

    def reset(self) -> None:
        with self._lock:
            self._rng.seed(self._seed)
