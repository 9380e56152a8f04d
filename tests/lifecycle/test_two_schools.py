"""A person in two schools of the bestuur is suspended only when absent from both (issue 4 §1).

How the CSV source knows it is one person: in the koppel-native layout one persons.csv row lists both
schools (``schools = "46WJ00,52KU00"``); in a Magister bestuur export a docent who works at two
vestigingen has a row in both schools' docenten.csv with the same personeelsnummer, which is one
person when ``key_scope = "export"`` (numbers unique across the bestuur). A pupil cannot be in two
Magister school folders (the same ECK iD twice is reported as a duplicate), so the pupil case uses the
native layout.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from tests.lifecycle.support import TARGET, TENANT, YEAR, build_baseline

TODAY = dt.date(2025, 10, 1)


def _read(path: Path, **dialect) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding=dialect.pop("encoding", "utf-8"), newline="") as handle:
        rows = list(csv.reader(handle, **dialect))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]], **dialect) -> None:
    encoding = dialect.pop("encoding", "utf-8")
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, **dialect).writerows([header, *rows])


def _person(world, key: str) -> dict | None:
    found = [p for p in world.sandbox.objects()["persons"] if p["sync_key"] == key]
    return found[0] if found else None


def _memberships(world, key: str) -> dict[str, dict]:
    return {m["group_sync_id"]: m for m in world.sandbox.objects()["memberships"] if m["person_sync_key"] == key}


def _person_changes(plan, key: str) -> list:
    return [c for c in plan.changes if c.kind is ObjectKind.PERSON and c.key == key]


def _sync(world, day=TODAY):
    outcome = world.app(day).sync(None, None)
    assert not outcome.held, [h.message for h in outcome.plan.holds]
    assert outcome.applied.status == "succeeded", outcome.applied.failures[:3]
    return outcome.plan


# -- a pupil in two schools (koppel-native layout) ----------------------------------------------------------


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("two-schools-native"), students=120, schools=2, seed=11,
                          layout="koppel", sync=False)


def test_a_pupil_in_two_schools_is_suspended_only_when_absent_from_both(native, tmp_path):
    world = native.world(tmp_path / "world")
    try:
        b = world.bestuur[YEAR]
        school_a, school_b = (s.brin6 for s in b.schools)
        folder = world.export_dir(YEAR)
        pupil = min((p for p in b.pupils if p.brin6 == school_a and p.eckid), key=lambda p: int(p.stamnr))
        lesgroep_b = min((g for g in b.lesgroepen if g.brin6 == school_b and g.klas is None), key=lambda g: g.name)

        # The LAS enrols the pupil at both schools: one persons row naming both, memberships in both.
        p_header, persons = _read(folder / "persons.csv")
        m_header, memberships = _read(folder / "memberships.csv")
        for row in persons:
            if row[0] == pupil.stamnr:
                row[p_header.index("schools")] = f"{school_a},{school_b}"
        memberships.append([pupil.stamnr, lesgroep_b.name, school_b, "student", "", ""])
        _write(folder / "persons.csv", p_header, persons)
        _write(folder / "memberships.csv", m_header, memberships)
        _sync(world)
        key = next(p["sync_key"] for p in world.sandbox.objects()["persons"] if p["username"] == pupil.stamnr)
        held = _memberships(world, key)
        assert {f"school:{school_a}", f"school:{school_b}", f"las:{school_b}:{YEAR}:{lesgroep_b.name}"} <= set(held)
        assert held[f"school:{school_a}"]["home_organisation"]

        # The pupil leaves school A but stays at B: memberships in A go, the account stays.
        a_groups = {m[1] for m in memberships if m[0] == pupil.stamnr and m[2] == school_a}
        for row in persons:
            if row[0] == pupil.stamnr:
                row[p_header.index("schools")] = school_b
        memberships = [m for m in memberships if not (m[0] == pupil.stamnr and m[2] == school_a)]
        _write(folder / "persons.csv", p_header, persons)
        _write(folder / "memberships.csv", m_header, memberships)
        plan = _sync(world, dt.date(2025, 10, 2))
        assert _person_changes(plan, key) == [], "still at school B: not suspended"
        removed = {c.before["group"] for c in plan.changes if c.action is Action.DELETE}
        assert f"school:{school_a}" in removed and len(removed) == len(a_groups) + 1
        assert all(c.school == school_a for c in plan.changes if c.action is Action.DELETE)
        assert not any(c.action is Action.SUSPEND for c in plan.changes)
        person = _person(world, key)
        assert person is not None and not person["trashed"]
        held = _memberships(world, key)
        assert set(held) == {f"school:{school_b}", f"las:{school_b}:{YEAR}:{lesgroep_b.name}"}
        assert held[f"school:{school_b}"]["home_organisation"], "school B is the pupil's home organisation now"

        # Now gone from B too: suspended.
        persons = [row for row in persons if row[0] != pupil.stamnr]
        memberships = [m for m in memberships if m[0] != pupil.stamnr]
        _write(folder / "persons.csv", p_header, persons)
        _write(folder / "memberships.csv", m_header, memberships)
        plan = _sync(world, dt.date(2025, 10, 3))
        (suspend,) = _person_changes(plan, key)
        assert suspend.action is Action.SUSPEND
        assert suspend.dates == {"absent_since": "2025-10-03", "delete_after": "2025-11-02"}
        assert _person(world, key)["trashed"]
    finally:
        world.close()


# -- a docent at two vestigingen (Magister bestuur export) -------------------------------------------------


@pytest.fixture(scope="module")
def magister(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("two-schools-magister"), students=120, schools=2, seed=11,
                          layout="magister", sync=False, source_settings={"key_scope": "export"})


MAGISTER = {"delimiter": ";", "encoding": "utf-8-sig", "lineterminator": "\r\n"}


def test_a_docent_at_two_vestigingen_is_suspended_only_when_absent_from_both(magister, tmp_path):
    world = magister.world(tmp_path / "world")
    try:
        b = world.bestuur[YEAR]
        school_a, school_b = b.schools
        folder = world.export_dir(YEAR)
        taken_b = {t.docentcode for t in b.teachers if t.brin6 == school_b.brin6}
        teacher = min((t for t in b.teachers if t.brin6 == school_a.brin6 and t.docentcode not in taken_b
                          and t.docentcode not in {k.mentor for k in b.klassen}), key=lambda t: t.stamnr)
        lesgroep_b = min((g for g in b.lesgroepen if g.brin6 == school_b.brin6 and g.klas is None), key=lambda g: g.name)

        # The same personeelsnummer in both schools' docenten.csv, teaching a cluster at B.
        header, rows_a = _read(folder / school_a.brin6 / "docenten.csv", **dict(MAGISTER))
        _, rows_b = _read(folder / school_b.brin6 / "docenten.csv", **dict(MAGISTER))
        row = next(r for r in rows_a if r[0] == teacher.stamnr)
        at_b = list(row)
        at_b[header.index("Groepvakken")] = lesgroep_b.name
        at_b[header.index("Klasvakken")] = ""
        at_b[header.index("Docentvakken")] = lesgroep_b.vak
        at_b[header.index("Locatie")] = school_b.name
        _write(folder / school_b.brin6 / "docenten.csv", header, [*rows_b, at_b], **dict(MAGISTER))
        _sync(world)
        accounts = [p for p in world.sandbox.objects()["persons"] if p["username"] == teacher.docentcode.lower()]
        assert len(accounts) == 1, "one account for the docent of two schools"
        key = accounts[0]["sync_key"]
        assert {f"school:{school_a.brin6}", f"school:{school_b.brin6}"} <= set(_memberships(world, key))

        # Gone from school A's export only: not suspended.
        _write(folder / school_a.brin6 / "docenten.csv", header, [r for r in rows_a if r[0] != teacher.stamnr],
               **dict(MAGISTER))
        # (the lesgroepen of A keep no reference to the docent: Magister lists them on the docent's row)
        plan = _sync(world, dt.date(2025, 10, 2))
        assert _person_changes(plan, key) == []
        assert not _person(world, key)["trashed"]
        assert set(_memberships(world, key)) == {f"school:{school_b.brin6}",
                                                 f"las:{school_b.brin6}:{YEAR}:{lesgroep_b.name}"}

        # Gone from B as well: suspended, with the staff grace period.
        _write(folder / school_b.brin6 / "docenten.csv", header, rows_b, **dict(MAGISTER))
        plan = _sync(world, dt.date(2025, 10, 3))
        (suspend,) = _person_changes(plan, key)
        assert suspend.action is Action.SUSPEND
        assert suspend.dates == {"absent_since": "2025-10-03", "delete_after": "2025-12-02"}
        assert _person(world, key)["trashed"]
        assert world.app(dt.date(2025, 10, 4)).store.object(TENANT, TARGET, key)["status"] == "suspended"
    finally:
        world.close()
