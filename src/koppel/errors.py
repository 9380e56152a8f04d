"""One root error, and families named by what the caller should do next.

::

    KoppelError
     ├── ConfigError ............ fix the configuration (every problem listed at once)
     ├── SourceError ............ the run stops for this tenant before planning
     │    ├── SourceUnavailable .... try again later (LAS down, timeout, "TijdelijkNietBeschikbaar")
     │    ├── SourceAuthError ...... fix credentials or authorisation for the named school
     │    └── SourceDataError ...... the export itself is unusable (empty, truncated, not a table)
     ├── ValidationFailed ....... too many data errors; the report says which rows
     ├── PlanError
     │    ├── StalePlanError ....... the state moved since the plan was made: plan again
     │    ├── PlanHeldError ........ a guard held the plan: approve it or discard it
     │    └── PlanNotFound
     ├── TargetError
     │    ├── TransientTargetError . retry the request with backoff (5xx, timeout, busy)
     │    ├── RequestTooLarge ...... the platform refused the request's size: send smaller batches
     │    ├── TargetAuthError ...... credentials refused: stop, do not retry
     │    ├── TargetConfigError .... wrong endpoint or action, a value the platform cannot read:
     │    │    │                     stop, fix the configuration (no retry can help)
     │    │    └── PreflightFailed . `koppel check` failed before the first write
     │    └── TargetProtocolError .. the answer was not what the protocol promises
     ├── StateError
     │    ├── LockHeld ............. another run for this tenant and target is busy (`koppel unlock`)
     │    └── StateUnavailable ..... the state store cannot be reached, read or written (a database
     │         │                     that does not answer, a full disk, a read-only file): fix it, run again
     │         └── UnrecordedChanges  the platform answered changes the state could not record: fix the
     │                               state store; the next run sends them again
     └── SandboxError

Bad rows in roster data are *diagnostics* (with file and line), not exceptions. Per-object failures
during apply are *results*, not exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class KoppelError(Exception):
    """Root of every error koppel raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in the configuration: where (file, line, setting) and what."""

    message: str
    setting: str | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}" if self.line else self.file
        if self.setting:
            where = f"{where} [{self.setting}]" if where else f"[{self.setting}]"
        return f"{where}: {self.message}" if where else self.message


class ConfigError(KoppelError):
    """The configuration is wrong. Carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[ConfigProblem] | str):
        if isinstance(problems, str):
            problems = [ConfigProblem(problems)]
        self.problems = tuple(problems)
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"configuration has {head}:\n" + "\n".join(f"  - {p}" for p in self.problems))


class SourceError(KoppelError):
    """Reading a source failed; nothing is planned for this tenant."""

    def __init__(self, message: str, *, source: str | None = None):
        self.source = source
        super().__init__(f"source {source}: {message}" if source else message)


class SourceUnavailable(SourceError):
    """The source cannot be reached or said it is temporarily unavailable: retry later."""


class SourceAuthError(SourceError):
    """The source refused our credentials or authorisation: fix the configuration."""


class SourceDataError(SourceError):
    """The data the source delivered cannot be used as a complete snapshot."""


class ValidationFailed(KoppelError):
    """More data-quality errors than the configured limit: the run stops before planning."""

    def __init__(self, errors: int, limit: int):
        self.errors = errors
        self.limit = limit
        super().__init__(
            f"{errors} data errors exceed the limit of {limit} (validation.max_errors); "
            "nothing was planned. Run `koppel validate` for the report."
        )


class PlanError(KoppelError):
    pass


class StalePlanError(PlanError):
    """The state moved since the plan was made. ``plan_id``, ``made_at`` and ``now_at`` (state serials) are
    set where they are known, so the command line can say it in the user's language."""

    def __init__(self, message: str, *, plan_id: str | None = None, made_at: int | None = None,
                 now_at: int | None = None):
        self.plan_id, self.made_at, self.now_at = plan_id, made_at, now_at
        super().__init__(message)


class PlanHeldError(PlanError):
    """The plan is held by a guard and needs approval (``holds`` of them, when known)."""

    exit_code = 3

    def __init__(self, message: str, *, plan_id: str | None = None, holds: int | None = None):
        self.plan_id, self.holds = plan_id, holds
        super().__init__(message)


class PlanNotFound(PlanError):
    pass


class TargetError(KoppelError):
    """A target failed as a whole (not a per-object failure)."""


class TransientTargetError(TargetError):
    """Retry later: HTTP 5xx, a SOAP fault, a timeout, ``targetisbusy``.

    ``overload`` says the platform is busy rather than broken (HTTP 503 or 429, ``targetisbusy``, a
    timeout): the applier then sends less at a time, not only later. ``retry_after`` is the platform's
    own ``Retry-After`` in seconds, when it gave one. ``unanswered`` says no answer came at all (a
    timeout): the platform may still be working on the request.
    """

    def __init__(self, message: str, *, overload: bool = False, retry_after: float | None = None,
                 unanswered: bool = False):
        super().__init__(message)
        self.overload = overload
        self.retry_after = retry_after
        self.unanswered = unanswered


class RequestTooLarge(TargetError):
    """The platform refused a request for its size (HTTP 413): the same objects fit in smaller requests."""


class TargetAuthError(TargetError):
    """The target refused the credentials. Retrying would only lock the account."""

    exit_code = 5


class TargetConfigError(TargetError):
    """The platform cannot serve what koppel asks, whatever the data: a wrong endpoint or SOAPAction
    (``ActionNotSupported``, a ContractFilter mismatch, HTTP 404), a message it cannot deserialise (a
    mapped profile or role it does not know), a redirect. The run stops; no retry can fix it."""

    exit_code = 5


class PreflightFailed(TargetConfigError):
    """``koppel check`` found a problem before the first write: the run stops, nothing was sent."""


class TargetProtocolError(TargetError):
    """The target answered something the protocol does not allow (not XML, wrong count …)."""


class StateError(KoppelError):
    pass


class LockHeld(StateError):
    """Another run for this tenant and target holds the lock; who holds it, where and since when, when known."""

    exit_code = 4

    def __init__(self, message: str, *, tenant: str | None = None, target: str | None = None,
                 purpose: str | None = None, host: str | None = None, pid: int | None = None,
                 since: str | None = None):
        self.tenant, self.target, self.purpose = tenant, target, purpose
        self.host, self.pid, self.since = host, pid, since
        super().__init__(message)


class StateUnavailable(StateError):
    """The state store cannot be reached, read or written: a database that does not answer, a full disk,
    a read-only file or folder. Nothing koppel recorded is lost; fix the store and run again."""


class UnrecordedChanges(StateUnavailable):
    """The run stopped because recording what the platform answered failed. What was sent and not
    recorded stays open in the state, and the next plan sends it again."""


class SandboxError(KoppelError):
    pass
