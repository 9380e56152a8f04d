"""The jaarovergang (issue 4 §3): the same generated bestuur in 2025-2026 and 2026-2027.

Pupils move up, exam pupils leave, first-years arrive, klassen get new names. ``koppel plan --year
2026-2027`` previews the transition; it is one plan, held for approval; ``koppel apply --approve``
applies it. Last year's courses are archived — still in itslearning, under the school's archive
hierarchy — never deleted, and their memberships follow ``archived_memberships``. Next year's groups
can be provisioned before the switch, with teachers only.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from koppel.generator.curriculum import STREAMS
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from tests.lifecycle.support import (
    NEXT_YEAR,
    TARGET,
    TENANT,
    YEAR,
    build_baseline,
    delta,
    expected_memberships,
    sandbox_memberships,
    writes,
)

APPROVER = "Mw. A. de Vries"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("jaarovergang-baseline"), students=90, seed=11,
                          years=(YEAR, NEXT_YEAR))


def _year_of(sync_id: str) -> str | None:
    for year in (str(YEAR), str(NEXT_YEAR)):
        if f":{year}" in sync_id:
            return year
    return None


def _in_year(memberships: set[tuple[str, str, str]], year) -> set[tuple[str, str, str]]:
    return {m for m in memberships if _year_of(m[1]) == str(year)}


def _current(memberships: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """School memberships and those of next year's groups: what a pupil sees as this year."""
    return {m for m in memberships if m[1].startswith("school:") or _year_of(m[1]) == str(NEXT_YEAR)}


@pytest.mark.parametrize("archived_memberships", ["keep", "remove", "keep-teachers"])
def test_the_jaarovergang_is_one_held_plan_that_archives_last_year_and_fills_the_new_one(
        baseline, tmp_path, archived_memberships):
    world = baseline.world(tmp_path / "world")
    try:
        world.configure(policy={"lifecycle": {"archived_memberships": archived_memberships}})
        old, new = world.bestuur[YEAR], world.bestuur[NEXT_YEAR]
        brin = old.schools[0].brin6
        before_objects = world.sandbox.objects()
        old_groups = {g["sync_id"]: g for g in before_objects["groups"] if _year_of(g["sync_id"]) == str(YEAR)}
        assert old_groups and sandbox_memberships(before_objects) == expected_memberships(old)
        writes_before = writes(world.sandbox.stats())

        # The preview: one plan, held for the jaarovergang, nothing written.
        preview = world.cli("plan", "--year", str(NEXT_YEAR), "-f", "json")
        assert preview.exit_code == 0, preview.output
        plan = json.loads(preview.stdout)
        assert plan["held"] and plan["school_year"] == str(NEXT_YEAR)
        assert "jaarovergang" in {h["guard"] for h in plan["holds"]}
        changes = plan["changes"]
        archived = {c["key"] for c in changes if c["kind"] == "group" and c["action"] == "archive"}
        assert archived == set(old_groups), "every group of last year is archived"
        assert not [c for c in changes if c["kind"] == "group" and c["action"] == "delete"]
        assert all(c["reason"] == f"school year {YEAR} ended (jaarovergang)" for c in changes
                   if c["key"] in archived)
        created_groups = {c["key"] for c in changes if c["kind"] == "group" and c["action"] == "create"}
        assert created_groups and all(_year_of(k) == str(NEXT_YEAR) for k in created_groups)
        leavers = {p.stamnr for p in old.pupils} - {p.stamnr for p in new.pupils}
        newcomers = {p.stamnr for p in new.pupils} - {p.stamnr for p in old.pupils}
        exam = {p.stamnr for p in old.pupils if p.leerjaar >= STREAMS[p.onderwijssoort].exam_year}
        assert exam and exam <= leavers and newcomers
        assert all(p.leerjaar == 1 for p in new.pupils if p.stamnr in newcomers)
        text = world.cli("plan", "--year", str(NEXT_YEAR))
        assert "HELD" in text.stdout and "jaarovergang 2025-2026 → 2026-2027" in text.stdout
        assert delta(writes_before, writes(world.sandbox.stats())) == {}

        # `koppel sync` does not apply it either; `koppel status` shows the hold.
        synced = world.cli("sync", "--year", str(NEXT_YEAR))
        assert synced.exit_code == 3, synced.output
        assert delta(writes_before, writes(world.sandbox.stats())) == {}
        status = world.cli("status")
        assert f"HELD plan {plan['id']}" in status.stdout and f"koppel apply --approve {plan['id']}" in status.stdout

        # Approved: applied in one run, recorded with who approved it.
        applied = world.cli("apply", "--approve", plan["id"], "--by", APPROVER, "--yes")
        assert applied.exit_code == 0, applied.output
        app = world.app(dt.date(2026, 8, 3))
        record = app.store.plan_record(plan["id"])
        assert (record.status, record.approved_by) == ("applied", APPROVER) and record.approved_at
        run = app.store.run(record.run_id)
        assert (run.kind, run.status, run.approved_by, run.plan_id) == ("apply", "succeeded", APPROVER, plan["id"])

        after = world.sandbox.objects()
        groups = {g["sync_id"]: g for g in after["groups"]}
        # No course of last year is deleted: all still there, under the school's archive hierarchy.
        archive = groups[f"school:{brin}:archive"]
        assert (archive["parent_sync_id"], archive["name"]) == (f"school:{brin}", "Archief")
        for sync_id, was in old_groups.items():
            now = groups[sync_id]
            assert now["parent_sync_id"] == archive["sync_id"], sync_id
            assert now["type"] == was["type"] and now["name"].endswith(f"({YEAR})")
            if was["course"] is not None:
                assert now["course"]["id"] == was["course"]["id"] and now["course"]["title"].endswith(f"({YEAR})")
        assert not any(c["orphaned"] for c in after["courses"])
        assert "deleteGroups" not in writes(world.sandbox.stats())

        # Every pupil and docent in the right new groups, exactly as the LAS has them.
        current = sandbox_memberships(after)
        assert _current(current) == expected_memberships(new)
        # Memberships of last year's groups follow the policy.
        last_year = _in_year(sandbox_memberships(after, include_trashed=True), YEAR)
        had = _in_year(expected_memberships(old), YEAR)
        kept = {"keep": had, "remove": set(), "keep-teachers": {m for m in had if m[2] in ("teacher", "mentor")}}
        assert last_year == kept[archived_memberships]
        assert kept[archived_memberships] != had or archived_memberships == "keep"

        # Exam pupils (and the few others who left) are suspended; first-years are new accounts.
        persons = {p["username"]: p for p in after["persons"]}
        teachers_left = {t.docentcode.lower() for t in old.teachers} - {t.docentcode.lower() for t in new.teachers}
        assert {u for u, p in persons.items() if p["trashed"]} == leavers | teachers_left
        assert all(not persons[s]["trashed"] for s in newcomers)
        before_ids = {p["username"]: p["id"] for p in before_objects["persons"]}
        assert all(persons[u]["id"] == i for u, i in before_ids.items()), "nobody is recreated"
        assert world.sandbox.stats()["persons"] == len(new.pupils) + len(new.teachers)

        # One step: afterwards nothing is left to do for the new year.
        again = world.cli("plan", "--year", str(NEXT_YEAR), "--detailed-exitcode")
        assert again.exit_code == 0, again.output
    finally:
        world.close()


def test_next_years_groups_are_provisioned_before_the_switch_with_teachers_only(baseline, tmp_path):
    world = baseline.world(tmp_path / "world")
    try:
        world.configure(school_year="auto", policy={"lifecycle": {"provision_next_year": True,
                                                                  "provision_from": "06-15"}})
        new = world.bestuur[NEXT_YEAR]

        # Early June: not yet.
        early = world.app(dt.date(2026, 6, 1)).plan(None, None)
        assert early.provisioned_year is None and early.plan.empty

        # From 15 June: next year's groups are created, with their teachers and mentors, no pupils.
        app = world.app(dt.date(2026, 6, 20))
        outcome = app.plan(None, None)
        plan = outcome.plan
        assert outcome.provisioned_year == NEXT_YEAR and str(outcome.year) == str(YEAR)
        assert not plan.held
        assert {(c.kind, c.action) for c in plan.changes} == {(ObjectKind.GROUP, Action.CREATE),
                                                               (ObjectKind.MEMBERSHIP, Action.CREATE)}
        assert all(_year_of(c.key) == str(NEXT_YEAR) for c in plan.changes if c.kind is ObjectKind.GROUP)
        roles = {c.after["role"] for c in plan.changes if c.kind is ObjectKind.MEMBERSHIP}
        assert roles == {"teacher", "mentor"}
        assert app.apply(plan).status == "succeeded"

        objects = world.sandbox.objects()
        next_year = _in_year(sandbox_memberships(objects), NEXT_YEAR)
        staying_staff = {t.docentcode.lower() for t in new.teachers} & {p["username"] for p in objects["persons"]}
        expected = {m for m in _in_year(expected_memberships(new), NEXT_YEAR) if m[2] != "student"
                    and m[0] in staying_staff}
        assert next_year == expected, "teachers (and mentors) only: pupils do not see next year's courses"
        assert not any(m[2] == "student" for m in next_year)
        # This year carries on untouched.
        assert _in_year(sandbox_memberships(objects), YEAR) == _in_year(expected_memberships(world.bestuur[YEAR]), YEAR)
        assert world.app(dt.date(2026, 7, 1)).plan(None, None).plan.empty

        # The switch (1 August): the held jaarovergang fills the provisioned groups, creating none.
        app = world.app(dt.date(2026, 8, 3))
        switch = app.plan(None, None).plan
        assert switch.held and switch.school_year == str(NEXT_YEAR)
        assert not [c for c in switch.changes if c.kind is ObjectKind.GROUP and c.action is Action.CREATE]
        assert app.approve(switch.id, approved_by=APPROVER).status == "succeeded"
        objects = world.sandbox.objects()
        current = {m for m in sandbox_memberships(objects)
                   if m[1].startswith("school:") or _year_of(m[1]) == str(NEXT_YEAR)}
        assert current == expected_memberships(new)
        assert world.app(dt.date(2026, 8, 4)).plan(None, None).plan.empty
        assert app.store.counts(TENANT, TARGET)["group"]["archived"] == len(
            [g for g in objects["groups"] if _year_of(g["sync_id"]) == str(YEAR)])
    finally:
        world.close()
