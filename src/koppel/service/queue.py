"""The run queue: every run the service is asked to make, durable in the state store.

"Nu synchroniseren", an approval and a scheduled moment all become a row in ``run_requests``; the
scheduler's workers take rows from it. A web request therefore never runs anything itself: it adds
a row and returns at once. The rows are also the record of who asked for what, and of what became
of it (done, skipped because another run held the lock, failed), shown on the dashboard.

A (tenant, target) has at most one pending sync: asking again while one waits or runs returns that
one ("Nu synchroniseren" clicked twice queues one run, not two). Claiming a row is a compare-and-set on its status, so two `koppel serve` processes on one
database never start the same request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update

from koppel.config import Config, ScheduleSettings
from koppel.service import tables as t
from koppel.service.clock import Clock, iso, parse_iso
from koppel.state.store import StateStore

__all__ = ["Backoff", "RequestKind", "RequestStatus", "RunQueue", "RunRequest", "TargetBackoff", "Trigger",
           "target_backoffs"]


class RequestKind(StrEnum):
    SYNC = "sync"  # plan and apply unless a guard holds the plan
    APPROVE = "approve"  # apply a held plan that someone approved


class RequestStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"  # another run held the (tenant, target) lock
    FAILED = "failed"


class Trigger(StrEnum):
    """Who started a run; stored as the run's trigger."""

    SCHEDULE = "schedule"
    MANUAL = "manual"  # a person on the dashboard
    API = "api"  # automation with a token


PENDING = (RequestStatus.QUEUED.value, RequestStatus.RUNNING.value)


@dataclass(frozen=True)
class RunRequest:
    id: int
    tenant: str
    target: str
    kind: RequestKind
    plan_id: str | None
    trigger: Trigger
    requested_by: str | None
    requested_at: str
    status: RequestStatus
    started_at: str | None
    finished_at: str | None
    run_id: int | None
    message: str | None
    # With the procrastinate engine, what its queue says of the request's job (see koppel.service.jobs.JobView):
    # waiting (for a worker) | running | retrying | failed | missing (no job: it vanished from the queue)
    job_status: str | None = None
    job_id: int | None = None
    job_worker: int | None = None  # procrastinate's worker id
    job_since: str | None = None  # running: when the worker started it; retrying: when it is tried again
    job_attempts: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.tenant, self.target

    def to_json(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Backoff:
    """How long the schedule leaves a (tenant, target) alone after failed syncs in a row: ``base_s`` after
    the first, ``factor`` times as long with each further one, at most ``cap_s``. A person's "nu
    synchroniseren" or an API call is not held back. Each target's comes from its ``[schedule]``
    (``backoff_initial``, ``backoff_factor``, ``backoff_max``): :func:`target_backoffs`."""

    base_s: float = 300.0
    cap_s: float = 6 * 3600.0
    factor: float = 2.0

    @classmethod
    def from_settings(cls, schedule: ScheduleSettings) -> Backoff:
        return cls(schedule.backoff_initial_s, schedule.backoff_max_s, schedule.backoff_factor)

    def delay(self, failures: int) -> dt.timedelta:
        return dt.timedelta(seconds=min(self.cap_s, self.base_s * self.factor ** max(0, failures - 1)))


def target_backoffs(config: Config) -> dict[tuple[str, str], Backoff]:
    """The backoff of every configured (tenant, target), from its ``[schedule]`` settings."""
    return {(tenant.id, target.name): Backoff.from_settings(target.schedule)
            for tenant in config.tenants.values() for target in tenant.targets.values()}


@dataclass(frozen=True)
class TargetBackoff:
    """A (tenant, target) whose syncs failed ``failures`` times in a row: not scheduled before ``until``."""

    failures: int
    until: dt.datetime


def _request(row: Any) -> RunRequest:
    return RunRequest(
        id=int(row.id), tenant=row.tenant, target=row.target, kind=RequestKind(row.kind), plan_id=row.plan_id,
        trigger=Trigger(row.trigger), requested_by=row.requested_by, requested_at=row.requested_at,
        status=RequestStatus(row.status), started_at=row.started_at, finished_at=row.finished_at,
        run_id=int(row.run_id) if row.run_id is not None else None, message=row.message,
    )


class RunQueue:
    def __init__(self, store: StateStore, *, clock: Clock):
        self.store = store
        self.clock = clock
        # With the procrastinate engine (koppel.service.jobs.Deferrer): defers a job for each new request.
        self.deferrer: Callable[[RunRequest], object] | None = None
        # The schedule's backoff after failed syncs: per (tenant, target) from koppel.toml (target_backoffs,
        # set by Service.open), else ``backoff``.
        self.backoff = Backoff()
        self.backoffs: dict[tuple[str, str], Backoff] = {}
        # With the procrastinate engine (JobView): adds each pending request's job status from its queue.
        self.job_view: Callable[[list[RunRequest]], list[RunRequest]] | None = None

    def _now(self) -> str:
        return iso(self.clock())

    def enqueue(self, tenant: str, target: str, *, kind: RequestKind, trigger: Trigger, by: str | None,
                plan_id: str | None = None) -> RunRequest:
        """Queue a run, or return the equivalent request that is already waiting (or, for a sync, running)."""
        return self.enqueue_once(tenant, target, kind=kind, trigger=trigger, by=by, plan_id=plan_id)[0]

    def enqueue_once(self, tenant: str, target: str, *, kind: RequestKind, trigger: Trigger, by: str | None,
                     plan_id: str | None = None) -> tuple[RunRequest, bool]:
        """:meth:`enqueue`, and whether the request is new (False: an equivalent one absorbed it)."""
        r = t.run_requests.c
        # A sync that already runs reads the LAS as it is now; an approval is absorbed only while it waits
        # (the same plan approved again after it ran is refused by its status, not here).
        absorbing = PENDING if kind is RequestKind.SYNC else (RequestStatus.QUEUED.value,)
        with self.store.engine.begin() as conn:
            waiting = select(t.run_requests).where(r.tenant == tenant, r.target == target,
                                                   r.status.in_(absorbing), r.kind == kind.value)
            if plan_id is not None:
                waiting = waiting.where(r.plan_id == plan_id)
            row = conn.execute(waiting.order_by(r.id).limit(1)).first()
            if row is not None:
                return _request(row), False
            inserted = conn.execute(insert(t.run_requests).values(
                tenant=tenant, target=target, kind=kind.value, plan_id=plan_id, trigger=trigger.value,
                requested_by=by, requested_at=self._now(), status=RequestStatus.QUEUED.value,
            )).inserted_primary_key
            assert inserted is not None, "an INSERT of one row has its primary key"
            new_id = inserted[0]
            request = _request(conn.execute(select(t.run_requests).where(r.id == new_id)).one())
        if self.deferrer is not None:
            self.deferrer(request)
        return request, True

    def backoff_of(self, tenant: str, target: str) -> TargetBackoff | None:
        """The scheduler's backoff for the (tenant, target), when its last syncs failed (else None)."""
        failures, last = self.failures(tenant, target)
        if not failures or last is None:
            return None
        backoff = self.backoffs.get((tenant, target), self.backoff)
        return TargetBackoff(failures, parse_iso(last) + backoff.delay(failures))

    def get(self, request_id: int) -> RunRequest | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.run_requests).where(t.run_requests.c.id == request_id)).first()
        return _request(row) if row else None

    def queued(self, *, limit: int = 100) -> list[RunRequest]:
        r = t.run_requests.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(t.run_requests).where(r.status == RequestStatus.QUEUED.value)
                                .order_by(r.id).limit(limit)).all()
        return [_request(row) for row in rows]

    def pending(self, tenant: str | None = None, target: str | None = None) -> list[RunRequest]:
        """Queued and running requests, oldest first."""
        r = t.run_requests.c
        query = select(t.run_requests).where(r.status.in_(PENDING)).order_by(r.id)
        if tenant:
            query = query.where(r.tenant == tenant)
        if target:
            query = query.where(r.target == target)
        with self.store.engine.connect() as conn:
            found = [_request(row) for row in conn.execute(query.limit(200))]
        return self.job_view(found) if self.job_view is not None and found else found

    def recent(self, tenant: str | None = None, target: str | None = None, *, limit: int = 20) -> list[RunRequest]:
        r = t.run_requests.c
        query = select(t.run_requests).order_by(r.id.desc()).limit(limit)
        if tenant:
            query = query.where(r.tenant == tenant)
        if target:
            query = query.where(r.target == target)
        with self.store.engine.connect() as conn:
            return [_request(row) for row in conn.execute(query)]

    def claim(self, request_id: int) -> bool:
        """Mark a queued request running; False when another worker was first."""
        r = t.run_requests.c
        with self.store.engine.begin() as conn:
            claimed = conn.execute(update(t.run_requests)
                                   .where(r.id == request_id, r.status == RequestStatus.QUEUED.value)
                                   .values(status=RequestStatus.RUNNING.value, started_at=self._now())).rowcount
        return bool(claimed)

    def finish(self, request_id: int, status: RequestStatus, *, run_id: int | None = None,
               message: str | None = None, if_running: bool = False) -> bool:
        """Record the request's outcome; with ``if_running``, only while it is still running (a run that
        outlived its timeout must not overwrite the "timed out" already recorded). Whether it was recorded."""
        r = t.run_requests.c
        query = update(t.run_requests).where(r.id == request_id)
        if if_running:
            query = query.where(r.status == RequestStatus.RUNNING.value)
        with self.store.engine.begin() as conn:
            return bool(conn.execute(query.values(
                status=status.value, finished_at=self._now(), run_id=run_id, message=message,
            )).rowcount)

    def requeue(self, request_id: int, *, run_id: int | None, message: str) -> bool:
        """Put a running request back in the queue (its run stopped after a batch because the worker is
        shutting down): the job is retried and the next run continues from the journal. ``run_id`` is the
        stopped run, kept until the next run replaces it."""
        r = t.run_requests.c
        with self.store.engine.begin() as conn:
            return bool(conn.execute(update(t.run_requests).where(
                r.id == request_id, r.status == RequestStatus.RUNNING.value).values(
                status=RequestStatus.QUEUED.value, started_at=None, finished_at=None, run_id=run_id,
                message=message)).rowcount)

    def failures(self, tenant: str, target: str, *, limit: int = 12) -> tuple[int, str | None]:
        """The (tenant, target)'s failed syncs in a row, newest first, up to ``limit``, and when the latest
        of them finished: what the scheduler's backoff counts. A done sync ends the row; skipped ones
        (another run held the lock, a queued one absorbed) do not count either way."""
        r = t.run_requests.c
        query = (select(r.status, r.finished_at)
                 .where(r.tenant == tenant, r.target == target, r.kind == RequestKind.SYNC.value,
                        r.status.in_((RequestStatus.DONE.value, RequestStatus.FAILED.value)))
                 .order_by(r.id.desc()).limit(limit))
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        count = 0
        for row in rows:
            if row.status != RequestStatus.FAILED.value:
                break
            count += 1
        return count, (rows[0].finished_at if count else None)

    def recover(self) -> int:
        """Requests left running by a service that died: failed, so they do not block the target."""
        r = t.run_requests.c
        with self.store.engine.begin() as conn:
            return conn.execute(update(t.run_requests).where(r.status == RequestStatus.RUNNING.value).values(
                status=RequestStatus.FAILED.value, finished_at=self._now(),
                message="the service stopped while this ran",
            )).rowcount or 0
