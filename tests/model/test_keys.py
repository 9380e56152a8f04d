"""Sync keys and the membership fingerprint are spelled in one place (koppel.model.keys), and their formats do
not change: a changed key is a new account, a new course, to every platform koppel has written to."""

from __future__ import annotations

import pytest

from koppel.model.change import Action, Change
from koppel.model.desired import Desired, LeanMembership, ObjectKind
from koppel.model.keys import (
    MEMBERSHIP_AWAY,
    MEMBERSHIP_HOME,
    TAKEOVER_STALE,
    eck_sync_key,
    klas_vak_key,
    leerjaar_key,
    membership_fingerprint,
    membership_key,
    person_sync_key,
    school_key,
    stale_serial,
    vak_jaarlaag_key,
    year_key,
)
from koppel.model.roster import Person, PersonKind
from koppel.plan.model import _check_create
from koppel.rules import engine as rules_engine
from koppel.rules.engine import build_desired
from koppel.rules.settings import RulesSettings
from tests.rules.test_rules import roster


def test_the_formats_are_pinned() -> None:
    assert membership_key("csv:1", "school:12AB00", "student") == "csv:1|school:12AB00|student"
    assert (membership_fingerprint(True), membership_fingerprint(False)) == ("m1:1", "m1:0")
    assert (MEMBERSHIP_HOME, MEMBERSHIP_AWAY) == ("m1:1", "m1:0")
    assert school_key("12AB00") == "school:12AB00"
    assert year_key("12AB00", "2025-2026") == "year:12AB00:2025-2026"
    assert leerjaar_key("12AB00", "2025-2026", 3) == "leerjaar:12AB00:2025-2026:3"
    assert klas_vak_key("las:12AB00:2025-2026:3A", "ne") == "las:12AB00:2025-2026:3A:ne"
    assert vak_jaarlaag_key("12AB00", "2025-2026", 4, "wi") == "vj:12AB00:2025-2026:4:wi"
    assert vak_jaarlaag_key("12AB00", "2025-2026", None, "wi") == "vj:12AB00:2025-2026:-:wi"
    assert eck_sync_key("https://ketenid.nl/201703/abc") == "eck-1be3c1980b06b7324fa0"


@pytest.mark.parametrize(("eckid", "expected"), [(None, "las:123"), ("https://ketenid.nl/201703/abc", None)])
def test_person_sync_keys(eckid: str | None, expected: str | None) -> None:
    person = Person(key="las:123", kind=PersonKind.STUDENT, source="las", las_key="123", roepnaam="Jan",
                    voorvoegsel="", achternaam="Jansen", eckid=eckid)
    key = person_sync_key(person)
    assert key == (expected or eck_sync_key(eckid or ""))
    if eckid:
        assert key.startswith("eck-") and len(key) == 24 and eckid not in key


def test_the_rules_make_their_keys_with_these_functions() -> None:
    assert rules_engine.person_sync_key is person_sync_key
    assert rules_engine.school_key is school_key and rules_engine.year_key is year_key
    for strategy in ("lesgroep", "klas-vak", "vak-jaarlaag"):
        desired = build_desired(roster(), RulesSettings(course_strategy=strategy), target="x")
        assert desired.memberships
        for key, m in desired.memberships.items():
            assert key == membership_key(m.person, m.group, m.role)
            assert m.fingerprint == membership_fingerprint(m.home)


def test_a_lean_membership_materialises_with_its_key_and_fingerprint() -> None:
    lean = LeanMembership.of("p", "g", "teacher", True, "12AB00")
    assert lean.fingerprint == MEMBERSHIP_HOME
    key = membership_key("p", "g", "teacher")
    obj = Desired.from_table("x", "2025-2026", {}, memberships={key: lean}).get(key)
    assert obj is not None and obj.fingerprint == MEMBERSHIP_HOME
    assert dict(obj.attrs) == {"person": "p", "group": "g", "role": "teacher", "home": True}


def test_a_plan_file_membership_is_checked_against_its_key_and_fingerprint() -> None:
    after = {"person": "p", "group": "g", "role": "student", "home": False}
    good = Change(Action.CREATE, ObjectKind.MEMBERSHIP, "p|g|student", "new", 40, after=after,
                  fingerprint=MEMBERSHIP_AWAY)
    _check_create(good)
    for bad in (Change(Action.CREATE, ObjectKind.MEMBERSHIP, "p|g|teacher", "new", 40, after=after,
                       fingerprint=MEMBERSHIP_AWAY),
                Change(Action.CREATE, ObjectKind.MEMBERSHIP, "p|g|student", "new", 40, after=after,
                       fingerprint=MEMBERSHIP_HOME)):
        with pytest.raises(ValueError, match="altered"):
            _check_create(bad)


def test_stale_serial() -> None:
    assert stale_serial(f"{TAKEOVER_STALE}7") == 7
    assert stale_serial(f"{TAKEOVER_STALE}x") == 0
    assert stale_serial(MEMBERSHIP_HOME) is None
