"""The itslearning target against the itslearning sandbox, over a real socket.

The sandbox (``koppel.sandbox.itslearning``) is written independently from the same public facts
and never imports this target, so a disagreement between the two shows up here. Each test gets a
fresh sandbox on its own SQLite file; the site root (syncId ``ROOT``) is made first, as an
itslearning administrator would give the site's root hierarchy a syncId before the first run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from koppel.errors import TargetAuthError, TransientTargetError
from koppel.model.change import Action, Change, ItemOutcome
from koppel.model.desired import ObjectKind
from koppel.sandbox.itslearning import SandboxConfig, SandboxServer
from koppel.targets.itslearning import ItslearningTarget

from .sandbox_support import make_site_root, target_for

SCHOOL = "school:12AB00"
YEAR = "year:12AB00:2025-2026"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    with SandboxServer(
        SandboxConfig(db_path=tmp_path / "itslearning.db"), host="127.0.0.1", port=0
    ) as server:
        make_site_root(server)
        yield server


def target(server: SandboxServer, **overrides: Any) -> ItslearningTarget:
    return target_for(server, **overrides)


def change(kind: ObjectKind, action: Action, key: str, after=None, before=None, **extra) -> Change:
    return Change(
        action=action, kind=kind, key=key, reason="test", phase=1, after=after, before=before, **extra
    )


def student(n: int, **attrs: Any) -> dict[str, Any]:
    return {
        "role": "student",
        "given": f"Leerling{n}",
        "prefix": "",
        "family": "Jansen",
        "username": f"ljansen{n}",
        "email": f"l{n}@school.example",
        **attrs,
    }


def school_and_year(t: ItslearningTarget) -> None:
    results = t.apply(
        [
            change(
                ObjectKind.GROUP,
                Action.CREATE,
                SCHOOL,
                {"type": "school", "name": "Het Baken", "code": "12AB00", "parent": None},
            )
        ]
    )
    results += t.apply(
        [
            change(
                ObjectKind.GROUP,
                Action.CREATE,
                YEAR,
                {"type": "folder", "name": "2025-2026", "parent": SCHOOL},
            )
        ]
    )
    assert all(r.outcome is ItemOutcome.DONE for r in results), results


def objects(server: SandboxServer, kind: str) -> dict[str, dict[str, Any]]:
    key = {"persons": "sync_key", "groups": "sync_id", "memberships": "sync_id", "courses": "sync_id"}[kind]
    return {item[key]: item for item in server.objects()[kind]}


def persons_by_key(server: SandboxServer) -> dict[str, dict[str, Any]]:
    return {p["sync_key"]: p for p in server.objects()["persons"] if p["sync_key"]}


# -- the cases the brief names --------------------------------------------------------------------


def test_wrong_credentials_one_auth_error_one_request(sandbox: SandboxServer):
    before = sandbox.stats()["requests_total"]
    wrong = target(sandbox, password="not-the-password")
    with pytest.raises(TargetAuthError, match="username and password"):
        wrong.apply([change(ObjectKind.PERSON, Action.CREATE, f"p{n}", student(n)) for n in range(3)])
    wrong.close()
    assert sandbox.stats()["requests_total"] == before + 1
    assert sandbox.stats()["persons"] == 0


def test_a_200_character_name_is_cut_with_a_diagnostic_not_a_failed_batch(sandbox: SandboxServer):
    t = target(sandbox)
    long_name = "Maximiliaan" + "x" * 189
    results = t.apply(
        [
            change(ObjectKind.PERSON, Action.CREATE, "p1", student(1, given=long_name)),
            change(ObjectKind.PERSON, Action.CREATE, "p2", student(2)),
        ]
    )
    t.close()
    assert [r.outcome for r in results] == [ItemOutcome.WARNING, ItemOutcome.DONE]
    assert results[0].message == "first name cut to itslearning's maximum of 64 characters (was 200)"
    assert persons_by_key(sandbox)["p1"]["first"] == long_name[:64]


def test_a_long_group_name_is_cut_too(sandbox: SandboxServer):
    t = target(sandbox)
    school_and_year(t)
    name = "Wiskunde B " * 20
    (result,) = t.apply(
        [
            change(
                ObjectKind.GROUP,
                Action.CREATE,
                "c1",
                {"type": "course", "name": name, "code": "wisB", "parent": YEAR},
            )
        ]
    )
    t.close()
    assert result.outcome is ItemOutcome.WARNING and "name cut" in result.message
    assert objects(sandbox, "groups")["c1"]["name"] == name[:64]


def test_a_batch_of_50_creates_round_trips_in_one_request(sandbox: SandboxServer):
    t = target(sandbox)
    before = sandbox.stats()["requests"].get("createPersons", 0)
    results = t.apply(
        [change(ObjectKind.PERSON, Action.CREATE, f"csv:{n:04d}", student(n)) for n in range(50)]
    )
    assert [r.key for r in results] == [f"csv:{n:04d}" for n in range(50)]
    assert all(r.outcome is ItemOutcome.DONE and r.target_id == r.key for r in results)
    stats = sandbox.stats()
    assert stats["persons"] == 50 and stats["requests"]["createPersons"] == before + 1
    # create is an upsert: replaying the same batch changes nothing and fails nothing
    assert all(
        r.outcome is ItemOutcome.DONE
        for r in t.apply(
            [change(ObjectKind.PERSON, Action.CREATE, f"csv:{n:04d}", student(n)) for n in range(50)]
        )
    )
    assert sandbox.stats()["persons"] == 50
    t.close()


def test_memberships_with_home_organisation(sandbox: SandboxServer):
    t = target(sandbox)
    school_and_year(t)
    t.apply(
        [
            change(
                ObjectKind.GROUP,
                Action.CREATE,
                "school:12AB01",
                {"type": "school", "name": "De Vonk", "parent": None},
            )
        ]
    )
    t.apply(
        [
            change(
                ObjectKind.PERSON,
                Action.CREATE,
                "T1",
                {"role": "staff", "given": "Kees", "family": "Vries", "username": "kvries"},
            )
        ]
    )
    results = t.apply(
        [
            change(
                ObjectKind.MEMBERSHIP,
                Action.CREATE,
                f"T1|{SCHOOL}|teacher",
                {"person": "T1", "group": SCHOOL, "role": "teacher", "home": True},
            ),
            change(
                ObjectKind.MEMBERSHIP,
                Action.CREATE,
                "T1|school:12AB01|teacher",
                {"person": "T1", "group": "school:12AB01", "role": "teacher", "home": False},
            ),
        ]
    )
    assert all(r.outcome is ItemOutcome.DONE for r in results), results
    held = objects(sandbox, "memberships")
    assert held[f"T1|{SCHOOL}"]["home_organisation"] is True and held[f"T1|{SCHOOL}"]["role"] == "Instructor"
    assert held["T1|school:12AB01"]["home_organisation"] is False
    # The home organisation moves with an update of both memberships.
    moved = t.apply(
        [
            change(
                ObjectKind.MEMBERSHIP,
                Action.UPDATE,
                f"T1|{SCHOOL}|teacher",
                {"person": "T1", "group": SCHOOL, "role": "teacher", "home": False},
            ),
            change(
                ObjectKind.MEMBERSHIP,
                Action.UPDATE,
                "T1|school:12AB01|teacher",
                {"person": "T1", "group": "school:12AB01", "role": "teacher", "home": True},
            ),
        ]
    )
    t.close()
    assert all(r.ok for r in moved), moved
    held = objects(sandbox, "memberships")
    assert (held[f"T1|{SCHOOL}"]["home_organisation"], held["T1|school:12AB01"]["home_organisation"]) == (
        False,
        True,
    )


def test_suspend_then_restore_keeps_the_same_user(sandbox: SandboxServer):
    t = target(sandbox)
    school_and_year(t)
    t.apply([change(ObjectKind.PERSON, Action.CREATE, "p1", student(1))])
    t.apply(
        [
            change(
                ObjectKind.MEMBERSHIP,
                Action.CREATE,
                f"p1|{SCHOOL}|student",
                {"person": "p1", "group": SCHOOL, "role": "student", "home": True},
            )
        ]
    )
    original = persons_by_key(sandbox)["p1"]
    (suspended,) = t.apply([change(ObjectKind.PERSON, Action.SUSPEND, "p1", before=student(1))])
    assert suspended.outcome is ItemOutcome.DONE
    assert persons_by_key(sandbox)["p1"]["trashed"] is True
    # Suspending again (already in the trash can) is done, not failed.
    assert (
        t.apply([change(ObjectKind.PERSON, Action.SUSPEND, "p1", before=student(1))])[0].outcome
        is ItemOutcome.DONE
    )
    (restored,) = t.apply(
        [change(ObjectKind.PERSON, Action.RESTORE, "p1", after=student(1), before=student(1))]
    )
    t.close()
    assert restored.outcome is ItemOutcome.DONE and restored.target_id == "p1"
    back = persons_by_key(sandbox)["p1"]
    assert back["trashed"] is False and back["id"] == original["id"] and back["username"] == "ljansen1"


def test_archive_of_a_course_keeps_it_under_the_school_archive(sandbox: SandboxServer):
    t = target(sandbox)
    school_and_year(t)
    course = {
        "type": "course",
        "name": "3A wiskunde",
        "code": "3A-wi",
        "parent": YEAR,
        "school": "12AB00",
        "school_year": "2025-2026",
    }
    t.apply([change(ObjectKind.GROUP, Action.CREATE, "c-3A-wi", course)])
    t.apply([change(ObjectKind.PERSON, Action.CREATE, "p1", student(1))])
    t.apply(
        [
            change(
                ObjectKind.MEMBERSHIP,
                Action.CREATE,
                "p1|c-3A-wi|student",
                {"person": "p1", "group": "c-3A-wi", "role": "student", "home": False},
            )
        ]
    )
    (archived,) = t.apply(
        [change(ObjectKind.GROUP, Action.ARCHIVE, "c-3A-wi", before=course, meta={"school_group": SCHOOL})]
    )
    t.close()
    assert archived.outcome is ItemOutcome.DONE, archived
    groups = objects(sandbox, "groups")
    folder = groups[f"{SCHOOL}:archive"]
    assert (folder["type"], folder["name"], folder["parent_sync_id"]) == ("Unspecified", "Archief", SCHOOL)
    moved = groups["c-3A-wi"]
    assert (moved["type"], moved["name"], moved["parent_sync_id"]) == (
        "Course",
        "3A wiskunde (2025-2026)",
        f"{SCHOOL}:archive",
    )
    assert moved["course"]["title"] == "3A wiskunde (2025-2026)" and moved["course"]["code"] == "3A-wi"
    assert "p1|c-3A-wi" in objects(sandbox, "memberships")  # the course keeps its people and content


def test_delete_of_an_unknown_person_is_done(sandbox: SandboxServer):
    t = target(sandbox)
    results = t.apply(
        [
            change(ObjectKind.PERSON, Action.DELETE, key, before=student(1))
            for key in ("never-existed", "also-not")
        ]
    )
    t.close()
    assert [r.outcome for r in results] == [ItemOutcome.DONE, ItemOutcome.DONE]


# -- more lifecycle and protocol behaviour ---------------------------------------------------------


def test_full_layout_in_combined_mode_and_read_back(sandbox: SandboxServer):
    t = target(sandbox, endpoints="combined", url=sandbox.endpoint("combined"))
    school_and_year(t)
    t.apply([change(ObjectKind.GROUP, Action.CREATE, "k-3A", {"type": "klas", "name": "3A", "parent": YEAR})])
    t.apply(
        [
            change(
                ObjectKind.GROUP,
                Action.CREATE,
                "c-3A-wi",
                {"type": "course", "name": "3A wiskunde", "code": "3A-wi", "parent": "k-3A"},
            )
        ]
    )
    t.apply([change(ObjectKind.PERSON, Action.CREATE, f"p{n}", student(n)) for n in range(3)])
    t.apply(
        [
            change(
                ObjectKind.MEMBERSHIP,
                Action.CREATE,
                f"p{n}|c-3A-wi|student",
                {"person": f"p{n}", "group": "c-3A-wi", "role": "student", "home": False},
            )
            for n in range(3)
        ]
    )
    httpx.post(
        sandbox.url + "/sandbox/api/manual/person",
        json={"first": "Site", "last": "Beheerder", "username": "admin", "profile": "Administrator"},
    ).raise_for_status()
    snapshot = t.read(
        [SCHOOL, YEAR, "k-3A", "c-3A-wi", "never-made"], known_person_keys=[f"p{n}" for n in range(3)]
    )
    t.close()
    assert snapshot.complete, snapshot.notes
    by_kind: dict[ObjectKind, list] = {
        kind: [o for o in snapshot.objects if o.kind is kind] for kind in ObjectKind
    }
    assert {o.key for o in by_kind[ObjectKind.GROUP]} == {SCHOOL, YEAR, "k-3A", "c-3A-wi"}
    course = next(o for o in by_kind[ObjectKind.GROUP] if o.key == "c-3A-wi")
    assert course.attrs == {"type": "course", "name": "3A wiskunde", "parent": "k-3A", "code": "3A-wi"}
    assert {o.key for o in by_kind[ObjectKind.PERSON] if not o.manual} == {"p0", "p1", "p2"}
    (manual,) = [o for o in by_kind[ObjectKind.PERSON] if o.manual]
    assert (
        manual.key is None and manual.attrs["username"] == "admin" and manual.attrs["role"] == "Administrator"
    )
    assert sorted(o.attrs["person"] for o in by_kind[ObjectKind.MEMBERSHIP]) == ["p0", "p1", "p2"]
    assert t.held_attrs(ObjectKind.GROUP, {"type": "klas", "name": "3A", "parent": YEAR}) == next(
        o.attrs for o in by_kind[ObjectKind.GROUP] if o.key == "k-3A"
    )


def test_update_leaves_fields_koppel_does_not_own(sandbox: SandboxServer):
    t = target(sandbox)
    t.apply([change(ObjectKind.PERSON, Action.CREATE, "p1", student(1))])
    httpx.post(
        sandbox.url + "/sandbox/api/manual/edit",
        json={"kind": "person", "sync_key": "p1", "field": "email", "value": "by-hand@school.example"},
    ).raise_for_status()
    # e-mail is not owned: it is absent from after, so it is not sent and stays as the administrator set it.
    (result,) = t.apply(
        [
            change(
                ObjectKind.PERSON,
                Action.UPDATE,
                "p1",
                after={"role": "student", "given": "Leerling1", "family": "Jansen-de Wit"},
                before=student(1),
            )
        ]
    )
    t.close()
    assert result.outcome is ItemOutcome.DONE
    held = persons_by_key(sandbox)["p1"]
    assert (held["last"], held["email"]) == ("Jansen-de Wit", "by-hand@school.example")


def test_group_delete_takes_descendants_and_disconnects_the_course(sandbox: SandboxServer):
    t = target(sandbox)
    school_and_year(t)
    t.apply([change(ObjectKind.GROUP, Action.CREATE, "k-3A", {"type": "klas", "name": "3A", "parent": YEAR})])
    t.apply(
        [
            change(
                ObjectKind.GROUP,
                Action.CREATE,
                "c-3A-wi",
                {"type": "course", "name": "3A wiskunde", "parent": "k-3A"},
            )
        ]
    )
    t.apply([change(ObjectKind.PERSON, Action.CREATE, "p1", student(1))])
    t.apply(
        [
            change(
                ObjectKind.MEMBERSHIP,
                Action.CREATE,
                "m",
                {"person": "p1", "group": "c-3A-wi", "role": "student", "home": False},
            )
        ]
    )
    (deleted,) = t.apply(
        [
            change(
                ObjectKind.GROUP, Action.DELETE, "k-3A", before={"type": "klas", "name": "3A", "parent": YEAR}
            )
        ]
    )
    t.close()
    assert deleted.outcome is ItemOutcome.DONE
    assert set(objects(sandbox, "groups")) == {"ROOT", SCHOOL, YEAR}
    assert objects(sandbox, "memberships") == {}
    assert sandbox.stats()["orphaned_courses"] == 1


def test_membership_delete_and_replay(sandbox: SandboxServer):
    t = target(sandbox)
    school_and_year(t)
    t.apply([change(ObjectKind.PERSON, Action.CREATE, "p1", student(1))])
    attrs = {"person": "p1", "group": SCHOOL, "role": "student", "home": True}
    t.apply([change(ObjectKind.MEMBERSHIP, Action.CREATE, "k", attrs)])
    first = t.apply([change(ObjectKind.MEMBERSHIP, Action.DELETE, "k", before=attrs)])
    replay = t.apply([change(ObjectKind.MEMBERSHIP, Action.DELETE, "k", before=attrs)])
    t.close()
    assert [first[0].outcome, replay[0].outcome] == [ItemOutcome.DONE, ItemOutcome.DONE]
    assert objects(sandbox, "memberships") == {}


def test_guardian_with_children_and_school_membership(sandbox: SandboxServer):
    t = target(sandbox, send_guardian_relationships=True)
    school_and_year(t)
    t.apply([change(ObjectKind.PERSON, Action.CREATE, f"p{n}", student(n)) for n in (1, 2)])
    (parent,) = t.apply(
        [
            change(
                ObjectKind.PERSON,
                Action.CREATE,
                "G1",
                {
                    "role": "guardian",
                    "given": "Mieke",
                    "family": "Jansen",
                    "username": "mjansen",
                    "children": ("p1", "p2"),
                },
            )
        ]
    )
    (member,) = t.apply(
        [
            change(
                ObjectKind.MEMBERSHIP,
                Action.CREATE,
                f"G1|{SCHOOL}|guardian",
                {"person": "G1", "group": SCHOOL, "role": "guardian", "home": True},
            )
        ]
    )
    t.close()
    assert parent.outcome is ItemOutcome.DONE and member.outcome is ItemOutcome.DONE, (parent, member)
    held = persons_by_key(sandbox)["G1"]
    assert held["institution_role"] == "Carer" and sorted(held["children"]) == ["p1", "p2"]
    assert objects(sandbox, "memberships")[f"G1|{SCHOOL}"]["role"] == "Member"


def test_data_errors_fail_their_items_only(sandbox: SandboxServer):
    t = target(sandbox)
    results = t.apply(
        [
            change(
                ObjectKind.GROUP,
                Action.CREATE,
                "orphan",
                {"type": "klas", "name": "3A", "parent": "no-such-parent"},
            ),
            change(
                ObjectKind.GROUP, Action.CREATE, "fine", {"type": "school", "name": "School", "parent": None}
            ),
        ]
    )
    t.close()
    assert [r.outcome for r in results] == [ItemOutcome.FAILED, ItemOutcome.DONE]
    assert results[0].code and "no-such-parent" in results[0].message


def test_permanent_faults_fail_the_same_items_on_every_try(tmp_path: Path):
    config = SandboxConfig(db_path=tmp_path / "its.db", permanent_fail_rate=0.3, seed=7)
    with SandboxServer(config, host="127.0.0.1", port=0) as server:
        t = target(server)  # persons only: no site root needed (it could be one of the doomed objects)
        batch = [change(ObjectKind.PERSON, Action.CREATE, f"p{n}", student(n)) for n in range(20)]
        first, second = t.apply(batch), t.apply(batch)
        t.close()
    failed = [r.key for r in first if r.outcome is ItemOutcome.FAILED]
    assert failed and len(failed) < 20
    assert failed == [r.key for r in second if r.outcome is ItemOutcome.FAILED]
    assert {r.code for r in first if r.outcome is ItemOutcome.FAILED} == {"invaliddata"}


def test_injected_server_faults_are_transient(tmp_path: Path):
    with SandboxServer(
        SandboxConfig(db_path=tmp_path / "its.db", fail_rate=1.0), host="127.0.0.1", port=0
    ) as server:
        t = target(server)
        with pytest.raises(TransientTargetError):
            t.apply([change(ObjectKind.PERSON, Action.CREATE, "p1", student(1))])
        t.close()


def test_more_operations_in_flight_than_allowed_get_http_503_as_a_transient_error(tmp_path: Path):
    """The sandbox's strict mode answers HTTP 503 (as IIS does) to a request that would leave more
    operations unanswered than allowed; the target reports it as transient, whole-request."""
    config = SandboxConfig(db_path=tmp_path / "its.db", max_operations_in_flight=3, latency_ms=300)
    with SandboxServer(config, host="127.0.0.1", port=0) as server:
        make_site_root(server)
        t = target(server)
        outcomes: list[ItemOutcome] = []
        errors: list[Exception] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            changes = [
                change(ObjectKind.PERSON, Action.CREATE, f"p{n}-{i}", student(i, username=f"u{n}-{i}"))
                for i in range(3)
            ]
            try:
                results = t.apply(changes)
            except TransientTargetError as error:
                with lock:
                    errors.append(error)
                return
            with lock:
                outcomes.extend(r.outcome for r in results)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        t.close()
        refused = server.stats()["http_503"]
    assert refused >= 1 and len(errors) == refused
    assert all("503" in str(error) for error in errors)
    assert outcomes and set(outcomes) == {ItemOutcome.DONE}
