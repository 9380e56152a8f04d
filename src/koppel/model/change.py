"""The vocabulary a plan, the targets, the applier and the state share: actions, changes, item results.

It lives in ``model/`` so that a target does not import ``plan/`` and the state does not import
``targets/`` to speak about the same change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from koppel.model.desired import ObjectKind

__all__ = ["ACTION_ORDER", "Action", "Change", "ItemOutcome", "ItemResult"]


class Action(StrEnum):
    """The closed set of things a plan can ask a target to do."""

    CREATE = "create"
    UPDATE = "update"
    SUSPEND = "suspend"
    RESTORE = "restore"
    ARCHIVE = "archive"
    DELETE = "delete"


ACTION_ORDER = (Action.CREATE, Action.UPDATE, Action.SUSPEND, Action.RESTORE, Action.ARCHIVE, Action.DELETE)


@dataclass(slots=True)
class Change:
    """One object, one action. ``before`` is what the state says the target holds; ``after`` is
    what will be sent (for an update only the fields koppel owns). ``fields`` names the changed
    fields of an update; ``kept`` the differing fields koppel does not own and leaves alone.

    ``phase`` orders the plan: parents before children on create, persons before memberships,
    deletes in reverse. Changes in one phase do not depend on each other.

    Treated as immutable (use ``dataclasses.replace``); not ``frozen`` because a frozen dataclass costs
    three times as much to build and a first plan for a bestuur holds a million changes.
    """

    action: Action
    kind: ObjectKind
    key: str
    reason: str
    phase: int
    school: str | None = None
    label: str = ""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    fields: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    fingerprint: str | None = None
    meta: Mapping[str, Any] | None = None
    dates: Mapping[str, str] | None = None
    # The id the target knows the object by, when it differs from what the target derives from
    # ``key`` (an adopted manual account, a hashed over-long key recorded at create).
    target_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Every field, as the plan file holds it (orjson writes the same shape straight from the object)."""
        data: dict[str, Any] = orjson.loads(orjson.dumps(self))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            action=Action(data["action"]),
            kind=ObjectKind(data["kind"]),
            key=data["key"],
            reason=data["reason"],
            phase=int(data["phase"]),
            school=data.get("school"),
            label=data.get("label", ""),
            before=data.get("before"),
            after=_tuples(data.get("after")),
            fields=tuple(data.get("fields", ())),
            kept=tuple(data.get("kept", ())),
            fingerprint=data.get("fingerprint"),
            meta=data.get("meta"),
            dates=data.get("dates"),
            target_id=data.get("target_id"),
        )


def _tuples(attrs: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """JSON has no tuples; attributes that were tuples come back as lists. Restore them."""
    if attrs is None:
        return None
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}


class ItemOutcome(StrEnum):
    DONE = "done"
    WARNING = "warning"  # done, with a warning from the target worth showing
    FAILED = "failed"  # permanent for this object: data error; do not retry blindly
    RETRY = "retry"  # transient for this object: the applier may retry it


@dataclass(frozen=True, slots=True)
class ItemResult:
    key: str
    outcome: ItemOutcome
    message: str | None = None
    code: str | None = None
    target_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (ItemOutcome.DONE, ItemOutcome.WARNING)
