"""Leavers (issue 4 §1), end to end against the itslearning sandbox.

A pupil absent from a complete export is suspended (itslearning's trash can), deleted only after the
grace period of their kind, and restored — the very same account — when they come back in time. The
clock is injected (``Koppel.open(..., today=...)``); the dates in the plan are asserted.
"""

from __future__ import annotations

import datetime as dt

import pytest

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from tests.lifecycle.support import (
    TARGET,
    TENANT,
    YEAR,
    build_baseline,
    delta,
    live_persons,
    sqlite_rows,
    without_pupils,
    without_teacher,
    writes,
)

OCT_1 = dt.date(2025, 10, 1)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("leavers-baseline"), students=90, seed=11)


@pytest.fixture
def world(baseline, tmp_path):
    w = baseline.world(tmp_path / "world")
    yield w
    w.close()


def _pupil(bestuur, index: int = 0):
    """A pupil below the exam year (so nothing else about the school year matters)."""
    pupils = sorted((p for p in bestuur.pupils if p.leerjaar <= 2), key=lambda p: int(p.stamnr))
    return pupils[index]


def _teacher(bestuur):
    mentors = {k.mentor for k in bestuur.klassen}
    teaching = {c for g in bestuur.lesgroepen for c in g.teachers}
    return min((t for t in bestuur.teachers if t.docentcode not in mentors and t.docentcode in teaching), key=lambda t: t.docentcode)


def _sandbox_person(world, username: str) -> dict:
    found = [p for p in world.sandbox.objects()["persons"] if p["username"] == username]
    assert len(found) == 1, f"{len(found)} accounts with user name {username!r} in the sandbox"
    return found[0]


def _active_memberships(world, person_key: str) -> set[str]:
    return {key for (key,) in sqlite_rows(world.state_db, "SELECT key FROM objects WHERE kind = 'membership' "
                                          "AND person_key = ? AND status = 'active'", person_key)}


def _only(plan, kind: ObjectKind) -> list:
    return [c for c in plan.changes if c.kind is kind]


def test_a_pupil_who_returns_within_the_grace_period_gets_the_same_account_back(world):
    original = world.bestuur[YEAR]
    pupil = _pupil(original)
    before = _sandbox_person(world, pupil.stamnr)
    key = before["sync_key"]
    memberships = _active_memberships(world, key)
    assert memberships, "the pupil has memberships to lose"

    # 1 October: the pupil is gone from a complete export → suspended, memberships removed, nothing else.
    world.write_export(without_pupils(original, [pupil.stamnr]))
    app = world.app(OCT_1)
    plan = app.plan(None, None).plan
    assert not plan.held
    (suspend,) = _only(plan, ObjectKind.PERSON)
    assert (suspend.action, suspend.key) == (Action.SUSPEND, key)
    assert suspend.dates == {"absent_since": "2025-10-01", "delete_after": "2025-10-31"}
    assert "absent from the LAS since 2025-10-01" in suspend.reason and "delete after 2025-10-31" in suspend.reason
    assert {c.key for c in _only(plan, ObjectKind.MEMBERSHIP)} == memberships
    assert {c.action for c in _only(plan, ObjectKind.MEMBERSHIP)} == {Action.DELETE}
    assert not _only(plan, ObjectKind.GROUP)
    assert app.apply(plan).status == "succeeded"
    trashed = _sandbox_person(world, pupil.stamnr)
    assert trashed["trashed"] and trashed["id"] == before["id"]
    assert app.store.object(TENANT, TARGET, key)["status"] == "suspended"

    # 20 October: back in the LAS → restored, not recreated; the memberships come back.
    world.write_export(original)
    stats_before = world.sandbox.stats()
    app = world.app(dt.date(2025, 10, 20))
    plan = app.plan(None, None).plan
    (restore,) = _only(plan, ObjectKind.PERSON)
    assert (restore.action, restore.key) == (Action.RESTORE, key)
    assert "back in the LAS" in restore.reason and "2025-10-01" in restore.reason and "suspended" in restore.reason
    assert {c.key for c in _only(plan, ObjectKind.MEMBERSHIP)} == memberships
    assert {c.action for c in _only(plan, ObjectKind.MEMBERSHIP)} == {Action.CREATE}
    assert app.apply(plan).status == "succeeded"

    after = _sandbox_person(world, pupil.stamnr)
    assert after["id"] == before["id"], "restored, not recreated: the same internal id"
    assert (after["sync_key"], after["username"], after["trashed"]) == (key, before["username"], False)
    assert after["created_at"] == before["created_at"]
    assert world.sandbox.stats()["persons"] == stats_before["persons"] + 1
    assert world.sandbox.stats()["trashed_persons"] == 0
    in_sandbox = {m["sync_id"] for m in world.sandbox.objects()["memberships"] if m["person_sync_key"] == key}
    assert len(in_sandbox) == len(memberships)
    assert app.store.object(TENANT, TARGET, key)["status"] == "active"
    assert world.app(dt.date(2025, 10, 21)).plan(None, None).plan.empty


def test_a_pupil_who_leaves_for_good_is_suspended_then_deleted_after_the_grace_period(world):
    original = world.bestuur[YEAR]
    pupil = _pupil(original, 1)
    key = _sandbox_person(world, pupil.stamnr)["sync_key"]
    world.write_export(without_pupils(original, [pupil.stamnr]))

    # `koppel plan` shows the suspension with its reason and dates (the CLI's clock is the real one).
    today = dt.datetime.now(dt.UTC).date()
    text = world.cli("plan").stdout
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("- suspend") and key in line)
    assert lines[at + 1].strip() == (f"absent from the LAS since {today}; delete after "
                                     f"{today + dt.timedelta(days=30)} (30 days' grace)")
    assert "student 30d" in text and "staff 60d" in text

    assert world.app(OCT_1).sync(None, None).applied.status == "succeeded"
    assert _sandbox_person(world, pupil.stamnr)["trashed"]

    # Inside the grace period nothing happens, and the plan says when the deletion is due.
    waiting = world.app(dt.date(2025, 10, 30)).plan(None, None).plan
    assert waiting.empty
    assert any("wait for their grace period" in n and "2025-10-31" in n for n in waiting.notes), waiting.notes

    # The day the grace period ends: deleted, with the dates in the plan.
    app = world.app(dt.date(2025, 10, 31))
    plan = app.plan(None, None).plan
    assert [(c.action, c.kind, c.key) for c in plan.changes] == [(Action.DELETE, ObjectKind.PERSON, key)]
    (delete,) = plan.changes
    assert delete.dates == {"absent_since": "2025-10-01", "delete_after": "2025-10-31"}
    assert "absent from the LAS since 2025-10-01" in delete.reason and "2025-10-31" in delete.reason
    assert not plan.held, "a deletion after the grace period was weighed when the person was suspended"
    before = writes(world.sandbox.stats())
    assert app.apply(plan).status == "succeeded"
    assert delta(before, writes(world.sandbox.stats())) == {"deletePersons": 1}
    assert app.store.object(TENANT, TARGET, key)["status"] == "deleted"
    assert key not in live_persons(world.sandbox)
    assert world.app(dt.date(2025, 12, 1)).plan(None, None).plan.empty


def test_staff_and_pupils_have_their_own_grace_periods(world):
    world.configure(policy={"lifecycle": {"grace_days_student": 14, "grace_days_staff": 45}})
    original = world.bestuur[YEAR]
    pupil, teacher = _pupil(original, 2), _teacher(original)
    pupil_key = _sandbox_person(world, pupil.stamnr)["sync_key"]
    teacher_key = _sandbox_person(world, teacher.docentcode.lower())["sync_key"]
    gone = without_teacher(without_pupils(original, [pupil.stamnr]), teacher.brin6, teacher.docentcode)
    world.write_export(gone)

    app = world.app(OCT_1)
    plan = app.plan(None, None).plan
    suspended = {c.key: c.dates for c in plan.changes if c.action is Action.SUSPEND}
    assert suspended == {
        pupil_key: {"absent_since": "2025-10-01", "delete_after": "2025-10-15"},
        teacher_key: {"absent_since": "2025-10-01", "delete_after": "2025-11-15"},
    }
    assert all(c.key in suspended for c in plan.changes if c.kind is ObjectKind.PERSON)
    assert app.apply(plan).status == "succeeded"
    trash = {p["sync_key"] for p in world.sandbox.objects()["persons"] if p["trashed"]}
    assert trash == {pupil_key, teacher_key}

    def deletions(day: dt.date) -> list[str]:
        app = world.app(day)
        plan = app.plan(None, None).plan
        assert all(c.action is Action.DELETE and c.kind is ObjectKind.PERSON for c in plan.changes)
        if plan.changes:
            assert app.apply(plan).status == "succeeded"
        return [c.key for c in plan.changes]

    assert deletions(dt.date(2025, 10, 14)) == []
    assert deletions(dt.date(2025, 10, 15)) == [pupil_key]
    assert deletions(dt.date(2025, 11, 14)) == []
    assert deletions(dt.date(2025, 11, 15)) == [teacher_key]
