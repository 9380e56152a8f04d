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
  longer runs is stale at once, the next run re-plans against what was recorded).

procrastinate's own schema is applied by :func:`ensure_schema`, idempotently (under an advisory lock,
only when its tables are missing), when `koppel serve` or `koppel worker` starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Mapping
from typing import Any

import structlog

from koppel.config import Config, SettingLocator
from koppel.errors import ConfigError, ConfigProblem
from koppel.pipeline import Koppel
from koppel.service.clock import system_clock
from koppel.service.notify import Notifier
from koppel.service.queue import RequestKind, RequestStatus, RunQueue, RunRequest
from koppel.service.settings import ServiceSettings
from koppel.service.worker import Worker

__all__ = ["ENGINE", "QUEUE", "TASK", "Deferrer", "JobRunner", "check_engine", "conninfo", "ensure_schema",
           "run_worker"]

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


class Deferrer:
    """Defers a job for each new request (used by `koppel serve` when the engine is procrastinate)."""

    def __init__(self, state_url: str, queue: RunQueue):
        import procrastinate

        ensure_schema(state_url)
        self.queue = queue
        self.app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(state_url)))
        self.app.open()

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


class JobRunner:
    """What a job does in `koppel worker`: the request's run, through the in-process worker's code."""

    def __init__(self, koppel: Koppel, queue: RunQueue, worker: Worker):
        self.koppel = koppel
        self.queue = queue
        self.worker = worker
        self.stop = threading.Event()  # never set by SIGTERM: procrastinate lets the job finish

    @classmethod
    def open(cls, config: Config, settings: ServiceSettings, env: Mapping[str, str] | None = None) -> JobRunner:
        env = dict(env if env is not None else os.environ)
        koppel = Koppel.open(config, env=env, clock=system_clock)
        queue = RunQueue(koppel.store, clock=system_clock)
        notifier = Notifier.from_settings(settings, config=config, env=env, store=koppel.store, clock=system_clock)
        return cls(koppel, queue, Worker(koppel, queue, settings=settings, notifier=notifier))

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
        if request.status is RequestStatus.QUEUED and not self.queue.claim(request.id):
            return "claimed elsewhere"
        request = self.queue.get(request.id) or request
        try:
            outcome = self.worker.execute(request, self.stop).status.value
        except Exception as exc:  # not a KoppelError (the worker records those): a bug or the database gone
            self.queue.finish(request.id, RequestStatus.FAILED, message=f"internal error: {exc!r}")
            raise
        if request.kind is RequestKind.SYNC:
            self._absorb(request)
        return outcome

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

    @app.task(name=TASK, queue=QUEUE)
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
               env: Mapping[str, str] | None = None) -> None:
    """`koppel worker`: run koppel's jobs until SIGTERM or SIGINT (the running jobs finish first)."""
    check_engine(config, settings, env)
    url = config.state_url(env)
    if not is_postgres(url):
        raise ConfigError([ConfigProblem("koppel worker needs the state on PostgreSQL ([state] url)",
                                         setting="state.url", file=str(config.path) if config.path else None)])
    ensure_schema(url)
    runner = JobRunner.open(config, settings, env)
    app = _app(url, runner)
    name = f"koppel@{socket.gethostname()}:{os.getpid()}"

    async def main() -> None:
        async with app.open_async():
            retry = asyncio.create_task(_retry_stalled(app, stalled_after_s=stalled_after_s))
            try:
                await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, name=name,
                                           update_heartbeat_interval=max(0.5, stalled_after_s / 4),
                                           stalled_worker_timeout=stalled_after_s)
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
