"""Benchmark: the first load of a school into the itslearning sandbox, at 100 ms a request, within the
operations budget itslearning asks for — and what adapting to the server buys.

The sandbox runs in its own process (as itslearning runs elsewhere). Each scenario gets a fresh sandbox and
a fresh state; all run in one go, on the same generated school, so their figures compare (this machine's
speed drifts: compare ratios within one run, not seconds across days).

* ``default`` — koppel's defaults: a ceiling of 9 operations in flight (itslearning's "fewer than 10"),
  adaptive; the sandbox has ample capacity and refuses (HTTP 503) any request that would put more than 9
  operations in flight. Reported: objects/s as a fraction of what the ceiling allows (9 ÷ latency), the
  sandbox's peak of unprocessed operations.
* ``raised`` — the ceiling raised to 50 (as a school may agree with itslearning), adaptive, against a
  sandbox that processes only ``--capacity`` operations a second behind a queue and answers 503 when the
  queue is full. Reported: objects/s as a fraction of the capacity, the 503s in the first and the second
  half of the run (none after the limiter has settled).
* ``pinned`` — the same ceiling of 50 with ``adaptive = false``: what the limiter buys.
* ``old`` — koppel before the operations budget (``--old-src``: a checkout of commit e33a8a6, 10 requests
  × 50 objects in flight, no adapting), against the same capacity-limited sandbox.

    python bench/bench_apply_itslearning.py                                  # default, raised, pinned
    git worktree add /tmp/koppel-old e33a8a6
    python bench/bench_apply_itslearning.py --old-src /tmp/koppel-old/src    # and the old client
    python bench/bench_apply_itslearning.py --scenarios default --students 60000 --schools 50
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
from typing import Any

import httpx

OUT = Path(__file__).parent / "out"
PASSWORD_ENV = "KOPPEL_BENCH_ITSLEARNING_PASSWORD"
PASSWORD = "bench-password"
ROOT = "bench-root"


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


class Sandbox:
    def __init__(self, work: Path, latency_ms: float, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "koppel.sandbox.itslearning", "--port", str(self.port), "--db",
             str(work / "sandbox.db"), "--latency-ms", str(latency_ms), "--password-env", PASSWORD_ENV,
             "--site-root", ROOT, *extra],
            env={**os.environ, PASSWORD_ENV: PASSWORD}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                httpx.get(self.url + "/sandbox/api/stats", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the sandbox did not start")

    def stats(self) -> dict[str, Any]:
        return httpx.get(self.url + "/sandbox/api/stats", timeout=30).json()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def write_config(work: Path, url: str, target: str) -> None:
    from koppel.cli.init_config import render_config

    config = render_config(source="export", layout="magister", target_kind="itslearning", url=url,
                           username="koppel", password_env=PASSWORD_ENV, tenant="bench", state="sqlite:///state.db",
                           site_root=ROOT, school_year="2025-2026")
    lines = [line for line in config.splitlines()
             if not line.startswith(("max_operations_in_flight", "adaptive ", "batch_size"))]
    config = "\n".join(lines).replace('site_root = "bench-root"', f'site_root = "bench-root"\n{target}')
    (work / "koppel.toml").write_text(config + "\n", encoding="utf-8")


def run_new(name: str, work: Path, sandbox: Sandbox, target: str) -> dict[str, Any]:
    from koppel.config import load_config
    from koppel.pipeline import Koppel

    write_config(work, sandbox.url, target)
    app = Koppel.open(load_config(work / "koppel.toml"), env={**os.environ, PASSWORD_ENV: PASSWORD})
    plan = app.plan(None, None).plan
    total = len(plan.changes)
    half: dict[str, Any] = {}

    def progress(done: int, _total: int) -> None:
        if not half and done >= total // 2:
            half.update(sandbox.stats())

    cpu_koppel, cpu_sandbox = cpu_seconds(), cpu_seconds(sandbox.process.pid)
    started = time.perf_counter()
    result = app.apply(plan, progress=progress)
    seconds = time.perf_counter() - started
    cpu_koppel, cpu_sandbox = cpu_seconds() - cpu_koppel, cpu_seconds(sandbox.process.pid) - cpu_sandbox
    app.store.close()
    stats = sandbox.stats()
    return {"scenario": name, "objects": total, "status": result.status, "seconds": round(seconds, 1),
            "objects_per_s": round(total / seconds, 1), "requests": result.requests, "retries": result.retries,
            "load": result.load.to_json(), "cpu_s_koppel": round(cpu_koppel, 1),
            "cpu_s_sandbox": round(cpu_sandbox, 1), **sandbox_figures(stats, half)}


def run_old(work: Path, sandbox: Sandbox, old_src: Path) -> dict[str, Any]:
    """The client before the operations budget, as its own process: `koppel sync` with its defaults."""
    env = {**os.environ, PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(old_src)}
    subprocess.run([sys.executable, "-c", (
        "from koppel.cli.init_config import render_config; import pathlib; pathlib.Path('koppel.toml').write_text("
        "render_config(source='export', layout='magister', target_kind='itslearning', "
        f"url='{sandbox.url}/WCFServiceLibrary/ImsEnterpriseServicesPort.svc', username='koppel', "
        f"password_env='{PASSWORD_ENV}', tenant='bench', state='sqlite:///state.db', site_root='{ROOT}', "
        "school_year='2025-2026'))")], cwd=work, env=env, check=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "koppel", "sync", "--format", "json"], cwd=work, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    try:
        result = json.loads(done.stdout[done.stdout.index("{"):])
    except ValueError:
        result = {"status": f"exit {done.returncode}: {done.stderr[-300:]}"}
    outcomes = result.get("outcomes", {})
    landed = outcomes.get("done", 0) + outcomes.get("warning", 0)
    stats = sandbox.stats()
    return {"scenario": "old", "objects": sum(outcomes.values()) or None, "landed": landed,
            "failed": outcomes.get("failed", 0) + outcomes.get("skipped", 0), "status": result.get("status"),
            "seconds": round(seconds, 1), "objects_per_s": round(landed / seconds, 1) if landed else None,
            "requests": result.get("requests"), "retries": result.get("retries"), **sandbox_figures(stats, {})}


def sandbox_figures(stats: dict[str, Any], half: dict[str, Any]) -> dict[str, Any]:
    flight = stats["operations_in_flight"]
    out = {"sandbox_peak_operations": flight["peak"], "sandbox_p95_operations": flight["p95"],
           "http_503": stats["http_503"], "sandbox_objects": {k: stats[k] for k in ("persons", "groups", "memberships")}}
    if half:
        out["http_503_first_half"] = half["http_503"]
        out["http_503_second_half"] = stats["http_503"] - half["http_503"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--schools", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--capacity", type=float, default=200.0, help="operations/s of the sandbox in raised, "
                        "pinned and old (default 200)")
    parser.add_argument("--queue-limit", type=int, default=100, help="operations the capacity-limited sandbox "
                        "queues before it answers 503 (default 100, the sandbox's default)")
    parser.add_argument("--scenarios", default="default,raised,pinned", help="comma-separated; add 'old' with "
                        "--old-src")
    parser.add_argument("--old-src", type=Path, help="src/ of a checkout of koppel before the operations budget")
    args = parser.parse_args()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if args.old_src and "old" not in scenarios:
        scenarios.append("old")

    from koppel.cli.common import configure_logging
    from koppel.generator import generate, write_layout
    from koppel.model import SchoolYear

    configure_logging("warning")
    bestuur = generate(students=args.students, schools=args.schools, year=SchoolYear(2025), seed=0)
    capacity = ["--capacity", str(args.capacity), "--queue-limit", str(args.queue_limit)]
    reports = []
    for name in scenarios:
        work = OUT / f"apply-{name}-{args.students}-{args.schools}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        write_layout(bestuur, work / "export", "magister")
        if name == "default":
            sandbox = Sandbox(work, args.latency_ms, "--max-operations-in-flight", "9")
        else:
            sandbox = Sandbox(work, args.latency_ms, *capacity)
        try:
            if name == "default":
                report = run_new(name, work, sandbox, "max_operations_in_flight = 9")
                report["allowed_per_s"] = round(9 / (args.latency_ms / 1000), 1)
            elif name == "raised":
                report = run_new(name, work, sandbox, "max_operations_in_flight = 50")
                report["allowed_per_s"] = args.capacity
            elif name == "pinned":
                report = run_new(name, work, sandbox, "max_operations_in_flight = 50\nadaptive = false")
                report["allowed_per_s"] = args.capacity
            elif name == "old":
                if not args.old_src:
                    raise SystemExit("the old scenario needs --old-src")
                report = run_old(work, sandbox, args.old_src)
                report["allowed_per_s"] = args.capacity
            else:
                raise SystemExit(f"unknown scenario {name}")
        finally:
            sandbox.stop()
        if report.get("objects_per_s"):
            report["fraction_of_allowed"] = round(report["objects_per_s"] / report["allowed_per_s"], 3)
        reports.append(report)
        print(json.dumps(report), flush=True)
    (OUT / f"apply-itslearning-{args.students}-q{args.queue_limit}.json").write_text(json.dumps(reports, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
