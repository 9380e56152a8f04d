"""What the platform already holds: reconciliation (drift, adopting manual accounts) and takeover.

Both read the target back and compare it with koppel's state and the LAS; neither changes the platform
beyond giving accounts made by hand a sync key when someone approved adopting them. The pure parts live
in :mod:`koppel.reconcile` and :mod:`koppel.takeover`; this is the wiring, for :class:`~koppel.pipeline.Koppel`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson

from koppel.config import TargetConfig, TenantConfig
from koppel.errors import ConfigError, KoppelError, PlanError, PlanHeldError, StalePlanError
from koppel.model.desired import DesiredObject, ObjectKind
from koppel.model.status import RunKind, RunStatus
from koppel.plan.state_view import ObjectStatus, StateRecord
from koppel.reconcile import DriftReport, compare
from koppel.rules.engine import build_desired
from koppel.takeover.model import TakeoverOutcome, TakeoverPlan, TakeoverResult
from koppel.targets.base import ReadObject, Target, TargetSnapshot

if TYPE_CHECKING:
    from koppel.pipeline import Koppel

__all__ = ["Readback"]

HeldAttrs = Callable[[ObjectKind, Mapping[str, Any]], dict[str, Any]]


class _Readable(Protocol):
    """A target that can be read back (``Capabilities.can_read``)."""

    def read(self, group_keys: list[str], **known: Any) -> TargetSnapshot: ...


class Readback:
    def __init__(self, app: Koppel) -> None:
        self.app = app
        self.store = app.store

    # -- reconciliation ---------------------------------------------------------------------------

    def reconcile(self, tenant: TenantConfig, target_cfg: TargetConfig, *, year: str | None,
                  target: Target | None) -> DriftReport:
        """Read back what the target holds and report drift, recorded as a reconcile run. Changes nothing in
        the target; the drift it finds feeds the next plan."""
        with self.app.target_for(tenant, target_cfg, target) as target_obj:
            read = getattr(target_obj, "read", None)
            if not target_obj.capabilities.can_read or read is None:
                raise ConfigError(f"target {target_cfg.name} ({target_cfg.kind}) cannot be read back")
            records = self.store.load_view(tenant.id, target_cfg.name, lean=False).records
            live = [k for k, r in records.items() if r.status is not ObjectStatus.DELETED]
            snapshot = read(
                [k for k in live if records[k].kind is ObjectKind.GROUP],
                known_person_keys=[k for k in live if records[k].kind is ObjectKind.PERSON],
                known_target_ids={k: r.target_id for k, r in records.items() if r.target_id and r.target_id != k},
            )
            attrs = self.store.load_attrs(tenant.id, target_cfg.name,
                                          [k for k, r in records.items() if r.status is ObjectStatus.ACTIVE])
            notes: list[str] = []
            to_create = self._persons_to_create(tenant, target_cfg, records, year, notes)
            held: HeldAttrs = getattr(target_obj, "held_attrs", lambda kind, a: dict(a))
            report = compare(records, lambda k: orjson.loads(attrs[k]) if k in attrs else None, snapshot,
                             held=held, to_create=to_create)
            report.notes.extend(notes)
            if report.complete:
                self.store.replace_drift(tenant.id, target_cfg.name,
                                         {d.key: {f: theirs for f, (_, theirs) in d.fields.items()}
                                          for d in report.changed})
        self._record_reconcile(tenant.id, target_cfg.name, report)
        return report

    def _record_reconcile(self, tenant: str, target: str, report: DriftReport) -> None:
        self.app.runs.record(
            tenant, target, kind=RunKind.RECONCILE,
            status=RunStatus.SUCCEEDED if report.complete else RunStatus.PARTIAL,
            summary={"changed": len(report.changed), "missing": len(report.missing), "unknown": len(report.unknown),
                     "manual_accounts": report.manual, "adoption_candidates": len(report.candidates)})

    def _persons_to_create(self, tenant: TenantConfig, target_cfg: TargetConfig,
                           records: Mapping[str, StateRecord], year: str | None,
                           notes: list[str]) -> list[DesiredObject]:
        """The LAS persons koppel would create: what manual accounts are matched to. An LAS that cannot be
        read only leaves a note."""
        app = self.app
        try:
            roster = app.read_validated(tenant, tenant.resolve_year(app.today(), year), record=False)
            desired = build_desired(roster, target_cfg.rules, target=target_cfg.name,
                                    identities=app.identities(tenant.id, target_cfg.name))
        except KoppelError as exc:
            notes.append(f"the LAS could not be read ({exc}); manual accounts were not matched to LAS persons")
            return []
        return [o for o in desired.of_kind(ObjectKind.PERSON) if o.key not in records]

    def adopt(self, tenant: TenantConfig, target_cfg: TargetConfig, *, account: str, person_key: str,
              approved_by: str, target: Target | None) -> str:
        """After explicit approval: koppel manages an existing (manual) account for a LAS person. Returns the
        target id recorded."""
        with self.app.target_for(tenant, target_cfg, target) as target_obj:
            found, target_id = _find_account(target_cfg, target_obj, account)
        with self.store.lock(tenant.id, target_cfg.name, purpose="adopt"):
            self.store.adopt(tenant.id, target_cfg.name, person_key, target_id, approved_by=approved_by,
                             username=found.attrs.get("username"))
        return target_id

    # -- takeover -------------------------------------------------------------------------------------

    def takeover(self, tenant: TenantConfig, target_cfg: TargetConfig, *, mapping: Path | None, year: str | None,
                 target: Target | None) -> TakeoverOutcome:
        """Discover what the target holds (read-only) and match it to what the LAS wants: a takeover plan.
        Writes nothing, to the target or to the state. A bad mapping CSV is refused before anything is read."""
        from koppel.takeover.facts import expected_group_ids, las_facts
        from koppel.takeover.mapping_file import read_mapping
        from koppel.takeover.match import StateFacts, match
        from koppel.takeover.settings import TakeoverSettings

        app = self.app
        settings = getattr(target_cfg.settings, "takeover", None) or TakeoverSettings()
        path = mapping if mapping is not None else (app.config.base_dir / settings.mapping if settings.mapping else None)
        mapping_file = read_mapping(path) if path is not None else None
        today = app.today()
        roster = app.read_validated(tenant, tenant.resolve_year(today, year), record=False)
        view, _drift, identities = app.read_state(tenant.id, target_cfg.name)
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
        with app.target_for(tenant, target_cfg, target) as target_obj:
            discover = getattr(target_obj, "discover", None)
            if discover is None:
                raise ConfigError(f"target {target_cfg.name} ({target_cfg.kind}) cannot be taken over: koppel "
                                  "cannot read what it holds")
            discovery = discover(probe_group_ids=sorted(probes),
                                 known_keys=[k for k, r in live.items() if r.kind is not ObjectKind.MEMBERSHIP],
                                 known_target_ids={k: r.target_id for k, r in live.items() if r.target_id})
            held: HeldAttrs = getattr(target_obj, "held_attrs", lambda kind, attrs: dict(attrs))
            plan = match(desired, facts, discovery, settings,
                         state=StateFacts(view.lineage, view.serial, set(live) | set(view.memberships), markers),
                         tenant=tenant.id, target=target_cfg.name, today=today.isoformat(), held=held,
                         mapping=mapping_file, person_kinds=target_cfg.rules.filters.person_kinds)
        return TakeoverOutcome(plan, schools)

    def approve_takeover(self, tenant: TenantConfig, target_cfg: TargetConfig, plan: TakeoverPlan, *,
                         approved_by: str, target: Target | None) -> TakeoverResult:
        """Record an approved takeover in the state, under the run lock. A plan made on another state is
        refused, as is one with ambiguities or problems left. Writes nothing to the platform, except that
        accounts made by hand that are adopted get a sync key (ConvertFromManual)."""
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
            manual = {a.username.casefold() for a in plan.adopt if a.target_id is None and a.username}
            converted = self._convert_manual(tenant, target_cfg, target, manual) if manual else {}
            return self._record_takeover(tenant.id, target_cfg.name, plan, converted, approved_by=approved_by,
                                         manual=len(manual))

    def _convert_manual(self, tenant: TenantConfig, target_cfg: TargetConfig, target: Target | None,
                        manual: set[str]) -> dict[str, str]:
        """Give the accounts made by hand that the plan adopts a sync key: user name (casefolded) → target id."""
        with self.app.target_for(tenant, target_cfg, target) as target_obj:
            convert = getattr(target_obj, "convert_manual_accounts", None)
            if convert is None:
                raise PlanError(f"{target_cfg.kind} cannot give accounts made by hand a sync key")
            converted: dict[str, str] = {o.attrs["username"].casefold(): o.target_id for o in convert()
                                         if o.target_id and o.attrs.get("username")}
        missing = sorted(manual - set(converted))
        if missing:
            raise PlanError(f"account(s) made by hand {', '.join(missing)} got no sync key; nothing was "
                            "recorded. Run `koppel takeover` again.")
        return converted

    def _record_takeover(self, tenant: str, target: str, plan: TakeoverPlan, converted: dict[str, str], *,
                         approved_by: str, manual: int) -> TakeoverResult:
        from koppel.takeover.record import state_changes

        runs = self.app.runs
        changes, drop = state_changes(plan, converted)
        with runs.running(tenant, target, kind=RunKind.TAKEOVER, plan_id=plan.id, approved_by=approved_by) as run_id:
            serial = self.store.record_takeover(tenant, target, lineage=plan.lineage, serial=plan.serial,
                                                changes=changes, drop=drop, run_id=run_id, plan_id=plan.id,
                                                approved_by=approved_by)
        result = TakeoverResult(
            plan_id=plan.id, run_id=run_id, serial=serial, adopted=plan.counts()["adopt"],
            stale=sum(1 for f in plan.foreign if f.record_key and f.status == "stale"),
            left_alone=sum(1 for f in plan.foreign if f.record_key and f.status != "stale"),
            converted=manual)
        runs.finish(run_id, RunStatus.SUCCEEDED, summary=result.to_json(),
                    message=f"takeover {plan.id} approved by {approved_by}")
        runs.stale_plans(tenant, target, serial)
        return result


def _find_account(target_cfg: TargetConfig, target_obj: Target, account: str) -> tuple[ReadObject, str]:
    """The account with this user name or target id, and the target id koppel can manage it under (an account
    made by hand gets one first, where the platform allows)."""
    snapshot = cast(_Readable, target_obj).read([])
    match = [o for o in snapshot.objects if o.kind is ObjectKind.PERSON
             and account in (o.target_id, o.attrs.get("username"))]
    if not match:
        raise PlanError(f"no account {account!r} in {target_cfg.name}")
    found = match[0]
    if found.target_id:
        return found, found.target_id
    convert = getattr(target_obj, "convert_manual_accounts", None)
    if convert is None:
        raise PlanError(f"account {account!r} has no id that {target_cfg.kind} can manage")
    converted = [o for o in convert() if o.attrs.get("username") == found.attrs.get("username")]
    if not converted or not converted[0].target_id:
        raise PlanError(f"account {account!r} could not be given a sync key")
    return found, converted[0].target_id
