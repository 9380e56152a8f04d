"""The bestuur's population over the years: who is at which school, in which stream and leerjaar.

Consistency between years is the point. A fixed origin year (:data:`ORIGIN`) is generated from the
seed alone; every later year is that origin stepped forward one school year at a time, each step
drawing from a random stream derived from (seed, school, year). So ``generate(year=Y)`` and
``generate(year=Y + 1)`` share their history and differ by exactly one jaarovergang: pupils move
up a leerjaar, exam candidates and a few others leave, first-years arrive, a few docenten leave
and join. Klassen and lesgroepen are not simulated here; they are formed afresh for the requested
year only (see :mod:`.formation`), which keeps a 60,000-pupil step cheap.

Sizes: ``students`` is the bestuur's size in the origin year; each school's intake is fixed and
its cohorts are shaped to the leaver rate, so later years stay close to it.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from koppel.generator.curriculum import (
    MENTOR_SECTIE,
    SECTIE,
    STREAMS,
    choose_upper_vakken,
    lower_vakken,
    upper_common_vakken,
)
from koppel.generator.names import (
    ACHTERNAMEN,
    ROEPNAMEN,
    SCHOOL_NAME_WORDS,
    SCHOOL_PLACES,
    ascii_fold,
)
from koppel.model.roster import SchoolYear

__all__ = [
    "LATEST",
    "ORIGIN",
    "SimPupil",
    "SimSchool",
    "SimTeacher",
    "Simulation",
    "apportion",
    "docentcode",
    "group_counts",
    "origin_cohorts",
    "rng_for",
]

ORIGIN = SchoolYear(2020)  # the year generated from the seed alone
LATEST = SchoolYear(2080)  # generous bound; each year costs one cheap step
PUPIL_LEAVER_RATE = 0.02  # share of non-exam pupils leaving each jaarovergang
TEACHER_LEAVER_RATE = 0.05
GROUPS_PER_TEACHER = 8  # lesgroepen a full-time docent teaches
ECKID_SHARE = 0.9
EMAIL_SHARE = 0.95
FIRST_PUPIL_STAMNR = 100001
FIRST_STAFF_STAMNR = 1001

_SCHOOL_TYPES: dict[str, tuple[float, dict[str, float], tuple[str, ...]]] = {
    # school type → (how common, stream shares of the intake, name patterns)
    "breed": (
        0.35,
        {"vmbo-b": 0.10, "vmbo-k": 0.12, "vmbo-t": 0.23, "havo": 0.30, "vwo": 0.25},
        (
            "{word} College",
            "Sg. {word}",
            "Scholengemeenschap {word}",
            "Openbare Sg. {place}",
            "Christelijk College {place}",
            "Montessori College {place}",
        ),
    ),
    "havo-vwo": (
        0.30,
        {"havo": 0.5, "vwo": 0.5},
        ("Lyceum {word}", "{word} Lyceum", "Christelijk College {place}", "{word} College"),
    ),
    "vmbo": (
        0.20,
        {"vmbo-b": 0.3, "vmbo-k": 0.3, "vmbo-t": 0.4},
        ("Vmbo {word}", "Sg. {word}", "{word} College"),
    ),
    "mavo-havo": (0.10, {"vmbo-t": 0.5, "havo": 0.5}, ("{word} College", "Sg. {word}")),
    "gymnasium": (0.05, {"vwo": 1.0}, ("Stedelijk Gymnasium {place}", "Gymnasium {word}")),
}


def rng_for(seed: int, *parts: object) -> random.Random:
    """A random stream for one purpose; string seeding is hashed (SHA-512), so stable across runs."""
    return random.Random("|".join(["koppel-generator", str(seed), *map(str, parts)]))


def apportion(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder), each ≥ minimum."""
    count = len(weights)
    base = [minimum] * count
    rest = total - minimum * count
    if rest < 0:
        raise ValueError(f"cannot give {count} parts at least {minimum} out of {total}")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("weights must not all be zero")
    exact = [rest * w / weight_sum for w in weights]
    floors = [math.floor(x) for x in exact]
    left = rest - sum(floors)
    order = sorted(range(count), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [b + f for b, f in zip(base, floors, strict=True)]


@dataclass(slots=True)
class SimPupil:
    stamnr: int
    eckid: str | None
    roepnaam: str
    voorvoegsel: str
    achternaam: str
    email: str | None
    stream: str
    leerjaar: int
    profiel: str | None = None
    cluster_vakken: tuple[str, ...] = ()

    @property
    def in_bovenbouw(self) -> bool:
        return self.leerjaar > STREAMS[self.stream].lower_years


@dataclass(slots=True)
class SimTeacher:
    stamnr: int
    docentcode: str
    roepnaam: str
    voorvoegsel: str
    achternaam: str
    email: str
    secties: tuple[str, ...]


@dataclass(slots=True)
class SimSchool:
    index: int
    brin6: str
    name: str
    domain: str
    intake: dict[str, int]  # first-years per stream, every year
    origin: dict[tuple[str, int], int]  # pupils per (stream, leerjaar) in the origin year
    pupils: list[SimPupil] = field(default_factory=list)
    teachers: list[SimTeacher] = field(default_factory=list)
    used_codes: set[str] = field(default_factory=set)


class Simulation:
    """Origin plus yearly steps; mutable while running, read by :mod:`.formation` at the end."""

    def __init__(self, *, seed: int, students: int, schools: int) -> None:
        if schools < 1:
            raise ValueError("a bestuur has at least one school")
        if students < schools:
            raise ValueError(f"{students} pupils cannot fill {schools} schools")
        self.seed = seed
        self.year = ORIGIN
        self._next_pupil = FIRST_PUPIL_STAMNR
        self._next_staff = FIRST_STAFF_STAMNR
        self.schools = self._found_schools(students, schools)
        for school in self.schools:
            self._populate_origin(school)
            self._staff(school, ORIGIN)

    # -- the bestuur ------------------------------------------------------------------------

    def _found_schools(self, students: int, count: int) -> list[SimSchool]:
        rng = rng_for(self.seed, "schools")
        brins = _brin6_codes(rng, count)
        sizes = apportion(students, [rng.uniform(0.4, 1.6) for _ in range(count)], minimum=1)
        type_names = list(_SCHOOL_TYPES)  # drawn even when unused, so later draws stay put
        type_weights = [_SCHOOL_TYPES[t][0] for t in type_names]
        names: set[str] = set()
        domains: set[str] = set()
        schools = []
        for index, (brin6, size) in enumerate(zip(brins, sizes, strict=True)):
            drawn = "breed" if index == 0 else rng.choices(type_names, type_weights)[0]
            _, shares, patterns = _SCHOOL_TYPES[_fitting_type(drawn, size)]
            name = _unique_school_name(rng, patterns, names)
            domain = _unique_domain(name, domains)
            cohorts = origin_cohorts(size, shares)
            intake = {stream: cohorts[(stream, 1)] for stream in shares}
            schools.append(SimSchool(index, brin6, name, domain, intake, cohorts))
        return schools

    # -- pupils -----------------------------------------------------------------------------

    def _populate_origin(self, school: SimSchool) -> None:
        rng = rng_for(self.seed, "origin", school.brin6)
        cohorts = school.origin
        # oldest cohorts first, so that older pupils carry lower stamnummers as in a real LAS
        for (stream, leerjaar), size in sorted(cohorts.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
            for _ in range(size):
                school.pupils.append(self._new_pupil(school, stream, leerjaar, rng))

    def _new_pupil(self, school: SimSchool, stream: str, leerjaar: int, rng: random.Random) -> SimPupil:
        stamnr = self._next_pupil
        self._next_pupil += 1
        voorvoegsel, achternaam = rng.choice(ACHTERNAMEN)
        eckid = None
        if rng.random() < ECKID_SHARE:
            digest = hashlib.sha512(f"{self.seed}:eckid:{stamnr}".encode()).hexdigest()
            eckid = f"https://ketenid.nl/201703/{digest}"
        email = f"{stamnr}@leerling.{school.domain}" if rng.random() < EMAIL_SHARE else None
        pupil = SimPupil(
            stamnr, eckid, rng.choice(ROEPNAMEN), voorvoegsel, achternaam, email, stream, leerjaar
        )
        if pupil.in_bovenbouw:
            pupil.profiel, pupil.cluster_vakken = choose_upper_vakken(stream, rng)
        return pupil

    def step(self) -> None:
        """One jaarovergang for every school."""
        self.year = self.year.next()
        for school in self.schools:
            self._move_up(school)
            self._staff(school, self.year)

    def _move_up(self, school: SimSchool) -> None:
        rng = rng_for(self.seed, "step", self.year, school.brin6)
        staying = []
        for pupil in school.pupils:
            if pupil.leerjaar >= STREAMS[pupil.stream].exam_year or rng.random() < PUPIL_LEAVER_RATE:
                continue
            pupil.leerjaar += 1
            if pupil.in_bovenbouw and pupil.profiel is None:
                pupil.profiel, pupil.cluster_vakken = choose_upper_vakken(pupil.stream, rng)
            staying.append(pupil)
        for stream, size in school.intake.items():
            for _ in range(size):
                staying.append(self._new_pupil(school, stream, 1, rng))
        school.pupils = staying

    # -- docenten ---------------------------------------------------------------------------

    def _staff(self, school: SimSchool, year: SchoolYear) -> None:
        """Docenten leave (at random, and where a sectie is overstaffed) and are hired where short."""
        rng = rng_for(self.seed, "staff", year, school.brin6)
        needed = {
            sectie: math.ceil(groups / GROUPS_PER_TEACHER) for sectie, groups in group_counts(school).items()
        }
        if year != ORIGIN:
            school.teachers = [t for t in school.teachers if rng.random() >= TEACHER_LEAVER_RATE]
            school.teachers = _drop_surplus(school.teachers, needed)
        have = _staffing(school.teachers)
        for sectie in sorted(needed):
            while have[sectie] < needed[sectie]:
                teacher = self._new_teacher(school, sectie, sorted(needed), rng)
                school.teachers.append(teacher)
                for taught in teacher.secties:
                    have[taught] += 1 / len(teacher.secties)

    def _new_teacher(
        self, school: SimSchool, sectie: str, secties: list[str], rng: random.Random
    ) -> SimTeacher:
        stamnr = self._next_staff
        self._next_staff += 1
        roepnaam = rng.choice(ROEPNAMEN)
        voorvoegsel, achternaam = rng.choice(ACHTERNAMEN)
        code = docentcode(roepnaam, achternaam, school.used_codes, rng)
        school.used_codes.add(code)
        taught: tuple[str, ...] = (sectie,)
        if rng.random() < 0.2:
            second = rng.choice(secties)
            if second != sectie:
                taught = (sectie, second)
        return SimTeacher(
            stamnr, code, roepnaam, voorvoegsel, achternaam, f"{code.lower()}@{school.domain}", taught
        )


def group_counts(school: SimSchool) -> Counter[str]:
    """How many lesgroepen each sectie will have to teach this year (as formation will make them)."""
    cohorts: dict[tuple[str, int], list[SimPupil]] = {}
    for pupil in school.pupils:
        cohorts.setdefault((pupil.stream, pupil.leerjaar), []).append(pupil)
    counts: Counter[str] = Counter()
    for (stream, leerjaar), pupils in cohorts.items():
        info = STREAMS[stream]
        klassen = math.ceil(len(pupils) / info.klas_size)
        if leerjaar <= info.lower_years:
            for vak in lower_vakken(stream):
                counts[SECTIE[vak]] += klassen
            continue
        for vak in upper_common_vakken(stream, leerjaar):
            counts[SECTIE[vak]] += klassen
        takers = Counter(v for p in pupils for v in p.cluster_vakken)
        for vak, n in takers.items():
            counts[SECTIE[vak]] += math.ceil(n / info.klas_size)
    counts.pop(MENTOR_SECTIE, None)  # the mentor teaches the mentoruur on top of their vak
    return counts


def _staffing(teachers: list[SimTeacher]) -> defaultdict[str, float]:
    """Docenten per sectie; one who teaches two secties counts half in each."""
    have: defaultdict[str, float] = defaultdict(float)
    for teacher in teachers:
        for sectie in teacher.secties:
            have[sectie] += 1 / len(teacher.secties)
    return have


def _drop_surplus(teachers: list[SimTeacher], needed: dict[str, int]) -> list[SimTeacher]:
    """Single-sectie docenten beyond one spare per sectie leave (the most recently hired first)."""
    have = _staffing(teachers)
    kept: list[SimTeacher] = []
    for teacher in reversed(teachers):
        (sectie, *more) = teacher.secties
        if not more and have[sectie] > needed.get(sectie, 0) + 1:
            have[sectie] -= 1
            continue
        kept.append(teacher)
    kept.reverse()
    return kept


def origin_cohorts(size: int, shares: dict[str, float]) -> dict[tuple[str, int], int]:
    """Pupils per (stream, leerjaar) in the origin year: ``size`` in all, shaped to the leaver rate.

    Each stream's cohorts shrink by the leaver rate per leerjaar, so that a fixed intake (the
    leerjaar-1 cohort) keeps the school's size steady in expectation.
    """
    slots = [
        ((stream, leerjaar), share * (1 - PUPIL_LEAVER_RATE) ** (leerjaar - 1))
        for stream, share in shares.items()
        for leerjaar in range(1, STREAMS[stream].years + 1)
    ]
    sizes = apportion(size, [weight for _, weight in slots])
    return {slot: n for (slot, _), n in zip(slots, sizes, strict=True)}


def _fitting_type(drawn: str, size: int) -> str:
    """The drawn school type, or a narrower one when the school is too small to fill its cohorts.

    A school of 50 pupils cannot run five streams; it becomes the type with the most cohorts that
    still holds about 20 pupils each, and a gymnasium (six cohorts) when none does.
    """

    def cohorts(school_type: str) -> int:
        return sum(STREAMS[stream].years for stream in _SCHOOL_TYPES[school_type][1])

    room = size // 20
    if cohorts(drawn) <= room:
        return drawn
    fitting = [t for t in _SCHOOL_TYPES if cohorts(t) <= room]
    return max(fitting, key=cohorts) if fitting else "gymnasium"


def _brin6_codes(rng: random.Random, count: int) -> list[str]:
    """BRIN6 codes; some schools are vestigingen of the same BRIN4 (``12AB00``, ``12AB01``)."""
    codes: list[str] = []
    brin4s: set[str] = set()
    current, vestiging = "", 0
    for _ in range(count):
        if current and vestiging < 2 and rng.random() < 0.25:
            vestiging += 1
        else:
            while True:
                current = f"{rng.randint(0, 99):02d}{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
                if current not in brin4s:
                    brin4s.add(current)
                    break
            vestiging = 0
        codes.append(f"{current}{vestiging:02d}")
    return codes


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _unique_school_name(rng: random.Random, patterns: tuple[str, ...], taken: set[str]) -> str:
    for _ in range(200):
        name = rng.choice(patterns).format(
            word=rng.choice(SCHOOL_NAME_WORDS), place=rng.choice(SCHOOL_PLACES)
        )
        if name not in taken:
            taken.add(name)
            return name
    name = f"Scholengemeenschap {len(taken) + 1}"
    taken.add(name)
    return name


def _unique_domain(name: str, taken: set[str]) -> str:
    stem = "".join(ch for ch in ascii_fold(name).lower() if ch.isalnum())
    domain, n = f"{stem}.nl", 1
    while domain in taken:
        n += 1
        domain = f"{stem}{n}.nl"
    taken.add(domain)
    return domain


def docentcode(roepnaam: str, achternaam: str, used: set[str], rng: random.Random) -> str:
    """A 3–4 letter afkorting, unique within the school: ``BER``, ``BERJ``, ``BEJ`` …"""
    last = "".join(ch for ch in ascii_fold(achternaam).upper() if ch.isalpha()) or "X"
    first = "".join(ch for ch in ascii_fold(roepnaam).upper() if ch.isalpha()) or "X"
    padded = (last + first + "XYZ")[:4]
    candidates = [
        padded[:3],
        last[:2].ljust(2, "X") + first[0],
        padded[:3] + first[0],
        padded[:4],
        last[0] + first[:2].ljust(2, "X"),
    ]
    for code in candidates:
        if code not in used:
            return code
    while True:
        code = last[0] + "".join(rng.choice(_LETTERS) for _ in range(3))
        if code not in used:
            return code
