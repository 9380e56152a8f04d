"""The record of what koppel did: runs, the status of stored plans, and source reads.

:class:`RunRecorder` is the one place that begins and finishes runs, saves and decides plans and
records source reads. The pipeline (:class:`koppel.pipeline.Koppel`) owns it; the command line and the
service only call the pipeline, so every run is recorded the same way whoever asked for it.

A service request (a scheduled sync, "nu synchroniseren", an approval) must leave a run behind even when
it fails before its run began — the LAS could not be read, the plan was stale — so the dashboard and the
notice can show it. The caller passes a :class:`RunOrigin` for that; a failure then comes back as
:class:`RunFailed`, which names the failed run (the one the pipeline already marked failed, or a new one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from structlog.contextvars import bound_contextvars

from koppel.errors import KoppelError, LockHeld
from koppel.model.status import PENDING_PLANS, PlanStatus, RunKind, RunStatus, SourceReadStatus

if TYPE_CHECKING:
    from koppel.model.roster import Roster, SchoolYear, SourceInfo
    from koppel.plan.model import Plan
    from koppel.state.store import PlanRecord, StateStore
    from koppel.validation.report import ValidationReport

__all__ = ["RunFailed", "RunOrigin", "RunRecorder", "RunTrail", "superseded_by"]

log = structlog.get_logger("koppel.run")


@dataclass(frozen=True)
class RunOrigin:
    """Who asked for a run and why: how a failure before the run began is recorded as a failed run."""

    tenant: str
    target: str
    kind: RunKind
    trigger: str
    plan_id: str | None = None
    approved_by: str | None = None


class RunFailed(KoppelError):
    """``error`` stopped a call made with a :class:`RunOrigin`; run ``run_id`` records the failure."""

    def __init__(self, run_id: int, error: KoppelError):
        super().__init__(str(error))
        self.run_id = run_id
        self.error = error
        self.exit_code = error.exit_code


@dataclass
class RunTrail:
    """What one call recorded: the run it marked failed, if any (so that failure is not recorded twice)."""

    failed_run: int | None = None


class RunRecorder:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    # -- runs ---------------------------------------------------------------------------------

    def begin(self, tenant: str, target: str, *, kind: RunKind, trigger: str = "cli", plan_id: str | None = None,
              approved_by: str | None = None) -> int:
        return self.store.begin_run(tenant, target, kind=kind, trigger=trigger, plan_id=plan_id,
                                    approved_by=approved_by)

    def finish(self, run_id: int, status: RunStatus, *, summary: Mapping[str, Any] | None = None,
               message: str | None = None) -> None:
        self.store.finish_run(run_id, status=status, summary=summary, message=message)
        log.info("run finished", run_id=run_id, status=str(status))

    def record(self, tenant: str, target: str, *, kind: RunKind, status: RunStatus, trigger: str = "cli",
               plan_id: str | None = None, approved_by: str | None = None,
               summary: Mapping[str, Any] | None = None, message: str | None = None) -> int:
        """A run that is over as soon as it begins (a held sync, a reconciliation, a purge, a failure)."""
        run_id = self.begin(tenant, target, kind=kind, trigger=trigger, plan_id=plan_id, approved_by=approved_by)
        with bound_contextvars(tenant=tenant, target=target, run_id=run_id):
            self.finish(run_id, status, summary=summary, message=message)
        return run_id

    @contextmanager
    def running(self, tenant: str, target: str, *, kind: RunKind, trigger: str = "cli", plan_id: str | None = None,
                approved_by: str | None = None, trail: RunTrail | None = None) -> Iterator[int]:
        """Begin a run; when the block raises, mark it failed (best effort) and let the error go on."""
        run_id = self.begin(tenant, target, kind=kind, trigger=trigger, plan_id=plan_id, approved_by=approved_by)
        try:
            with bound_contextvars(tenant=tenant, target=target, run_id=run_id):  # on every line logged in the run
                log.info("run started", kind=str(kind), trigger=trigger)
                yield run_id
        except BaseException as exc:
            self.mark_failed(run_id, exc)
            if trail is not None:
                trail.failed_run = run_id
            raise

    def mark_failed(self, run_id: int, exc: BaseException) -> None:
        """Mark the run failed — best effort: when the state store itself failed, this may fail too, and the
        error that stopped the run is the one to report (the next run marks this one failed under its lock)."""
        try:
            self.finish(run_id, RunStatus.FAILED, message=str(exc) or type(exc).__name__)
        except Exception as also:
            log.warning("the failed run could not be marked failed", run_id=run_id,
                        error=" ".join(str(getattr(also, "orig", None) or also).split()))

    def held(self, plan: Plan, *, trigger: str) -> int:
        """A sync whose plan a guard held: nothing was applied."""
        return self.record(plan.tenant, plan.target, kind=RunKind.SYNC, status=RunStatus.HELD, trigger=trigger,
                           plan_id=plan.id, summary={"plan": plan.summary()},
                           message="; ".join(h.message for h in plan.holds))

    def fail_abandoned(self, tenant: str, target: str) -> int:
        """Runs a killed process left running are failed (called under the run lock)."""
        return self.store.fail_stale_runs(tenant, target)

    @contextmanager
    def failures_recorded(self, origin: RunOrigin | None) -> Iterator[RunTrail]:
        """With an ``origin``, a KoppelError (but a busy lock: nothing ran) leaves a failed run and comes back
        as :class:`RunFailed`; without one, errors pass unchanged."""
        trail = RunTrail()
        try:
            yield trail
        except LockHeld:
            raise
        except KoppelError as exc:
            if origin is None:
                raise
            run_id = trail.failed_run
            if run_id is None:
                run_id = self.record(origin.tenant, origin.target, kind=origin.kind, status=RunStatus.FAILED,
                                     trigger=origin.trigger, plan_id=origin.plan_id,
                                     approved_by=origin.approved_by, message=str(exc))
            raise RunFailed(run_id, exc) from exc

    # -- plans --------------------------------------------------------------------------------

    def plan_held(self, plan: Plan) -> list[str]:
        """Store a plan a guard held, as the one held plan of its target: every older pending (held or saved)
        plan of that tenant and target is marked superseded by it. Returns the ids it superseded."""
        self.store.save_plan(plan, status=PlanStatus.HELD)
        older = [p.id for p in self.store.plans(plan.tenant, plan.target, status=list(PENDING_PLANS), limit=1000)
                 if p.id != plan.id]
        for plan_id in older:
            self.store.set_plan_status(plan_id, PlanStatus.SUPERSEDED, by=f"{SUPERSEDED_BY}{plan.id}")
        if older:
            log.info("older held plans superseded", tenant=plan.tenant, target=plan.target, plan=plan.id,
                     superseded=older)
        return older

    def plan_applied(self, plan_id: str, *, by: str | None, run_id: int) -> None:
        self.store.set_plan_status(plan_id, PlanStatus.APPLIED, by=by, run_id=run_id, approved=by is not None)

    def plan_discarded(self, plan_id: str, *, by: str) -> None:
        self.store.set_plan_status(plan_id, PlanStatus.DISCARDED, by=by)

    def stale_plans(self, tenant: str, target: str, serial: int) -> int:
        """Held or saved plans made on another serial can never apply: mark them stale."""
        return self.store.mark_stale_plans(tenant, target, serial)

    # -- source reads -------------------------------------------------------------------------

    def source_read(self, tenant: str, year: SchoolYear, roster: Roster, report: ValidationReport) -> None:
        """The data-quality report of a complete read: which sources delivered what, and every finding."""
        self.source_read_of(tenant, year, roster.counts(), roster.sources, report)

    def source_read_of(self, tenant: str, year: SchoolYear, counts: Mapping[str, int], sources: Iterable[SourceInfo],
                       report: ValidationReport) -> None:
        """:meth:`source_read` of a read given by its counts and sources: a plan school by school read the schools
        whose files changed and took the others' counts and findings from the slices of the same bytes."""
        self.store.record_source_read(
            tenant, status=SourceReadStatus.INVALID if report.exceeds_limit else SourceReadStatus.OK,
            school_year=str(year), counts=dict(counts), sources=[_source_json(s) for s in sources],
            diagnostics=[d.to_json() for d in report.diagnostics],
        )

    def source_read_failed(self, tenant: str, year: SchoolYear, exc: KoppelError) -> None:
        self.store.record_source_read(tenant, status=SourceReadStatus.FAILED, school_year=str(year), counts={},
                                      sources=[], diagnostics=[], message=str(exc))


SUPERSEDED_BY = "plan "
"""A superseded plan's ``decided_by`` is this followed by the id of the plan that superseded it."""


def superseded_by(record: PlanRecord) -> str | None:
    """The id of the plan that superseded this one, or None when it was not superseded."""
    if record.status != PlanStatus.SUPERSEDED or not (record.decided_by or "").startswith(SUPERSEDED_BY):
        return None
    return (record.decided_by or "")[len(SUPERSEDED_BY):]


def _source_json(info: SourceInfo) -> dict[str, Any]:
    return {"name": info.name, "kind": info.kind, "read_at": info.read_at, "location": info.location,
            "school_year": info.school_year, "counts": dict(info.counts)}
