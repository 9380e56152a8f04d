"""The demo's changes to a bestuur: move a pupil, drop a subject, add a teacher."""

from __future__ import annotations

import pytest

from koppel.generator import Bestuur, add_teacher, drop_subject, generate, move_pupil
from koppel.model import SchoolYear


@pytest.fixture(scope="module")
def bestuur() -> Bestuur:
    return generate(students=600, year=SchoolYear(2025), seed=3)


def _klasgenoot_klas(bestuur: Bestuur, leerjaar: int) -> tuple[str, str, str]:
    """A pupil of ``leerjaar`` and another klas of the same leerjaar and stream."""
    for pupil in bestuur.pupils:
        if pupil.leerjaar != leerjaar:
            continue
        for klas in bestuur.klassen:
            if (klas.leerjaar, klas.onderwijssoort) == (
                pupil.leerjaar,
                pupil.onderwijssoort,
            ) and klas.name != pupil.klas:
                return pupil.stamnr, pupil.klas, klas.name
    raise AssertionError("no two klassen in one leerjaar")


def test_move_pupil_changes_klas_and_whole_klas_groups(bestuur: Bestuur) -> None:
    stamnr, old, new = _klasgenoot_klas(bestuur, 2)
    moved = move_pupil(bestuur, stamnr, new)
    assert moved.pupil(stamnr).klas == new and bestuur.pupil(stamnr).klas == old  # the original is untouched
    brin6 = moved.pupil(stamnr).brin6
    for group in moved.lesgroepen:
        if group.brin6 != brin6 or group.klas is None:
            continue
        assert (stamnr in group.pupils) == (group.klas == new)
    assert moved.lesgroep(brin6, f"{new}.ne").pupils == tuple(
        sorted(moved.lesgroep(brin6, f"{new}.ne").pupils, key=int)
    )


def test_move_pupil_keeps_clusters() -> None:
    bestuur = generate(students=1500, year=SchoolYear(2025), seed=3)
    stamnr, _, new = _klasgenoot_klas(bestuur, 4)
    clusters = {g.name for g in bestuur.lesgroepen if g.klas is None and stamnr in g.pupils}
    assert clusters
    moved = move_pupil(bestuur, stamnr, new)
    assert clusters == {g.name for g in moved.lesgroepen if g.klas is None and stamnr in g.pupils}


def test_move_pupil_refuses_what_a_las_refuses(bestuur: Bestuur) -> None:
    pupil = bestuur.pupils[0]
    with pytest.raises(ValueError, match="already"):
        move_pupil(bestuur, pupil.stamnr, pupil.klas)
    with pytest.raises(KeyError):
        move_pupil(bestuur, pupil.stamnr, "9Z9")
    with pytest.raises(KeyError):
        move_pupil(bestuur, "1", pupil.klas)


def test_drop_subject(bestuur: Bestuur) -> None:
    group = next(g for g in bestuur.lesgroepen if len(g.pupils) > 1)
    stamnr = group.pupils[0]
    dropped = drop_subject(bestuur, stamnr, group.name)
    assert stamnr not in dropped.lesgroep(group.brin6, group.name).pupils
    assert len(dropped.lesgroep(group.brin6, group.name).pupils) == len(group.pupils) - 1
    assert dropped.pupil(stamnr) == bestuur.pupil(stamnr)
    with pytest.raises(ValueError, match="not in lesgroep"):
        drop_subject(dropped, stamnr, group.name)


def test_add_teacher(bestuur: Bestuur) -> None:
    group = bestuur.lesgroepen[5]
    school = bestuur.school(group.brin6)
    added = add_teacher(bestuur, group.brin6, "nwd", "Noor", "van 't", "Hof", group.name)
    teacher = added.teacher(group.brin6, "NWD")
    assert (teacher.roepnaam, teacher.voorvoegsel, teacher.achternaam) == ("Noor", "van 't", "Hof")
    assert teacher.email == f"nwd@{school.domain}"
    assert int(teacher.stamnr) > max(int(t.stamnr) for t in bestuur.teachers)
    assert added.lesgroep(group.brin6, group.name).teachers == (*group.teachers, "NWD")
    with pytest.raises(ValueError, match="already taken"):
        add_teacher(added, group.brin6, "NWD", "Noor", "", "Hof", group.name)
    with pytest.raises(ValueError, match="3 or 4 letters"):
        add_teacher(bestuur, group.brin6, "N1", "Noor", "", "Hof", group.name)
    with pytest.raises(KeyError):
        add_teacher(bestuur, group.brin6, "NWX", "Noor", "", "Hof", "no-such-group")
