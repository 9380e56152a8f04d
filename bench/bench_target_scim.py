"""Benchmark: the first sync of a 1,200-pupil school into a real SCIM server, and the run after it with nothing to do.

The server is ``scim2-server`` (python-scim's in-memory SCIM 2.0 server) in its own process, as the tests start it
(``tests/target_scim/server.py``). Requests are counted from the server's own access log, per method, so the
count is what the server received. koppel runs in this process through its public API (``Koppel.sync``) on a
generated school exported as Magister CSV, with the scim target's defaults (16 operations in flight, adaptive).

Reported: the first sync's objects (changes applied) per second of apply, its requests per method, the CPU
seconds of koppel and of the server; the no-change run's requests per method (writes must be 0).

    python bench/bench_target_scim.py                    # 1,200 pupils
    python bench/bench_target_scim.py --students 300
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from koppel.cli.common import configure_logging  # noqa: E402
from koppel.config import load_config  # noqa: E402
from koppel.generator import generate, write_layout  # noqa: E402
from koppel.model.roster import SchoolYear  # noqa: E402
from koppel.pipeline import Koppel  # noqa: E402
from tests.target_scim.server import TOKEN, start_server  # noqa: E402

OUT = Path(__file__).parent / "out"
TOKEN_ENV = "KOPPEL_BENCH_SCIM_TOKEN"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
LINE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE) /(\w+)/v2/')


def cpu_seconds(pid: int | None = None) -> float:
    if pid is None:
        usage = os.times()
        return usage.user + usage.system
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests(log: Path, tenant: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for match in LINE.finditer(log.read_text(errors="replace")):
        if match.group(2) == tenant:
            counts[match.group(1)] += 1
    return counts


def config(url: str) -> str:
    return f"""
[state]
url = "sqlite:///state.db"
[tenants.school]
name = "Benchschool"
school_year = "2025-2026"
[tenants.school.validation]
max_errors = 0
[tenants.school.sources.las]
kind = "csv"
layout = "magister"
path = "export"
[tenants.school.targets.apps]
kind = "scim"
url = "{url}"
token_env = "{TOKEN_ENV}"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    configure_logging("warning")
    work = Path(tempfile.mkdtemp(prefix="bench-scim-"))
    server = start_server(work)
    try:
        tenant = "bench"
        bestuur = generate(students=args.students, schools=1, year=SchoolYear(2025), seed=args.seed)
        write_layout(bestuur, work / "export", "magister")
        (work / "koppel.toml").write_text(config(server.tenant(tenant).url), encoding="utf-8")
        app = Koppel.open(load_config(work / "koppel.toml"), env={TOKEN_ENV: TOKEN})
        log = server.log_path

        plan = app.plan(None, None).plan
        objects = Counter(c.kind.value for c in plan.changes)
        koppel_cpu, server_cpu = cpu_seconds(), cpu_seconds(server.process.pid)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        result = app.apply(plan)
        seconds = time.perf_counter() - started
        assert result.status == "succeeded", result.failures[:3]
        first = {
            "objects": dict(objects), "total": sum(objects.values()), "apply_s": round(seconds, 2),
            "objects_per_s": round(sum(objects.values()) / seconds, 1),
            "requests": dict(requests(log, tenant)),
            "koppel_cpu_s": round(cpu_seconds() - koppel_cpu, 2),
            "server_cpu_s": round(cpu_seconds(server.process.pid) - server_cpu, 2),
            "load_before_after": [round(load, 2), round(os.getloadavg()[0], 2)],  # 1-minute load average
        }
        before = requests(log, tenant)
        quiet = app.sync(None, None)
        assert quiet.plan.empty, quiet.plan.summary()
        nochange = dict(requests(log, tenant) - before)
        report = {"students": args.students, "persons": objects.get("person", 0), "first_sync": first,
                  "no_change_run": {"requests": nochange, "writes": sum(n for m, n in nochange.items() if m in WRITES)}}
        app.store.close()
    finally:
        server.stop()
    print(json.dumps(report, indent=2))
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_target_scim.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
