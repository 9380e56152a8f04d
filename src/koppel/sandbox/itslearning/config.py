"""The sandbox's settings: one frozen value, validated when it is made.

The defaults are itslearning's published limits (≤ 50 operations a request, < 10 in flight:
Dos-and-don'ts-for-itslearning-IMS-ES-clients.html) and no injected trouble. The credentials default
to ``koppel`` / ``sandbox``: this is a local emulator, and a fixed pair makes the demo work out of the
box. Give ``--password-env`` to the command line to use another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from koppel.errors import ConfigError, ConfigProblem

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USERNAME", "FailMode", "SandboxConfig"]

DEFAULT_USERNAME = "koppel"
DEFAULT_PASSWORD = "sandbox"


class FailMode(StrEnum):
    """When an injected transient fault strikes a request."""

    BEFORE = "before"
    """Nothing is written; the client gets HTTP 500 + SOAP fault."""
    AFTER = "after"
    """The request is processed and committed, then the answer is "lost": HTTP 500 + SOAP fault."""
    MIXED = "mixed"
    """Each fault is ``before`` or ``after`` with equal chance (seeded)."""


@dataclass(frozen=True)
class SandboxConfig:
    db_path: Path = Path("itslearning-sandbox.db")
    """SQLite file (WAL mode). Created if missing; the data survives restarts."""
    username: str = DEFAULT_USERNAME
    """WS-Security UsernameToken the sandbox accepts."""
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    latency_ms: float = 0
    """Added to every SOAP request that is processed (``asyncio.sleep``, so concurrent requests overlap)."""
    fail_rate: float = 0.0
    """Fraction of SOAP requests answered with HTTP 500 + SOAP fault (a transient failure)."""
    fail_mode: FailMode = FailMode.MIXED
    permanent_fail_rate: float = 0.0
    """Fraction of objects (chosen by hashing the sync key with the seed) refused with ``invaliddata``
    on every create and update, so that retries fail the same way."""
    max_batch: int = 50
    """Operations a request may carry (each membership member counts); more → every item ``overflowfail``."""
    max_in_flight: int = 10
    """Concurrent SOAP requests; one more → every item ``targetisbusy``."""
    seed: int = 0
    """Seeds the fault RNG and the permanent-failure hash, for reproducible runs."""
    site_root: str | None = None
    """Sync id of the site's root hierarchy. On a real site the root exists from the start and an
    administrator gives it a sync id in the UI (Hierarchies.html) before any integration can hang
    groups under it; with this set, the sandbox starts that way. Without it a client creates the Site."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "db_path", Path(self.db_path))
        problems = []
        try:
            object.__setattr__(self, "fail_mode", FailMode(self.fail_mode))
        except ValueError:
            allowed = ", ".join(mode.value for mode in FailMode)
            problems.append(ConfigProblem(f"must be one of {allowed}, not {self.fail_mode!r}", "fail_mode"))
        for name in ("fail_rate", "permanent_fail_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(ConfigProblem("must be between 0 and 1", name))
        for name in ("max_batch", "max_in_flight"):
            if getattr(self, name) < 1:
                problems.append(ConfigProblem("must be 1 or more", name))
        if self.latency_ms < 0:
            problems.append(ConfigProblem("must not be negative", "latency_ms"))
        if not self.username or not self.password:
            problems.append(ConfigProblem("username and password must not be empty", "username"))
        if problems:
            raise ConfigError(problems)
