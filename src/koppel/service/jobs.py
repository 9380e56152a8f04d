"""Runs as procrastinate jobs on the state's PostgreSQL (``[service] engine = "procrastinate"``).

For a service provider one `koppel serve` process is not enough: the runs of hundreds of tenants go to
any number of `koppel worker` processes, on any number of machines. The queue is procrastinate's,
in the PostgreSQL that already holds the state (no second broker to run):

* every request still becomes a row in ``run_requests`` (the record the dashboard shows); when the
  engine is procrastinate, :class:`Deferrer` also defers one job per request, with
  ``lock = "tenant/target"`` (one run per target at a time across all workers) and a
  ``queueing_lock`` (one job waiting per target; a conflict is "already queued", not an error: the
  waiting job takes the request);
* `koppel worker` runs :class:`JobRunner` — the same :class:`~koppel.service.worker.Worker` the
  in-process scheduler uses, so the run logic is not duplicated;
* a worker killed mid-run stops sending heartbeats; every worker looks for such stalled jobs and
  retries them, and the retried run converges from the journal (the run lock of a process that no
  longer runs is stale at once, the next run re-plans against what was recorded);
* SIGTERM stops the running applies after their batch and queues their requests again (the job is
  retried, :class:`RunInterrupted`); a run past its target's ``run_timeout`` (else ``--run-timeout``)
  fails (:class:`JobRunner`, :mod:`koppel.service.timed`); the
  database restarting is waited out (:func:`run_worker`);
* :class:`JobView` tells the dashboard what the queue says of each pending request's job.

procrastinate's own schema is applied by :func:`ensure_schema`, idempotently (under an advisory lock,
only when its tables are missing), when `koppel serve` or `koppel worker` starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from koppel.config import Config, SettingLocator
from koppel.errors import ConfigError, ConfigProblem
from koppel.pipeline import Koppel
from koppel.service.clock import iso, system_clock
from koppel.service.notify import Notifier
from koppel.service.queue import RequestKind, RequestStatus, RunQueue, RunRequest
from koppel.service.settings import ServiceSettings
from koppel.service.timed import DEFAULT_RUN_TIMEOUT_S, GRACE_S, RunTimeouts, TimedRunner, still_hangs
from koppel.service.worker import Worker

__all__ = ["ENGINE", "QUEUE", "TASK", "Deferrer", "JobRunner", "JobView", "RunInterrupted", "check_engine", "conninfo",
           "ensure_schema", "run_worker"]

log = structlog.get_logger("koppel.jobs")

ENGINE = "procrastinate"
QUEUE = "koppel"
TASK = "koppel.run"
_SCHEMA_LOCK = 0x6B6F7070  # the advisory lock under which one process applies procrastinate's schema


def conninfo(state_url: str) -> str:
    """The libpq address of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, sep, rest = state_url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def is_postgres(state_url: str) -> bool:
    return state_url.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def check_engine(config: Config, settings: ServiceSettings, env: Mapping[str, str] | None = None) -> None:
    """Refuse ``engine = "procrastinate"`` unless the state is on PostgreSQL, naming the file and line."""
    if settings.engine != ENGINE or is_postgres(config.state_url(env)):
        return
    text = config.path.read_text(encoding="utf-8") if config.path and config.path.exists() else ""
    raise ConfigError([ConfigProblem(
        'engine = "procrastinate" needs the state on PostgreSQL ([state] url = "postgresql+psycopg://…"); '
        'the state here is not, so use engine = "in-process" or move the state to PostgreSQL',
        setting="service.engine", file=str(config.path) if config.path else "<config>",
        line=SettingLocator(text)(("service", "engine")))])


def ensure_schema(state_url: str) -> bool:
    """Apply procrastinate's schema when it is missing; True when it was applied now. Safe to call from
    several processes at once (an advisory lock serialises them) and on every start."""
    import psycopg
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo(state_url)) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if row is not None and row[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema())
    log.info("procrastinate schema applied")
    return True


def _locks(request: RunRequest) -> tuple[str, str]:
    """(lock, queueing_lock): one run per target at a time; one sync waiting, one approval per plan."""
    lock = f"{request.tenant}/{request.target}"
    if request.kind is RequestKind.APPROVE:
        return lock, f"{lock}/approve/{request.plan_id}"
    return lock, lock


_JOBS_SQL = """
SELECT j.id, j.status::text AS status, j.lock, j.queueing_lock, (j.args->>'request_id')::bigint AS request_id,
       j.attempts, j.worker_id, j.scheduled_at,
       (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started') AS started_at
  FROM procrastinate_jobs j
 WHERE j.queue_name = :queue AND j.lock = ANY(:locks)
   AND (j.status IN ('todo', 'doing') OR (j.args->>'request_id')::bigint = ANY(:ids))
 ORDER BY j.id
"""


def _iso(moment: Any) -> str | None:
    return iso(moment) if moment is not None else None


class JobView:
    """What procrastinate's queue says of pending requests (the dashboard's queue view): the job waits for
    a worker, runs on worker W since T, is to be retried (attempt n), failed — or is missing, a request
    whose job vanished (deleted by hand, a database restored without it). Reads ``procrastinate_jobs``
    in the state's database, one query per call."""

    def __init__(self, engine: Any):
        self.engine = engine

    def __call__(self, requests: list[RunRequest]) -> list[RunRequest]:
        from sqlalchemy import text

        locks = sorted({_locks(r)[0] for r in requests})
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text(_JOBS_SQL), {"queue": QUEUE, "locks": locks,
                                                      "ids": [r.id for r in requests]}).all()
        except Exception as exc:  # the dashboard still shows the requests, without their jobs
            log.warning("reading procrastinate's queue failed", error=repr(exc))
            return requests
        return [self._annotate(r, rows) for r in requests]

    @staticmethod
    def _annotate(request: RunRequest, rows: list[Any]) -> RunRequest:
        lock, queueing_lock = _locks(request)
        own = [j for j in rows if j.request_id == request.id]
        if request.status is RequestStatus.RUNNING:
            # the job running this target's lock runs it (a waiting job may have taken the request over)
            job = next((j for j in rows if j.lock == lock and j.status == "doing"), None)
        else:
            job = next((j for j in own if j.status in ("todo", "doing")), None) or next(
                (j for j in rows if j.queueing_lock == queueing_lock and j.status == "todo"), None)
        if job is None:
            failed = next((j for j in reversed(own) if j.status == "failed"), None)
            if failed is not None:
                return replace(request, job_status="failed", job_id=failed.id, job_attempts=failed.attempts)
            return replace(request, job_status="missing")
        if job.status == "doing":
            return replace(request, job_status="running" if request.status is RequestStatus.RUNNING else "waiting",
                           job_id=job.id, job_worker=job.worker_id, job_since=_iso(job.started_at),
                           job_attempts=job.attempts)
        if job.attempts:
            return replace(request, job_status="retrying", job_id=job.id, job_attempts=job.attempts,
                           job_since=_iso(job.scheduled_at))
        return replace(request, job_status="waiting", job_id=job.id)


class Deferrer:
    """Defers a job for each new request (used by `koppel serve` when the engine is procrastinate)."""

    def __init__(self, state_url: str, queue: RunQueue):
        import procrastinate

        ensure_schema(state_url)
        self.queue = queue
        self.app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(state_url)))
        self.app.open()
        queue.job_view = JobView(queue.store.engine)

    def __call__(self, request: RunRequest) -> int | None:
        """Defer the job; None when an equivalent one already waits (the request is then skipped)."""
        from procrastinate.exceptions import AlreadyEnqueued

        lock, queueing_lock = _locks(request)
        try:
            job_id = self.app.configure_task(TASK, queue=QUEUE, lock=lock, queueing_lock=queueing_lock).defer(
                request_id=request.id)
        except AlreadyEnqueued:
            # A job for this target already waits (another `koppel serve` raced this one): it takes this
            # request when it runs (see JobRunner.run), so the request stays queued.
            log.info("already queued", request=request.id, tenant=request.tenant, target=request.target)
            return None
        log.info("job deferred", request=request.id, job=job_id, tenant=request.tenant, target=request.target)
        return job_id

    def close(self) -> None:
        self.app.close()


class RunInterrupted(Exception):
    """The job's run stopped after a batch because the worker is shutting down: procrastinate retries the
    job (:data:`RETRY`), and the next attempt continues from the journal."""


class DatabaseAway(RunInterrupted):
    """The job's run ended because the state's database went away (PostgreSQL restarting): its request is
    left running, and the retried job takes it over and converges from the journal."""


def _database_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (not a bug, not bad data)."""
    import psycopg
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa.OperationalError | sa.InterfaceError | psycopg.OperationalError | psycopg.InterfaceError)


# Only an interrupted run (a SIGTERM, the database going away) is retried by procrastinate; a failed run is retried by the schedule (with the
# target's backoff, koppel.service.queue.Backoff) or by a person, and a stalled job by _retry_stalled.
RETRY_WAIT_S = 2


class JobRunner:
    """What a job does in `koppel worker`: the request's run, through the in-process worker's code.

    Each run gets its own thread and stop event (:class:`~koppel.service.timed.TimedRunner`, shared with
    `koppel serve`). SIGTERM sets every stop event (the applies stop after the batches in flight and their
    requests are queued again); a run that outlives its target's run timeout (``[schedule] run_timeout``,
    else ``--run-timeout``) is asked to stop too and, when it does not within ``timeout_grace_s`` (a LAS
    that never answers), its request fails as timed out and the job ends — the thread is left behind
    (Python cannot end it), no second run of that target starts in this process while it lives, and its
    late outcome is not recorded over the timeout."""

    def __init__(self, koppel: Koppel, queue: RunQueue, worker: Worker, *, timeouts: RunTimeouts | None = None,
                 timeout_grace_s: float = GRACE_S):
        self.koppel = koppel
        self.queue = queue
        self.worker = worker
        worker.requeue_stopped = True
        self.runner = TimedRunner(worker, queue, timeouts=timeouts, grace_s=timeout_grace_s)
        self.stop = self.runner.stop  # set by the first SIGTERM / SIGINT (run_worker)

    @classmethod
    def open(cls, config: Config, settings: ServiceSettings, env: Mapping[str, str] | None = None, *,
             run_timeout_s: float = DEFAULT_RUN_TIMEOUT_S) -> JobRunner:
        """The runner of `koppel worker`; ``run_timeout_s`` (``--run-timeout``) for the targets without
        their own ``run_timeout``."""
        env = dict(env if env is not None else os.environ)
        koppel = Koppel.open(config, env=env, clock=system_clock)
        queue = RunQueue(koppel.store, clock=system_clock)
        notifier = Notifier.from_settings(settings, config=config, env=env, store=koppel.store, clock=system_clock)
        return cls(koppel, queue, Worker(koppel, queue, settings=settings, notifier=notifier),
                   timeouts=RunTimeouts.from_config(config, default_s=run_timeout_s))

    def shutdown(self) -> None:
        """SIGTERM: every running apply stops after the batches in flight."""
        self.runner.shutdown()

    def run(self, request_id: int) -> str:
        """Run request ``request_id``; returns its outcome. A request left running by a worker that died
        (its stalled job retried) is taken over. When the request was already finished, the job runs the
        oldest equivalent request still queued (whose own job the queueing lock refused), if any."""
        request = self.queue.get(request_id)
        if request is None:
            log.warning("job for an unknown request", request=request_id)
            return "unknown"
        if request.status is RequestStatus.RUNNING:
            log.warning("taking over a run whose worker stopped", request=request.id, tenant=request.tenant,
                        target=request.target)
        elif request.status is not RequestStatus.QUEUED:
            waiting = [r for r in self.queue.pending(request.tenant, request.target)
                       if r.status is RequestStatus.QUEUED and r.kind is request.kind and r.plan_id == request.plan_id]
            if not waiting:
                return request.status.value
            request = waiting[0]
        here = self.runner.active(request.key)
        if here is not None:
            if not here.timed_out:
                # this job was retried as stalled while its run still goes on here (the heartbeats could not
                # reach the database for a while): the running one finishes the request
                log.warning("job retried while its run still runs in this worker", request=here.request_id)
                return "running here"
            # a timed-out run of this target still hangs in this process: do not start a second one
            if request.status is RequestStatus.QUEUED and not self.queue.claim(request.id):
                return "claimed elsewhere"
            self.queue.finish(request.id, RequestStatus.FAILED, message=still_hangs(here))
            return "failed"
        if request.status is RequestStatus.QUEUED and not self.queue.claim(request.id):
            return "claimed elsewhere"
        request = self.queue.get(request.id) or request
        self._release_orphan_lock(request)
        outcome = self._run_with_timeout(request)
        if request.kind is RequestKind.SYNC and outcome != RequestStatus.QUEUED:
            self._absorb(request)
        if outcome == RequestStatus.QUEUED:
            raise RunInterrupted(f"request {request.id} stopped after a batch: the worker is shutting down")
        return outcome

    def _run_with_timeout(self, request: RunRequest) -> str:
        try:
            return self.runner.run(request)
        except BaseException as exc:  # not a KoppelError (the worker records those): a bug or the database gone
            if _database_gone(exc):
                # The run could not even record its failure: retried (the job), taken over (the request).
                log.warning("the database went away during the run; the job is retried", request=request.id,
                            error=type(exc).__name__)
                raise DatabaseAway(f"request {request.id}: the database went away during the run") from exc
            self.queue.finish(request.id, RequestStatus.FAILED, message=f"internal error: {exc!r}")
            raise

    def _release_orphan_lock(self, request: RunRequest) -> None:
        """A run lock held by this very process for a target it is not running is an orphan: its run ended
        while the database was away, so the lock could not be removed (it would hold the target for its
        whole lease, since the process still lives). Another process's lock is left to the lock's rules."""
        store = self.koppel.store
        lock = store.locks.current_lock(request.tenant, request.target)
        if lock is not None and lock.pid == os.getpid() and lock.host == socket.gethostname():
            log.warning("removing this worker's orphaned run lock", tenant=request.tenant, target=request.target,
                        since=lock.acquired_at)
            store.remove_lock(request.tenant, request.target, lock.holder)

    def _absorb(self, ran: RunRequest) -> None:
        """Syncs of the same target queued while this one waited (two `koppel serve` racing) are answered
        by this run, as the queue answers a second "nu synchroniseren"."""
        for other in self.queue.pending(ran.tenant, ran.target):
            if other.status is RequestStatus.QUEUED and other.kind is RequestKind.SYNC and other.id != ran.id \
                    and other.requested_at <= (ran.started_at or other.requested_at):
                self.queue.finish(other.id, RequestStatus.SKIPPED, message=f"already queued: ran as request {ran.id}")

    def close(self) -> None:
        self.koppel.store.close()


def _app(state_url: str, runner: JobRunner) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(state_url)))

    @app.task(name=TASK, queue=QUEUE,
              retry=procrastinate.RetryStrategy(wait=RETRY_WAIT_S, retry_exceptions={RunInterrupted}))
    def run(request_id: int) -> str:
        return runner.run(request_id)

    return app


async def _retry_stalled(app: Any, *, stalled_after_s: float) -> None:
    """Retry the jobs of workers that stopped sending heartbeats (killed, machine gone)."""
    while True:
        try:
            stalled = await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stalled_after_s)
            for job in stalled:
                log.warning("retrying a stalled job", job=job.id, lock=job.lock, worker=job.worker_id)
                await app.job_manager.retry_job(job)
        except Exception as exc:  # the database restarting: try again at the next round
            log.warning("looking for stalled jobs failed", error=repr(exc))
        await asyncio.sleep(max(1.0, stalled_after_s / 3))


def run_worker(config: Config, settings: ServiceSettings, *, concurrency: int = 1, stalled_after_s: float = 30.0,
               run_timeout_s: float = DEFAULT_RUN_TIMEOUT_S, stop_timeout_s: float = 600.0,
               env: Mapping[str, str] | None = None) -> None:
    """`koppel worker`: run koppel's jobs until SIGTERM or SIGINT.

    The first signal stops taking jobs and asks every running apply to stop after the batches in flight;
    their requests are queued again and the jobs retried elsewhere. A second signal, or ``stop_timeout_s``
    after the first, ends the process at once (exit 1 on the timeout): its jobs then count as stalled and
    are retried by the other workers, from the journal. The database going away (PostgreSQL restarting)
    ends procrastinate's worker loop; this process then waits for the database and starts it again, so
    it lives through a restart (systemd's ``Restart=on-failure`` covers the rest)."""
    check_engine(config, settings, env)
    url = config.state_url(env)
    if not is_postgres(url):
        raise ConfigError([ConfigProblem("koppel worker needs the state on PostgreSQL ([state] url)",
                                         setting="state.url", file=str(config.path) if config.path else None)])
    ensure_schema(url)
    runner = JobRunner.open(config, settings, env, run_timeout_s=run_timeout_s)
    app = _app(url, runner)
    name = f"koppel@{socket.gethostname()}:{os.getpid()}"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        work: asyncio.Task[None] | None = None

        def give_up() -> None:
            log.error("stop timeout: leaving the running jobs to the other workers", timeout_s=stop_timeout_s)
            os._exit(1)

        def on_signal(signum: int) -> None:
            log.info("stopping: the running applies stop after their batch", signal=signal.Signals(signum).name)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_DFL)  # a second signal ends the process at once
            runner.shutdown()
            loop.call_later(stop_timeout_s, give_up)
            if work is not None:
                work.cancel()  # procrastinate's graceful stop: no new job, the running ones end

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        async with app.open_async():
            retry = asyncio.create_task(_retry_stalled(app, stalled_after_s=stalled_after_s))
            pause = 1.0
            try:
                while not runner.stop.is_set():
                    work = asyncio.create_task(app.run_worker_async(
                        queues=[QUEUE], concurrency=concurrency, name=name, install_signal_handlers=False,
                        update_heartbeat_interval=max(0.5, stalled_after_s / 4),
                        stalled_worker_timeout=stalled_after_s))
                    try:
                        await work
                        pause = 1.0
                    except asyncio.CancelledError:
                        if not runner.stop.is_set():
                            raise
                    except Exception as exc:  # the database went away (PostgreSQL restarting)
                        if runner.stop.is_set():
                            break
                        log.warning("worker loop ended; waiting for the database", error=repr(exc), retry_in_s=pause)
                        await _wait_for_database(url, pause, runner.stop)
                        pause = min(pause * 2, 30.0)
            finally:
                retry.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retry

    log.info("worker starting", name=name, concurrency=concurrency)
    try:
        asyncio.run(main())
    finally:
        runner.close()
    log.info("worker stopped", name=name)


async def _wait_for_database(state_url: str, first_pause_s: float, stop: threading.Event) -> None:
    """Sleep, then until the database answers again (or the worker is asked to stop)."""
    import psycopg

    pause = first_pause_s
    while not stop.is_set():
        await asyncio.sleep(pause)
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo(state_url), connect_timeout=3)
        except psycopg.OperationalError:
            pause = min(pause * 2, 30.0)
            continue
        await conn.close()
        log.info("the database answers again; worker loop restarting")
        return
