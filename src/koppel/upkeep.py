"""Upkeep of the state: a stale run lock removed (``koppel unlock``), and persons whose retention period is
over purged (``koppel purge``, AVG). Both leave their trace in the runs, through the run recorder."""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog

from koppel.model.status import RunKind, RunStatus
from koppel.runs import RunRecorder
from koppel.state.store import StateStore

__all__ = ["Upkeep"]

log = structlog.get_logger("koppel.run")


class Upkeep:
    def __init__(self, store: StateStore, runs: RunRecorder) -> None:
        self.store = store
        self.runs = runs

    def unlock(self, tenant: str, target: str, *, force: bool, by: str) -> dict[str, Any]:
        """The target's run lock — whose it is, when it last beat, whether it is stale — and its removal when it
        is stale (or ``force``); the run that held it is failed. A live lock is kept unless forced. Returns what
        was found and done: ``lock`` (None: there was none), ``run``, ``stale``, ``why``, ``removed``."""
        store = self.store
        lock = store.current_lock(tenant, target)
        out: dict[str, Any] = {"tenant": tenant, "target": target, "lock": None, "run": None,
                               "stale": False, "why": "", "removed": False, "forced": False}
        if lock is None:
            return out
        run = store.lock_run(lock)
        stale, why = store.lock_verdict(lock)
        out.update(lock=lock.__dict__, run=run.__dict__ if run else None, stale=stale, why=why)
        if not stale and not force:
            return out
        out["removed"] = store.remove_lock(tenant, target, lock.holder)
        out["forced"] = out["removed"] and not stale
        if out["removed"] and run is not None and run.status == RunStatus.RUNNING:
            self.runs.finish(run.id, RunStatus.FAILED, message=f"its run lock was removed by {by}: "
                             + (why if stale else "forced"))
        log.info("run lock removed" if out["removed"] else "run lock already gone", tenant=tenant,
                 target=target, holder=lock.holder, pid=lock.pid, host=lock.host, forced=out["forced"])
        return out

    def purge(self, tenant: str, target: str, retention_days: int, *, dry_run: bool) -> dict[str, Any]:
        """Remove the state and history of the persons deleted longer than ``retention_days`` ago, under the run
        lock, and record it as a purge run; with ``dry_run`` only say who they are."""
        days = retention_days
        cutoff = (self.store.clock() - dt.timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")
        persons = self.store.purgeable_persons(tenant, target, before=cutoff)
        entry: dict[str, Any] = {"target": target, "retention_days": days, "deleted_before": cutoff,
                                 "persons": persons}
        if dry_run or not persons:
            return entry
        with self.store.lock(tenant, target, purpose="purge"):
            entry["purged"] = self.store.purge_persons(tenant, target, [p["key"] for p in persons])
        self.runs.record(tenant, target, kind=RunKind.PURGE, status=RunStatus.SUCCEEDED,
                         summary={"purged": entry["purged"]},
                         message=f"retention of {days} days: {len(persons)} person(s) purged")
        return entry
