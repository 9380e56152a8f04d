"""Benchmark: `koppel plan` on generated besturen of 1k, 10k and 60k pupils — cold, and after apply.

For each size it measures, each in a fresh process (wall clock and that process's peak RSS):

* **cold plan** — `koppel plan` with an empty state: everything is a create (and, separately, the same
  with `--out plan.json`, which also writes the million changes to a file);
* **apply** — `koppel apply plan.json` to the FakeTarget (the state store records every object);
* **warm plan** — `koppel plan` again: zero changes expected;
* **floor** — the time merely to read the same input files (every CSV row) and every state row
  (``SELECT`` of the objects table): no plan can be faster than reading its inputs.

It prints a table with the ratios plan ÷ floor and the cost per membership at each size (to see how
cost grows), and writes bench/out/plan-results.json. Exports are generated once into bench/out/.

    python bench/bench_plan.py                 # 1k, 10k, 60k
    python bench/bench_plan.py --sizes 1000    # one size
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
SIZES = {1_000: 1, 10_000: 8, 60_000: 50}  # pupils -> schools
KOPPEL = [sys.executable, "-m", "koppel"]

CONFIG_HEAD = """\
[state]
url = "sqlite:///state.db"

[tenants.bench]
name = "Bench bestuur"
school_year = "2025-2026"

[tenants.bench.validation]
max_errors = 1000000

[tenants.bench.sources.las]
kind = "csv"
layout = "magister"
path = "{export}"

"""
"""The bench bestuur's state, tenant and Magister export: the other benches add their target below it."""

CONFIG = CONFIG_HEAD + """\
[tenants.bench.targets.fake]
kind = "fake"
batch_size = 2000
max_operations_in_flight = 4000

[tenants.bench.targets.fake.policy.guards]
max_count = 100000000
max_percent = 100.0
hold_jaarovergang = false
"""


def export(students: int) -> Path:
    """The Magister export of this size (shared with bench_csv_read.py's cache)."""
    from koppel.generator import generate, write_layout
    from koppel.model import SchoolYear

    year = SchoolYear(2025)
    folder = OUT / f"magister-{students}-{SIZES[students]}-{year.short}"
    marker = folder / ".complete"
    if not marker.exists():
        bestuur = generate(students=students, schools=SIZES[students], year=year, seed=0)
        write_layout(bestuur, folder, "magister")
        marker.write_text(f"{bestuur.counts()}\n", encoding="utf-8")
    return folder


def timed(args: list[str], cwd: Path) -> dict:
    """Run a command; return its wall time, peak RSS (MiB, from wait4) and exit code."""
    started = time.perf_counter()
    with open(cwd / "last-output.txt", "wb") as sink:
        proc = subprocess.Popen(args, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024), "exit": code}


def _yes() -> list[str]:
    """``--yes`` when this koppel's ``apply`` asks before applying; a koppel from before that question (the tree
    before the issue 11 refactor, run with its ``src`` on PYTHONPATH) applies without asking and knows no --yes.
    Either way the same apply is measured."""
    helped = subprocess.run([*KOPPEL, "apply", "--help"], capture_output=True, text=True, check=True)
    return ["--yes"] if "--yes" in helped.stdout else []


def floor(export_dir: Path, state_db: Path) -> dict:
    """Seconds to read every input row and every state row, nothing more."""
    started = time.perf_counter()
    rows = 0
    for path in sorted(export_dir.rglob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for _ in csv.reader(fh, delimiter=";"):
                rows += 1
    files = time.perf_counter() - started
    started = time.perf_counter()
    state_rows = 0
    if state_db.exists():
        con = sqlite3.connect(state_db)
        for _ in con.execute("SELECT key, kind, status, fingerprint, school, label, target_id, absent_since, "
                             "delete_after, person_key, meta FROM objects"):
            state_rows += 1
        con.close()
    state = time.perf_counter() - started
    return {"files_s": round(files, 2), "input_rows": rows, "state_s": round(state, 2), "state_rows": state_rows,
            "seconds": round(files + state, 2)}


def plan_summary(cwd: Path) -> dict:
    text = (cwd / "last-output.txt").read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():
        if line.startswith("Plan:"):
            return {"summary": line}
    return {"summary": text[-300:]}


def run(students: int) -> dict:
    export_dir = export(students)
    work = OUT / f"plan-{students}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "koppel.toml").write_text(CONFIG.format(export=export_dir.resolve()), encoding="utf-8")
    result: dict = {"pupils": students, "schools": SIZES[students]}
    result["cold_floor"] = floor(export_dir, work / "state.db")
    result["cold_plan"] = timed([*KOPPEL, "plan", "-c", "koppel.toml"], work)
    result["cold_plan"].update(plan_summary(work))
    result["cold_plan_saved"] = timed([*KOPPEL, "plan", "-c", "koppel.toml", "--out", "plan.json"], work)
    result["cold_plan_saved"]["file_mib"] = round((work / "plan.json").stat().st_size / 2**20)
    result["apply"] = timed([*KOPPEL, "apply", "plan.json", *_yes(), "-c", "koppel.toml"], work)
    result["warm_floor"] = floor(export_dir, work / "state.db")
    result["warm_plan"] = timed([*KOPPEL, "plan", "-c", "koppel.toml"], work)
    result["warm_plan"].update(plan_summary(work))
    for phase in ("cold", "warm"):
        result[f"{phase}_ratio"] = round(result[f"{phase}_plan"]["seconds"] / max(result[f"{phase}_floor"]["seconds"], 0.01), 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,60000", help="pupil counts, comma-separated")
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"… {size:,} pupils", flush=True)
        results.append(run(size))
        r = results[-1]
        print(f"  cold plan {r['cold_plan']['seconds']}s / {r['cold_plan']['peak_rss_mib']} MiB "
              f"({r['cold_plan']['summary']}); with --out {r['cold_plan_saved']['seconds']}s / "
              f"{r['cold_plan_saved']['peak_rss_mib']} MiB ({r['cold_plan_saved']['file_mib']} MiB file); "
              f"apply {r['apply']['seconds']}s; warm plan "
              f"{r['warm_plan']['seconds']}s / {r['warm_plan']['peak_rss_mib']} MiB ({r['warm_plan']['summary']})",
              flush=True)
    (OUT / "plan-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print()
    print("| pupils | schools | cold plan s | peak MiB | floor s | ratio | warm plan s | peak MiB | floor s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['pupils']:,} | {r['schools']} | {r['cold_plan']['seconds']} | {r['cold_plan']['peak_rss_mib']} | "
              f"{r['cold_floor']['seconds']} | {r['cold_ratio']}× | {r['warm_plan']['seconds']} | "
              f"{r['warm_plan']['peak_rss_mib']} | {r['warm_floor']['seconds']} | {r['warm_ratio']}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
