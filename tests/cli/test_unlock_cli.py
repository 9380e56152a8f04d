"""`koppel unlock` (issue 10): whose lock it is (host, pid, run, started) and when it last beat; a stale lock
is removed, a live one kept (exit 4) unless --force; and a run is no longer blocked by a lock whose pid lives
on but whose heartbeat is days old. Through the command line as a real process, on a real SQLite state."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
from pathlib import Path

import pytest

from tests.state.school import koppel, make_school


def _ts(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> Path:
    root = make_school(tmp_path_factory.mktemp("unlock") / "school")
    done = koppel(root, "sync")
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def leave_lock(root: Path, *, beat_ago: dt.timedelta) -> int:
    """A lock and its run as a run of this host would leave them; the pid is this test's (alive). Returns the
    run id."""
    now = dt.datetime.now(dt.UTC)
    started = _ts(now - beat_ago - dt.timedelta(minutes=10))
    con = sqlite3.connect(root / "koppel-state.db")
    try:
        with con:
            con.execute("DELETE FROM locks")
            run = con.execute("INSERT INTO runs (tenant, target, kind, trigger, status, started_at, host, pid) "
                              "VALUES ('school', 'fake', 'apply', 'cli', 'running', ?, ?, ?)",
                              (started, socket.gethostname(), os.getpid())).lastrowid
            con.execute("INSERT INTO locks (tenant, target, holder, host, pid, purpose, acquired_at, heartbeat_at, "
                        "lease_s) VALUES ('school', 'fake', 'h1', ?, ?, 'apply', ?, ?, 21600)",
                        (socket.gethostname(), os.getpid(), started, _ts(now - beat_ago)))
        return run
    finally:
        con.close()


def locks(root: Path) -> list[tuple]:
    con = sqlite3.connect(root / "koppel-state.db")
    try:
        return con.execute("SELECT holder, pid FROM locks").fetchall()
    finally:
        con.close()


def test_a_stale_lock_is_shown_and_removed(synced: Path):
    run = leave_lock(synced, beat_ago=dt.timedelta(days=3))
    done = koppel(synced, "unlock")
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in text and f"run {run} (apply, running)" in text
    assert "last heartbeat" in text and "Removed: stale" in text and "3 days" in text, text
    assert locks(synced) == []
    status = json.loads(koppel(synced, "status", "--format", "json").stdout)
    (failed,) = [r for r in status["tenants"][0]["targets"][0]["last_runs"] if r["id"] == run]
    assert failed["status"] == "failed" and "koppel unlock" in failed["message"]


def test_a_live_lock_is_kept_unless_forced(synced: Path):
    leave_lock(synced, beat_ago=dt.timedelta(seconds=15))
    kept = koppel(synced, "unlock")
    assert kept.returncode == 4, kept.stdout + kept.stderr
    assert "Kept:" in kept.stdout and "within its lease of 6 h" in kept.stdout and "--force" in kept.stdout
    assert locks(synced) == [("h1", os.getpid())]
    busy = koppel(synced, "sync")
    assert busy.returncode == 4 and "koppel unlock" in busy.stderr and "Traceback" not in busy.stderr, busy.stderr
    forced = koppel(synced, "unlock", "--force", "--format", "json")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    data = json.loads(forced.stdout)
    assert data["removed"] and data["forced"] and not data["stale"] and data["lock"]["pid"] == os.getpid()
    assert locks(synced) == []


def test_a_run_is_not_blocked_by_a_live_pid_with_a_days_old_heartbeat(synced: Path):
    leave_lock(synced, beat_ago=dt.timedelta(days=3))
    done = koppel(synced, "sync")
    assert done.returncode == 0, done.stdout + done.stderr
    assert locks(synced) == []


def test_no_lock_is_fine(synced: Path):
    con = sqlite3.connect(synced / "koppel-state.db")
    with con:
        con.execute("DELETE FROM locks")
    con.close()
    done = koppel(synced, "unlock")
    assert done.returncode == 0 and "No run lock" in done.stdout, done.stdout + done.stderr


def test_status_says_a_lock_is_stale(synced: Path):
    leave_lock(synced, beat_ago=dt.timedelta(days=3))
    text = koppel(synced, "status").stdout
    assert "last heartbeat" in text and "stale:" in text and "koppel unlock" in text, text
    koppel(synced, "unlock")
