"""Plans as the plan page reads them: parsed once, grouped by action and school, kept in memory.

A held plan of a large bestuur holds hundreds of thousands of changes (half the pupils gone means
their memberships go too). Decompressing and parsing it takes seconds, so the page cannot do that
per request; a plan never changes once made (its id is its content), so a small LRU of parsed plans
serves every page of it. The worker puts a plan it just held straight in, so the link in the notice
opens at once; others are parsed on their first view.

Only what the page shows is kept per change: action, kind, key, label, school, reason and, for an
update, the changed fields.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from koppel.errors import PlanNotFound
from koppel.model.change import ACTION_ORDER
from koppel.plan.model import Plan
from koppel.state.store import StateStore

__all__ = ["PlanCache", "PlanDigest", "SlimChange"]

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
    def from_plan(cls, plan: Plan) -> PlanDigest:
        body = {"id": plan.id, "tenant": plan.tenant, "target": plan.target, "serial": plan.serial,
                "today": plan.today, "school_year": plan.school_year, "holds": [h.to_json() for h in plan.holds],
                "policy": dict(plan.policy), "notes": list(plan.notes), "diagnostics": dict(plan.diagnostics),
                "summary": plan.summary(), "breakdown": plan.breakdown()}
        return cls.from_body(body, (c.to_json() for c in plan.changes))

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
        return self._keep(PlanDigest.from_plan(plan))

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
        raw = self.store.plan_json(plan_id)
        if raw is None:
            raise PlanNotFound(f"no plan with id {plan_id!r}")
        body = orjson.loads(raw)
        changes = body.pop("changes", [])
        return PlanDigest.from_body(body, changes)

    def _keep(self, digest: PlanDigest) -> PlanDigest:
        with self._lock:
            self._plans[digest.id] = digest
            self._plans.move_to_end(digest.id)
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return digest
