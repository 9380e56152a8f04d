"""Reconciliation: compare what the platform holds with what koppel believes it holds.

Pure: the pipeline reads the target (``Target.read``) and the state, and this module says what
drifted — objects changed by hand, objects removed by hand, objects in the platform koppel does not
know, and manual accounts that look like a LAS person koppel is about to create (candidates for
adoption, which happens only after explicit approval). Nothing here changes anything.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from koppel.model.desired import DesiredObject, ObjectKind
from koppel.plan.state_view import TAKEOVER_FOREIGN, ObjectStatus, StateRecord
from koppel.targets.base import ReadObject, TargetSnapshot

__all__ = ["AdoptionCandidate", "Drift", "DriftReport", "compare"]


@dataclass(frozen=True)
class Drift:
    kind: str
    key: str
    label: str
    # field -> (what koppel sent, what the platform holds now)
    fields: Mapping[str, tuple[Any, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "label": self.label,
                "fields": {f: {"koppel": a, "platform": b} for f, (a, b) in sorted(self.fields.items())}}


@dataclass(frozen=True)
class AdoptionCandidate:
    """A manual account in the platform that matches a LAS person koppel would otherwise create."""

    target_id: str | None
    username: str | None
    platform_name: str
    person_key: str
    person_label: str
    matched_on: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"target_id": self.target_id, "username": self.username, "platform_name": self.platform_name,
                "person_key": self.person_key, "person_label": self.person_label,
                "matched_on": list(self.matched_on)}


@dataclass
class DriftReport:
    complete: bool
    changed: list[Drift] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)  # removed by hand
    unknown: list[dict[str, Any]] = field(default_factory=list)  # in the platform with a sync key koppel lacks
    manual: int = 0  # accounts made by hand
    candidates: list[AdoptionCandidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.unknown or self.candidates)

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "clean": self.clean,
            "checked": self.checked,
            "changed": [d.to_json() for d in self.changed],
            "missing": self.missing,
            "unknown": self.unknown,
            "manual_accounts": self.manual,
            "adoption_candidates": [c.to_json() for c in self.candidates],
            "notes": self.notes,
        }


def compare(
    records: Mapping[str, StateRecord],
    attrs_of: Callable[[str], Mapping[str, Any] | None],
    snapshot: TargetSnapshot,
    *,
    held: Callable[[ObjectKind, Mapping[str, Any]], Mapping[str, Any]],
    to_create: Iterable[DesiredObject] = (),
) -> DriftReport:
    """Compare the state (active objects) with a target snapshot; see the module docstring."""
    report = DriftReport(complete=snapshot.complete, notes=list(snapshot.notes))
    seen: dict[str, ReadObject] = {}
    manual: list[ReadObject] = []
    for obj in snapshot.objects:
        if obj.manual and obj.kind is ObjectKind.PERSON and (obj.key is None or obj.key not in records):
            manual.append(obj)
            continue
        if obj.key is None:
            continue
        seen[obj.key] = obj
    checked = {k.value: 0 for k in ObjectKind}
    for key, rec in sorted(records.items()):
        if rec.status is not ObjectStatus.ACTIVE or rec.fingerprint == TAKEOVER_FOREIGN:
            continue  # (a takeover's "left alone" account is not koppel's to compare)
        if rec.kind is ObjectKind.GROUP and rec.group_type is None:
            continue
        checked[rec.kind.value] += 1
        found = seen.pop(key, None)
        if found is None:
            if snapshot.complete or rec.kind is ObjectKind.PERSON:
                report.missing.append({"kind": rec.kind.value, "key": key, "label": rec.label or ""})
            continue
        sent = attrs_of(key)
        if sent is None:
            continue
        expected = held(rec.kind, sent)
        differing = {
            name: (value, found.attrs.get(name))
            for name, value in expected.items()
            if _norm(found.attrs.get(name)) != _norm(value)
        }
        if differing:
            report.changed.append(Drift(rec.kind.value, key, rec.label or "", differing))
    for key, obj in sorted(seen.items()):
        if key in records:
            continue  # suspended, archived or deleted in koppel's state
        report.unknown.append({"kind": obj.kind.value, "key": key, "target_id": obj.target_id})
    report.manual = len(manual)
    report.candidates = _candidates(manual, to_create)
    report.checked = checked
    return report


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if value == "":
        return None
    return value


def _fold(text: str | None) -> str:
    if not text:
        return ""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _candidates(manual: list[ReadObject], to_create: Iterable[DesiredObject]) -> list[AdoptionCandidate]:
    """Match manual accounts to persons koppel would create: e-mail or user name first, then full name."""
    by_email: dict[str, DesiredObject] = {}
    by_username: dict[str, DesiredObject] = {}
    by_name: dict[str, list[DesiredObject]] = {}
    for obj in to_create:
        if obj.kind is not ObjectKind.PERSON:
            continue
        a = obj.attrs
        if a.get("email"):
            by_email[a["email"].lower()] = obj
        if a.get("username"):
            by_username[a["username"].lower()] = obj
        by_name.setdefault(_fold(f"{a.get('given')}{a.get('prefix')}{a.get('family')}"), []).append(obj)
    out = []
    for account in manual:
        a = account.attrs
        matched: list[str] = []
        person = None
        if a.get("email") and a["email"].lower() in by_email:
            person = by_email[a["email"].lower()]
            matched.append("email")
        if a.get("username") and a["username"].lower() in by_username:
            hit = by_username[a["username"].lower()]
            if person is None or hit.key == person.key:
                person = hit
                matched.append("username")
        name = _fold(f"{a.get('given')}{a.get('prefix')}{a.get('family')}")
        same_name = by_name.get(name, [])
        if person is None and len(same_name) == 1:
            person = same_name[0]
            matched.append("name")
        elif person is not None and person in same_name:
            matched.append("name")
        if person is None:
            continue
        platform_name = " ".join(p for p in (a.get("given"), a.get("prefix"), a.get("family")) if p)
        out.append(AdoptionCandidate(account.target_id, a.get("username"), platform_name, person.key, person.label,
                                     tuple(matched)))
    return sorted(out, key=lambda c: (c.person_key, c.username or ""))
