"""A publishing target (a file a platform picks up): the state moves only after ``publish`` returned."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from koppel.errors import TargetAuthError, TransientTargetError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.targets.base import Capabilities, PublishingTarget
from tests.apply.test_applier import apply, plan_for
from tests.plan.test_engine import bestuur


class FolderTarget:
    """Stages changes in memory and publishes them as one JSON file (temp file, then rename)."""

    name = "fake"
    capabilities = Capabilities(max_batch=100, max_operations_in_flight=1, adaptive=False)

    def __init__(self, folder: Path, *, refuse: str | None = None, publish_error: Exception | None = None,
                 fail_on: Exception | None = None, stop_after: tuple[threading.Event, int] | None = None):
        self.folder = folder
        self.published: dict[str, object] = {}
        self.staged: dict[str, object] = {}
        self.refuse = refuse
        self.publish_error = publish_error
        self.fail_on = fail_on
        self.stop_after = stop_after
        self.batches = 0
        self.discarded = 0

    def apply(self, batch: Sequence[Change]) -> Sequence[ItemResult]:
        self.batches += 1
        if self.fail_on is not None:
            raise self.fail_on
        if self.stop_after and self.batches >= self.stop_after[1]:
            self.stop_after[0].set()
        results = []
        for change in batch:
            if self.refuse and self.refuse in change.key:
                results.append(ItemResult(change.key, ItemOutcome.FAILED, "cannot be written", code="invaliddata"))
                continue
            if change.action is Action.DELETE:
                self.staged[change.key] = None
            else:
                self.staged[change.key] = dict(change.after or {})
            results.append(ItemResult(change.key, ItemOutcome.DONE))
        return results

    def publish(self) -> str:
        if self.publish_error is not None:
            raise self.publish_error
        merged = {**self.published, **self.staged}
        self.published = {k: v for k, v in merged.items() if v is not None}
        self.staged = {}
        path = self.folder / "roster.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.published, sort_keys=True, default=str))
        os.replace(tmp, path)
        return str(path)

    def discard(self) -> None:
        self.discarded += 1
        self.staged = {}

    def close(self) -> None:
        pass


def test_a_publishing_target_is_recognised():
    assert isinstance(FolderTarget(Path(".")), PublishingTarget)


def test_the_state_moves_after_publishing_and_the_next_plan_is_empty(store, tmp_path):
    target = FolderTarget(tmp_path)
    objs = bestuur(pupils=20)
    plan = plan_for(store, objs)
    result = apply(store, target, plan)
    assert result.status == "succeeded" and result.outcomes["done"] == len(objs)
    assert result.published == str(tmp_path / "roster.json") and result.summary()["published"] == result.published
    assert len(json.loads((tmp_path / "roster.json").read_text())) == len(objs)
    assert target.batches > 1, "several batches, one file"
    assert plan_for(store, objs).empty
    assert store.serial("t", "fake")[1] > plan.serial


def test_a_failed_publish_records_nothing_and_the_next_run_sends_everything_again(store, tmp_path):
    objs = bestuur(pupils=10)
    target = FolderTarget(tmp_path, publish_error=TransientTargetError("the SFTP server is down"))
    plan = plan_for(store, objs)
    result = apply(store, target, plan)
    assert result.status == "failed" and "nothing was published" in (result.message or "")
    assert "the SFTP server is down" in (result.message or "")
    assert not (tmp_path / "roster.json").exists() and target.discarded == 1
    assert result.published is None and result.outcomes["done"] == 0
    again = plan_for(store, objs)
    assert len(again.changes) == len(plan.changes), "nothing moved: the same changes are planned again"
    assert apply(store, FolderTarget(tmp_path), again).status == "succeeded"
    assert plan_for(store, objs).empty


def test_per_object_failures_are_reported_and_the_rest_is_published(store, tmp_path):
    objs = bestuur(pupils=10)
    plan = plan_for(store, objs)
    victim = next(c.key for c in plan.changes if c.kind.value == "person")
    result = apply(store, FolderTarget(tmp_path, refuse=victim), plan)
    assert result.status == "partial"
    assert {f["key"] for f in result.failures if f["code"] == "invaliddata"} == {victim}
    written = json.loads((tmp_path / "roster.json").read_text())
    assert victim not in written and len(written) > 0
    assert all(victim not in key for key in written), "its memberships were skipped, not published"


def test_a_stop_before_publishing_discards_and_records_nothing(store, tmp_path):
    stop = threading.Event()
    target = FolderTarget(tmp_path, stop_after=(stop, 1))
    objs = bestuur(pupils=30)
    plan = plan_for(store, objs)
    result = apply(store, target, plan, stop=stop)
    assert result.status == "stopped" and "before publishing" in (result.message or "")
    assert target.discarded == 1 and not (tmp_path / "roster.json").exists()
    assert len(plan_for(store, objs).changes) == len(plan.changes)


def test_refused_credentials_discard_what_was_staged(store, tmp_path):
    import pytest

    target = FolderTarget(tmp_path, fail_on=TargetAuthError("bad key"))
    objs = bestuur(pupils=5)
    plan = plan_for(store, objs)
    with pytest.raises(TargetAuthError):
        apply(store, target, plan)
    assert target.discarded == 1
    assert len(plan_for(store, objs).changes) == len(plan.changes)
