"""The object repositories on SQLite and PostgreSQL: reading objects for a plan and for people
(``ObjectReads``), the drift reconciliation saw (``DriftRepository``), and what moves objects
(``Recorder``: record, adopt, the sent-and-unrecorded notes)."""

from __future__ import annotations

import pytest

from koppel.errors import StalePlanError
from koppel.model.change import Action, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.plan.state_view import UNRECORDED, ObjectStatus
from koppel.state.store import StateStore
from koppel.testing.conformance import change, membership, person, school


def ok(c, target_id=None):
    return (c, ItemResult(c.key, ItemOutcome.DONE, target_id=target_id))


def _seed(store: StateStore) -> int:
    run = store.begin_run("b", "x", kind="apply")
    store.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[
        ok(school("school:99XX00", "Het Lyceum"), "S1"), ok(person("las:1")), ok(person("las:2")),
        ok(membership("las:1", "school:99XX00"))])
    return run


def test_details_counts_and_school_names(store: StateStore):
    _seed(store)
    attrs, labels = store.objects.load_details("b", "x", ["las:1", "school:99XX00", "nobody"])
    assert set(attrs) == {"las:1", "school:99XX00"} and labels["school:99XX00"] == "school:99XX00"
    assert store.objects.counts("b", "x") == {"group": {"active": 1}, "person": {"active": 2},
                                              "membership": {"active": 1}}
    assert store.objects.school_names("b", "x") == {"99XX00": "school:99XX00"}
    assert store.objects.object("b", "x", "school:99XX00")["target_id"] == "S1"
    assert store.objects.counts("b", "unknown") == {} and store.objects.school_names("b", "unknown") == {}


def test_identity_rows_and_load_for_plan_agree(store: StateStore):
    _seed(store)
    view, identities = store.objects.load_for_plan("b", "x")
    assert sorted(identities, key=lambda r: r[0]) == sorted(store.objects.identity_rows("b", "x"), key=lambda r: r[0])
    assert {key for key, *_ in identities} == {"las:1", "las:2"}
    assert view.serial == 1 and set(view.memberships) == {"las:1|school:99XX00|student"}


def test_a_change_sent_and_not_recorded_is_sent_again(store: StateStore):
    run = _seed(store)
    update = change(Action.UPDATE, ObjectKind.PERSON, "las:2", {"given": "Ada"}, before={"given": "Zoë"})
    new = person("las:3")
    store.recorder.mark_sent(tenant="b", target="x", run_id=run, plan_id="p", changes=[update, new])
    assert {u["key"] for u in store.objects.unrecorded("b", "x")} == {"las:2", "las:3"}
    view = store.objects.load_view("b", "x")
    assert view.records["las:2"].fingerprint == UNRECORDED and view.unrecorded == {"las:2": "update",
                                                                                   "las:3": "create"}
    assert view.records["las:3"].status is ObjectStatus.ACTIVE, "a create without record becomes a record"
    store.recorder.record(tenant="b", target="x", run_id=run, plan_id="p", outcomes=[ok(new)])
    store.recorder.unmark(tenant="b", target="x", keys=["las:2"])
    assert store.objects.unrecorded("b", "x") == []


def test_recording_clears_the_drift_of_confirmed_changes_only(store: StateStore):
    run = _seed(store)
    store.drift.replace_drift("b", "x", {"las:1": {"given": "Zoe"}, "las:2": {"family": "Bergh"}})
    store.recorder.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[
        ok(change(Action.UPDATE, ObjectKind.PERSON, "las:1", {"given": "Zoë"}, before={"given": "Zoe"})),
        (person("las:2"), ItemResult("las:2", ItemOutcome.FAILED, "no")),
    ])
    assert store.drift.load_drift("b", "x") == {"las:2": {"family": "Bergh"}}


def test_drift_written_by_another_process_is_seen_after_the_lock(store_url: str):
    """Whether a state has drift is remembered per store; another store (process) may reconcile meanwhile,
    under the run lock: taking the lock makes ``record`` ask again, so that drift is cleared too."""
    first, other = StateStore.open(store_url), StateStore.open(store_url)
    try:
        run = _seed(first)
        state_id = first.state_id("b", "x")
        assert first.drift.has_drift(state_id) is False
        other.replace_drift("b", "x", {"las:1": {"given": "Zoe"}})
        with first.lock("b", "x", purpose="apply"):
            first.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[
                ok(change(Action.UPDATE, ObjectKind.PERSON, "las:1", {"given": "Zoë"}, before={"given": "Zoe"}))])
        assert other.load_drift("b", "x") == {}
    finally:
        first.close()
        other.close()


def test_adopt_links_an_existing_account_and_journals_it(store: StateStore):
    store.recorder.adopt("b", "x", "las:9", "T-9", approved_by="beheerder", username="jdoe")
    obj = store.objects.object("b", "x", "las:9")
    assert obj["target_id"] == "T-9" and obj["attrs"] == {"username": "jdoe"}
    (entry,) = store.history("b", "x", "las:9")
    assert entry.action == "adopt" and "approved by beheerder" in entry.reason
    assert store.serial("b", "x")[1] == 1


def test_record_takeover_is_refused_on_another_serial(store: StateStore):
    _, lineage, serial = store.ensure_state("b", "x")
    p = person("las:5")
    with pytest.raises(StalePlanError):
        store.recorder.record_takeover("b", "x", lineage=lineage, serial=serial + 1, changes=[p], run_id=1,
                                       plan_id=None, approved_by="beheerder")
    assert store.objects.object("b", "x", "las:5") is None
    assert store.recorder.record_takeover("b", "x", lineage=lineage, serial=serial, changes=[p], run_id=1,
                                          plan_id=None, approved_by="beheerder") == serial + 1
    assert store.objects.object("b", "x", "las:5") is not None
