"""Groups: the hierarchy, its parents and types, courses that outlive their hierarchy, reads."""

from __future__ import annotations

import pytest

from .envelopes import (
    COMMON,
    DATA,
    MESS,
    SHORT,
    Client,
    by_id,
    by_ids,
    group,
    membership,
    person,
    read_for,
    write_many,
    write_one,
)


def build_school(its: Client) -> None:
    """site › school › 3a (Unspecified) › course-math (Course) › math-group (CourseGroup)."""
    its.ok(
        write_many(
            "create",
            "Group",
            [
                ("site", group("Site", "Site")),
                ("school", group("De School", "School", "site")),
                ("3a", group("3A", "Unspecified", "school")),
                ("course-math", group("Wiskunde 3A", "Course", "3a", course="Wiskunde", code="WI3A")),
                ("math-group", group("Groep 1", "CourseGroup", "course-math")),
            ],
        )
    )


def groups_by_key(its: Client) -> dict[str, dict]:
    return {g["sync_id"]: g for g in its.objects()["groups"]}


def test_hierarchy_is_created_parents_first_in_one_batch(its: Client) -> None:
    build_school(its)
    groups = groups_by_key(its)
    assert groups["math-group"]["parent_sync_id"] == "course-math"
    assert groups["course-math"]["course"]["title"] == "Wiskunde"
    assert its.sandbox.stats()["courses"] == 1


def test_create_and_update_are_upserts(its: Client) -> None:
    build_school(its)
    its.ok(write_one("update", "Group", "3a", group("3A (renamed)", "Unspecified", "school")))
    its.ok(write_one("update", "Group", "4a", group("4A", "Unspecified", "school")))
    its.ok(
        write_one("create", "Group", "course-math", group("Wiskunde", "Course", "3a", course="Wiskunde B"))
    )
    groups = groups_by_key(its)
    assert groups["3a"]["name"] == "3A (renamed)" and groups["4a"]["parent_sync_id"] == "school"
    assert groups["course-math"]["course"]["title"] == "Wiskunde B"


def test_parent_must_exist(its: Client) -> None:
    its.ok(write_one("create", "Group", "site", group("Site", "Site")))
    reply = its.call(write_one("create", "Group", "orphan", group("Orphan", "School", "no-such-parent")))
    assert (reply.status.major, reply.status.minor) == ("failure", "unknownobject")
    assert "no-such-parent" in reply.status.text
    missing = its.call(write_one("create", "Group", "orphan", group("Orphan", "School", None)))
    assert missing.status.minor == "incompletedata"


def test_course_group_parent_must_be_a_course(its: Client) -> None:
    build_school(its)
    reply = its.call(write_one("create", "Group", "cg", group("Groep", "CourseGroup", "3a")))
    assert (reply.status.major, reply.status.minor) == ("failure", "invaliddata")


def test_a_course_needs_its_title(its: Client) -> None:
    build_school(its)
    reply = its.call(write_one("create", "Group", "c2", group("Engels", "Course", "3a")))
    assert reply.status.minor == "incompletedata"


def test_a_group_without_group_type_is_a_course(its: Client) -> None:
    build_school(its)
    its.ok(write_one("create", "Group", "c3", group("Frans", None, "3a", course="Frans")))
    assert groups_by_key(its)["c3"]["type"] == "Course"


def test_unknown_type_and_level_mismatch(its: Client) -> None:
    build_school(its)
    assert (
        its.call(write_one("create", "Group", "x", group("X", "Class", "school"))).status.minor
        == "unknownvocab"
    )
    its.ok(write_one("create", "Group", "s2", group("School 2", None, "site", level="1")))
    assert groups_by_key(its)["s2"]["type"] == "School"
    mismatch = its.call(write_one("create", "Group", "s3", group("S3", "Unspecified", "site", level="1")))
    assert mismatch.status.minor == "invaliddata"


def test_there_is_one_site(its: Client) -> None:
    its.ok(write_one("create", "Group", "site", group("Site", "Site")))
    its.ok(write_one("create", "Group", "site", group("Site renamed", "Site")))
    reply = its.call(write_one("create", "Group", "site2", group("Other", "Site")))
    assert reply.status.minor == "invaliddata"


@pytest.mark.parametrize(
    ("key", "new_type", "payload_extra", "allowed"),
    [
        ("3a", "Course", {"course": "Mentoruur"}, True),  # Unspecified → Course
        ("school", "Course", {"course": "X"}, False),  # School → Course
        ("math-group", "Course", {"course": "X"}, False),  # CourseGroup → Course
        ("course-math", "Unspecified", {}, False),  # a hierarchy with a course keeps its type
        ("3a", "School", {}, True),  # other changes are not restricted
    ],
    ids=[
        "unspecified-to-course",
        "school-to-course",
        "coursegroup-to-course",
        "course-to-unspecified",
        "unspecified-to-school",
    ],
)
def test_type_change_rules(its: Client, key: str, new_type: str, payload_extra: dict, allowed: bool) -> None:
    build_school(its)
    before = groups_by_key(its)[key]
    reply = its.call(
        write_one(
            "update", "Group", key, group("Renamed", new_type, before["parent_sync_id"], **payload_extra)
        )
    )
    assert reply.status.ok is allowed
    if not allowed:
        assert (reply.status.severity, reply.status.minor) == ("error", "invaliddata")
    assert groups_by_key(its)[key]["type"] == (new_type if allowed else before["type"])
    if allowed and new_type == "Course":
        assert groups_by_key(its)[key]["course"]["title"] == "Mentoruur"


def test_a_group_cannot_move_below_itself(its: Client) -> None:
    build_school(its)
    reply = its.call(write_one("update", "Group", "school", group("De School", "School", "3a")))
    assert reply.status.minor == "invaliddata"


def test_delete_group_takes_descendants_and_memberships_but_courses_stay(its: Client) -> None:
    build_school(its)
    its.ok(write_one("create", "Person", "p1", person()))
    its.ok(
        write_many(
            "create",
            "Membership",
            [
                ("m1", membership("3a", "p1")),
                ("m2", membership("math-group", "p1")),
                ("m3", membership("school", "p1")),
            ],
        )
    )
    its.ok(by_id("deleteGroup", "Group", "3a"), style=SHORT)

    assert set(groups_by_key(its)) == {"site", "school"}
    assert [m["sync_id"] for m in its.objects()["memberships"]] == ["m3"]
    (course,) = its.objects()["courses"]
    assert course["orphaned"] is True and course["title"] == "Wiskunde" and course["sync_id"] == "course-math"
    stats = its.sandbox.stats()
    assert (stats["courses"], stats["orphaned_courses"], stats["groups"]) == (0, 1, 2)
    page = its.http.get(its.sandbox.url + "/sandbox/").text
    assert "Orphaned courses" in page and "Wiskunde" in page


def test_delete_groups_reports_per_item(its: Client) -> None:
    build_school(its)
    its.ok(by_id("deleteGroup", "Group", "math-group"))
    reply = its.call(by_ids("deleteGroups", "Group", ["3a", "math-group"]))
    assert [(s.major, s.minor) for s in reply.statuses] == [("success", None), ("failure", "unknownobject")]


def test_read_groups_returns_only_found_groups(its: Client) -> None:
    build_school(its)
    reply = its.call(by_ids("readGroups", "Group", ["missing", "course-math", "3a"]))
    assert [s.major for s in reply.statuses] == ["failure", "success", "success"]
    names = reply.xpath("//m:groupSet/m:group/d:description/d:descShort/text()", m=MESS["gms"], d=DATA["gms"])
    assert names == ["Wiskunde 3A", "3A"]
    (fields,) = reply.xpath("//m:groupSet/m:group[1]/d:extension", m=MESS["gms"], d=DATA["gms"])
    assert fields.xpath("c:extensionField/c:fieldName/text()", namespaces={"c": COMMON}) == [
        "course",
        "course/code",
    ]


def test_read_group_shape(its: Client) -> None:
    build_school(its)
    reply = its.ok(by_id("readGroup", "Group", "math-group"))
    namespaces = {"m": MESS["gms"], "d": DATA["gms"]}
    (group_element,) = reply.xpath("/s:Envelope/s:Body/m:readGroupResponse/m:group", **namespaces)
    assert [child.tag.split("}")[1] for child in group_element] == [
        "groupType",
        "relationship",
        "description",
    ]
    assert group_element.xpath("d:groupType/d:scheme/text()", namespaces=namespaces) == [
        "ItslearningOrganisationTypes"
    ]
    assert group_element.xpath("d:groupType/d:typeValue/d:type/text()", namespaces=namespaces) == [
        "CourseGroup"
    ]
    assert reply.xpath("//d:relationship/d:sourceId/c:identifier/text()", d=DATA["gms"]) == ["course-math"]


def test_read_groups_for_person_answers_with_a_status_set(its: Client) -> None:
    build_school(its)
    its.ok(write_one("create", "Person", "99998888", person()))
    its.ok(
        write_many(
            "create",
            "Membership",
            [("m1", membership("3a", "99998888")), ("m2", membership("school", "99998888"))],
        )
    )
    reply = its.ok(read_for("readGroupsForPerson", "gms", "personSourcedId", "99998888"))
    assert reply.xpath("/s:Envelope/s:Header/b:syncResponseHeaderInfo/b:statusInfoSet/b:statusInfo")
    keys = reply.xpath("//m:groupIdPair/m:sourcedId/c:identifier/text()", m=MESS["gms"])
    assert sorted(keys) == ["3a", "school"]
