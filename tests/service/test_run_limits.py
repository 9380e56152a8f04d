"""A tenant whose LAS hangs delays only itself in `koppel serve` on SQLite (the in-process engine): its run is cut
off at its own ``[schedule] run_timeout`` while another tenant's longer run completes, a hanging run frees its
worker, and the schedule's backoff is the tenant's own.

The hanging LAS is a real UWLR endpoint on a socket that accepts the connection and never answers; the other
tenant reads a Magister export and writes to the FakeTarget, slowly enough that its run outlasts the hanging
tenant's timeout (so the timeout is seen to be per target, not the process's).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from pathlib import Path

import pytest

from koppel.generator import Bestuur, generate, write_layout
from koppel.service import Service
from koppel.service.clock import parse_iso
from koppel.service.i18n import Translator
from koppel.service.queue import RequestKind, RequestStatus, RunRequest, Trigger

from .conftest import YEAR

KEY_ENV = "KOPPEL_TEST_UWLR_KEY"
# ~1,000 changes one at a time, 8 ms each: a run of about 8 s, longer than the hanging tenant's timeout and grace
SLOW = "max_operations_in_flight = 1\nadaptive = false\nlatency_ms = 8"
HANG_TIMEOUT_S = 2


class SilentLas:
    """A LAS whose UWLR service accepts connections and never answers (a real socket)."""

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
        """Stop listening (shutdown wakes the accepting thread; close alone would leave it listening) and hang
        up on every connection."""
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        for conn in self.held:
            conn.close()


def _config(root: Path, bestuur: Bestuur, las_port: int, *, workers: int) -> Path:
    write_layout(bestuur, root / "export", "magister")
    config = root / "koppel.toml"
    config.write_text(f"""
[state]
url = "sqlite:///koppel-state.db"

[tenants.hangs]
name = "Bestuur met een hangend LAS"
school_year = "{YEAR}"

[tenants.hangs.sources.las]
kind = "uwlr"
url = "http://127.0.0.1:{las_port}/uwlr"
klantcode = "koppel"
klantnaam = "koppel"
schools = [{{brin6 = "99ZZ00"}}]
autorisatiesleutel_env = "{KEY_ENV}"
timeout_s = 600

[tenants.hangs.targets.t]
kind = "fake"
path = "hangs.json"

[tenants.hangs.targets.t.schedule]
run_timeout = "{HANG_TIMEOUT_S}s"
backoff_initial = "1m"

[tenants.ok]
name = "Bestuur dat antwoordt"
school_year = "{YEAR}"

[tenants.ok.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.ok.targets.t]
kind = "fake"
path = "ok.json"
{SLOW}

[service]
workers = {workers}
""", encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def bestuur() -> Bestuur:
    return generate(students=40, schools=1, year=YEAR, seed=11)


@pytest.fixture
def las():
    server = SilentLas()
    try:
        yield server
    finally:
        server.close()


def _sync(service: Service, tenant: str) -> RunRequest:
    return service.queue.enqueue(tenant, "t", kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="beheerder")


def _status(service: Service, request: RunRequest) -> RequestStatus:
    found = service.queue.get(request.id)
    assert found is not None
    return found.status


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _seconds(request: RunRequest) -> float:
    assert request.started_at and request.finished_at
    return (parse_iso(request.finished_at) - parse_iso(request.started_at)).total_seconds()


def test_the_hanging_tenant_is_cut_off_at_its_own_timeout_while_the_other_tenant_s_run_completes(
        tmp_path, bestuur, las):
    service = Service.open(_config(tmp_path, bestuur, las.port, workers=2), env={KEY_ENV: "sleutel"})
    key = ("hangs", "t")
    try:
        service.scheduler.start_thread()
        hangs, ok = _sync(service, "hangs"), _sync(service, "ok")
        service.scheduler.wake()
        _wait_for(lambda: _status(service, hangs) is RequestStatus.FAILED, timeout=30)
        assert _status(service, ok) is RequestStatus.RUNNING  # the other tenant's run goes on meanwhile
        cut = service.queue.get(hangs.id)
        assert cut is not None and cut.message == (f"timed out after {HANG_TIMEOUT_S} s: the run did not end (the "
                                                   "source or the target does not answer)")
        # asked to stop at 2 s, given min(30 s, 2 s) to do so, then left behind
        assert 2 * HANG_TIMEOUT_S <= _seconds(cut) < 2 * HANG_TIMEOUT_S + 5, _seconds(cut)
        assert service.scheduler.runner is not None and service.scheduler.runner.hanging(key) is not None

        _wait_for(lambda: _status(service, ok) is RequestStatus.DONE, timeout=120)
        done = service.queue.get(ok.id)
        assert done is not None and done.run_id is not None
        assert _seconds(done) > 2 * HANG_TIMEOUT_S  # longer than the other's limit: that one is not this one's
        assert service.koppel.store.run(done.run_id).status == "succeeded"

        # the hanging tenant's own backoff (1 minute); the other has none
        held = service.queue.backoff_of(*key)
        assert held is not None and held.failures == 1
        assert held.until == parse_iso(cut.finished_at or "") + dt.timedelta(minutes=1)
        assert service.queue.backoff_of("ok", "t") is None

        # while its thread hangs, a new run of that target fails at once instead of hanging a second worker
        again = _sync(service, "hangs")
        service.scheduler.wake()
        _wait_for(lambda: _status(service, again) is RequestStatus.FAILED, timeout=10)
        refused = service.queue.get(again.id)
        assert refused is not None
        assert refused.message == f"timed out: the run of request {hangs.id} still hangs in this process"
        # the dashboard says both in Dutch
        nl = Translator("nl")
        assert nl.say(cut.message) == (f"tijd verstreken na {HANG_TIMEOUT_S} s: de synchronisatie eindigde niet (de "
                                       "bron of het doelsysteem antwoordt niet)")
        assert nl.say(refused.message) == f"tijd verstreken: de synchronisatie van verzoek {hangs.id} hangt nog in dit proces"

        # the LAS hangs up: the thread ends, and the next run of the target is a run again
        las.close()
        _wait_for(lambda: service.scheduler.runner.hanging(key) is None, timeout=30)  # type: ignore[union-attr]
        _wait_for(lambda: not service.scheduler.busy(), timeout=30)
        assert service.queue.get(hangs.id).message == cut.message  # type: ignore[union-attr]  # not overwritten
        last = _sync(service, "hangs")
        service.scheduler.wake()
        _wait_for(lambda: _status(service, last) is RequestStatus.FAILED, timeout=30)
        ran = service.queue.get(last.id)
        assert ran is not None and ran.run_id is not None and "still hangs" not in (ran.message or "")
    finally:
        service.close()


def test_with_one_worker_a_hanging_run_frees_it_after_its_timeout(tmp_path, bestuur, las):
    service = Service.open(_config(tmp_path, bestuur, las.port, workers=1), env={KEY_ENV: "sleutel"})
    try:
        service.scheduler.start_thread()
        hangs = _sync(service, "hangs")
        service.scheduler.wake()
        _wait_for(lambda: _status(service, hangs) is RequestStatus.RUNNING, timeout=10)
        ok = _sync(service, "ok")  # waits for the only worker
        service.scheduler.wake()
        asked = time.monotonic()
        _wait_for(lambda: _status(service, ok) is RequestStatus.DONE, timeout=120)
        waited = time.monotonic() - asked
        assert _status(service, hangs) is RequestStatus.FAILED
        # the worker was free again after the hanging run's timeout and grace, while its thread still hangs
        assert service.scheduler.runner is not None and service.scheduler.runner.hanging(("hangs", "t")) is not None
        ok_run = service.queue.get(ok.id)
        assert ok_run is not None and ok_run.started_at is not None
        started_after = (parse_iso(ok_run.started_at) - parse_iso(service.queue.get(hangs.id).started_at or "")  # type: ignore[union-attr]
                         ).total_seconds()
        assert 2 * HANG_TIMEOUT_S <= started_after < 2 * HANG_TIMEOUT_S + 5, started_after
        print(f"the other tenant's run started {started_after:.1f} s after the hanging one; done after {waited:.1f} s")
    finally:
        las.close()
        service.close()
