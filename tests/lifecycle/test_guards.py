"""Guards (issue 4 §5): a bad export never wipes a school.

* Suspensions and deletions above a threshold — per object kind, per school and for the whole tenant —
  hold the plan; nothing is suspended until someone approves it (``koppel apply --approve ID --by``),
  which the run records; a held plan goes stale when the state moves.
* An empty, failed or partial source read stops the run before planning: nothing planned, nothing
  sent, the state untouched (its objects compared row for row).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil

import pytest

from koppel.errors import SourceError, StalePlanError
from koppel.model.change import Action
from tests.lifecycle.support import (
    TARGET,
    TENANT,
    YEAR,
    build_baseline,
    change_pupil,
    delta,
    sqlite_rows,
    state_objects,
    without_pupils,
    writes,
)

TODAY = dt.date(2025, 10, 1)
APPROVER = "J. Jansen (ict)"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("guards-baseline"), students=90, seed=11)


@pytest.fixture(scope="module")
def two_schools(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("guards-two-schools"), students=120, schools=2, seed=11)


@pytest.fixture
def world(baseline, tmp_path):
    w = baseline.world(tmp_path / "world")
    yield w
    w.close()


def _half_missing(bestuur):
    pupils = sorted(bestuur.pupils, key=lambda p: int(p.stamnr))
    return without_pupils(bestuur, [p.stamnr for p in pupils[::2]]), pupils[::2]


def _trashed(world) -> set[str]:
    return {p["username"] for p in world.sandbox.objects()["persons"] if p["trashed"]}


# -- thresholds hold the plan -------------------------------------------------------------------------------


def test_half_the_pupils_missing_holds_the_plan_and_nothing_is_suspended_until_approved(world):
    original = world.bestuur[YEAR]
    brin = original.schools[0].brin6
    changed, missing = _half_missing(original)
    world.write_export(changed)
    stats = writes(world.sandbox.stats())

    synced = world.cli("sync")
    assert synced.exit_code == 3, synced.output
    assert "HELD" in synced.stdout
    assert delta(stats, writes(world.sandbox.stats())) == {}, "nothing was sent"
    assert _trashed(world) == set()
    # A plain `koppel apply` refuses it too.
    refused = world.cli("apply", "--yes")
    assert refused.exit_code == 3 and "is held" in refused.stderr
    assert delta(stats, writes(world.sandbox.stats())) == {}

    # `koppel status` shows the hold, per kind and per school.
    data = json.loads(world.cli("status", "-f", "json").stdout)
    (target,) = data["tenants"][0]["targets"]
    (held,) = target["held_plans"]
    holds = {(h["guard"], h["kind"], h["school"]): h for h in held["holds"]}
    persons = holds[("removals", "person", brin)]
    assert persons["count"] == len(missing) and persons["total"] == len(original.pupils) + len(original.teachers)
    assert ("removals", "membership", brin) in holds
    assert held["summary"]["suspend"] == len(missing)
    assert target["last_runs"][0]["status"] == "held"
    text = world.cli("status").stdout
    assert f"HELD plan {held['id']}" in text and f"{len(missing)} of {persons['total']} persons" in text

    # Approved: applied, and the run says who approved it and when.
    approved = world.cli("apply", "--approve", held["id"], "--by", APPROVER, "--yes")
    assert approved.exit_code == 0, approved.output
    assert _trashed(world) == {p.stamnr for p in missing}
    app = world.app(TODAY)
    record = app.store.plan_record(held["id"])
    assert (record.status, record.approved_by, record.decided_by) == ("applied", APPROVER, APPROVER)
    assert record.approved_at and record.run_id
    run = app.store.run(record.run_id)
    assert (run.status, run.approved_by, run.plan_id, run.kind) == ("succeeded", APPROVER, held["id"], "apply")
    assert f"(approved by {APPROVER})" in world.cli("status").stdout
    assert json.loads(world.cli("status", "-f", "json").stdout)["tenants"][0]["targets"][0]["held_plans"] == []


def test_a_held_plan_goes_stale_when_the_state_moves(world):
    original = world.bestuur[YEAR]
    world.write_export(_half_missing(original)[0])
    app = world.app(TODAY)
    held = app.sync(None, None)
    assert held.held and held.applied is None

    # Meanwhile the export is fixed and a small change is applied: the state moves on.
    pupil = min(original.pupils, key=lambda p: int(p.stamnr))
    world.write_export(change_pupil(original, pupil.stamnr, roepnaam="Bartholomeus"))
    moved = world.app(TODAY).sync(None, None)
    assert not moved.held and moved.applied.status == "succeeded"
    assert world.app(TODAY).store.plan_record(held.plan.id).status == "stale"

    stats = writes(world.sandbox.stats())
    cli = world.cli("apply", "--approve", held.plan.id, "--by", APPROVER, "--yes")
    assert cli.exit_code == 1 and "stale" in cli.stderr
    assert delta(stats, writes(world.sandbox.stats())) == {}
    assert _trashed(world) == set()
    # The error family says what to do next: a stale plan is a StalePlanError ("make a new plan").
    with pytest.raises(StalePlanError):
        world.app(TODAY).approve(held.plan.id, approved_by=APPROVER)
    assert delta(stats, writes(world.sandbox.stats())) == {}


def test_holds_are_per_school_and_per_kind(two_schools, tmp_path):
    world = two_schools.world(tmp_path / "world")
    try:
        b = world.bestuur[YEAR]
        small = min(b.schools, key=lambda s: sum(1 for p in b.pupils if p.brin6 == s.brin6)).brin6
        leaving = sorted((p for p in b.pupils if p.brin6 == small), key=lambda p: int(p.stamnr))[:10]
        world.write_export(without_pupils(b, [p.stamnr for p in leaving]))
        plan = world.app(TODAY).plan(None, None).plan
        holds = {(h.kind, h.school) for h in plan.holds}
        # 10 suspensions are well over 10 % of the small school, and under 10 % of the bestuur.
        assert ("person", small) in holds and ("person", None) not in holds
        assert all(school == small for _, school in holds)
        assert sum(1 for c in plan.changes if c.action is Action.SUSPEND) == 10

        # An absolute limit per kind: one pupil leaving is 1 person but many memberships.
        world.configure(policy={"guards": {"max_count": 5, "max_percent": 100.0}})
        world.write_export(without_pupils(b, [leaving[0].stamnr]))
        plan = world.app(TODAY).plan(None, None).plan
        assert {(h.kind, h.school) for h in plan.holds} == {("membership", small)}
        (hold,) = plan.holds
        assert hold.count == sum(1 for c in plan.changes if c.action is Action.DELETE) > 5
    finally:
        world.close()


def test_an_export_that_loses_its_clusters_holds_the_plan(world):
    """Archiving is the groups' suspension: half the courses leaving the LAS at once is held, not applied.

    (A Magister export profile that lost its Groepen column drops every cluster lesgroep.)"""
    original = world.bestuur[YEAR]
    brin = original.schools[0].brin6
    world.write_export(dataclasses.replace(original, lesgroepen=tuple(g for g in original.lesgroepen if g.klas)))
    stats = writes(world.sandbox.stats())
    courses = {g["sync_id"]: g["parent_sync_id"] for g in world.sandbox.objects()["groups"]}

    outcome = world.app(TODAY).sync(None, None)
    removed = [c for c in outcome.plan.changes if c.kind.value == "group"]
    assert len(removed) == sum(1 for g in original.lesgroepen if not g.klas) > 10
    assert outcome.held, "about 40 % of the school's courses would be archived without anyone approving it"
    assert ("group", brin) in {(h.kind, h.school) for h in outcome.plan.holds}
    assert delta(stats, writes(world.sandbox.stats())) == {}
    assert {g["sync_id"]: g["parent_sync_id"] for g in world.sandbox.objects()["groups"]} == courses


def test_an_export_that_loses_its_email_column_does_not_clear_every_email(world):
    original = world.bestuur[YEAR]
    path = world.export_dir(YEAR) / original.schools[0].brin6 / "leerlingen.csv"
    rows = [line.split(";") for line in path.read_bytes().decode("utf-8-sig").split("\r\n") if line]
    column = rows[0].index("Email")
    path.write_bytes(("\r\n".join(";".join(r[:column] + r[column + 1:]) for r in rows) + "\r\n").encode("utf-8-sig"))
    emails = {p["sync_key"]: p["email"] for p in world.sandbox.objects()["persons"]}
    try:
        outcome = world.app(TODAY).sync(None, None)
    except SourceError:
        outcome = None  # stopping the read is as good as holding the plan
    assert outcome is None or outcome.held
    assert {p["sync_key"]: p["email"] for p in world.sandbox.objects()["persons"]} == emails


# -- a bad read stops the run before planning ------------------------------------------------------------------


def _empty(world):
    b = world.bestuur[YEAR]
    world.write_export(dataclasses.replace(b, pupils=(), teachers=(), klassen=(), lesgroepen=()))


def _missing_file(world):
    (world.export_dir(YEAR) / world.bestuur[YEAR].schools[0].brin6 / "leerlingen.csv").unlink()


def _missing_folder(world):
    shutil.rmtree(world.export_dir(YEAR))


def _pupils_header_only(world):
    path = world.export_dir(YEAR) / world.bestuur[YEAR].schools[0].brin6 / "leerlingen.csv"
    path.write_bytes(path.read_bytes().split(b"\r\n")[0] + b"\r\n")


@pytest.mark.parametrize("damage", [_empty, _pupils_header_only, _missing_file, _missing_folder],
                         ids=["empty export", "leerlingen header only", "leerlingen.csv missing", "export missing"])
def test_an_empty_or_failed_source_read_stops_the_run_and_leaves_the_state_untouched(world, damage):
    original = world.bestuur[YEAR]
    state_before = state_objects(world.state_db)
    plans_before = sqlite_rows(world.state_db, "SELECT id, status FROM plans ORDER BY id")
    runs_before = sqlite_rows(world.state_db, "SELECT id, status FROM runs ORDER BY id")
    stats = writes(world.sandbox.stats())
    damage(world)

    for command in (("plan",), ("sync",), ("apply", "--yes")):
        result = world.cli(*command)
        assert result.exit_code == 1, (command, result.output)
        assert result.stderr.startswith("error:") and "Applied" not in result.stdout, result.output
    with pytest.raises(SourceError):
        world.app(TODAY).sync(None, None)

    assert state_objects(world.state_db) == state_before, "the state is untouched"
    assert sqlite_rows(world.state_db, "SELECT id, status FROM plans ORDER BY id") == plans_before, "nothing planned"
    assert sqlite_rows(world.state_db, "SELECT id, status FROM runs ORDER BY id") == runs_before
    assert delta(stats, writes(world.sandbox.stats())) == {}
    status = json.loads(world.cli("status", "-f", "json").stdout)["tenants"][0]
    assert status["last_source_read"]["status"] == "failed" and status["last_source_read"]["message"]
    persons = len(original.pupils) + len(original.teachers)
    assert world.app(TODAY).store.counts(TENANT, TARGET)["person"] == {"active": persons}


def test_a_bestuur_export_missing_one_school_stops_instead_of_suspending_that_school(two_schools, tmp_path):
    world = two_schools.world(tmp_path / "world")
    try:
        state_before = state_objects(world.state_db)
        stats = writes(world.sandbox.stats())
        gone = world.bestuur[YEAR].schools[1].brin6
        shutil.rmtree(world.export_dir(YEAR) / gone)
        result = world.cli("sync")
        assert result.exit_code == 1, result.output
        assert gone in result.stderr
        assert state_objects(world.state_db) == state_before
        assert delta(stats, writes(world.sandbox.stats())) == {}
        with pytest.raises(SourceError):
            world.app(TODAY).plan(None, None)
    finally:
        world.close()

