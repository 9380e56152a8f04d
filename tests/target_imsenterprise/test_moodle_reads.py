"""koppel's files read the way Moodle reads them: regular expressions on raw lines (``moodle.py``).

Every person, course and enrolment must come through with the right names — ampersands, accents, apostrophes,
voorvoegsels — and nothing Moodle would store escaped. The stand-in itself is held to what a real Moodle showed
(shared/reference/moodle-imsenterprise-facts.md), so that it cannot drift into reading what Moodle would not.
"""

from __future__ import annotations

import re

import pytest

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.testing.conformance import change, course, membership, person, school

from .moodle import MoodleAborted, MoodleSite
from .support import make_target

NAMES = [  # key, given, prefix, family → what Moodle must store as first and last name
    ("p:amp", "Jip & Janneke", "", "Smit", "Jip en Janneke", "Smit"),
    ("p:art", "Charles", "d'", "Artagnan", "Charles", "d'Artagnan"),
    ("p:veld", "Noor", "in 't", "Veld", "Noor", "in 't Veld"),
    ("p:berg", "Zoë", "van der", "Berg", "Zoë", "van der Berg"),
    ("p:celik", "Björn", "", "Çelik", "Björn", "Çelik"),
    ("p:minh", "Minh", "", "Nguyễn", "Minh", "Nguyễn"),
    ("p:obrien", "Seán", "", "O'Brien-Ó Súilleabháin", "Seán", "O'Brien-Ó Súilleabháin"),
    ("p:quote", 'Jan "de Snelle"', "", "<Vries>", 'Jan "de Snelle"', "‹Vries›"),
]


def roster_changes():
    out = [school(name="Sg. De Rijn & Het Baken"), course("c:mm", "conf-school", name="Mens & Maatschappij 2H1"),
           course("c:ckv", "conf-school", name="CKV <kunst> 'n zo")]
    for key, given, prefix, family, *_ in NAMES:
        out.append(person(key, given=given, prefix=prefix, family=family))
    out.append(person("t:Dok", given="Dirk", family="Okkema", role="staff"))
    out += [membership(key, "c:mm") for key, *_ in NAMES]
    out += [membership("t:Dok", "c:mm", "teacher"), membership("t:Dok", "c:ckv", "teacher"),
            membership("t:Dok", "c:ckv", "mentor"), membership("p:amp", "conf-school", home=True)]
    return out


def test_every_name_comes_through_moodles_regular_expressions(tmp_path):
    target = make_target(tmp_path)
    assert all(r.ok for r in target.apply(roster_changes()))
    target.publish()
    data = target.path_for(1).read_bytes()
    moodle = MoodleSite()
    assert moodle.cron(target.path_for(1))
    users = moodle.live_users()
    for key, _, _, _, first, last in NAMES:
        assert (users[key].firstname, users[key].lastname) == (first, last), key
        assert users[key].username == key.replace(":", "")
    assert users["t:Dok"].username == "tdok", "user names are written in lower case"
    courses = {c.idnumber: c for c in moodle.courses.values()}
    assert courses["c:mm"].fullname == "Mens en Maatschappij 2H1" and courses["c:mm"].shortname == "c:mm"
    assert courses["c:ckv"].fullname == "CKV ‹kunst› 'n zo"
    assert moodle.category_path(courses["c:mm"]) == ["Sg. De Rijn en Het Baken"]
    assert set(moodle.courses) == {c.id for c in courses.values()}, "the school is a category, not a course"
    enrolled = moodle.enrolled()
    assert {u for u, c in enrolled if c == "c:mm"} == {key for key, *_ in NAMES} | {"t:Dok"}
    assert enrolled[("t:Dok", "c:ckv")] == {"editingteacher", "teacher"}, "02 Instructor and 06 Mentor add up"
    # nothing Moodle would store escaped, and nothing it cannot read
    stored = [u.firstname + u.lastname + u.username + u.email for u in users.values()]
    stored += [c.fullname + c.shortname for c in moodle.courses.values()] + [n for n, _ in moodle.categories.values()]
    assert not [s for s in stored if "&" in s or "<" in s or ">" in s]
    assert b"&" not in data and b"CDATA" not in data and b"<!DOCTYPE" not in data
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n') and not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8") and not re.search(rb"<\w+:\w+", data), "UTF-8, no namespace prefixes"


def test_records_come_persons_then_groups_then_memberships(tmp_path):
    target = make_target(tmp_path)
    target.apply(roster_changes())
    target.publish()
    text = target.path_for(1).read_text(encoding="utf-8")
    starts = [m.group(1) for m in re.finditer(r"^<(person|group|membership)\b", text, re.M)]
    assert starts == sorted(starts, key=["person", "group", "membership"].index)
    assert max(len(line) for line in text.splitlines()) < 400, "short lines: Moodle's cache is cut per line"


# -- the stand-in holds to the facts of a real Moodle ------------------------------------------------------


def _file(*records: str) -> bytes:
    return ("<enterprise>\n" + "\n".join(records) + "\n</enterprise>\n").encode("utf-8")


PERSON = """<person{rec}>
<sourcedid><source>s</source><id>{id}</id></sourcedid>
<userid>{user}</userid>
<name><fn>x</fn><n><family>{family}</family><given>Jan</given></n></name>
</person>"""
GROUP = """<group{rec}>
<sourcedid><source>s</source><id>{id}</id></sourcedid>
<description><short>{short}</short><full>{full}</full></description>
</group>"""
MEMBERSHIP = """<membership>
<sourcedid><source>s</source><id>{group}</id></sourcedid>
<member><sourcedid><source>s</source><id>{id}</id></sourcedid><role roletype="{role}"{rec}>{status}</role></member>
</membership>"""


def test_the_stand_in_stores_entities_literally_and_skips_what_comes_too_early():
    moodle = MoodleSite()
    moodle.process(_file(
        MEMBERSHIP.format(group="C1", id="P1", role="01", rec="", status="<status>1</status>"),
        PERSON.format(rec="", id="P1", user="jan", family="Jansen &amp; Zn"),
        GROUP.format(rec="", id="C1", short="A &amp; B", full="x"),
    ))
    assert moodle.live_users()["P1"].lastname == "Jansen &amp; Zn"
    assert next(iter(moodle.courses.values())).fullname == "A &amp; B"
    assert moodle.enrolled() == {}, "a membership before its person and course is skipped"


def test_the_stand_in_knows_moodles_recstatus_rules():
    moodle = MoodleSite()
    moodle.process(_file(
        PERSON.format(rec="", id="P1", user="jan", family="Jansen"),
        PERSON.format(rec=' recstatus="1"', id="P1", user="jan", family="Pietersen"),
        GROUP.format(rec=' recstatus="3"', id="C9", short="New", full="New"),
        GROUP.format(rec="", id="C1", short="Course", full="Course"),
        MEMBERSHIP.format(group="C1", id="P1", role="01", rec="", status=""),
    ))
    assert moodle.live_users()["P1"].lastname == "Jansen", "an add of a known idnumber updates nothing"
    assert moodle.course("C9").visible, "recstatus 3 of an unknown course creates it, visible"
    assert moodle.enrolled() == {}, "no <status>1</status>: no enrolment"
    moodle.process(_file(
        PERSON.format(rec=' recstatus="2"', id="P1", user="jan", family="Pietersen"),
        GROUP.format(rec=' recstatus="2"', id="C1", short="Renamed", full="Course 2"),
        GROUP.format(rec=' recstatus="3"', id="C9", short="New", full="New"),
        MEMBERSHIP.format(group="C1", id="P1", role="02", rec="", status="<status>1</status>"),
        MEMBERSHIP.format(group="C1", id="P1", role="01", rec="", status="<status>1</status>"),
    ))
    assert moodle.live_users()["P1"].lastname == "Pietersen"
    c1 = moodle.course("C1")
    assert c1 is not None and (c1.shortname, c1.fullname) == ("Renamed", "Course 2"), "an update renames the short name"
    assert not moodle.course("C9").visible
    assert moodle.enrolled()[("P1", "C1")] == {"student", "editingteacher"}
    moodle.process(_file(MEMBERSHIP.format(group="C1", id="P1", role="01", rec=' recstatus="3"',
                                           status="<status>1</status>")))
    assert moodle.enrolled() == {}, "an unenrolment takes the whole enrolment, every role"
    moodle.process(_file(PERSON.format(rec=' recstatus="3"', id="P1", user="someone-else", family="x")))
    assert "P1" in moodle.live_users(), "Moodle deletes by user name, not by idnumber"
    moodle.process(_file(PERSON.format(rec=' recstatus="3"', id="", user="jan", family="x")))
    assert "P1" not in moodle.live_users()


def test_the_stand_in_stops_on_bytes_that_are_not_utf8():
    moodle = MoodleSite()
    with pytest.raises(MoodleAborted):  # ISO-8859-1 stops the run
        moodle.process(_file(PERSON.format(rec="", id="P1", user="jan", family="Jansen"))
                       + PERSON.format(rec="", id="P2", user="els", family="Ëlsen").encode("latin-1"))
    assert list(moodle.live_users()) == ["P1"]


def test_a_membership_uses_the_course_and_person_ids_moodle_knows(tmp_path):
    long_key = "las:12AB00:2025-2026:" + "lesgroep-met-een-heel-lange-naam-" * 3
    target = make_target(tmp_path)
    changes = [school(), change(Action.CREATE, ObjectKind.GROUP, long_key, {
        "type": "course", "name": "Lang", "code": "L", "parent": "conf-school", "school": "99XX00",
        "school_year": "2025-2026"}), person("p:1"), membership("p:1", long_key)]
    results = target.apply(changes)
    assert results[1].target_id and results[1].target_id.startswith("koppel-") and len(results[1].target_id) <= 100
    target.publish()
    moodle = MoodleSite()
    moodle.cron(target.path_for(1))
    assert moodle.enrolled() == {("p:1", results[1].target_id): {"student"}}
