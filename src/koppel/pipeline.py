"""One run, end to end: read every source → validate → rules → plan → (guards) → apply.

This is the layer the CLI, the demo and the service call; it wires the parts together and holds no
business rule of its own. A run never reads partial data as truth: a source that fails or delivers
nothing raises before anything is planned, and the state stays as it was.

:class:`Koppel` owns every run: it begins, finishes and fails runs, saves and decides plans and records
source reads, all through its :class:`~koppel.runs.RunRecorder`; the command line and the service only
call it. Its other collaborators: :class:`SourceReader` (reading and validating the LAS),
:class:`~koppel.planning.Planner` (the steps of making a plan), :class:`~koppel.approval.Approvals` (which
stored plan may still be approved), :class:`~koppel.preflight.TargetChecks` (``koppel check`` and the check
before a run's first write), :class:`~koppel.readback.Readback` (reconciliation and takeover) and
:class:`~koppel.upkeep.Upkeep` (``koppel unlock`` and ``koppel purge``).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from structlog.contextvars import bound_contextvars

from koppel.apply.applier import Applier, ApplyResult
from koppel.approval import Approvals
from koppel.config import Config, TargetConfig, TenantConfig, YearChoice
from koppel.connectors import load_source_kind, load_target_kind
from koppel.errors import (
    ConfigError,
    SourceDataError,
    SourceError,
    ValidationFailed,
)
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.model.merge import merge_rosters
from koppel.model.roster import PersonKind, Roster, SchoolYear
from koppel.model.status import RunKind, RunStatus
from koppel.plan.model import Plan
from koppel.plan.state_view import StateView
from koppel.planning import PlanInputs, Planner, PlanOutcome, changed_parts, collector_paused, combined
from koppel.preflight import TargetChecks
from koppel.readback import Readback
from koppel.reconcile import DriftReport
from koppel.rules.engine import IdentityIndex, identity_index_from_rows
from koppel.runs import RunOrigin, RunRecorder, RunTrail
from koppel.state.store import Clock, StateStore, utcnow
from koppel.takeover.model import TakeoverOutcome, TakeoverPlan, TakeoverResult
from koppel.targets.base import Check, Target
from koppel.upkeep import Upkeep

if TYPE_CHECKING:
    from koppel.validation.report import ValidationReport

__all__ = ["Koppel", "PlanOutcome", "SchoolYearMismatch", "SyncOutcome", "ValidationOutcome", "target_config"]

log = structlog.get_logger("koppel.run")

Progress = Callable[[int, int], None]
"""Called with (changes done, changes in the plan) as an apply goes."""


class SchoolYearMismatch(SourceDataError):
    """A source's export describes another school year than the one koppel works on (a stale export, most
    often). Nothing is recorded and nothing is planned: go on only with ``--year`` or a new export."""

    def __init__(self, source: str, where: str | None, found: SchoolYear, expected: SchoolYear,
                 why: str | None = None):
        self.found, self.expected, self.where = found, expected, where
        koppel_year = f"{expected} ({why})" if why else str(expected)
        super().__init__(
            f"the export{f' ({where})' if where else ''} describes school year {found}, but koppel works on "
            f"{koppel_year}. Likely cause: a stale export, made before the new school year began. Fix: make a "
            f"new export of {expected} in the LAS, or work on the export's year with `--year {found}`. Nothing "
            "was recorded and nothing was planned.",
            source=source,
        )


@dataclass
class SyncOutcome:
    plan: Plan
    applied: ApplyResult | None
    held: bool = False
    run_id: int | None = None
    unchanged: bool = False  # the unchanged-input short cut answered: nothing was read, planned or applied


@dataclass(frozen=True)
class ValidationOutcome:
    """What ``koppel validate`` shows: the data-quality report of one complete read."""

    tenant: str
    year: SchoolYear
    counts: Mapping[str, int]
    report: ValidationReport
    year_choice: YearChoice | None = None


@dataclass
class Koppel:
    """The application: a configuration, a state store and a clock."""

    config: Config
    store: StateStore
    env: Mapping[str, str] = field(default_factory=dict)
    today: Callable[[], dt.date] = field(default_factory=lambda: (lambda: utcnow().date()))
    runs: RunRecorder = field(init=False, repr=False)
    checks: TargetChecks = field(init=False, repr=False)
    readback: Readback = field(init=False, repr=False)
    upkeep: Upkeep = field(init=False, repr=False)
    sources: SourceReader = field(init=False, repr=False)
    planner: Planner = field(init=False, repr=False)
    approvals: Approvals = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.runs = RunRecorder(self.store)
        self.sources = SourceReader(self.config, self.env, self.runs)
        self.checks = TargetChecks(self.store)
        self.readback = Readback(self)
        self.upkeep = Upkeep(self.store, self.runs)
        self.planner = Planner(self)
        self.approvals = Approvals(self)

    @classmethod
    def open(cls, config: Config, *, env: Mapping[str, str] | None = None, store: StateStore | None = None,
             today: Callable[[], dt.date] | None = None, clock: Clock | None = None) -> Koppel:
        env = dict(env if env is not None else os.environ)
        if store is None:
            store = StateStore.open(config.state_url(env), base_dir=config.base_dir, clock=clock or utcnow)
        app = cls(config, store, env)
        if today is not None:
            app.today = today
        elif clock is not None:
            app.today = lambda: clock().date()
        return app

    # -- sources ------------------------------------------------------------------------------

    def school_year(self, tenant_id: str | TenantConfig | None, year: str | None = None, *,
                    today: dt.date | None = None) -> YearChoice:
        """The school year koppel works on for this tenant, and where that answer came from — the one answer
        ``validate``, ``plan``, ``sync`` and ``status`` give (:meth:`TenantConfig.choose_year`)."""
        tenant = tenant_id if isinstance(tenant_id, TenantConfig) else self.config.tenant(tenant_id)
        return tenant.choose_year(today or self.today(), year)

    def read_roster(self, tenant: TenantConfig, year: SchoolYear) -> Roster:
        """Read every source of the tenant completely (or raise) and merge them into one Roster."""
        return self.sources.read_roster(tenant, year)

    def read_validated(self, tenant: TenantConfig, year: SchoolYear, *, record: bool = True,
                       why: str | None = None) -> Roster:
        """Read and validate; with ``record``, record the data-quality report; stop above the error limit."""
        roster, report = self.sources.read_and_validate(tenant, year, record=record, why=why)
        if report.exceeds_limit:
            raise ValidationFailed(len(report.errors), tenant.validation.max_errors)
        return replace(roster, diagnostics=tuple(report.diagnostics))

    def validate(self, tenant_id: str | None, *, year: str | None = None) -> ValidationOutcome:
        """``koppel validate``: read every source and check the data, recording the data-quality report as a
        run records it. Errors above the limit do not raise here: the report says so (``exceeds_limit``).
        An export of another school year than koppel's raises :class:`SchoolYearMismatch` (nothing recorded)."""
        tenant = self.config.tenant(tenant_id)
        choice = self.school_year(tenant, year)
        roster, report = self.sources.read_and_validate(tenant, choice.year, record=True, why=choice.why)
        return ValidationOutcome(tenant.id, choice.year, roster.counts(), report, choice)

    # -- plan ---------------------------------------------------------------------------------

    def make_target(self, tenant: TenantConfig, target: TargetConfig) -> Target:
        kind = load_target_kind(target.kind)
        ctx = self.config.context(tenant, env=self.env, retry=target.retry.policy())
        return kind.factory(target.name, target.settings, ctx)

    @contextmanager
    def target_for(self, tenant: TenantConfig, target_cfg: TargetConfig, target: Target | None) -> Iterator[Target]:
        """``target`` when the caller has one; otherwise one made from the configuration, closed afterwards."""
        if target is not None:
            yield target
            return
        made = self.make_target(tenant, target_cfg)
        try:
            yield made
        finally:
            made.close()

    def identities(self, tenant: str, target: str) -> IdentityIndex:
        return identity_index_from_rows(self.store.identity_rows(tenant, target))

    def plan(self, tenant_id: str | None, target_name: str | None, *, year: str | None = None,
             today: dt.date | None = None, target: Target | None = None, record: bool = False,
             shortcut: bool = False, full: bool = False) -> PlanOutcome:
        """Plan the target's changes. A preview (the default) changes nothing anyone else sees: no source read
        is recorded and no held plan stored. A run (``record``: ``sync``, ``apply`` without a plan file)
        records the source read and stores a held plan as its target's one held plan, superseding older ones.

        With ``shortcut`` (a preview only: ``koppel plan`` without ``--full``), inputs identical to those of the
        last run that found nothing to change give that answer without reading or planning: an empty plan
        whose note says so (:meth:`sync` explains the short cut). ``full`` compares every membership, trusting
        no per-group membership digest (``koppel plan --full``)."""
        tenant = self.config.tenant(tenant_id)
        target_cfg = target_config(tenant, target_name)
        today = today or self.today()
        choice = self.school_year(tenant, year, today=today)
        if shortcut and not record:
            inputs = self.planner.inputs.inputs(tenant, target_cfg, today, choice, year)
            since = self._unchanged_since(tenant, target_cfg, inputs)
            if since is not None:
                plan = self._unchanged_plan(tenant, target_cfg, today, choice, since, target)
                return PlanOutcome(plan, self.store.school_names(tenant.id, target_cfg.name), {}, choice.year,
                                   year_choice=choice)
        with collector_paused(), bound_contextvars(tenant=tenant.id, target=target_cfg.name):  # on every log line
            return self.planner.plan(tenant, target_cfg, today, choice, year, target, record, by_group=not full)

    def read_state(self, tenant: str, target: str, *,
                   by_group: bool = False) -> tuple[StateView, dict[str, dict[str, Any]], IdentityIndex]:
        """The state index, the drift and the identity index (what a plan needs of the state). ``by_group``: the
        active memberships may be left out for per-group digests (:meth:`StateStore.load_for_plan`)."""
        view, identity_rows = self.store.load_for_plan(tenant, target, by_group=by_group)
        identities = identity_index_from_rows(identity_rows)
        source = self.config.tenant(tenant).targets[target].rules.accounts.username_from
        if source is not None:
            identities = identities.with_usernames_of(self.identities(tenant, source))
        return view, self.store.load_drift(tenant, target), identities

    # -- apply --------------------------------------------------------------------------------

    def apply(self, plan: Plan, *, approved_by: str | None = None, trigger: str = "cli",
              progress: Progress | None = None, stop: threading.Event | None = None,
              target: Target | None = None) -> ApplyResult:
        """Apply a plan under the target's run lock, as a run of its own."""
        return self._apply(plan, approved_by=approved_by, trigger=trigger, progress=progress, stop=stop,
                           target=target, trail=None)

    def _apply(self, plan: Plan, *, approved_by: str | None, trigger: str, progress: Progress | None,
               stop: threading.Event | None, target: Target | None, trail: RunTrail | None,
               kind: RunKind = RunKind.APPLY) -> ApplyResult:
        tenant = self.config.tenant(plan.tenant)
        target_cfg = target_config(tenant, plan.target)
        retry = target_cfg.retry.policy()
        with bound_contextvars(tenant=tenant.id, target=target_cfg.name, plan_id=plan.id), \
                self.target_for(tenant, target_cfg, target) as target_obj, \
                self.store.lock(tenant.id, target_cfg.name, purpose="apply") as holder:
            self.runs.fail_abandoned(tenant.id, target_cfg.name)
            applier = Applier(
                self.store, target_obj, tenant=tenant.id, retry=retry, progress=progress, stop=stop,
                heartbeat=lambda: self.store.heartbeat(tenant.id, target_cfg.name, holder),
            )
            applier.check(plan, approved=approved_by is not None)
            with self.runs.running(tenant.id, target_cfg.name, kind=kind, trigger=trigger, plan_id=plan.id,
                                   approved_by=approved_by, trail=trail) as run_id:
                if plan.changes:
                    self.checks.before_first_write(tenant.id, target_cfg.name, target_obj)
                result = applier.run(plan, run_id=run_id)
            self.runs.finish(run_id, RunStatus(result.status), summary=result.summary(), message=result.message)
            moves = _membership_moves(plan, result)
            if moves is not None and result.serial is not None:  # the next plan finds the digests valid
                self.store.advance_group_digests(tenant.id, target_cfg.name, plan.lineage, plan.serial, result.serial,
                                                 moves)
            if approved_by is not None or plan.held:
                self.runs.plan_applied(plan.id, by=approved_by, run_id=run_id)
            serial = result.serial if result.serial is not None else plan.serial
            self.runs.stale_plans(tenant.id, target_cfg.name, serial)
            return result

    def sync(self, tenant_id: str | None, target_name: str | None, *, year: str | None = None,
             trigger: str = "cli", progress: Progress | None = None, stop: threading.Event | None = None,
             target: Target | None = None, before_apply: Callable[[Plan], Progress | None] | None = None,
             origin: RunOrigin | None = None, full: bool = False) -> SyncOutcome:
        """Plan and, unless a guard holds the plan, apply it; a held plan is recorded as a held sync run.

        The common run changes nothing. When the inputs — the export's bytes, the configuration and rules,
        koppel's version, the school year, the day and the state's version — are those of the last sync that
        found nothing to change, the sync is recorded as such without reading or planning (``unchanged`` in the
        outcome and in the run's summary; see :class:`~koppel.planning.InputsCheck`). ``full`` plans anyway.

        ``before_apply`` sees the plan just before it is applied and may return the progress callback for
        the apply. With an ``origin`` (a service request) a failure is recorded as a failed run and raised
        as :class:`~koppel.runs.RunFailed`."""
        with self.runs.failures_recorded(origin) as trail:
            tenant = self.config.tenant(tenant_id)
            target_cfg = target_config(tenant, target_name)
            today = self.today()
            choice = self.school_year(tenant, year, today=today)
            inputs = self.planner.inputs.inputs(tenant, target_cfg, today, choice, year)  # before the read
            if not full:
                unchanged = self._unchanged_sync(tenant, target_cfg, today, choice, inputs, trigger, target)
                if unchanged is not None:
                    if before_apply is not None:
                        before_apply(unchanged.plan)  # the caller shows the (empty) plan as for any sync
                    return unchanged
            state_before = self._state_version(tenant, target_cfg)
            plan = self.plan(tenant.id, target_cfg.name, year=year, today=today, target=target, record=True,
                             full=full).plan
            read_id = self.store.latest_source_read_id(tenant.id)
            if plan.held:
                self.store.inputs.forget(tenant.id, target_cfg.name)
                return SyncOutcome(plan, None, held=True, run_id=self.runs.held(plan, trigger=trigger))
            if before_apply is not None:
                progress = before_apply(plan) or progress
            applied = self._apply(plan, approved_by=None, trigger=trigger, progress=progress, stop=stop,
                                  target=target, trail=trail, kind=RunKind.SYNC)  # recorded as the sync it is
            self._remember_inputs(tenant, target_cfg, inputs, plan, applied, state_before, read_id)
            return SyncOutcome(plan, applied, run_id=applied.run_id)

    # -- the unchanged-input short cut (issue 13) -------------------------------------------------------

    def _state_version(self, tenant: TenantConfig, target_cfg: TargetConfig) -> str:
        """The state's version as an input of a plan: this target's, and that of the target whose user names it
        takes (``accounts.username_from``): a new account there can give a person here a user name."""
        version = self.store.inputs.state_version(tenant.id, target_cfg.name)
        source = target_cfg.rules.accounts.username_from
        if source is not None:
            version += f" | user names from {source}: {self.store.inputs.state_version(tenant.id, source)}"
        return version

    def _unchanged_since(self, tenant: TenantConfig, target_cfg: TargetConfig, inputs: PlanInputs, *,
                         recount: bool = True) -> int | None:
        """The run whose inputs (export bytes, configuration, version, year, day, state) these are, when that
        run found nothing to change — else None, and the log says which input changed."""
        check = self.planner.inputs
        where = {"tenant": tenant.id, "target": target_cfg.name}
        if inputs.parts is None:
            check.counts["refused: no fingerprint"] += 1
            log.info("planning in full: the inputs cannot be fingerprinted", reason=inputs.why_not, **where)
            return None
        remembered = self.store.inputs.remembered(tenant.id, target_cfg.name)
        parts = inputs.with_state(self._state_version(tenant, target_cfg))
        assert parts is not None
        if remembered is None or remembered.digest != combined(parts):
            changed = changed_parts(remembered.parts if remembered else None, parts)
            check.counts["refused: " + ", ".join(changed)] += 1
            log.info("planning in full: the inputs changed since the last run without changes", changed=changed,
                     **where)
            return None
        if recount:  # (False: a first look, before the run lock; the look under the lock counts)
            check.counts["taken"] += 1
            log.info("unchanged: short cut taken, nothing read or planned", same_as_run=remembered.run_id, **where)
        return remembered.run_id if remembered.run_id is not None else 0

    def _unchanged_sync(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, choice: YearChoice,
                        inputs: PlanInputs, trigger: str, target: Target | None) -> SyncOutcome | None:
        """A sync whose inputs are those of the last run that found nothing to change: recorded as a succeeded
        sync run marked ``unchanged`` (and the source read of that run again, as of now) — under the run lock,
        so that no other run moves the state between the check and the record. None: plan in full."""
        if self._unchanged_since(tenant, target_cfg, inputs, recount=False) is None:  # logs and counts why not
            return None
        # The same inputs: checked again under the run lock, so that no other run moves the state in between (a
        # run that will plan anyway takes no lock here).
        with self.store.lock(tenant.id, target_cfg.name, purpose="sync"):
            self.runs.fail_abandoned(tenant.id, target_cfg.name)
            since = self._unchanged_since(tenant, target_cfg, inputs)
            if since is None:
                return None
            remembered = self.store.inputs.remembered(tenant.id, target_cfg.name)
            if remembered is not None and remembered.source_read_id is not None:
                self.store.repeat_source_read(remembered.source_read_id)
            plan = self._unchanged_plan(tenant, target_cfg, today, choice, since, target)
            message = plan.notes[0]
            result = ApplyResult(plan_id=plan.id, run_id=0, serial=plan.serial, message=message)
            run_id = self.runs.record(tenant.id, target_cfg.name, kind=RunKind.SYNC, status=RunStatus.SUCCEEDED,
                                      trigger=trigger, summary={**result.summary(), "unchanged": {"as_run": since}},
                                      message=message)
        result.run_id = run_id
        return SyncOutcome(plan, result, run_id=run_id, unchanged=True)

    def _unchanged_plan(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, choice: YearChoice,
                        since: int, target: Target | None) -> Plan:
        """The empty plan the short cut answers with; its one note says why nothing was planned."""
        lineage, serial = self.store.serial(tenant.id, target_cfg.name) or ("", 0)
        supported = target.capabilities.actions if target is not None else self.planner.supported(tenant, target_cfg)
        note = (f"unchanged since run {since}: the export's bytes, the configuration and rules, koppel's version, "
                "the state and the day are the same as when that run found nothing to change, so nothing was "
                "read or planned (a short cut: --full plans anyway)")
        return Plan(tenant=tenant.id, target=target_cfg.name, lineage=lineage, serial=serial, today=today.isoformat(),
                    school_year=str(choice.year), changes=(),
                    policy=target_cfg.policy.plan_policy(supported).to_json(), notes=(note,))

    def _remember_inputs(self, tenant: TenantConfig, target_cfg: TargetConfig, inputs: PlanInputs, plan: Plan,
                         applied: ApplyResult, state_before: str, read_id: int | None) -> None:
        """After a full sync: remember its inputs when it found nothing to change and nothing moved the state
        meanwhile; otherwise forget what was remembered (the next run plans in full)."""
        state_after = self._state_version(tenant, target_cfg)
        parts = inputs.with_state(state_after)
        if parts is not None and not plan.changes and applied.status == RunStatus.SUCCEEDED \
                and state_after == state_before:
            self.store.inputs.remember(tenant.id, target_cfg.name, combined(parts), parts, run_id=applied.run_id,
                                       source_read_id=read_id)
        else:
            self.store.inputs.forget(tenant.id, target_cfg.name)

    def approve(self, plan_id: str, *, approved_by: str, progress: Progress | None = None,
                stop: threading.Event | None = None, target: Target | None = None,
                origin: RunOrigin | None = None, trigger: str = "cli") -> ApplyResult:
        """Apply a held (or saved) plan that ``approved_by`` approved; a plan the state moved past is stale.
        With an ``origin``, a failure is recorded as a failed run and raised as :class:`~koppel.runs.RunFailed`.
        ``trigger`` is recorded as the run's (the service passes its request's: manual, api)."""
        with self.runs.failures_recorded(origin) as trail:
            plan = self.approvable(plan_id)
            return self._apply(plan, approved_by=approved_by, trigger=trigger, progress=progress, stop=stop,
                               target=target, trail=trail)

    def approvable(self, plan_id: str, *, tenant_id: str | None = None, target_name: str | None = None,
                   target: Target | None = None) -> Plan:
        """The plan ``plan_id`` when it may still be approved (:meth:`~koppel.approval.Approvals.approvable`)."""
        return self.approvals.approvable(plan_id, tenant_id, target_name, target)

    def superseded_message(self, plan_id: str, newer: str | None) -> str:
        """"plan X was superseded by plan Y made <when>", with what to do: the words status and approve use."""
        return self.approvals.superseded_message(plan_id, newer)

    def discard(self, plan_id: str, *, by: str) -> None:
        record = self.store.plan_record(plan_id)
        self.runs.plan_discarded(record.id, by=by)

    def mark_stale_plans(self, tenant: str, target: str) -> None:
        """Held plans the state moved past can never apply: mark them stale (``koppel status`` shows them so)."""
        serial = self.store.serial(tenant, target)
        if serial is not None:
            self.runs.stale_plans(tenant, target, serial[1])

    # -- upkeep and checks, reconciliation, takeover: the collaborators do the work ---------------------

    def unlock(self, tenant_id: str | None, target_name: str | None, *, force: bool = False,
               by: str = "koppel unlock") -> dict[str, Any]:
        """``koppel unlock``: the target's run lock, removed when it is stale (or ``force``); see
        :meth:`~koppel.upkeep.Upkeep.unlock`."""
        tenant = self.config.tenant(tenant_id)
        return self.upkeep.unlock(tenant.id, target_config(tenant, target_name).name, force=force, by=by)

    def purge(self, tenant_id: str | None, target_name: str | None, *, dry_run: bool = False) -> list[dict[str, Any]]:
        """AVG: remove the state and history of persons deleted longer ago than the retention period
        (``policy.lifecycle.retention_days``) — of the named target, or of every target of the tenant. Each
        target that purged anyone records a purge run. Returns per target what was (or would be) purged."""
        tenant = self.config.tenant(tenant_id)
        targets = [target_config(tenant, target_name)] if target_name else list(tenant.targets.values())
        return [self.upkeep.purge(tenant.id, target_cfg.name, target_cfg.policy.lifecycle.retention_days,
                                  dry_run=dry_run) for target_cfg in targets]

    def check(self, tenant_id: str | None, target_name: str | None, *, target: Target | None = None) -> list[Check]:
        """``koppel check``: can koppel work with this target? Reads only; writes nothing anywhere."""
        tenant = self.config.tenant(tenant_id)
        target_cfg = target_config(tenant, target_name)
        with self.target_for(tenant, target_cfg, target) as target_obj:
            return self.checks.full(tenant.id, target_cfg.name, target_cfg.kind, target_obj)

    def reconcile(self, tenant_id: str | None, target_name: str | None, *, year: str | None = None,
                  target: Target | None = None) -> DriftReport:
        """Read back what the target holds and report drift. Changes nothing in the target."""
        tenant = self.config.tenant(tenant_id)
        return self.readback.reconcile(tenant, target_config(tenant, target_name), year=year, target=target)

    def adopt(self, tenant_id: str | None, target_name: str | None, *, account: str, person_key: str,
              approved_by: str, target: Target | None = None) -> str:
        """After explicit approval: make koppel manage an existing (manual) account for a LAS person.

        ``account`` is the account's user name or target id. Returns the target id recorded."""
        tenant = self.config.tenant(tenant_id)
        return self.readback.adopt(tenant, target_config(tenant, target_name), account=account, person_key=person_key,
                                   approved_by=approved_by, target=target)

    def takeover(self, tenant_id: str | None, target_name: str | None, *, mapping: Path | None = None,
                 year: str | None = None, target: Target | None = None) -> TakeoverOutcome:
        """Discover what the target holds (read-only) and match it to what the LAS wants: a takeover plan
        (docs/takeover.md). Writes nothing, to the target or to the state."""
        tenant = self.config.tenant(tenant_id)
        return self.readback.takeover(tenant, target_config(tenant, target_name), mapping=mapping, year=year,
                                      target=target)

    def approve_takeover(self, tenant_id: str | None, target_name: str | None, *, approved_by: str,
                         plan: TakeoverPlan | None = None, mapping: Path | None = None, year: str | None = None,
                         target: Target | None = None) -> TakeoverResult:
        """Record an approved takeover in the state, under the run lock: koppel manages the adopted objects
        from now on under the platform's ids. Without ``plan`` the site is discovered again."""
        tenant = self.config.tenant(tenant_id)
        target_cfg = target_config(tenant, target_name)
        if plan is None:
            plan = self.takeover(tenant.id, target_cfg.name, mapping=mapping, year=year, target=target).plan
        return self.readback.approve_takeover(tenant, target_cfg, plan, approved_by=approved_by, target=target)


class SourceReader:
    """Reads a tenant's sources completely — or raises, recording the failed read — and validates them."""

    def __init__(self, config: Config, env: Mapping[str, str], runs: RunRecorder) -> None:
        self.config = config
        self.env = env
        self.runs = runs

    def read_roster(self, tenant: TenantConfig, year: SchoolYear, *, why: str | None = None) -> Roster:
        """Every source read completely and merged; a source whose export describes another school year than
        ``year`` (chosen for ``why``) stops the read with :class:`SchoolYearMismatch`."""
        ctx = self.config.context(tenant, env=self.env, school_year=year)
        rosters = []
        for src in tenant.sources.values():
            kind = load_source_kind(src.kind)
            source = kind.factory(src.name, src.settings, ctx)
            log.info("reading source", tenant=tenant.id, source=src.name, kind=src.kind, school_year=str(year))
            roster = source.read()
            if roster.school_year != year:
                raise SchoolYearMismatch(src.name, _where(roster, self.config.base_dir), roster.school_year, year, why)
            students = sum(1 for p in roster.persons.values() if p.kind is PersonKind.STUDENT)
            if not roster.persons or not students:
                raise SourceDataError("delivered no pupils; an empty read is never taken as 'everyone left'",
                                      source=src.name)
            rosters.append(roster)
        try:
            return merge_rosters(rosters)
        except ValueError as exc:
            raise SourceDataError(str(exc)) from None

    def read_and_validate(self, tenant: TenantConfig, year: SchoolYear, *, record: bool,
                          why: str | None = None) -> tuple[Roster, ValidationReport]:
        """The roster and its data-quality report; with ``record``, the read (or its failure) is recorded —
        but for an export of another school year: that stops before anything is recorded."""
        from koppel.validation import validate

        try:
            roster = self.read_roster(tenant, year, why=why)
        except SchoolYearMismatch:
            raise
        except SourceError as exc:
            if record:
                self.runs.source_read_failed(tenant.id, year, exc)
            raise
        report = validate(roster, tenant.validation)
        if record:
            self.runs.source_read(tenant.id, year, roster, report)
        return roster, report


def _where(roster: Roster, base_dir: Path) -> str | None:
    """Which file of a source's read says what school year it describes: the one the source named, else the
    file its first group came from (both relative to where the source was read), else that place itself (a
    folder or a URL)."""
    file = next((d.file for d in roster.diagnostics if d.code == "school-year-mismatch" and d.file), None)
    if file is None:
        file = next((g.provenance.file for g in roster.groups.values() if g.provenance and g.provenance.file), None)
    location = next((s.location for s in roster.sources if s.location), None)
    if location is not None and "://" not in location:
        root = Path(location) if Path(location).is_absolute() else (base_dir / location).resolve()
        if file is not None and not Path(file).is_absolute() and (root / file).exists():
            return str(root / file)
        if file is None or root.is_file():
            return str(root)
        return f"{file} in {root}"
    return file or location


def _membership_moves(plan: Plan, result: ApplyResult) -> list[tuple[str, str | None]] | None:
    """The plan's membership changes as the state recorded them — (key, fingerprint), no fingerprint for one that
    is no longer active — when the apply recorded every change of the plan as done; else None."""
    if result.status != RunStatus.SUCCEEDED or result.serial is None or not plan.changes \
            or sum(result.outcomes.values()) != len(plan.changes) or set(result.outcomes) - {"done", "warning"}:
        return None
    moves: list[tuple[str, str | None]] = []
    for change in plan.changes:
        if change.kind is not ObjectKind.MEMBERSHIP:
            continue
        if change.action in (Action.CREATE, Action.UPDATE, Action.RESTORE) and change.fingerprint:
            moves.append((change.key, change.fingerprint))
        elif change.action is Action.DELETE:
            moves.append((change.key, None))
        else:
            return None
    return moves


def target_config(tenant: TenantConfig, name: str | None) -> TargetConfig:
    """The tenant's target ``name``; without a name its one enabled target (more than one: name it)."""
    if name is None:
        enabled = [t for t in tenant.targets.values() if t.enabled]
        if len(enabled) == 1:
            return enabled[0]
        raise ConfigError(f"tenant {tenant.id} has {len(enabled)} targets; choose one with --target "
                          f"({', '.join(tenant.targets)})")
    try:
        return tenant.targets[name]
    except KeyError:
        raise ConfigError(f"tenant {tenant.id} has no target {name!r} (have: {', '.join(tenant.targets)})") from None
