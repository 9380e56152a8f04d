"""The values a takeover passes around: what discovery found on the site, and the takeover plan.

``Found*`` are the platform's objects in koppel's attribute vocabulary (a connector's discovery makes
them), with references by the *platform's* ids: a group's parent and a membership's person and group
are sync ids as the site holds them. ``TakeoverPlan`` is what matching made of them: a value,
serialisable to JSON byte for byte (sorted keys; the only date in it is ``today``), whose id is a content
address, so a saved plan that was altered is refused, and a plan made on an older state is stale.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

__all__ = [
    "TAKEOVER_FORMAT_VERSION",
    "Adoption",
    "Ambiguity",
    "Collision",
    "Discovery",
    "Foreign",
    "FoundGroup",
    "FoundMembership",
    "FoundPerson",
    "Missing",
    "TakeoverOutcome",
    "TakeoverPlan",
    "TakeoverResult",
]

TAKEOVER_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class FoundPerson:
    """An account on the site. ``target_id`` is its sync key, None for an account made by hand."""

    target_id: str | None
    given: str = ""
    prefix: str = ""
    family: str = ""
    username: str | None = None
    email: str | None = None
    role: str | None = None  # koppel's person role (student, staff, guardian), or the platform's own word
    manual: bool = False  # made by hand: no sync key, or one the platform assigned (itsla-…)
    ids: tuple[str, ...] = ()  # other identifiers the account carries (extension fields)
    managed_key: str | None = None  # koppel's key, when koppel already manages this account

    @property
    def label(self) -> str:
        name = " ".join(p for p in (self.given, self.prefix, self.family) if p)
        return f"{name} ({self.username})" if self.username else name

    def attrs(self) -> dict[str, Any]:
        """In the desired vocabulary, as koppel records a person."""
        return {"role": self.role, "given": self.given, "prefix": self.prefix, "family": self.family,
                "username": self.username, "email": self.email}


@dataclass(frozen=True, slots=True)
class FoundGroup:
    """A hierarchy (with its course, for type ``course``). ``parent`` is the parent's sync id; None for a
    group directly under the site root."""

    target_id: str
    type: str | None  # school | folder | course | site, or the platform's own word
    name: str = ""
    code: str | None = None
    parent: str | None = None
    managed_key: str | None = None


@dataclass(frozen=True, slots=True)
class FoundMembership:
    target_id: str
    person: str  # the person's sync key
    group: str  # the group's sync id
    role: str | None  # koppel's membership role (student, teacher, mentor, guardian), or the platform's word
    home: bool = False


@dataclass(frozen=True)
class Discovery:
    """Everything a read-only walk of the site found, and what it cost."""

    persons: tuple[FoundPerson, ...]
    groups: tuple[FoundGroup, ...]
    memberships: tuple[FoundMembership, ...]
    complete: bool = True
    notes: tuple[str, ...] = ()
    requests: int = 0
    seconds: float = 0.0
    site_root: str | None = None  # the sync id of the site's root, as read

    def summary(self) -> dict[str, Any]:
        return {"persons": len(self.persons), "manual_accounts": sum(1 for p in self.persons if p.manual),
                "groups": len(self.groups), "courses": sum(1 for g in self.groups if g.type == "course"),
                "memberships": len(self.memberships), "complete": self.complete, "notes": list(self.notes),
                "requests": self.requests, "seconds": round(self.seconds, 2), "site_root": self.site_root}


# -- the takeover plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Adoption:
    """koppel's object ``key`` is the site's existing object ``target_id``.

    ``attrs`` is what koppel records as held: its desired attributes, with the values the platform holds
    for the fields the platform stores; ``updates`` names the fields the first sync will set to the LAS's
    value. A person made by hand has no sync key yet (``target_id`` None): approving gives it one.
    """

    kind: str
    key: str
    target_id: str | None
    label: str
    matched_on: str
    attrs: Mapping[str, Any]
    fingerprint: str
    school: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    updates: tuple[str, ...] = ()
    site_label: str = ""
    username: str | None = None  # of an account made by hand: how it is found again after conversion
    replaces: str | None = None  # the key an earlier takeover recorded this account under (stale, left alone)


@dataclass(frozen=True)
class Foreign:
    """An account on the site that matches no LAS person.

    ``stale`` accounts (made by a previous koppeling, in a school koppel covers) are recorded so that a
    later plan proposes their suspension — held until someone approves it; the others are left alone,
    recorded only so that their user names stay taken."""

    target_id: str | None
    label: str
    status: str  # stale | left alone
    reason: str
    record_key: str | None = None  # the key koppel records it under (None: not recorded)
    attrs: Mapping[str, Any] = field(default_factory=dict)
    school: str | None = None


@dataclass(frozen=True)
class Missing:
    """An object of the LAS that the site does not have: the first sync creates it."""

    kind: str
    key: str
    label: str
    school: str | None = None


@dataclass(frozen=True)
class Ambiguity:
    """Two or more candidates on one side: never guessed. ``side`` says which side ``subject`` is on."""

    kind: str
    side: str  # "site" (a site object with several LAS candidates) or "las"
    subject: str
    subject_label: str
    candidates: tuple[tuple[str, str], ...]  # (id or key, label)
    rule: str


@dataclass(frozen=True)
class Collision:
    """A LAS person without an account whose user name (by koppel's rules) another account holds."""

    key: str
    label: str
    username: str
    holder: str  # the holding account: sync id or user name
    holder_label: str


@dataclass(frozen=True)
class TakeoverPlan:
    tenant: str
    target: str
    lineage: str
    serial: int
    today: str
    school_year: str
    discovery: Mapping[str, Any]
    adopt: tuple[Adoption, ...] = ()
    create: tuple[Missing, ...] = ()
    foreign: tuple[Foreign, ...] = ()  # accounts without a LAS person: stale or left alone
    unmatched_groups: tuple[tuple[str, str], ...] = ()  # (sync id, name): left alone
    unmatched_memberships: int = 0  # memberships on the site koppel leaves alone
    ambiguous: tuple[Ambiguity, ...] = ()
    collisions: tuple[Collision, ...] = ()
    problems: tuple[str, ...] = ()  # mapping rows that could not be used, the site root, …
    managed: int = 0  # objects on the site koppel manages already
    settings: Mapping[str, Any] = field(default_factory=dict)

    # -- summaries ---------------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        adopt = Counter(a.kind for a in self.adopt)
        create = Counter(m.kind for m in self.create)
        kinds = ("person", "group", "membership")
        return {
            "adopt": {k: adopt.get(k, 0) for k in kinds},
            "create": {k: create.get(k, 0) for k in kinds},
            "suspend": {k: 0 for k in kinds},
            "delete": {k: 0 for k in kinds},
        }

    @property
    def stale(self) -> tuple[Foreign, ...]:
        return tuple(f for f in self.foreign if f.status == "stale")

    @property
    def blocked(self) -> list[str]:
        """Why this plan cannot be approved as it is (empty: it can)."""
        reasons = []
        if not self.discovery.get("complete", True):
            reasons.append("the site could not be read completely: " + "; ".join(self.discovery.get("notes", ())))
        if self.ambiguous:
            reasons.append(f"{len(self.ambiguous)} ambiguous match(es): say which is which in the mapping CSV "
                           "(sync id,koppel key) and run `koppel takeover` again")
        if self.problems:
            reasons.append(f"{len(self.problems)} problem(s) with the mapping or the site (listed with the plan)")
        return reasons

    def update_counts(self) -> dict[str, int]:
        """Per field, how many adopted objects the first sync will set to the LAS's value."""
        counts: Counter = Counter()
        for a in self.adopt:
            for name in a.updates:
                counts[f"{a.kind}.{name}"] += 1
        return dict(sorted(counts.items()))

    # -- JSON ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["format_version"] = TAKEOVER_FORMAT_VERSION
        body["counts"] = self.counts()
        return body

    def _canonical(self) -> bytes:
        return orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)

    @property
    def id(self) -> str:
        cached = self.__dict__.get("_id")
        if cached is None:
            cached = hashlib.sha256(self._canonical()).hexdigest()[:12]
            object.__setattr__(self, "_id", cached)
        return cached

    def to_json_bytes(self) -> bytes:
        """The file `--out` writes: the plan and its id."""
        return orjson.dumps({"id": self.id, **self.to_json()}, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> TakeoverPlan:
        """Read a saved plan; ValueError when it is not one or was altered after it was made."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format_version") != TAKEOVER_FORMAT_VERSION or "adopt" not in data:
            raise ValueError("not a koppel takeover plan (made by `koppel takeover --out`)")
        try:
            plan = cls(
                tenant=data["tenant"], target=data["target"], lineage=data["lineage"], serial=int(data["serial"]),
                today=data["today"], school_year=data["school_year"], discovery=data["discovery"],
                adopt=tuple(Adoption(**{**a, "updates": tuple(a["updates"])}) for a in data["adopt"]),
                create=tuple(Missing(**m) for m in data["create"]),
                foreign=tuple(Foreign(**f) for f in data["foreign"]),
                unmatched_groups=tuple((str(g[0]), str(g[1])) for g in data["unmatched_groups"]),
                unmatched_memberships=int(data["unmatched_memberships"]),
                ambiguous=tuple(Ambiguity(**{**a, "candidates": tuple(tuple(c) for c in a["candidates"])})
                                for a in data["ambiguous"]),
                collisions=tuple(Collision(**c) for c in data["collisions"]),
                problems=tuple(data["problems"]), managed=int(data["managed"]), settings=data["settings"],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a complete takeover plan ({exc})") from None
        if data.get("id") != plan.id:
            raise ValueError(f"the plan was altered after it was made (its id {data.get('id')!r} no longer matches "
                             "its content); make a new one with `koppel takeover --out`")
        return plan


@dataclass(frozen=True)
class TakeoverOutcome:
    """A takeover plan and the school names to show it with."""

    plan: TakeoverPlan
    schools: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TakeoverResult:
    """What `koppel takeover --approve` recorded."""

    plan_id: str
    run_id: int
    serial: int
    adopted: Mapping[str, int]  # per kind
    stale: int  # accounts recorded for confirmation in a later plan
    left_alone: int  # accounts recorded only to keep their user names taken
    converted: int = 0  # accounts made by hand that got a sync key

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
