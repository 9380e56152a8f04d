"""Carrying out one queued request: a sync or an approved plan, through the application layer.

The worker calls ``Koppel.sync`` and ``Koppel.approve`` — the same code the command line runs — and
adds what a service needs around them:

* the ``stop`` event is passed on, so SIGTERM lets the batches in flight finish and be recorded (in
  `koppel worker` the stopped request is queued again, for the next worker to continue);
* another run holding the (tenant, target) lock makes the request *skipped*, never queued twice;
* a sync that fails before anything was applied (the LAS could not be read, too many data errors)
  is still recorded as a failed run, so the dashboard and the notice can show it: the request is passed
  as the run's :class:`~koppel.runs.RunOrigin`, and the pipeline records the failure (and says which run);
* a held plan and a failed run are notified, with a link;
* the run's per-school counts are taken for the chart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import structlog

from koppel.errors import KoppelError, LockHeld
from koppel.model.status import RunKind, RunStatus
from koppel.pipeline import Koppel, Progress
from koppel.plan.model import Plan
from koppel.runs import RunFailed, RunOrigin
from koppel.service.notify import EventKind, Notice, Notifier
from koppel.service.plancache import PlanCache
from koppel.service.progress import Phase, ProgressBoard
from koppel.service.queue import RequestKind, RequestStatus, RunQueue, RunRequest
from koppel.service.settings import ServiceSettings
from koppel.service.stats import RunStats, refresh_planner_statistics

__all__ = ["WorkResult", "Worker"]

log = structlog.get_logger("koppel.service")

_STOPPED_MESSAGE = "worker stopped after a batch (run {run}); the run continues on the next worker"

# After a run that changed this many objects, refresh the database's planner statistics.
_ANALYZE_AFTER = 5000


@dataclass(frozen=True)
class WorkResult:
    status: RequestStatus
    run_id: int | None = None
    message: str | None = None


class Worker:
    def __init__(self, koppel: Koppel, queue: RunQueue, *, settings: ServiceSettings, notifier: Notifier | None,
                 plans: PlanCache | None = None, progress: ProgressBoard | None = None):
        self.koppel = koppel
        self.progress = progress if progress is not None else ProgressBoard()
        self.queue = queue
        self.settings = settings
        self.notifier = notifier
        self.plans = plans
        self.stats = RunStats(koppel.store)
        # `koppel worker`: a run stopped by the shutdown puts its request back in the queue (see execute).
        self.requeue_stopped = False

    def execute(self, request: RunRequest, stop: threading.Event) -> WorkResult:
        """Run the request and record its outcome on the queue row; never raises a KoppelError."""
        # Every line logged while the request runs names it (JSON logs: docs/operations.md).
        with structlog.contextvars.bound_contextvars(request_id=request.id, tenant=request.tenant,
                                                     target=request.target):
            return self._execute(request, stop)

    def _execute(self, request: RunRequest, stop: threading.Event) -> WorkResult:
        log.info("run starting", request=request.id, tenant=request.tenant, target=request.target,
                 kind=request.kind.value, trigger=request.trigger.value)
        phase = Phase.APPLYING if request.kind is RequestKind.APPROVE else Phase.PLANNING
        self.progress.start(request.tenant, request.target, request.id, phase, plan_id=request.plan_id)
        try:
            if request.kind is RequestKind.APPROVE:
                result = self._approve(request, stop)
            else:
                result = self._sync(request, stop)
        except LockHeld as exc:
            result = WorkResult(RequestStatus.SKIPPED, message=str(exc))
        except RunFailed as exc:
            result = self._failed(request, exc.run_id, exc.error)
        except KoppelError as exc:  # the state store failed while the outcome was recorded or counted
            log.warning("run outcome not recorded", request=request.id, error=str(exc))
            result = WorkResult(RequestStatus.FAILED, message=str(exc))
        finally:
            self.progress.finish(request.tenant, request.target, request.id)
        if (self.requeue_stopped and stop.is_set() and result.message == RunStatus.STOPPED
                and request.kind is RequestKind.SYNC):
            # `koppel worker` shutting down: the sync stopped after its batch; the request waits again and
            # its retried job continues from the journal on another worker (or this one, restarted). A
            # stopped approval ends done ("stopped"): the next sync applies what is left of its plan.
            self.queue.requeue(request.id, run_id=result.run_id, message=_STOPPED_MESSAGE.format(run=result.run_id))
            log.info("run stopped after its batch; request queued again", request=request.id, run=result.run_id)
            return WorkResult(RequestStatus.QUEUED, result.run_id, RunStatus.STOPPED)
        if not self.queue.finish(request.id, result.status, run_id=result.run_id, message=result.message,
                                 if_running=True):
            log.warning("run outcome not recorded on its request: the request was finished meanwhile (timed out)",
                        request=request.id, status=result.status.value, run=result.run_id)
        log.info("run finished", request=request.id, status=result.status.value, run=result.run_id)
        return result

    def _sync(self, request: RunRequest, stop: threading.Event) -> WorkResult:
        def before_apply(plan: Plan) -> Progress:
            self.progress.applying(request.tenant, request.target, total=len(plan.changes), plan_id=plan.id)
            return self._advance(request)

        outcome = self.koppel.sync(request.tenant, request.target, trigger=request.trigger.value, stop=stop,
                                   origin=_origin(request), before_apply=before_apply)
        if outcome.held:
            if self.plans is not None:
                self.plans.put(outcome.plan)
            self._notify(EventKind.PLAN_HELD, request, "; ".join(h.message for h in outcome.plan.holds),
                         plan_id=outcome.plan.id, run_id=outcome.run_id)
            return WorkResult(RequestStatus.DONE, outcome.run_id, RunStatus.HELD)
        applied = outcome.applied
        status = RunStatus(applied.status) if applied is not None else RunStatus.SUCCEEDED
        return self._after_run(request, outcome.run_id, status, applied.message if applied else None,
                               changed=len(outcome.plan.changes))

    def _approve(self, request: RunRequest, stop: threading.Event) -> WorkResult:
        assert request.plan_id is not None
        result = self.koppel.approve(request.plan_id, approved_by=request.requested_by or "unknown", stop=stop,
                                     origin=_origin(request), trigger=request.trigger.value,
                                     progress=self._advance(request))
        return self._after_run(request, result.run_id, RunStatus(result.status), result.message,
                               changed=sum(result.outcomes.values()))

    def _advance(self, request: RunRequest) -> Progress:
        def advance(done: int, total: int) -> None:
            self.progress.advance(request.tenant, request.target, done, total)
        return advance

    def _after_run(self, request: RunRequest, run_id: int | None, status: RunStatus, message: str | None, *,
                   changed: int) -> WorkResult:
        if run_id is not None:
            self.stats.compute(run_id)
        if changed >= _ANALYZE_AFTER:
            refresh_planner_statistics(self.koppel.store)
        if status is RunStatus.FAILED:
            self._notify(EventKind.RUN_FAILED, request, message or status, run_id=run_id)
            return WorkResult(RequestStatus.FAILED, run_id, message)
        return WorkResult(RequestStatus.DONE, run_id, status if status is not RunStatus.SUCCEEDED else None)

    def _failed(self, request: RunRequest, run_id: int, exc: KoppelError) -> WorkResult:
        """A failure the pipeline recorded as run ``run_id``: counted for the chart and notified."""
        self.stats.compute(run_id)
        self._notify(EventKind.RUN_FAILED, request, str(exc), run_id=run_id)
        return WorkResult(RequestStatus.FAILED, run_id, str(exc))

    def _notify(self, event: EventKind, request: RunRequest, message: str, *, run_id: int | None = None,
                plan_id: str | None = None) -> None:
        if self.notifier is None or not self.notifier.channels:
            return
        tenant = self.koppel.config.tenants.get(request.tenant)
        link = self.settings.link(f"/plans/{plan_id}" if plan_id else f"/runs/{run_id}")
        self.notifier.notify(Notice(event, request.tenant, tenant.name if tenant else request.tenant,
                                    request.target, message, link, run_id=run_id, plan_id=plan_id))


def _origin(request: RunRequest) -> RunOrigin:
    """How the pipeline records this request as a failed run when it fails before its run began."""
    approval = request.kind is RequestKind.APPROVE
    return RunOrigin(request.tenant, request.target, RunKind(request.kind.value), request.trigger.value,
                     plan_id=request.plan_id, approved_by=request.requested_by if approval else None)
