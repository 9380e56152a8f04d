"""The statuses koppel stores for its runs, plans, source reads and journal entries — one vocabulary.

Each is a ``StrEnum`` whose values are exactly the strings in the state store, so a member compares
equal to the stored string and binds to SQL as that string. A new value, or a changed one, is a change
of the state's contents: it goes with a migration.
"""

from __future__ import annotations

from enum import StrEnum

from koppel.model.change import ItemOutcome, ItemResult

__all__ = ["PENDING_PLANS", "PROBLEMS", "SKIPPED_CODE", "JournalOutcome", "PlanStatus", "RunKind", "RunStatus",
           "SourceReadStatus"]


class RunStatus(StrEnum):
    """What became of a run (``runs.status``)."""

    RUNNING = "running"  # begun, not finished (or its process died: the next run under the lock fails it)
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # some objects failed or were skipped; the rest landed
    FAILED = "failed"
    STOPPED = "stopped"  # stopped on request after the batches in flight; the next run continues
    HELD = "held"  # a guard held the plan; nothing was applied


class RunKind(StrEnum):
    """What a run did (``runs.kind``)."""

    APPLY = "apply"
    SYNC = "sync"  # a sync: plan and apply in one go, or a plan held for approval
    APPROVE = "approve"  # an approval that failed before its apply run began
    RECONCILE = "reconcile"
    TAKEOVER = "takeover"
    PURGE = "purge"


class PlanStatus(StrEnum):
    """Where a stored plan stands (``plans.status``)."""

    HELD = "held"  # waiting for approval
    SAVED = "saved"
    APPLIED = "applied"
    DISCARDED = "discarded"
    STALE = "stale"  # the state moved past it: plan again
    SUPERSEDED = "superseded"  # a newer held plan of the same target replaced it (decided_by: "plan <id>")


PENDING_PLANS = (PlanStatus.HELD, PlanStatus.SAVED)
"""Plans still to be decided: approvable unless the state moved since they were made."""


class SourceReadStatus(StrEnum):
    """How reading and validating the LAS went (``source_reads.status``)."""

    OK = "ok"
    INVALID = "invalid"  # read, but the data errors exceed validation.max_errors
    FAILED = "failed"  # the read itself failed: nothing was planned


class JournalOutcome(StrEnum):
    """What became of one change (``journal.outcome``, and the counts in a run's summary).

    A change the applier never sent because one it depends on failed earlier in the run is ``SKIPPED``:
    the applier's result for it is :attr:`ItemOutcome.FAILED` with ``code=SKIPPED_CODE``."""

    DONE = "done"
    WARNING = "warning"  # done, with a warning from the target worth showing
    FAILED = "failed"
    SKIPPED = "skipped"

    @classmethod
    def of(cls, result: ItemResult) -> JournalOutcome:
        if result.code == SKIPPED_CODE:
            return cls.SKIPPED
        return _BY_ITEM_OUTCOME[result.outcome]


SKIPPED_CODE = "skipped"
"""The ``ItemResult.code`` of a change not sent because one it depends on failed earlier in the run."""

_BY_ITEM_OUTCOME = {
    ItemOutcome.DONE: JournalOutcome.DONE, ItemOutcome.WARNING: JournalOutcome.WARNING,
    ItemOutcome.FAILED: JournalOutcome.FAILED, ItemOutcome.RETRY: JournalOutcome.FAILED,
}

PROBLEMS = (JournalOutcome.FAILED, JournalOutcome.SKIPPED, JournalOutcome.WARNING)
"""The journal outcomes a run's page lists (``koppel status --run N``)."""
