"""The history repository on SQLite and PostgreSQL: finding persons, their history across targets, and
the purge once their retention period is over."""

from __future__ import annotations

from koppel.model.change import Action, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.state.store import StateStore
from koppel.testing.conformance import change, membership, person, school


def ok(c):
    return (c, ItemResult(c.key, ItemOutcome.DONE))


def _record(store: StateStore, target: str, *changes) -> None:
    run = store.begin_run("b", target, kind="apply")
    store.record(tenant="b", target=target, run_id=run, plan_id=None, outcomes=[ok(c) for c in changes])


def test_a_person_is_found_by_key_in_any_target(store: StateStore):
    _record(store, "x", school(), person("las:1", given="Fenna"), membership("las:1", "conf-school"))
    found = store.people.person("b", "las:1")
    assert found is not None and found["target"] == "x" and found["label"] == "las:1"
    assert store.people.person("b", "las:404") is None and store.people.person("other", "las:1") is None
    assert [p["key"] for p in store.people.find_persons("b", "x", "las:1")] == ["las:1"]
    assert store.people.find_persons("b", "y", "las:1") == []


def test_history_holds_the_person_and_their_memberships(store: StateStore):
    _record(store, "x", school(), person("las:1"), membership("las:1", "conf-school"))
    _record(store, "y", person("las:1"))
    both = store.people.history("b", None, "las:1")
    assert [(e.key, e.action) for e in both] == [("las:1", "create"), ("las:1|conf-school|student", "create"),
                                                 ("las:1", "create")]
    assert len(store.people.object_history("b", "y", "las:1")) == 1


def test_purge_removes_a_deleted_person_with_memberships_and_history(store: StateStore):
    p = person("las:1")
    _record(store, "x", school(), p, membership("las:1", "conf-school"), person("las:2"))
    _record(store, "x", change(Action.DELETE, ObjectKind.PERSON, "las:1", before=p.after,
                               dates={"absent_since": "2025-01-01"}))
    due = store.people.purgeable_persons("b", "x", before="9999-12-31")
    assert [d["key"] for d in due] == ["las:1"] and due[0]["absent_since"] == "2025-01-01"
    result = store.people.purge_persons("b", "x", ["las:1"])
    assert result == {"persons": 1, "rows": 2, "journal": 3}
    assert store.people.history("b", "x", "las:1") == [] and len(store.people.history("b", "x", "las:2")) == 1
    assert store.objects.object("b", "x", "las:1|conf-school|student") is None
    assert store.people.purge_persons("b", "unknown", ["las:2"]) == {"persons": 0, "journal": 0}
