"""The performance budget of the UWLR source (docs/sources/uwlr.md): 2,000 pupils parsed into a Roster
in well under a second, and memory that grows with the answer, not faster. bench/bench_uwlr.py has the
figures."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc

from koppel.model.roster import PersonKind, Roster
from koppel.sandbox.uwlr.data import LasData
from koppel.sandbox.uwlr.wire import answer_envelope
from koppel.sources.edexml.mapping import MappingOptions, Origin, RosterAssembler, gc_paused
from koppel.sources.edexml.parse import read_document
from koppel.sources.uwlr import read_answer

from .conftest import YEAR


def answer_for(students: int) -> tuple[bytes, str]:
    (school,) = LasData(students=students, schools=1, seed=0, current=YEAR).year(YEAR).schools.values()
    return answer_envelope(
        school, schooljaar=str(YEAR), xsdversie="2.3", now=dt.datetime(2025, 10, 1)
    ), school.school.brin6


def parse(answer: bytes, brin6: str) -> Roster:
    with gc_paused():
        assembler = RosterAssembler(MappingOptions("las"), YEAR)
        assembler.add(read_document(read_answer(200, answer, school=brin6)), Origin(brin6))
        return assembler.build(kind="uwlr", location=None)


def test_two_thousand_pupils_in_under_a_second() -> None:
    answer, brin6 = answer_for(2_000)
    started = time.perf_counter()
    roster = parse(answer, brin6)
    elapsed = time.perf_counter() - started
    assert sum(p.kind is PersonKind.STUDENT for p in roster.persons.values()) > 1_900
    assert elapsed < 1.0, f"{elapsed:.2f}s"


def test_memory_grows_with_the_answer() -> None:
    peaks = {}
    for students in (500, 2_000):
        answer, brin6 = answer_for(students)
        tracemalloc.start()
        parse(answer, brin6)
        peaks[students] = tracemalloc.get_traced_memory()[1] / len(answer)
        tracemalloc.stop()
    assert peaks[2_000] < peaks[500] * 1.25, peaks  # per answer byte: flat, not growing
    assert peaks[2_000] < 8, peaks  # a few times the answer, not a multiple of it per pupil
