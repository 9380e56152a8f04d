"""Faults and bad input end to end, against the itslearning sandbox over real sockets."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from koppel.model.desired import ObjectKind
from koppel.sandbox.itslearning import SandboxConfig, SandboxServer
from tests.conftest import free_port as _free_port
from tests.e2e.workspace import PASSWORD, SITE_ROOT, make_workspace

FAST_RETRIES = """
[tenants.school.targets.itslearning.retry]
max_attempts = 12
initial_delay_s = 0.01
max_delay_s = 0.05
"""


def holdings(sandbox):
    objects = sandbox.objects()
    persons = sorted(p["sync_key"] for p in objects["persons"] if not p["trashed"])
    groups = sorted(g["sync_id"] for g in objects["groups"] if g["sync_id"] != SITE_ROOT)
    memberships = sorted((m["person_sync_key"], m["group_sync_id"], m["role"]) for m in objects["memberships"]
                         if not m["person_trashed"])
    return persons, groups, memberships


def wanted(plan):
    persons = sorted(c.key for c in plan.changes if c.kind is ObjectKind.PERSON)
    groups = sorted(c.key for c in plan.changes if c.kind is ObjectKind.GROUP)
    return persons, groups


def test_thirty_percent_http_500_converges_without_duplicates_or_losses(tmp_path):
    ws = make_workspace(tmp_path, students=120, fail_rate=0.3, extra=FAST_RETRIES)
    try:
        app = ws.app()
        first = app.plan(None, None).plan
        result = app.apply(first)
        assert result.status == "succeeded", result.failures[:3]
        assert result.retries > 0 and ws.sandbox.stats()["faults_injected"] > 0
        persons, groups, memberships = holdings(ws.sandbox)
        want_persons, want_groups = wanted(first)
        assert (persons, groups) == (want_persons, want_groups)
        n_memberships = sum(1 for c in first.changes if c.kind is ObjectKind.MEMBERSHIP)
        assert len(memberships) == len(set(memberships)) == n_memberships, "nothing duplicated, nothing lost"
        assert app.plan(None, None).plan.empty
    finally:
        ws.close()



def test_sandbox_stopped_mid_run_and_restarted_converges(tmp_path):
    port = _free_port()
    ws = make_workspace(tmp_path, students=120, extra=FAST_RETRIES.replace("max_attempts = 12", "max_attempts = 3"))
    ws.sandbox.stop()
    config = SandboxConfig(db_path=tmp_path / "sandbox.db", username="koppel", password=PASSWORD,
                           site_root=SITE_ROOT, latency_ms=15)
    ws.sandbox = SandboxServer(config, port=port)
    ws.sandbox.start()
    ws.write_config()
    try:
        app = ws.app()
        plan = app.plan(None, None).plan
        outcome: dict = {}
        worker = threading.Thread(target=lambda: outcome.update(result=app.apply(plan)))
        worker.start()
        deadline = time.monotonic() + 30
        while ws.sandbox.stats()["writes"] < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        ws.sandbox.stop()
        worker.join(60)
        assert not worker.is_alive()
        interrupted = outcome["result"]
        assert interrupted.status in ("partial", "failed")
        assert interrupted.outcomes["done"] > 0, "what was confirmed before the stop is recorded"
        ws.sandbox = SandboxServer(replace(config, latency_ms=0), port=port)
        ws.sandbox.start()
        again = app.sync(None, None)
        assert again.applied.status == "succeeded"
        persons, groups, memberships = holdings(ws.sandbox)
        want_persons, want_groups = wanted(plan)
        assert (persons, groups) == (want_persons, want_groups)
        assert len(memberships) == sum(1 for c in plan.changes if c.kind is ObjectKind.MEMBERSHIP)
        assert app.plan(None, None).plan.empty
    finally:
        ws.close()


def test_a_name_longer_than_itslearning_takes_is_cut_with_a_diagnostic_not_a_failed_batch(tmp_path):
    """95 characters: within what every source accepts (200, koppel.textsafe), above itslearning's 64."""
    ws = make_workspace(tmp_path, students=60)
    try:
        long_name = "Van-Oldenbarnevelt-" * 5
        assert 64 < len(long_name) <= 200
        victim = ws.bestuur.pupils[0]
        pupils = tuple(replace(p, achternaam=long_name) if p.stamnr == victim.stamnr else p for p in ws.bestuur.pupils)
        ws.relaunch_export(replace(ws.bestuur, pupils=pupils))
        app = ws.app()
        result = app.sync(None, None).applied
        assert result.status == "succeeded" and result.outcomes["failed"] == 0
        warned = [w for w in result.warnings if w["kind"] == "person"]
        assert len(warned) == 1 and "cut" in warned[0]["message"].lower()
        held = next(p for p in ws.sandbox.objects()["persons"] if p["last"].startswith("Van-Oldenbarnevelt"))
        assert len(held["last"]) == 64
        assert app.plan(None, None).plan.empty, "a cut name is not re-sent on every run"
    finally:
        ws.close()


def test_a_poisoned_pupil_fails_alone_and_every_other_object_lands(tmp_path):
    """The sandbox answers HTTP 500 (InternalServiceFault) to every request that names one pupil, as a server
    bug triggered by one record's data would: the applier splits the batch until that pupil is alone."""
    ws = make_workspace(tmp_path, students=60, extra=FAST_RETRIES)
    try:
        first = ws.app().plan(None, None).plan
        persons, _ = wanted(first)
        poisoned = persons[len(persons) // 3]
        ws.sandbox.stop()
        ws.sandbox = SandboxServer(replace(ws.sandbox.config, poison_keys=(poisoned,))).start()
        ws.write_config()
        app = ws.app()
        result = app.apply(app.plan(None, None).plan)
        assert result.status == "partial"
        rejected = [f for f in result.failures if f["code"] == "rejected"]
        assert [f["key"] for f in rejected] == [poisoned]
        assert "InternalServiceFault" in rejected[0]["message"]
        skipped = {f["key"] for f in result.failures if f["code"] == "skipped"}
        assert skipped and all(key.startswith(poisoned + "|") for key in skipped), "only its memberships wait"
        held_persons, held_groups, _ = holdings(ws.sandbox)
        assert held_persons == sorted(set(persons) - {poisoned}) and held_groups == wanted(first)[1]
        assert result.summary()["load"]["splits"] >= 1
        assert ws.sandbox.stats()["operations_in_flight"]["peak"] <= 9
    finally:
        ws.close()
