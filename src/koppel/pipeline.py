"""One run, end to end: read every source → validate → rules → plan → (guards) → apply.

This is the layer the CLI, the demo and the service call; it wires the parts together and holds no
business rule of its own. A run never reads partial data as truth: a source that fails or delivers
nothing raises before anything is planned, and the state stays as it was.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import structlog

from koppel.apply.applier import Applier, ApplyResult
from koppel.config import Config, TargetConfig, TenantConfig
from koppel.connectors import load_source_kind, load_target_kind
from koppel.errors import (
    ConfigError,
    KoppelError,
    PlanError,
    PlanHeldError,
    PreflightFailed,
    SourceDataError,
    SourceError,
    StalePlanError,
    ValidationFailed,
)
from koppel.model.desired import ObjectKind
from koppel.model.merge import merge_rosters
from koppel.model.roster import PersonKind, Roster, SchoolYear
from koppel.plan.engine import diff_index, make_plan
from koppel.plan.model import Plan
from koppel.plan.state_view import ObjectStatus
from koppel.reconcile import DriftReport, compare
from koppel.rules.engine import IdentityIndex, build_desired, identity_index_from_rows
from koppel.state.store import StateStore, utcnow
from koppel.takeover.model import TakeoverOutcome, TakeoverPlan, TakeoverResult
from koppel.targets.base import Check, CheckableTarget, CheckStatus, Target

__all__ = ["Koppel", "PlanOutcome", "SyncOutcome"]

log = structlog.get_logger("koppel.run")


@dataclass
class PlanOutcome:
    """The plan and what a caller shows with it. The roster and the desired state are not kept: at a
    bestuur's size they are most of the memory, and nothing after planning needs them."""

    plan: Plan
    schools: Mapping[str, str]  # BRIN6 -> name
    counts: Mapping[str, int]
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
        from koppel.validation import validate

        try:
            roster = self.read_roster(tenant, year)
        except SourceError as exc:
            if record:
                self.store.record_source_read(tenant.id, status="failed", school_year=str(year), counts={},
                                              sources=[], diagnostics=[], message=str(exc))
            raise
        report = validate(roster, tenant.validation)
        roster = replace(roster, diagnostics=tuple(report.diagnostics))
        if record:
            self.store.record_source_read(
                tenant.id, status="invalid" if report.exceeds_limit else "ok", school_year=str(year),
                counts=roster.counts(), sources=[_source_json(s) for s in roster.sources],
                diagnostics=[d.to_json() for d in report.diagnostics],
            )
        if report.exceeds_limit:
            raise ValidationFailed(len(report.errors), tenant.validation.max_errors)
        return roster

    # -- plan ---------------------------------------------------------------------------------

    def make_target(self, tenant: TenantConfig, target: TargetConfig) -> Target:
        kind = load_target_kind(target.kind)
        ctx = self.config.context(tenant, env=self.env, retry=target.retry.policy())
        return kind.factory(target.name, target.settings, ctx)

    def identities(self, tenant: str, target: str) -> IdentityIndex:
        return identity_index_from_rows(self.store.identity_rows(tenant, target))

    def plan(self, tenant_id: str | None, target_name: str | None, *, year: str | None = None,
             today: dt.date | None = None, target: Target | None = None) -> PlanOutcome:
        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        today = today or self.today()
        school_year = tenant.resolve_year(today, year)
        with _collector_paused():
            return self._plan(tenant, target_cfg, today, school_year, year, target)

    def _plan(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, school_year: SchoolYear,
              year: str | None, target: Target | None) -> PlanOutcome:
        clock = _Stopwatch()
        roster = self.read_validated(tenant, school_year)
        clock.lap("read and validate")
        view, drift, identities = self._read_state(tenant.id, target_cfg.name)
        clock.lap("read the state")
        provision = None
        notes: list[str] = []
        lifecycle = target_cfg.policy.lifecycle
        if lifecycle.provision_next_year and year is None and _provisioning(today, school_year, lifecycle.provision_from):
            try:
                provision = self.read_validated(tenant, school_year.next(), record=False)
            except (SourceError, ValidationFailed) as exc:
                # Next year's data is optional: without it nothing is provisioned, and next-year groups
                # made earlier are left alone (the plan engine never archives a later year it did not read).
                notes.append(f"next year's data ({school_year.next()}) could not be read, so nothing was "
                             f"provisioned: {exc}")
        desired = build_desired(
            roster, target_cfg.rules, target=target_cfg.name, identities=identities,
            provision=provision, provision_members=lifecycle.provision_members, notes=notes,
        )
        clock.lap("rules")
        schools, counts = {b: s.name for b, s in roster.schools.items()}, roster.counts()
        del roster, provision  # free a million memberships before the plan allocates its changes
        clock.lap("free the roster")
        supported = target.capabilities.actions if target is not None else self._supported(tenant, target_cfg)
        policy = target_cfg.policy.plan_policy(supported)
        # The plan does no I/O: its passes over the state's index name the objects whose stored attributes it
        # reads, and those are loaded here, before it goes on. (A state that moved meanwhile moved its serial:
        # the applier refuses the plan.)
        view = replace(view, drift=drift)
        diff = diff_index(desired, view, policy)
        clock.lap("plan: the state's index")
        if diff.details_needed:
            view = view.with_details(*self.store.load_details(tenant.id, target_cfg.name, diff.details_needed))
        clock.lap("load the state's details")
        plan = make_plan(desired, view, policy, tenant=tenant.id, today=today, diff=diff)
        clock.lap("plan")
        if plan.held:
            self.store.save_plan(plan, status="held")
        log.debug("plan timings", tenant=tenant.id, target=target_cfg.name, changes=len(plan.changes), **clock.laps)
        provisioned = school_year.next() if str(school_year.next()) in desired.years else None
        return PlanOutcome(plan, schools, counts, school_year, provisioned)

    def _read_state(self, tenant: str, target: str):
        """The state index, the drift and the identity index (what a plan needs of the state)."""
        view, identity_rows = self.store.load_for_plan(tenant, target)
        return view, self.store.load_drift(tenant, target), identity_index_from_rows(identity_rows)

    def _supported(self, tenant: TenantConfig, target_cfg: TargetConfig) -> frozenset:
        """What the target can do — from its kind when it says so, so planning needs no credentials."""
        kind = load_target_kind(target_cfg.kind)
        if kind.actions is not None:
            return kind.actions
        target_obj = self.make_target(tenant, target_cfg)
        try:
            return target_obj.capabilities.actions
        finally:
            target_obj.close()

    # -- apply --------------------------------------------------------------------------------

    def apply(self, plan: Plan, *, approved_by: str | None = None, trigger: str = "cli",
              progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None,
              target: Target | None = None) -> ApplyResult:
        tenant = self.config.tenant(plan.tenant)
        target_cfg = _target(tenant, plan.target)
        target_obj = target or self.make_target(tenant, target_cfg)
        retry = target_cfg.retry.policy()
        try:
            with self.store.lock(tenant.id, target_cfg.name, purpose="apply") as holder:
                self.store.fail_stale_runs(tenant.id, target_cfg.name)
                self.store.load_drift(tenant.id, target_cfg.name)  # tells record() whether drift rows exist
                applier = Applier(
                    self.store, target_obj, tenant=tenant.id, retry=retry, progress=progress, stop=stop,
                    heartbeat=lambda: self.store.heartbeat(tenant.id, target_cfg.name, holder),
                )
                applier.check(plan, approved=approved_by is not None)
                run_id = self.store.begin_run(tenant.id, target_cfg.name, kind="apply", trigger=trigger,
                                              plan_id=plan.id, approved_by=approved_by)
                try:
                    if plan.changes:
                        self._preflight(tenant.id, target_cfg.name, target_obj)
                    result = applier.run(plan, run_id=run_id)
                except BaseException as exc:
                    self._run_failed(run_id, exc)
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

    def _run_failed(self, run_id: int, exc: BaseException) -> None:
        """Mark the run failed — best effort: when the state store itself failed, this may fail too, and the
        error that stopped the run is the one to report (the next run marks this one failed under its lock)."""
        try:
            self.store.finish_run(run_id, status="failed", message=str(exc) or type(exc).__name__)
        except Exception as also:  # noqa: BLE001 - the original error is raised by the caller
            log.warning("the failed run could not be marked failed", run_id=run_id,
                        error=" ".join(str(getattr(also, "orig", None) or also).split()))

    # -- the run lock ------------------------------------------------------------------------------

    def unlock(self, tenant_id: str | None, target_name: str | None, *, force: bool = False,
               by: str = "koppel unlock") -> dict[str, Any]:
        """``koppel unlock``: the target's run lock — whose it is, when it last beat, whether it is stale — and
        its removal when it is stale (or ``force``). A live lock is kept unless forced. Returns what was found
        and done: ``lock`` (None: there was none), ``run``, ``stale``, ``why``, ``removed``."""
        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        store = self.store
        lock = store.current_lock(tenant.id, target_cfg.name)
        out: dict[str, Any] = {"tenant": tenant.id, "target": target_cfg.name, "lock": None, "run": None,
                               "stale": False, "why": "", "removed": False, "forced": False}
        if lock is None:
            return out
        run = store.lock_run(lock)
        stale, why = store.lock_verdict(lock)
        out.update(lock=lock.__dict__, run=run.__dict__ if run else None, stale=stale, why=why)
        if not stale and not force:
            return out
        out["removed"] = store.remove_lock(tenant.id, target_cfg.name, lock.holder)
        out["forced"] = out["removed"] and not stale
        if out["removed"] and run is not None and run.status == "running":
            store.finish_run(run.id, status="failed", message=f"its run lock was removed by {by}: "
                             + (why if stale else "forced"))
        log.info("run lock removed" if out["removed"] else "run lock already gone", tenant=tenant.id,
                    target=target_cfg.name, holder=lock.holder, pid=lock.pid, host=lock.host, forced=out["forced"])
        return out

    # -- checks -------------------------------------------------------------------------------------

    def check(self, tenant_id: str | None, target_name: str | None, *, target: Target | None = None) -> list[Check]:
        """``koppel check``: can koppel work with this target? Reads only; writes nothing anywhere."""
        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        checks = [Check("configuration", CheckStatus.OK,
                        f"target {target_cfg.name} ({target_cfg.kind}) of tenant {tenant.id}")]
        target_obj = target or self.make_target(tenant, target_cfg)
        try:
            if not isinstance(target_obj, CheckableTarget):
                return checks + [Check("target", CheckStatus.SKIPPED,
                                       f"{target_cfg.kind} targets cannot be checked without writing")]
            checks += target_obj.check(full=True)
        finally:
            if target is None:
                target_obj.close()
        return checks + self._state_checks(tenant.id, target_cfg.name, checks)

    def _state_checks(self, tenant: str, target: str, checks: list[Check]) -> list[Check]:
        """What the state says beside what the platform holds: a site filled by another koppeling needs a
        takeover before koppel's first write, or everyone gets a second account."""
        managed = sum(n for by_status in self.store.counts(tenant, target).values() for n in by_status.values())
        if managed:
            return [Check("state", CheckStatus.OK, f"koppel manages {managed:,} object(s) in this target")]
        held = next((c.data for c in checks if "accounts" in c.data), None)
        if held is None or not held.get("accounts"):
            return [Check("state", CheckStatus.OK, "koppel manages nothing here yet; the first sync loads everything")]
        if held.get("with_sync_id"):
            return [Check("state", CheckStatus.FAILED,
                          f"the target already holds {held['accounts']:,} account(s), with sync ids another koppeling "
                          "or an import gave them, and koppel manages nothing here yet: a first sync would make a "
                          "second account for each of them",
                          "run `koppel takeover` first: it adopts what matches the LAS (see docs/takeover.md)")]
        return [Check("state", CheckStatus.WARNING,
                      f"the target holds {held['accounts']:,} account(s) made by hand; a first sync leaves them be",
                      "`koppel takeover` or `koppel reconcile` matches them to LAS persons, for review")]

    def _preflight(self, tenant: str, target: str, target_obj: Target) -> None:
        """Before a run's first write: the short check (reach, credentials, site root); before the very first
        write to a target also what it already holds. Stops the run, with what to fix, on any failure."""
        if not isinstance(target_obj, CheckableTarget):
            return
        first = not self.store.counts(tenant, target)
        checks = target_obj.check(full=first)
        if first:
            checks += self._state_checks(tenant, target, checks)
        failed = [c for c in checks if c.status is CheckStatus.FAILED]
        if failed:
            raise PreflightFailed("the check before the first write failed; nothing was sent:\n" + "\n".join(
                f"  - {c.name}: {c.message}" + (f"\n    fix: {c.fix}" if c.fix else "") for c in failed))

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
        current = self.store.serial(record.tenant, record.target)
        if record.status in ("held", "saved") and current is not None and current[1] != record.serial:
            self.store.mark_stale_plans(record.tenant, record.target, current[1])
            record = self.store.plan_record(record.id)
        if record.status == "stale":
            raise StalePlanError(f"plan {record.id} is stale: the state moved since it was made (serial "
                                 f"{record.serial}, now {current[1] if current else '?'}). Make a new plan.")
        if record.status not in ("held", "saved"):
            raise PlanError(f"plan {record.id} is {record.status}; only a held plan can be approved")
        plan = self.store.load_plan(record.id)
        return self.apply(plan, approved_by=approved_by, progress=progress, stop=stop, target=target)

    # -- reconciliation --------------------------------------------------------------------------

    def reconcile(self, tenant_id: str | None, target_name: str | None, *, year: str | None = None,
                  target: Target | None = None) -> DriftReport:
        """Read back what the target holds and report drift. Changes nothing in the target."""
        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        target_obj = target or self.make_target(tenant, target_cfg)
        try:
            if not target_obj.capabilities.can_read or not hasattr(target_obj, "read"):
                raise ConfigError(f"target {target_cfg.name} ({target_cfg.kind}) cannot be read back")
            view = self.store.load_view(tenant.id, target_cfg.name, lean=False)
            records = view.records
            live = [k for k, r in records.items() if r.status is not ObjectStatus.DELETED]
            snapshot = target_obj.read(
                [k for k in live if records[k].kind is ObjectKind.GROUP],
                known_person_keys=[k for k in live if records[k].kind is ObjectKind.PERSON],
                known_target_ids={k: r.target_id for k, r in records.items() if r.target_id and r.target_id != k},
            )
            attrs = self.store.load_attrs(tenant.id, target_cfg.name,
                                          [k for k, r in records.items() if r.status is ObjectStatus.ACTIVE])
            notes: list[str] = []
            to_create: list = []
            try:
                today = self.today()
                roster = self.read_validated(tenant, tenant.resolve_year(today, year), record=False)
                desired = build_desired(roster, target_cfg.rules, target=target_cfg.name,
                                        identities=self.identities(tenant.id, target_cfg.name))
                to_create = [o for o in desired.of_kind(ObjectKind.PERSON) if o.key not in records]
            except KoppelError as exc:
                notes.append(f"the LAS could not be read ({exc}); manual accounts were not matched to LAS persons")
            held = getattr(target_obj, "held_attrs", lambda kind, a: dict(a))
            report = compare(records, lambda k: orjson.loads(attrs[k]) if k in attrs else None, snapshot,
                             held=held, to_create=to_create)
            report.notes.extend(notes)
            if report.complete:
                self.store.replace_drift(tenant.id, target_cfg.name,
                                         {d.key: {f: theirs for f, (_, theirs) in d.fields.items()}
                                          for d in report.changed})
        finally:
            if target is None:
                target_obj.close()
        run_id = self.store.begin_run(tenant.id, target_cfg.name, kind="reconcile")
        self.store.finish_run(run_id, status="succeeded" if report.complete else "partial", summary={
            "changed": len(report.changed), "missing": len(report.missing), "unknown": len(report.unknown),
            "manual_accounts": report.manual, "adoption_candidates": len(report.candidates)})
        return report

    def adopt(self, tenant_id: str | None, target_name: str | None, *, account: str, person_key: str,
              approved_by: str, target: Target | None = None) -> str:
        """After explicit approval: make koppel manage an existing (manual) account for a LAS person.

        ``account`` is the account's user name or target id. Returns the target id recorded."""
        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        target_obj = target or self.make_target(tenant, target_cfg)
        try:
            snapshot = target_obj.read([])
            match = [o for o in snapshot.objects if o.kind is ObjectKind.PERSON
                     and account in (o.target_id, o.attrs.get("username"))]
            if not match:
                raise PlanError(f"no account {account!r} in {target_cfg.name}")
            found = match[0]
            target_id = found.target_id
            if not target_id:
                convert = getattr(target_obj, "convert_manual_accounts", None)
                if convert is None:
                    raise PlanError(f"account {account!r} has no id that {target_cfg.kind} can manage")
                converted = [o for o in convert() if o.attrs.get("username") == found.attrs.get("username")]
                if not converted or not converted[0].target_id:
                    raise PlanError(f"account {account!r} could not be given a sync key")
                target_id = converted[0].target_id
        finally:
            if target is None:
                target_obj.close()
        with self.store.lock(tenant.id, target_cfg.name, purpose="adopt"):
            self.store.adopt(tenant.id, target_cfg.name, person_key, target_id, approved_by=approved_by,
                             username=found.attrs.get("username"))
        return target_id

    def discard(self, plan_id: str, *, by: str) -> None:
        record = self.store.plan_record(plan_id)
        self.store.set_plan_status(record.id, "discarded", by=by)

    # -- takeover of a platform another koppeling filled (docs/takeover.md) -------------------------

    def takeover(self, tenant_id: str | None, target_name: str | None, *, mapping: Path | None = None,
                 year: str | None = None, target: Target | None = None) -> TakeoverOutcome:
        """Discover what the target holds (read-only) and match it to what the LAS wants: a takeover plan.
        Writes nothing, to the target or to the state. A bad mapping CSV is refused before anything is read."""
        from koppel.takeover.facts import expected_group_ids, las_facts
        from koppel.takeover.mapping_file import read_mapping
        from koppel.takeover.match import StateFacts, match
        from koppel.takeover.settings import TakeoverSettings

        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        settings = getattr(target_cfg.settings, "takeover", None) or TakeoverSettings()
        path = mapping if mapping is not None else (self.config.base_dir / settings.mapping if settings.mapping else None)
        mapping_file = read_mapping(path) if path is not None else None
        today = self.today()
        roster = self.read_validated(tenant, tenant.resolve_year(today, year), record=False)
        view, _drift, identities = self._read_state(tenant.id, target_cfg.name)
        desired = build_desired(roster, target_cfg.rules, target=target_cfg.name, identities=identities)
        facts = las_facts(roster, desired)
        schools = {b: s.name for b, s in roster.schools.items()}
        del roster
        live = {k: r for k, r in view.records.items()
                if r.status is not ObjectStatus.DELETED and not r.fingerprint.startswith("takeover-")}
        markers = {k for k, r in view.records.items() if r.fingerprint.startswith("takeover-")}
        probes = expected_group_ids(facts, settings.group_sync_ids)
        if mapping_file is not None:
            probes |= {row.site_id for row in mapping_file.rows}
        target_obj = target or self.make_target(tenant, target_cfg)
        try:
            discover = getattr(target_obj, "discover", None)
            if discover is None:
                raise ConfigError(f"target {target_cfg.name} ({target_cfg.kind}) cannot be taken over: koppel "
                                  "cannot read what it holds")
            discovery = discover(probe_group_ids=sorted(probes),
                                 known_keys=[k for k, r in live.items() if r.kind is not ObjectKind.MEMBERSHIP],
                                 known_target_ids={k: r.target_id for k, r in live.items() if r.target_id})
            held = getattr(target_obj, "held_attrs", lambda kind, attrs: dict(attrs))
            plan = match(desired, facts, discovery, settings,
                         state=StateFacts(view.lineage, view.serial, set(live) | set(view.memberships), markers),
                         tenant=tenant.id, target=target_cfg.name, today=today.isoformat(), held=held,
                         mapping=mapping_file, person_kinds=target_cfg.rules.filters.person_kinds)
        finally:
            if target is None:
                target_obj.close()
        return TakeoverOutcome(plan, schools)

    def approve_takeover(self, tenant_id: str | None, target_name: str | None, *, approved_by: str,
                         plan: TakeoverPlan | None = None, mapping: Path | None = None, year: str | None = None,
                         target: Target | None = None) -> TakeoverResult:
        """Record an approved takeover in the state, under the run lock: koppel manages the adopted objects
        from now on under the platform's ids. Without ``plan`` the site is discovered again. A plan made on
        another state is refused, as is one with ambiguities or problems left. Writes nothing to the
        platform, except that accounts made by hand that are adopted get a sync key (ConvertFromManual)."""
        from koppel.takeover.record import state_changes

        tenant = self.config.tenant(tenant_id)
        target_cfg = _target(tenant, target_name)
        if plan is None:
            plan = self.takeover(tenant.id, target_cfg.name, mapping=mapping, year=year, target=target).plan
        if (plan.tenant, plan.target) != (tenant.id, target_cfg.name):
            raise PlanError(f"the takeover plan is for tenant {plan.tenant}, target {plan.target}; not for "
                            f"{tenant.id}, {target_cfg.name}")
        if plan.blocked:
            raise PlanHeldError(f"takeover plan {plan.id} cannot be approved: " + "; ".join(plan.blocked))
        with self.store.lock(tenant.id, target_cfg.name, purpose="takeover"):
            current = self.store.serial(tenant.id, target_cfg.name)
            if current != (plan.lineage, plan.serial):
                raise StalePlanError(f"takeover plan {plan.id} is stale: the state moved since it was made (serial "
                                     f"{plan.serial}, now {current[1] if current else '?'}). Run `koppel takeover` "
                                     "again.")
            converted: dict[str, str] = {}
            manual = {a.username.casefold() for a in plan.adopt if a.target_id is None and a.username}
            if manual:
                target_obj = target or self.make_target(tenant, target_cfg)
                try:
                    convert = getattr(target_obj, "convert_manual_accounts", None)
                    if convert is None:
                        raise PlanError(f"{target_cfg.kind} cannot give accounts made by hand a sync key")
                    converted = {o.attrs["username"].casefold(): o.target_id for o in convert()
                                 if o.target_id and o.attrs.get("username")}
                finally:
                    if target is None:
                        target_obj.close()
                missing = sorted(manual - set(converted))
                if missing:
                    raise PlanError(f"account(s) made by hand {', '.join(missing)} got no sync key; nothing was "
                                    "recorded. Run `koppel takeover` again.")
            changes, drop = state_changes(plan, converted)
            run_id = self.store.begin_run(tenant.id, target_cfg.name, kind="takeover", plan_id=plan.id,
                                          approved_by=approved_by)
            try:
                serial = self.store.record_takeover(tenant.id, target_cfg.name, lineage=plan.lineage,
                                                    serial=plan.serial, changes=changes, drop=drop, run_id=run_id,
                                                    plan_id=plan.id, approved_by=approved_by)
            except BaseException as exc:
                self._run_failed(run_id, exc)
                raise
            result = TakeoverResult(
                plan_id=plan.id, run_id=run_id, serial=serial, adopted=plan.counts()["adopt"],
                stale=sum(1 for f in plan.foreign if f.record_key and f.status == "stale"),
                left_alone=sum(1 for f in plan.foreign if f.record_key and f.status != "stale"),
                converted=len(manual))
            self.store.finish_run(run_id, status="succeeded", summary=result.to_json(),
                                  message=f"takeover {plan.id} approved by {approved_by}")
            self.store.mark_stale_plans(tenant.id, target_cfg.name, serial)
        return result


def _target(tenant: TenantConfig, name: str | None) -> TargetConfig:
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


class _Stopwatch:
    """Seconds per step of a run, for the debug log (`koppel -vv plan`)."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._last = self._now()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = self._now()
        self.laps[name.replace(" ", "_")] = round(now - self._last, 3)
        self._last = now


@contextmanager
def _collector_paused():
    """Building a million long-lived objects triggers full garbage collections that find nothing to
    free (they are all alive); pausing the collector while a plan is built halves the time.

    Afterwards the survivors are frozen (moved out of the collector's generations) before it is switched
    back on: otherwise the first collection would walk all of them. Frozen objects are still freed by
    reference counting as soon as nothing uses them, and koppel's roster, desired state and plan hold no
    reference cycles, so a long-running service loses nothing by it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _provisioning(today: dt.date, year: SchoolYear, mmdd: str) -> bool:
    month, day = (int(x) for x in mmdd.split("-"))
    start = dt.date(year.start_year + 1, month, day)
    return start <= today <= year.end


def _source_json(info: Any) -> dict[str, Any]:
    return {"name": info.name, "kind": info.kind, "read_at": info.read_at, "location": info.location,
            "school_year": info.school_year, "counts": dict(info.counts)}
