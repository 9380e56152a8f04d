"""Benchmark (issue 13, "the common run must be cheap"): a no-change run and a one-pupil change against the
read floor, measured in the same run.

For each size (10,000 and 60,000 pupils by default) it prepares, once, in bench/out/nochange-<pupils>/:
the generated Magister export (``bench_plan.export``), a copy of it with one pupil moved to another klas
(``koppel.generator.mutate.move_pupil``) and a state into which the export's full plan was applied
(FakeTarget, SQLite). Then, three rounds, alternating within each round:

* **floor** — as ``bench_plan.floor`` defines it: read every export row (``csv.reader``) and every state
  row (``SELECT`` of the objects table), in this process, nothing built;
* **no-change sync** — ``koppel sync`` in a fresh process on the unchanged export, as cron or the service's
  schedule runs it: the unchanged-input short cut answers (the run is recorded as ``unchanged``);
* **no-change full plan** — ``koppel sync --full`` on the unchanged export (the short cut refused by hand):
  the whole plan of zero changes, what every scheduled run cost before;
* **one-pupil change** — ``koppel plan`` in a fresh process on the changed export against the same state
  (a preview: the state does not move, so every round measures the same change); one school folder changed,
  so it is planned school by school (``koppel.slices``) from the slices the round's syncs remembered;
* **warm plan** — ``koppel plan --full`` on the unchanged export, for comparison with bench_plan.py.

Every figure is a ratio to the floor of the same round; the table gives the median and the range of
three rounds, and ``uptime``'s load (the machine is shared). After the rounds, the one-change plan is saved
school by school and with ``--full``: the two files must be the same bytes.

    python bench/bench_nochange.py                 # 10k and 60k
    python bench/bench_nochange.py --sizes 10000 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_plan import CONFIG, KOPPEL, OUT, SIZES, export, floor, plan_summary, timed


def changed_export(students: int) -> Path:
    """The export with one pupil moved to another klas of the same school (the first pupil whose school has
    a second klas of the same leerjaar)."""
    from koppel.generator import generate, write_layout
    from koppel.generator.mutate import move_pupil
    from koppel.model import SchoolYear

    year = SchoolYear(2025)
    folder = OUT / f"magister-{students}-{SIZES[students]}-{year.short}-moved"
    marker = folder / ".complete"
    if not marker.exists():
        bestuur = generate(students=students, schools=SIZES[students], year=year, seed=0)
        pupil = bestuur.pupils[len(bestuur.pupils) // 2]
        other = next(k for k in bestuur.klassen if k.brin6 == pupil.brin6 and k.name != pupil.klas
                     and k.leerjaar == pupil.leerjaar)
        moved = move_pupil(bestuur, pupil.stamnr, other.name)
        write_layout(moved, folder, "magister")
        marker.write_text(f"{pupil.stamnr}: {pupil.klas} -> {other.name}\n", encoding="utf-8")
    return folder


def prepare(students: int) -> Path:
    """bench/out/nochange-<pupils>/ with a state that holds the export's whole plan (made once)."""
    work = OUT / f"nochange-{students}"
    pristine = work / "state.pristine.db"
    unchanged, moved = export(students), changed_export(students)
    if not pristine.exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "koppel.toml").write_text(CONFIG.format(export=unchanged.resolve()), encoding="utf-8")
        for step in (["plan", "--out", "plan.json"], ["apply", "plan.json", "--yes"]):
            result = timed([*KOPPEL, *step, "-c", "koppel.toml"], work)
            if result["exit"] != 0:
                raise SystemExit(f"{' '.join(step)} failed: {(work / 'last-output.txt').read_text()[-2000:]}")
        (work / "plan.json").unlink()
        shutil.copyfile(work / "state.db", pristine)
    (work / "koppel.toml").write_text(CONFIG.format(export=unchanged.resolve()), encoding="utf-8")
    (work / "moved.toml").write_text(CONFIG.format(export=moved.resolve()), encoding="utf-8")
    return work


def _fresh_state(work: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (work / f"state.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(work / "state.pristine.db", work / "state.db")


def _run(work: Path, args: list[str]) -> dict:
    result = timed([*KOPPEL, *args], work)
    result.update(plan_summary(work))
    text = (work / "last-output.txt").read_text(encoding="utf-8", errors="replace")
    result["shortcut"] = "unchanged" in text.lower() and "short cut" in text.lower()
    if result["exit"] not in (0, 2):
        raise SystemExit(f"koppel {' '.join(args)} failed: {text[-2000:]}")
    return result


def one_round(students: int, work: Path) -> dict:
    _fresh_state(work)
    unchanged = export(students)
    out: dict = {"load": os.getloadavg()[0]}
    # A first sync records the zero-change run the short cut compares with (a full plan: nothing recorded yet).
    out["first_sync"] = _run(work, ["sync", "-c", "koppel.toml"])
    out["floor"] = floor(unchanged, work / "state.db")
    out["nochange_sync"] = _run(work, ["sync", "-c", "koppel.toml"])
    out["nochange_full"] = _run(work, ["sync", "--full", "-c", "koppel.toml"])
    out["one_change_plan"] = _run(work, ["plan", "-c", "moved.toml"])
    out["warm_plan"] = _run(work, ["plan", "--full", "-c", "koppel.toml"])
    out["floor_after"] = floor(unchanged, work / "state.db")
    base = (out["floor"]["seconds"] + out["floor_after"]["seconds"]) / 2
    out["floor_s"] = round(base, 2)
    for name in ("nochange_sync", "nochange_full", "one_change_plan", "warm_plan"):
        out[name]["ratio"] = round(out[name]["seconds"] / max(base, 0.01), 2)
    return out


def same_plan(work: Path) -> dict:
    """The one-change plan saved school by school and with ``--full``: whether they are the same bytes, and
    whether the first was made school by school (its log says so)."""
    import hashlib

    _fresh_state(work)
    _run(work, ["sync", "-c", "koppel.toml"])  # remembers the digests and the slices, as in a round
    by_school = _run(work, ["-v", "plan", "-c", "moved.toml", "--out", "by-school.json"])
    text = (work / "last-output.txt").read_text(encoding="utf-8", errors="replace")
    _run(work, ["plan", "--full", "-c", "moved.toml", "--out", "full.json"])
    digests = {name: hashlib.md5((work / name).read_bytes()).hexdigest() for name in ("by-school.json", "full.json")}
    return {"equal": len(set(digests.values())) == 1, "md5": digests["full.json"],
            "school_by_school": "planning school by school" in text, "seconds": by_school["seconds"]}


def _cell(rounds: list[dict], name: str) -> str:
    secs = [r[name]["seconds"] for r in rounds]
    ratios = [r[name]["ratio"] for r in rounds]
    return (f"{statistics.median(secs):.2f} s ({min(secs):.2f}–{max(secs):.2f}) | "
            f"**{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,60000", help="pupil counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prepare-only", action="store_true", help="generate the exports and states, measure nothing")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    works = {}
    for size in sizes:
        started = time.perf_counter()
        works[size] = prepare(size)
        print(f"… {size:,} pupils prepared in {time.perf_counter() - started:.0f} s", flush=True)
    if args.prepare_only:
        return 0
    results: dict[int, list[dict]] = {size: [] for size in sizes}
    for n in range(args.rounds):
        for size in sizes:  # alternate the sizes within a round
            r = one_round(size, works[size])
            results[size].append(r)
            print(f"  round {n + 1}, {size:,} pupils (load {r['load']:.2f}): floor {r['floor_s']} s; "
                  + "; ".join(f"{k} {r[k]['seconds']} s = {r[k]['ratio']}× (short cut: {r[k]['shortcut']})"
                              for k in ("nochange_sync", "nochange_full", "one_change_plan", "warm_plan")),
                  flush=True)
    for size in sizes:
        results[size].append({"same_plan": same_plan(works[size])})
        print(f"  {size:,} pupils, one pupil moved: {results[size][-1]['same_plan']}", flush=True)
    (OUT / "nochange-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print()
    print("| pupils | floor s | run | seconds, median (range) | ÷ floor, median (range) |")
    print("|---:|---:|---|---:|---:|")
    labels = {"nochange_sync": "no-change `koppel sync` (short cut)",
              "nochange_full": "no-change `koppel sync --full`",
              "one_change_plan": "one pupil moved: `koppel plan`",
              "warm_plan": "warm `koppel plan --full`"}
    for size in sizes:
        rounds = results[size][:-1]
        floors = [r["floor_s"] for r in rounds]
        for name, label in labels.items():
            print(f"| {size:,} | {statistics.median(floors):.2f} | {label} | {_cell(rounds, name)} |")
    loads = [r["load"] for rs in results.values() for r in rs[:-1]]
    print(f"\nload average (1 min) at the rounds' start: {min(loads):.2f}–{max(loads):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
