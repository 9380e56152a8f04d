"""Run locks: one run per (tenant, target), with a lease kept alive by heartbeats (:class:`LockRepository`)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from koppel.errors import LockHeld
from koppel.state import schema as t
from koppel.state.db import Database, explain, state_unavailable
from koppel.state.records import LockInfo

__all__ = ["DEFAULT_LEASE_S", "LockRepository"]

DEFAULT_LEASE_S = 6 * 3600
"""How long a run lock stays valid without a heartbeat (the applier beats every 30 s while it works)."""


class LockRepository:
    """The ``locks`` table."""

    def __init__(self, db: Database):
        self.db = db

    @contextmanager
    def lock(self, tenant: str, target: str, *, purpose: str, stale_after_s: int = DEFAULT_LEASE_S) -> Iterator[str]:
        """One run per (tenant, target). The lock's lease is ``stale_after_s``: a lock whose last heartbeat is
        older than its lease is stale whatever its pid (pids are reused after a reboot or a container
        restart), and one left by a process that no longer runs on this host is stale at once; a stale
        lock is taken over. Releasing is best effort: a lock that cannot be removed (the store failed)
        goes stale by itself, and ``koppel unlock`` shows it."""
        holder = uuid.uuid4().hex
        self._acquire(tenant, target, holder, purpose, stale_after_s)
        try:
            yield holder
        finally:
            try:
                self.remove_lock(tenant, target, holder)
            except DBAPIError as exc:
                import structlog

                structlog.get_logger("koppel.state").warning(
                    "the run lock could not be removed; it goes stale by itself (`koppel unlock` shows it)",
                    tenant=tenant, target=target, error=explain(exc)[0])

    def heartbeat(self, tenant: str, target: str, holder: str) -> None:
        lk = t.locks.c
        try:
            with self.db.transaction() as conn:
                conn.execute(update(t.locks).where(lk.tenant == tenant, lk.target == target, lk.holder == holder)
                             .values(heartbeat_at=self.db.now()))
        except DBAPIError as exc:
            raise state_unavailable(exc, self.db.url, doing="renew the run lock in") from exc

    def remove_lock(self, tenant: str, target: str, holder: str) -> bool:
        """Remove this holder's lock (and no other: a lock taken over meanwhile stays). Whether it was there."""
        lk = t.locks.c
        with self.db.transaction() as conn:
            return bool(conn.execute(delete(t.locks).where(
                lk.tenant == tenant, lk.target == target, lk.holder == holder)).rowcount)

    def lock_verdict(self, lock: LockInfo, *, lease_s: int = DEFAULT_LEASE_S) -> tuple[bool, str]:
        """Whether ``lock`` is stale, and why (or why it is kept), in words for ``koppel unlock``.

        The heartbeat is trusted over the pid: a lock silent for longer than its lease is stale even when
        a process with its pid runs on this host (after a reboot or a container restart, pids are reused)."""
        lease = lock.lease_s or lease_s
        silent = max(0.0, (self.db.clock() - dt.datetime.fromisoformat(lock.heartbeat_at)).total_seconds())
        if silent > lease:
            return True, (f"its last heartbeat was {duration(silent)} ago, longer than its lease of {duration(lease)}: "
                          "the run that took it is gone, whatever process has pid "
                          f"{lock.pid} on {lock.host} now")
        here = lock.host == socket.gethostname()
        if here and not _pid_alive(lock.pid):
            return True, f"process {lock.pid} no longer runs on this host ({lock.host})"
        where = (f"process {lock.pid} still runs on this host" if here
                 else f"it is held on another host ({lock.host}), where koppel cannot see whether it runs")
        return False, (f"its last heartbeat was {duration(silent)} ago, within its lease of {duration(lease)}, "
                       f"and {where}")

    def current_lock(self, tenant: str, target: str) -> LockInfo | None:
        lk = t.locks.c
        with self.db.reading() as conn:
            row = conn.execute(select(t.locks).where(lk.tenant == tenant, lk.target == target)).mappings().first()
        return LockInfo(**{str(k): v for k, v in row.items()}) if row else None

    def _acquire(self, tenant: str, target: str, holder: str, purpose: str, stale_after_s: int) -> None:
        pid, now = os.getpid(), self.db.now()
        row = {"tenant": tenant, "target": target, "holder": holder, "host": socket.gethostname(), "pid": pid,
               "purpose": purpose, "acquired_at": now, "heartbeat_at": now, "lease_s": int(stale_after_s)}
        for _ in range(2):
            try:
                with self.db.transaction() as conn:
                    conn.execute(insert(t.locks).values(**row))
                return
            except IntegrityError:
                existing = self.current_lock(tenant, target)
                if existing is None:
                    continue
                stale, why = self.lock_verdict(existing, lease_s=stale_after_s)
                if not stale:
                    raise LockHeld(
                        f"another run for tenant {tenant!r}, target {target!r} is busy "
                        f"({existing.purpose or 'run'} by pid {existing.pid} on {existing.host} since "
                        f"{existing.acquired_at}): {why}. `koppel unlock` shows the lock and removes it once stale.",
                        tenant=tenant, target=target, purpose=existing.purpose, host=existing.host,
                        pid=existing.pid, since=str(existing.acquired_at),
                    ) from None
                self.remove_lock(tenant, target, existing.holder)
        raise LockHeld(f"could not take the run lock for tenant {tenant!r}, target {target!r}")


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``5 h 3 min``, ``3 days 2 h``: how long, for people."""
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
