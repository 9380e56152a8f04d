"""`koppel --log-format json`: every line on stderr is one JSON object, and every line logged during a run
names its tenant, target and run id — in a real `koppel sync` process, and in the service's worker, whose
lines also name the request they carry out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from koppel.cli.common import configure_logging
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.service import Service
from koppel.service.queue import RequestKind, Trigger
from koppel.state.store import StateStore

SRC = Path(__file__).resolve().parents[2] / "src"
YEAR = SchoolYear(2025)


def koppel(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "koppel", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _lines(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"stderr line {number} is not JSON: {line!r}")
        assert isinstance(event, dict) and {"event", "level", "timestamp"} <= set(event), line
        parsed.append(event)
    return parsed


def _school(tmp_path: Path) -> Path:
    write_layout(generate(students=40, schools=1, year=YEAR, seed=3), tmp_path / "export", "magister")
    assert koppel(tmp_path, "init", "--source", "export", "--layout", "magister", "--target", "fake").returncode == 0
    config = tmp_path / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('school_year = "auto"', f'school_year = "{YEAR}"'),
                      encoding="utf-8")
    return config


def test_every_line_of_a_sync_is_json_and_names_tenant_target_and_run(tmp_path: Path) -> None:
    _school(tmp_path)
    done = koppel(tmp_path, "--log-format", "json", "-vv", "sync")
    assert done.returncode == 0, done.stderr
    events = _lines(done.stderr)  # alembic's lines (the state created) are JSON too
    assert any(e.get("logger") == "alembic.runtime.migration" for e in events)

    store = StateStore.open(f"sqlite:///{tmp_path / 'koppel-state.db'}")
    try:
        [run] = store.runs(limit=10)
    finally:
        store.close()
    # From the first line about the tenant on, every line is about the tenant and the target ...
    first = next(i for i, e in enumerate(events) if "tenant" in e)
    during = events[first:]
    assert [e["event"] for e in during].count("run started") == 1
    for event in during:
        assert (event["tenant"], event["target"]) == (run.tenant, run.target), event
    # ... and from the run's start to its end, about the run.
    start = next(i for i, e in enumerate(during) if e["event"] == "run started")
    end = next(i for i, e in enumerate(during) if e["event"] == "run finished")
    assert end > start
    for event in during[start:end + 1]:
        assert event["run_id"] == run.id, event
    assert during[end]["status"] == "succeeded"


def test_the_service_worker_names_the_request_on_every_line(tmp_path: Path, capsys) -> None:
    config = _school(tmp_path)
    service = Service.open(config, env={})
    try:
        configure_logging("info", "json")
        capsys.readouterr()
        request = service.queue.enqueue("school", "fake", kind=RequestKind.SYNC, trigger=Trigger.API, by="robot")
        assert service.queue.claim(request.id)
        result = service.scheduler.worker.execute(service.queue.get(request.id), threading.Event())
        logged = capsys.readouterr().err
    finally:
        configure_logging("warning")
        service.close()
    events = _lines(logged)
    assert result.run_id is not None
    assert {e["event"] for e in events} >= {"run starting", "run started", "run finished"}
    for event in events:
        assert event["request_id"] == request.id and event["tenant"] == "school" and event["target"] == "fake", event
    in_run = [e for e in events if e["event"] in ("run started",) or "run_id" in e]
    assert in_run and all(e["run_id"] == result.run_id for e in in_run)


@pytest.fixture
def database() -> Iterator[str]:
    from tests.conftest import fresh_database

    with fresh_database("koppel_jsonlog") as url:
        yield url


def test_a_koppel_worker_process_logs_json_with_the_request_on_every_line_of_its_run(tmp_path: Path,
                                                                                      database: str) -> None:
    """A real `koppel worker` on PostgreSQL (procrastinate): every stderr line parses, procrastinate's own
    lines included, and every line from the run's start to its end names the request, tenant and target."""
    import signal
    import time

    from koppel.service.queue import RequestStatus
    url = database
    worker = None
    try:
        config = _school(tmp_path)
        text = config.read_text(encoding="utf-8")
        text = text.replace('url = "sqlite:///koppel-state.db"', f'url = "{url}"')
        assert url in text, "the generated configuration's state URL moved"
        assert not any(line.strip() == "[service]" for line in text.splitlines())
        config.write_text(text + '\n[service]\nengine = "procrastinate"\n', encoding="utf-8")
        service = Service.open(config, env={})
        try:
            request = service.queue.enqueue("school", "fake", kind=RequestKind.SYNC, trigger=Trigger.API, by="robot")
            env = {**os.environ, "KOPPEL_CONFIG": str(config),
                   "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
            worker = subprocess.Popen([sys.executable, "-m", "koppel", "--log-format", "json", "-v", "worker",
                                       "--stalled-after", "5"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 90
            while service.queue.get(request.id).status not in (RequestStatus.DONE, RequestStatus.FAILED):
                assert worker.poll() is None, worker.communicate()[1]
                assert time.monotonic() < deadline, "the worker did not run the request"
                time.sleep(0.1)
            done = service.queue.get(request.id)
        finally:
            service.close()
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 0, stderr
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert done.status is RequestStatus.DONE and done.run_id is not None, done
    events = _lines(stderr)
    assert any(str(e.get("logger", "")).startswith("procrastinate") for e in events)  # the library's lines too
    start = next(i for i, e in enumerate(events) if e["event"] == "run starting")
    end = max(i for i, e in enumerate(events) if e["event"] == "run finished")
    for event in events[start:end + 1]:
        assert (event.get("request_id"), event.get("tenant"), event.get("target")) == (request.id, "school", "fake"), \
            event
        if "run_id" in event:
            assert event["run_id"] == done.run_id, event
