"""The run repositories on SQLite and PostgreSQL: runs and their journal (``RunRepository``), and the
reads of the LAS (``SourceReadRepository``)."""

from __future__ import annotations

from koppel.model.change import ItemOutcome, ItemResult
from koppel.state.store import StateStore
from koppel.testing.conformance import person, school


def test_runs_page_newest_first(store: StateStore):
    ids = [store.runs_repo.begin_run("b", "x", kind="sync") for _ in range(5)]
    store.runs_repo.begin_run("b", "other", kind="sync")
    assert [r.id for r in store.runs_repo.runs("b", "x", limit=2)] == ids[:-3:-1]
    assert [r.id for r in store.runs_repo.runs("b", "x", limit=2, offset=4)] == [ids[0]]
    assert [i for i, _, _ in store.runs_repo.run_times("b", "x", since="2000-01-01")] == ids


def test_finish_and_fail_stale_runs(store: StateStore):
    done, left = store.runs_repo.begin_run("b", "x", kind="apply"), store.runs_repo.begin_run("b", "x", kind="apply")
    store.runs_repo.finish_run(done, status="succeeded", summary={"outcomes": {"done": 1}}, plan_id="p1")
    assert store.runs_repo.fail_stale_runs("b", "x") == 1
    assert store.runs_repo.run(left).status == "failed"
    info = store.runs_repo.run(done)
    assert (info.status, info.plan_id, info.summary) == ("succeeded", "p1", {"outcomes": {"done": 1}})
    assert store.runs_repo.run(10_000) is None


def test_a_runs_journal_by_outcome_and_per_school(store: StateStore):
    run = store.runs_repo.begin_run("b", "x", kind="apply")
    failed = [(person(f"las:{i}"), ItemResult(f"las:{i}", ItemOutcome.FAILED, "no")) for i in range(3)]
    store.record(tenant="b", target="x", run_id=run, plan_id=None, outcomes=[
        (school(), ItemResult("conf-school", ItemOutcome.DONE)), *failed,
        (person("las:9"), ItemResult("las:9", ItemOutcome.FAILED, "skipped", code="skipped"))])
    page = store.runs_repo.run_journal_by_outcome(run, ["failed", "skipped"], limit=2, offset=2)
    assert [(e.key, e.outcome) for e in page] == [("las:2", "failed"), ("las:9", "skipped")]
    assert sorted(store.runs_repo.outcome_counts(run)) == [("99XX00", "done", 1), ("99XX00", "failed", 3),
                                                           ("99XX00", "skipped", 1)]
    assert [e.key for e in store.runs_repo.run_journal(run, outcomes=["done"])] == ["conf-school"]


def test_the_run_that_took_a_lock(store: StateStore):
    with store.lock("b", "x", purpose="apply"):
        run = store.runs_repo.begin_run("b", "x", kind="apply")
        lock = store.current_lock("b", "x")
        assert store.runs_repo.lock_run(lock).id == run


def test_source_reads_keep_the_newest_per_status(store: StateStore):
    reads = store.source_reads
    reads.record_source_read("b", status="ok", school_year="2025-2026", counts={"persons": 3},
                             sources=[{"name": "csv"}], diagnostics=[])
    reads.record_source_read("b", status="failed", school_year=None, counts={}, sources=[], diagnostics=[],
                             message="unreachable")
    assert reads.latest_source_read("b")["status"] == "failed"
    ok = reads.latest_source_read("b", status="ok")
    assert ok["counts"] == {"persons": 3} and ok["sources"] == [{"name": "csv"}] and ok["diagnostics"] == []
    assert reads.latest_source_read("nobody") is None
