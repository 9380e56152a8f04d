"""Benchmark: every dashboard page and API call on the state of a 60,000-pupil bestuur.

The state is built the honest way, once, and cached under bench/out/dashboard-60000/ (git-ignored;
delete it to rebuild, about five minutes): the generated bestuur (60,000 pupils, 50 schools) is read
from its koppel-layout export and applied in full to a FakeTarget through ``Koppel.sync`` (about a
million objects and journal rows); then an export with every second pupil gone is planned, which the
guards hold (the plan the systeembeheerder must review); and 88 earlier nightly runs without
changes are recorded so the 90-day chart has a history.

Then `koppel serve`'s app runs under uvicorn on a free local port and each route is requested
``--repeat`` times after two warm-up requests, over HTTP with a logged-in session or a token. The
plan page is also timed cold (its first view parses the held plan). Budget: 300 ms per page and API
call, 100 ms for the person search, on this 2-core machine.

    python bench/bench_dashboard.py              # build (first time) and measure
    python bench/bench_dashboard.py --repeat 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import socket
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Self

import httpx
import uvicorn
from bench_csv_read import export  # this folder: the cached 60,000-pupil export

from koppel.generator import generate, write_layout
from koppel.model import SchoolYear
from koppel.service import Service, create_app
from koppel.service.stats import refresh_planner_statistics

OUT = Path(__file__).parent / "out" / "dashboard-60000"
YEAR = SchoolYear(2025)
USER, PASSWORD = "beheerder", "bench-password-123"
BUDGET_MS, SEARCH_BUDGET_MS = 300.0, 100.0

CONFIG = """
[state]
url = "sqlite:///koppel-state.db"

[tenants.bestuur]
name = "Bench bestuur (60,000 pupils, 50 schools)"
school_year = "2025-2026"

[tenants.bestuur.sources.las]
kind = "csv"
layout = "koppel"
path = "{export}"

[tenants.bestuur.targets.fake]
kind = "fake"
batch_size = 2000
max_operations_in_flight = 2000

[service]
secure_cookies = "never"
"""


def build() -> None:
    """Load the state once: full apply, a held plan with half the pupils gone, 88 nightly runs."""
    marker = OUT / ".complete"
    if marker.exists():
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for leftover in OUT.glob("koppel-state.db*"):
        leftover.unlink()
    full = export(60_000, "koppel")
    config = OUT / "koppel.toml"
    config.write_text(CONFIG.format(export=full), encoding="utf-8")
    service = Service.open(config, env={})
    try:
        started = time.perf_counter()
        first = service.koppel.sync("bestuur", "fake", trigger="cli")
        print(f"  full load: {len(first.plan.changes):,} changes applied in {time.perf_counter() - started:.0f}s")
        _nightly_history(service)
        half = OUT / "export-half"
        if not (half / ".complete").exists():
            bestuur = generate(students=60_000, schools=50, year=YEAR, seed=0)
            kept = tuple(p for i, p in enumerate(bestuur.pupils) if i % 2 == 0)
            keep = {p.stamnr for p in kept}
            groups = tuple(replace(g, pupils=tuple(s for s in g.pupils if s in keep)) for g in bestuur.lesgroepen)
            write_layout(replace(bestuur, pupils=kept, lesgroepen=groups), half, "koppel")
            (half / ".complete").write_text("ok\n", encoding="utf-8")
        config.write_text(CONFIG.format(export=half), encoding="utf-8")
        service.close()
        service = Service.open(config, env={})
        started = time.perf_counter()
        held = service.koppel.sync("bestuur", "fake", trigger="schedule")
        assert held.held
        print(f"  held plan {held.plan.id}: {len(held.plan.changes):,} changes, planned in "
              f"{time.perf_counter() - started:.0f}s")
        service.accounts.add_user(USER, PASSWORD)
        (OUT / "token").write_text(service.accounts.create_token("bench"), encoding="utf-8")
        service.scheduler._stats.backfill(since="2000-01-01T00:00:00Z", limit=1000)
        refresh_planner_statistics(service.koppel.store)
        marker.write_text(held.plan.id + "\n", encoding="utf-8")
    finally:
        service.close()


def _nightly_history(service: Service) -> None:
    """88 nightly runs without changes, as `koppel serve` records them on a quiet night."""
    store = service.koppel.store
    real_clock = store.clock
    today = dt.datetime.now(dt.UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    try:
        for days_back in range(88, 0, -1):
            store.clock = lambda d=days_back: today - dt.timedelta(days=d)
            run = store.begin_run("bestuur", "fake", kind="sync", trigger="schedule")
            store.finish_run(run, status="succeeded", summary={"status": "succeeded", "outcomes": {}})
    finally:
        store.clock = real_clock


class Served:
    """`koppel serve`'s app under uvicorn in a thread, on a free local port (no scheduler: nothing runs)."""

    def __init__(self, service: Service):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(service, run_scheduler=False), host="127.0.0.1",
                                                    port=port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def timed(client: httpx.Client, path: str, repeat: int) -> list[float]:
    for _ in range(2):
        client.get(path).raise_for_status()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print("koppel dashboard benchmark: 60,000 pupils, 50 schools")
    build()
    plan_id = (OUT / ".complete").read_text(encoding="utf-8").strip()
    token = (OUT / "token").read_text(encoding="utf-8").strip()
    service = Service.open(OUT / "koppel.toml", env={})
    store = service.koppel.store
    pupil = store.find_persons("bestuur", None, "jansen", limit=1)[0]
    number = pupil["meta"]["leerlingnummer"]
    run_id = store.runs("bestuur", "fake", limit=100)[-1].id  # the full load
    results = []
    with Served(service) as running:
        browser = running.client()
        page = browser.get("/login")
        browser.post("/login", data={"user": USER, "password": PASSWORD, "csrf": csrf_of(page.text)})
        api = running.client(headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        browser.get(f"/plans/{plan_id}").raise_for_status()
        cold = (time.perf_counter() - started) * 1000
        routes = [
            ("overview", "/", "/api/overview"),
            ("target", "/targets/bestuur/fake", "/api/targets/bestuur/fake"),
            ("target, one school", "/targets/bestuur/fake?school=" + pupil["school"],
             "/api/targets/bestuur/fake?school=" + pupil["school"]),
            ("plans", "/plans", "/api/plans"),
            ("held plan", f"/plans/{plan_id}", f"/api/plans/{plan_id}"),
            ("held plan, filtered", f"/plans/{plan_id}?action=suspend&school={pupil['school']}&page=2",
             f"/api/plans/{plan_id}?action=suspend&school={pupil['school']}&page=2"),
            ("runs", "/runs", "/api/runs"),
            ("run (full load)", f"/runs/{run_id}", f"/api/runs/{run_id}"),
            ("person search, name", "/persons?q=jansen", "/api/persons?q=jansen"),
            ("person search, leerlingnummer", f"/persons?q={number}", f"/api/persons?q={number}"),
            ("timeline", f"/persons/bestuur/{pupil['key']}", f"/api/persons/bestuur/{pupil['key']}"),
            ("data quality", "/quality", "/api/quality"),
            ("configuration", "/config", "/api/config"),
        ]
        print(f"\n{'route':<32}{'page median':>12}{'p95':>8}{'api median':>12}{'p95':>8}  budget")
        for name, page_path, api_path in routes:
            budget = SEARCH_BUDGET_MS if name.startswith("person search") else BUDGET_MS
            for kind, client, path in (("page", browser, page_path), ("api", api, api_path)):
                samples = sorted(timed(client, path, args.repeat))
                p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
                results.append({"route": name, "kind": kind, "path": path, "median_ms": statistics.median(samples),
                                "p95_ms": p95, "budget_ms": budget})
            page_r, api_r = results[-2], results[-1]
            ok = max(page_r["p95_ms"], api_r["p95_ms"]) <= budget
            print(f"{name:<32}{page_r['median_ms']:>10.1f}ms{page_r['p95_ms']:>6.1f}ms"
                  f"{api_r['median_ms']:>10.1f}ms{api_r['p95_ms']:>6.1f}ms  {budget:.0f} ms {'ok' if ok else 'OVER'}")
        print(f"\nheld plan page, first (cold) view: {cold:.0f} ms (parses the plan; later views come from the cache)")
    service.close()
    (OUT.parent / "dashboard-results.json").write_text(json.dumps({"cold_plan_ms": cold, "routes": results},
                                                                  indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
