"""A plan of thousands of changes can be reviewed (issue 12, point 3): the default text shows every removal first,
a sample of every action × kind, counts per school and per klas, and people by leerlingnummer, name and klas
(never an ``eck-`` digest when the person has a leerlingnummer); ``--all`` lists everything; a search finds
changes by name, leerlingnummer, klas or course; an old plan file still loads."""

from __future__ import annotations

import orjson

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind, fingerprint
from koppel.model.keys import membership_fingerprint, membership_key
from koppel.plan.model import Plan
from koppel.plan.render import PersonLabel, people_from_state, render_search, render_text, search_changes

SCHOOLS = ("12AB00", "34CD00")


def _group(key: str, name: str, school: str, type_: str) -> Change:
    attrs = {"type": type_, "name": name, "code": name, "parent": f"school:{school}", "school": school,
             "school_year": "2025-2026"}
    return Change(Action.CREATE, ObjectKind.GROUP, key, "new in the LAS", 1, school, name, None, attrs,
                  fingerprint=fingerprint(attrs))


def _pupil(n: int, school: str) -> Change:
    attrs = {"role": "student", "given": f"Pupil{n}", "prefix": "", "family": f"Family{n}",
             "username": str(100000 + n), "email": None}
    return Change(Action.CREATE, ObjectKind.PERSON, f"eck-{n:020x}", "new in the LAS", 2, school,
                  f"Pupil{n} Family{n}", None, attrs, fingerprint=fingerprint(attrs),
                  meta={"leerlingnummer": str(100000 + n), "source": "las"})


def _member(person: str, name: str, group: str, group_name: str, school: str) -> Change:
    attrs = {"person": person, "group": group, "role": "student", "home": False}
    return Change(Action.CREATE, ObjectKind.MEMBERSHIP, membership_key(person, group, "student"), "new in the LAS",
                  3, school, f"{name} → {group_name}", None, attrs, fingerprint=membership_fingerprint(False))


def big_plan() -> Plan:
    """Two schools, 1,000 pupils in 20 klassen, each in their klas and 5 courses; 4 removals at the end."""
    changes: list[Change] = []
    for s, school in enumerate(SCHOOLS):
        for k in range(10):
            klas = f"{k + 1}{'AB'[s]}"
            changes.append(_group(f"klas:{school}:{klas}", klas, school, "klas"))
            for v in ("ne", "en", "wi", "gs", "ak"):
                changes.append(_group(f"course:{school}:{klas}.{v}", f"{v} {klas}.{v}", school, "course"))
    people = []
    for n in range(1000):
        school = SCHOOLS[n % 2]
        klas = f"{(n // 2) % 10 + 1}{'AB'[n % 2]}"
        pupil = _pupil(n, school)
        people.append(pupil)
        changes.append(pupil)
        changes.append(_member(pupil.key, pupil.label, f"klas:{school}:{klas}", klas, school))
        for v in ("ne", "en", "wi", "gs", "ak"):
            changes.append(_member(pupil.key, pupil.label, f"course:{school}:{klas}.{v}", f"{v} {klas}.{v}", school))
    leaver = "eck-" + "f" * 20
    changes.append(Change(Action.SUSPEND, ObjectKind.PERSON, leaver, "left the school on 2025-10-01", 8, SCHOOLS[0],
                          "Lea Vertrokken", {"role": "student"}, None))
    for v in ("ne", "en", "wi"):
        key = membership_key(leaver, f"course:{SCHOOLS[0]}:1A.{v}", "student")
        changes.append(Change(Action.DELETE, ObjectKind.MEMBERSHIP, key, "no longer in the LAS", 7, SCHOOLS[0],
                              f"Lea Vertrokken → {v} 1A.{v}", None, None))
    return Plan("t", "its", "lineage", 3, "2025-10-01", "2025-2026", tuple(changes))


def test_the_default_text_shows_every_removal_samples_and_counts() -> None:
    plan = big_plan()
    assert len(plan.changes) > 6000
    text = render_text(plan, limit=50, school_names={"12AB00": "Het Baken"})
    removals = text.index("Removals (4):")
    sample = text.index("Changes, a sample of each kind")
    assert removals < sample, "removals come first"
    assert "- suspend person     Lea Vertrokken" in text
    for v in ("ne", "en", "wi"):
        assert f"x delete  membership Lea Vertrokken → {v} 1A.{v}" in text
    for what in ("create group: 3 of 120", "create person: 3 of 1,000", "create membership: 3 of 6,000"):
        assert what in text, what
    assert "12AB00 Het Baken" in text and "per school" in text
    assert "per klas" in text and "12AB00 1A" in text and "34CD00 10B" in text
    assert "… and " in text and "more (use --all, --search TEXT, or --format json)" in text
    assert len(text.splitlines()) < 150, "a reviewable page, not six thousand lines"


def test_people_are_shown_by_leerlingnummer_name_and_klas_not_by_eck_digest() -> None:
    text = render_text(big_plan(), limit=50)
    lines = [line for line in text.splitlines() if "create  person" in line or "create  membership" in line]
    assert lines
    for line in lines:
        assert "eck-" not in line, line
        assert "(" in line and "10" in line, line  # "100123 Pupil123 Family123 (2A)"
    assert "+ create  person     100000 Pupil0 Family0 (1A)" in text


def test_the_sample_is_deterministic_and_spread() -> None:
    a, b = render_text(big_plan(), limit=50), render_text(big_plan(), limit=50)
    assert a == b
    persons = [line for line in a.splitlines() if "create  person" in line]
    assert len({line.split()[3] for line in persons}) == 3 and "100000" in persons[0] and "100333" in persons[1]


def test_all_lists_every_change_removals_first() -> None:
    plan = big_plan()
    text = render_text(plan, limit=None)
    assert text.count("\n  + create") == len(plan.changes) - 4
    assert text.index("Removals (4):") < text.index("Other changes")
    assert "more (use --all" not in text


def test_many_removals_are_all_shown_up_to_a_cap_with_their_number() -> None:
    plan = big_plan()
    gone = [Change(Action.SUSPEND, ObjectKind.PERSON, f"las:x:{n}", "left the school", 8, SCHOOLS[1], f"Left {n}",
                   None, None) for n in range(700)]
    plan = plan.with_changes(plan.changes + tuple(gone))
    text = render_text(plan, limit=50)
    assert "Removals (704, the first 500 shown):" in text
    assert "… and 204 more (--all, --search TEXT or --format json)" in text


def test_removals_of_persons_the_state_knows_show_their_number() -> None:
    rows = [("eck-" + "f" * 20, {"given": "Lea", "prefix": "", "family": "Vertrokken"},
             {"leerlingnummer": "99001"}, "active")]
    text = render_text(big_plan(), limit=50, people=people_from_state(rows))
    assert "- suspend person     99001 Lea Vertrokken" in text
    assert "99001 Lea Vertrokken → ne 1A.ne" in text


def test_search_finds_by_name_leerlingnummer_klas_and_course() -> None:
    plan = big_plan()
    by_name = search_changes(plan, "pupil17 family17")
    assert {c.kind for c in by_name} == {ObjectKind.PERSON, ObjectKind.MEMBERSHIP} and len(by_name) == 7
    assert search_changes(plan, "100017") == by_name
    klas = search_changes(plan, "7b")
    assert klas and all("7B" in c.label or "7B" in c.key or c.kind is ObjectKind.PERSON for c in klas)
    assert len([c for c in klas if c.kind is ObjectKind.PERSON]) == 50, "every pupil of 7B"
    course = search_changes(plan, "WI 3A.WI")
    assert {c.kind for c in course} == {ObjectKind.GROUP, ObjectKind.MEMBERSHIP} and len(course) == 51
    text = render_search(plan, "vertrokken")
    assert "4 of" in text and text.index("suspend person") < text.index("Lea Vertrokken → ne")
    assert "0 of" in render_search(plan, "nobody at all")


def test_an_old_plan_file_still_loads_and_renders() -> None:
    """A plan file of format 1 as koppel wrote it before: changes without label, meta or target_id."""
    attrs = {"type": "school", "name": "Het Baken", "code": "12AB00", "parent": None, "school": "12AB00",
             "school_year": None}
    member = {"person": "las:12AB00:1", "group": "school:12AB00", "role": "student", "home": True}
    old = {
        "format_version": 1, "tenant": "t", "target": "its", "lineage": "l", "serial": 0, "today": "2025-10-01",
        "school_year": "2025-2026", "held": False, "holds": [], "policy": {}, "notes": [], "diagnostics": {},
        "changes": [
            {"action": "create", "kind": "group", "key": "school:12AB00", "reason": "new in the LAS", "phase": 0,
             "school": "12AB00", "after": attrs, "fingerprint": fingerprint(attrs)},
            {"action": "create", "kind": "membership", "key": "las:12AB00:1|school:12AB00|student",
             "reason": "new in the LAS", "phase": 3, "after": member, "fingerprint": membership_fingerprint(True)},
            {"action": "delete", "kind": "membership", "key": "las:12AB00:2|school:12AB00|student",
             "reason": "no longer in the LAS", "phase": 7},
        ],
    }
    plan = Plan.from_json_bytes(orjson.dumps(old))
    text = render_text(plan)
    assert "Removals (1):" in text and "las:12AB00:2|school:12AB00|student" in text
    assert render_search(plan, "baken").startswith(f"Plan {plan.id}: 1 of 3 changes match")
    assert search_changes(plan, "LAS:12AB00:2|school:12AB00|student") == [plan.changes[2]], "an exact sync key"
    assert Plan.from_json_bytes(plan.to_json_bytes()).id == plan.id


def test_person_label_text() -> None:
    assert str(PersonLabel("100123", "Jan de Vries", "3A")) == "100123 Jan de Vries (3A)"
    assert str(PersonLabel(None, "Jan de Vries")) == "Jan de Vries"
