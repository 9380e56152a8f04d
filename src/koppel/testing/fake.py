"""FakeTarget: an in-memory target with fault injection, for tests, benchmarks and trying koppel out.

It keeps the rules a real platform would (a parent must exist before its child; a membership needs
its person and group; deleting what is gone is fine; create is an upsert) so the applier's ordering
and error handling are exercised for real. Faults:

* ``transient_rate``: that fraction of *requests* fails as a whole with ``TransientTargetError``
  (before anything is written, or — with ``fail_after_write`` — after, with the answer lost);
* ``permanent_rate``: that fraction of *objects*, chosen by hashing the key with the seed, is refused
  with a FAILED result every time (a data error is not fixed by retrying);
* ``poison``: objects that make the whole request fail (a server error, every time) as long as they
  are in it — the applier must split the batch to get the others through;
* ``busy_above``: a request that would put more than that many operations in flight is answered "busy"
  (an overload, with ``retry_after_s`` as its Retry-After), as a throttled platform does;
* ``config_fault``: every request fails as a configuration fault (a wrong endpoint), which stops a run;
* ``latency_s``: time per request;
* ``on_applied``: called with a request's changes and results after the fake platform applied them and
  before it answers — a test's seam to break something (the state store's disk, say) at exactly that
  moment.

It counts what a strict platform would: the peak of operations in flight (objects in unanswered
requests), the requests, and the largest request.

With ``path`` it persists its contents to a JSON file when it is closed, so separate `koppel` runs see
the same target.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from koppel.connectors import ConnectorContext, TargetKind
from koppel.errors import TargetConfigError, TransientTargetError
from koppel.model.attrs import membership_attrs
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import Capabilities, Check, CheckStatus, ReadObject, TargetSnapshot

__all__ = ["KIND", "FakeTarget", "FakeTargetSettings"]


class FakeTargetSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = Field(None, description="JSON file to keep the fake target's contents between runs.")
    batch_size: int = Field(500, ge=1, description="Objects per request at most.")
    max_operations_in_flight: int = Field(
        2000, ge=1, description="Ceiling of objects in all unanswered requests together."
    )
    adaptive: bool = Field(True, description="Let the applier adapt below the ceiling.")
    latency_ms: float = Field(0.0, ge=0, description="Latency added to every request.")
    transient_rate: float = Field(0.0, ge=0, le=1, description="Fraction of requests that fail transiently.")
    permanent_rate: float = Field(0.0, ge=0, le=1, description="Fraction of objects refused permanently.")
    seed: int = Field(0, description="Seed for the fault injection.")


class FakeTarget:
    name: str
    capabilities: Capabilities

    def __init__(
        self,
        name: str = "fake",
        *,
        batch_size: int = 500,
        operations_in_flight: int = 2000,
        adaptive: bool = True,
        latency_s: float = 0.0,
        transient_rate: float = 0.0,
        permanent_rate: float = 0.0,
        fail_after_write: bool = False,
        poison: Collection[str] = (),
        busy_above: int | None = None,
        retry_after_s: float | None = None,
        config_fault: bool = False,
        seed: int = 0,
        path: Path | None = None,
        on_applied: Callable[[Sequence[Change], Sequence[ItemResult]], None] | None = None,
    ):
        self.name = name
        self.capabilities = Capabilities(max_batch=batch_size, max_operations_in_flight=operations_in_flight,
                                         adaptive=adaptive, can_read=True)
        self.poison = frozenset(poison)
        self.busy_above = busy_above
        self.retry_after_s = retry_after_s
        self.config_fault = config_fault
        self.latency_s = latency_s
        self.transient_rate = transient_rate
        self.permanent_rate = permanent_rate
        self.fail_after_write = fail_after_write
        self.seed = seed
        self.path = path
        self.on_applied = on_applied
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.objects: dict[str, dict[str, Any]] = {}  # key -> {"kind", "attrs", "status"}
        self.requests: Counter[str] = Counter()
        self.writes = 0
        self.in_flight_seen = 0  # requests at the same time, at most
        self.operations_in_flight_seen = 0  # objects in unanswered requests, at most
        self.largest_request = 0
        self.busy_answers = 0
        self._in_flight = 0
        self._operations = 0
        if path is not None and path.exists():
            data = orjson.loads(path.read_bytes())
            self.objects = data.get("objects", {})
            self.requests = Counter(data.get("requests", {}))
            self.writes = data.get("writes", 0)

    # -- the Target protocol ---------------------------------------------------------------

    def apply(self, batch: Sequence[Change]) -> Sequence[ItemResult]:
        if not batch:
            return []
        kinds = {(c.kind, c.action) for c in batch}
        if len(kinds) != 1:
            raise ValueError(f"a batch must hold one kind and action, got {sorted(kinds)}")
        kind, action = next(iter(kinds))
        if self.config_fault:
            raise TargetConfigError("fake target: the endpoint does not serve this action (injected)")
        size = len(batch)
        with self._lock:
            if self.busy_above is not None and self._operations + size > self.busy_above:
                self.busy_answers += 1
                raise TransientTargetError("fake target: busy (HTTP 503, injected)", overload=True,
                                           retry_after=self.retry_after_s)
            self._in_flight += 1
            self._operations += size
            self.in_flight_seen = max(self.in_flight_seen, self._in_flight)
            self.operations_in_flight_seen = max(self.operations_in_flight_seen, self._operations)
            self.largest_request = max(self.largest_request, size)
            self.requests[f"{action.value}:{kind.value}"] += 1
            self.writes += 1
            fail = self.transient_rate and self._rng.random() < self.transient_rate
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            poisoned = next((c.key for c in batch if c.key in self.poison), None)
            if poisoned is not None:
                raise TransientTargetError(f"fake target: internal server error (HTTP 500) on {poisoned} (injected)")
            if fail and not self.fail_after_write:
                raise TransientTargetError("fake target: injected transient failure (HTTP 500)")
            with self._lock:
                results = [self._apply_one(c) for c in batch]
            if self.on_applied is not None:
                self.on_applied(batch, results)
            if fail:
                raise TransientTargetError("fake target: injected failure after the write (answer lost)")
            return results
        finally:
            with self._lock:
                self._in_flight -= 1
                self._operations -= size

    def check(self, *, full: bool = True) -> list[Check]:
        """What ``koppel check`` reads of a platform, faked: the endpoint, and what it already holds."""
        if self.config_fault:
            return [Check("endpoint", CheckStatus.FAILED, "fake target: the endpoint does not serve this action "
                          "(injected)", "configure the fault away")]
        with self._lock:
            accounts = sum(1 for o in self.objects.values() if o["kind"] == ObjectKind.PERSON.value)
        checks = [Check("endpoint", CheckStatus.OK, "the fake target answers")]
        if full:
            checks.append(Check("accounts", CheckStatus.OK, f"the fake target holds {accounts} account(s)",
                                data={"accounts": accounts, "with_sync_id": accounts}))
        return checks

    def close(self) -> None:
        with self._lock:
            self._save()

    def read(self, known_group_keys: Collection[str] = (), *, known_person_keys: Collection[str] = (),
             known_target_ids: Mapping[str, str] | None = None) -> TargetSnapshot:
        with self._lock:
            objs = tuple(
                ReadObject(ObjectKind(o["kind"]), key, dict(o["attrs"]), target_id=key)
                for key, o in sorted(self.objects.items())
                if o["status"] == "active"
            )
        return TargetSnapshot(objs)

    def held_attrs(self, kind: ObjectKind, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """The fake platform keeps exactly what it was sent (tuples become lists, as in JSON)."""
        return _jsonable(attrs)

    # -- inspection for tests ----------------------------------------------------------------

    def active(self, kind: ObjectKind | None = None) -> dict[str, Mapping[str, Any]]:
        with self._lock:
            return {k: o["attrs"] for k, o in self.objects.items()
                    if o["status"] == "active" and (kind is None or o["kind"] == kind.value)}

    def status_of(self, key: str) -> str | None:
        with self._lock:
            obj = self.objects.get(key)
            return obj["status"] if obj else None

    # -- rules of the fake platform -------------------------------------------------------------

    def _refused(self, key: str) -> bool:
        if not self.permanent_rate:
            return False
        digest = hashlib.blake2b(f"{self.seed}:{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self.permanent_rate

    def _exists(self, key: str | None, kind: ObjectKind) -> bool:
        obj = self.objects.get(key) if key else None
        return obj is not None and obj["kind"] == kind.value and obj["status"] in ("active", "archived")

    def _apply_one(self, change: Change) -> ItemResult:
        key = change.key
        if self._refused(key):
            return ItemResult(key, ItemOutcome.FAILED, "fake target: invalid data (injected)", code="invaliddata")
        action = change.action
        obj = self.objects.get(key)
        if action in (Action.CREATE, Action.UPDATE, Action.RESTORE):
            attrs = dict(obj["attrs"]) if (obj and action is Action.UPDATE) else {}
            attrs.update(_jsonable(change.after or {}))
            problem = self._check_refs(change.kind, attrs)
            if problem:
                return ItemResult(key, ItemOutcome.FAILED, problem, code="invaliddata")
            self.objects[key] = {"kind": change.kind.value, "attrs": attrs, "status": "active"}
            return ItemResult(key, ItemOutcome.DONE, target_id=key)
        if obj is None:
            return ItemResult(key, ItemOutcome.DONE, "already gone", target_id=key)
        if action is Action.SUSPEND:
            obj["status"] = "suspended"
        elif action is Action.ARCHIVE:
            obj["status"] = "archived"
        elif action is Action.DELETE:
            del self.objects[key]
        return ItemResult(key, ItemOutcome.DONE, target_id=key)

    def _check_refs(self, kind: ObjectKind, attrs: Mapping[str, Any]) -> str | None:
        if kind is ObjectKind.GROUP:
            parent = attrs.get("parent")
            if parent and not self._exists(parent, ObjectKind.GROUP):
                return f"parent group {parent} does not exist"
        elif kind is ObjectKind.MEMBERSHIP:
            membership = membership_attrs(attrs)
            if not self._exists(membership.get("person"), ObjectKind.PERSON):
                return f"person {membership.get('person')} does not exist"
            if not self._exists(membership.get("group"), ObjectKind.GROUP):
                return f"group {membership.get('group')} does not exist"
        return None

    def _save(self) -> None:
        if self.path is None:
            return
        data = orjson.dumps({"objects": self.objects, "requests": dict(self.requests), "writes": self.writes})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".fake-", suffix=".json")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.path)


def _jsonable(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}


def _factory(name: str, settings: FakeTargetSettings, ctx: ConnectorContext) -> FakeTarget:
    return FakeTarget(
        name,
        batch_size=settings.batch_size,
        operations_in_flight=settings.max_operations_in_flight,
        adaptive=settings.adaptive,
        latency_s=settings.latency_ms / 1000.0,
        transient_rate=settings.transient_rate,
        permanent_rate=settings.permanent_rate,
        seed=settings.seed,
        path=ctx.path(settings.path) if settings.path else None,
    )


KIND = TargetKind(
    kind="fake",
    summary="In-memory target with fault injection (tests, benchmarks, trying koppel out).",
    settings=FakeTargetSettings,
    factory=_factory,
    mandatory_fields={},
    actions=frozenset((k, a) for k in ObjectKind for a in Action),
)
