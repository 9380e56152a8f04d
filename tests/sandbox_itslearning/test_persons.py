"""Persons: upsert, trash can and restore, validation, profiles, parents, readAllPersons, reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from .envelopes import (
    DATA,
    MESS,
    VENDOR_B,
    Client,
    by_id,
    by_ids,
    group,
    membership,
    person,
    read_all_persons,
    read_for,
    write_many,
    write_one,
)


def persons_by_key(its: Client) -> dict[str, dict]:
    return {p["sync_key"]: p for p in its.objects()["persons"]}


def add_school_with_member(its: Client, person_key: str) -> None:
    its.ok(
        write_many(
            "create",
            "Group",
            [("site", group("Site", "Site")), ("school", group("School", "School", "site"))],
        )
    )
    its.ok(write_one("create", "Membership", f"m-{person_key}", membership("school", person_key)))


def test_create_and_update_are_upserts(its: Client) -> None:
    its.ok(write_one("create", "Person", "p1", person("Jan", "Jansen", email="jan@school.nl")))
    its.ok(write_one("create", "Person", "p1", person("Johannes", "Jansen")))
    its.ok(write_one("update", "Person", "p2", person("Piet", "Pieters")))  # update of unknown creates
    persons = persons_by_key(its)
    assert persons["p1"]["first"] == "Johannes"
    assert persons["p1"]["email"] == "jan@school.nl"  # absent element: kept (updates are additive)
    assert persons["p2"]["first"] == "Piet"
    assert its.sandbox.stats()["persons"] == 2


def test_empty_element_clears_a_field(its: Client) -> None:
    its.ok(write_one("create", "Person", "p1", person(email="jan@school.nl", username="jjansen")))
    its.ok(write_one("update", "Person", "p1", person(email="")))
    assert persons_by_key(its)["p1"]["email"] is None
    assert persons_by_key(its)["p1"]["username"] == "jjansen"


def test_delete_moves_to_trash_and_recreate_restores_the_same_user(its: Client) -> None:
    its.ok(write_one("create", "Person", "p1", person()))
    add_school_with_member(its, "p1")
    before = persons_by_key(its)["p1"]
    assert its.sandbox.stats()["memberships"] == 1

    its.ok(by_id("deletePerson", "Person", "p1"))
    stats = its.sandbox.stats()
    assert (stats["persons"], stats["trashed_persons"], stats["memberships"]) == (0, 1, 0)
    assert persons_by_key(its)["p1"]["trashed"] is True
    assert its.call(by_id("readPerson", "Person", "p1")).status.minor == "unknownobject"
    members = its.ok(read_for("readMembershipsForGroup", "mms", "groupSourcedId", "school"))
    assert members.xpath("//m:membershipIdPair", m=MESS["mms"]) == []

    its.ok(write_one("update", "Person", "p1", person()))
    after = persons_by_key(its)["p1"]
    assert after["id"] == before["id"] and after["trashed"] is False
    assert its.sandbox.stats()["memberships"] == 1
    assert [m["sync_id"] for m in its.objects()["memberships"]] == ["m-p1"]


def test_delete_of_unknown_or_trashed_person_is_a_per_item_failure(its: Client) -> None:
    its.ok(write_many("create", "Person", [("66666", person()), ("33333", person("Piet", "Pieters"))]))
    its.ok(by_id("deletePerson", "Person", "33333"))
    reply = its.call(by_ids("deletePersons", "Person", ["66666", "33333", "999"]))
    assert reply.http_status == 200
    assert [s.major for s in reply.statuses] == ["success", "failure", "failure"]
    assert [(s.severity, s.minor) for s in reply.statuses[1:]] == [("error", "unknownobject")] * 2
    assert "33333" in reply.statuses[1].text and "999" in reply.statuses[2].text
    assert reply.statuses[0].minor is None and reply.statuses[0].text == ""


@pytest.mark.parametrize(
    ("kwargs", "key", "minor"),
    [
        ({"first": "x" * 65}, "p1", "invaliddata"),
        ({"last": "x" * 65}, "p1", "invaliddata"),
        ({"prefix": "x" * 33}, "p1", "invaliddata"),
        ({}, "k" * 65, "invaliddata"),
        ({"first": None}, "p1", "incompletedata"),
        ({"last": ""}, "p1", "incompletedata"),
        ({"role": None}, "p1", "incompletedata"),
    ],
    ids=["first>64", "last>64", "prefix>32", "key>64", "no-first", "empty-last", "no-institution-role"],
)
def test_person_validation(its: Client, kwargs: dict, key: str, minor: str) -> None:
    reply = its.call(
        write_one("create", "Person", key, person(**{"first": "Jan", "last": "Jansen", **kwargs}))
    )
    assert (reply.status.major, reply.status.severity, reply.status.minor) == ("failure", "error", minor)
    assert its.objects()["persons"] == []


def test_limits_are_inclusive(its: Client) -> None:
    its.ok(write_one("create", "Person", "k" * 64, person("f" * 64, "l" * 64, prefix="p" * 32)))


@pytest.mark.parametrize(
    ("role", "profile"),
    [
        ("Student", "Student"),
        ("Staff", "Staff"),
        ("Carer", "Parent"),
        ("Administrator", "Administrator"),
        ("Guest", "Guest"),
        ("Faculty", "Default profile for external enrolment"),
    ],
)
def test_institution_role_picks_the_profile(its: Client, role: str, profile: str) -> None:
    its.ok(write_one("create", "Person", "p1", person(role=role)))
    assert persons_by_key(its)["p1"]["profile"] == profile


def test_parent_lists_existing_children(its: Client) -> None:
    its.ok(
        write_many("create", "Person", [("kid1", person("Kim", "Jansen")), ("kid2", person("Kai", "Jansen"))])
    )
    its.ok(
        write_one("update", "Person", "mum", person("Mia", "Jansen", role="Carer", children=("kid1", "kid2")))
    )
    assert persons_by_key(its)["mum"]["children"] == ["kid1", "kid2"]
    reply = its.ok(by_id("readPerson", "Person", "mum"))
    keys = reply.xpath("//c:relationship[c:relation='Child']/c:sourceId/c:identifier/text()")
    assert keys == ["kid1", "kid2"]
    failed = its.call(
        write_one("update", "Person", "mum", person("Mia", "Jansen", role="Carer", children=("nobody",)))
    )
    assert failed.status.minor == "unknownobject"
    assert persons_by_key(its)["mum"]["children"] == ["kid1", "kid2"]


def test_usernames_are_unique(its: Client) -> None:
    its.ok(write_one("create", "Person", "p1", person(username="jjansen")))
    reply = its.call(write_one("create", "Person", "p2", person(username="JJansen")))
    assert (reply.status.major, reply.status.minor) == ("failure", "invaliddata")
    its.ok(write_one("create", "Person", "p1", person(username="jjansen")))  # its own name is fine


def test_read_persons_returns_found_ones_in_request_order(its: Client) -> None:
    its.ok(write_many("create", "Person", [("a", person("Anna", "A")), ("b", person("Bert", "B"))]))
    reply = its.call(by_ids("readPersons", "Person", ["b", "missing", "a"]), style=VENDOR_B)
    assert [s.major for s in reply.statuses] == ["success", "failure", "success"]
    names = reply.xpath(
        "//m:personSet/m:person/d:name/d:partName[d:namePartType='First']/d:namePartValue/text()",
        m=MESS["pms"],
        d=DATA["pms"],
    )
    assert names == ["Bert", "Anna"]


def test_read_persons_for_group_answers_with_a_status_set(its: Client) -> None:
    its.ok(write_one("create", "Person", "p1", person()))
    add_school_with_member(its, "p1")
    reply = its.ok(read_for("readPersonsForGroup", "pms", "groupSourcedId", "school"))
    assert reply.xpath("/s:Envelope/s:Header/b:syncResponseHeaderInfo/b:statusInfoSet/b:statusInfo")
    keys = reply.xpath("//m:personIdPairSet/m:personIdPair/m:sourcedId/c:identifier/text()", m=MESS["pms"])
    assert keys == ["p1"]
    missing = its.call(read_for("readPersonsForGroup", "pms", "groupSourcedId", "nope"))
    assert missing.status.minor == "unknownobject"


def manual_person(its: Client, **fields: object) -> dict:
    response = its.http.post(its.sandbox.url + "/sandbox/api/manual/person", json=fields)
    assert response.status_code == 200, response.text
    assert response.headers["X-Sandbox-Only"] == "true"
    return response.json()


def test_read_all_persons_pages_counts_and_converts_manual_users(its: Client) -> None:
    its.ok(write_many("create", "Person", [(f"p{i}", person(f"P{i}", "Synced")) for i in range(3)]))
    manual_person(its, first="Hand", last="Made", username="hmade", email="h@school.nl")
    manual_person(its, first="Also", last="Manual", sync_key="given-by-admin")

    first_page = its.ok(read_all_persons(1, 2))
    assert first_page.status.ok and len(first_page.statuses) == 1  # one statusInfo, many persons
    (count,) = first_page.xpath(
        "/s:Envelope/s:Body/m:readAllPersonsResponse/m:virtualCount/text()", m=MESS["pms"]
    )
    assert count == "5"
    pairs = "//m:personIdPairSet/m:personIdPair/m:sourcedId/c:identifier"
    assert first_page.xpath(pairs + "/text()", m=MESS["pms"]) == ["p0", "p1"]

    second_page = its.ok(read_all_persons(2, 2))
    assert [node.text for node in second_page.xpath(pairs, m=MESS["pms"])] == [
        "p2",
        None,
    ]  # unsynced listed too
    beyond = its.ok(read_all_persons(4, 2))
    assert beyond.xpath(pairs, m=MESS["pms"]) == []

    manual = its.ok(read_all_persons(1, 10, only_manual=True, convert=True))
    keys = manual.xpath(pairs + "/text()", m=MESS["pms"])
    assert keys[1] == "given-by-admin" and keys[0].startswith("itsla-") and len(keys[0]) == len("itsla-") + 36
    assert persons_by_key(its)[keys[0]]["username"] == "hmade"


def test_read_all_persons_filters_on_created_from(its: Client) -> None:
    its.ok(write_one("create", "Person", "old", person()))
    time.sleep(0.01)
    cut = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    its.ok(write_one("create", "Person", "new", person()))
    reply = its.ok(read_all_persons(1, 10, created_from=cut))
    assert reply.xpath("//m:personIdPair/m:sourcedId/c:identifier/text()", m=MESS["pms"]) == ["new"]


def test_read_all_persons_page_index_starts_at_one(its: Client) -> None:
    reply = its.call(read_all_persons(0, 10))
    assert (reply.status.major, reply.status.minor) == ("failure", "invaliddata")
