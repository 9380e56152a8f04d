"""The slices of a plan school by school (``koppel.slices``, table ``desired_slices``, migration 0008) on both state
backends (SQLite and PostgreSQL): the migration goes up from 0007 and back, and what a sync remembers reads back
and plans school by school — the same plan as the full plan — on each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import inspect

from koppel.state.store import SCHEMA_REVISION, StateStore
from tests.conftest import fresh_database
from tests.plan.test_school_slices import CONFIG, Schools, _moved_between_klassen, _school


def _alembic(store: StateStore, action: str, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("koppel.state") / "migrations"))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _tables(store: StateStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path) -> Iterator[str]:
    """An empty database on each backend (the migration test starts below the head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    with fresh_database("koppel_slices") as url:
        yield url


def test_migration_0008_up_and_down(empty_url):
    store = StateStore.open(empty_url, migrate=False)
    try:
        _alembic(store, "upgrade", "0007")
        assert store.schema_revision() == "0007" and "desired_slices" not in _tables(store)
        store.migrate()
        assert store.schema_revision() == SCHEMA_REVISION == "0008" and "desired_slices" in _tables(store)
        _alembic(store, "downgrade", "0007")
        assert "desired_slices" not in _tables(store) and "membership_groups" in _tables(store)
        _alembic(store, "upgrade", "head")
        assert store.schema_revision() == "0008"
    finally:
        store.close()


class BackendSchools(Schools):
    url = ""

    def configure(self, **kwargs) -> None:
        super().configure(**kwargs)
        path = self.root / "koppel.toml"
        path.write_text(path.read_text(encoding="utf-8").replace('"sqlite:///state.db"', json.dumps(self.url)),
                        encoding="utf-8")


@pytest.fixture
def bench(store_url, tmp_path):
    BackendSchools.url = store_url
    b = BackendSchools(tmp_path)
    yield b
    b.close()


def test_slices_on_each_backend(bench):
    assert '"sqlite:///state.db"' in CONFIG
    bench.app().sync("t", None)
    bench.settle()
    app = bench.app()
    rows = {row.name: row for row in app.store.slices.index("t", "fake")}
    assert sorted(rows) == sorted(s.brin6 for s in bench.bestuur.schools)
    stored = app.store.slices.payloads("t", "fake", rows)
    assert set(stored) == set(rows) and all(row.payload and row.units == rows[name].units
                                            and row.context == rows[name].context for name, row in stored.items())
    brin6 = _school(bench, 0)
    bench.write_export(_moved_between_klassen(bench.bestuur, brin6))
    fresh = bench.app()
    by_school = fresh.plan("t", None).plan
    assert fresh.planner.slices.last_read == (brin6,)
    assert by_school.to_json_bytes() == fresh.plan("t", None, full=True).plan.to_json_bytes()
    synced = fresh.sync("t", None)
    assert synced.plan.changes and fresh.planner.slices.counts["school by school"] == 2
    after = {row.name: row for row in fresh.store.slices.index("t", "fake")}
    assert {name for name in after if after[name].units != rows[name].units} == {brin6}
    following = bench.app()  # the apply carried the membership digests: nothing is read, nothing planned
    assert not following.plan("t", None).plan.changes and following.planner.slices.last_read == ()
    assert following.planner.slices.counts["school by school"] == 1
    fresh.store.slices.forget("t", "fake")
    assert fresh.store.slices.index("t", "fake") == []
