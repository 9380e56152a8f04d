"""The disk holding the state fills up while `koppel apply` waits for the platform's answer (issue 10).

``python -m koppel apply`` runs as a real process against the FakeTarget (with latency, so that a request is
in flight long enough) and a SQLite state on a small tmpfs. The moment the applier has noted its request as
sent (a row in ``unrecorded``), the test fills the disk: the platform applies the change, koppel cannot
record it. The run must stop with one clear message and exit 1 — no traceback — and, once there is space
again, the next run must send the change again even though the LAS went back to what the state recorded,
taking the dead run's lock over on the way.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.state.school import koppel as run_koppel
from tests.state.school import make_school, person_key_of, popen, pupils, set_field, small_disk

pytestmark = pytest.mark.slow


def _set_latency(root: Path, ms: int) -> None:
    config = root / "koppel.toml"
    lines = [line for line in config.read_text(encoding="utf-8").splitlines() if not line.startswith("latency_ms")]
    at = lines.index('path = "fake-target.json"') + 1
    config.write_text("\n".join([*lines[:at], f"latency_ms = {ms}", *lines[at:]]) + "\n", encoding="utf-8")


def _noted(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT count(*) FROM unrecorded").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_a_full_disk_after_the_platform_answered_stops_the_run_and_the_next_run_sends_it_again(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        db = disk.path / "state.db"
        root = make_school(tmp_path / "school", state=f"sqlite:///{db}")
        first = run_koppel(root, "sync")
        assert first.returncode == 0, first.stdout + first.stderr

        stamnr = pupils(root)[2][0][0]
        key = person_key_of(db, stamnr)
        original = set_field(root, stamnr, "Roepnaam", "Xerxes")
        _set_latency(root, 1500)
        process = popen(root, "apply", "--yes")
        deadline = time.monotonic() + 60
        while not _noted(db):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the apply never sent its request"
            time.sleep(0.02)
        disk.fill()  # the request is with the platform now; its answer will not fit on the disk
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 1, stdout + stderr
        assert "Traceback" not in stderr and "Traceback" not in stdout
        assert "answered 1 change(s) (1 confirmed)" in stderr and "disk is full" in stderr, stderr
        assert "the next run sends it again" in stderr
        platform = json.loads((root / "fake-target.json").read_text(encoding="utf-8"))["objects"]
        assert platform[key]["attrs"]["given"] == "Xerxes", "the platform took the change"

        disk.free()
        _set_latency(root, 0)
        set_field(root, stamnr, "Roepnaam", original)  # the LAS goes back to what the state recorded
        plan = run_koppel(root, "plan", "--detailed-exitcode")
        assert plan.returncode == 2, plan.stdout + plan.stderr
        assert "Plan: 0 to create, 1 to update" in plan.stdout and "could not record the platform's answer" \
            in plan.stdout, plan.stdout
        synced = run_koppel(root, "sync")
        assert synced.returncode == 0, synced.stdout + synced.stderr  # the dead run's lock was taken over
        platform = json.loads((root / "fake-target.json").read_text(encoding="utf-8"))["objects"]
        assert platform[key]["attrs"]["given"] == original
        quiet = run_koppel(root, "plan", "--detailed-exitcode")
        assert quiet.returncode == 0, quiet.stdout
        status = run_koppel(root, "status", "--format", "json")
        runs = json.loads(status.stdout)["tenants"][0]["targets"][0]["last_runs"]
        assert [r["status"] for r in runs][:3] == ["succeeded", "failed", "succeeded"]
