"""Runs as procrastinate jobs on PostgreSQL: real `koppel worker` processes, a real database per test.

`koppel serve`'s queue defers the jobs (as "nu synchroniseren", approvals and schedules do); the
workers run them through the same Worker as the in-process engine. Checked here: every target synced
once and never two runs of one target at a time, one job waiting per target, a SIGKILLed worker's job
retried and converged with nothing applied twice, SIGTERM stopping after the current batch (the request
queued again, a second worker finishing the run; a second SIGTERM ends the process), a private
PostgreSQL restarted mid-run (tests/workers/conftest.py), a hanging LAS and a target that is down
delaying only their tenants (timeout, backoff), the queue view, and the engine refused on SQLite.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psycopg
import pytest

from koppel.errors import ConfigError
from koppel.generator import Bestuur, generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.service import Service
from koppel.service.clock import ManualClock, parse_iso
from koppel.service.queue import RequestKind, RequestStatus, Trigger
from tests.conftest import fresh_database
from tests.lifecycle.support import PASSWORD, PASSWORD_ENV, start_sandbox
from tests.lifecycle.support import config_text as lifecycle_config
from tests.service.conftest import PASSWORD as WEB_PASSWORD
from tests.service.conftest import USER, Running, login, without_half

TENANT = "bestuur"
YEAR = SchoolYear(2025)
FAST = "latency_ms = 20"
ITS = "itslearning"
OPEN_GUARDS = {"guards": {"max_percent": 100.0, "max_count": 1_000_000}}
SLOW = "batch_size = 25\nmax_operations_in_flight = 25\nadaptive = false\nlatency_ms = 250"


@pytest.fixture(scope="module")
def bestuur() -> Bestuur:
    return generate(students=120, schools=1, year=YEAR, seed=5)


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test (procrastinate's schema is per database)."""
    with fresh_database("koppel_workers") as url:
        yield url


def _config(root: Path, bestuur: Bestuur, state_url: str, targets: dict[str, str], *,
            engine: str = "procrastinate") -> Path:
    write_layout(bestuur, root / "export", "magister")
    sections = "".join(f"""
[tenants.{TENANT}.targets.{name}]
kind = "fake"
path = "{name}.json"
{extra}
""" for name, extra in targets.items())
    config = root / "koppel.toml"
    config.write_text(f"""
[state]
url = "{state_url}"

[tenants.{TENANT}]
name = "Stichting Het Baken"
school_year = "{YEAR}"

[tenants.{TENANT}.sources.las]
kind = "csv"
layout = "magister"
path = "export"
{sections}
[service]
engine = "{engine}"
""", encoding="utf-8")
    return config


_OUTPUT: dict[int, IO[bytes]] = {}


def _worker(config: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A `koppel worker` process. Its output goes to a file, not a pipe: a pipe nobody reads fills up while
    the database is away (psycopg's pool logs every failed connection) and the worker would block writing."""
    env = {**os.environ, **(env or {}), "KOPPEL_CONFIG": str(config)}
    output = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by _stop, which reads it
    process = subprocess.Popen([sys.executable, "-c", "from koppel.cli.main import run; run()", "worker",
                                "--stalled-after", "2", *extra], env=env, stdout=output, stderr=subprocess.STDOUT)
    _OUTPUT[process.pid] = output
    return process


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        output = _OUTPUT.pop(process.pid, None)
        if output is not None:
            output.seek(0)
            print(output.read().decode(errors="replace"))
            output.close()


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _jobs(state_url: str) -> list[tuple]:
    with psycopg.connect(state_url.replace("+psycopg", "")) as conn:
        return conn.execute("SELECT id, status, lock, queueing_lock, attempts FROM procrastinate_jobs ORDER BY id"
                            ).fetchall()


def _sync(service: Service, target: str):
    return service.queue.enqueue(TENANT, target, kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="beheerder")


def _journal_rows(service: Service, target: str) -> int:
    store = service.koppel.store
    return sum(n for run in store.runs(TENANT, target, limit=100) for _s, _o, n in store.outcome_counts(run.id))


def _recorded(service: Service, target: str) -> int:
    return sum(sum(v.values()) for v in service.koppel.store.counts(TENANT, target).values())


def test_two_workers_sync_every_target_once_and_never_one_target_twice_at_a_time(tmp_path, bestuur, database):
    targets = {f"t{i}": FAST for i in range(6)}
    config = _config(tmp_path, bestuur, database, targets)
    service = Service.open(config, env={})
    workers = [_worker(config, "--concurrency", "2"), _worker(config, "--concurrency", "2")]
    try:
        requests = [_sync(service, target) for target in targets]
        # asked again while they wait or run: absorbed, still one job per target
        assert [_sync(service, target).id for target in targets] == [r.id for r in requests]

        def all_done() -> bool:
            return all(service.queue.get(r.id).status is RequestStatus.DONE for r in requests)  # type: ignore[union-attr]

        _wait_for(all_done, timeout=120)
        jobs = _jobs(database)
        assert len(jobs) == len(targets) and {j[1] for j in jobs} == {"succeeded"}
        assert sorted(j[2] for j in jobs) == sorted(f"{TENANT}/{t}" for t in targets)
        store = service.koppel.store
        for target in targets:
            runs = store.runs(TENANT, target, limit=10)
            assert len(runs) == 1 and runs[0].status == "succeeded", (target, runs)
        assert len({_journal_rows(service, t) for t in targets}) == 1 and _journal_rows(service, "t0") > 0
    finally:
        service.close()
        for process in workers:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in workers]
        _stop(*workers)
    assert codes == [0, 0]


def test_the_lock_keeps_a_second_job_of_a_running_target_waiting_while_a_worker_is_free(tmp_path, bestuur,
                                                                                        database):
    config = _config(tmp_path, bestuur, database, {"slow": SLOW, "other": FAST})
    service = Service.open(config, env={})
    workers = [_worker(config), _worker(config)]
    try:
        running = _sync(service, "slow")
        _wait_for(lambda: _journal_rows(service, "slow") > 0)
        deferrer = service.queue.deferrer
        assert deferrer is not None
        deferrer(running)  # a second job for the target while its first runs (as two racing serves could)
        other = _sync(service, "other")  # the free worker takes this one meanwhile
        _wait_for(lambda: service.queue.get(other.id).status is RequestStatus.DONE)  # type: ignore[union-attr]
        assert service.queue.get(running.id).status is RequestStatus.RUNNING  # type: ignore[union-attr]
        assert [j[1] for j in _jobs(database) if j[2] == f"{TENANT}/slow"] == ["doing", "todo"]
        _wait_for(lambda: [j[1] for j in _jobs(database)] == ["succeeded"] * 3, timeout=120)
        [run] = service.koppel.store.runs(TENANT, "slow", limit=10)  # the second job found nothing left to run
        assert run.status == "succeeded"
    finally:
        service.close()
        for process in workers:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in workers]
        _stop(*workers)
    assert codes == [0, 0]


def test_one_job_waits_per_target_and_a_racing_request_is_already_queued(tmp_path, bestuur, database):
    config = _config(tmp_path, bestuur, database, {"a": FAST, "b": FAST})
    service = Service.open(config, env={})
    try:
        first = _sync(service, "a")
        assert _sync(service, "a").id == first.id
        # a second `koppel serve` decided the first request was over while its job still waits
        service.queue.finish(first.id, RequestStatus.DONE)
        racing = _sync(service, "a")
        assert racing.id != first.id
        other = _sync(service, "b")
        jobs = _jobs(database)
        assert [(j[1], j[2], j[3]) for j in jobs] == [("todo", f"{TENANT}/a", f"{TENANT}/a"),
                                                     ("todo", f"{TENANT}/b", f"{TENANT}/b")]
        assert service.queue.get(racing.id).status is RequestStatus.QUEUED  # type: ignore[union-attr]
        assert service.queue.get(other.id).status is RequestStatus.QUEUED  # type: ignore[union-attr]
        # the waiting job of the finished request runs the racing one
        worker = _worker(config)
        try:
            _wait_for(lambda: all(service.queue.get(r.id).status is RequestStatus.DONE  # type: ignore[union-attr]
                                  for r in (racing, other)))
            assert len(service.koppel.store.runs(TENANT, "a", limit=10)) == 1
            assert service.queue.get(first.id).run_id is None  # type: ignore[union-attr]
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
            _stop(worker)
    finally:
        service.close()


def test_a_schedule_falling_due_defers_a_job_and_serve_leaves_running_requests_alone(tmp_path, bestuur, database):
    config = _config(tmp_path, bestuur, database, {"a": FAST + """
[tenants.bestuur.targets.a.schedule]
enabled = true
cron = "0 * * * *"
timezone = "UTC"
"""})
    clock = ManualClock(dt.datetime(2026, 3, 2, 12, 30, tzinfo=dt.UTC))
    service = Service.open(config, env={}, clock=clock)
    try:
        running = _sync(service, "a")
        service.queue.claim(running.id)  # a worker elsewhere runs it
        service.scheduler.start()  # the in-process engine would mark it failed as left over
        assert service.queue.get(running.id).status is RequestStatus.RUNNING  # type: ignore[union-attr]
        service.queue.finish(running.id, RequestStatus.DONE)
        assert service.scheduler.dispatch() == []  # serve runs nothing itself
        clock.set(dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
        [due] = service.scheduler.tick()
        assert due.trigger is Trigger.SCHEDULE and due.status is RequestStatus.QUEUED
        # the job of the finished request still waits (no worker runs here): it will take the schedule's
        assert [(j[1], j[2]) for j in _jobs(database)] == [("todo", f"{TENANT}/a")]
        assert service.queue.get(due.id).status is RequestStatus.QUEUED  # type: ignore[union-attr]
    finally:
        service.close()


def test_an_approval_is_a_job_that_a_worker_applies(tmp_path, bestuur, database):
    config = _config(tmp_path, bestuur, database, {"a": FAST})
    service = Service.open(config, env={})
    worker = None
    try:
        assert service.koppel.sync(TENANT, "a", trigger="cli").applied is not None
        write_layout(without_half(bestuur), tmp_path / "export", "magister")
        held = service.koppel.sync(TENANT, "a", trigger="schedule")
        assert held.held
        approve = service.queue.enqueue(TENANT, "a", kind=RequestKind.APPROVE, trigger=Trigger.MANUAL,
                                        by="beheerder", plan_id=held.plan.id)
        assert service.queue.enqueue(TENANT, "a", kind=RequestKind.APPROVE, trigger=Trigger.MANUAL,
                                     by="beheerder", plan_id=held.plan.id).id == approve.id
        assert [(j[1], j[3]) for j in _jobs(database)] == [("todo", f"{TENANT}/a/approve/{held.plan.id}")]
        worker = _worker(config)
        _wait_for(lambda: service.queue.get(approve.id).status is RequestStatus.DONE)  # type: ignore[union-attr]
        record = service.koppel.store.plan_record(held.plan.id)
        assert record is not None and record.status == "applied" and record.approved_by == "beheerder"
    finally:
        service.close()
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
            _stop(worker)


def test_a_sigkilled_worker_s_job_is_retried_and_converges_with_nothing_applied_twice(tmp_path, bestuur, database):
    """Against the itslearning sandbox (a target that keeps what it was sent, as a real one does)."""
    sandbox = start_sandbox(tmp_path / "sandbox.db", latency_ms=40)
    try:
        text = lifecycle_config(url=sandbox.endpoint("combined"), state=database, policy=OPEN_GUARDS,
                                target_settings={"batch_size": 5, "max_operations_in_flight": 5})
        config = tmp_path / "koppel.toml"
        config.write_text(text + '\n[service]\nengine = "procrastinate"\n', encoding="utf-8")
        write_layout(bestuur, tmp_path / "export" / str(YEAR), "magister")
        env = {PASSWORD_ENV: PASSWORD}
        service = Service.open(config, env=env)
        first = _worker(config, env=env)
        second = None
        try:
            killed = _sync(service, ITS)
            _wait_for(lambda: int(sandbox.stats()["writes"]) >= 3)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            assert service.queue.get(killed.id).status is RequestStatus.RUNNING  # type: ignore[union-attr]
            second = _worker(config, env=env)
            _wait_for(lambda: service.queue.get(killed.id).status is RequestStatus.DONE, timeout=120)  # type: ignore[union-attr]
            [job] = _jobs(database)
            assert job[1] == "succeeded" and job[4] >= 1  # the stalled attempt was retried
            store = service.koppel.store
            runs = store.runs(TENANT, ITS, limit=10)
            assert runs[0].status == "succeeded", [(r.status, r.message) for r in runs]
            again = _sync(service, ITS)
            _wait_for(lambda: service.queue.get(again.id).status is RequestStatus.DONE, timeout=60)  # type: ignore[union-attr]
            [last, *_] = store.runs(TENANT, ITS, limit=10)
            assert last.status == "succeeded" and store.outcome_counts(last.id) == []  # converged: nothing to do
            persons = [p for p in sandbox.objects()["persons"] if not p["trashed"]]
            keys = [p["sync_key"] for p in persons]
            assert len(keys) == len(set(keys)) == store.counts(TENANT, ITS)["person"]["active"] > 0
            with psycopg.connect(database.replace("+psycopg", "")) as conn:
                twice = conn.execute("SELECT key FROM journal WHERE action = 'create' AND outcome = 'done' "
                                     "GROUP BY key HAVING count(*) > 1").fetchall()
            assert twice == []
        finally:
            service.close()
            if second is not None:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=60)
            _stop(*[p for p in (first, second) if p is not None])
    finally:
        sandbox.stop()


def _sandbox_config(tmp_path: Path, bestuur: Bestuur, database: str, sandbox, **target: object) -> Path:
    text = lifecycle_config(url=sandbox.endpoint("combined"), state=database, policy=OPEN_GUARDS,
                            target_settings={"batch_size": 5, "max_operations_in_flight": 5, **target})
    config = tmp_path / "koppel.toml"
    config.write_text(text + '\n[service]\nengine = "procrastinate"\n', encoding="utf-8")
    write_layout(bestuur, tmp_path / "export" / str(YEAR), "magister")
    return config


def _live_persons(sandbox) -> list[str]:
    return [p["sync_key"] for p in sandbox.objects()["persons"] if not p["trashed"]]


def test_sigterm_stops_after_the_current_batch_and_another_worker_finishes_the_run(tmp_path, bestuur, database):
    """Against the itslearning sandbox: SIGTERM mid-apply ends the process within a bound, with every
    change the sandbox received recorded (no half batch); the request waits again and a second worker
    continues the run from the journal — nothing created twice."""
    sandbox = start_sandbox(tmp_path / "sandbox.db", latency_ms=100)
    try:
        config = _sandbox_config(tmp_path, bestuur, database, sandbox)
        env = {PASSWORD_ENV: PASSWORD}
        service = Service.open(config, env=env)
        first = _worker(config, env=env)
        second = None
        try:
            request = _sync(service, ITS)
            _wait_for(lambda: len(_live_persons(sandbox)) >= 10)
            [running] = service.queue.pending(TENANT, ITS)  # the queue view: which worker runs it, since when
            assert (running.job_status, running.job_attempts) == ("running", 0)
            assert running.job_worker is not None and running.job_since is not None
            signalled = time.monotonic()
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0
            stopped_in = time.monotonic() - signalled
            store = service.koppel.store
            [run] = store.runs(TENANT, ITS, limit=10)
            assert run.status == "stopped", (run.status, run.message)
            waiting = service.queue.get(request.id)
            assert waiting is not None and waiting.status is RequestStatus.QUEUED and waiting.run_id == run.id
            assert "worker stopped after a batch" in (waiting.message or "")
            # no half batch: everything the sandbox received is recorded, and the run did stop early
            live = _live_persons(sandbox)
            recorded = store.counts(TENANT, ITS)["person"]["active"]
            assert len(live) == recorded > 0
            assert recorded < 120  # of 120 pupils and their teachers
            [job] = _jobs(database)
            assert job[1] == "todo"  # procrastinate retries the interrupted job
            [retrying] = service.queue.pending(TENANT, ITS)
            assert (retrying.job_status, retrying.job_attempts) == ("retrying", 1) and retrying.job_since
            second = _worker(config, env=env)
            _wait_for(lambda: service.queue.get(request.id).status is RequestStatus.DONE, timeout=120)  # type: ignore[union-attr]
            last, stopped = store.runs(TENANT, ITS, limit=10)
            assert (last.status, stopped.id) == ("succeeded", run.id)
            assert service.queue.get(request.id).run_id == last.id  # type: ignore[union-attr]
            live = _live_persons(sandbox)
            assert len(live) == len(set(live)) == store.counts(TENANT, ITS)["person"]["active"]
            with psycopg.connect(database.replace("+psycopg", "")) as conn:
                twice = conn.execute("SELECT key FROM journal WHERE action = 'create' AND outcome = 'done' "
                                     "GROUP BY key HAVING count(*) > 1").fetchall()
            assert twice == []
            print(f"SIGTERM to exit: {stopped_in:.2f} s")
            assert stopped_in < 10
        finally:
            service.close()
            if second is not None:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=60)
            _stop(*[p for p in (first, second) if p is not None])
    finally:
        sandbox.stop()


def _status(service: Service, request_id: int) -> RequestStatus | None:
    """The request's status, or None while the database does not answer (it is being restarted)."""
    try:
        found = service.queue.get(request_id)
    except Exception:  # the pool's connections died with the server: the next call gets new ones
        return None
    return found.status if found is not None else None


def test_postgresql_restarting_mid_run_the_worker_lives_on_and_the_run_converges(tmp_path, bestuur,
                                                                                private_postgres):
    """A private PostgreSQL is stopped (``pg_ctl stop -m fast``) while a worker applies, then started
    again: the worker process lives through it (it waits for the database and restarts its loop), the
    interrupted job is retried, and the target converges with nothing created twice."""
    sandbox = start_sandbox(tmp_path / "sandbox.db", latency_ms=100)
    try:
        config = _sandbox_config(tmp_path, bestuur, private_postgres.url, sandbox)
        env = {PASSWORD_ENV: PASSWORD}
        service = Service.open(config, env=env)
        worker = _worker(config, env=env)
        try:
            request = _sync(service, ITS)
            _wait_for(lambda: len(_live_persons(sandbox)) >= 10)
            private_postgres.stop("fast")
            time.sleep(3)
            assert worker.poll() is None, "the worker died with the database"
            private_postgres.start()
            _wait_for(lambda: _status(service, request.id) is RequestStatus.DONE, timeout=180)
            assert worker.poll() is None, "the worker died after the database came back"
            store = service.koppel.store
            runs = store.runs(TENANT, ITS, limit=10)
            assert runs[0].status == "succeeded", [(r.status, r.message) for r in runs]
            assert all(r.status in ("succeeded", "failed") for r in runs), [(r.status, r.message) for r in runs]
            again = _sync(service, ITS)
            _wait_for(lambda: _status(service, again.id) is RequestStatus.DONE, timeout=60)
            [last, *_] = store.runs(TENANT, ITS, limit=10)
            assert last.status == "succeeded" and store.outcome_counts(last.id) == []  # converged: nothing to do
            live = _live_persons(sandbox)
            assert len(live) == len(set(live)) == store.counts(TENANT, ITS)["person"]["active"] > 0
            with psycopg.connect(private_postgres.url.replace("+psycopg", "")) as conn:
                twice = conn.execute("SELECT key FROM journal WHERE action = 'create' AND outcome = 'done' "
                                     "GROUP BY key HAVING count(*) > 1").fetchall()
            assert twice == []
        finally:
            service.close()
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=60)
            _stop(worker)
        assert code == 0
    finally:
        sandbox.stop()


class _SilentLas:
    """A LAS whose UWLR service accepts the connection and never answers (a real socket)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)  # read nothing, answer nothing

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


UWLR_KEY_ENV = "KOPPEL_TEST_UWLR_KEY"


def _tenants_config(root: Path, bestuur: Bestuur, state_url: str, las_port: int) -> Path:
    """Four tenants, each scheduled every minute: ``hangs`` reads a UWLR service that never answers
    (its own read timeout is long; its run timeout 8 s, backoff 2 minutes doubling up to 8), ``down``
    sends to an itslearning that does not listen (backoff 3 minutes, tripling, up to an hour), ``a`` and
    ``b`` are healthy (the defaults)."""
    limits = {"hangs": 'run_timeout = "8s"\nbackoff_initial = "2m"\nbackoff_max = "8m"\n',
              "down": 'backoff_initial = "3m"\nbackoff_factor = 3\nbackoff_max = "1h"\n'}
    sections = []
    for tenant in ("hangs", "down", "a", "b"):
        write_layout(bestuur, root / tenant, "magister")
        source = (f'kind = "uwlr"\nurl = "http://127.0.0.1:{las_port}/uwlr"\nklantcode = "koppel"\n'
                  f'klantnaam = "koppel"\nschools = [{{brin6 = "99ZZ00"}}]\nautorisatiesleutel_env = "{UWLR_KEY_ENV}"\n'
                  'timeout_s = 600' if tenant == "hangs"
                  else f'kind = "csv"\nlayout = "magister"\npath = "{tenant}"')
        target = ('kind = "itslearning"\nurl = "http://127.0.0.1:9/down"\nusername = "koppel"\n'
                  f'password_env = "{PASSWORD_ENV}"\nsite_root = "koppel-root"' if tenant == "down"
                  else f'kind = "fake"\npath = "{tenant}.json"\n{FAST}')
        sections.append(f"""
[tenants.{tenant}]
name = "Bestuur {tenant}"
school_year = "{YEAR}"

[tenants.{tenant}.sources.las]
{source}

[tenants.{tenant}.targets.t]
{target}

[tenants.{tenant}.targets.t.schedule]
enabled = true
interval = "1m"
{limits.get(tenant, "")}""")
    config = root / "koppel.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n{"".join(sections)}\n[service]\nengine = "procrastinate"\n',
                      encoding="utf-8")
    return config


def test_a_hanging_las_and_a_target_that_is_down_delay_only_their_own_tenant(tmp_path, bestuur, database):
    """Two workers (two runs each) with ``--run-timeout 3600``; the hanging tenant's own ``run_timeout`` is
    8 s. The healthy tenants' scheduled runs finish while the hanging one still runs; the hanging one is
    cut off at its own 8 s and the unreachable one fails, and the schedule leaves each alone for longer
    after each failure, by its own backoff, while "nu synchroniseren" still runs at once."""
    las = _SilentLas()
    config = _tenants_config(tmp_path, bestuur, database, las.port)
    env = {PASSWORD_ENV: PASSWORD, UWLR_KEY_ENV: "sleutel"}
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock = ManualClock(start)
    service = Service.open(config, env=env, clock=clock)
    workers = [_worker(config, "--concurrency", "2", "--run-timeout", "3600", env=env) for _ in range(2)]
    try:
        with psycopg.connect(database.replace("+psycopg", "")) as conn:
            _wait_for(lambda: conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0] == 2)
        service.scheduler.start()
        first = {r.tenant: r for r in service.scheduler.tick()}
        assert sorted(first) == ["a", "b", "down", "hangs"]
        asked = time.monotonic()
        _wait_for(lambda: all(_status(service, first[t].id) is RequestStatus.DONE for t in "ab"), timeout=60)
        healthy_in = time.monotonic() - asked
        assert _status(service, first["hangs"].id) is RequestStatus.RUNNING, service.queue.get(first["hangs"].id)  # still hanging: it delays only itself
        _wait_for(lambda: all(_status(service, first[t].id) is RequestStatus.FAILED for t in ("hangs", "down")),
                  timeout=60)
        hung = service.queue.get(first["hangs"].id)
        assert hung is not None and "timed out after 8 s" in (hung.message or "")
        down = service.queue.get(first["down"].id)
        assert down is not None and "Connection refused" in (down.message or "")  # the target is down

        # the next scheduled moment: the healthy tenants run, the failed ones wait out their backoff
        held = service.queue.backoff_of("hangs", "t")
        assert held is not None and held.failures == 1
        assert held.until == parse_iso(hung.finished_at or "") + dt.timedelta(seconds=120)
        held_down = service.queue.backoff_of("down", "t")
        assert held_down is not None and held_down.failures == 1
        assert held_down.until == parse_iso(down.finished_at or "") + dt.timedelta(seconds=180)
        clock.set(start + dt.timedelta(seconds=61))
        assert sorted(r.tenant for r in service.scheduler.tick()) == ["a", "b"]
        assert service.scheduler.next_run("hangs", "t") == held.until
        # when the backoff is over they are tried again, fail again, and wait twice as long
        clock.set(max(held.until, service.queue.backoff_of("down", "t").until) + dt.timedelta(seconds=1))  # type: ignore[union-attr]
        again = {r.tenant: r for r in service.scheduler.tick() if r.tenant in ("hangs", "down")}
        assert sorted(again) == ["down", "hangs"]
        _wait_for(lambda: all(_status(service, again[t].id) is RequestStatus.FAILED for t in again), timeout=60)
        for tenant, wait_s in (("hangs", 240), ("down", 540)):  # 2 min · 2; 3 min · 3
            later = service.queue.backoff_of(tenant, "t")
            finished = service.queue.get(again[tenant].id).finished_at  # type: ignore[union-attr]
            assert later is not None and later.failures == 2
            assert later.until == parse_iso(finished or "") + dt.timedelta(seconds=wait_s)
            assert service.scheduler.next_run(tenant, "t") == later.until
        # "nu synchroniseren" is not held back by the backoff
        now = _sync_of(service, "hangs")
        _wait_for(lambda: _status(service, now.id) in (RequestStatus.RUNNING, RequestStatus.FAILED), timeout=30)
        print(f"healthy tenants done in {healthy_in:.1f} s while the hanging one ran")
        assert healthy_in < 8
    finally:
        service.close()
        for process in workers:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in workers]
        _stop(*workers)
        las.close()
    assert codes == [0, 0]


def _sync_of(service: Service, tenant: str):
    return service.queue.enqueue(tenant, "t", kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="beheerder")


def test_the_queue_view_shows_a_waiting_job_and_a_request_whose_job_vanished(tmp_path, bestuur, database):
    config = _config(tmp_path, bestuur, database, {"a": FAST, "b": FAST})
    service = Service.open(config, env={})
    try:
        waiting, vanished = _sync(service, "a"), _sync(service, "b")
        with psycopg.connect(database.replace("+psycopg", "")) as conn:
            conn.execute("DELETE FROM procrastinate_jobs WHERE lock = %s", (f"{TENANT}/b",))
        assert [(r.id, r.job_status) for r in service.queue.pending(TENANT)] == [(waiting.id, "waiting"),
                                                                               (vanished.id, "missing")]
        card = service.dashboard.card(TENANT, "b")
        assert [(r.id, r.job_status) for r in card.pending] == [(vanished.id, "missing")]
        service.accounts.add_user(USER, WEB_PASSWORD)
        with Running(service, run_scheduler=False) as running:  # the dashboard over HTTP, in both languages
            client = running.client()
            assert login(client, USER, WEB_PASSWORD).status_code == 303
            dutch = client.get("/").text
            assert "wacht op een worker" in dutch and "de taak is uit de wachtrij verdwenen" in dutch
            client.get("/language/en")
            english = client.get(f"/targets/{TENANT}/b").text
            assert "its job vanished from the queue" in english and "wacht" not in english
        worker = _worker(config)
        try:
            _wait_for(lambda: service.queue.get(waiting.id).status is RequestStatus.DONE)  # type: ignore[union-attr]
            time.sleep(1)
            # no worker will ever run the vanished one: it stays queued, and the view says why
            assert service.queue.get(vanished.id).status is RequestStatus.QUEUED  # type: ignore[union-attr]
            assert [r.job_status for r in service.queue.pending(TENANT)] == ["missing"]
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
            _stop(worker)
    finally:
        service.close()


def test_a_second_sigterm_ends_the_worker_at_once(tmp_path, bestuur, database):
    config = _config(tmp_path, bestuur, database, {"slow": SLOW})
    service = Service.open(config, env={})
    worker = _worker(config, "--stop-timeout", "600")
    try:
        _sync(service, "slow")
        _wait_for(lambda: _journal_rows(service, "slow") > 0)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == -signal.SIGTERM
    finally:
        service.close()
        _stop(worker)


def test_the_procrastinate_engine_on_sqlite_is_refused_naming_the_file(tmp_path, bestuur):
    config = _config(tmp_path, bestuur, "sqlite:///koppel-state.db", {"a": FAST})
    with pytest.raises(ConfigError) as refused:
        Service.open(config, env={})
    [problem] = refused.value.problems
    assert problem.file == str(config) and problem.setting == "service.engine" and problem.line is not None
    answer = subprocess.run([sys.executable, "-c", "from koppel.cli.main import run; run()", "worker", "-c",
                             str(config)], capture_output=True, text=True, timeout=60)
    assert answer.returncode != 0
    assert str(config) in answer.stdout + answer.stderr and "PostgreSQL" in answer.stdout + answer.stderr
