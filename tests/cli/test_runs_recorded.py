"""The pipeline owns every run, for the command line and the service alike: a held sync is one held run, an
apply one apply run, and a service request (passed as a ``RunOrigin``) that fails leaves exactly one failed
run, which ``RunFailed`` names — the apply run the pipeline already marked failed, or a new one when the
failure came before any run began. Without an origin (the command line) an early failure records no run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.config import load_config
from koppel.errors import PlanNotFound, PreflightFailed, SourceError
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.model.status import RunKind, RunStatus
from koppel.pipeline import Koppel
from koppel.runs import RunFailed, RunOrigin
from koppel.testing.fake import FakeTarget

runner = CliRunner()
TENANT, TARGET = "baken", "fake"


@pytest.fixture
def koppel(tmp_path: Path):
    bestuur = generate(students=30, schools=1, year=SchoolYear(2025), seed=21)
    write_layout(bestuur, tmp_path / "export", "magister")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert runner.invoke(app, ["init", "--target", "fake", "--tenant", TENANT]).exit_code == 0
    finally:
        os.chdir(old)
    config = tmp_path / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('school_year = "auto"', 'school_year = "2025-2026"'),
                      encoding="utf-8")
    app_ = Koppel.open(load_config(config), env={})
    yield app_
    app_.store.close()


def _empty_export(app_: Koppel) -> None:
    for path in (app_.config.base_dir / "export").rglob("*.csv"):
        path.write_text("", encoding="utf-8")


def test_an_early_failure_of_a_request_is_one_failed_run_and_of_the_command_line_none(koppel: Koppel):
    _empty_export(koppel)
    with pytest.raises(SourceError):
        koppel.sync(TENANT, TARGET)
    assert koppel.store.runs(TENANT, TARGET) == []

    origin = RunOrigin(TENANT, TARGET, RunKind.SYNC, "schedule")
    with pytest.raises(RunFailed) as failed:
        koppel.sync(TENANT, TARGET, trigger="schedule", origin=origin)
    assert isinstance(failed.value.error, SourceError) and str(failed.value) == str(failed.value.error)
    assert failed.value.exit_code == failed.value.error.exit_code
    [run] = koppel.store.runs(TENANT, TARGET)
    assert run.id == failed.value.run_id
    assert (run.kind, run.trigger, run.status) == (RunKind.SYNC, "schedule", RunStatus.FAILED)
    assert run.message == str(failed.value.error)


def test_a_failed_approval_names_the_plan_and_who_approved(koppel: Koppel):
    origin = RunOrigin(TENANT, TARGET, RunKind.APPROVE, "manual", plan_id="0123456789ab", approved_by="beheerder")
    with pytest.raises(RunFailed) as failed:
        koppel.approve("0123456789ab", approved_by="beheerder", origin=origin)
    assert isinstance(failed.value.error, PlanNotFound)
    run = koppel.store.run(failed.value.run_id)
    assert run is not None
    assert (run.kind, run.trigger, run.status, run.plan_id, run.approved_by) == (
        "approve", "manual", "failed", "0123456789ab", "beheerder")


def test_a_run_that_fails_once_begun_is_not_recorded_twice(koppel: Koppel):
    origin = RunOrigin(TENANT, TARGET, RunKind.SYNC, "api")
    with pytest.raises(RunFailed) as failed:
        koppel.sync(TENANT, TARGET, trigger="api", origin=origin, target=FakeTarget(config_fault=True))
    assert isinstance(failed.value.error, PreflightFailed)
    [run] = koppel.store.runs(TENANT, TARGET)
    assert run.id == failed.value.run_id
    assert (run.kind, run.trigger, run.status) == ("sync", "api", "failed")
    assert "the check before the first write failed" in (run.message or "")


def test_a_sync_records_one_run_and_calls_back_before_applying(koppel: Koppel):
    seen: list[int] = []
    progress: list[tuple[int, int]] = []

    def before_apply(plan):
        seen.append(len(plan.changes))
        return lambda done, total: progress.append((done, total))

    outcome = koppel.sync(TENANT, TARGET, before_apply=before_apply)
    assert outcome.applied is not None and not outcome.held
    assert seen == [len(outcome.plan.changes)] and seen[0] > 0
    assert progress and progress[-1] == (seen[0], seen[0])
    [run] = koppel.store.runs(TENANT, TARGET)
    assert (run.id, run.kind, run.status) == (outcome.run_id, "sync", "succeeded")
