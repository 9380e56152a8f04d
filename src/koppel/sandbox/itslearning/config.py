"""The sandbox's settings: one frozen value, validated when it is made.

By default the sandbox refuses nothing for load: ``capacity_ops_per_s`` is unlimited and there is no
``max_operations_in_flight``. itslearning publishes guidance (keep fewer than 10 operations
unprocessed, at most 50 a request: Dos-and-don'ts-for-itslearning-IMS-ES-clients.html), not limits
with an answer, so the sandbox *measures* how a client keeps to it (``/sandbox/api/stats``) and only
refuses when told to: with a capacity (a FIFO queue that answers HTTP 503 when it is full) or with a
strict cap on unprocessed operations, for tests.

The credentials default to ``koppel`` / ``sandbox``: this is a local emulator, and a fixed pair makes
the demo work out of the box. Give ``--password-env`` to the command line to use another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from koppel.errors import ConfigError, ConfigProblem

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_QUEUE_LIMIT_OPS", "DEFAULT_USERNAME", "FailMode", "SandboxConfig"]

DEFAULT_USERNAME = "koppel"
DEFAULT_PASSWORD = "sandbox"
DEFAULT_QUEUE_LIMIT_OPS = 100


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
    """Added to every SOAP request that is admitted, after its operations were processed
    (``asyncio.sleep``, so concurrent requests overlap)."""
    fail_rate: float = 0.0
    """Fraction of SOAP requests answered with HTTP 500 + SOAP fault (a transient failure)."""
    fail_mode: FailMode = FailMode.MIXED
    permanent_fail_rate: float = 0.0
    """Fraction of objects (chosen by hashing the sync key with the seed) refused with ``invaliddata``
    on every create and update, so that retries fail the same way."""
    max_batch: int = 50
    """itslearning "strongly discourages" requests of more than 50 operations (each membership member
    counts). Larger requests are processed like any other and counted in ``batches_over_50``."""
    capacity_ops_per_s: float | None = None
    """Operations the site processes a second, one FIFO queue for all requests; a request is answered
    once its operations were processed (plus ``latency_ms``). None: unlimited, every request is
    processed at once."""
    queue_limit_ops: int = DEFAULT_QUEUE_LIMIT_OPS
    """With a capacity: unprocessed operations the queue holds. A request that would put more in it is
    answered HTTP 503 at once (a request arriving at an empty queue is always taken)."""
    retry_after_s: int | None = None
    """Seconds for the ``Retry-After`` header of a 503; None: no header (IIS sends none by default)."""
    max_operations_in_flight: int | None = None
    """Strict mode for tests: a request that would make the operations received and not yet answered
    more than this is answered HTTP 503 at once, even when nothing else is in flight. None: off."""
    extra_institution_roles: tuple[str, ...] = ()
    """Profile names the site knows besides the 2017 WSDL's ``institutionRoleType`` enumeration
    (e.g. ``System Administrator``); a person with one of them gets that profile. Any other value
    outside the enumeration makes the whole request fail deserialisation, as the 2017 contract does."""
    poison_keys: tuple[str, ...] = ()
    """Injected trouble: sync ids that make the whole request carrying them fail with HTTP 500 and WCF's
    ``InternalServiceFault``, every time — as a server bug triggered by one object's data does (itswizard
    reports HTTP 500 for an empty ``bday``). A client must isolate such an object and land the others."""
    seed: int = 0
    """Seeds the fault RNG and the permanent-failure hash, for reproducible runs."""
    site_root: str | None = None
    """Sync id of the site's root hierarchy. On a real site the root exists from the start and an
    administrator gives it a sync id in the UI (Hierarchies.html) before any integration can hang
    groups under it; with this set, the sandbox starts that way. Without it a client creates the Site."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "db_path", Path(self.db_path))
        object.__setattr__(self, "extra_institution_roles", tuple(self.extra_institution_roles))
        object.__setattr__(self, "poison_keys", tuple(self.poison_keys))
        problems = []
        try:
            object.__setattr__(self, "fail_mode", FailMode(self.fail_mode))
        except ValueError:
            allowed = ", ".join(mode.value for mode in FailMode)
            problems.append(ConfigProblem(f"must be one of {allowed}, not {self.fail_mode!r}", "fail_mode"))
        for name in ("fail_rate", "permanent_fail_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(ConfigProblem("must be between 0 and 1", name))
        for name in ("max_batch", "queue_limit_ops"):
            if getattr(self, name) < 1:
                problems.append(ConfigProblem("must be 1 or more", name))
        if self.max_operations_in_flight is not None and self.max_operations_in_flight < 1:
            problems.append(ConfigProblem("must be 1 or more (or None: off)", "max_operations_in_flight"))
        if self.capacity_ops_per_s is not None and not self.capacity_ops_per_s > 0:
            problems.append(ConfigProblem("must be more than 0 (or None: unlimited)", "capacity_ops_per_s"))
        if self.retry_after_s is not None and self.retry_after_s < 0:
            problems.append(ConfigProblem("must not be negative (or None: no header)", "retry_after_s"))
        if self.latency_ms < 0:
            problems.append(ConfigProblem("must not be negative", "latency_ms"))
        if any(not isinstance(role, str) or not role.strip() for role in self.extra_institution_roles):
            problems.append(ConfigProblem("profile names must not be empty", "extra_institution_roles"))
        if not self.username or not self.password:
            problems.append(ConfigProblem("username and password must not be empty", "username"))
        if problems:
            raise ConfigError(problems)
