"""The Plan is a value: a closed set of actions, each with before/after and a human reason.

A plan serialises to JSON byte-for-byte deterministically (sorted keys, no clock: the only date in it
is ``today``, which the caller passes in), so the same inputs give the same plan id on every machine,
and a saved plan can be applied later — unless the state moved meanwhile (lineage and serial).
"""

from __future__ import annotations

import hashlib
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from koppel.model.change import ACTION_ORDER, Action, Change
from koppel.model.desired import ObjectKind
from koppel.model.keys import membership_fingerprint, membership_key

__all__ = ["PLAN_FORMAT_VERSION", "Hold", "Plan"]

PLAN_FORMAT_VERSION = 1
_ID_CHUNK = 10_000


_WORD: dict[Action | ObjectKind, str] = {**{a: a.value for a in Action}, **{k: k.value for k in ObjectKind}}  # enum formatting is slow


def _id_line(c: Change) -> str:
    """What the id covers of one change. A membership create is fully determined by its key (person, group,
    role), its fingerprint (``home``) and its reason: four loads, for the million of a first plan."""
    if c.action is _CREATE and c.kind is _MEMBERSHIP:
        return f"{c.key}\x1f{c.fingerprint}\x1f{c.reason}"
    line = (f"{_WORD[c.action]}\x1f{_WORD[c.kind]}\x1f{c.key}\x1f{c.phase}\x1f{c.school}\x1f{c.label}"
            f"\x1f{c.reason}\x1f{c.fingerprint}\x1f{c.target_id}")
    if c.action is not _CREATE or c.meta or c.dates or c.fields or c.kept:
        line += "\x1f" + orjson.dumps([c.before, None if c.action is _CREATE else c.after, c.fields, c.kept,
                                       c.dates, c.meta], option=orjson.OPT_SORT_KEYS).decode()
    return line


_CREATE, _MEMBERSHIP = Action.CREATE, ObjectKind.MEMBERSHIP
_TALLY_KEY = operator.attrgetter("kind", "action", "school")  # tuples built in C: twice a generator's speed


def _check_create(change: Change) -> None:
    """A create's attributes must match its fingerprint (the plan id covers the fingerprint)."""
    from koppel.model.desired import fingerprint

    after = change.after or {}
    if change.kind is ObjectKind.MEMBERSHIP:
        ok = (change.key == membership_key(str(after.get("person")), str(after.get("group")), str(after.get("role")))
              and change.fingerprint == membership_fingerprint(bool(after.get("home"))))
    else:
        ok = fingerprint(after) == change.fingerprint
    if not ok:
        raise ValueError(f"plan file was altered: the attributes of {change.key} do not match its fingerprint")


@dataclass(frozen=True, slots=True)
class Hold:
    """A guard that held the plan: which kind, which school (None = whole tenant), how many."""

    guard: str
    kind: str
    school: str | None
    count: int
    total: int
    limit: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "guard": self.guard,
            "kind": self.kind,
            "school": self.school,
            "count": self.count,
            "total": self.total,
            "limit": self.limit,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hold:
        values: dict[str, Any] = {k: data.get(k) for k in ("guard", "kind", "school", "count", "total", "limit",
                                                            "message")}
        return cls(**values)


@dataclass(frozen=True)
class Plan:
    tenant: str
    target: str
    lineage: str
    serial: int
    today: str
    school_year: str
    changes: tuple[Change, ...]
    holds: tuple[Hold, ...] = ()
    policy: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    diagnostics: Mapping[str, int] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return bool(self.holds)

    @property
    def empty(self) -> bool:
        return not self.changes

    def _tally(self) -> Counter[tuple[ObjectKind, Action, str | None]]:
        """(kind, action, school) -> count, computed once: every summary and breakdown derives from it."""
        cached = self.__dict__.get("_tally_cache")
        if cached is None:
            cached = Counter(map(_TALLY_KEY, self.changes))
            object.__setattr__(self, "_tally_cache", cached)
        return cached

    def summary(self) -> dict[str, int]:
        counts: Counter[Action] = Counter()
        for (_, action, _), n in self._tally().items():
            counts[action] += n
        return {a.value: counts.get(a, 0) for a in ACTION_ORDER}

    def breakdown(self) -> dict[str, dict[str, dict[str, int]]]:
        """Counts per object kind and per school: ``{"kind": {"group": {"create": 3}}, "school": …}``."""
        by_kind: dict[str, Counter[str]] = {}
        by_school: dict[str, Counter[str]] = {}
        for (kind, action, school), n in self._tally().items():
            by_kind.setdefault(kind.value, Counter())[action.value] += n
            by_school.setdefault(school or "-", Counter())[action.value] += n
        return {
            "kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
            "school": {k: dict(sorted(v.items())) for k, v in sorted(by_school.items())},
        }

    def _head(self) -> dict[str, Any]:
        """Everything but the changes."""
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "tenant": self.tenant,
            "target": self.target,
            "lineage": self.lineage,
            "serial": self.serial,
            "today": self.today,
            "school_year": self.school_year,
            "held": self.held,
            "holds": [h.to_json() for h in self.holds],
            "policy": dict(self.policy),
            "notes": list(self.notes),
            "diagnostics": dict(self.diagnostics),
            "summary": self.summary(),
            "breakdown": self.breakdown(),
        }

    @property
    def id(self) -> str:
        """Content address of the plan: the same plan has the same id everywhere.

        SHA-256 over the canonical JSON of the head and one line per change: what it does to which object,
        why, and the fingerprint of what it sends. A create's attributes are covered by that fingerprint
        (and checked against it when a plan file is read); every other change adds its before and after
        in full. So a million creates are hashed without serialising a million attribute sets.
        """
        cached = self.__dict__.get("_id")
        if cached is None:
            digest = hashlib.sha256(orjson.dumps(self._head(), option=orjson.OPT_SORT_KEYS))
            changes = self.changes
            create, membership = _CREATE, _MEMBERSHIP
            for start in range(0, len(changes), _ID_CHUNK):
                # _id_line's first case inline: a million function calls are a third of the hashing time.
                digest.update("\x1e".join([
                    f"{c.key}\x1f{c.fingerprint}\x1f{c.reason}" if c.action is create and c.kind is membership
                    else _id_line(c) for c in changes[start:start + _ID_CHUNK]
                ]).encode())
            cached = digest.hexdigest()[:12]
            object.__setattr__(self, "_id", cached)
        return cached

    def to_json_bytes(self, *, indent: bool = False) -> bytes:
        body = {"id": self.id, **self._head(), "changes": self.changes}
        option = orjson.OPT_SORT_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
        return orjson.dumps(body, option=option) + b"\n"

    def write_json(self, out: BinaryIO) -> None:
        """Write the same bytes as ``to_json_bytes()``, streaming the changes in chunks, so that saving a
        plan of a million changes does not hold its whole serialisation in memory."""
        head = {"id": self.id, **self._head()}
        for index, name in enumerate(sorted([*head, "changes"])):
            out.write(b"{" if index == 0 else b",")
            out.write(orjson.dumps(name) + b":")
            if name != "changes":
                out.write(orjson.dumps(head[name], option=orjson.OPT_SORT_KEYS))
                continue
            out.write(b"[")
            for start in range(0, len(self.changes), _ID_CHUNK):
                if start:
                    out.write(b",")
                out.write(orjson.dumps(self.changes[start:start + _ID_CHUNK], option=orjson.OPT_SORT_KEYS)[1:-1])
            out.write(b"]")
        out.write(b"}\n")

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> Plan:
        data = orjson.loads(raw)
        version = data.get("format_version")
        if version != PLAN_FORMAT_VERSION:
            raise ValueError(f"plan format version {version!r} is not supported (expected {PLAN_FORMAT_VERSION})")
        plan = cls(
            tenant=data["tenant"],
            target=data["target"],
            lineage=data["lineage"],
            serial=int(data["serial"]),
            today=data["today"],
            school_year=data["school_year"],
            changes=tuple(Change.from_json(c) for c in data["changes"]),
            holds=tuple(Hold.from_json(h) for h in data.get("holds", ())),
            policy=data.get("policy", {}),
            notes=tuple(data.get("notes", ())),
            diagnostics=data.get("diagnostics", {}),
        )
        for change in plan.changes:
            if change.action is Action.CREATE:
                _check_create(change)
        if "id" in data and data["id"] != plan.id:
            raise ValueError(f"plan file was altered: its id {data['id']} does not match its content ({plan.id})")
        return plan

    def with_changes(self, changes: Iterable[Change]) -> Plan:
        return Plan(
            tenant=self.tenant,
            target=self.target,
            lineage=self.lineage,
            serial=self.serial,
            today=self.today,
            school_year=self.school_year,
            changes=tuple(changes),
            holds=self.holds,
            policy=self.policy,
            notes=self.notes,
            diagnostics=self.diagnostics,
        )
