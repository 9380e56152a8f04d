"""ItslearningTarget over a real socket, against a scripted IMS ES server.

The sandbox (test_sandbox_e2e.py) checks behaviour against a faithful emulator; these tests stage
exact answers — mixed statuses, paging, failing archive hierarchies — to pin how the target
orchestrates requests and zips answers back into one result per change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from koppel.connectors import ConnectorContext
from koppel.errors import TargetAuthError
from koppel.model.change import Action, Change, ItemOutcome
from koppel.model.desired import ObjectKind
from koppel.targets.base import Target
from koppel.targets.itslearning import ItslearningTarget, factory
from koppel.targets.itslearning.mapping import stable_key
from koppel.targets.itslearning.values import NS

from . import replies
from .canon import assert_xml_equal
from .http_stub import Recorded, StubServer

STUDENT = {
    "role": "student",
    "given": "Jan",
    "prefix": "",
    "family": "Berg",
    "username": "jberg",
    "email": None,
}


def make_target(url: str, **overrides) -> ItslearningTarget:
    values = {"url": url, "username": "koppel", "password": "sandbox", "site_root": "ROOT", **overrides}
    return factory("itsl", values, ConnectorContext(tenant="t", env={}))


def person(key: str, action: Action = Action.CREATE, **attrs) -> Change:
    return Change(
        action=action, kind=ObjectKind.PERSON, key=key, reason="test", phase=2, after={**STUDENT, **attrs}
    )


def items_in(recorded: Recorded) -> int:
    """How many items a request carries: id pairs for batch writes, identifiers for id sets."""
    root = recorded.xml()
    pairs = [e for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("IdPair")]
    if pairs:
        return len(pairs)
    id_set = [e for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("}sourcedIdSet")]
    return len(id_set[0]) if id_set else 1


def all_ok(recorded: Recorded) -> tuple[int, bytes]:
    return 200, replies.response([replies.OK] * items_in(recorded))


def serve(respond: Callable[[Recorded], tuple[int, bytes]]):
    return StubServer(respond)


def test_is_a_target():
    with serve(all_ok) as stub:
        target = make_target(stub.url)
        assert isinstance(target, Target)
        target.close()


def test_apply_zips_statuses_and_does_not_send_refused_items():
    def answer(recorded: Recorded):
        return 200, replies.response([replies.OK, ("success", "warning", "", "e-mail not imported")])

    with serve(answer) as stub:
        target = make_target(stub.url)
        batch = [person("a"), person("b", role=None), person("c")]
        results = target.apply(batch)
        target.close()
    assert [r.key for r in results] == ["a", "b", "c"]
    assert [r.outcome for r in results] == [ItemOutcome.DONE, ItemOutcome.FAILED, ItemOutcome.WARNING]
    assert results[1].code == "koppel:missing-field"
    assert results[2].message == "e-mail not imported"
    (request,) = stub.requests
    assert request.operation == "createPersons" and items_in(request) == 2


def test_a_batch_larger_than_batch_size_is_split_in_order():
    with serve(all_ok) as stub:
        target = make_target(stub.url, batch_size=2)
        results = target.apply([person(f"p{i}") for i in range(5)])
        target.close()
    assert [r.key for r in results] == [f"p{i}" for i in range(5)]
    assert [items_in(r) for r in stub.requests] == [2, 2, 1]


def test_batch_rules():
    with serve(all_ok) as stub:
        target = make_target(stub.url)
        assert target.apply([]) == []
        with pytest.raises(ValueError, match="one kind and one action"):
            target.apply([person("a"), person("b", Action.UPDATE)])
        archived = Change(
            action=Action.ARCHIVE, kind=ObjectKind.PERSON, key="a", reason="t", phase=1, before=STUDENT
        )
        (result,) = target.apply([archived])
        target.close()
    assert result.outcome is ItemOutcome.FAILED and result.code == "koppel:unsupported-action"
    assert stub.requests == []


def test_wrong_credentials_raise_once_without_retrying():
    with serve(lambda r: (500, replies.INVALID_SECURITY)) as stub:
        target = make_target(stub.url)
        with pytest.raises(TargetAuthError):
            target.apply([person("a"), person("b")])
        target.close()
    assert len(stub.requests) == 1


def test_long_keys_go_out_hashed_and_come_back_as_target_id():
    key = "eck:" + "k" * 100
    with serve(all_ok) as stub:
        target = make_target(stub.url)
        (result,) = target.apply([person(key)])
        target.close()
    assert result.target_id == stable_key(key) and len(result.target_id) == 64
    assert stable_key(key).encode() in stub.requests[0].body


def archive(key: str, school: str = "12AB00") -> Change:
    before = {
        "type": "course",
        "name": f"{key} wiskunde",
        "parent": f"year:{school}",
        "school": school,
        "school_year": "2025-2026",
    }
    return Change(
        action=Action.ARCHIVE,
        kind=ObjectKind.GROUP,
        key=key,
        reason="year ended",
        phase=1,
        before=before,
        meta={"school_group": f"school:{school}"},
    )


def test_archive_makes_the_archive_hierarchy_once_then_moves_groups():
    with serve(all_ok) as stub:
        target = make_target(stub.url)
        first = target.apply([archive("3A"), archive("3B")])
        second = target.apply([archive("4A")])
        target.close()
    assert all(r.outcome is ItemOutcome.DONE for r in first + second)
    assert [r.operation for r in stub.requests] == ["createGroups", "updateGroups", "updateGroups"]
    folder = stub.requests[0].xml()
    assert folder.findtext(f".//{{{replies.GMS_DATA}}}descShort") == "Archief"
    assert folder.findtext(f".//{{{replies.GMS_DATA}}}type") == "Unspecified"
    moved = stub.requests[1].xml()
    assert [e.text for e in moved.iter(f"{{{replies.GMS_DATA}}}descShort")] == [
        "3A wiskunde (2025-2026)",
        "3B wiskunde (2025-2026)",
    ]
    assert {e.text for e in moved.iter(f"{{{NS.COMMON}}}identifier")} >= {"school:12AB00:archive"}


def test_archive_items_fail_when_their_archive_hierarchy_cannot_be_made():
    def answer(recorded: Recorded):
        if recorded.operation == "createGroups":
            return 200, replies.response(
                [replies.OK, ("failure", "error", "invaliddata", "Parent does not exist")]
            )
        return all_ok(recorded)

    with serve(answer) as stub:
        target = make_target(stub.url)
        results = target.apply([archive("3A", "12AB00"), archive("1A", "99ZZ00")])
        target.close()
    assert [r.outcome for r in results] == [ItemOutcome.DONE, ItemOutcome.FAILED]
    assert results[1].message == "archive hierarchy 'Archief' could not be made: Parent does not exist"
    assert items_in(stub.requests[1]) == 1


def test_delete_of_unknown_objects_is_done():
    def answer(recorded: Recorded):
        return 200, replies.response([("failure", "error", "unknownobject", "The person does not exist.")])

    with serve(answer) as stub:
        target = make_target(stub.url)
        deleted = Change(
            action=Action.DELETE, kind=ObjectKind.PERSON, key="gone", reason="left", phase=9, before=STUDENT
        )
        (result,) = target.apply([deleted])
        target.close()
    assert result.outcome is ItemOutcome.DONE


def test_payloads_preview_without_credentials(golden_dir):
    with serve(all_ok) as stub:
        target = make_target(stub.url)
        (request,) = target.payloads(
            [
                Change(action=Action.DELETE, kind=ObjectKind.PERSON, key=key, reason="t", phase=1)
                for key in ("66666", "33333", "999")
            ]
        )
        previews = target.payloads([archive("3A")])
        target.close()
    assert stub.requests == []
    assert b"Security" not in request.envelope and b"sandbox" not in request.envelope
    golden = (golden_dir / "deletePersons.html__example-request.xml").read_bytes()
    security = golden[
        golden.index(b"<wsse:Security") : golden.index(b"</wsse:Security>") + len(b"</wsse:Security>")
    ]
    expected = golden.replace(security, b"").replace(
        b">1</ims2:messageIdentifier>", b">preview-1</ims2:messageIdentifier>"
    )
    assert_xml_equal(request.envelope, expected)
    assert [p.operation.value for p in previews] == ["createGroups", "updateGroups"]


def test_apply_from_many_threads_at_once():
    with serve(all_ok) as stub:
        target = make_target(stub.url)
        results: dict[int, list] = {}

        def work(n: int) -> None:
            results[n] = target.apply([person(f"t{n}-{i}") for i in range(5)])

        threads = [threading.Thread(target=work, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        target.close()
    assert len(stub.requests) == 10
    for n in range(10):
        assert [r.key for r in results[n]] == [f"t{n}-{i}" for i in range(5)]
        assert all(r.outcome is ItemOutcome.DONE for r in results[n])


# -- read ----------------------------------------------------------------------------------------

LONG_GROUP = "csv:12AB00:2025-2026:" + "a-very-long-lesgroep-key-" * 3


def reading(recorded: Recorded) -> tuple[int, bytes]:
    root = recorded.xml()
    if recorded.operation == "readAllPersons":
        page = int(root.findtext(f".//{{{replies.PMS_MESS}}}PageIndex"))
        pairs = {
            1: [
                replies.person_pair("csv:1001", "Jan", "Berg"),
                replies.person_pair("", "Site", "Beheerder", "Administrator"),
            ],
            2: [replies.person_pair("itsla-0f8f", "Kees", "Vries", "Staff")],
        }.get(page, [])
        return 200, replies.response([replies.OK], replies.all_persons_body(pairs, 3), in_set=False)
    if recorded.operation == "readGroups":
        ids = [e.text for e in root.iter(f"{{{NS.COMMON}}}identifier")]
        statuses = [
            replies.OK if i == stable_key(LONG_GROUP) else ("failure", "error", "unknownobject", "unknown")
            for i in ids
        ]
        return 200, replies.response(
            statuses, replies.groups_body([replies.group_xml("Course", "ROOT", "3A wiskunde")])
        )
    if recorded.operation == "readMembershipsForGroup":
        group = stable_key(LONG_GROUP)
        body = replies.memberships_body(
            [
                (f"csv:1001|{group}", group, "csv:1001", "Learner"),
                (f"itsla-0f8f|{group}", group, "itsla-0f8f", "02"),
            ]
        )
        return 200, replies.response([replies.OK], body)
    return 500, b"unexpected"


def test_read_pages_persons_reads_known_groups_and_their_memberships():
    with serve(reading) as stub:
        target = make_target(stub.url)
        snapshot = target.read(
            [LONG_GROUP, "gone-group"],
            known_person_keys=["csv:1001"],
            known_target_ids={
                "csv:T042": "itsla-0f8f",
                "csv:T042|" + LONG_GROUP + "|teacher": f"itsla-0f8f|{stable_key(LONG_GROUP)}",
            },
        )
        target.close()
    assert snapshot.complete and snapshot.notes == ()
    assert [r.operation for r in stub.requests] == [
        "readAllPersons",
        "readAllPersons",
        "readGroups",
        "readMembershipsForGroup",
    ]
    persons = [o for o in snapshot.objects if o.kind is ObjectKind.PERSON]
    assert [(p.key, p.target_id, p.manual) for p in persons] == [
        ("csv:1001", "csv:1001", False),
        (None, None, True),
        ("csv:T042", "itsla-0f8f", True),
    ]
    (group,) = [o for o in snapshot.objects if o.kind is ObjectKind.GROUP]
    assert (group.key, group.target_id) == (LONG_GROUP, stable_key(LONG_GROUP))
    assert group.attrs == {"type": "course", "name": "3A wiskunde", "parent": None}
    memberships = [o for o in snapshot.objects if o.kind is ObjectKind.MEMBERSHIP]
    assert [m.attrs for m in memberships] == [
        {"person": "csv:1001", "group": LONG_GROUP, "role": "student", "home": False},
        {"person": "csv:T042", "group": LONG_GROUP, "role": "teacher", "home": False},
    ]
    assert memberships[1].key == "csv:T042|" + LONG_GROUP + "|teacher"


def test_read_is_incomplete_when_readallpersons_is_refused():
    def answer(recorded: Recorded):
        if recorded.operation == "readAllPersons":
            return 200, replies.response(
                [("failure", "error", "unsupported", "readAllPersons is not enabled")], in_set=False
            )
        return reading(recorded)

    with serve(answer) as stub:
        target = make_target(stub.url)
        snapshot = target.read([])
        target.close()
    assert not snapshot.complete
    assert "readAllPersons is not enabled" in snapshot.notes[0]


def test_read_sends_only_reads():
    with serve(reading) as stub:
        target = make_target(stub.url)
        target.read([LONG_GROUP])
        target.close()
    assert all(r.operation.startswith("read") for r in stub.requests)
    assert all(
        b"<msg:ConvertFromManual>false</msg:ConvertFromManual>" in r.body
        for r in stub.requests
        if r.operation == "readAllPersons"
    )
