"""Canonical model: the words every part of koppel shares (DESIGN §3)."""

from koppel.model.merge import merge_rosters
from koppel.model.roster import (
    BRIN6_RE,
    Diagnostic,
    Group,
    GroupKind,
    Membership,
    Person,
    PersonKind,
    Provenance,
    Role,
    Roster,
    School,
    SchoolYear,
    Severity,
    SourceInfo,
    group_key,
    person_key,
)

__all__ = [
    "BRIN6_RE",
    "Diagnostic",
    "Group",
    "GroupKind",
    "Membership",
    "Person",
    "PersonKind",
    "Provenance",
    "Role",
    "Roster",
    "School",
    "SchoolYear",
    "Severity",
    "SourceInfo",
    "group_key",
    "merge_rosters",
    "person_key",
]
