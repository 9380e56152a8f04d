"""Runs cut off at their target's run timeout, in `koppel serve` (in-process) and in `koppel worker` alike.

Each run gets a thread of its own and a stop event. The timeout is the target's own ``[schedule]
run_timeout`` in koppel.toml, else the default: `koppel worker --run-timeout`, or 6 hours in `koppel
serve` (:class:`RunTimeouts`). A run that outlives it is asked to stop after the batches in flight and its
request fails "timed out after S s". When it does not end within ``min(30 s, S)`` — a LAS that never
answers holds the thread in a read nothing can interrupt — the request fails all the same ("the run did
not end") and the caller goes on: its slot is free for other tenants. The thread is left behind (Python
cannot end a thread); while it lives no second run of that target starts in this process
(:meth:`TimedRunner.hanging`), and its late outcome is not recorded over the timeout.

So a tenant whose LAS hangs, or whose target does not answer, costs a slot for its own timeout only;
after that the schedule's backoff (:class:`~koppel.service.queue.Backoff`) leaves it alone for a while.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from koppel.config import Config
from koppel.service.queue import RequestStatus, RunQueue, RunRequest
from koppel.service.worker import Worker

__all__ = ["DEFAULT_RUN_TIMEOUT_S", "GRACE_S", "TIMED_OUT", "ActiveRun", "RunTimeouts", "TimedRunner", "still_hangs"]

log = structlog.get_logger("koppel.service")

DEFAULT_RUN_TIMEOUT_S = 6 * 3600.0  # the run lock's lease
GRACE_S = 30.0  # after the timeout, how long a run may take to stop after its batch before it is left behind
TIMED_OUT = "timed out"
_POLL_S = 0.25  # how often a waiting run looks at the process's stop event


@dataclass(frozen=True)
class RunTimeouts:
    """How long a run of each (tenant, target) may take: its ``[schedule] run_timeout``, else ``default_s``."""

    default_s: float = DEFAULT_RUN_TIMEOUT_S
    per_target: Mapping[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config, *, default_s: float = DEFAULT_RUN_TIMEOUT_S) -> RunTimeouts:
        return cls(default_s, {(tenant.id, target.name): seconds
                               for tenant in config.tenants.values() for target in tenant.targets.values()
                               if (seconds := target.schedule.run_timeout_s) is not None})

    def __call__(self, tenant: str, target: str) -> float:
        return self.per_target.get((tenant, target), self.default_s)


@dataclass
class ActiveRun:
    """A run in this process: its request, thread and stop event; timed out: left behind, still hanging."""

    request_id: int
    thread: threading.Thread
    stop: threading.Event
    timed_out: bool = False


def still_hangs(active: ActiveRun) -> str:
    """Why a new request of a target whose timed-out run still hangs in this process fails at once."""
    return f"timed out: the run of request {active.request_id} still hangs in this process"


class TimedRunner:
    """Runs claimed requests through the :class:`Worker`, each cut off at its target's timeout.

    ``stop`` is the process's stop event (SIGTERM, `koppel serve` shutting down): while a run waits it is
    passed on to the run within a quarter of a second, and :meth:`shutdown` passes it on at once."""

    def __init__(self, worker: Worker, queue: RunQueue, *, timeouts: RunTimeouts | None = None,
                 grace_s: float = GRACE_S, stop: threading.Event | None = None):
        self.worker = worker
        self.queue = queue
        self.timeouts = timeouts if timeouts is not None else RunTimeouts()
        self.grace_s = grace_s
        self.stop = stop if stop is not None else threading.Event()
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], ActiveRun] = {}

    def shutdown(self) -> None:
        """Every running apply stops after the batches in flight."""
        self.stop.set()
        with self._lock:
            for active in self._active.values():
                active.stop.set()

    def active(self, key: tuple[str, str]) -> ActiveRun | None:
        """The run of (tenant, target) ``key`` whose thread still lives in this process (a timed-out one too)."""
        with self._lock:
            found = self._active.get(key)
        return found if found is not None and found.thread.is_alive() else None

    def hanging(self, key: tuple[str, str]) -> ActiveRun | None:
        """The timed-out run of ``key`` that still hangs in this process, if any."""
        found = self.active(key)
        return found if found is not None and found.timed_out else None

    def run(self, request: RunRequest) -> str:
        """Run the claimed ``request`` within its target's timeout; its outcome: a :class:`RequestStatus` value,
        or :data:`TIMED_OUT` (the request then failed as timed out). An exception the run raised that the
        worker does not record (not a KoppelError: a bug, the database gone) is raised here, the request left
        as it was for the caller to finish."""
        timeout_s = self.timeouts(request.tenant, request.target)
        grace_s = min(self.grace_s, timeout_s)
        stop = threading.Event()
        if self.stop.is_set():
            stop.set()
        result: list[str] = []
        errors: list[BaseException] = []

        def target() -> None:
            try:
                result.append(self.worker.execute(request, stop).status.value)
            except BaseException as exc:  # re-raised in the caller's thread below
                errors.append(exc)

        thread = threading.Thread(target=target, name=f"koppel-run-{request.id}", daemon=True)
        active = ActiveRun(request.id, thread, stop)
        with self._lock:
            self._active[request.key] = active
        thread.start()
        deadline = time.monotonic() + timeout_s
        while thread.is_alive():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.stop.is_set():
                stop.set()
            thread.join(min(left, _POLL_S))
        cut_off = thread.is_alive()
        if cut_off:
            log.warning("run timed out: asking it to stop", request=request.id, tenant=request.tenant,
                        target=request.target, timeout_s=timeout_s)
            stop.set()
            thread.join(grace_s)
        if thread.is_alive():
            message = (f"timed out after {timeout_s:g} s: the run did not end (the source or the target does not "
                       "answer)")
            self.queue.finish(request.id, RequestStatus.FAILED, message=message, if_running=True)
            active.timed_out = True
            log.error("run timed out and left behind", request=request.id, tenant=request.tenant,
                      target=request.target, timeout_s=timeout_s)
            return TIMED_OUT  # _active keeps the thread: no second run of this target here while it lives
        with self._lock:
            if self._active.get(request.key) is active:
                del self._active[request.key]
        if errors:
            raise errors[0]
        if cut_off and not self.stop.is_set():
            # stopped by the timeout (not by a shutdown) after the batches in flight: a failure (the backoff
            # counts it), whatever the worker recorded (done "stopped", or queued again by `koppel worker`)
            ran = self.queue.get(request.id)
            self.queue.finish(request.id, RequestStatus.FAILED, run_id=ran.run_id if ran else None,
                              message=f"timed out after {timeout_s:g} s: stopped after the batches in flight")
            return TIMED_OUT
        return result[0]
