"""Plans as the plan page reads them: parsed once, grouped by action and school, kept in memory.

A held plan of a large bestuur holds hundreds of thousands of changes (half the pupils gone means
their memberships go too). Decompressing and parsing it takes seconds, so the page cannot do that
per request; a plan never changes once made (its id is its content), so a small LRU of parsed plans
serves every page of it. The worker puts a plan it just held straight in, so the link in the notice
opens at once; others are parsed on their first view.

Only what the page shows is kept per change: action, kind, key, label, school, reason and, for an
update, the changed fields. Beside them the review the page opens with is computed once (with the
functions ``koppel plan`` prints it with, :mod:`koppel.plan.render`): the removals first, a sample of
each action × kind, the counts per klas; and the persons by leerlingnummer or docentcode, name and klas
(from the plan and the state). The plan itself stays referenced for searching it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from koppel.errors import PlanNotFound
from koppel.model.change import ACTION_ORDER, Change
from koppel.model.desired import ObjectKind
from koppel.plan.model import Plan
from koppel.plan.render import (
    REMOVALS,
    SAMPLE,
    PersonLabel,
    people_from_plan,
    people_from_state,
    per_klas,
    samples,
)
from koppel.state.store import StateStore

__all__ = ["REMOVAL_CAP", "PlanCache", "PlanDigest", "PlanReview", "SlimChange", "people_of"]

REMOVAL_CAP = 200  # removals listed on the plan page; the rest are found by search
_REMOVAL_ORDER = (ObjectKind.PERSON, ObjectKind.GROUP, ObjectKind.MEMBERSHIP)

_ACTION_RANK = {a.value: i for i, a in enumerate(ACTION_ORDER)}


class SlimChange(NamedTuple):
    """A tuple on purpose: tuples of strings are untracked by the garbage collector, so a cached plan of
    half a million changes adds nothing to every collection's work (a dataclass would: tens of ms)."""

    action: str
    kind: str
    key: str
    label: str
    school: str | None
    reason: str
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field, before, after) of an update

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "key": self.key, "label": self.label,
                "school": self.school, "reason": self.reason,
                "fields": [{"field": f, "before": b, "after": a} for f, b, a in self.fields]}


def _slim(change: Mapping[str, Any]) -> SlimChange:
    fields: tuple[tuple[str, Any, Any], ...] = ()
    if change["action"] == "update" and change.get("before") is not None and change.get("after") is not None:
        before, after = change["before"], change["after"]
        fields = tuple((f, before.get(f), after.get(f)) for f in change.get("fields", ()))
    return SlimChange(change["action"], change["kind"], change["key"], change.get("label") or "",
                      change.get("school"), change["reason"], fields)


@dataclass(frozen=True)
class PlanDigest:
    """What the plan page needs of a plan, with the changes grouped by (action, school) in plan order."""

    id: str
    tenant: str
    target: str
    serial: int
    today: str
    school_year: str
    holds: list[dict[str, Any]]
    policy: dict[str, Any]
    notes: list[str]
    diagnostics: dict[str, int]
    summary: dict[str, int]
    breakdown: dict[str, dict[str, dict[str, int]]]
    groups: dict[tuple[str, str], list[SlimChange]] = field(repr=False)
    review: PlanReview | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_body(cls, body: Mapping[str, Any], changes: Iterable[Mapping[str, Any]]) -> PlanDigest:
        groups: dict[tuple[str, str], list[SlimChange]] = {}
        for change in changes:
            slim = _slim(change)
            groups.setdefault((slim.action, slim.school or "-"), []).append(slim)
        ordered = dict(sorted(groups.items(), key=lambda kv: (_ACTION_RANK.get(kv[0][0], 99), kv[0][1])))
        return cls(
            id=body["id"], tenant=body["tenant"], target=body["target"], serial=int(body["serial"]),
            today=body["today"], school_year=body["school_year"], holds=list(body.get("holds", [])),
            policy=dict(body.get("policy", {})), notes=list(body.get("notes", [])),
            diagnostics=dict(body.get("diagnostics", {})), summary=dict(body["summary"]),
            breakdown=body["breakdown"], groups=ordered,
        )

    @classmethod
    def from_plan(cls, plan: Plan, people: Mapping[str, PersonLabel] | None = None) -> PlanDigest:
        body = {"id": plan.id, "tenant": plan.tenant, "target": plan.target, "serial": plan.serial,
                "today": plan.today, "school_year": plan.school_year, "holds": [h.to_json() for h in plan.holds],
                "policy": dict(plan.policy), "notes": list(plan.notes), "diagnostics": dict(plan.diagnostics),
                "summary": plan.summary(), "breakdown": plan.breakdown()}
        digest = cls.from_body(body, (c.to_json() for c in plan.changes))
        return replace(digest, review=PlanReview.of(plan, people or {}))

    def select(self, *, action: str | None = None, school: str | None = None) -> list[list[SlimChange]]:
        """The groups matching the filters, in plan order (action order, then school)."""
        return [changes for (a, s), changes in self.groups.items()
                if (action is None or a == action) and (school is None or s == school)]

    def page(self, *, action: str | None, school: str | None, offset: int, size: int) -> tuple[int, list[SlimChange]]:
        """(how many match, the ``size`` matching changes from ``offset``) without copying the rest."""
        groups = self.select(action=action, school=school)
        total = sum(len(g) for g in groups)
        shown: list[SlimChange] = []
        for group in groups:
            if offset >= len(group):
                offset -= len(group)
                continue
            shown.extend(group[offset:offset + size - len(shown)])
            offset = 0
            if len(shown) >= size:
                break
        return total, shown

    def group_counts(self) -> list[tuple[str, str, int]]:
        return [(a, s, len(changes)) for (a, s), changes in self.groups.items()]


class PlanCache:
    def __init__(self, store: StateStore, *, size: int = 3):
        self.store = store
        self.size = size
        self._plans: OrderedDict[str, PlanDigest] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, plan: Plan) -> PlanDigest:
        return self._keep(PlanDigest.from_plan(plan, people_of(self.store, plan)))

    def get(self, plan_id: str) -> PlanDigest:
        with self._lock:
            digest = self._plans.get(plan_id)
            if digest is not None:
                self._plans.move_to_end(plan_id)
                return digest
        return self._keep(self._load(plan_id))

    def warm(self) -> int:
        """Parse the newest held plans ahead of their first view (the scheduler calls this); returns how many."""
        held = self.store.plans(status=["held"], limit=self.size)
        missing = [p.id for p in held if p.id not in self._plans]
        for plan_id in missing:
            self.get(plan_id)
        return len(missing)

    def _load(self, plan_id: str) -> PlanDigest:
        if self.store.plan_json(plan_id) is None:
            raise PlanNotFound(f"no plan with id {plan_id!r}")
        plan = self.store.load_plan(plan_id)
        return PlanDigest.from_plan(plan, people_of(self.store, plan))

    def _keep(self, digest: PlanDigest) -> PlanDigest:
        with self._lock:
            self._plans[digest.id] = digest
            self._plans.move_to_end(digest.id)
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return digest


@dataclass(frozen=True)
class PlanReview:
    """What a systeembeheerder reviews of a plan before approving it, bounded whatever the plan's size."""

    plan: Plan = field(repr=False)
    people: Mapping[str, PersonLabel] = field(repr=False)
    removals: tuple[Change, ...]  # the first REMOVAL_CAP: persons, groups, then memberships
    removal_total: int
    samples: dict[tuple[str, str], tuple[list[Change], int]]  # (action, kind) -> (a sample, how many)
    klassen: dict[str, dict[str, int]]  # "school klas" -> action -> count

    @classmethod
    def of(cls, plan: Plan, people: Mapping[str, PersonLabel]) -> PlanReview:
        known = {**people, **{k: _merged(v, people.get(k)) for k, v in people_from_plan(plan).items()}}
        summary = plan.summary()
        # Persons first (who loses their account), then groups, then memberships; plan order within each.
        by_kind: dict[ObjectKind, list[Change]] = {kind: [] for kind in _REMOVAL_ORDER}
        for c in plan.changes:
            if c.action in REMOVALS:
                bucket = by_kind[c.kind]
                if len(bucket) < REMOVAL_CAP:
                    bucket.append(c)
        removals = [c for kind in _REMOVAL_ORDER for c in by_kind[kind]][:REMOVAL_CAP]
        return cls(plan, known, tuple(removals), sum(summary[a.value] for a in REMOVALS),
                   {(a.value, k.value): v for (a, k), v in samples(plan.changes, SAMPLE).items()},
                   per_klas(plan, known))


def _merged(planned: PersonLabel, stated: PersonLabel | None) -> PersonLabel:
    """The plan's label of a person, completed with what the state knows of them."""
    if stated is None:
        return planned
    return PersonLabel(planned.number or stated.number, planned.name or stated.name, planned.klas or stated.klas)


def people_of(store: StateStore, plan: Plan) -> dict[str, PersonLabel]:
    """The persons of the plan's target as the state knows them — numbers and names, and the klas of a pupil
    from their klas membership — for the changes the plan does not label itself (a removal of a pupil who left
    the LAS carries no leerlingnummer)."""
    view, rows = store.load_for_plan(plan.tenant, plan.target)
    people = people_from_state(rows)
    klassen = {k for k, r in view.records.items() if r.kind is ObjectKind.GROUP and r.group_type == "klas"}
    klas_of: dict[str, str] = {}
    if klassen:
        for key in view.memberships:
            if key.endswith("|student"):
                person, _, rest = key.partition("|")
                group = rest.rpartition("|")[0]
                if group in klassen:
                    klas_of[person] = view.label(group)
    return {k: PersonLabel(v.number, v.name, klas_of.get(k)) for k, v in people.items()}
