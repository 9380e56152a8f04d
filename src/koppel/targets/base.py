"""The target contract: small on purpose.

A target declares its capabilities and implements ``apply(batch) -> results``; where the platform
allows it also ``read()`` for reconciliation. Batching, the in-flight window, retries with backoff,
the journal and the state live in the applier (``koppel.apply``), not in a base class.

Contract for ``apply``:

* every change in one batch has the same ``kind`` and ``action``;
* it returns exactly one ``ItemResult`` per change, in the same order;
* a per-object data error is a ``FAILED`` result (reported, not retried), a per-object transient
  error is ``RETRY``; a failure of the whole request raises ``TransientTargetError`` (the applier
  retries the batch, and splits it when it keeps failing; ``overload=True`` makes it send less at a
  time), ``RequestTooLarge`` (the applier splits the batch), or ``TargetAuthError`` /
  ``TargetConfigError`` (the run stops);
* operations are idempotent: create is an upsert, deleting what is already gone is ``DONE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeAlias, runtime_checkable

from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind

__all__ = [
    "Capabilities",
    "Check",
    "CheckStatus",
    "CheckableTarget",
    "ItemOutcome",
    "ItemResult",
    "Payload",
    "PayloadPreview",
    "PublishingTarget",
    "ReadObject",
    "Target",
    "TargetSnapshot",
]


@dataclass(frozen=True)
class Capabilities:
    """What a target can take.

    ``max_batch``: objects per request at most (itslearning: 50; every change is one operation — a
    membership carries one member).
    ``max_operations_in_flight``: the ceiling of objects in all unanswered requests together, never
    passed (itslearning: fewer than 10 unprocessed operations, so 9).
    ``adaptive``: below the ceiling the applier adapts to how the platform answers; ``False`` pins the
    budget at the ceiling.
    ``actions``: (kind, action) pairs the target supports; others are refused at plan time.
    ``can_read``: whether ``read()`` exists for reconciliation.
    ``memberships_by_group``: see below.
    """

    max_batch: int = 50
    max_operations_in_flight: int = 9
    adaptive: bool = True
    actions: frozenset[tuple[ObjectKind, Action]] = field(
        default_factory=lambda: frozenset((k, a) for k in ObjectKind for a in Action)
    )
    can_read: bool = False
    memberships_by_group: bool = False
    """The target writes the members of one group in one request (an LDAP modify of ``member``, a SCIM PATCH of
    ``members``): the applier then sends a phase's membership changes in group order, so that a batch carries many
    members of few groups rather than one member of many (a plan lists memberships by person)."""

    def supports(self, kind: ObjectKind, action: Action) -> bool:
        return (kind, action) in self.actions


class CheckStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"  # works, but worth knowing (readAllPersons off, TLS verification off …)
    FAILED = "failed"  # koppel cannot work like this: the fix says what to do
    SKIPPED = "skipped"  # not checked (an earlier check failed, or it cannot be checked without writing)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of ``koppel check``: what was checked, how it went, and what to do about it."""

    name: str
    status: CheckStatus
    message: str
    fix: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """Figures behind the message (e.g. ``{"accounts": 1304, "with_sync_id": 100}``), for callers."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "message": self.message, "fix": self.fix,
                **({"data": dict(self.data)} if self.data else {})}


@dataclass(frozen=True, slots=True)
class ReadObject:
    """An object as the target holds it, in koppel's target-neutral attribute vocabulary."""

    kind: ObjectKind
    key: str | None  # sync key; None for objects made by hand without one
    attrs: Mapping[str, Any]
    target_id: str | None = None
    manual: bool = False


@dataclass(frozen=True)
class TargetSnapshot:
    objects: tuple[ReadObject, ...]
    complete: bool = True
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Payload:
    """One request a target would send, as ``koppel plan --show-payloads`` prints it.

    ``title`` says which request it is (an operation, a method and path); ``body`` is what goes over the
    wire, as text. Built without credentials: a payload never holds a password, token or key.
    """

    title: str
    body: str


# ``TargetKind.preview``: (the target's settings, one batch of changes) -> the payloads ``apply`` would send.
PayloadPreview: TypeAlias = Callable[[Any, Sequence[Change]], list[Payload]]


@runtime_checkable
class Target(Protocol):
    name: str
    capabilities: Capabilities

    def apply(self, batch: Sequence[Change]) -> Sequence[ItemResult]: ...

    def close(self) -> None: ...


@runtime_checkable
class CheckableTarget(Protocol):
    """A target that can check, without writing, that koppel can work with it (``koppel check``).

    ``full=False`` is the short preflight before a run's first write (reach, credentials, the site
    root); ``full=True`` adds every optional operation and what the platform already holds.
    """

    def check(self, *, full: bool = True) -> list[Check]: ...


@runtime_checkable
class PublishingTarget(Protocol):
    """A target whose changes land together when it publishes: a file a platform picks up (IMS Enterprise
    XML for Moodle, a OneRoster or SDS zip), not a request per object.

    ``apply`` only *stages* a batch (it checks every object and answers per change as usual, but the
    platform sees nothing yet). After the last phase the applier calls ``publish()``, which makes all staged
    changes visible at once (write a temp file, then rename; an upload) and returns a short note of what
    it published (a path, a file name). Only then does the state move: every change of the run is recorded
    in the store after ``publish`` returned. If the run stops before that (a stop request, refused
    credentials) the applier calls ``discard()`` and records nothing; a ``publish`` that raises records
    nothing either, and the next run plans the same changes again.
    """

    def publish(self) -> str: ...

    def discard(self) -> None: ...
