"""Run locks trust the heartbeat (issue 10): a lock of this host with a live pid and a heartbeat three days old
blocked every run for ever — after a reboot or a container restart another process has that pid. A lock
silent for longer than its lease is stale whatever its pid; a live one is kept, and says how to look at it."""

from __future__ import annotations

import datetime as dt
import os
import socket

import pytest

from koppel.errors import LockHeld
from koppel.state import schema as t
from koppel.state.store import StateStore


def _ts(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def put_lock(store: StateStore, *, beat: dt.datetime, pid: int | None = None, host: str | None = None,
             lease_s: int | None = None) -> None:
    with store.engine.begin() as conn:
        conn.execute(t.locks.insert().values(
            tenant="b", target="x", holder="old", host=host or socket.gethostname(), pid=pid or os.getpid(),
            purpose="apply", acquired_at=_ts(beat - dt.timedelta(minutes=5)), heartbeat_at=_ts(beat),
            lease_s=lease_s))


def test_a_lock_with_a_live_pid_and_a_heartbeat_three_days_old_is_taken_over(store: StateStore):
    put_lock(store, beat=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))  # pid: this very process, alive
    stale, why = store.lock_verdict(store.current_lock("b", "x"))
    assert stale and "3 days" in why and "longer than its lease of 6 h" in why
    with store.lock("b", "x", purpose="apply") as holder:
        assert store.current_lock("b", "x").holder == holder


def test_a_live_lock_is_kept_and_says_how_to_look_at_it(store: StateStore):
    put_lock(store, beat=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=20))
    with pytest.raises(LockHeld) as info, store.lock("b", "x", purpose="apply"):
        pass
    message = str(info.value)
    assert f"pid {os.getpid()}" in message and "within its lease" in message and "koppel unlock" in message
    assert store.current_lock("b", "x").holder == "old"


def test_the_holders_own_lease_counts(store: StateStore):
    put_lock(store, beat=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3), lease_s=60, host="elsewhere")
    with store.lock("b", "x", purpose="apply", stale_after_s=6 * 3600):
        lock = store.current_lock("b", "x")
        assert lock.holder != "old" and lock.lease_s == 6 * 3600, "a new lock records its own lease"


def test_a_lock_of_another_host_within_its_lease_is_kept(store: StateStore):
    put_lock(store, beat=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), pid=1, host="elsewhere")
    stale, why = store.lock_verdict(store.current_lock("b", "x"))
    assert not stale and "another host (elsewhere)" in why
    with pytest.raises(LockHeld), store.lock("b", "x", purpose="apply"):
        pass


def test_heartbeat_and_removal_touch_only_the_holders_lock(store_url: str):
    now = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    store = StateStore.open(store_url, clock=lambda: now)
    try:
        put_lock(store, beat=now - dt.timedelta(hours=1), pid=1, host="elsewhere")
        store.locks.heartbeat("b", "x", "someone-else")
        assert store.locks.current_lock("b", "x").heartbeat_at == "2026-05-01T11:00:00Z"
        assert store.locks.remove_lock("b", "x", "someone-else") is False
        store.locks.heartbeat("b", "x", "old")
        assert store.locks.current_lock("b", "x").heartbeat_at == "2026-05-01T12:00:00Z"
        assert store.locks.remove_lock("b", "x", "old") is True and store.locks.current_lock("b", "x") is None
    finally:
        store.close()
