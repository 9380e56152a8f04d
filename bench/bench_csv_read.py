"""Benchmark: read generated Magister exports of 1k, 10k and 60k pupils into a Roster.

The exports are generated once and cached under bench/out/ (git-ignored); delete that folder to
regenerate. Each size is read a few times and the best and median times are reported, with the
peak memory of one read (tracemalloc is off while timing, so it does not slow the timed runs).

    python bench/bench_csv_read.py            # all sizes
    python bench/bench_csv_read.py 60000      # one size
    python bench/bench_csv_read.py --layout koppel --validate
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import time
import tracemalloc
from pathlib import Path

from koppel.connectors import ConnectorContext
from koppel.generator import generate, write_layout
from koppel.model import SchoolYear
from koppel.sources.csv import CsvSource, CsvSourceSettings
from koppel.validation import validate

OUT = Path(__file__).parent / "out"
YEAR = SchoolYear(2025)
SIZES = {1_000: 1, 10_000: 8, 60_000: 50}  # pupils -> schools


def export(students: int, layout: str) -> Path:
    folder = OUT / f"{layout}-{students}-{SIZES[students]}-{YEAR.short}"
    marker = folder / ".complete"
    if not marker.exists():
        started = time.perf_counter()
        bestuur = generate(students=students, schools=SIZES[students], year=YEAR, seed=0)
        write_layout(bestuur, folder, layout)  # type: ignore[arg-type]
        marker.write_text(f"{bestuur.counts()}\n", encoding="utf-8")
        print(f"  generated {folder.name} in {time.perf_counter() - started:.1f}s")
    return folder


def source(folder: Path, layout: str) -> CsvSource:
    return CsvSource(
        "las",
        CsvSourceSettings(path=str(folder), layout=layout),
        ConnectorContext(tenant="bench"),
        today=lambda: dt.date(2025, 10, 1),
    )


def bench(students: int, layout: str, runs: int, with_validation: bool) -> None:
    folder = export(students, layout)
    reader = source(folder, layout)
    times, checks = [], []
    roster = None
    for _ in range(runs):
        del roster
        gc.collect()
        started = time.perf_counter()
        roster = reader.read()
        times.append(time.perf_counter() - started)
        if with_validation:
            started = time.perf_counter()
            validate(roster)
            checks.append(time.perf_counter() - started)
    assert roster is not None
    counts = roster.counts()
    del roster
    gc.collect()
    tracemalloc.start()
    reader.read()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    line = (
        f"{students:>7,} pupils {SIZES[students]:>2} schools  {counts['persons']:>7,} persons "
        f"{counts['groups']:>7,} groups {counts['memberships']:>9,} memberships  "
        f"read best {min(times):5.2f}s median {statistics.median(times):5.2f}s  peak {peak / 2**20:5.0f} MB"
    )
    if checks:
        line += f"  validate median {statistics.median(checks):5.2f}s"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sizes", nargs="*", type=int, help=f"pupils: any of {', '.join(map(str, SIZES))} (default all)"
    )
    parser.add_argument("--layout", default="magister", choices=["magister", "somtoday", "koppel"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--validate", action="store_true", help="also time validate() on the roster")
    args = parser.parse_args()
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose from {list(SIZES)}")
    print(f"koppel CSV read benchmark, layout {args.layout}, {args.runs} runs per size")
    for students in args.sizes or list(SIZES):
        bench(students, args.layout, args.runs, args.validate)


if __name__ == "__main__":
    main()
