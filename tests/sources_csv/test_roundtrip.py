"""Generate → write → read: every layout gives the same persons, groups and memberships."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.generator import add_teacher, drop_subject, generate, move_pupil, write_layout
from koppel.model import SchoolYear

from .conftest import read
from .roundtrip import expected_view, roster_view

LAYOUTS = ("magister", "somtoday", "koppel")


def _read_back(bestuur, layout: str):
    with tempfile.TemporaryDirectory() as folder:
        write_layout(bestuur, Path(folder), layout)  # type: ignore[arg-type]
        return read(folder, layout=layout, requested=bestuur.school_year)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    students=st.integers(min_value=1, max_value=700),
    schools=st.integers(min_value=1, max_value=3),
    year=st.integers(min_value=2020, max_value=2027),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_every_layout_reads_back_what_was_generated(
    students: int, schools: int, year: int, seed: int
) -> None:
    bestuur = generate(students=students, schools=min(schools, students), year=SchoolYear(year), seed=seed)
    expected = expected_view(bestuur)
    for layout in LAYOUTS:
        roster = _read_back(bestuur, layout)
        assert roster.school_year == bestuur.school_year
        assert roster.diagnostics == ()
        persons, groups, memberships = roster_view(roster)
        assert persons == expected[0], layout
        assert groups == expected[1], layout
        assert memberships == expected[2], layout
        assert len(roster.memberships) == len(memberships)  # no duplicates either


def test_the_demo_changes_read_back() -> None:
    bestuur = generate(students=400, year=SchoolYear(2025), seed=2025)
    pupil = next(p for p in bestuur.pupils if p.leerjaar == 2)
    other = next(
        k
        for k in bestuur.klassen
        if (k.leerjaar, k.onderwijssoort) == (2, pupil.onderwijssoort) and k.name != pupil.klas
    )
    changed = move_pupil(bestuur, pupil.stamnr, other.name)
    cluster = next(g for g in changed.lesgroepen if g.klas is None and len(g.pupils) > 1)
    changed = drop_subject(changed, cluster.pupils[0], cluster.name)
    klasvak = next(g for g in changed.lesgroepen if g.klas is not None)
    changed = add_teacher(changed, klasvak.brin6, "NWD", "Noor", "van 't", "Hof", klasvak.name)
    for layout in LAYOUTS:
        persons, groups, memberships = roster_view(_read_back(changed, layout))
        assert (persons, groups, memberships) == expected_view(changed), layout
        assert (
            ("staff", klasvak.brin6, "NWD"),
            (klasvak.brin6, "lesgroep", klasvak.name),
            "teacher",
        ) in memberships
