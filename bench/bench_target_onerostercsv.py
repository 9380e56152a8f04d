"""Benchmark: the oneroster-csv target publishing a bestuur (issue 14): the first publication of the whole
bestuur, the publication alone, and a one-pupil change — in bulk and in delta mode.

For each size (60,000 pupils in 50 schools by default; the Magister export of bench_plan.py, made once in
bench/out/) and each mode it measures, each in a fresh process (wall clock and that process's peak RSS, as
bench_plan.timed does):

* **baseline** — ``koppel sync`` of the whole bestuur to the FakeTarget (in memory): plan and apply without a
  file, the yardstick the figures below are divided by;
* **first sync** — ``koppel sync`` of the whole bestuur to the oneroster-csv target: read, plan, stage a
  million changes, write the zip and the mirror (``out/.koppel/oneroster.db``, SQLite rows); the zip's size.
  A delta target's first publication is a bulk zip all the same, so when bulk ran first in the same invocation
  the delta run starts from a copy of the bulk run's state and folder instead of syncing again
  (``--first-sync-per-mode`` syncs each mode);
* **publication alone** — a process that opens the mirror and writes the whole bulk zip again (what a
  publication costs without the plan): seconds, peak RSS, rows per second; the rows are streamed from the
  mirror while the zip is written, and reading every row alone is timed after it;
* **one pupil moved** — ``koppel sync`` of the export with one pupil in another klas, on a copy of the state
  and folder after the first sync: in bulk mode the whole zip is written again, in delta mode a zip of the
  changed rows.

It prints a table and writes bench/out/oneroster-csv-results.json.

    python bench/bench_target_onerostercsv.py                  # 60k, 1.1, bulk and delta
    python bench/bench_target_onerostercsv.py --sizes 1000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_nochange import changed_export
from bench_plan import CONFIG, KOPPEL, OUT, SIZES, export, timed

TARGET = """
[tenants.bench.targets.oneroster]
kind = "oneroster-csv"
folder = "out"
version = "{version}"
mode = "{mode}"
file_name = "{file_name}"

[tenants.bench.targets.oneroster.policy.guards]
max_count = 100000000
max_percent = 100.0
hold_jaarovergang = false
"""

REPUBLISH = r"""
import json, os, resource, sys, time
from pathlib import Path
from koppel.targets.files import PublishedRoster
from koppel.targets.onerostercsv.mapping import MappingOptions
from koppel.targets.onerostercsv.tables import snapshot_rows
from koppel.targets.onerostercsv.package import write_package
import datetime as dt
mirror, out, version = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
roster = PublishedRoster.load(mirror)
t1 = time.perf_counter()
rows = snapshot_rows(roster.objects(), MappingOptions(version))
t2 = time.perf_counter()
with open(out, "wb") as fh:
    counts = write_package(fh, version, {n: ("bulk", ((s, "", "", b) for s, b in t)) for n, t in rows.items()},
                           system_name="koppel", moment=dt.datetime.now(dt.UTC))
t3 = time.perf_counter()
objects = sum(1 for _ in PublishedRoster.load(mirror).objects())
t4 = time.perf_counter()
print(json.dumps({"load_mirror_s": round(t1 - t0, 3), "rows_s": round(t2 - t1, 2), "zip_s": round(t3 - t2, 2),
                  "read_all_rows_alone_s": round(t4 - t3, 2), "rows": sum(counts.values()), "objects": objects,
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "load": round(os.getloadavg()[0], 1)}))
"""


def _config(export_dir: Path, target: str, version: str, mode: str) -> str:
    base = CONFIG.format(export=export_dir.resolve())
    if target == "fake":
        return base
    head = base.split("[tenants.bench.targets.fake]")[0]
    name = "oneroster.zip" if mode == "bulk" else "oneroster-{sequence:04d}.zip"
    return head + TARGET.format(version=version, mode=mode, file_name=name)


def _mib(path: Path) -> float:
    return round(path.stat().st_size / 2**20, 2)


def _summary(work: Path) -> list[str]:
    text = (work / "last-output.txt").read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.startswith(("Plan:", "Applied:"))]


def run(students: int, version: str, mode: str, baseline: dict | None, first_from: Path | None = None) -> dict:
    unchanged, moved = export(students), changed_export(students)
    work = OUT / f"oneroster-{students}-v{version.replace('.', 'p')}-{mode}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result: dict = {"pupils": students, "schools": SIZES[students], "version": version, "mode": mode}
    if baseline is None:
        (work / "koppel.toml").write_text(_config(unchanged, "fake", version, mode), encoding="utf-8")
        baseline = timed([*KOPPEL, "sync", "-c", "koppel.toml"], work)
        baseline["load"] = round(os.getloadavg()[0], 1)
        (work / "state.db").unlink()
    result["baseline_fake_sync"] = baseline
    (work / "koppel.toml").write_text(_config(unchanged, "oneroster", version, mode), encoding="utf-8")
    if first_from is not None:  # the bulk run's first publication (a delta target's first zip is a bulk too)
        shutil.copyfile(first_from / "state.first.db", work / "state.db")
        shutil.copytree(first_from / "out.first", work / "out")
        if mode == "delta" and (work / "out" / "oneroster.zip").exists():
            (work / "out" / "oneroster.zip").rename(work / "out" / "oneroster-0001.zip")
        first: dict = {"copied_from": first_from.name}
    else:
        first = timed([*KOPPEL, "sync", "-c", "koppel.toml"], work)
        first["load"] = round(os.getloadavg()[0], 1)
        if first["exit"] != 0:
            raise SystemExit(f"first sync failed: {(work / 'last-output.txt').read_text()[-2000:]}")
        first["summary"] = _summary(work)
        shutil.copyfile(work / "state.db", work / "state.first.db")
        shutil.copytree(work / "out", work / "out.first")
    zips = sorted((work / "out").glob("*.zip"))
    first["zip_mib"] = _mib(zips[-1])
    first["mirror_mib"] = _mib(work / "out" / ".koppel" / "oneroster.db")
    result["first_sync"] = first
    republish = timed([sys.executable, "-c", REPUBLISH, "out/.koppel/oneroster.db", "republished.zip", version], work)
    republish.update(json.loads((work / "last-output.txt").read_text().strip().splitlines()[-1]))
    republish["rows_per_s"] = round(republish["rows"] / max(republish["rows_s"] + republish["zip_s"], 1e-9))
    result["publication_alone"] = republish
    (work / "republished.zip").unlink()
    (work / "koppel.toml").write_text(_config(moved, "oneroster", version, mode), encoding="utf-8")
    one = timed([*KOPPEL, "sync", "-c", "koppel.toml"], work)
    one["load"] = round(os.getloadavg()[0], 1)
    if one["exit"] != 0:
        raise SystemExit(f"one-pupil sync failed: {(work / 'last-output.txt').read_text()[-2000:]}")
    one["summary"] = _summary(work)
    latest = sorted((work / "out").glob("*.zip"))[-1]
    one["zip_mib"] = _mib(latest)
    one["zip_bytes"] = latest.stat().st_size
    one["zips"] = len(list((work / "out").glob("*.zip")))
    result["one_pupil"] = one
    return result


def _table(results: list[dict]) -> str:
    lines = ["| pupils | version | mode | run | seconds | peak RSS MiB | zip | ÷ fake-target sync |",
             "|---:|---|---|---|---:|---:|---:|---:|"]
    for r in results:
        base = r["baseline_fake_sync"]["seconds"]
        for label, key in (("fake-target sync (baseline)", "baseline_fake_sync"), ("first sync", "first_sync"),
                           ("publication alone", "publication_alone"), ("one pupil moved: sync", "one_pupil")):
            m = r[key]
            size = f"{m['zip_mib']} MiB" if "zip_mib" in m else ""
            if "copied_from" in m:
                lines.append(f"| {r['pupils']:,} | {r['version']} | {r['mode']} | {label} | (the {m['copied_from']} "
                             f"run's) | | {size} | |")
                continue
            if key == "one_pupil" and r["mode"] == "delta":
                size = f"{m['zip_bytes']:,} B"
            lines.append(f"| {r['pupils']:,} | {r['version']} | {r['mode']} | {label} | {m['seconds']} | "
                         f"{m['peak_rss_mib']:,} | {size} | {m['seconds'] / base:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[60_000])
    parser.add_argument("--version", default="1.1", choices=["1.1", "1.2"])
    parser.add_argument("--modes", nargs="+", default=["bulk", "delta"], choices=["bulk", "delta"])
    parser.add_argument("--first-sync-per-mode", action="store_true",
                        help="a first sync for every mode (by default later modes copy the first mode's)")
    args = parser.parse_args()
    results = []
    for students in args.sizes:
        baseline, first_from = None, None
        for mode in args.modes:
            result = run(students, args.version, mode, baseline, first_from)
            baseline = result["baseline_fake_sync"]
            if not args.first_sync_per_mode and first_from is None:
                first_from = OUT / f"oneroster-{students}-v{args.version.replace('.', 'p')}-{mode}"
            results.append(result)
            print(json.dumps(result), flush=True)
    (OUT / "oneroster-csv-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(_table(results))


if __name__ == "__main__":
    main()
