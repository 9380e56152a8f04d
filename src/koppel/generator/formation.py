"""Klassen and lesgroepen for one school year, formed afresh as schools do every summer.

Per school and (stream, leerjaar) the pupils are shuffled into klassen of a realistic size
(``1A`` … for the brugklassen, ``2H1``, ``3V2``, ``2B1`` … after). Onderbouw klassen follow every
vak together (``1A.ne``); bovenbouw klassen follow the gemeenschappelijk deel together
(``4H1.ne``) and the profile vakken in clusters across klassen (``4hnat1``). Each lesgroep gets
the least-loaded docent of its sectie (and now and then a second one); each klas gets a mentor
who teaches it. Everything is drawn from streams seeded by (seed, school, year), so the result is
the same on every run.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence

from koppel.generator.curriculum import (
    MENTOR_SECTIE,
    SECTIE,
    STREAMS,
    VAKNAMEN,
    lower_vakken,
    upper_common_vakken,
)
from koppel.generator.model import Bestuur, GeneratedSchool, Klas, Lesgroep, Pupil, Teacher
from koppel.generator.simulate import SimPupil, SimSchool, SimTeacher, Simulation, rng_for

__all__ = ["form_bestuur"]

CO_TEACHING_SHARE = 0.05  # lesgroepen with a second docent
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def form_bestuur(simulation: Simulation) -> Bestuur:
    """Freeze the simulation's current year into a :class:`Bestuur`."""
    schools: list[GeneratedSchool] = []
    pupils: list[Pupil] = []
    teachers: list[Teacher] = []
    klassen: list[Klas] = []
    lesgroepen: list[Lesgroep] = []
    for school in simulation.schools:
        rng = rng_for(simulation.seed, "formation", simulation.year, school.brin6)
        school_pupils, school_klassen, school_groups = _form_school(school, rng)
        mentors = _assign_teachers(school.teachers, school_groups, school_klassen, rng)
        schools.append(GeneratedSchool(school.brin6, school.name, school.domain))
        pupils.extend(school_pupils)
        teachers.extend(_teacher(school, t) for t in sorted(school.teachers, key=lambda t: t.docentcode))
        klassen.extend(
            Klas(school.brin6, name, leerjaar, stream, mentors.get(name))
            for name, leerjaar, stream, _ in school_klassen
        )
        lesgroepen.extend(g.freeze(school.brin6) for g in school_groups)
    return Bestuur(
        seed=simulation.seed,
        school_year=simulation.year,
        schools=tuple(schools),
        pupils=tuple(pupils),
        teachers=tuple(teachers),
        klassen=tuple(klassen),
        lesgroepen=tuple(lesgroepen),
    )


class _Group:
    """A lesgroep while it is being formed: teachers are added after all groups exist."""

    __slots__ = ("klas", "leerjaar", "name", "pupils", "stream", "teachers", "vak")

    def __init__(
        self, name: str, vak: str, leerjaar: int, stream: str, klas: str | None, pupils: tuple[str, ...]
    ):
        self.name = name
        self.vak = vak
        self.leerjaar = leerjaar
        self.stream = stream
        self.klas = klas
        self.pupils = pupils
        self.teachers: list[str] = []

    def freeze(self, brin6: str) -> Lesgroep:
        return Lesgroep(
            brin6,
            self.name,
            self.vak,
            VAKNAMEN[self.vak],
            self.leerjaar,
            self.stream,
            self.klas,
            tuple(self.teachers),
            self.pupils,
        )


# (klas name, leerjaar, stream, stamnrs)
_KlasRow = tuple[str, int, str, tuple[str, ...]]


def _form_school(school: SimSchool, rng: random.Random) -> tuple[list[Pupil], list[_KlasRow], list[_Group]]:
    cohorts: dict[tuple[str, int], list[SimPupil]] = {}
    for pupil in sorted(school.pupils, key=lambda p: p.stamnr):
        cohorts.setdefault((pupil.stream, pupil.leerjaar), []).append(pupil)
    pupils: list[Pupil] = []
    klassen: list[_KlasRow] = []
    groups: list[_Group] = []
    brugklas_letter = 0
    for stream, info in STREAMS.items():
        for leerjaar in range(1, info.years + 1):
            cohort = cohorts.get((stream, leerjaar))
            if not cohort:
                continue
            rng.shuffle(cohort)
            chunks = _split(cohort, math.ceil(len(cohort) / info.klas_size))
            cohort_klassen: list[tuple[str, list[SimPupil]]] = []
            for i, chunk in enumerate(chunks):
                if leerjaar == 1:
                    name = f"1{_letters(brugklas_letter)}"
                    brugklas_letter += 1
                else:
                    name = f"{leerjaar}{info.letter}{i + 1}"
                chunk.sort(key=lambda p: p.stamnr)
                cohort_klassen.append((name, chunk))
            for name, chunk in cohort_klassen:
                stamnrs = tuple(str(p.stamnr) for p in chunk)
                klassen.append((name, leerjaar, stream, stamnrs))
                pupils.extend(_pupil(school, p, name) for p in chunk)
                bovenbouw = leerjaar > info.lower_years
                vakken = upper_common_vakken(stream, leerjaar) if bovenbouw else lower_vakken(stream)
                groups.extend(_Group(f"{name}.{vak}", vak, leerjaar, stream, name, stamnrs) for vak in vakken)
            if leerjaar > info.lower_years:
                groups.extend(_clusters(stream, leerjaar, cohort_klassen))
    return pupils, klassen, groups


def _clusters(stream: str, leerjaar: int, klassen: list[tuple[str, list[SimPupil]]]) -> list[_Group]:
    """Clusters per profile vak across the klassen of one cohort: ``4hnat1``, ``4hnat2`` …"""
    info = STREAMS[stream]
    takers: dict[str, list[SimPupil]] = {}
    for _, chunk in klassen:  # klas by klas, so clusters follow klassen where they can
        for pupil in chunk:
            for vak in pupil.cluster_vakken:
                takers.setdefault(vak, []).append(pupil)
    groups = []
    for vak in sorted(takers):
        members = takers[vak]
        for i, part in enumerate(_split(members, math.ceil(len(members) / info.klas_size))):
            stamnrs = tuple(str(p.stamnr) for p in sorted(part, key=lambda p: p.stamnr))
            groups.append(
                _Group(f"{leerjaar}{info.letter.lower()}{vak}{i + 1}", vak, leerjaar, stream, None, stamnrs)
            )
    return groups


def _assign_teachers(
    teachers: Sequence[SimTeacher], groups: list[_Group], klassen: list[_KlasRow], rng: random.Random
) -> dict[str, str]:
    """Give every lesgroep its least-loaded docent of the sectie; return klas → mentor's docentcode.

    The mentoruur (``1A.men``) goes to the klas's mentor, chosen among the docenten of the klas.
    """
    order = list(teachers)
    rng.shuffle(order)  # ties in load go to a random but fixed docent
    by_sectie: dict[str, list[str]] = {}
    for teacher in order:
        for sectie in teacher.secties:
            by_sectie.setdefault(sectie, []).append(teacher.docentcode)
    loads = {t.docentcode: 0 for t in order}
    for group in groups:
        candidates = by_sectie.get(SECTIE[group.vak])
        if not candidates:
            continue
        wanted = 2 if len(candidates) > 1 and rng.random() < CO_TEACHING_SHARE else 1
        for code in heapq.nsmallest(wanted, candidates, key=loads.__getitem__):
            group.teachers.append(code)
            loads[code] += 1
    mentors = _mentors(order, groups, klassen, loads)
    for group in groups:
        mentor = mentors.get(group.klas or "")
        if SECTIE[group.vak] == MENTOR_SECTIE and mentor:
            group.teachers.append(mentor)
    return mentors


def _mentors(
    teachers: Sequence[SimTeacher], groups: list[_Group], klassen: list[_KlasRow], loads: dict[str, int]
) -> dict[str, str]:
    teaching: dict[str, list[str]] = {}
    for group in groups:
        if group.klas is not None:
            teaching.setdefault(group.klas, []).extend(group.teachers)
    mentoring: dict[str, int] = {t.docentcode: 0 for t in teachers}
    mentors: dict[str, str] = {}
    for name, *_ in klassen:
        candidates = list(dict.fromkeys(teaching.get(name, ()))) or list(mentoring)
        if not candidates:
            continue
        code = min(candidates, key=lambda c: (mentoring[c], -loads.get(c, 0), c))
        mentors[name] = code
        mentoring[code] += 1
    return mentors


def _split(items: list[SimPupil], parts: int) -> list[list[SimPupil]]:
    """Contiguous, near-equal parts (sizes differ by at most one)."""
    parts = max(parts, 1)
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def _letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: brugklas letters never run out."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = _LETTERS[rest] + out
    return out


def _pupil(school: SimSchool, p: SimPupil, klas: str) -> Pupil:
    return Pupil(
        school.brin6,
        str(p.stamnr),
        p.eckid,
        p.roepnaam,
        p.voorvoegsel,
        p.achternaam,
        p.email,
        str(p.stamnr),
        p.stream,
        p.leerjaar,
        klas,
        p.profiel,
    )


def _teacher(school: SimSchool, t: SimTeacher) -> Teacher:
    return Teacher(
        school.brin6,
        str(t.stamnr),
        t.docentcode,
        t.roepnaam,
        t.voorvoegsel,
        t.achternaam,
        t.email,
        t.docentcode.lower(),
        t.secties,
    )
