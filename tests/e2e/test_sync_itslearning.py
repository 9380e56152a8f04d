"""End to end: a generated school → `koppel sync` → the itslearning sandbox holds exactly the expected
hierarchy, persons and memberships; LAS changes send only those operations; a second sync sends nothing."""

from __future__ import annotations

import pytest

from koppel.errors import PreflightFailed
from koppel.generator import add_teacher, drop_subject, move_pupil
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from tests.e2e.workspace import SITE_ROOT, make_workspace

WRITE_OPS = {"createPersons", "createGroups", "createMemberships", "deletePersons", "deleteGroups",
             "deleteMemberships", "updatePersons", "updateGroups", "updateMemberships", "createPerson",
             "createGroup", "createMembership", "deletePerson", "deleteGroup", "deleteMembership"}


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path)
    yield workspace
    workspace.close()


def landed(sandbox):
    """What the sandbox holds: persons, groups and (person, group, role) memberships, by sync key."""
    objects = sandbox.objects()
    persons = {p["sync_key"]: p for p in objects["persons"] if not p["trashed"]}
    groups = {g["sync_id"]: g for g in objects["groups"]}
    memberships = {(m["person_sync_key"], m["group_sync_id"]): m for m in objects["memberships"]
                   if not m["person_trashed"]}
    return persons, groups, memberships


def expected(app):
    outcome = app.plan(None, None)
    return outcome


def writes(stats) -> dict[str, int]:
    return {op: n for op, n in stats["requests"].items() if op in WRITE_OPS}


def test_sync_lands_exactly_the_desired_objects(ws):
    app = ws.app()
    first = app.plan(None, None).plan
    creates = {kind: {c.key: c for c in first.changes if c.kind is kind} for kind in ObjectKind}
    result = app.apply(first)
    assert result.status == "succeeded", result.failures[:3]
    persons, groups, memberships = landed(ws.sandbox)
    assert set(persons) == set(creates[ObjectKind.PERSON])
    assert set(groups) == set(creates[ObjectKind.GROUP]) | {SITE_ROOT}
    want = {(c.after["person"], c.after["group"]) for c in creates[ObjectKind.MEMBERSHIP].values()}
    assert set(memberships) == want
    stats = ws.sandbox.stats()
    assert (stats["persons"], stats["groups"] - 1, stats["memberships"]) == (
        len(creates[ObjectKind.PERSON]), len(creates[ObjectKind.GROUP]), len(want))
    # Names, profiles and hierarchy types made it across.
    some_pupil = next(c for c in creates[ObjectKind.PERSON].values() if c.after["role"] == "student")
    held = persons[some_pupil.key]
    assert (held["first"], held["last"], held["profile"]) == (some_pupil.after["given"], some_pupil.after["family"],
                                                               "Student")
    course = next(c for c in creates[ObjectKind.GROUP].values() if c.after["type"] == "course")
    assert groups[course.key]["type"] == "Course" and groups[course.key]["parent_sync_id"] == course.after["parent"]
    assert groups[course.key]["course"]["title"] == course.after["name"]
    school = next(c for c in creates[ObjectKind.GROUP].values() if c.after["type"] == "school")
    assert groups[school.key]["type"] == "School" and groups[school.key]["parent_sync_id"] == SITE_ROOT
    homes = [m for m in memberships.values() if m["home_organisation"]]
    assert len(homes) == len(persons), "exactly one HomeOrganisation membership per person"


def test_las_changes_send_only_those_operations_and_a_quiet_sync_sends_nothing(ws):
    app = ws.app()
    assert app.sync(None, None).applied.status == "succeeded"
    b = ws.bestuur
    pupil = next(p for p in b.pupils if sum(1 for q in b.pupils if q.klas == p.klas) > 1
                 and any(k.name != p.klas and k.leerjaar == p.leerjaar for k in b.klassen))
    new_klas = next(k.name for k in b.klassen if k.name != pupil.klas and k.leerjaar == pupil.leerjaar)
    changed = move_pupil(b, pupil.stamnr, new_klas)
    cluster = next(g for g in changed.lesgroepen if g.klas is None and len(g.pupils) > 1)
    changed = drop_subject(changed, cluster.pupils[0], cluster.name)
    group = changed.lesgroepen[3]
    changed = add_teacher(changed, group.brin6, "NWTX", "Noor", "van 't", "Hof", group.name)
    ws.relaunch_export(changed)

    before = writes(ws.sandbox.stats())
    outcome = app.sync(None, None)
    plan = outcome.plan
    assert outcome.applied.status == "succeeded"
    summary = plan.summary()
    assert summary["suspend"] == 0 and summary["update"] == 0
    kinds = {(c.kind, c.action) for c in plan.changes}
    assert kinds <= {(ObjectKind.PERSON, Action.CREATE), (ObjectKind.MEMBERSHIP, Action.CREATE),
                     (ObjectKind.MEMBERSHIP, Action.DELETE)}
    assert [c.label for c in plan.changes if c.kind is ObjectKind.PERSON] == ["Noor van 't Hof"]
    moved = [c for c in plan.changes if c.reason.startswith("moved from")]
    assert len(moved) == 2
    after = writes(ws.sandbox.stats())
    sent = {op: after.get(op, 0) - before.get(op, 0) for op in after if after.get(op, 0) != before.get(op, 0)}
    # Only those operations, in requests of five and four objects (two at a time fill the budget of nine).
    per_op = {"createPersons": (ObjectKind.PERSON, Action.CREATE),
              "createMemberships": (ObjectKind.MEMBERSHIP, Action.CREATE),
              "deleteMemberships": (ObjectKind.MEMBERSHIP, Action.DELETE)}
    assert set(sent) == set(per_op), sent
    for op, pair in per_op.items():
        n = sum(1 for c in plan.changes if (c.kind, c.action) == pair)
        assert -(-n // 5) <= sent[op] <= -(-n // 4), (op, n, sent)

    stats = ws.sandbox.stats()
    assert stats["http_503"] == 0 and stats["operations_in_flight"]["peak"] <= 9, "never more than the budget"
    quiet_before = ws.sandbox.stats()["writes"]
    quiet = app.sync(None, None)
    assert quiet.plan.empty
    assert ws.sandbox.stats()["writes"] == quiet_before, "a sync with no changes sends no write request"


def test_wrong_credentials_give_one_error_and_no_retry_storm(ws):
    app = ws.app(password="wrong-password")
    requests_before = ws.sandbox.stats()["requests_total"]
    with pytest.raises(PreflightFailed, match=r"credentials: itslearning refused the WS-Security(.|\n)*fix: copy"):
        app.sync(None, None)
    assert ws.sandbox.stats()["requests_total"] - requests_before == 1, "one read (the preflight), then stop"
    assert ws.sandbox.stats()["persons"] == 0
