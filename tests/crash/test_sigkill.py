"""Crash safety (issue 4 §6): SIGKILL the applying process anywhere, rerun, and land exactly right.

``python -m koppel sync`` runs as a real process against the itslearning sandbox (with latency, and a
small batch size and window so that a sync is many requests). The test watches the sandbox's count
of write requests and kills the process with SIGKILL when it passes successive thresholds spread over
the run — through a school's first load and through a jaarovergang (creates, archives, suspensions,
membership removals) — plus once while the run lock is held before anything was written. Each rerun
takes the dead process's lock over and carries on.

At the end the sandbox holds exactly what a clean run (no kills, a fresh sandbox and state) leaves,
with no duplicate object, and the journal and state agree with it: every object the state holds
exists in the sandbox in the status the state says, every object the sandbox holds is in the state,
and every ``done`` create in the journal for an object still desired exists, recorded exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lifecycle.support import (
    NEXT_YEAR,
    SITE_ROOT,
    YEAR,
    World,
    build_baseline,
    normalised,
    sqlite_rows,
)

pytestmark = pytest.mark.slow

STUDENTS = 60
SEED = 7
POLICY = {"guards": {"max_percent": 100.0, "max_count": 1_000_000, "hold_jaarovergang": False}}
TARGET_SETTINGS = {"batch_size": 10, "max_operations_in_flight": 20}
RETRY = {"retry": {"initial_delay_s": 0.05, "max_delay_s": 0.5}}
LATENCY_MS = 15
KILLS = {"first load": 13, "jaarovergang": 10}
PHASES = {"first load": (), "jaarovergang": ("--year", str(NEXT_YEAR))}
DEADLINE_S = 90


@dataclass
class Kill:
    phase: str
    pid: int
    writes: int  # write requests the sandbox had answered in this phase when the process died
    lock_held: bool  # the dead process's run lock was left behind
    before_any_write: bool = False


def _world(root: Path, policy=POLICY, **sandbox) -> World:
    baseline = build_baseline(root / "baseline", students=STUDENTS, seed=SEED, years=(YEAR, NEXT_YEAR), sync=False,
                              policy=policy, target_settings={**TARGET_SETTINGS, **RETRY})
    return baseline.world(root / "world", **sandbox)


def _writes(world: World) -> int:
    return int(world.sandbox.stats()["writes"])


def _locks(world: World) -> list[tuple]:
    try:
        return sqlite_rows(world.state_db, "SELECT pid, purpose FROM locks")
    except sqlite3.OperationalError:  # the first run has not created (or migrated) the state yet
        return []


def _start(world: World, args: tuple[str, ...], log: Path) -> subprocess.Popen:
    with log.open("ab") as err:
        return subprocess.Popen(world.command("sync", *args), env=world.subprocess_env(), cwd=world.root,
                                stdout=subprocess.DEVNULL, stderr=err)


def _sigkill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)  # reaped: the pid is dead, not a zombie that still looks alive
    assert process.returncode == -signal.SIGKILL


def _kill_at(world: World, phase: str, args: tuple[str, ...], start: int, threshold: int, log: Path) -> Kill | None:
    """Run a sync and SIGKILL it once the sandbox has answered ``threshold`` writes in this phase.
    None when the sync finished first."""
    process = _start(world, args, log)
    deadline = time.monotonic() + DEADLINE_S
    while process.poll() is None:
        done = _writes(world) - start
        if done >= threshold:
            _sigkill(process)
            locks = _locks(world)
            return Kill(phase, process.pid, done, locks == [(process.pid, "apply")])
        assert time.monotonic() < deadline, "the sync took too long"
        time.sleep(0.002)
    assert process.returncode == 0, log.read_text()
    return None


def _kill_holding_the_lock(world: World, phase: str, args: tuple[str, ...], log: Path) -> Kill:
    """SIGKILL a sync the moment its run lock appears in the state, before it sends anything."""
    start = _writes(world)
    process = _start(world, args, log)
    deadline = time.monotonic() + DEADLINE_S
    while not _locks(world):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    _sigkill(process)
    written = _writes(world) - start
    return Kill(phase, process.pid, written, _locks(world) == [(process.pid, "apply")], before_any_write=written == 0)


def _finish(world: World, args: tuple[str, ...]) -> None:
    done = world.run("sync", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    quiet = world.run("sync", *args)
    assert quiet.returncode == 0 and "0 to create, 0 to update, 0 to suspend, 0 to delete" in quiet.stdout, quiet.stdout


def _state(world: World) -> dict[str, tuple]:
    rows = sqlite_rows(world.state_db, "SELECT key, kind, status, fingerprint, attrs, target_id, school, label "
                                       "FROM objects")
    return {key: rest for key, *rest in rows}


def _done_creates(world: World) -> Counter:
    return Counter(key for (key,) in sqlite_rows(
        world.state_db, "SELECT key FROM journal WHERE action = 'create' AND outcome = 'done'"))


def _reference(root: Path) -> tuple[dict, dict[str, tuple], Counter, dict[str, int]]:
    """The same bestuur, both years, synced without any kill into a fresh sandbox and state."""
    world = _world(root)
    try:
        today = dt.datetime.now(dt.UTC).date()
        writes = {}
        for phase, args in PHASES.items():
            before = _writes(world)
            year = args[1] if args else None
            outcome = world.app(today).sync(None, None, year=year)
            assert not outcome.held and outcome.applied.status == "succeeded", outcome.applied.failures[:3]
            writes[phase] = _writes(world) - before
        return world.sandbox.objects(), _state(world), _done_creates(world), writes
    finally:
        world.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _reference(tmp_path_factory.mktemp("reference"))


def test_sigkill_at_many_points_of_a_sync_then_a_rerun_lands_exactly_the_desired_state(tmp_path, reference):
    expected_objects, expected_state, expected_creates, reference_writes = reference
    assert reference_writes["first load"] > 2 * KILLS["first load"]
    assert reference_writes["jaarovergang"] > 2 * KILLS["jaarovergang"]

    world = _world(tmp_path / "crashed", latency_ms=LATENCY_MS)
    log = tmp_path / "koppel-stderr.log"
    kills: list[Kill] = []
    try:
        for phase, args in PHASES.items():
            if phase == "jaarovergang":
                # Killed while holding the run lock, before a single write: the next run takes it over.
                kill = _kill_holding_the_lock(world, phase, args, log)
                assert kill.lock_held, "the dead process's lock is left behind"
                kills.append(kill)
            start = _writes(world)
            total, count = reference_writes[phase], KILLS[phase]
            for i in range(1, count + 1):
                planned = round(i * total / (count + 1))
                threshold = max(planned, (kills[-1].writes + 1) if kills and kills[-1].phase == phase else 1)
                kill = _kill_at(world, phase, args, start, threshold, log)
                if kill is None:
                    break
                kills.append(kill)
            _finish(world, args)

        # At least 20 different points, spread over both phases, nearly all inside the apply's lock.
        assert len(kills) >= 20, kills
        for phase in PHASES:
            points = [k.writes for k in kills if k.phase == phase and not k.before_any_write]
            assert points == sorted(set(points)), "each kill further into the run"
            assert len(points) >= KILLS[phase] - 2, (phase, points)
        assert sum(k.lock_held for k in kills) >= 20, kills

        # The sandbox holds exactly what a clean run leaves.
        objects = world.sandbox.objects()
        assert normalised(objects) == normalised(expected_objects)
        # ... with no duplicate object: one account per user name, nothing beyond the reference.
        usernames = Counter(p["username"] for p in objects["persons"])
        assert max(usernames.values()) == 1
        assert len(objects["persons"]) == len(expected_objects["persons"])
        assert len(objects["groups"]) == len(expected_objects["groups"])
        assert len(objects["memberships"]) == len(expected_objects["memberships"])
        assert len(objects["courses"]) == len(expected_objects["courses"])

        # The state is the clean run's state, object for object.
        state = _state(world)
        assert state == expected_state

        # The state agrees with the sandbox, both ways.
        persons = {p["sync_key"]: p for p in objects["persons"]}
        groups = {g["sync_id"]: g for g in objects["groups"]}
        memberships = {m["sync_id"]: m for m in objects["memberships"]}
        by_kind: dict[str, dict[str, tuple]] = {"person": {}, "group": {}, "membership": {}}
        for key, (kind, status, _fp, _attrs, target_id, _school, _label) in state.items():
            by_kind[kind][target_id] = (key, status)
        for target_id, (key, status) in by_kind["person"].items():
            assert target_id in persons, key
            assert persons[target_id]["trashed"] == (status in ("suspended", "deleted")), (key, status)
        for target_id, (key, _status) in by_kind["group"].items():
            assert target_id in groups, key
        archive_folders = {g["sync_id"] for g in objects["groups"] if g["sync_id"].endswith(":archive")}
        archived = {t for t, (_, s) in by_kind["group"].items() if s == "archived"}
        assert archived and all(groups[t]["parent_sync_id"] in archive_folders for t in archived)
        assert {t for t, (_, s) in by_kind["membership"].items() if s == "active"} == set(memberships)
        assert set(persons) == set(by_kind["person"])
        assert set(groups) - archive_folders - {SITE_ROOT} == set(by_kind["group"])

        # The journal: every done create of an object still desired exists, and was recorded once.
        creates = _done_creates(world)
        wanted = {key for key, (_, status, *_rest) in expected_state.items() if status in ("active", "archived")}
        target_ids = {key: rest[4] for key, rest in state.items()}
        for key in creates.keys() & wanted:
            kind = state[key][0]
            held = {"person": persons, "group": groups, "membership": memberships}[kind]
            assert target_ids[key] in held, key
        assert creates == expected_creates, "each create is journaled once, as in the clean run"

        # The killed runs are on record as failed; nothing is left running or locked.
        runs = sqlite_rows(world.state_db, "SELECT status, message FROM runs WHERE kind = 'sync'")
        assert not [r for r in runs if r[0] == "running"]
        stopped = [r for r in runs if r == ("failed", "the process running this stopped")]
        # (the kill before any write may come before the run was begun)
        assert sum(k.lock_held for k in kills) - 1 <= len(stopped) <= sum(k.lock_held for k in kills)
        assert _locks(world) == []
    finally:
        world.close()


def test_sigkill_during_an_approved_jaarovergang_then_approving_what_is_left(tmp_path, reference):
    """The jaarovergang is the longest run of the year; killed halfway through its approved apply, the
    plan cannot be approved again (the state moved), and the plan made next holds exactly the rest."""
    expected_objects, expected_state, expected_creates, reference_writes = reference
    policy = {"guards": {**POLICY["guards"], "hold_jaarovergang": True}}
    world = _world(tmp_path / "crashed", policy=policy, latency_ms=LATENCY_MS)
    log = tmp_path / "koppel-stderr.log"
    try:
        _finish(world, PHASES["first load"])
        year = PHASES["jaarovergang"]
        assert world.cli("sync", *year).exit_code == 3
        (held,) = json.loads(world.cli("status", "-f", "json").stdout)["tenants"][0]["targets"][0]["held_plans"]

        start = _writes(world)
        process = subprocess.Popen([*world.command("apply", "--approve", held["id"], "--by", "ict", "--yes")],
                                   env=world.subprocess_env(), cwd=world.root, stdout=subprocess.DEVNULL,
                                   stderr=log.open("ab"))
        deadline = time.monotonic() + DEADLINE_S
        while _writes(world) - start < reference_writes["jaarovergang"] // 2:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.002)
        _sigkill(process)
        assert _locks(world) == [(process.pid, "apply")]

        # The half-applied plan cannot be approved again: the state moved on.
        again = world.cli("apply", "--approve", held["id"], "--by", "ict", "--yes")
        assert again.exit_code == 1 and "stale" in again.stderr, again.output
        # The next plan is what is left — still the jaarovergang, still held — and approving it finishes.
        assert world.cli("sync", *year).exit_code == 3
        plans = json.loads(world.cli("status", "-f", "json").stdout)["tenants"][0]["targets"][0]["held_plans"]
        rest = next(p for p in plans if p["id"] != held["id"])
        assert sum(rest["summary"].values()) < sum(held["summary"].values())
        assert rest["summary"]["archive"] > 0
        done = world.cli("apply", "--approve", rest["id"], "--by", "ict", "--yes")
        assert done.exit_code == 0, done.output
        assert world.cli("sync", *year).exit_code == 0

        assert normalised(world.sandbox.objects()) == normalised(expected_objects)
        assert _state(world) == expected_state
        assert _done_creates(world) == expected_creates
        app = world.app(dt.date.today())
        assert app.store.plan_record(held["id"]).status == "stale"
        assert (app.store.plan_record(rest["id"]).status, app.store.plan_record(rest["id"]).approved_by) == (
            "applied", "ict")
        assert _locks(world) == []
    finally:
        world.close()


def test_a_second_run_while_the_first_holds_the_lock_is_refused(tmp_path):
    """The lock of a live process is never taken over: the second run is told who is busy (exit code 4)."""
    world = _world(tmp_path / "busy", latency_ms=LATENCY_MS)
    log = tmp_path / "koppel-stderr.log"
    try:
        process = _start(world, (), log)
        deadline = time.monotonic() + DEADLINE_S
        while not _locks(world):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.001)
        second = world.cli("sync")
        assert second.exit_code == 4, second.output
        assert f"pid {process.pid}" in second.stderr and "busy" in second.stderr
        status = world.cli("status").stdout
        assert f"busy: apply by pid {process.pid}" in status
        assert process.wait(timeout=DEADLINE_S) == 0, log.read_text()
        assert _locks(world) == []
        assert world.run("sync").returncode == 0
    finally:
        if process.poll() is None:
            _sigkill(process)
        world.close()

