"""The generated bestuur as plain values: schools, pupils, teachers, klassen and lesgroepen.

This is deliberately *not* the canonical Roster. It is the LAS's own view, in the LAS's words
(stamnummer, docentcode, klas, lesgroep), so that writing it out as a Magister, Somtoday or
koppel-native export and reading it back through a source exercises the real translation instead
of skipping it. Tests and the demo inspect it; the mutation helpers in :mod:`.mutate` return
changed copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from koppel.model.roster import SchoolYear

__all__ = ["Bestuur", "GeneratedSchool", "Klas", "Lesgroep", "Pupil", "Teacher"]


@dataclass(frozen=True, slots=True)
class GeneratedSchool:
    """One school location (BRIN6) of the bestuur; ``domain`` is where its e-mail lives."""

    brin6: str
    name: str
    domain: str


@dataclass(frozen=True, slots=True)
class Pupil:
    """A leerling as the LAS holds it. ``stamnr`` is unique in the whole bestuur."""

    brin6: str
    stamnr: str
    eckid: str | None
    roepnaam: str
    voorvoegsel: str
    achternaam: str
    email: str | None
    login: str
    onderwijssoort: str
    leerjaar: int
    klas: str
    profiel: str | None


@dataclass(frozen=True, slots=True)
class Teacher:
    """A docent: ``docentcode`` (afkorting) is unique within the school; ``stamnr`` in the bestuur."""

    brin6: str
    stamnr: str
    docentcode: str
    roepnaam: str
    voorvoegsel: str
    achternaam: str
    email: str
    login: str
    secties: tuple[str, ...]
    functie: str = "Docent"


@dataclass(frozen=True, slots=True)
class Klas:
    """A stamgroep with its mentor's docentcode. Its pupils are those whose ``klas`` names it."""

    brin6: str
    name: str
    leerjaar: int
    onderwijssoort: str
    mentor: str | None


@dataclass(frozen=True, slots=True)
class Lesgroep:
    """A teaching group for one vak: a whole klas (``klas`` set, named ``1A.ne``) or a cluster."""

    brin6: str
    name: str
    vak: str
    vaknaam: str
    leerjaar: int
    onderwijssoort: str
    klas: str | None
    teachers: tuple[str, ...]  # docentcodes
    pupils: tuple[str, ...]  # stamnrs


@dataclass(frozen=True)
class Bestuur:
    """A school board's LAS data for one school year, as generated (and possibly mutated)."""

    seed: int
    school_year: SchoolYear
    schools: tuple[GeneratedSchool, ...]
    pupils: tuple[Pupil, ...]
    teachers: tuple[Teacher, ...]
    klassen: tuple[Klas, ...]
    lesgroepen: tuple[Lesgroep, ...]
    _pupil_index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._pupil_index.update((p.stamnr, i) for i, p in enumerate(self.pupils))

    def school(self, brin6: str) -> GeneratedSchool:
        for school in self.schools:
            if school.brin6 == brin6:
                return school
        raise KeyError(f"no school {brin6} in this bestuur")

    def pupil(self, stamnr: str) -> Pupil:
        try:
            return self.pupils[self._pupil_index[stamnr]]
        except KeyError:
            raise KeyError(f"no pupil with stamnr {stamnr}") from None

    def teacher(self, brin6: str, docentcode: str) -> Teacher:
        for teacher in self.teachers:
            if teacher.brin6 == brin6 and teacher.docentcode == docentcode:
                return teacher
        raise KeyError(f"no docent {docentcode} at {brin6}")

    def klas(self, brin6: str, name: str) -> Klas:
        for klas in self.klassen:
            if klas.brin6 == brin6 and klas.name == name:
                return klas
        raise KeyError(f"no klas {name} at {brin6}")

    def lesgroep(self, brin6: str, name: str) -> Lesgroep:
        for group in self.lesgroepen:
            if group.brin6 == brin6 and group.name == name:
                return group
        raise KeyError(f"no lesgroep {name} at {brin6}")

    def pupils_of(self, brin6: str) -> Iterator[Pupil]:
        return (p for p in self.pupils if p.brin6 == brin6)

    def teachers_of(self, brin6: str) -> Iterator[Teacher]:
        return (t for t in self.teachers if t.brin6 == brin6)

    def counts(self) -> dict[str, int]:
        return {
            "schools": len(self.schools),
            "pupils": len(self.pupils),
            "teachers": len(self.teachers),
            "klassen": len(self.klassen),
            "lesgroepen": len(self.lesgroepen),
            "memberships": len(self.pupils)
            + sum(len(g.pupils) + len(g.teachers) for g in self.lesgroepen)
            + sum(1 for k in self.klassen if k.mentor),
        }
