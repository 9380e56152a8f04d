"""One run, end to end: read every source → validate → rules → plan → (guards) → apply.

This is the layer the CLI, the demo and the service call; it wires the parts together and holds no
business rule of its own. A run never reads partial data as truth: a source that fails or delivers
nothing raises before anything is planned, and the state stays as it was.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from koppel.apply.applier import Applier, ApplyResult, RetryPolicy
from koppel.config import Config, TargetConfig, TenantConfig
from koppel.connectors import load_source_kind, load_target_kind
from koppel.errors import SourceDataError, SourceError, ValidationFailed
from koppel.model.desired import Desired
from koppel.model.merge import merge_rosters
from koppel.model.roster import PersonKind, Roster, SchoolYear, Severity
from koppel.plan.engine import make_plan
from koppel.plan.model import Plan
from koppel.plan.state_view import keys_needing_attrs
from koppel.rules.engine import IdentityIndex, build_desired, identity_index_from_rows
from koppel.state.store import StateStore, utcnow
from koppel.targets.base import Target

__all__ = ["Koppel", "PlanOutcome", "SyncOutcome"]

log = structlog.get_logger("koppel.run")


@dataclass
class PlanOutcome:
    plan: Plan
    roster: Roster
    desired: Desired
    year: SchoolYear
    provisioned_year: SchoolYear | None = None


@dataclass
class SyncOutcome:
    plan: Plan
    applied: ApplyResult | None
    held: bool = False
    run_id: int | None = None


@dataclass
class Koppel:
    """The application: a configuration, a state store and a clock."""

    config: Config
    store: StateStore
    env: Mapping[str, str] = field(default_factory=dict)
    today: Callable[[], dt.date] = field(default_factory=lambda: (lambda: utcnow().date()))

    @classmethod
    def open(cls, config: Config, *, env: Mapping[str, str] | None = None, store: StateStore | None = None,
             today: Callable[[], dt.date] | None = None, clock=None) -> Koppel:
        import os

        env = dict(env if env is not None else os.environ)
        if store is None:
            store = StateStore.open(config.state_url(env), base_dir=config.base_dir, **({"clock": clock} if clock else {}))
        app = cls(config, store, env)
        if today is not None:
            app.today = today
        elif clock is not None:
            app.today = lambda: clock().date()
        return app

    # -- sources ------------------------------------------------------------------------------

    def read_roster(self, tenant: TenantConfig, year: SchoolYear) -> Roster:
        """Read every source of the tenant completely (or raise) and merge them into one Roster."""
        ctx = self.config.context(tenant, env=self.env, school_year=year)
        rosters = []
        for src in tenant.sources.values():
            kind = load_source_kind(src.kind)
            source = kind.factory(src.name, src.settings, ctx)
            log.info("reading source", tenant=tenant.id, source=src.name, kind=src.kind, school_year=str(year))
            roster = source.read()
            students = sum(1 for p in roster.persons.values() if p.kind is PersonKind.STUDENT)
            if not roster.persons or not students:
                raise SourceDataError("delivered no pupils; an empty read is never taken as 'everyone left'",
                                      source=src.name)
            rosters.append(roster)
        try:
            return merge_rosters(rosters)
        except ValueError as exc:
            raise SourceDataError(str(exc)) from None

    def read_validated(self, tenant: TenantConfig, year: SchoolYear, *, record: bool = True) -> Roster:
        """Read and validate; record the data-quality report; stop above the error limit."""
        from koppel.validation import ValidationSettings, validate

        try:
            roster = self.read_roster(tenant, year)
        except SourceError as exc:
            if record:
                self.store.record_source_read(tenant.id, status="failed", school_year=str(year), counts={},
                                              sources=[], diagnostics=[], message=str(exc))
            raise
        report = validate(roster, ValidationSettings(max_errors=tenant.validation.max_errors))
        roster = roster.with_diagnostics(d for d in report.diagnostics if d not in set(roster.diagnostics))
        errors = sum(1 for d in roster.diagnostics if d.severity is Severity.ERROR)
        status = "invalid" if errors > tenant.validation.max_errors else "ok"
        if record:
            self.store.record_source_read(
                tenant.id, status=status, school_year=str(year), counts=roster.counts(),
                sources=[_source_json(s) for s in roster.sources],
                diagnostics=[d.to_json() for d in roster.diagnostics],
            )
        if status == "invalid":
            raise ValidationFailed(errors, tenant.validation.max_errors)
        return roster

    # -- plan ---------------------------------------------------------------------------------

    def make_target(self, tenant: TenantConfig, target: TargetConfig) -> Target:
        kind = load_target_kind(target.kind)
        return kind.factory(target.name, target.settings, self.config.context(tenant, env=self.env))

    def identities(self, tenant: str, target: str) -> IdentityIndex:
        return identity_index_from_rows(self.store.identity_rows(tenant, target))

    def plan(self, tenant_id: str | None, target_name: str | None, *, year: str | None = None,
             today: dt.date | None = None, target: Target | None = None) -> PlanOutcome:
        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        today = today or self.today()
        school_year = tenant.resolve_year(today, year)
        roster = self.read_validated(tenant, school_year)
        provision = None
        lifecycle = target_cfg.policy.lifecycle
        if lifecycle.provision_next_year and year is None and _provisioning(today, school_year, lifecycle.provision_from):
            provision = self.read_validated(tenant, school_year.next(), record=False)
        desired = build_desired(
            roster, target_cfg.rules, target=target_cfg.name, identities=self.identities(tenant.id, target_cfg.name),
            provision=provision, provision_members=lifecycle.provision_members,
        )
        target_obj = target or self.make_target(tenant, target_cfg)
        try:
            supported = target_obj.capabilities.actions
        finally:
            if target is None:
                target_obj.close()
        view = self.store.load_view(tenant.id, target_cfg.name)
        view = replace(view, attrs_json=self.store.load_attrs(tenant.id, target_cfg.name,
                                                              keys_needing_attrs(desired, view.records)))
        plan = make_plan(desired, view, target_cfg.policy.plan_policy(supported), tenant=tenant.id, today=today)
        if plan.held:
            self.store.save_plan(plan, status="held")
        return PlanOutcome(plan, roster, desired, school_year, school_year.next() if provision else None)

    # -- apply --------------------------------------------------------------------------------

    def apply(self, plan: Plan, *, approved_by: str | None = None, trigger: str = "cli",
              progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None,
              target: Target | None = None) -> ApplyResult:
        tenant = self.config.tenant(plan.tenant)
        target_cfg = _target(tenant, plan.target)
        target_obj = target or self.make_target(tenant, target_cfg)
        retry = RetryPolicy(target_cfg.retry.max_attempts, target_cfg.retry.initial_delay_s,
                            target_cfg.retry.max_delay_s)
        try:
            with self.store.lock(tenant.id, target_cfg.name, purpose="apply") as holder:
                self.store.fail_stale_runs(tenant.id, target_cfg.name)
                applier = Applier(
                    self.store, target_obj, tenant=tenant.id, retry=retry, progress=progress, stop=stop,
                    heartbeat=lambda: self.store.heartbeat(tenant.id, target_cfg.name, holder),
                )
                applier.check(plan, approved=approved_by is not None)
                run_id = self.store.begin_run(tenant.id, target_cfg.name, kind="apply", trigger=trigger,
                                              plan_id=plan.id, approved_by=approved_by)
                try:
                    result = applier.run(plan, run_id=run_id)
                except BaseException as exc:
                    self.store.finish_run(run_id, status="failed", message=str(exc) or type(exc).__name__)
                    raise
                self.store.finish_run(run_id, status=result.status, summary=result.summary(), message=result.message)
                if approved_by is not None or plan.held:
                    self.store.set_plan_status(plan.id, "applied", by=approved_by, run_id=run_id,
                                               approved=approved_by is not None)
                serial = result.serial if result.serial is not None else plan.serial
                self.store.mark_stale_plans(tenant.id, target_cfg.name, serial)
                return result
        finally:
            if target is None:
                target_obj.close()

    def sync(self, tenant_id: str | None, target_name: str | None, *, year: str | None = None,
             trigger: str = "cli", progress: Callable[[int, int], None] | None = None,
             stop: threading.Event | None = None, target: Target | None = None) -> SyncOutcome:
        """Plan and, unless a guard holds the plan, apply it."""
        outcome = self.plan(tenant_id, target_name, year=year, target=target)
        plan = outcome.plan
        if plan.held:
            run_id = self.store.begin_run(plan.tenant, plan.target, kind="sync", trigger=trigger, plan_id=plan.id)
            self.store.finish_run(run_id, status="held", summary={"plan": plan.summary()},
                                  message="; ".join(h.message for h in plan.holds))
            return SyncOutcome(plan, None, held=True, run_id=run_id)
        applied = self.apply(plan, trigger=trigger, progress=progress, stop=stop, target=target)
        return SyncOutcome(plan, applied, run_id=applied.run_id)

    def approve(self, plan_id: str, *, approved_by: str, progress=None, stop=None, target=None) -> ApplyResult:
        record = self.store.plan_record(plan_id)
        plan = self.store.load_plan(record.id)
        if record.status not in ("held", "saved"):
            from koppel.errors import PlanError

            raise PlanError(f"plan {record.id} is {record.status}; only a held plan can be approved")
        return self.apply(plan, approved_by=approved_by, progress=progress, stop=stop, target=target)

    def discard(self, plan_id: str, *, by: str) -> None:
        record = self.store.plan_record(plan_id)
        self.store.set_plan_status(record.id, "discarded", by=by)


def _target(tenant: TenantConfig, name: str | None) -> TargetConfig:
    from koppel.errors import ConfigError

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


def _provisioning(today: dt.date, year: SchoolYear, mmdd: str) -> bool:
    month, day = (int(x) for x in mmdd.split("-"))
    start = dt.date(year.start_year + 1, month, day)
    return start <= today <= year.end


def _source_json(info: Any) -> dict[str, Any]:
    return {"name": info.name, "kind": info.kind, "read_at": info.read_at, "location": info.location,
            "school_year": info.school_year, "counts": dict(info.counts)}
