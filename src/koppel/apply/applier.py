"""Run a Plan against a Target: phases, batches, the in-flight window, retries, the journal.

Invariants:

* phases run in order (parents before children, persons before memberships, removals in reverse);
  inside a phase batches go out concurrently, up to the target's in-flight window;
* the state moves only when the target acknowledged, in the same transaction as the journal entry
  (``StateStore.record``) — and only this thread writes the store, worker threads only talk to the
  target;
* a transient failure of a whole request is retried with exponential backoff and full jitter, up to
  ``max_attempts``; per-object ``RETRY`` results are retried the same way; per-object data errors are
  reported and not retried; the rest of the run goes on;
* a change whose parent, person or group failed in this run is *skipped* (reported) rather than sent
  to fail again on the target;
* refused credentials stop the run at once (no retry storm);
* a stop request (SIGTERM in ``koppel serve``) lets the batches in flight finish and be recorded,
  sends nothing new, and ends the run as ``stopped``; the next run picks up what is left.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import structlog

from koppel.errors import KoppelError, PlanHeldError, StalePlanError, TargetAuthError, TargetProtocolError, TransientTargetError
from koppel.model.desired import ObjectKind
from koppel.plan.model import Action, Change, Plan
from koppel.state.store import StateStore
from koppel.targets.base import ItemOutcome, ItemResult, Target

__all__ = ["ApplyResult", "Applier", "RetryPolicy"]

log = structlog.get_logger("koppel.apply")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter (AWS architecture blog): uniform(0, min(cap, base·2^n))."""
        ceiling = min(self.max_delay_s, self.initial_delay_s * (2 ** max(0, attempt - 1)))
        return rng.uniform(ceiling / 2, ceiling)


@dataclass
class ApplyResult:
    plan_id: str
    run_id: int
    status: str = "succeeded"  # succeeded | partial | failed | stopped
    outcomes: Counter = field(default_factory=Counter)  # done / warning / failed / skipped
    by_action: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    serial: int | None = None
    seconds: float = 0.0
    message: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "outcomes": dict(self.outcomes),
            "by_action": {a: dict(c) for a, c in sorted(self.by_action.items())},
            "requests": self.requests,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "failures": len(self.failures),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "plan_id": self.plan_id, "run_id": self.run_id, "serial": self.serial,
                "message": self.message, "failures": self.failures, "warnings": self.warnings[:200]}


_MAX_LISTED = 1000
_SKIPPED = "skipped"


class Applier:
    def __init__(
        self,
        store: StateStore,
        target: Target,
        *,
        tenant: str,
        retry: RetryPolicy = RetryPolicy(),
        progress: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None,
        heartbeat: Callable[[], None] | None = None,
        heartbeat_every_s: float = 30.0,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.target = target
        self.tenant = tenant
        self.retry = retry
        self.progress = progress
        self.stop = stop or threading.Event()
        self.heartbeat = heartbeat
        self.heartbeat_every_s = heartbeat_every_s
        self.rng = rng or random.Random()
        self.monotonic = monotonic

    def check(self, plan: Plan, *, approved: bool) -> None:
        """Refuse a stale or unapproved held plan, with a message that says what to do."""
        current = self.store.serial(self.tenant, plan.target)
        lineage, serial = current if current else ("", 0)
        if plan.lineage and lineage and plan.lineage != lineage:
            raise StalePlanError(
                f"plan {plan.id} was made for another state (lineage {plan.lineage[:8]}…, this state is "
                f"{lineage[:8]}…); make a new plan with `koppel plan`"
            )
        if plan.serial != serial:
            raise StalePlanError(
                f"plan {plan.id} is stale: it was made at state serial {plan.serial}, the state is now at "
                f"{serial} (something was applied since). Make a new plan with `koppel plan`."
            )
        if plan.held and not approved:
            raise PlanHeldError(
                f"plan {plan.id} is held by a guard ({len(plan.holds)} hold(s)); review it and apply it with "
                f"`koppel apply --approve {plan.id}`"
            )

    def run(self, plan: Plan, *, run_id: int) -> ApplyResult:
        started = self.monotonic()
        result = ApplyResult(plan.id, run_id)
        total = len(plan.changes)
        done_count = 0
        failed_keys: set[str] = set()
        last_beat = started
        caps = self.target.capabilities
        try:
            with ThreadPoolExecutor(max_workers=max(1, caps.max_in_flight), thread_name_prefix="koppel-apply") as pool:
                for phase_changes in _phases(plan.changes):
                    if self.stop.is_set():
                        break
                    runner = _PhaseRunner(self, pool, plan, run_id, result, failed_keys)
                    for recorded in runner.run(phase_changes):
                        done_count += recorded
                        if self.progress:
                            self.progress(done_count, total)
                        now = self.monotonic()
                        if self.heartbeat and now - last_beat >= self.heartbeat_every_s:
                            self.heartbeat()
                            last_beat = now
        except TargetAuthError as exc:
            result.status = "failed"
            result.message = str(exc)
            result.seconds = self.monotonic() - started
            raise
        result.seconds = self.monotonic() - started
        if self.stop.is_set() and done_count < total:
            result.status = "stopped"
            result.message = f"stopped on request after {done_count:,} of {total:,} changes; the next run continues"
        elif result.outcomes.get("failed") or result.outcomes.get(_SKIPPED):
            result.status = "partial" if (result.outcomes.get("done") or result.outcomes.get("warning")) else "failed"
        return result


def _phases(changes: Sequence[Change]) -> Iterable[list[Change]]:
    for _, group in itertools.groupby(changes, key=lambda c: c.phase):
        yield list(group)


def _batches(changes: Sequence[Change], size: int) -> Iterable[list[Change]]:
    by_kind: dict[tuple[ObjectKind, Action], list[Change]] = defaultdict(list)
    for c in changes:
        by_kind[(c.kind, c.action)].append(c)
    for key in sorted(by_kind, key=lambda k: (k[0].value, k[1].value)):
        items = by_kind[key]
        for i in range(0, len(items), size):
            yield items[i:i + size]


def _dependencies(change: Change) -> tuple[str, ...]:
    if change.action not in (Action.CREATE, Action.UPDATE, Action.RESTORE) or change.after is None:
        return ()
    after = change.after
    if change.kind is ObjectKind.GROUP:
        parent = after.get("parent")
        return (parent,) if parent else ()
    if change.kind is ObjectKind.MEMBERSHIP:
        return tuple(k for k in (after.get("person"), after.get("group")) if k)
    if change.kind is ObjectKind.PERSON and after.get("children"):
        return tuple(after["children"])
    return ()


class _PhaseRunner:
    """Sends one phase's batches through the window and records their outcomes as they come back."""

    def __init__(self, applier: Applier, pool: ThreadPoolExecutor, plan: Plan, run_id: int, result: ApplyResult,
                 failed_keys: set[str]):
        self.a = applier
        self.pool = pool
        self.plan = plan
        self.run_id = run_id
        self.result = result
        self.failed_keys = failed_keys
        self.window = max(1, applier.target.capabilities.max_in_flight)
        self.delayed: list[tuple[float, int, list[Change], int]] = []
        self.seq = itertools.count()

    def run(self, changes: list[Change]) -> Iterable[int]:
        ready: list[tuple[list[Change], int]] = [(b, 1) for b in _batches(changes, self.a.target.capabilities.max_batch)]
        ready.reverse()  # pop() from the end keeps the plan's order
        running: dict[Future, tuple[list[Change], int]] = {}
        while ready or running or self.delayed:
            now = self.a.monotonic()
            while self.delayed and self.delayed[0][0] <= now:
                _, _, batch, attempt = heapq.heappop(self.delayed)
                ready.append((batch, attempt))
            skipped = self._fill(ready, running)
            if skipped:
                yield self._record(skipped)
            if self.a.stop.is_set() and not running:
                return
            if not running:
                if self.delayed:
                    time.sleep(max(0.0, self.delayed[0][0] - self.a.monotonic()))
                continue
            timeout = None
            if self.delayed:
                timeout = max(0.0, self.delayed[0][0] - self.a.monotonic())
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            finished = [(future, running.pop(future)) for future in done]
            # Keep the window full first: the bookkeeping below takes time the platform can use.
            skipped = self._fill(ready, running)
            outcomes: list[tuple[Change, ItemResult]] = list(skipped)
            for future, (batch, attempt) in finished:
                outcomes += self._outcomes(future, batch, attempt, running)
            if outcomes:
                yield self._record(outcomes)  # one transaction for everything that came back together

    def _fill(self, ready: list[tuple[list[Change], int]],
              running: dict[Future, tuple[list[Change], int]]) -> list[tuple[Change, ItemResult]]:
        """Submit ready batches while the window has room; return the changes skipped on the way."""
        skipped: list[tuple[Change, ItemResult]] = []
        while ready and len(running) < self.window and not self.a.stop.is_set():
            batch, attempt = ready.pop()
            batch, left_out = self._without_failed_dependencies(batch)
            skipped += left_out
            if batch:
                running[self.pool.submit(self.a.target.apply, batch)] = (batch, attempt)
                self.result.requests += 1
        return skipped

    def _outcomes(self, future: Future, batch: list[Change], attempt: int,
                  running: dict[Future, tuple[list[Change], int]]) -> list[tuple[Change, ItemResult]]:
        """What one finished request means per change; retries are scheduled, not returned."""
        try:
            results = list(future.result())
        except TransientTargetError as exc:
            if attempt < self.a.retry.max_attempts and not self.a.stop.is_set():
                self._later(batch, attempt)
                log.info("retrying request", attempt=attempt + 1, items=len(batch), error=str(exc))
                return []
            return [(c, ItemResult(c.key, ItemOutcome.FAILED, f"gave up after {attempt} attempts: {exc}",
                                   code="transient")) for c in batch]
        except TargetAuthError:
            self._drain(running)
            raise
        except TargetProtocolError as exc:
            return [(c, ItemResult(c.key, ItemOutcome.FAILED, str(exc), code="protocol")) for c in batch]
        if len(results) != len(batch):
            return [(c, ItemResult(c.key, ItemOutcome.FAILED,
                                   f"target answered {len(results)} results for {len(batch)} objects",
                                   code="protocol")) for c in batch]
        outcomes: list[tuple[Change, ItemResult]] = []
        again: list[Change] = []
        for change, res in zip(batch, results, strict=True):
            if res.outcome is ItemOutcome.RETRY and attempt < self.a.retry.max_attempts:
                again.append(change)
            elif res.outcome is ItemOutcome.RETRY:
                outcomes.append((change, ItemResult(change.key, ItemOutcome.FAILED,
                                                    f"gave up after {attempt} attempts: {res.message or 'busy'}",
                                                    code=res.code or "transient")))
            else:
                outcomes.append((change, res))
        if again:
            self._later(again, attempt)
        return outcomes

    def _later(self, batch: list[Change], attempt: int) -> None:
        delay = self.a.retry.delay(attempt, self.a.rng)
        self.result.retries += 1
        heapq.heappush(self.delayed, (self.a.monotonic() + delay, next(self.seq), batch, attempt + 1))

    def _drain(self, running: dict[Future, tuple[list[Change], int]]) -> None:
        """Auth refused: record what already came back, send nothing more."""
        self.a.stop.set()
        for future, (batch, _) in list(running.items()):
            try:
                results = future.result()
            except KoppelError:
                continue  # we are stopping because of the first error; this batch is retried next run
            if len(results) == len(batch):
                self._record(list(zip(batch, results, strict=True)))

    def _without_failed_dependencies(self, batch: list[Change]) -> tuple[list[Change], list[tuple[Change, ItemResult]]]:
        if not self.failed_keys:
            return batch, []
        keep, skipped = [], []
        for change in batch:
            missing = [d for d in _dependencies(change) if d in self.failed_keys]
            if missing:
                skipped.append((change, ItemResult(change.key, ItemOutcome.FAILED,
                                                   f"skipped: {missing[0]} failed earlier in this run", code=_SKIPPED)))
            else:
                keep.append(change)
        return keep, skipped

    def _record(self, outcomes: list[tuple[Change, ItemResult]]) -> int:
        result = self.result
        result.serial = self.a.store.record(tenant=self.a.tenant, target=self.plan.target, run_id=self.run_id,
                                            plan_id=self.plan.id, outcomes=outcomes)
        for change, res in outcomes:
            if res.ok:
                outcome = "warning" if res.outcome is ItemOutcome.WARNING else "done"
            else:
                outcome = _SKIPPED if res.code == _SKIPPED else "failed"
                self.failed_keys.add(change.key)
            result.outcomes[outcome] += 1
            result.by_action[f"{change.action.value} {change.kind.value}"][outcome] += 1
            if outcome in ("failed", _SKIPPED) and len(result.failures) < _MAX_LISTED:
                result.failures.append({"key": change.key, "kind": change.kind.value, "action": change.action.value,
                                        "label": change.label, "code": res.code, "message": res.message})
            elif outcome == "warning" and len(result.warnings) < _MAX_LISTED:
                result.warnings.append({"key": change.key, "kind": change.kind.value, "action": change.action.value,
                                        "message": res.message})
        return len(outcomes)
