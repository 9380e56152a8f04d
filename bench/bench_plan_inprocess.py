"""Benchmark: the cold plan of bench_plan.py split in its two halves, in process and in CPU seconds.

`Koppel.plan` (read, state, rules, diff, plan: the wiring) and `render_text` (the text `koppel plan` prints)
are timed apart with ``time.process_time``, so other processes on the machine disturb the figures less than
bench_plan.py's wall clock. Used to compare two trees of koppel (issue 11's before and after):

    PYTHONPATH=/path/to/tree/src python bench/bench_plan_inprocess.py 10000

Prints one JSON line. The export is bench_plan.py's (generated into bench/out/ when missing); the state is an
empty SQLite file in a new temporary folder, as for bench_plan.py's cold plan.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_plan  # the export and the configuration of the plan benchmark


def main() -> int:
    import koppel
    from koppel.config import load_config
    from koppel.pipeline import Koppel
    from koppel.plan.render import render_text

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    export = bench_plan.export(size)
    work = Path(tempfile.mkdtemp(prefix="koppel-bench-"))
    (work / "koppel.toml").write_text(bench_plan.CONFIG.format(export=export.resolve()), encoding="utf-8")
    app = Koppel.open(load_config(work / "koppel.toml"))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outcome = app.plan("bench", None)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    render_text(outcome.plan, limit=50, school_names=dict(outcome.schools))
    cpu2, wall2 = time.process_time(), time.perf_counter()
    print(json.dumps({"tree": str(Path(koppel.__file__).parents[2]), "pupils": size,
                      "changes": len(outcome.plan.changes),
                      "plan_cpu_s": round(cpu1 - cpu0, 3), "plan_wall_s": round(wall1 - wall0, 3),
                      "render_cpu_s": round(cpu2 - cpu1, 3), "render_wall_s": round(wall2 - wall1, 3),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}), flush=True)
    os._exit(0)  # no teardown of a large plan (as the console script)


if __name__ == "__main__":
    raise SystemExit(main())
