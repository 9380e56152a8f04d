"""Benchmark: `koppel takeover` discovery of a site another koppeling filled, with 100 ms latency per request.

A generated school is pre-filled into the itslearning sandbox as an EduConnector-like koppeling would have
left it (``koppel.sandbox.itslearning.prefill``); the sandbox runs in its own process with `--latency-ms`
100 and its default limits. koppel then makes the takeover plan: the LAS read, the read-only walk of the
site (readAllPersons pages, readMembershipsForPerson per account, readGroups up to the site root; at most
9 requests in flight) and the matching. Reported: the requests and seconds of the discovery, the
seconds of the whole plan, and what it matched.

    python bench/bench_takeover.py                      # 1,200 pupils in one school
    python bench/bench_takeover.py --scheme guid --latency-ms 0
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

OUT = Path(__file__).parent / "out"
PASSWORD_ENV = "KOPPEL_BENCH_ITSLEARNING_PASSWORD"
TEMPLATES = {
    "educonnector": ('["EC_{brin}_{leerlingnummer}", "EC_{brin}_{docentcode}"]',
                     '["EC_{brin}", "EC_{brin}_{jaar}", "EC_{brin}_{klas}_{jaar}", "EC_{brin}_{lesgroep}_{jaar}"]'),
    "ims-e": ('["{leerlingnummer}", "{brin6}-{docentcode}"]',
              '["{brin6}", "{brin6}-{school_year_short}", "{brin6}-{groep}-{school_year_short}"]'),
    "guid": ("[]", "[]"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--schools", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--scheme", choices=sorted(TEMPLATES), default="educonnector")
    args = parser.parse_args()

    from koppel.cli.common import configure_logging
    from koppel.cli.init_config import render_config
    from koppel.config import load_config
    from koppel.generator import generate, write_layout
    from koppel.model import SchoolYear
    from koppel.pipeline import Koppel
    from koppel.sandbox.itslearning.prefill import prefill

    configure_logging("warning")
    work = OUT / f"takeover-{args.scheme}-{args.students}-{args.schools}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    bestuur = generate(students=args.students, schools=args.schools, year=SchoolYear(2025), seed=0)
    write_layout(bestuur, work / "export", "magister")
    filled = prefill(work / "sandbox.db", bestuur, args.scheme, site_root="bench-root")

    port = free_port()
    env = {**os.environ, PASSWORD_ENV: "bench-password"}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "koppel.sandbox.itslearning", "--port", str(port), "--db", str(work / "sandbox.db"),
         "--latency-ms", str(args.latency_ms), "--password-env", PASSWORD_ENV, "--site-root", "bench-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/sandbox/api/stats", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        persons, groups = TEMPLATES[args.scheme]
        config = render_config(source="export", layout="magister", target_kind="itslearning",
                               url=base + "/WCFServiceLibrary/ImsEnterpriseServicesPort.svc", username="koppel",
                               password_env=PASSWORD_ENV, tenant="bench", state="sqlite:///state.db",
                               site_root="bench-root", school_year="2025-2026")
        config += (f"\n[tenants.bench.targets.itslearning.takeover]\nperson_sync_ids = {persons}\n"
                   f"group_sync_ids = {groups}\n")
        (work / "koppel.toml").write_text(config, encoding="utf-8")
        app = Koppel.open(load_config(work / "koppel.toml"), env=env)
        before = httpx.get(base + "/sandbox/api/stats", timeout=30).json()
        started = time.perf_counter()
        plan = app.takeover(None, None).plan
        total_s = time.perf_counter() - started
        after = httpx.get(base + "/sandbox/api/stats", timeout=30).json()
    finally:
        sandbox.terminate()
        sandbox.wait(30)

    discovery = plan.discovery
    report = {
        "scheme": args.scheme, "students": len(bestuur.pupils), "schools": args.schools,
        "latency_ms": args.latency_ms,
        "site": {k: filled.to_json()[k] for k in ("persons", "groups", "courses", "memberships")},
        "discovery": {"requests": discovery["requests"], "seconds": discovery["seconds"],
                      "requests_per_s": round(discovery["requests"] / discovery["seconds"], 1),
                      "complete": discovery["complete"]},
        "sandbox_requests": {k: v - before["requests"].get(k, 0) for k, v in sorted(after["requests"].items())},
        "writes": after["writes"] - before["writes"],
        "takeover_plan_s": round(total_s, 2),
        "plan": {"id": plan.id, **plan.counts(), "stale": len(plan.stale), "ambiguous": len(plan.ambiguous),
                 "collisions": len(plan.collisions)},
    }
    (work / "result.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0 if discovery["complete"] and report["writes"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
