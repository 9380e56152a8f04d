"""History and AVG (issue 4 §7): every applied change is on record — when, what, why, which run —
``koppel history`` reads it, and ``koppel purge`` removes the state and history of persons whose
retention period has passed (``--dry-run`` shows them first).

The runs here carry the store's clock back in time (``Koppel.open(..., clock=...)``), so that the
retention period of one leaver has passed and that of another has not, relative to the real now
the CLI uses.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from koppel.locale import language
from koppel.model.change import Action
from tests.lifecycle.support import TARGET, TENANT, YEAR, build_baseline, sqlite_rows, without_pupils

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def days_ago(n: int) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def stamp(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    start = days_ago(500)
    return build_baseline(tmp_path_factory.mktemp("history-baseline"), students=90, seed=11,
                          today=start.date(), clock=lambda: start,
                          policy={"lifecycle": {"retention_days": 365, "grace_days_student": 30}})


@pytest.fixture
def world(baseline, tmp_path):
    w = baseline.world(tmp_path / "world")
    yield w
    w.close()


def _at(world, when: dt.datetime, export):
    """One sync as if run at ``when``."""
    world.write_export(export)
    app = world.app(when.date(), clock=lambda: when)
    outcome = app.sync(None, None)
    assert not outcome.held and outcome.applied.status == "succeeded", outcome.applied and outcome.applied.failures
    return outcome


def _history(world, who: str) -> dict:
    result = world.cli("history", who, "-f", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _listed(text: str) -> dict[str, str]:
    """Sync key → deletion time of each person `koppel purge --dry-run` lists."""
    lines = [line for line in text.splitlines() if line.startswith("  ") and " deleted " in line]
    return {line.split()[0]: line.rpartition(" deleted ")[2] for line in lines}


def _journal_rows(world, person_key: str) -> int:
    return sqlite_rows(world.state_db, "SELECT count(*) FROM journal WHERE person_key = ? OR key = ?",
                       person_key, person_key)[0][0]


@pytest.fixture
def story(world):
    """Pupil *old* leaves, returns, leaves for good and is deleted long ago; pupil *recent* left lately."""
    original = world.bestuur[YEAR]
    pupils = sorted((p for p in original.pupils if p.leerjaar <= 3), key=lambda p: int(p.stamnr))
    old, recent = pupils[0], pupils[1]
    runs = {
        "suspend": _at(world, days_ago(480), without_pupils(original, [old.stamnr])),
        "restore": _at(world, days_ago(470), original),
        "suspend again": _at(world, days_ago(460), without_pupils(original, [old.stamnr])),
        "delete": _at(world, days_ago(420), without_pupils(original, [old.stamnr])),
        "recent suspend": _at(world, days_ago(40), without_pupils(original, [old.stamnr, recent.stamnr])),
        "recent delete": _at(world, days_ago(5), without_pupils(original, [old.stamnr, recent.stamnr])),
    }
    return old, recent, runs


def test_history_shows_every_applied_change_with_when_what_why_and_which_run(world, story):
    old, _, runs = story
    data = _history(world, old.stamnr)
    person = data["person"]
    assert person["status"] == "deleted" and person["meta"]["leerlingnummer"] == old.stamnr
    key = person["key"]
    own = [e for e in data["history"] if e["kind"] == "person"]
    assert [e["action"] for e in own] == ["create", "suspend", "restore", "suspend", "delete"]
    assert all(e["outcome"] == "done" for e in data["history"])
    expected_runs = [None, runs["suspend"], runs["restore"], runs["suspend again"], runs["delete"]]
    expected_at = [days_ago(500), days_ago(480), days_ago(470), days_ago(460), days_ago(420)]
    for entry, outcome, when in zip(own, expected_runs, expected_at, strict=True):
        assert entry["at"] == stamp(when)
        assert entry["reason"]
        if outcome is not None:
            assert entry["run_id"] == outcome.run_id and entry["plan_id"] == outcome.plan.id
    assert own[1]["reason"].startswith(f"absent from the LAS since {days_ago(480).date()}")
    assert "back in the LAS" in own[2]["reason"]
    assert "grace period ended" in own[4]["reason"]
    # The memberships are part of the pupil's history: removed on leaving, back on return.
    memberships = [e for e in data["history"] if e["kind"] == "membership"]
    by_run: dict[int, set[str]] = {}
    for e in memberships:
        by_run.setdefault(e["run_id"], set()).add(e["action"])
    assert by_run[runs["suspend"].run_id] == {"delete"} and by_run[runs["restore"].run_id] == {"create"}
    app = world.app(NOW.date())
    for run_id in {e["run_id"] for e in data["history"]}:
        run = app.store.run(run_id)
        assert run is not None and run.kind == "sync" and run.status == "succeeded"

    # The text rendering says the same, line by line.
    text = world.cli("history", old.stamnr).stdout
    assert text.splitlines()[0].endswith("now deleted")
    for action, outcome in (("suspend", runs["suspend"]), ("restore", runs["restore"]), ("delete", runs["delete"])):
        assert any(f"{action} person" in line and f"[done, run {outcome.run_id}]" in line for line in text.splitlines())
    assert text.count("why: ") == len(data["history"])

    # Append-only: a later run adds to the history and changes nothing in it.
    assert _history(world, old.stamnr)["history"] == data["history"]
    assert key == own[0]["key"]


def test_purge_removes_only_persons_whose_retention_has_passed(world, story):
    old, recent, _runs = story
    old_key = _history(world, old.stamnr)["person"]["key"]
    recent_key = _history(world, recent.stamnr)["person"]["key"]
    journal_total = sqlite_rows(world.state_db, "SELECT count(*) FROM journal")[0][0]
    objects_total = sqlite_rows(world.state_db, "SELECT count(*) FROM objects")[0][0]
    old_rows = _journal_rows(world, old_key)
    old_objects = sqlite_rows(world.state_db, "SELECT count(*) FROM objects WHERE key = ? OR person_key = ?",
                              old_key, old_key)[0][0]
    assert old_rows > 5 and old_objects >= 1

    # --dry-run lists the pupil deleted 420 days ago (retention 365), not the one deleted 5 days ago.
    dry = world.cli("purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "1 person deleted before" in dry.stdout and "(retention 365 days) would be purged" in dry.stdout
    assert _listed(dry.stdout) == {old_key: language("en").time(days_ago(420))}  # local time with its zone
    assert sqlite_rows(world.state_db, "SELECT count(*) FROM journal")[0][0] == journal_total, "a dry run keeps all"
    assert _history(world, old.stamnr)["person"]["key"] == old_key

    # The purge: their state and history go; everyone else's stays.
    purged = world.cli("purge")
    assert purged.exit_code == 0, purged.output
    assert "purged" in purged.stdout
    assert _journal_rows(world, old_key) == 0
    assert sqlite_rows(world.state_db, "SELECT count(*) FROM objects WHERE key = ? OR person_key = ?",
                       old_key, old_key)[0][0] == 0
    assert sqlite_rows(world.state_db, "SELECT count(*) FROM journal")[0][0] == journal_total - old_rows
    assert sqlite_rows(world.state_db, "SELECT count(*) FROM objects")[0][0] == objects_total - old_objects
    gone = world.cli("history", old.stamnr)
    assert gone.exit_code == 1 and "no person matching" in gone.stderr
    assert _history(world, recent.stamnr)["person"]["key"] == recent_key
    app = world.app(NOW.date())
    purge_run = app.store.runs(TENANT, TARGET, limit=1)[0]
    assert (purge_run.kind, purge_run.status) == ("purge", "succeeded")
    assert _listed(world.cli("purge", "--dry-run").stdout) == {}

    # The next plan does not bring the purged pupil back to life, nor anything else.
    assert world.app(NOW.date()).plan(None, None).plan.empty

    # With a retention of 0 days the recent leaver is due too.
    world.configure(policy={"lifecycle": {"retention_days": 0}})
    assert set(_listed(world.cli("purge", "--dry-run").stdout)) == {recent_key}


def test_a_suspended_person_is_never_purged(world, story):
    old, recent, _ = story
    original = world.bestuur[YEAR]
    third = sorted((p for p in original.pupils if p.leerjaar <= 3), key=lambda p: int(p.stamnr))[2]
    outcome = _at(world, days_ago(1), without_pupils(original, [old.stamnr, recent.stamnr, third.stamnr]))
    assert [c.action for c in outcome.plan.changes if c.kind.value == "person"] == [Action.SUSPEND]
    world.configure(policy={"lifecycle": {"retention_days": 0}})
    third_key = _history(world, third.stamnr)["person"]["key"]
    due = _listed(world.cli("purge", "--dry-run").stdout)
    assert len(due) == 2 and third_key not in due


def test_purge_dry_run_in_json(world, story):
    old, _, _ = story
    old_key = _history(world, old.stamnr)["person"]["key"]
    dry = world.cli("purge", "--dry-run", "-f", "json")
    assert dry.exit_code == 0, dry.output
    (entry,) = json.loads(dry.stdout)["targets"]
    assert entry["retention_days"] == 365 and json.loads(dry.stdout)["dry_run"] is True
    assert [(p["key"], p["deleted_at"]) for p in entry["persons"]] == [(old_key, stamp(days_ago(420)))]
