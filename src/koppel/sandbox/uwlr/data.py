"""The LAS's data: generated schools per school year, indexed the way an answer is written.

A real LAS knows its current school year and, from spring on, the next one (pupils are placed,
klassen formed). The sandbox serves the same two years from :mod:`koppel.generator`: the bestuur of
year N+1 is the bestuur of year N after a jaarovergang, so reading both shows what a jaarovergang
does. Each year is generated once, on first use, and kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from koppel.generator import Bestuur, GeneratedSchool, Klas, Lesgroep, Pupil, Teacher, generate
from koppel.model.roster import SchoolYear

__all__ = ["LasData", "SchoolData", "YearData"]


@dataclass(frozen=True)
class SchoolData:
    """One school of one year, with the links an EDEXML answer needs at hand."""

    school: GeneratedSchool
    klassen: tuple[Klas, ...]
    lesgroepen: tuple[Lesgroep, ...]
    pupils: tuple[Pupil, ...]
    teachers: tuple[Teacher, ...]
    lesgroepen_of_pupil: dict[str, list[Lesgroep]]
    lesgroepen_of_teacher: dict[str, list[Lesgroep]]
    klassen_of_mentor: dict[str, list[Klas]]


@dataclass(frozen=True)
class YearData:
    year: SchoolYear
    schools: dict[str, SchoolData]  # BRIN6 → data


def _index(bestuur: Bestuur, school: GeneratedSchool) -> SchoolData:
    brin6 = school.brin6
    klassen = tuple(k for k in bestuur.klassen if k.brin6 == brin6)
    lesgroepen = tuple(g for g in bestuur.lesgroepen if g.brin6 == brin6)
    of_pupil: dict[str, list[Lesgroep]] = {}
    of_teacher: dict[str, list[Lesgroep]] = {}
    for group in lesgroepen:
        for stamnr in group.pupils:
            of_pupil.setdefault(stamnr, []).append(group)
        for code in group.teachers:
            of_teacher.setdefault(code, []).append(group)
    of_mentor: dict[str, list[Klas]] = {}
    for klas in klassen:
        if klas.mentor:
            of_mentor.setdefault(klas.mentor, []).append(klas)
    return SchoolData(
        school,
        klassen,
        lesgroepen,
        tuple(bestuur.pupils_of(brin6)),
        tuple(bestuur.teachers_of(brin6)),
        of_pupil,
        of_teacher,
        of_mentor,
    )


class LasData:
    """The generated bestuur, per school year, made on first use (thread-safe)."""

    def __init__(self, *, students: int, schools: int, seed: int, current: SchoolYear) -> None:
        self.students = students
        self.school_count = schools
        self.seed = seed
        self.current = current
        self._years: dict[SchoolYear, YearData] = {}
        self._lock = threading.Lock()

    @property
    def served_years(self) -> tuple[SchoolYear, SchoolYear]:
        """The years the LAS answers for: its current school year and the next."""
        return (self.current, self.current.next())

    def year(self, year: SchoolYear) -> YearData:
        with self._lock:
            data = self._years.get(year)
            if data is None:
                bestuur = generate(
                    students=self.students, schools=self.school_count, year=year, seed=self.seed
                )
                data = YearData(year, {s.brin6: _index(bestuur, s) for s in bestuur.schools})
                self._years[year] = data
            return data
