"""Runs made by the service's workers: through Koppel, one per target, stoppable mid-apply."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import orjson

from koppel.service.queue import RequestKind, RequestStatus, Trigger

from .conftest import TARGET, TENANT, Setup, config_text, free_port, make_history

SLOW_TARGET = "batch_size = 50\nmax_operations_in_flight = 100\nlatency_ms = 100"


def _slow(setup: Setup, **extra: str) -> None:
    setup.config.write_text(config_text(state_url="sqlite:///koppel-state.db", target_extra=SLOW_TARGET, **extra),
                            encoding="utf-8")


def _queued(service, kind=RequestKind.SYNC, by="beheerder", plan_id=None):
    request = service.queue.enqueue(TENANT, TARGET, kind=kind, trigger=Trigger.MANUAL, by=by, plan_id=plan_id)
    assert service.queue.claim(request.id)
    return service.queue.get(request.id)


def _journal_rows(service) -> int:
    """The journal entries of every run of the target, through the store's run repository."""
    store = service.koppel.store
    runs = store.runs(TENANT, TARGET, limit=1000)
    return sum(n for run in runs for _school, _outcome, n in store.outcome_counts(run.id))


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _fake_objects(setup: Setup) -> dict:
    return orjson.loads((setup.root / "fake-target.json").read_bytes())["objects"]


def test_stop_lets_the_batches_in_flight_finish_and_the_next_run_continues(setup: Setup):
    _slow(setup)
    service = setup.open()
    try:
        stop = threading.Event()
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.setdefault(
            "result", service.scheduler.worker.execute(_queued(service), stop)))
        runner.start()
        _wait_for(lambda: _journal_rows(service) > 0)
        stop.set()
        runner.join(timeout=30)
        assert not runner.is_alive()
        store = service.koppel.store
        [run] = store.runs(TENANT, TARGET, limit=1)
        assert run.status == "stopped" and "the next run continues" in run.message
        assert outcome["result"].status is RequestStatus.DONE and outcome["result"].message == "stopped"
        # Every object the target holds was recorded: no batch was cut off after it was sent.
        recorded = sum(sum(v.values()) for v in store.counts(TENANT, TARGET).values())
        assert recorded == len(_fake_objects(setup)) == _journal_rows(service)
        total = run.summary["outcomes"]["done"]
        assert 0 < total < 500

        result = service.scheduler.worker.execute(_queued(service), threading.Event())
        assert result.status is RequestStatus.DONE
        assert store.runs(TENANT, TARGET, limit=1)[0].status == "succeeded"
        assert sum(sum(v.values()) for v in store.counts(TENANT, TARGET).values()) == len(_fake_objects(setup))
    finally:
        service.close()


def test_sigterm_to_koppel_serve_lets_the_running_apply_finish_its_batch(setup: Setup):
    _slow(setup)
    service = setup.open()
    token = service.accounts.create_token("test")
    service.close()
    port = free_port()
    env = {**os.environ, "KOPPEL_CONFIG": str(setup.config)}
    process = subprocess.Popen([sys.executable, "-c", "from koppel.cli.main import run; run()", "serve",
                                "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        import httpx

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        _wait_for(up)
        answer = httpx.post(f"http://127.0.0.1:{port}/api/targets/{TENANT}/{TARGET}/run",
                            headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 202
        watcher = setup.open()
        try:
            _wait_for(lambda: _journal_rows(watcher) > 0)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
            store = watcher.koppel.store
            [run] = store.runs(TENANT, TARGET, limit=1)
            assert run.status == "stopped" and run.trigger == "api"
            recorded = sum(sum(v.values()) for v in store.counts(TENANT, TARGET).values())
            assert recorded == len(_fake_objects(setup)) == _journal_rows(watcher)
            [request] = watcher.queue.recent(TENANT, TARGET, limit=1)
            assert request.status is RequestStatus.DONE and request.requested_by == "api:test"
        finally:
            watcher.close()
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0].decode(errors="replace")
        print(output)


def test_a_busy_lock_skips_the_request(setup: Setup):
    service = setup.open()
    try:
        with service.koppel.store.lock(TENANT, TARGET, purpose="apply from the command line"):
            result = service.scheduler.worker.execute(_queued(service), threading.Event())
        assert result.status is RequestStatus.SKIPPED and "busy" in result.message
        assert service.queue.get(1).status is RequestStatus.SKIPPED
        assert service.koppel.store.runs(TENANT, TARGET) == []
    finally:
        service.close()


def test_approval_is_applied_by_the_worker_and_records_who(setup: Setup):
    service = setup.open()
    try:
        plan_id = make_history(service, setup)
        result = service.scheduler.worker.execute(_queued(service, RequestKind.APPROVE, plan_id=plan_id),
                                                  threading.Event())
        assert result.status is RequestStatus.DONE
        record = service.koppel.store.plan_record(plan_id)
        assert record.status == "applied" and record.approved_by == "beheerder" and record.approved_at
        run = service.koppel.store.run(result.run_id)
        assert run.approved_by == "beheerder" and run.status == "succeeded"
    finally:
        service.close()


def test_the_scheduler_thread_runs_what_is_queued(setup: Setup):
    service = setup.open()
    try:
        service.scheduler.start_thread()
        request = service.queue.enqueue(TENANT, TARGET, kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="b")
        service.scheduler.wake()
        _wait_for(lambda: service.queue.get(request.id).status is RequestStatus.DONE)
        run = service.koppel.store.run(service.queue.get(request.id).run_id)
        assert run.trigger == "manual" and run.status == "succeeded"
        stats = service.dashboard.card(TENANT, TARGET).chart
        assert stats[-1].changes == run.summary["outcomes"]["done"]
    finally:
        service.close()


def test_per_object_errors_reach_the_run_page_and_the_chart(setup: Setup):
    setup.config.write_text(config_text(state_url="sqlite:///koppel-state.db",
                                        target_extra="permanent_rate = 0.05\nseed = 3"), encoding="utf-8")
    service = setup.open()
    try:
        result = service.scheduler.worker.execute(_queued(service), threading.Event())
        run = service.koppel.store.run(result.run_id)
        assert run.status == "partial"
        page = service.dashboard.run(run.id)
        assert page.problems and {p.outcome for p in page.problems} <= {"failed", "skipped"}
        refused = next(p for p in page.problems if p.outcome == "failed")
        assert refused.code == "invaliddata" and refused.message == "fake target: invalid data (injected)"
        [point] = service.dashboard.card(TENANT, TARGET).chart
        assert point.errors == run.summary["outcomes"].get("failed", 0) + run.summary["outcomes"].get("skipped", 0)
        school = refused.school
        target_page = service.dashboard.target(TENANT, TARGET, school=school)
        assert any(s.school == school and s.errors > 0 for s in target_page.schools)
    finally:
        service.close()
