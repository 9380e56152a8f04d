"""Making a target's plan, for :class:`~koppel.pipeline.Koppel`: read and validate the LAS, read the state,
build the desired world (with next year's groups when it is time to provision them), diff, load the details
of what changes, and plan — each step timed for the debug log, with the garbage collector paused. An export of
one folder per school is read and ruled only where its schools' files changed (:mod:`koppel.slices`).

The pure parts live in :mod:`koppel.rules` and :mod:`koppel.plan`; this is the wiring and the order.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

import koppel
from koppel.config import TargetConfig, TenantConfig, YearChoice
from koppel.connectors import load_source_kind, load_target_kind
from koppel.errors import SourceError, ValidationFailed
from koppel.model.desired import Desired
from koppel.model.roster import Roster, SchoolYear
from koppel.plan.engine import desired_membership_groups, diff_index, make_plan, settled_groups
from koppel.plan.model import Plan
from koppel.plan.state_view import StateView
from koppel.rules.engine import build_desired
from koppel.slices import SchoolSlices, Units
from koppel.targets.base import Target

if TYPE_CHECKING:
    from koppel.pipeline import Koppel

__all__ = ["InputsCheck", "PlanInputs", "PlanOutcome", "Planner", "collector_paused"]

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
        self.inputs = InputsCheck(app)
        self.slices = SchoolSlices(app)

    def plan(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, choice: YearChoice,
             year: str | None, target: Target | None, record: bool, *, by_group: bool = True) -> PlanOutcome:
        """The plan for ``choice``'s year (``year`` is what the caller asked for: None lets next year's groups be
        provisioned). With ``record`` a held plan is stored as the target's one held plan, and a state whose
        memberships were loaded in full gets its per-group membership digests written. ``by_group``: use those
        digests when they describe the state as it is (the groups whose members are unchanged are skipped whole);
        False compares every membership."""
        app = self.app
        clock = _Stopwatch()
        school_year = choice.year
        made = self._desired(tenant, target_cfg, today, choice, year, record, by_group, clock)
        desired, drift = made.desired, made.drift
        supported = target.capabilities.actions if target is not None else self.supported(tenant, target_cfg)
        policy = target_cfg.policy.plan_policy(supported)
        view = replace(made.view, drift=drift)
        groups = None
        digests = view.membership_digests
        if digests is not None:
            if drift:  # drift is read after the digests were judged valid: compare every membership then
                view = replace(view, membership_digests=None, memberships=app.store.load_view(
                    tenant.id, target_cfg.name).memberships)
            else:
                groups = made.lines if made.lines is not None else desired_membership_groups(desired)
                # ... and the unchanged schools' groups of a plan school by school: their slices equal the state's
                settled = settled_groups(groups, digests) | made.settled
                view = replace(view, settled_groups=settled, memberships=app.store.group_members(
                    tenant.id, target_cfg.name, (g for g in digests if g not in settled)))
                clock.lap("membership digests")
        diff = diff_index(desired, view, policy, groups)
        clock.lap("diff the index")
        if diff.details_needed:  # the stored attributes of what changes, read before the plan is made
            view = view.with_details(*app.store.load_details(tenant.id, target_cfg.name, diff.details_needed))
        clock.lap("load the details")
        plan = make_plan(desired, view, policy, tenant=tenant.id, today=today, diff=diff)
        clock.lap("plan")
        superseded: list[str] = []
        if plan.held and record:
            superseded = app.runs.plan_held(plan)
        if record and view.membership_digests is None and app.store.store_group_digests(view):
            clock.lap("store membership digests")
        log.debug("plan timings", tenant=tenant.id, target=target_cfg.name, changes=len(plan.changes), **clock.laps)
        provisioned = school_year.next() if str(school_year.next()) in desired.years else None
        return PlanOutcome(plan, made.schools, made.counts, school_year, provisioned, choice, tuple(superseded))

    def _desired(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, choice: YearChoice,
                 year: str | None, record: bool, by_group: bool, clock: _Stopwatch) -> _Made:
        """The desired state and the state's view: school by school when the export's unchanged schools can be
        taken from their slices (:mod:`koppel.slices`), else read, validated and ruled in full — and with
        ``record``, cut into slices for the next plans."""
        app, slices, school_year = self.app, self.slices, choice.year
        units: Units | None = None
        if self._provisions(target_cfg, today, school_year, year):
            whole = "next year's groups are provisioned"
        elif by_group or record:
            found = slices.units(tenant, choice, _config_json(tenant, target_cfg, None, paths=False))
            units, whole = (found, "") if isinstance(found, Units) else (None, found)
            clock.lap("hash the export")
        else:
            whole = "--full"
        view: StateView | None = None
        if by_group and units is not None:
            view, drift, identities = app.read_state(tenant.id, target_cfg.name, by_group=True)
            clock.lap("read the state")
            spliced = slices.splice(tenant, target_cfg, choice, units, view, drift, identities, record=record,
                                    lap=clock.lap)
            if spliced is not None:  # only the changed schools were read and ruled
                return _Made(spliced.desired, spliced.schools, spliced.counts, view, drift, None, spliced.settled)
        else:
            slices.refused(tenant, target_cfg, whole if by_group else "--full")
        roster = app.read_validated(tenant, school_year, record=record, why=choice.why)
        clock.lap("read and validate")
        if view is None:
            view, drift, identities = app.read_state(tenant.id, target_cfg.name, by_group=by_group)
            clock.lap("read the state")
        notes: list[str] = []
        provision = self._next_year(tenant, target_cfg, today, school_year, year, notes)
        desired = build_desired(
            roster, target_cfg.rules, target=target_cfg.name, identities=identities,
            provision=provision, provision_members=target_cfg.policy.lifecycle.provision_members, notes=notes,
        )
        clock.lap("rules")
        lines = None
        if record:  # what the rules made of each school, for the next plans (koppel.slices)
            lines = desired_membership_groups(desired) if units is not None else None
            slices.remember(tenant, target_cfg, units, roster, desired, identities, lines)
            clock.lap("remember the slices")
        made = _Made(desired, {b: s.name for b, s in roster.schools.items()}, roster.counts(), view, drift, lines)
        del roster, provision  # free a million memberships before the plan allocates its changes
        clock.lap("free the roster")
        return made

    def _next_year(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, school_year: SchoolYear,
                   year: str | None, notes: list[str]) -> Roster | None:
        """Next year's roster, to provision its groups ahead of the switch — when the policy says so and it is
        time; None otherwise, or when it cannot be read (a note says why)."""
        if not self._provisions(target_cfg, today, school_year, year):
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

    @staticmethod
    def _provisions(target_cfg: TargetConfig, today: dt.date, school_year: SchoolYear, year: str | None) -> bool:
        """Whether next year's groups are to be provisioned now (the policy says so, it is time, no year asked)."""
        lifecycle = target_cfg.policy.lifecycle
        return bool(lifecycle.provision_next_year and year is None
                    and _provisioning(today, school_year, lifecycle.provision_from))

    def supported(self, tenant: TenantConfig, target_cfg: TargetConfig) -> frozenset[Any]:
        """What the target can do — from its kind when it says so, so planning needs no credentials."""
        kind = load_target_kind(target_cfg.kind)
        if kind.actions is not None:
            return kind.actions
        with self.app.target_for(tenant, target_cfg, None) as target_obj:
            return target_obj.capabilities.actions


@dataclass
class _Made:
    """What a plan starts from: the desired state (with the read's schools and counts), the state's view and drift,
    the desired memberships per group when they were made already, and the groups a plan school by school knows
    to be settled."""

    desired: Desired
    schools: Mapping[str, str]
    counts: Mapping[str, int]
    view: StateView
    drift: dict[str, dict[str, Any]]
    lines: dict[str, list[str]] | None = None
    settled: frozenset[str] = frozenset()


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


# -- the unchanged-input short cut (issue 13) -------------------------------------------------------------

_MAX_HASHED = 4 * 2**30
"""An export folder larger than this is not hashed (a wrong path, not an export): the run plans in full."""


@dataclass(frozen=True)
class PlanInputs:
    """Digests of what a plan of one target depends on, but the state: the export's bytes, the resolved
    configuration (sources, rules, policy, validation), koppel's version, the school year and the day. ``parts``
    is None when the export cannot be fingerprinted (a source read over the network): no short cut then."""

    parts: Mapping[str, str] | None
    why_not: str | None = None

    def with_state(self, version: str) -> dict[str, str] | None:
        if self.parts is None:
            return None
        return {**self.parts, "state": _sha(version)}


def combined(parts: Mapping[str, str]) -> str:
    """The one digest stored and compared: of every part, in a fixed order."""
    return _sha(orjson.dumps(dict(parts), option=orjson.OPT_SORT_KEYS).decode())


def changed_parts(before: Mapping[str, str] | None, now: Mapping[str, str]) -> list[str]:
    """The inputs whose digest differs (every one when nothing was remembered)."""
    if before is None:
        return ["nothing remembered"]
    return sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))


class InputsCheck:
    """Fingerprints a target's inputs. The short cut is conservative: every input a zero-change plan depends on
    is part of the digest, and any doubt (a source it cannot fingerprint, a file it cannot read) means a full
    plan. Time enters every decision of a plan as a date (grace periods and suspension deadlines compared with
    ``today``, the provisioning window of next year's groups, the school year koppel works on, the year a source
    picks), so the digest holds the day: the first run of a day plans in full, later runs that day may not.

    ``counts`` tallies what the check decided ("taken", or the input that changed), for the log and the tests."""

    def __init__(self, app: Koppel) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    def inputs(self, tenant: TenantConfig, target_cfg: TargetConfig, today: dt.date, choice: YearChoice,
               year: str | None) -> PlanInputs:
        export, why_not = self._export(tenant, choice.year)
        if export is None:
            return PlanInputs(None, why_not)
        if target_cfg.policy.lifecycle.provision_next_year and year is None:
            # Next year's export is read to provision its groups (in the provisioning window, when readable):
            # its bytes are an input too — absent or unreadable is a state of its own, not a reason to refuse.
            following, _ = self._export(tenant, choice.year.next())
            export = _sha(f"{export} next year: {following or 'unavailable'}")
        return PlanInputs({
            "export": export,
            "configuration": _sha(_config_json(tenant, target_cfg, year)),
            "version": _sha(f"koppel {koppel.__version__}"),
            "year": _sha(f"{choice.year} {choice.origin} {year or ''}"),
            "day": _sha(f"{today.isoformat()} {dt.date.today().isoformat()}"),
        })

    def _export(self, tenant: TenantConfig, year: SchoolYear) -> tuple[str | None, str | None]:
        """A digest of every byte of every source's files for ``year`` (their names, sizes and contents), or
        (None, why)."""
        app = self.app
        ctx = app.config.context(tenant, env=app.env, school_year=year)
        digest = hashlib.sha256()
        for src in tenant.sources.values():
            source = load_source_kind(src.kind).factory(src.name, src.settings, ctx)
            path = getattr(source, "path", None)
            if not isinstance(path, Path):
                return None, f"source {src.name} ({src.kind}) is not read from files"
            try:
                if not _hash_files(digest, src.name, path):
                    return None, f"source {src.name}: {path} is not a readable export of a sensible size"
            except OSError as exc:
                return None, f"source {src.name}: {exc}"
        return digest.hexdigest(), None


def _hash_files(digest: Any, name: str, path: Path) -> bool:
    """Feed the export's files to ``digest``: a folder's every file (recursively), or a file with every file
    beside it (a CSV source looks for its other tables there). False when there is nothing, or too much."""
    if path.is_file():
        root, files = path.parent, sorted(p for p in path.parent.iterdir() if p.is_file())
    elif path.is_dir():
        root, files = path, sorted(p for p in path.rglob("*") if p.is_file())
    else:
        return False
    if sum(p.stat().st_size for p in files) > _MAX_HASHED:
        return False
    digest.update(f"source {name} at {root.resolve()}\n".encode())
    for file in files:
        digest.update(f"{file.relative_to(root).as_posix()} {file.stat().st_size}\n".encode())
        with open(file, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return True


def _config_json(tenant: TenantConfig, target_cfg: TargetConfig, year: str | None, *, paths: bool = True) -> str:
    """The tenant's resolved configuration as it bears on this target's plan (secrets appear masked). Without
    ``paths``, where the export lies is left out (the slices of :mod:`koppel.slices` hash its bytes instead)."""
    def dump(model: Any) -> Any:
        return model.model_dump(mode="json") if hasattr(model, "model_dump") else str(model)

    def source(settings: Any) -> Any:
        dumped = dump(settings)
        if not paths and isinstance(dumped, dict):
            dumped.pop("path", None)
        return dumped

    config = {
        "tenant": [tenant.id, tenant.name, tenant.school_year, tenant.year_start,
                   str(tenant.base_dir or "") if paths else ""],
        "validation": dump(tenant.validation),
        "sources": {name: [src.kind, source(src.settings)] for name, src in tenant.sources.items()},
        "target": [target_cfg.name, target_cfg.kind, target_cfg.enabled, dump(target_cfg.settings),
                   dump(target_cfg.rules), dump(target_cfg.policy)],
        "year": year,
    }
    return orjson.dumps(config, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
