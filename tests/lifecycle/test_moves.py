"""Moves (issue 4 §2): a pupil changes klas, stops a subject, starts one; a docent changes lesgroepen.

The next run adds, removes or moves exactly those memberships and nothing else about the people
involved: the plan's change set is compared with what the generator's own LAS data implies, and the
sandbox's request log shows only membership writes.
"""

from __future__ import annotations

import datetime as dt

import pytest

from koppel.generator import drop_subject, move_pupil
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from tests.lifecycle.support import (
    ROLE_OF,
    YEAR,
    build_baseline,
    change_group,
    delta,
    expected_memberships,
    klas_id,
    sandbox_memberships,
    writes,
)

TODAY = dt.date(2025, 10, 1)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("moves-baseline"), students=90, seed=11)


@pytest.fixture
def world(baseline, tmp_path):
    w = baseline.world(tmp_path / "world")
    yield w
    w.close()


def _as_tuples(world, changes) -> set[tuple[str, str, str]]:
    usernames = {p["sync_key"]: p["username"] for p in world.sandbox.objects()["persons"]}
    out = set()
    for c in changes:
        attrs = c.after if c.action is Action.CREATE else c.before
        out.add((usernames[attrs["person"]], attrs["group"], attrs["role"]))
    return out


def test_the_baseline_holds_exactly_what_the_las_says(world):
    objects = world.sandbox.objects()
    assert sandbox_memberships(objects) == expected_memberships(world.bestuur[YEAR])
    assert {ROLE_OF[m["role"]] for m in objects["memberships"]} == {"student", "teacher", "mentor"}


def test_klas_change_subject_stopped_and_started_and_a_docent_who_changes_lesgroepen(world):
    b = world.bestuur[YEAR]
    # A pupil who is moved up a year (versnellen: 1st-year klas → 2nd-year klas).
    mover = min((p for p in b.pupils if p.leerjaar == 1), key=lambda p: int(p.stamnr))
    new_klas = next(k for k in sorted(b.klassen, key=lambda k: k.name) if k.leerjaar == 2)
    changed = move_pupil(b, mover.stamnr, new_klas.name)
    # A pupil who stops a subject (leaves a cluster) and one who starts one (joins a cluster).
    clusters = sorted((g for g in changed.lesgroepen if g.klas is None and len(g.pupils) > 1), key=lambda g: g.name)
    stopped = clusters[0]
    dropper = changed.pupil(stopped.pupils[0])
    changed = drop_subject(changed, dropper.stamnr, stopped.name)
    started = next(g for g in clusters[1:] if g.leerjaar == clusters[1].leerjaar)
    starter = next(p for p in sorted(changed.pupils, key=lambda p: int(p.stamnr))
                   if p.leerjaar == started.leerjaar and p.onderwijssoort == started.onderwijssoort
                   and p.stamnr not in started.pupils and p.stamnr not in (mover.stamnr, dropper.stamnr))
    started_now = changed.lesgroep(started.brin6, started.name)
    changed = change_group(changed, started_now, pupils=tuple(sorted((*started_now.pupils, starter.stamnr), key=int)))
    # A docent who hands one lesgroep over and takes on another.
    taught = sorted((g for g in changed.lesgroepen if g.teachers), key=lambda g: g.name)
    given_up = taught[0]
    docent = given_up.teachers[0]
    taken_on = next(g for g in taught if docent not in g.teachers and g.name != given_up.name)
    changed = change_group(changed, given_up, teachers=tuple(c for c in given_up.teachers if c != docent))
    taken_on = changed.lesgroep(taken_on.brin6, taken_on.name)
    changed = change_group(changed, taken_on, teachers=(*taken_on.teachers, docent))

    before_las, after_las = expected_memberships(b), expected_memberships(changed)
    world.write_export(changed)
    app = world.app(TODAY)
    plan = app.plan(None, None).plan

    # Exactly the memberships the LAS change implies; no person or group changes at all.
    assert {c.kind for c in plan.changes} == {ObjectKind.MEMBERSHIP}
    creates = [c for c in plan.changes if c.action is Action.CREATE]
    deletes = [c for c in plan.changes if c.action is Action.DELETE]
    assert len(creates) + len(deletes) == len(plan.changes), {c.action for c in plan.changes}
    assert _as_tuples(world, creates) == after_las - before_las
    assert _as_tuples(world, deletes) == before_las - after_las
    involved = {u for u, _, _ in (after_las ^ before_las)}
    assert involved == {mover.stamnr, dropper.stamnr, starter.stamnr, docent.lower()}
    assert (dropper.stamnr, f"las:{b.schools[0].brin6}:{YEAR}:{stopped.name}", "student") in before_las - after_las
    assert (starter.stamnr, f"las:{b.schools[0].brin6}:{YEAR}:{started.name}", "student") in after_las - before_las

    # The klas change reads as a move, on both sides.
    brin = b.schools[0].brin6
    klas_changes = [c for c in plan.changes
                    if (c.after or c.before)["group"] in (klas_id(brin, YEAR, mover.klas), klas_id(brin, YEAR, new_klas.name))]
    assert len(klas_changes) == 2
    assert all(c.reason == f"moved from {mover.klas} to {new_klas.name}" for c in klas_changes), \
        [c.reason for c in klas_changes]
    assert not plan.held

    # Applied: only membership writes reach itslearning, in requests of at most five objects (two at a
    # time keep the budget of nine operations full).
    stats = writes(world.sandbox.stats())
    result = app.apply(plan)
    assert result.status == "succeeded"
    sent = delta(stats, writes(world.sandbox.stats()))
    assert set(sent) == {"createMemberships", "deleteMemberships"}
    for op, action in (("createMemberships", Action.CREATE), ("deleteMemberships", Action.DELETE)):
        n = sum(1 for c in plan.changes if c.action is action)
        assert -(-n // 5) <= sent[op] <= -(-n // 4), (op, n, sent)
    assert sandbox_memberships(world.sandbox.objects()) == after_las
    assert world.app(TODAY).plan(None, None).plan.empty
