"""The unchanged-input short cut and the per-group membership digests on both state backends (SQLite and
PostgreSQL): what they store (``plan_inputs``, ``membership_cache``, ``membership_groups``, the repeated source
read) reads back the same on each."""

from __future__ import annotations

import json

import pytest

from koppel.generator.mutate import drop_subject
from koppel.model.change import Action
from tests.plan.test_unchanged_shortcut import CONFIG, YEAR, Bench


class BackendBench(Bench):
    url = ""

    def configure(self, *, school_year: str = str(YEAR), grace: int = 30) -> None:
        text = CONFIG.format(school_year=school_year, grace=grace).replace('"sqlite:///state.db"', json.dumps(self.url))
        (self.root / "koppel.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def bench(store_url, tmp_path):
    BackendBench.url = store_url
    b = BackendBench(tmp_path, students=80)
    yield b
    b.close()


def test_short_cut_and_digests_on_each_backend(bench):
    app = bench.app()
    assert app.sync("t", None).plan.changes  # the first load
    full = app.sync("t", None)  # nothing to change: remembered, digests written
    assert not full.unchanged and not full.plan.changes
    read_of_full = app.store.latest_source_read("t")
    shortcut = app.sync("t", None)
    assert shortcut.unchanged and app.planner.inputs.counts["taken"] == 1
    repeated = app.store.latest_source_read("t")
    assert repeated["id"] != read_of_full["id"] and repeated["counts"] == read_of_full["counts"]
    assert repeated["diagnostics"] == read_of_full["diagnostics"] and repeated["counts"]["persons"] > 0
    run = app.store.run(shortcut.run_id)
    assert run is not None and run.status == "succeeded"
    view, _ = app.store.load_for_plan("t", "fake", by_group=True)
    assert view.membership_digests and not view.memberships
    group = max(bench.bestuur.lesgroepen, key=lambda g: len(g.pupils))
    bench.write_export(drop_subject(bench.bestuur, group.pupils[0], group.name))
    fresh = bench.app()
    with_digests, compared = fresh.plan("t", None).plan, fresh.plan("t", None, full=True).plan
    assert with_digests.changes == compared.changes
    assert [c.action for c in with_digests.changes] == [Action.DELETE]
