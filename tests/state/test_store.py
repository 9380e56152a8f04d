"""The state store on SQLite and PostgreSQL: state moves only with the journal, locks, plans, history."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from koppel.errors import LockHeld, PlanNotFound
from koppel.model.change import Action, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.plan.model import Plan
from koppel.plan.state_view import ObjectStatus
from koppel.state import schema as t
from koppel.state.store import StateStore
from koppel.testing.conformance import change, membership, person, school


def ok(c, target_id=None):
    return (c, ItemResult(c.key, ItemOutcome.DONE, target_id=target_id))


def test_migrations_create_every_table(store: StateStore):
    from sqlalchemy import inspect

    names = set(inspect(store.engine).get_table_names())
    assert {"targets_state", "objects", "runs", "plans", "journal", "locks", "source_reads", "alembic_version"} <= names


def test_state_has_lineage_and_serial(store: StateStore):
    sid, lineage, serial = store.ensure_state("bestuur", "itslearning")
    assert serial == 0 and len(lineage) == 36
    assert store.ensure_state("bestuur", "itslearning") == (sid, lineage, 0)
    assert store.ensure_state("bestuur", "other")[1] != lineage


def test_record_moves_state_and_journal_together(store: StateStore):
    run = store.begin_run("b", "x", kind="apply")
    s, p, m = school(), person("las:1"), membership("las:1", "conf-school", home=True)
    failed = person("las:2")
    serial = store.record(tenant="b", target="x", run_id=run, plan_id="abc", outcomes=[
        ok(s, "S1"), ok(p), ok(m),
        (failed, ItemResult("las:2", ItemOutcome.FAILED, "invalid e-mail", code="invaliddata")),
    ])
    assert serial == 1
    view = store.load_view("b", "x", lean=False)
    assert set(view.records) == {"conf-school", "las:1", "las:1|conf-school|student"}
    lean = store.load_view("b", "x")
    assert set(lean.records) == {"conf-school", "las:1"}, "active memberships are not records in a lean view"
    assert lean.memberships == {"las:1|conf-school|student": m.fingerprint}
    assert lean.membership_totals == {"99XX00": 1}
    assert view.records["conf-school"].target_id == "S1"
    assert view.records["conf-school"].group_type == "school"
    assert view.records["las:1"].fingerprint == p.fingerprint
    attrs = store.load_attrs("b", "x", ["las:1"])
    assert '"given":"Zoë"' in attrs["las:1"]
    entries = store.run_journal(run)
    assert [(e.key, e.outcome) for e in entries] == [("conf-school", "done"), ("las:1", "done"),
                                                      ("las:1|conf-school|student", "done"), ("las:2", "failed")]
    assert entries[-1].message == "invalid e-mail"


def test_suspend_archive_delete_change_status(store: StateStore):
    run = store.begin_run("b", "x", kind="apply")
    p = person("las:1")
    store.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[ok(school()), ok(p),
                                                                           ok(membership("las:1", "conf-school"))])
    store.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[
        ok(change(Action.SUSPEND, ObjectKind.PERSON, "las:1", before=p.after,
                  dates={"absent_since": "2026-07-31", "delete_after": "2026-08-30"})),
        ok(change(Action.DELETE, ObjectKind.MEMBERSHIP, "las:1|conf-school|student",
                  before=membership("las:1", "conf-school").after)),
        ok(change(Action.ARCHIVE, ObjectKind.GROUP, "conf-school", before={})),
    ])
    view = store.load_view("b", "x", lean=False)
    rec = view.records["las:1"]
    assert rec.status is ObjectStatus.SUSPENDED and rec.delete_after == "2026-08-30"
    assert view.records["conf-school"].status is ObjectStatus.ARCHIVED
    assert "las:1|conf-school|student" not in view.records
    store.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[
        ok(change(Action.DELETE, ObjectKind.PERSON, "las:1", before=p.after,
                  dates={"absent_since": "2026-07-31", "delete_after": "2026-08-30"}))])
    assert store.load_view("b", "x").records["las:1"].status is ObjectStatus.DELETED
    assert [e.action for e in store.history("b", "x", "las:1")] == ["create", "create", "suspend", "delete", "delete"]


def test_lock_is_exclusive_and_released(store: StateStore):
    with store.lock("b", "x", purpose="apply"):
        with pytest.raises(LockHeld) as info, store.lock("b", "x", purpose="apply"):
            pass
        assert "busy" in str(info.value)
        with store.lock("b", "other", purpose="apply"):
            pass  # another target is independent
    with store.lock("b", "x", purpose="apply"):
        pass


def test_lock_of_a_dead_process_is_taken_over(store: StateStore):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)
    import socket

    with store.engine.begin() as conn:
        conn.execute(t.locks.insert().values(tenant="b", target="x", holder="old", host=socket.gethostname(),
                                             pid=dead_pid, purpose="apply", acquired_at="2026-01-01T00:00:00Z",
                                             heartbeat_at="2026-01-01T00:00:00Z"))
    with store.lock("b", "x", purpose="apply") as holder:
        assert store.current_lock("b", "x").holder == holder


def test_lock_of_another_host_expires_only_after_silence(store_url):
    now = [dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)]
    s = StateStore.open(store_url, clock=lambda: now[0])
    try:
        with s.engine.begin() as conn:
            conn.execute(t.locks.insert().values(tenant="b", target="x", holder="far", host="elsewhere", pid=1,
                                                 purpose="apply", acquired_at="2026-05-01T11:00:00Z",
                                                 heartbeat_at="2026-05-01T11:00:00Z"))
        with pytest.raises(LockHeld), s.lock("b", "x", purpose="apply", stale_after_s=7200):
            pass
        now[0] = dt.datetime(2026, 5, 1, 14, tzinfo=dt.UTC)
        with s.lock("b", "x", purpose="apply", stale_after_s=7200):
            pass
    finally:
        s.close()


def test_plans_are_saved_loaded_and_decided(store: StateStore):
    p = Plan("b", "x", "lin", 0, "2026-03-02", "2025-2026", (person("las:9"),))
    store.save_plan(p, status="held")
    assert store.load_plan(p.id).to_json_bytes() == p.to_json_bytes()
    assert store.plan_record(p.id[:6]).id == p.id, "a unique prefix finds the plan"
    assert [r.id for r in store.plans("b", "x", status=["held"])] == [p.id]
    store.set_plan_status(p.id, "applied", by="mevr. de Vries", approved=True, run_id=4)
    rec = store.plan_record(p.id)
    assert rec.status == "applied" and rec.approved_by == "mevr. de Vries" and rec.run_id == 4
    with pytest.raises(PlanNotFound):
        store.plan_record("nope")


def test_stale_plans_are_marked(store: StateStore):
    p = Plan("b", "x", "lin", 0, "2026-03-02", "2025-2026", (person("las:9"),))
    store.save_plan(p, status="held")
    assert store.mark_stale_plans("b", "x", serial=3) == 1
    assert store.plan_record(p.id).status == "stale"


def test_runs_and_source_reads(store: StateStore):
    run = store.begin_run("b", "x", kind="sync", trigger="schedule")
    store.finish_run(run, status="succeeded", summary={"outcomes": {"done": 3}})
    (info,) = store.runs("b", "x")
    assert info.status == "succeeded" and info.summary == {"outcomes": {"done": 3}} and info.trigger == "schedule"
    store.record_source_read("b", status="ok", school_year="2025-2026", counts={"persons": 3}, sources=[],
                             diagnostics=[{"severity": "error", "code": "x", "message": "m"},
                                          {"severity": "warning", "code": "y", "message": "n"}])
    latest = store.latest_source_read("b")
    assert latest["errors"] == 1 and latest["warnings"] == 1 and latest["diagnostics"][0]["code"] == "x"


def test_find_persons_and_purge(store: StateStore):
    run = store.begin_run("b", "x", kind="apply")
    p = change(Action.CREATE, ObjectKind.PERSON, "las:77", {"role": "student", "given": "Çelik", "prefix": "",
                                                            "family": "Aydın", "username": "77", "email": None},
               label="Çelik Aydın", meta={"leerlingnummer": "77", "las_key": "77"})
    store.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[ok(school()), ok(p),
                                                                           ok(membership("las:77", "conf-school"))])
    assert [m["key"] for m in store.find_persons("b", None, "aydın")] == ["las:77"]
    assert [m["key"] for m in store.find_persons("b", "x", "77")] == ["las:77"]
    store.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[
        ok(change(Action.DELETE, ObjectKind.PERSON, "las:77", before=p.after,
                  dates={"absent_since": "2025-01-01", "delete_after": "2025-02-01"}))])
    assert store.purgeable_persons("b", "x", before="2000-01-01") == [], "retention not over yet"
    assert [r["key"] for r in store.purgeable_persons("b", "x", before="9999-12-31")] == ["las:77"]
    result = store.purge_persons("b", "x", ["las:77"])
    assert result["journal"] >= 3
    assert store.history("b", "x", "las:77") == []
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.objects).where(
            t.objects.c.person_key == "las:77")).scalar() == 0


def test_schema_revision_constant_is_the_alembic_head(store: StateStore):
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from koppel.state.store import SCHEMA_REVISION

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("koppel.state") / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_REVISION
    assert store.schema_revision() == SCHEMA_REVISION
