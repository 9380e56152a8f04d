"""The safety valves the plan applies, as one small frozen value (shown in every plan).

Configuration (``koppel.config``) builds it; the plan only reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from koppel.model.change import Action
from koppel.model.desired import ObjectKind

__all__ = ["AbsentGroupAction", "ArchivedMemberships", "GuardPolicy", "PlanPolicy"]


class AbsentGroupAction(StrEnum):
    ARCHIVE = "archive"  # keep the course and its work; move it out of the way (default)
    DELETE = "delete"


class ArchivedMemberships(StrEnum):
    """What happens to the memberships of a group that is archived (e.g. at the jaarovergang)."""

    KEEP = "keep"  # pupils and teachers keep (read) access to last year's course
    REMOVE = "remove"  # memberships are removed with the archive
    KEEP_TEACHERS = "keep-teachers"  # teachers keep access, pupils are removed


@dataclass(frozen=True)
class GuardPolicy:
    """Deletions and suspensions above these limits hold the plan for approval.

    A plan is held when, for one object kind — over the whole tenant or within one school — the
    number of suspensions and deletions exceeds ``max_count``, or is at least ``min_count`` and more
    than ``max_percent`` of the objects of that kind that koppel manages there.
    """

    max_percent: float = 10.0
    max_count: int = 500
    min_count: int = 10
    kinds: frozenset[ObjectKind] = frozenset({ObjectKind.PERSON, ObjectKind.MEMBERSHIP, ObjectKind.GROUP})
    # The jaarovergang (last year's groups leave) is one reviewable step: always held for approval.
    hold_jaarovergang: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "max_percent": self.max_percent,
            "max_count": self.max_count,
            "min_count": self.min_count,
            "kinds": sorted(k.value for k in self.kinds),
            "hold_jaarovergang": self.hold_jaarovergang,
        }


@dataclass(frozen=True)
class PlanPolicy:
    grace_days: Mapping[str, int] = field(default_factory=lambda: {"student": 30, "staff": 60, "guardian": 30})
    absent_groups: AbsentGroupAction = AbsentGroupAction.ARCHIVE
    archived_memberships: ArchivedMemberships = ArchivedMemberships.KEEP
    # Per kind: the attribute names koppel does NOT own. They are sent on create, never on update.
    protected: Mapping[ObjectKind, frozenset[str]] = field(default_factory=dict)
    guards: GuardPolicy = field(default_factory=GuardPolicy)
    # (kind, action) pairs the target supports; None = everything.
    supported: frozenset[tuple[ObjectKind, Action]] | None = None

    def grace(self, person_role: str | None) -> int:
        return int(self.grace_days.get(person_role or "student", self.grace_days.get("student", 30)))

    def to_json(self) -> dict[str, Any]:
        return {
            "grace_days": dict(sorted(self.grace_days.items())),
            "absent_groups": self.absent_groups.value,
            "archived_memberships": self.archived_memberships.value,
            "protected": {k.value: sorted(v) for k, v in sorted(self.protected.items()) if v},
            "guards": self.guards.to_json(),
        }
