"""What the rules of all three object kinds share: the per-item rejection, limits and context.

A rule that finds an item unacceptable raises ``Rejected`` with the status to report. The site runs
every item in its own savepoint, so a rejection undoes whatever that item had already written and the
batch carries on with the next item (one status per item, in request order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from .model import CodeMinor, ExtensionField, ObjectKind, Status

__all__ = ["Context", "Limits", "Rejected", "check_length", "merge_fields", "reject", "require_key"]


class Limits:
    """itslearning's field limits (itslearning-and-target-formats §1.6–1.8)."""

    PERSON_KEY = 64  # "Max 64 chars" (createPerson.html; the template page says 255: stay ≤ 64)
    GROUP_KEY = 64
    MEMBERSHIP_KEY = 255
    FIRST_NAME = 64
    LAST_NAME = 64
    PREFIX = 32
    DESC_SHORT = 64
    DESC_LONG = 256
    DESC_FULL = 2048


class Rejected(Exception):
    """One item fails; nothing it wrote is kept."""

    def __init__(self, status: Status):
        self.status = status
        super().__init__(status.description)


def reject(minor: CodeMinor, description: str) -> NoReturn:
    raise Rejected(Status.failure(minor, description))


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the store: the request's clock reading and the injected faults."""

    now: str
    """The request's timestamp (ISO 8601 UTC); every row written by one request carries it."""
    seed: int
    doomed: Callable[[ObjectKind, str], bool]
    site_profiles: frozenset[str] = frozenset()
    """Profile names the site knows besides the defaults (config ``extra_institution_roles``)."""
    """True for objects chosen by ``permanent_fail_rate``: they always fail with ``invaliddata``."""

    def check_doomed(self, kind: ObjectKind, key: str) -> None:
        if self.doomed(kind, key):
            reject(
                CodeMinor.INVALIDDATA,
                f"The {kind.value} '{key}' was refused by the sandbox's permanent fault injection "
                "(permanent_fail_rate); it will be refused on every retry.",
            )


def require_key(key: str | None, kind: ObjectKind, limit: int) -> str:
    """The item's ``sourcedId/identifier``: present, non-empty and within ``limit`` characters."""
    if not key:
        reject(CodeMinor.INCOMPLETEDATA, f"The 'sourcedId' of the {kind.value} is missing or empty.")
    check_length(key, limit, f"The 'sourcedId' of the {kind.value}")
    return key


def check_length(value: str | None, limit: int, what: str) -> None:
    if value is not None and len(value) > limit:
        reject(CodeMinor.INVALIDDATA, f"{what} is {len(value)} characters long; the maximum is {limit}.")


def merge_fields(old: tuple[ExtensionField, ...], new: tuple[ExtensionField, ...]) -> list[ExtensionField]:
    """Updates are additive: a field sent replaces the one with the same name; the others are kept."""
    merged = {field.name: field for field in old}
    merged.update((field.name, field) for field in new)
    return list(merged.values())
