"""/metrics, /healthz and /readyz over real HTTP, on SQLite and on PostgreSQL (a private database per test).

Checked: no login is needed and none of the three says a secret; /metrics parses as Prometheus text and
has the families and the values the state holds after a sync, a held plan and a queued request —
counted once, also when a second scrape or a restarted service reads them again; who may read /metrics
follows ``[service.metrics] access``; /readyz answers 503 with a reason when the database is gone or the
job queue's tables are; a scrape at 200 tenants costs the same few queries as at one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, insert

from koppel.errors import ConfigError
from koppel.service import Service, create_app
from koppel.service import tables as st
from koppel.service.queue import RequestKind, Trigger
from koppel.state import schema as t
from tests.conftest import drop_database, fresh_database, need
from tests.service.conftest import (
    PASSWORD,
    TARGET,
    TENANT,
    USER,
    Running,
    Setup,
    config_text,
    make_history,
)

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database's URL."""
    with fresh_database("koppel_ops") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request) -> str:
    if request.param == "sqlite":
        return "sqlite:///koppel-state.db"
    return request.getfixturevalue("pg_database")


def _configure(setup: Setup, state_url: str, service: str = "") -> None:
    setup.config.write_text(config_text(state_url=state_url, service=service), encoding="utf-8")


def _scrape(running: Running, **headers: str) -> dict[str, dict[tuple, float]]:
    """name of every sample → {sorted label items: value}."""
    with running.client() as client:
        answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _value(samples: dict[str, dict[tuple, float]], name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


KEY = {"tenant": TENANT, "target": TARGET}


def test_metrics_after_a_sync_a_held_plan_and_a_queued_request(setup: Setup, state_url: str) -> None:
    _configure(setup, state_url)
    service = setup.open()
    try:
        plan_id = make_history(service, setup)  # a sync applied, then a sync held
        first = service.koppel.store.runs(TENANT, TARGET, limit=10)[-1]
        service.accounts.add_user(USER, PASSWORD)
        service.queue.enqueue(TENANT, TARGET, kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by=USER)
        created = sum(n for action, outcomes in first.summary["by_action"].items() if action == "create person"
                      for outcome, n in outcomes.items() if outcome in ("done", "warning"))
        assert created > 0
        with Running(service, run_scheduler=False) as running:
            with running.client() as client:  # no login, no cookie
                raw = client.get("/metrics").text
            for secret in (PASSWORD, "argon2", "password_hash", "Stichting Het Baken"):
                assert secret not in raw
            samples = _scrape(running)
            assert _value(samples, "koppel_state_up") == 1
            assert _value(samples, "koppel_runs_total", **KEY, kind="sync", result="succeeded") == 1
            assert _value(samples, "koppel_runs_total", **KEY, kind="sync", result="held") == 1
            assert _value(samples, "koppel_run_duration_seconds_count", **KEY) == 1  # the held one is not timed
            assert _value(samples, "koppel_run_duration_seconds_bucket", **KEY, le="+Inf") == 1
            assert _value(samples, "koppel_run_phase_seconds_count", **KEY, phase="apply") == 1
            assert _value(samples, "koppel_run_phase_seconds_sum", **KEY, phase="apply") == pytest.approx(
                first.summary["seconds"], abs=0.01)
            assert _value(samples, "koppel_objects_changed_total", **KEY, action="create", kind="person") == created
            assert _value(samples, "koppel_plans_held", **KEY) == 1
            assert _value(samples, "koppel_plan_held_oldest_age_seconds", **KEY) >= 0
            assert _value(samples, "koppel_queue_requests", **KEY, status="queued") == 1
            assert _value(samples, "koppel_queue_oldest_age_seconds", source="run_requests") >= 0
            finished = service.koppel.store.run(first.id).finished_at
            from koppel.service.clock import parse_iso

            assert _value(samples, "koppel_last_success_timestamp_seconds", **KEY) == parse_iso(finished).timestamp()
            assert "process_resident_memory_bytes" in samples

            # A second scrape counts nothing twice; a new run is counted once.
            assert _scrape(running)["koppel_runs_total"] == samples["koppel_runs_total"]
            service.koppel.sync(TENANT, TARGET, trigger="schedule")  # held again: the same plan, still one held
            again = _scrape(running)
            assert _value(again, "koppel_runs_total", **KEY, kind="sync", result="held") == 2
            assert _value(again, "koppel_runs_total", **KEY, kind="sync", result="succeeded") == 1
            assert _value(again, "koppel_plans_held", **KEY) == 1
            assert service.koppel.store.plan_record(plan_id).status == "held"
        # A restarted service (a new app, a new collector) reads the same numbers from the state.
        with Running(service, run_scheduler=False) as restarted:
            after = _scrape(restarted)
        for name in ("koppel_runs_total", "koppel_objects_changed_total", "koppel_run_duration_seconds_count",
                     "koppel_last_success_timestamp_seconds", "koppel_plans_held", "koppel_queue_requests"):
            assert after[name] == again[name], name
    finally:
        service.close()


def test_metrics_access_follows_the_setting(setup: Setup) -> None:
    # local (the default): a request that came through a proxy is refused, whatever its socket says.
    service = setup.open()
    try:
        with Running(service, run_scheduler=False) as running, running.client() as client:
            assert client.get("/metrics").status_code == 200
            refused = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
            assert refused.status_code == 403 and "koppel_" not in refused.text and TENANT not in refused.text
            assert client.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 403
    finally:
        service.close()

    _configure(setup, "sqlite:///koppel-state.db",
               '[service.metrics]\naccess = "token"\ntoken_env = "KOPPEL_METRICS_TOKEN"\n')
    service = setup.open(env={"KOPPEL_METRICS_TOKEN": TOKEN})
    try:
        with Running(service, run_scheduler=False) as running, running.client() as client:
            missing = client.get("/metrics")
            assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
            assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
            good = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}",
                                                   "X-Forwarded-For": "203.0.113.9"})
            assert good.status_code == 200 and "koppel_state_up 1.0" in good.text
            assert TOKEN not in good.text
            for path in ("/healthz", "/readyz"):  # never behind the token
                assert client.get(path).status_code == 200
    finally:
        service.close()

    # The token's variable unset: the app is not made (koppel serve stops before it listens).
    service = setup.open(env={})
    try:
        with pytest.raises(ConfigError, match="KOPPEL_METRICS_TOKEN"):
            create_app(service, run_scheduler=False)
    finally:
        service.close()

    _configure(setup, "sqlite:///koppel-state.db", '[service.metrics]\naccess = "open"\n')
    service = setup.open()
    try:
        with Running(service, run_scheduler=False) as running, running.client() as client:
            assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
    finally:
        service.close()

    _configure(setup, "sqlite:///koppel-state.db", '[service.metrics]\naccess = "off"\n')
    service = setup.open()
    try:
        with Running(service, run_scheduler=False) as running, running.client() as client:
            assert client.get("/metrics").status_code == 404
            assert client.get("/healthz").json() == {"status": "ok"}
    finally:
        service.close()


def test_a_token_setting_without_a_token_names_the_file_and_line(setup: Setup) -> None:
    _configure(setup, "sqlite:///koppel-state.db", '[service.metrics]\naccess = "token"\n')
    with pytest.raises(ConfigError) as caught:
        setup.open()
    text = str(caught.value)
    assert "token_env or token_file" in text and str(setup.config) in text
    assert any(p.line is not None for p in caught.value.problems)
    assert not (setup.root / "koppel-state.db").exists()  # nothing was opened


def test_healthz_and_readyz_when_the_database_goes(setup: Setup, pg_database: str) -> None:
    _configure(setup, pg_database)
    service = setup.open()
    try:
        with Running(service, run_scheduler=False) as running, running.client() as client:
            for path in ("/healthz", "/readyz"):
                answer = client.get(path)
                assert answer.status_code == 200 and answer.json() == {"status": "ok"}, path
            drop_database(pg_database)
            down = client.get("/readyz")
            assert down.status_code == 503
            assert down.json() == {"status": "unavailable", "reason": "the state database does not answer"}
            assert pg_database.rsplit("/", 1)[1] not in down.text and "127.0.0.1" not in down.text
            assert client.get("/healthz").status_code == 200  # alive: no database asked
            metrics = _scrape(running)
            assert _value(metrics, "koppel_state_up") == 0
    finally:
        service.close()


def test_readyz_with_procrastinate_needs_its_tables(setup: Setup, pg_database: str) -> None:
    url = pg_database
    _configure(setup, url, 'engine = "procrastinate"\n')
    service = setup.open()
    try:
        service.queue.enqueue(TENANT, TARGET, kind=RequestKind.SYNC, trigger=Trigger.API, by="robot")
        with Running(service, run_scheduler=False) as running, running.client() as client:
            assert client.get("/readyz").status_code == 200
            samples = _scrape(running)
            assert _value(samples, "koppel_jobs", status="todo") == 1
            assert _value(samples, "koppel_jobs", status="doing") == 0
            assert _value(samples, "koppel_queue_oldest_age_seconds", source="procrastinate") >= 0
            assert _value(samples, "koppel_queue_requests", **KEY, status="queued") == 1
            with psycopg.connect(url.replace("+psycopg", "")) as conn:
                conn.execute("DROP TABLE procrastinate_jobs CASCADE")
            down = client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["reason"] == "the job queue's tables (procrastinate) are missing"
    finally:
        service.close()


def _many_tenants(service: Service, tenants: int, runs_each: int) -> None:
    """Rows as 200 tenants leave them: finished syncs with summaries, a held plan and a queued request each."""
    summary = ('{"status": "succeeded", "seconds": 1.5, "by_action": {"create person": {"done": 3}, '
               '"update membership": {"done": 2, "failed": 1}}}')
    runs, plans, requests = [], [], []
    for i in range(tenants):
        tenant = f"bestuur-{i:03d}"
        for j in range(runs_each):
            runs.append({"tenant": tenant, "target": "its", "kind": "sync", "trigger": "schedule",
                         "status": "succeeded" if j % 4 else "failed", "started_at": f"2026-01-01T00:{j % 60:02d}:00Z",
                         "finished_at": f"2026-01-01T{1 if j % 7 == 0 else 0:02d}:{j % 60:02d}:09Z",
                         "summary": summary})
        plans.append({"id": f"{i:032x}", "tenant": tenant, "target": "its", "created_at": "2026-01-01T00:00:00Z",
                      "status": "held", "lineage": "l", "serial": 1, "held": True, "body": b""})
        requests.append({"tenant": tenant, "target": "its", "kind": "sync", "trigger": "schedule",
                         "requested_at": "2026-01-01T00:00:00Z", "status": "queued"})
    with service.koppel.store.engine.begin() as conn:
        conn.execute(insert(t.runs), runs)
        conn.execute(insert(t.plans), plans)
        conn.execute(insert(st.run_requests), requests)


def test_a_scrape_at_200_tenants_is_a_few_grouped_queries(setup: Setup, state_url: str) -> None:
    _configure(setup, state_url)
    service = setup.open()
    try:
        _many_tenants(service, tenants=200, runs_each=20)
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(service.koppel.store.engine, "before_cursor_execute", count)
        with Running(service, run_scheduler=False) as running:
            timings = []
            for scrape in range(3):
                statements.clear()
                began = time.perf_counter()
                samples = _scrape(running)
                timings.append(time.perf_counter() - began)
                # the first adds the history up in the database (four grouped queries more)
                assert len(statements) <= (9 if scrape == 0 else 5), statements
        print(f"scrape at 200 tenants x 20 runs on {state_url.split(':')[0]}: first {timings[0] * 1000:.0f} ms, "
              f"then {timings[1] * 1000:.0f} and {timings[2] * 1000:.0f} ms, {len(statements)} queries")
        assert len(samples["koppel_plans_held"]) == 200
        assert sum(samples["koppel_runs_total"].values()) == 200 * 20
        assert _value(samples, "koppel_runs_total", tenant="bestuur-199", target="its", kind="sync",
                      result="failed") == 5
        assert _value(samples, "koppel_objects_changed_total", tenant="bestuur-007", target="its",
                      action="create", kind="person") == 60
        assert _value(samples, "koppel_objects_failed_total", tenant="bestuur-007", target="its") == 20
        assert sum(samples["koppel_queue_requests"].values()) == 200
        assert max(timings[1:]) < 3.0  # generous: the machine is shared; the query count is the real check
    finally:
        service.close()


def test_ops_endpoints_are_not_in_the_api_description(setup: Setup) -> None:
    service = setup.open()
    try:
        app = create_app(service, run_scheduler=False)
        paths = {getattr(r, "path", "") for r in app.routes if getattr(r, "include_in_schema", False)}
        assert not {"/metrics", "/healthz", "/readyz"} & paths
    finally:
        service.close()


def test_the_sqlite_database_file_gone_is_not_ready(setup: Setup, tmp_path: Path) -> None:
    service = setup.open()
    try:
        with Running(service, run_scheduler=False) as running, running.client() as client:
            assert client.get("/readyz").status_code == 200
            service.koppel.store.engine.dispose()
            (setup.root / "koppel-state.db").unlink()
            down = client.get("/readyz")
            assert down.status_code == 503 and down.json()["reason"] == "the state database does not answer"
    finally:
        service.close()


def test_a_run_committed_after_a_higher_one_is_still_counted(setup: Setup, pg_database: str) -> None:
    """On PostgreSQL a run's id is taken at its insert: a worker's run may become visible after a higher id."""
    url = pg_database
    _configure(setup, url)
    service = setup.open()
    row = ("INSERT INTO runs (tenant, target, kind, trigger, status, started_at, finished_at) VALUES "
           "('late', 'its', 'sync', 'schedule', 'succeeded', '2026-01-01T00:00:00Z', '2026-01-01T00:00:05Z')")
    plain = url.replace("+psycopg", "")
    try:
        with Running(service, run_scheduler=False) as running:
            assert not _scrape(running).get("koppel_runs_total")
            with psycopg.connect(plain) as slow, psycopg.connect(plain, autocommit=True) as fast:
                slow.execute(row)  # not committed yet: its id is the lower one
                fast.execute(row)
                early = _scrape(running)
                assert _value(early, "koppel_runs_total", tenant="late", target="its", kind="sync",
                              result="succeeded") == 1
                slow.commit()
            late = _scrape(running)
            assert _value(late, "koppel_runs_total", tenant="late", target="its", kind="sync", result="succeeded") == 2
            assert _value(_scrape(running), "koppel_runs_total", tenant="late", target="its", kind="sync",
                          result="succeeded") == 2
    finally:
        service.close()


def test_the_first_scrape_adds_up_the_history_as_the_later_ones_count_runs(setup: Setup, state_url: str) -> None:
    """The history below the newest 1,000 runs is added up by the database on the first scrape; it must make
    exactly the numbers that counting the same runs one by one makes."""
    from sqlalchemy import select

    from koppel.service.ops import StateCollector, _Tally

    _configure(setup, state_url)
    service = setup.open()
    try:
        make_history(service, setup)  # real runs with real summaries
        _many_tenants(service, tenants=60, runs_each=30)
        odd = [{"tenant": "odd", "target": "its", "kind": kind, "trigger": "cli", "status": status,
                "started_at": "2026-01-02T00:00:00Z", "finished_at": finished, "summary": summary}
               for kind, status, finished, summary in (
                   ("sync", "running", None, None), ("sync", "held", "2026-01-02T00:00:00Z", '{"plan": {}}'),
                   ("reconcile", "succeeded", "2026-01-02T00:00:04Z", None),
                   ("apply", "failed", "2026-01-02T00:10:00Z", None),
                   ("apply", "succeeded", "2026-01-02T00:00:05Z", '{"seconds": 5, "by_action": {"delete group": '
                    '{"done": 2, "failed": 1}, "odd": 3}}'))]
        with service.koppel.store.engine.begin() as conn:
            conn.execute(insert(t.runs), odd)
            conn.execute(insert(t.runs), [{**o, "tenant": "odd2"} for o in odd] * 700)  # past the lag window
        collector = StateCollector(service)
        bulk = collector._update()
        reference = _Tally()
        with service.koppel.store.engine.connect() as conn:
            for row in conn.execute(select(t.runs).where(t.runs.c.status != "running").order_by(t.runs.c.id)):
                reference.add(row)
        assert sum(bulk.runs.values()) > 2000 and bulk.runs == reference.runs
        assert bulk.changed == reference.changed and bulk.failed == reference.failed
        assert bulk.last_success == reference.last_success and bulk.last_finished == reference.last_finished
        assert len(bulk.running) == 1 + 700
        for name in ("duration", "phase"):
            mine, theirs = getattr(bulk, name), getattr(reference, name)
            assert mine.keys() == theirs.keys(), name
            for key in mine:
                assert mine[key].counts == theirs[key].counts, (name, key)
                assert mine[key].total == pytest.approx(theirs[key].total), (name, key)
    finally:
        service.close()


def _outward_address() -> str | None:
    """This machine's address on its network (not loopback), or None when it has none."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_local_metrics_refuse_a_client_from_the_network(setup: Setup) -> None:
    """Listening on every address (as a careless set-up would), a client that connects over the network is
    not local: its socket's address decides, with no proxy header involved."""
    import threading

    import httpx
    import uvicorn

    from tests.service.conftest import free_port

    address = _outward_address()
    if address is None:
        need("this machine has no network address besides loopback")
    service = setup.open()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service, run_scheduler=False), host="0.0.0.0", port=port,
                                           log_level="warning", access_log=False, proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        with httpx.Client(timeout=10) as client:
            assert client.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
            remote = client.get(f"http://{address}:{port}/metrics")
            assert remote.status_code == 403 and TENANT not in remote.text
            assert client.get(f"http://{address}:{port}/healthz").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        service.close()
