"""Making a target's plan, for :class:`~koppel.pipeline.Koppel`: read and validate the LAS, read the state,
build the desired world (with next year's groups when it is time to provision them), diff, load the details
of what changes, and plan — each step timed for the debug log, with the garbage collector paused.

The pure parts live in :mod:`koppel.rules` and :mod:`koppel.plan`; this is the wiring and the order.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from koppel.config import TargetConfig, TenantConfig, YearChoice
from koppel.connectors import load_target_kind
from koppel.errors import SourceError, ValidationFailed
from koppel.model.roster import Roster, SchoolYear
from koppel.plan.engine import diff_index, make_plan
from koppel.plan.model import Plan
from koppel.rules.engine import build_desired
from koppel.targets.base import Target

if TYPE_CHECKING:
    from koppel.pipeline import Koppel

__all__ = ["PlanOutcome", "Planner", "collector_paused"]

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
    year_choice: YearChoice | None = None  # the year and where it came from (--year, koppel.toml, auto)
    superseded: tuple[str, ...] = ()  # held plans of the target this plan's storing superseded (a run only)


class Planner:
    """Plans one target of one tenant; reads through the application's sources, state store and targets."""

    def __init__(self, app: Koppel) -> None:
        self.app = app

    def plan(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, choice: YearChoice,
             year: str | None, target: Target | None, record: bool) -> PlanOutcome:
        """The plan for ``choice``'s year (``year`` is what the caller asked for: None lets next year's groups be
        provisioned). With ``record`` a held plan is stored as the target's one held plan."""
        app = self.app
        clock = _Stopwatch()
        school_year = choice.year
        roster = app.read_validated(tenant, school_year, record=record, why=choice.why)
        clock.lap("read and validate")
        view, drift, identities = app.read_state(tenant.id, target_cfg.name)
        clock.lap("read the state")
        notes: list[str] = []
        provision = self._next_year(tenant, target_cfg, today, school_year, year, notes)
        desired = build_desired(
            roster, target_cfg.rules, target=target_cfg.name, identities=identities,
            provision=provision, provision_members=target_cfg.policy.lifecycle.provision_members, notes=notes,
        )
        clock.lap("rules")
        schools, counts = {b: s.name for b, s in roster.schools.items()}, roster.counts()
        del roster, provision  # free a million memberships before the plan allocates its changes
        clock.lap("free the roster")
        supported = target.capabilities.actions if target is not None else self.supported(tenant, target_cfg)
        policy = target_cfg.policy.plan_policy(supported)
        view = replace(view, drift=drift)
        diff = diff_index(desired, view, policy)
        clock.lap("diff the index")
        if diff.details_needed:  # the stored attributes of what changes, read before the plan is made
            view = view.with_details(*app.store.load_details(tenant.id, target_cfg.name, diff.details_needed))
        clock.lap("load the details")
        plan = make_plan(desired, view, policy, tenant=tenant.id, today=today, diff=diff)
        clock.lap("plan")
        superseded: list[str] = []
        if plan.held and record:
            superseded = app.runs.plan_held(plan)
        log.debug("plan timings", tenant=tenant.id, target=target_cfg.name, changes=len(plan.changes), **clock.laps)
        provisioned = school_year.next() if str(school_year.next()) in desired.years else None
        return PlanOutcome(plan, schools, counts, school_year, provisioned, choice, tuple(superseded))

    def _next_year(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, school_year: SchoolYear,
                   year: str | None, notes: list[str]) -> Roster | None:
        """Next year's roster, to provision its groups ahead of the switch — when the policy says so and it is
        time; None otherwise, or when it cannot be read (a note says why)."""
        lifecycle = target_cfg.policy.lifecycle
        if not (lifecycle.provision_next_year and year is None
                and _provisioning(today, school_year, lifecycle.provision_from)):
            return None
        try:
            return self.app.read_validated(tenant, school_year.next(), record=False,
                                           why=f"the year after {school_year}, to provision it")
        except (SourceError, ValidationFailed) as exc:
            # Next year's data is optional: without it nothing is provisioned, and next-year groups
            # made earlier are left alone (the plan engine never archives a later year it did not read).
            notes.append(f"next year's data ({school_year.next()}) could not be read, so nothing was "
                         f"provisioned: {exc}")
            return None

    def supported(self, tenant: TenantConfig, target_cfg: TargetConfig) -> frozenset[Any]:
        """What the target can do — from its kind when it says so, so planning needs no credentials."""
        kind = load_target_kind(target_cfg.kind)
        if kind.actions is not None:
            return kind.actions
        with self.app.target_for(tenant, target_cfg, None) as target_obj:
            return target_obj.capabilities.actions


class _Stopwatch:
    """Seconds per step of a run, for the debug log (`koppel -vv plan`)."""

    def __init__(self) -> None:
        self._now = time.perf_counter
        self._last = self._now()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = self._now()
        self.laps[name.replace(" ", "_")] = round(now - self._last, 3)
        self._last = now


@contextmanager
def collector_paused() -> Iterator[None]:
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
