"""The scheduler: when each (tenant, target) runs, and the workers that run what is queued.

One thread decides and dispatches; a small pool of worker threads runs. Each pass (:meth:`tick`
then :meth:`dispatch`) it

1. queues a sync for every scheduled target whose moment has come (``Schedule.next_due``, computed
   from the start of the target's last run — so a restart after downtime yields one catch-up run,
   not a pile of missed ones); after failed syncs in a row the moment is pushed out by the target's
   :class:`~koppel.service.queue.Backoff` (its ``[schedule]`` backoff_initial, backoff_factor and
   backoff_max: 5 minutes, doubling, at most 6 hours unless set), so a tenant whose LAS hangs or whose
   target is down does not take a worker every time its schedule comes round — "nu synchroniseren" is
   not held back;
2. hands queued requests (scheduled, "nu synchroniseren", approvals) to free workers — at most one
   per (tenant, target) inside this process, and the state store's lock guards against other
   processes (a busy lock makes the request *skipped*). Each run is cut off at its target's run
   timeout (:mod:`koppel.service.timed`): a run that hangs frees its worker after that, and until
   its thread ends a new request of that target fails at once instead of hanging a second worker;
3. keeps the dashboard quick in the background: counts finished runs for the chart and parses
   newly held plans before anyone opens them.

Time comes from an injected clock, so tests call ``tick`` at exact moments. :meth:`shutdown` sets
the stop event every running apply watches: batches in flight finish and are recorded, nothing
new is sent, and the run ends as ``stopped`` for the next one to continue.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import structlog

from koppel.config import Config
from koppel.errors import ConfigError, ConfigProblem
from koppel.service.clock import Clock, parse_iso
from koppel.service.plancache import PlanCache
from koppel.service.queue import RequestKind, RequestStatus, RunQueue, RunRequest, Trigger
from koppel.service.schedule import Schedule, ScheduleError
from koppel.service.stats import RunStats, refresh_planner_statistics, since_days
from koppel.service.timed import RunTimeouts, TimedRunner, still_hangs
from koppel.service.worker import Worker
from koppel.state.store import StateStore

__all__ = ["Job", "Scheduler", "load_schedules"]

log = structlog.get_logger("koppel.scheduler")

CHART_DAYS = 90


@dataclass
class Job:
    tenant: str
    target: str
    schedule: Schedule
    next_due: dt.datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.tenant, self.target


def load_schedules(config: Config) -> dict[tuple[str, str], Schedule]:
    """Every enabled schedule, parsed; raise a ConfigError listing each unreadable one with its line."""
    problems: list[ConfigProblem] = []
    schedules: dict[tuple[str, str], Schedule] = {}
    for tenant in config.tenants.values():
        for target in tenant.targets.values():
            if not (target.enabled and target.schedule.enabled):
                continue
            try:
                schedules[(tenant.id, target.name)] = Schedule.from_settings(target.schedule)
            except ScheduleError as exc:
                loc = ("tenants", tenant.id, "targets", target.name, "schedule", exc.setting)
                file, line = config.locate(loc)  # the tenant's own file when it is included
                problems.append(ConfigProblem(str(exc), setting=".".join(loc), file=str(file) if file else None,
                                              line=line))
    if problems:
        raise ConfigError(problems)
    return schedules


class Scheduler:
    def __init__(self, store: StateStore, queue: RunQueue, worker: Worker | None, *,
                 schedules: dict[tuple[str, str], Schedule], clock: Clock, workers: int = 1, poll_s: float = 2.0,
                 plans: PlanCache | None = None, recover: bool = True, run_timeouts: RunTimeouts | None = None):
        self.store = store
        # False when `koppel worker` processes run the queue (engine procrastinate): a request running
        # there is not left over from this process.
        self._recover = recover
        self.queue = queue
        self.worker = worker
        self.clock = clock
        self.poll_s = poll_s
        self.jobs = {key: Job(key[0], key[1], schedule) for key, schedule in schedules.items()}
        self.stop = threading.Event()  # set on shutdown: running applies finish their batches and stop
        # Each run in a thread of its own, cut off at its target's run timeout (None: `koppel worker`s run).
        self.runner = (TimedRunner(worker, queue, timeouts=run_timeouts, stop=self.stop)
                       if worker is not None else None)
        self._wake = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="koppel-run")
        self._workers = workers
        self._running: dict[tuple[str, str], Future[str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stats = RunStats(store)
        self._plans = plans

    # -- planning the next runs ---------------------------------------------------------------

    def start(self) -> None:
        """Work out every job's next moment from its last run (catch-up included)."""
        recovered = self.queue.recover() if self._recover else 0
        if recovered:
            log.warning("requests left running by a stopped service marked failed", count=recovered)
        now = self.clock()
        for job in self.jobs.values():
            job.next_due = job.schedule.next_due(last=self._last_start(job), now=now)
            log.info("scheduled", tenant=job.tenant, target=job.target,
                     next=job.next_due.isoformat() if job.next_due else None)

    def _last_start(self, job: Job) -> dt.datetime | None:
        runs = self.store.runs(job.tenant, job.target, limit=1)
        return parse_iso(runs[0].started_at) if runs else None

    def next_run(self, tenant: str, target: str) -> dt.datetime | None:
        """The next scheduled run, pushed out by the backoff when the last syncs failed."""
        job = self.jobs.get((tenant, target))
        if job is None or job.next_due is None:
            return None
        held = self.queue.backoff_of(tenant, target)
        return max(job.next_due, held.until) if held is not None else job.next_due

    def tick(self) -> list[RunRequest]:
        """Queue a sync for every job whose moment has come (and whose backoff is over); returns what was
        queued."""
        now = self.clock()
        queued = []
        for job in self.jobs.values():
            if job.next_due is None or job.next_due > now:
                continue
            held = self.queue.backoff_of(job.tenant, job.target)
            if held is not None and held.until > now:
                job.next_due = held.until
                log.info("backing off after failed runs", tenant=job.tenant, target=job.target,
                         failures=held.failures, next=held.until.isoformat())
                continue
            request = self.queue.enqueue(job.tenant, job.target, kind=RequestKind.SYNC, trigger=Trigger.SCHEDULE,
                                         by=None)
            queued.append(request)
            job.next_due = job.schedule.next_due(last=now, now=now)
            log.info("run due", tenant=job.tenant, target=job.target, request=request.id,
                     next=job.next_due.isoformat() if job.next_due else None)
        return queued

    # -- running -----------------------------------------------------------------------------------

    def dispatch(self) -> list[RunRequest]:
        """Start queued requests on free workers, one per (tenant, target); returns what started."""
        if self.runner is None or self.stop.is_set():
            return []
        started = []
        with self._lock:
            self._running = {k: f for k, f in self._running.items() if not f.done()}
            for request in self.queue.queued():
                if len(self._running) >= self._workers:
                    break
                if request.key in self._running:
                    continue
                hanging = self.runner.hanging(request.key)
                if hanging is not None:
                    # its timed-out run still hangs here (holding the target's run lock): fail at once rather
                    # than tie up a second worker
                    if self.queue.claim(request.id):
                        self.queue.finish(request.id, RequestStatus.FAILED, message=still_hangs(hanging))
                    continue
                if not self.queue.claim(request.id):
                    continue
                claimed = self.queue.get(request.id) or request
                future = self._pool.submit(self.runner.run, claimed)
                future.add_done_callback(functools.partial(self._done, request=claimed))
                self._running[request.key] = future
                started.append(claimed)
        return started

    def _done(self, future: Future[str], request: RunRequest) -> None:
        error = future.exception()
        if error is not None:  # not a KoppelError (the worker records those): a bug or the database gone
            log.error("run crashed", request=request.id, error=repr(error), exc_info=error)
            self.queue.finish(request.id, RequestStatus.FAILED, message=f"internal error: {error!r}")
        self._wake.set()

    def busy(self) -> bool:
        with self._lock:
            return any(not f.done() for f in self._running.values())

    def wake(self) -> None:
        """Look at the queue now (a person pressed "nu synchroniseren")."""
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------------

    def run_forever(self) -> None:
        self.start()
        self._maintain(analyze=True)
        while not self.stop.is_set():
            self.tick()
            self.dispatch()
            self._maintain(analyze=False)
            self._wake.wait(self._sleep_s())
            self._wake.clear()

    def _sleep_s(self) -> float:
        now = self.clock()
        dues = [j.next_due for j in self.jobs.values() if j.next_due is not None]
        until = min(((d - now).total_seconds() for d in dues), default=self.poll_s)
        return max(0.05, min(self.poll_s, until))

    def _maintain(self, *, analyze: bool) -> None:
        """Background upkeep between runs: chart counts, parsed held plans, planner statistics."""
        self._stats.backfill(since=since_days(self.clock(), CHART_DAYS), limit=5)
        if self._plans is not None:
            self._plans.warm()
        if analyze:
            refresh_planner_statistics(self.store)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="koppel-scheduler", daemon=True)
        self._thread.start()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop: running applies finish the batches in flight and end as ``stopped``; queued runs wait."""
        self.stop.set()
        if self.runner is not None:
            self.runner.shutdown()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._pool.shutdown(wait=wait)
