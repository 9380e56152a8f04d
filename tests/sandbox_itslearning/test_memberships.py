"""Memberships: existence rules, roles, what an update may change, HomeOrganisation, the read shapes."""

from __future__ import annotations

import pytest

from .envelopes import (
    COMMON,
    DATA,
    MESS,
    VENDOR_B,
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


@pytest.fixture
def school(its: Client) -> Client:
    """site › school › 3a, and a course below 3a; persons p1 and p2."""
    its.ok(
        write_many(
            "create",
            "Group",
            [
                ("site", group("Site", "Site")),
                ("school", group("School", "School", "site")),
                ("3a", group("3A", "Unspecified", "school")),
                ("math", group("Wiskunde", "Course", "3a", course="Wiskunde")),
            ],
        )
    )
    its.ok(
        write_many(
            "create", "Person", [("p1", person("Anna", "A")), ("p2", person("Bert", "B", role="Staff"))]
        )
    )
    return its


def memberships_by_key(its: Client) -> dict[str, dict]:
    return {m["sync_id"]: m for m in its.objects()["memberships"]}


def test_status_set_follows_request_order_with_mixed_results(school: Client) -> None:
    reply = school.call(
        write_many(
            "create",
            "Membership",
            [
                ("m1", membership("3a", "p1")),
                ("m2", membership("no-group", "p1")),
                ("m3", membership("3a", "no-person")),
                ("m4", membership("math", "p2", "Instructor")),
                ("m5", membership("math", "p1", "Guest")),  # in the 2017 enumeration, no known hierarchy role
            ],
        ),
        style=VENDOR_B,
    )
    assert [(s.major, s.minor) for s in reply.statuses] == [
        ("success", None),
        ("failure", "unknownobject"),
        ("failure", "unknownobject"),
        ("success", None),
        ("failure", "unknownvocab"),
    ]
    assert all(s.message_id_ref == "msg-1" for s in reply.statuses)
    assert set(memberships_by_key(school)) == {"m1", "m4"}


@pytest.mark.parametrize(
    ("role", "stored"),
    [
        ("Learner", "Learner"),
        ("01", "Learner"),
        ("02", "Instructor"),
        ("06", "Mentor"),
        ("TeachingAssistant", "TeachingAssistant"),
    ],
)
def test_role_type_literal_or_code(school: Client, role: str, stored: str) -> None:
    school.ok(write_one("create", "Membership", "m1", membership("3a", "p1", role)))
    assert memberships_by_key(school)["m1"]["role"] == stored


def test_update_may_change_the_role_but_not_the_group_or_person(school: Client) -> None:
    school.ok(write_one("create", "Membership", "m1", membership("3a", "p1", "Learner")))
    school.ok(write_one("update", "Membership", "m1", membership("3a", "p1", "Instructor")))
    assert memberships_by_key(school)["m1"]["role"] == "Instructor"
    moved = school.call(write_one("update", "Membership", "m1", membership("math", "p1", "Instructor")))
    assert (moved.status.major, moved.status.minor) == ("failure", "invaliddata")
    other = school.call(write_one("create", "Membership", "m1", membership("3a", "p2", "Instructor")))
    assert other.status.major == "failure"
    assert memberships_by_key(school)["m1"]["group_sync_id"] == "3a"


def test_update_of_unknown_membership_creates_it(school: Client) -> None:
    school.ok(write_many("update", "Membership", [("m9", membership("school", "p2", "Instructor"))]))
    assert memberships_by_key(school)["m9"]["person_sync_key"] == "p2"


def test_home_organisation_only_on_school_or_site(school: Client) -> None:
    school.ok(write_one("create", "Membership", "m-school", membership("school", "p1", "01", home="1")))
    assert memberships_by_key(school)["m-school"]["home_organisation"] is True

    reply = school.call(write_one("create", "Membership", "m-class", membership("3a", "p1", "01", home="1")))
    assert (reply.status.major, reply.status.severity, reply.status.minor) == (
        "success",
        "warning",
        "partialdatastorage",
    )
    assert "ignored" in reply.status.text
    stored = memberships_by_key(school)
    assert stored["m-class"]["home_organisation"] is False and stored["m-school"]["home_organisation"] is True


def test_one_home_organisation_per_person(school: Client) -> None:
    school.ok(write_one("create", "Group", "school2", group("School 2", "School", "site")))
    school.ok(write_one("create", "Membership", "a", membership("school", "p1", home="1")))
    school.ok(write_one("create", "Membership", "b", membership("school2", "p1", home="1")))
    stored = memberships_by_key(school)
    assert (stored["a"]["home_organisation"], stored["b"]["home_organisation"]) == (False, True)


def test_delete_memberships(school: Client) -> None:
    school.ok(
        write_many("create", "Membership", [("M2", membership("3a", "p1")), ("M3", membership("3a", "p2"))])
    )
    school.ok(by_id("deleteMembership", "Membership", "M3"))
    reply = school.call(by_ids("deleteMemberships", "Membership", ["M2", "M3"]))
    assert [(s.major, s.minor) for s in reply.statuses] == [("success", None), ("failure", "unknownobject")]
    assert memberships_by_key(school) == {}


def test_read_memberships_mixed(school: Client) -> None:
    school.ok(write_one("create", "Membership", "M2", membership("3a", "p1")))
    reply = school.call(by_ids("readMemberships", "Membership", ["M2", "M4"]))
    assert [s.major for s in reply.statuses] == ["success", "failure"]
    groups = reply.xpath(
        "//m:membershipSet/m:membership/d:groupSourcedId/c:identifier/text()", m=MESS["mms"], d=DATA["mms"]
    )
    assert groups == ["3a"]


@pytest.mark.parametrize(
    ("operation", "id_element", "key"),
    [
        ("readMembershipsForGroup", "groupSourcedId", "3a"),
        ("readMembershipsForPerson", "personSourcedId", "p1"),
    ],
)
def test_read_memberships_for_answers_with_capital_id_pair_set(
    school: Client, operation: str, id_element: str, key: str
) -> None:
    school.ok(write_one("create", "Membership", "m1", membership("3a", "p1", "Learner")))
    reply = school.ok(read_for(operation, "mms", id_element, key))
    assert reply.xpath("/s:Envelope/s:Header/b:syncResponseHeaderInfo/b:statusInfoSet/b:statusInfo")
    namespaces = {"m": MESS["mms"], "d": DATA["mms"]}
    (pair,) = reply.xpath(
        f"/s:Envelope/s:Body/m:{operation}Response/m:membershipIDPairSet/m:membershipIdPair", **namespaces
    )
    assert pair.xpath("m:sourcedId/c:identifier/text()", namespaces={**namespaces, "c": COMMON}) == ["m1"]
    member = pair.xpath("m:membership/d:member", namespaces=namespaces)[0]
    assert member.xpath("d:memberSourcedId/c:identifier/text()", namespaces={**namespaces, "c": COMMON}) == [
        "p1"
    ]
    assert member.xpath("d:role/d:roleType/text()", namespaces=namespaces) == ["Learner"]
    assert not reply.xpath("//m:membershipIdPairSet", **namespaces)  # the lower-case spelling is not used


def test_membership_of_unknown_group_for_read(school: Client) -> None:
    reply = school.call(read_for("readMembershipsForGroup", "mms", "groupSourcedId", "nope"))
    assert reply.statuses[0].minor == "unknownobject"


def test_membership_needs_a_member(school: Client) -> None:
    no_member = (
        "<m:membership><d:groupSourcedId><c:identifier>3a</c:identifier></d:groupSourcedId></m:membership>"
    )
    body = write_one("create", "Membership", "m1", no_member)
    assert school.call(body).status.minor == "incompletedata"


def test_membership_id_may_be_255_characters(school: Client) -> None:
    school.ok(write_one("create", "Membership", "m" * 255, membership("3a", "p1")))
    too_long = school.call(write_one("create", "Membership", "m" * 256, membership("3a", "p1")))
    assert too_long.status.minor == "invaliddata"
