"""Realistic, deterministic Dutch secondary-school data for tests, benchmarks and the demo.

A koppeling is only as good as the data it has been tried on, and real pupil data may not leave a
school (AVG). So koppel brings its own bestuur: schools with BRIN6 codes, vmbo/havo/vwo streams,
klassen and lesgroepen the way roosters make them, docenten with afkortingen, pupils with Dutch
names, voorvoegsels and diacritics, ECK iDs and e-mail addresses — and, because a koppeling lives
through jaarovergangen, the same bestuur one school year later.

Same arguments, same bytes: everything is drawn from random streams seeded by the arguments, never
from the clock or ``hash()``. See docs/generator.md for the model and what is supported.

    bestuur = generate(students=1200, schools=2, year=SchoolYear(2025), seed=7)
    write_layout(bestuur, Path("out"), "magister")
"""

from __future__ import annotations

from koppel.generator.formation import form_bestuur
from koppel.generator.model import Bestuur, GeneratedSchool, Klas, Lesgroep, Pupil, Teacher
from koppel.generator.mutate import add_teacher, drop_subject, move_pupil
from koppel.generator.simulate import LATEST, ORIGIN, Simulation
from koppel.generator.writers import Layout, write_layout
from koppel.model.roster import SchoolYear

__all__ = [
    "LATEST",
    "ORIGIN",
    "Bestuur",
    "GeneratedSchool",
    "Klas",
    "Layout",
    "Lesgroep",
    "Pupil",
    "Teacher",
    "add_teacher",
    "drop_subject",
    "generate",
    "move_pupil",
    "write_layout",
]


def generate(*, students: int, schools: int = 1, year: SchoolYear, seed: int = 0) -> Bestuur:
    """Generate a bestuur of ``schools`` schools for school ``year``.

    ``students`` is the number of pupils in the origin year (:data:`ORIGIN`, 2020-2021); later
    years are that bestuur stepped forward jaarovergang by jaarovergang and stay close to it.
    Years before the origin or after :data:`LATEST` raise ``ValueError``.
    """
    if not ORIGIN <= year <= LATEST:
        raise ValueError(f"the generator covers {ORIGIN} up to {LATEST}; {year} is outside")
    simulation = Simulation(seed=seed, students=students, schools=schools)
    while simulation.year < year:
        simulation.step()
    return form_bestuur(simulation)
