"""Benchmark: a 1,200-pupil school into a real slapd, and the run after it that has nothing to do.

slapd runs as its own process (tests/target_ldap/slapd.py: mdb, ppolicy, the monitor backend, a test CA), reached
over StartTLS with the certificate verified, as a school would. Reported for the first sync: the changes applied,
the apply's wall time and objects/s, koppel's and slapd's CPU seconds, and the requests slapd completed by kind
(its monitor backend's counters: the server's own figures, not koppel's). Then two runs with nothing to do: the
plain ``koppel sync`` (the unchanged-input short cut) and ``sync --full`` (reads and plans everything again):
their write requests must be 0.

    python bench/bench_target_ldap.py                      # 1,200 pupils, slapd with dbnosync
    python bench/bench_target_ldap.py --durable            # slapd syncs every write to disk
    python bench/bench_target_ldap.py --students 300
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from koppel.cli.common import configure_logging
from koppel.config import load_config
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from tests.target_ldap.slapd import ADMIN_DN, ADMIN_PASSWORD, WRITE_OPERATIONS, Slapd

OUT = Path(__file__).parent / "out"
PASSWORD_ENV = "KOPPEL_BENCH_LDAP_PASSWORD"
YEAR = SchoolYear(2025)


def config(slapd: Slapd, base_dn: str) -> str:
    return f"""
[state]
url = "sqlite:///state.db"

[tenants.school]
name = "Benchschool"
school_year = "{YEAR}"

[tenants.school.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.school.targets.directory]
kind = "ldap"
url = "ldap://localhost:{slapd.ldap_port}"
start_tls = true
ca_file = "{slapd.ca_file}"
bind_dn = "{ADMIN_DN}"
password_env = "{PASSWORD_ENV}"
base_dn = "{base_dn}"
password_report_dir = "reports"
"""


def cpu(pid: int | None = None) -> float:
    if pid is None:
        usage = os.times()
        return usage.user + usage.system
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after) if after.get(k, 0) != before.get(k, 0)}


def run(students: int, durable: bool, root: Path) -> dict[str, Any]:
    slapd = Slapd(root / "slapd", durable=durable).start()
    try:
        base_dn = slapd.new_base()
        bestuur = generate(students=students, schools=1, year=YEAR, seed=7)
        write_layout(bestuur, root / "export", "magister")
        (root / "koppel.toml").write_text(config(slapd, base_dn), encoding="utf-8")
        app = Koppel.open(load_config(root / "koppel.toml"), env={PASSWORD_ENV: ADMIN_PASSWORD},
                          today=lambda: dt.date(2025, 10, 1))
        pid = slapd.process.pid if slapd.process else None

        t0 = time.perf_counter()
        plan = app.plan(None, None, record=True).plan
        planned = time.perf_counter() - t0
        ops0, cpu0, slapd_cpu0 = slapd.operations(), cpu(), cpu(pid)
        load0 = os.getloadavg()[0]
        t1 = time.perf_counter()
        result = app.apply(plan)
        applied = time.perf_counter() - t1
        ops1, cpu1, slapd_cpu1 = slapd.operations(), cpu(), cpu(pid)
        assert result.status == "succeeded", result.failures[:3]
        counts = plan.summary()
        first = {
            "changes": len(plan.changes), "by_action": counts, "plan_s": round(planned, 2),
            "apply_s": round(applied, 2), "objects_per_s": round(len(plan.changes) / applied, 1),
            "koppel_cpu_s": round(cpu1 - cpu0, 2), "slapd_cpu_s": round(slapd_cpu1 - slapd_cpu0, 2),
            "slapd_requests": delta(ops0, ops1),
            "slapd_writes": sum(delta(ops0, ops1).get(k, 0) for k in WRITE_OPERATIONS),
            "load_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)],  # 1-minute load average
        }

        quiet = {}
        for name, full in (("sync", False), ("sync --full", True)):
            before = slapd.operations()
            t = time.perf_counter()
            outcome = app.sync(None, None, full=full)
            seconds = time.perf_counter() - t
            got = delta(before, slapd.operations())
            quiet[name] = {"changes": len(outcome.plan.changes), "seconds": round(seconds, 2),
                           "slapd_requests": got, "writes": sum(got.get(k, 0) for k in WRITE_OPERATIONS)}
        app.store.close()
        return {"students": students, "durable": durable, "first_sync": first, "no_change": quiet,
                "note": "slapd_requests include one Bind, Search and Unbind per reading of the monitor's counters"}
    finally:
        slapd.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--durable", action="store_true", help="slapd without dbnosync")
    args = parser.parse_args()
    configure_logging("warning")
    root = Path(tempfile.mkdtemp(prefix="bench-ldap-"))
    try:
        figures = run(args.students, args.durable, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_target_ldap.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
