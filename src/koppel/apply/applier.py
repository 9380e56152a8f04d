"""Run a Plan against a Target: phases, an operations budget, retries, batch splitting, the journal.

Invariants:

* phases run in order (parents before children, persons before memberships, removals in reverse);
  inside a phase batches go out concurrently, within the operations budget (:mod:`.budget`): the
  objects in all unanswered requests never pass the target's ceiling, and below it the budget adapts
  to how the platform answers;
* the state moves only when the target acknowledged, in the same transaction as the journal entry
  (``StateStore.record``) — and only this thread writes the store, worker threads only talk to the
  target; every change is noted as sent before its request goes out (``StateStore.mark_sent``) and the
  note is closed with its outcome, so a change whose answer could not be recorded (``UnrecordedChanges``
  stops the run) is sent again by the next plan;
* a transient failure of a whole request is retried with exponential backoff and jitter, up to
  ``max_attempts``, and after the platform's ``Retry-After`` when it gave one; a request the platform
  refused as a whole twice (HTTP 500, a SOAP fault) is **split** in halves, and a failing half again,
  until the object it cannot take is alone: that object fails with the platform's message, the others
  land. "Busy" (503, 429, a timeout) is not a bad object: the batch waits, whole, and the budget shrinks;
* per-object ``RETRY`` results are retried the same way; per-object data errors are reported and not
  retried; the rest of the run goes on;
* a change whose parent, person or group failed in this run is *skipped* (reported) rather than sent
  to fail again on the target;
* refused credentials and configuration faults (a wrong endpoint or SOAPAction, a request the platform
  cannot deserialise) stop the run at once: no retry can fix them;
* a stop request (SIGTERM in ``koppel serve``) lets the batches in flight finish and be recorded,
  sends nothing new, and ends the run as ``stopped``; the next run picks up what is left;
* a *publishing* target (``koppel.targets.base.PublishingTarget``: a file a platform picks up) only
  stages what ``apply`` gets; the outcomes are held until ``publish()`` returned after the last phase and
  recorded then, all together. A run that stops, fails or cannot publish records nothing of it (the
  target discards what it staged) and the next run plans the same changes again.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import structlog

from koppel.apply.budget import LoadStats, OperationsBudget, Ticket
from koppel.errors import (
    KoppelError,
    PlanHeldError,
    RequestTooLarge,
    StalePlanError,
    TargetAuthError,
    TargetConfigError,
    TargetProtocolError,
    TransientTargetError,
)
from koppel.model.attrs import group_attrs, membership_attrs, person_attrs
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.plan.model import Plan
from koppel.retry import RetryPolicy
from koppel.state.store import StateStore
from koppel.targets.base import PublishingTarget, Target

__all__ = ["Applier", "ApplyResult", "RetryPolicy"]

log = structlog.get_logger("koppel.apply")


@dataclass
class ApplyResult:
    plan_id: str
    run_id: int
    status: str = "succeeded"  # succeeded | partial | failed | stopped
    outcomes: Counter[str] = field(default_factory=Counter)  # done / warning / failed / skipped
    by_action: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    serial: int | None = None
    seconds: float = 0.0
    message: str | None = None
    load: LoadStats = field(default_factory=LoadStats)
    published: str | None = None  # what a publishing target published (a file), when it did

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "outcomes": dict(self.outcomes),
            "by_action": {a: dict(c) for a, c in sorted(self.by_action.items())},
            "requests": self.requests,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "failures": len(self.failures),
            "load": self.load.to_json(),
            **({"published": self.published} if self.published else {}),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "plan_id": self.plan_id, "run_id": self.run_id, "serial": self.serial,
                "message": self.message, "failures": self.failures, "warnings": self.warnings[:200]}


_MAX_LISTED = 1000
_DEFAULT_RETRY = RetryPolicy()
"""The retry policy of an Applier that is given none (a frozen value, so one instance serves all)."""
_SKIPPED = "skipped"
_SPLIT_AFTER = 2
"""A batch refused as a whole this many times is split (a split half is split at its first refusal)."""


class Applier:
    def __init__(
        self,
        store: StateStore,
        target: Target,
        *,
        tenant: str,
        retry: RetryPolicy = _DEFAULT_RETRY,
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
                f"{serial} (something was applied since). Make a new plan with `koppel plan`.",
                plan_id=plan.id, made_at=plan.serial, now_at=serial,
            )
        if plan.held and not approved:
            holds = len(plan.holds)
            raise PlanHeldError(
                f"plan {plan.id} is held by a guard ({holds} {'hold' if holds == 1 else 'holds'}); review it and "
                f"apply it with `koppel apply --approve {plan.id}`",
                plan_id=plan.id, holds=holds,
            )

    def run(self, plan: Plan, *, run_id: int) -> ApplyResult:
        started = self.monotonic()
        result = ApplyResult(plan.id, run_id)
        total = len(plan.changes)
        done_count = 0
        failed_keys: set[str] = set()
        last_beat = started
        caps = self.target.capabilities
        held: list[tuple[Change, ItemResult]] | None = [] if isinstance(self.target, PublishingTarget) else None
        budget = OperationsBudget(caps.max_operations_in_flight, max_batch=caps.max_batch, adaptive=caps.adaptive,
                                  clock=self.monotonic)
        result.load = budget.stats
        try:
            with ThreadPoolExecutor(max_workers=max(1, caps.max_operations_in_flight),
                                    thread_name_prefix="koppel-apply") as pool:
                for phase_changes in _phases(plan.changes):
                    if self.stop.is_set():
                        break
                    runner = _PhaseRunner(self, pool, budget, plan, run_id, result, failed_keys, held)
                    for recorded in runner.run(phase_changes):
                        done_count += recorded
                        if self.progress:
                            self.progress(done_count, total)
                        now = self.monotonic()
                        if self.heartbeat and now - last_beat >= self.heartbeat_every_s:
                            self.heartbeat()
                            last_beat = now
        except (TargetAuthError, TargetConfigError) as exc:
            if held is not None:
                self._discard(plan, held)
            result.status = "failed"
            result.message = str(exc)
            result.seconds = self.monotonic() - started
            raise
        if held is not None and not self._publish(plan, run_id, result, held, stopped=done_count < total):
            result.seconds = self.monotonic() - started
            return result
        result.seconds = self.monotonic() - started
        if self.stop.is_set() and done_count < total:
            result.status = "stopped"
            result.message = f"stopped on request after {done_count:,} of {total:,} changes; the next run continues"
        elif result.outcomes.get("failed") or result.outcomes.get(_SKIPPED):
            result.status = "partial" if (result.outcomes.get("done") or result.outcomes.get("warning")) else "failed"
        return result

    def _publish(self, plan: Plan, run_id: int, result: ApplyResult, held: list[tuple[Change, ItemResult]], *,
                 stopped: bool) -> bool:
        """Publish what a publishing target staged and record it; False when nothing was published."""
        if not held:
            return True
        if stopped and self.stop.is_set():
            self._discard(plan, held)
            result.status = "stopped"
            result.message = (f"stopped on request before publishing; nothing of the {len(held):,} changes was "
                              "published, the next run sends them again")
            return False
        if not any(res.ok for _, res in held):
            self._discard(plan, held)  # only failures: nothing to publish, the failures are still reported
            for chunk in _chunks(held):
                _PhaseRunner.count(result, chunk)
                result.serial = self.store.record(tenant=self.tenant, target=plan.target, run_id=run_id,
                                                  plan_id=plan.id, outcomes=chunk)
            return True
        try:
            result.published = self.target.publish()  # type: ignore[attr-defined]
        except KoppelError as exc:
            self._discard(plan, held)
            result.status = "failed"
            result.message = f"nothing was published: {exc}; the next run sends these {len(held):,} changes again"
            log.warning("publishing failed", error=str(exc), changes=len(held))
            return False
        for chunk in _chunks(held):
            _PhaseRunner.count(result, chunk)
            result.serial = self.store.record(tenant=self.tenant, target=plan.target, run_id=run_id,
                                              plan_id=plan.id, outcomes=chunk)
        return True

    def _discard(self, plan: Plan, held: list[tuple[Change, ItemResult]]) -> None:
        self.target.discard()  # type: ignore[attr-defined]
        keys = [change.key for change, _ in held]
        if keys:
            self.store.unmark(tenant=self.tenant, target=plan.target, keys=keys)


def _chunks(outcomes: list[tuple[Change, ItemResult]], size: int = 5000) -> Iterable[list[tuple[Change, ItemResult]]]:
    for start in range(0, len(outcomes), size):
        yield outcomes[start:start + size]


def _phases(changes: Sequence[Change]) -> Iterable[list[Change]]:
    for _, group in itertools.groupby(changes, key=lambda c: c.phase):
        yield list(group)


def _queues(changes: Sequence[Change], *, memberships_by_group: bool = False) -> deque[deque[Change]]:
    """One queue per (kind, action), in a fixed order: a request carries one kind and one action. For a target
    that writes a group's members in one request, memberships go in group order (the changes of one phase do not
    depend on each other, so their order is free)."""
    by_kind: dict[tuple[ObjectKind, Action], deque[Change]] = defaultdict(deque)
    for c in changes:
        by_kind[(c.kind, c.action)].append(c)
    if memberships_by_group:
        for (kind, action), queue in by_kind.items():
            if kind is ObjectKind.MEMBERSHIP:
                by_kind[(kind, action)] = deque(sorted(queue, key=_group_of))
    return deque(by_kind[key] for key in sorted(by_kind, key=lambda k: (k[0].value, k[1].value)))


def _group_of(change: Change) -> tuple[str, str]:
    attrs = change.after or change.before or {}
    return str(attrs.get("group", "")), change.key


def _dependencies(change: Change) -> tuple[str, ...]:
    if change.action not in (Action.CREATE, Action.UPDATE, Action.RESTORE) or change.after is None:
        return ()
    after = change.after
    if change.kind is ObjectKind.GROUP:
        parent = group_attrs(after).get("parent")
        return (parent,) if parent else ()
    if change.kind is ObjectKind.MEMBERSHIP:
        membership = membership_attrs(after)
        return tuple(k for k in (membership.get("person"), membership.get("group")) if k)
    children = person_attrs(after).get("children") if change.kind is ObjectKind.PERSON else None
    return tuple(children) if children else ()


@dataclass(slots=True)
class _Batch:
    """Changes that travel together, with how often they were tried and whether they were split off."""

    changes: list[Change]
    attempt: int = 1
    split: bool = False
    refused: int = 0
    """How often the platform refused this batch as a whole for another reason than being busy."""


@dataclass(slots=True)
class _Answer:
    """What a worker thread brings back: the target's results or its error, and the round trip."""

    results: Sequence[ItemResult] | None
    error: KoppelError | None
    seconds: float


class _PhaseRunner:
    """Sends one phase's changes through the budget and records their outcomes as they come back."""

    def __init__(self, applier: Applier, pool: ThreadPoolExecutor, budget: OperationsBudget, plan: Plan,
                 run_id: int, result: ApplyResult, failed_keys: set[str],
                 held: list[tuple[Change, ItemResult]] | None = None):
        self.applier = applier
        self.pool = pool
        self.budget = budget
        self.plan = plan
        self.run_id = run_id
        self.result = result
        self.failed_keys = failed_keys
        self.held = held  # a publishing target's outcomes, recorded only after it published
        self.queues: deque[deque[Change]] = deque()
        self.ready: deque[_Batch] = deque()  # retries that are due, sent before new work
        self.delayed: list[tuple[float, int, _Batch]] = []
        self.running: dict[Future[_Answer], tuple[_Batch, Ticket]] = {}
        self.seq = itertools.count()
        self.halted = False

    def stopping(self) -> bool:
        """A stop was asked for (SIGTERM) or the run must end (a configuration fault): send nothing new."""
        return self.halted or self.applier.stop.is_set()

    def run(self, changes: list[Change]) -> Iterable[int]:
        self.queues = _queues(changes, memberships_by_group=self.applier.target.capabilities.memberships_by_group)
        while self.queues or self.ready or self.running or self.delayed:
            self._promote_due()
            skipped = self._fill()
            if skipped:
                yield self._record(skipped)
            if self.stopping() and not self.running:
                return
            if not self.running:
                self._sleep_until_something_is_due()
                continue
            done, _ = wait(self.running, timeout=self._next_wake(), return_when=FIRST_COMPLETED)
            finished = [(future.result(), *self.running.pop(future)) for future in done]
            for answer, batch, ticket in finished:
                self._release(answer, batch, ticket)
            fatal = next((a.error for a, _, _ in finished if isinstance(a.error, (TargetAuthError, TargetConfigError))),
                         None)
            if fatal is not None:
                self.halted = True  # send nothing more; what came back is still recorded
            # Keep the platform busy first: the bookkeeping below takes time it can use.
            self._promote_due()
            skipped = self._fill()
            outcomes: list[tuple[Change, ItemResult]] = list(skipped)
            for answer, batch, ticket in finished:
                outcomes += self._outcomes(answer, batch, ticket)
            if outcomes:
                yield self._record(outcomes)  # one transaction for everything that came back together
            if fatal is not None:
                self._unmark([b for a, b, _ in finished if isinstance(a.error, (TargetAuthError, TargetConfigError))])
                self._drain()
                raise fatal

    # -- sending -----------------------------------------------------------------------------------

    def _fill(self) -> list[tuple[Change, ItemResult]]:
        """Send while the budget has room; return the changes skipped on the way."""
        skipped: list[tuple[Change, ItemResult]] = []
        while not self.stopping():
            batch = self._next_batch()
            if batch is None:
                break
            batch.changes, left_out = self._without_failed_dependencies(batch.changes)
            skipped += left_out
            if batch.changes:
                self._send(batch)
        return skipped

    def _next_batch(self) -> _Batch | None:
        """The next request's changes, as many as the budget admits now (None: nothing may go now)."""
        busy = bool(self.running)
        if self.ready:
            head = self.ready[0]
            size = self.budget.admit(len(head.changes), busy=busy)
            if not size:
                return None
            if size >= len(head.changes):
                return self.ready.popleft()
            # A batch goes again in parts when the budget is smaller now. If the platform refused it as a
            # whole (not for being busy), each part is a split-off half as far as isolating a bad object goes.
            part = _Batch(head.changes[:size], head.attempt, head.split or head.refused > 0, head.refused)
            if head.refused and not head.split:
                head.split = True
                self.result.load.splits += 1
            head.changes = head.changes[size:]
            return part
        while self.queues and not self.queues[0]:
            self.queues.popleft()
        if not self.queues:
            return None
        queue = self.queues[0]
        size = self.budget.admit(len(queue), busy=busy)
        if not size:
            return None
        return _Batch([queue.popleft() for _ in range(size)])

    def _send(self, batch: _Batch) -> None:
        # Noted as sent before it goes: if the answer cannot be recorded (or the process dies meanwhile), the
        # note stays and the next plan sends these objects again. Its failure stops the run, nothing sent.
        applier = self.applier
        applier.store.mark_sent(tenant=applier.tenant, target=self.plan.target, run_id=self.run_id,
                                plan_id=self.plan.id, changes=batch.changes)
        ticket = self.budget.sent(len(batch.changes))
        self.running[self.pool.submit(self._call, batch.changes)] = (batch, ticket)
        self.result.requests += 1

    def _call(self, changes: list[Change]) -> _Answer:
        """In a worker thread: the target's answer and the round trip, errors included."""
        clock = self.applier.monotonic
        started = clock()
        try:
            results = self.applier.target.apply(changes)
        except KoppelError as exc:
            return _Answer(None, exc, clock() - started)
        return _Answer(results, None, clock() - started)

    # -- waiting -----------------------------------------------------------------------------------

    def _promote_due(self) -> None:
        now = self.applier.monotonic()
        while self.delayed and self.delayed[0][0] <= now:
            self.ready.append(heapq.heappop(self.delayed)[2])

    def _next_wake(self) -> float | None:
        """Seconds until a delayed retry is due, a pause ends or held operations come back."""
        now = self.applier.monotonic()
        moments = [self.delayed[0][0]] if self.delayed else []
        if self.budget.pause_left():
            moments.append(now + self.budget.pause_left())
        released = self.budget.next_release()
        if released is not None:
            moments.append(released)
        return max(0.0, min(moments) - now) if moments else None

    def _sleep_until_something_is_due(self) -> None:
        wake = self._next_wake()
        if wake is None:
            if self.queues or self.ready:
                raise RuntimeError("the operations budget admits nothing while nothing is in flight")
            return
        time.sleep(min(wake, 1.0) if self.stopping() else wake)

    # -- answers -----------------------------------------------------------------------------------

    def _release(self, answer: _Answer, batch: _Batch, ticket: Ticket) -> None:
        """Give the budget back what one answered request held, and tell it how the platform answered.

        A split-off part that fails again says more about its objects than about the platform's load."""
        error = answer.error
        if error is None:
            self.budget.answered(ticket, answer.seconds)
            if any(r.outcome is ItemOutcome.RETRY for r in answer.results or ()):
                self.budget.busy(ticket)
        elif isinstance(error, TransientTargetError) and error.overload:
            self.budget.busy(ticket, retry_after=error.retry_after, unanswered=error.unanswered)
        elif isinstance(error, TransientTargetError) and not batch.split:
            self.budget.failed(ticket)
        else:
            self.budget.released(ticket)

    def _outcomes(self, answer: _Answer, batch: _Batch, ticket: Ticket) -> list[tuple[Change, ItemResult]]:
        """What one finished request means per change; retries and splits are scheduled, not returned."""
        changes, error = batch.changes, answer.error
        max_attempts = self.applier.retry.max_attempts
        if isinstance(error, (TargetAuthError, TargetConfigError)):
            return []  # the run stops (see run); these changes are sent again by the next run
        if isinstance(error, TransientTargetError):
            if error.overload:  # busy, not broken: the same batch later, whole
                return self._again_or_fail(batch, error, error.retry_after)
            if len(changes) > 1 and (batch.split or batch.refused + 1 >= _SPLIT_AFTER) and not self.stopping():
                self._split(batch, str(error))
                return []
            return self._again_or_fail(batch, error, None, refused=True)
        if isinstance(error, RequestTooLarge):
            if len(changes) > 1 and not self.stopping():
                self.budget.batch_cap = max(1, min(self.budget.batch_size, len(changes) // 2))
                self._split(batch, str(error))
                return []
            return [(c, ItemResult(c.key, ItemOutcome.FAILED, str(error), code="too-large")) for c in changes]
        if isinstance(error, TargetProtocolError) or error is not None:
            return [(c, ItemResult(c.key, ItemOutcome.FAILED, str(error), code="protocol")) for c in changes]
        results = list(answer.results or ())
        if len(results) != len(changes):
            return [(c, ItemResult(c.key, ItemOutcome.FAILED,
                                   f"target answered {len(results)} results for {len(changes)} objects",
                                   code="protocol")) for c in changes]
        outcomes: list[tuple[Change, ItemResult]] = []
        again: list[Change] = []
        for change, res in zip(changes, results, strict=True):
            if res.outcome is ItemOutcome.RETRY and batch.attempt < max_attempts:
                again.append(change)
            elif res.outcome is ItemOutcome.RETRY:
                outcomes.append((change, ItemResult(change.key, ItemOutcome.FAILED,
                                                    f"gave up after {batch.attempt} attempts: {res.message or 'busy'}",
                                                    code=res.code or "transient")))
            else:
                outcomes.append((change, res))
        if again:
            self._later(_Batch(again, batch.attempt + 1, batch.split, batch.refused), batch.attempt)
        return outcomes

    def _again_or_fail(self, batch: _Batch, error: TransientTargetError, retry_after: float | None,
                       *, refused: bool = False) -> list[tuple[Change, ItemResult]]:
        if batch.attempt < self.applier.retry.max_attempts and not self.stopping():
            log.info("retrying request", attempt=batch.attempt + 1, items=len(batch.changes), error=str(error))
            self._later(_Batch(batch.changes, batch.attempt + 1, batch.split, batch.refused + refused),
                        batch.attempt, retry_after)
            return []
        if batch.split and len(batch.changes) == 1:
            message, code = f"the platform refused this object as a whole request: {error}", "rejected"
        else:
            message, code = f"gave up after {batch.attempt} attempts: {error}", "transient"
        return [(c, ItemResult(c.key, ItemOutcome.FAILED, message, code=code)) for c in batch.changes]

    def _split(self, batch: _Batch, why: str) -> None:
        """Try each half on its own, so that one object the platform cannot take fails alone."""
        half = len(batch.changes) // 2
        self.result.load.splits += 1
        log.info("splitting a refused request", items=len(batch.changes), error=why)
        for part in (batch.changes[:half], batch.changes[half:]):
            self._later(_Batch(part, 1, split=True), 1)

    def _later(self, batch: _Batch, attempt: int, retry_after: float | None = None) -> None:
        delay = self.applier.retry.delay(attempt, self.applier.rng, retry_after)
        self.result.retries += 1
        heapq.heappush(self.delayed, (self.applier.monotonic() + delay, next(self.seq), batch))

    def _drain(self) -> None:
        """A configuration fault or refused credentials: record what else comes back, send nothing more."""
        for future, (batch, ticket) in list(self.running.items()):
            answer = future.result()
            self.budget.released(ticket)
            if answer.results is not None and len(answer.results) == len(batch.changes):
                self._record(list(zip(batch.changes, answer.results, strict=True)))
            elif isinstance(answer.error, (TargetAuthError, TargetConfigError)):
                self._unmark([batch])
        self.running.clear()

    def _unmark(self, batches: list[_Batch]) -> None:
        """Requests the platform refused as a whole for its configuration or credentials applied nothing: their
        changes are no longer noted as sent (the next plan finds them different from the state anyway)."""
        keys = [c.key for b in batches for c in b.changes]
        if keys:
            self.applier.store.unmark(tenant=self.applier.tenant, target=self.plan.target, keys=keys)

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
        if self.held is not None:
            self.held.extend(outcomes)
            self.failed_keys.update(change.key for change, res in outcomes if not res.ok)
            return len(outcomes)
        applier = self.applier
        self.result.serial = applier.store.record(tenant=applier.tenant, target=self.plan.target, run_id=self.run_id,
                                                  plan_id=self.plan.id, outcomes=outcomes)
        self.failed_keys.update(change.key for change, res in outcomes if not res.ok)
        self.count(self.result, outcomes)
        return len(outcomes)

    @staticmethod
    def count(result: ApplyResult, outcomes: list[tuple[Change, ItemResult]]) -> None:
        """Add recorded outcomes to the run's result: counts, failures and warnings."""
        for change, res in outcomes:
            if res.ok:
                outcome = "warning" if res.outcome is ItemOutcome.WARNING else "done"
            else:
                outcome = _SKIPPED if res.code == _SKIPPED else "failed"
            result.outcomes[outcome] += 1
            result.by_action[f"{change.action.value} {change.kind.value}"][outcome] += 1
            if outcome in ("failed", _SKIPPED) and len(result.failures) < _MAX_LISTED:
                result.failures.append({"key": change.key, "kind": change.kind.value, "action": change.action.value,
                                        "label": change.label, "code": res.code, "message": res.message})
            elif outcome == "warning" and len(result.warnings) < _MAX_LISTED:
                result.warnings.append({"key": change.key, "kind": change.kind.value, "action": change.action.value,
                                        "message": res.message})
