"""How far the runs of this service are: the phase and the changes done of each (tenant, target) at work.

The workers run in this process (the scheduler's thread pool), so the board is plain memory: a worker
says when it starts planning and applying, the applier's progress callback (``Koppel.sync`` and
``Koppel.approve`` take ``progress=``) moves the count, and the dashboard reads a snapshot. One run per
(tenant, target) works at a time (the state store's lock), so that pair is the key. A run started
elsewhere (the command line) is not on the board: the dashboard shows its lock instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["Phase", "ProgressBoard", "RunProgress"]


class Phase(StrEnum):
    PLANNING = "planning"  # reading the LAS and the state, making the plan
    APPLYING = "applying"  # sending the plan's changes to the target


@dataclass(frozen=True)
class RunProgress:
    tenant: str
    target: str
    request_id: int
    phase: Phase
    done: int = 0
    total: int | None = None  # the plan's changes, once there is a plan
    plan_id: str | None = None

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, (100 * self.done) // self.total)


class ProgressBoard:
    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], RunProgress] = {}
        self._lock = threading.Lock()

    def start(self, tenant: str, target: str, request_id: int, phase: Phase, *, plan_id: str | None = None) -> None:
        with self._lock:
            self._runs[(tenant, target)] = RunProgress(tenant, target, request_id, phase, plan_id=plan_id)

    def applying(self, tenant: str, target: str, *, total: int, plan_id: str | None = None) -> None:
        self._move(tenant, target, phase=Phase.APPLYING, total=total, plan_id=plan_id)

    def advance(self, tenant: str, target: str, done: int, total: int) -> None:
        """The applier's callback: ``done`` of ``total`` changes."""
        self._move(tenant, target, phase=Phase.APPLYING, done=done, total=total)

    def _move(self, tenant: str, target: str, **changed: object) -> None:
        with self._lock:
            current = self._runs.get((tenant, target))
            if current is not None:
                values = {k: v for k, v in changed.items() if v is not None}
                self._runs[(tenant, target)] = replace(current, **values)  # type: ignore[arg-type]

    def finish(self, tenant: str, target: str, request_id: int) -> None:
        with self._lock:
            current = self._runs.get((tenant, target))
            if current is not None and current.request_id == request_id:
                del self._runs[(tenant, target)]

    def get(self, tenant: str, target: str) -> RunProgress | None:
        with self._lock:
            return self._runs.get((tenant, target))
