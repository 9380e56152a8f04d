"""The target's publications over time, read by the Moodle stand-in: updates, suspensions, removals and the
jaarovergang's archive reach Moodle even when a file is overwritten before Moodle read it; delta files;
itslearning's snapshot; ``check``, ``read`` and the previews."""

from __future__ import annotations

import os

from koppel.model.change import Action, ItemOutcome
from koppel.model.desired import ObjectKind
from koppel.targets.base import CheckStatus
from koppel.targets.imsenterprise import preview
from koppel.targets.imsenterprise.reader import parse_file
from koppel.testing.conformance import change, course, membership, person, school

from .moodle import MoodleSite
from .support import Clock, make_target, published

PUPIL = {"role": "student", "given": "Zoë", "prefix": "van der", "family": "Berg", "username": "zberg",
         "email": "zberg@example.org"}


def base():
    return [school(), course("c:1", "conf-school", "Nederlands 1A"), course("c:2", "conf-school", "Engels 1A"),
            person("p:1"), person("p:2", given="Jan", family="Vries", prefix="de"),
            person("t:1", given="Dirk", family="Okkema", role="staff"),
            membership("p:1", "c:1"), membership("p:2", "c:1"), membership("p:1", "c:2"),
            membership("t:1", "c:1", "teacher"), membership("t:1", "c:1", "mentor"), membership("p:1", "conf-school")]


def ok(target, changes):
    results = target.apply(changes)
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    return target.publish()


def pupil(key="p:1"):
    return {**PUPIL, "username": key.replace(":", "")}


def test_changes_reach_moodle_and_the_removals_are_carried_through_a_missed_file(tmp_path):
    clock = Clock()
    target = make_target(tmp_path, clock, auth="manual", suspend_auth="nologin")
    moodle = MoodleSite()
    ok(target, base())
    assert moodle.cron(target.path_for(1))
    assert set(moodle.live_users()) == {"p:1", "p:2", "t:1"} and moodle.live_users()["p:1"].auth == "manual"

    # publication 2: p:1 renamed, p:2 leaves (suspended, unenrolled), the mentor role goes; Moodle misses it
    clock.advance(hours=1)
    ok(target, [change(Action.UPDATE, ObjectKind.PERSON, "p:1", {**pupil(), "family": "Bergen"}, before=pupil(),
                       fields=("family",)),
                change(Action.DELETE, ObjectKind.MEMBERSHIP, "p:2|c:1|student",
                       before={"person": "p:2", "group": "c:1", "role": "student"}),
                change(Action.DELETE, ObjectKind.MEMBERSHIP, "t:1|c:1|mentor",
                       before={"person": "t:1", "group": "c:1", "role": "mentor"}),
                change(Action.SUSPEND, ObjectKind.PERSON, "p:2", before=pupil("p:2"))])
    second = published(target, 1)
    assert [(p.id, p.recstatus) for p in second.persons] == [("p:1", None), ("p:1", 2), ("t:1", None), ("p:2", 2)]
    assert second.persons[3].fields["auth"] == "nologin"
    unenrol = [m for m in second.members if m.status == "0"]
    assert [(m.person, m.recstatus) for m in unenrol] == [("p:2", 3)], "t:1 keeps 02 in c:1: no unenrolment"

    # publication 3 (a new course) overwrites it before Moodle's task ran: nothing of publication 2 is lost
    clock.advance(hours=1)
    ok(target, [course("c:3", "conf-school", "Wiskunde 1A")])
    assert moodle.cron(target.path_for(1))
    users = moodle.live_users()
    assert users["p:1"].lastname == "van der Bergen" and users["p:2"].auth == "nologin"
    assert ("p:2", "c:1") not in moodle.enrolled() and moodle.enrolled()[("t:1", "c:1")] == {"editingteacher",
                                                                                            "teacher"}
    assert moodle.course("c:3") is not None

    # restore p:2; delete c:2 (hidden); after carry_days the old records are no longer repeated
    clock.advance(days=1)
    ok(target, [change(Action.RESTORE, ObjectKind.PERSON, "p:2", pupil("p:2"), before=pupil("p:2")),
                change(Action.DELETE, ObjectKind.MEMBERSHIP, "p:1|c:2|student",
                       before={"person": "p:1", "group": "c:2", "role": "student"}),
                change(Action.ARCHIVE, ObjectKind.GROUP, "c:2", before={"type": "course"})])
    assert moodle.cron(target.path_for(1))
    assert moodle.live_users()["p:2"].auth == "manual" and not moodle.course("c:2").visible
    assert ("p:1", "c:2") not in moodle.enrolled()
    clock.advance(days=8)
    ok(target, [person("p:9")])
    latest = published(target)
    assert all(p.recstatus is None for p in latest.persons) and all(m.status == "1" for m in latest.members)
    assert {g.id for g in latest.groups} == {"c:1", "c:3"}, "archived c:2 is no longer repeated"
    assert moodle.cron(target.path_for(1)) and moodle.live_users()["p:9"]


def test_without_carry_days_a_missed_file_loses_its_removals(tmp_path):
    """Why carry_days exists: the same run with carry_days = 0 leaves Moodle with the old enrolment."""
    target = make_target(tmp_path, carry_days=0)
    moodle = MoodleSite()
    ok(target, base())
    moodle.cron(target.path_for(1))
    ok(target, [change(Action.DELETE, ObjectKind.MEMBERSHIP, "p:2|c:1|student",
                       before={"person": "p:2", "group": "c:1", "role": "student"})])
    ok(target, [course("c:3", "conf-school")])
    moodle.cron(target.path_for(1))
    assert ("p:2", "c:1") in moodle.enrolled()


def test_a_deleted_person_is_deleted_by_user_name_unless_someone_else_has_it_now(tmp_path):
    target = make_target(tmp_path)
    moodle = MoodleSite()
    ok(target, base())
    moodle.cron(target.path_for(1))
    ok(target, [change(Action.DELETE, ObjectKind.MEMBERSHIP, "p:2|c:1|student",
                       before={"person": "p:2", "group": "c:1", "role": "student"}),
                change(Action.DELETE, ObjectKind.PERSON, "p:2", before=pupil("p:2"))])
    assert [(p.id, p.recstatus, p.fields["username"]) for p in published(target).persons if p.recstatus] == [
        ("p:2", 3, "p2")]
    moodle.cron(target.path_for(1))
    assert "p:2" not in moodle.live_users()
    ok(target, [person("p:new", given="Piet")])  # a newcomer ... who gets the old user name
    ok(target, [change(Action.UPDATE, ObjectKind.PERSON, "p:new", {**pupil("p:new"), "username": "p2"},
                       before=pupil("p:new"), fields=("username",))])
    assert not [p for p in published(target).persons if p.recstatus == 3]
    moodle.cron(target.path_for(1))
    assert moodle.live_users()["p:new"].username == "p2"


def test_what_cannot_be_written_is_a_failed_item_with_the_reason(tmp_path):
    target = make_target(tmp_path)
    results = target.apply([
        course("c:orphan", "nowhere"), membership("p:ghost", "conf-school"), school(),
        person("p:nameless", given=" "), change(Action.CREATE, ObjectKind.PERSON, "p:nouser", {**PUPIL, "username": ""}),
        person("g:1", role="guardian"), course("c:1", "conf-school"), membership("g:1", "c:1", "guardian"),
        person("p:bell", given="Jan\x07")])
    outcome = {r.key: (r.outcome, r.message or "") for r in results}
    assert outcome["c:orphan"][0] is ItemOutcome.FAILED and "parent group nowhere" in outcome["c:orphan"][1]
    assert "person p:ghost is not published" in outcome["p:ghost|conf-school|student"][1]
    assert "first name is empty" in outcome["p:nameless"][1]
    assert "no account without a user name" in outcome["p:nouser"][1]
    assert "roles.guardian" in outcome["g:1|c:1|guardian"][1]
    assert "U+0007" in outcome["p:bell"][1]
    assert outcome["conf-school"][0] is ItemOutcome.DONE and outcome["g:1"][0] is ItemOutcome.DONE
    target.publish()
    assert {p.id for p in published(target).persons} == {"g:1"}


def test_delta_files_are_numbered_and_hold_only_their_changes(tmp_path):
    target = make_target(tmp_path, mode="delta", file_name="koppel-{sequence:04d}.xml", carry_days=0)
    ok(target, base())
    ok(target, [change(Action.DELETE, ObjectKind.MEMBERSHIP, "p:2|c:1|student",
                       before={"person": "p:2", "group": "c:1", "role": "student"}),
                person("p:3"), membership("p:3", "c:1")])
    first, second = published(target, 1), published(target, 2)
    assert sorted(os.listdir(tmp_path)) == [".koppel", "koppel-0001.xml", "koppel-0002.xml"]
    assert {p.recstatus for p in first.persons} == {1} and len(first.persons) == 3
    assert [(p.id, p.recstatus) for p in second.persons] == [("p:3", 1)] and not second.groups
    assert [(m.person, m.status) for m in second.members] == [("p:2", "0"), ("p:3", "1")]
    moodle = MoodleSite()
    for n in (1, 2):  # a consumer feeding every file in order
        moodle.process(target.path_for(n).read_bytes())
    assert {u for u, c in moodle.enrolled() if c == "c:1"} == {"p:1", "p:3", "t:1"}


def test_a_delta_on_one_fixed_path_repeats_its_changes_for_carry_days(tmp_path):
    clock = Clock()
    target = make_target(tmp_path, clock, mode="delta")
    ok(target, base())
    clock.advance(days=2)
    ok(target, [person("p:3")])
    again = published(target)
    assert {p.id for p in again.persons} == {"p:1", "p:2", "p:3", "t:1"}, "the first load is still carried"
    clock.advance(days=6)
    ok(target, [person("p:4")])
    assert {p.id for p in published(target).persons} == {"p:3", "p:4"}


def test_itslearning_gets_a_full_snapshot_with_archived_groups_and_without_suspended_persons(tmp_path):
    target = make_target(tmp_path, profile="itslearning")
    ok(target, [*base(), course("c:deep", "c:1", "Sub & Co")])
    ok(target, [change(Action.SUSPEND, ObjectKind.PERSON, "p:2", before=pupil("p:2")),
                change(Action.ARCHIVE, ObjectKind.GROUP, "c:2", before={"type": "course"})])
    parsed = published(target)
    assert {p.id for p in parsed.persons} == {"p:1", "t:1"}
    assert [g.id for g in parsed.groups] == ["conf-school", "c:1", "c:2", "c:deep"], "parents first"
    groups = {g.id: g for g in parsed.groups}
    assert groups["c:deep"].fields["parent"] == "c:1" and groups["c:deep"].fields["short"] == "Sub & Co"
    assert groups["conf-school"].fields["type"] == "School" and groups["c:1"].fields["type"] == "Course"
    assert all(p.recstatus is None for p in parsed.persons + parsed.groups)
    assert b"Sub &amp; Co" in target.path_for(1).read_bytes(), "itslearning parses XML: escaped the usual way"
    assert ("p:1", "conf-school") in {(m.person, m.group) for m in parsed.members}


def test_read_is_the_mirror_and_check_says_what_was_published(tmp_path):
    target = make_target(tmp_path / "out")
    checks = target.check()
    assert checks[0].status is CheckStatus.WARNING and "does not exist yet" in checks[0].message
    ok(target, base())
    ok(target, [change(Action.SUSPEND, ObjectKind.PERSON, "p:2", before=pupil("p:2"))])
    snapshot = target.read([])
    keys = {o.key for o in snapshot.objects}
    assert "p:1" in keys and "p:2" not in keys and snapshot.complete
    assert any("1 suspended persons" in note for note in snapshot.notes)
    fresh = make_target(tmp_path / "out")
    checks = {c.name: c for c in fresh.check()}
    assert checks["folder"].status is CheckStatus.OK
    assert checks["last publication"].status is CheckStatus.OK and "publication 2" in checks["last publication"].message
    assert checks["last publication"].data["persons"] == {"active": 2, "suspended": 1}
    target.path_for(1).unlink()
    assert {c.name: c for c in fresh.check()}["last publication"].status is CheckStatus.WARNING
    (tmp_path / "out" / ".koppel" / "moodle.db").write_text("{broken", encoding="utf-8")
    damaged = {c.name: c for c in fresh.check()}["last publication"]
    assert damaged.status is CheckStatus.FAILED and "damaged" in damaged.message


def test_previews_show_the_records_of_one_change(tmp_path):
    settings = {"folder": str(tmp_path)}
    created = preview(settings, [person("p:1", given="Jip & Janneke")])
    assert created[0].title.endswith("in every snapshot from now on")
    assert "<given>Jip en Janneke</given>" in created[0].body and 'recstatus' not in created[0].body
    update = preview(settings, [change(Action.UPDATE, ObjectKind.PERSON, "p:1", {**pupil(), "family": "Bergen"},
                                       before=pupil(), fields=("family",))])
    assert update[0].title.endswith('recstatus="2"') and "<family>van der Bergen</family>" in update[0].body
    gone = preview(settings, [change(Action.DELETE, ObjectKind.MEMBERSHIP, "p:1|las:c|student",
                                     before={"person": "p:1", "group": "las:c", "role": "student"})])
    assert '<role roletype="01" recstatus="3">' in gone[0].body
    assert "not a Moodle course" in preview(settings, [school()])[0].body
    assert preview(settings, [person("p:x", given="\x07")]) == []
    assert "left out" in preview({**settings, "profile": "itslearning"}, [
        change(Action.SUSPEND, ObjectKind.PERSON, "p:1", before=pupil())])[0].title
    delta = preview({**settings, "mode": "delta"}, [person("p:1")])
    assert delta[0].title.endswith('recstatus="1"')
    assert parse_file(f"<enterprise>{delta[0].body}</enterprise>".encode()).persons[0].id == "p:1"
