"""Benchmark: the initial load into the itslearning sandbox with 100 ms latency per request.

The itslearning sandbox runs in its own process (as itslearning runs elsewhere), with `--latency-ms`
100 and its default limits (50 objects a request, 10 in flight). koppel plans a generated school or
bestuur and applies it. Reported: objects per second, and that as a fraction of the window limit
(in-flight × batch ÷ latency = 10 × 50 ÷ 0.1 s = 5,000 objects/s); the resident memory of the
applying process sampled during the apply (it should stay flat); the sandbox's request counts.

    python bench/bench_apply_itslearning.py                  # 1,200 pupils in one school
    python bench/bench_apply_itslearning.py --students 60000 --schools 50
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process, or of another one (from /proc)."""
    if pid is None:
        usage = os.times()
        return usage.user + usage.system
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--schools", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--fake", action="store_true", help="the FakeTarget with the same latency and limits "
                        "instead of the sandbox: koppel's own side of the window, without the emulator's CPU")
    args = parser.parse_args()

    from koppel.cli.common import configure_logging
    from koppel.cli.init_config import render_config
    from koppel.config import load_config
    from koppel.generator import generate, write_layout
    from koppel.model import SchoolYear
    from koppel.pipeline import Koppel

    configure_logging("warning")  # as `koppel` does: a log line per request is not what is measured
    work = OUT / f"apply-{'fake' if args.fake else 'itslearning'}-{args.students}-{args.schools}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    bestuur = generate(students=args.students, schools=args.schools, year=SchoolYear(2025), seed=0)
    write_layout(bestuur, work / "export", "magister")

    port = free_port()
    env = {**os.environ, PASSWORD_ENV: "bench-password"}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "koppel.sandbox.itslearning", "--port", str(port), "--db", str(work / "sandbox.db"),
         "--latency-ms", str(args.latency_ms), "--password-env", PASSWORD_ENV, "--site-root", "bench-root",
         "--max-batch", str(args.batch), "--max-in-flight", str(args.in_flight)],
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
        config = render_config(source="export", layout="magister", target_kind="itslearning",
                               url=base + "/WCFServiceLibrary/ImsEnterpriseServicesPort.svc", username="koppel",
                               password_env=PASSWORD_ENV, tenant="bench", state="sqlite:///state.db",
                               site_root="bench-root", school_year="2025-2026")
        config = config.replace("batch_size = 50 ", f"batch_size = {args.batch} ").replace(
            "in_flight = 10 ", f"in_flight = {args.in_flight} ")
        if args.fake:
            config = render_config(source="export", layout="magister", target_kind="fake", url=None, username=None,
                                   password_env=None, tenant="bench", state="sqlite:///state.db",
                                   school_year="2025-2026")
            config = config.replace('path = "fake-target.json"', f"batch_size = {args.batch}\nin_flight = "
                                    f"{args.in_flight}\nlatency_ms = {args.latency_ms}")
        config += ("\n[tenants.bench.validation]\n" if "[tenants.bench.validation]" not in config else "")
        (work / "koppel.toml").write_text(config, encoding="utf-8")
        app = Koppel.open(load_config(work / "koppel.toml"), env=env)

        started = time.perf_counter()
        plan = app.plan(None, None).plan
        plan_s = time.perf_counter() - started
        total = len(plan.changes)
        samples: list[tuple[float, float]] = []
        marks = {int(total * f / 10) for f in range(1, 10)}

        def progress(done: int, _total: int) -> None:
            if marks and done >= min(marks):
                marks.discard(min(marks))
                samples.append((round(100 * done / total), round(rss_mib())))

        rss_before = rss_mib()
        cpu_koppel, cpu_sandbox = cpu_seconds(), cpu_seconds(sandbox.pid)
        started = time.perf_counter()
        result = app.apply(plan, progress=progress)
        apply_s = time.perf_counter() - started
        cpu_koppel, cpu_sandbox = cpu_seconds() - cpu_koppel, cpu_seconds(sandbox.pid) - cpu_sandbox
        stats = httpx.get(base + "/sandbox/api/stats", timeout=30).json()
    finally:
        sandbox.terminate()
        sandbox.wait(30)

    window = args.in_flight * args.batch / (args.latency_ms / 1000) if args.latency_ms else float("inf")
    rate = total / apply_s
    report = {
        "target": "fake" if args.fake else "itslearning sandbox",
        "students": len(bestuur.pupils), "schools": args.schools, "changes": total, "plan_s": round(plan_s, 1),
        "apply_s": round(apply_s, 1), "objects_per_s": round(rate), "window_limit_per_s": round(window) if args.latency_ms else None,
        "fraction_of_window": round(rate / window, 3) if args.latency_ms else None, "status": result.status, "requests": result.requests,
        "retries": result.retries, "cpu_s_koppel": round(cpu_koppel, 1), "cpu_s_sandbox": round(cpu_sandbox, 1),
        "rss_mib_before_apply": round(rss_before),
        "rss_mib_during_apply": samples, "sandbox": None if args.fake else {k: stats[k] for k in ("persons", "groups", "memberships", "writes")},
    }
    (work / "result.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0 if result.status == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
