"""Benchmark: parse UWLR answers of 1k, 2k, 4k and 8k pupils into a Roster; time and memory.

The answers are written by the UWLR sandbox's EDEXML writer for one generated school of each size
(Smalle set, as Magister sends it). Each size is parsed a few times — ``read_answer`` (safe XML parse,
SOAP checks) + ``read_document`` + the mapping — and the best and median times are reported, then
the tracemalloc peak of one parse (tracemalloc is off while timing). tracemalloc sees Python
objects only, not libxml2's own tree, so the peak is the Python side of the parse: the model values
and the Roster.

The budget (docs/sources/uwlr.md): 2,000 pupils in ≤ 1 s, and memory proportional to the answer —
the peak per pupil and per answer byte should stay flat from 1k to 8k. ``--e2e`` also reads a 2k
school over a real socket from the sandbox, request to Roster.

    python bench/bench_uwlr.py            # all sizes
    python bench/bench_uwlr.py 2000 --e2e
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
from koppel.model.roster import PersonKind, Roster, SchoolYear
from koppel.sandbox.uwlr import SandboxConfig, SandboxServer
from koppel.sandbox.uwlr.data import LasData, SchoolData
from koppel.sandbox.uwlr.wire import answer_envelope
from koppel.sources.edexml.mapping import MappingOptions, Origin, RosterAssembler, gc_paused
from koppel.sources.edexml.parse import read_document
from koppel.sources.uwlr import UwlrSettings, UwlrSource, read_answer

YEAR = SchoolYear(2025)
SIZES = (1_000, 2_000, 4_000, 8_000)
BUDGET_S = {2_000: 1.0}


def school_of(students: int) -> SchoolData:
    data = LasData(students=students, schools=1, seed=0, current=YEAR).year(YEAR)
    (school,) = data.schools.values()
    return school


def parse(answer: bytes, brin6: str) -> Roster:
    """What UwlrSource.read does with one school's answer once it has arrived."""
    with gc_paused():
        content = read_answer(200, answer, school=brin6, source="las")
        assembler = RosterAssembler(MappingOptions("las"), YEAR)
        assembler.add(read_document(content), Origin(brin6))
        return assembler.build(kind="uwlr", location=None)


def bench(students: int, runs: int) -> dict[str, float]:
    school = school_of(students)
    answer = answer_envelope(school, schooljaar=str(YEAR), xsdversie="2.3", now=dt.datetime(2025, 10, 1, 2))
    brin6 = school.school.brin6
    times = []
    roster = None
    for _ in range(runs):
        del roster
        gc.collect()
        started = time.perf_counter()
        roster = parse(answer, brin6)
        times.append(time.perf_counter() - started)
    assert roster is not None
    counts = roster.counts()
    pupils = sum(p.kind is PersonKind.STUDENT for p in roster.persons.values())
    del roster
    gc.collect()
    tracemalloc.start()
    parse(answer, brin6)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    budget = BUDGET_S.get(students)
    verdict = (
        ""
        if budget is None
        else ("  within budget" if min(times) <= budget else f"  OVER the {budget:g}s budget")
    )
    print(
        f"{pupils:>6,} pupils {counts['groups']:>5,} groups {counts['memberships']:>7,} memberships  "
        f"answer {len(answer) / 2**20:5.1f} MB  "
        f"parse best {min(times):5.3f}s median {statistics.median(times):5.3f}s"
        f"  peak {peak / 2**20:6.1f} MB = {peak / pupils / 1024:5.1f} KB/pupil "
        f"= {peak / len(answer):4.2f}x answer" + verdict
    )
    return {"pupils": pupils, "bytes": len(answer), "peak": peak, "best": min(times)}


def e2e(students: int, runs: int) -> None:
    with SandboxServer(SandboxConfig(students=students, schools=1, seed=0, year=YEAR)) as sandbox:
        brin6 = sandbox.schools()[0]["brin6"]
        settings = UwlrSettings(
            url=sandbox.endpoint,
            preset="magister",
            klantcode="bench",
            klantnaam="bench",
            schools=[{"brin6": brin6}],
            autorisatiesleutel="sandbox",
        )
        source = UwlrSource(
            "las", settings, ConnectorContext(tenant="bench", base_dir=Path.cwd(), school_year=YEAR)
        )
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            source.read()
            times.append(time.perf_counter() - started)
    print(
        f"end to end over a socket ({students:,} pupils, sandbox answer included): best {min(times):5.3f}s "
        f"median {statistics.median(times):5.3f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, help=f"pupils (default {', '.join(map(str, SIZES))})")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--e2e", action="store_true", help="also read 2,000 pupils from the sandbox over a socket"
    )
    args = parser.parse_args()
    print(f"koppel UWLR parse benchmark, {args.runs} runs per size")
    results = [bench(students, args.runs) for students in args.sizes or SIZES]
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"memory {last['pupils'] / first['pupils']:.1f}x the pupils "
            f"→ peak {last['peak'] / first['peak']:.2f}x "
            f"(answer {last['bytes'] / first['bytes']:.2f}x)"
        )
    if args.e2e:
        e2e(2_000, args.runs)


if __name__ == "__main__":
    main()
