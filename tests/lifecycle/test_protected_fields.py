"""Protected fields (issue 4 §4): fields koppel does not own are sent on create, never on update.

With ``protected.person = ["email"]`` (the school manages e-mail in itslearning), an e-mail changed in
the LAS is not sent and itslearning keeps its value; an e-mail changed by hand in itslearning, seen by
``koppel reconcile``, is not overwritten by the next plan.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from tests.lifecycle.support import YEAR, build_baseline, change_pupil, delta, without_pupils, writes

TODAY = dt.date(2025, 10, 1)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return build_baseline(tmp_path_factory.mktemp("protected-baseline"), students=90, seed=11,
                          policy={"protected": {"person": ["email"]}})


@pytest.fixture
def world(baseline, tmp_path):
    w = baseline.world(tmp_path / "world")
    yield w
    w.close()


def _pupils(world, n: int):
    return sorted((p for p in world.bestuur[YEAR].pupils if p.email), key=lambda p: int(p.stamnr))[:n]


def _account(world, username: str) -> dict:
    (found,) = [p for p in world.sandbox.objects()["persons"] if p["username"] == username]
    return found


def test_an_email_changed_in_the_las_is_not_sent_and_the_plan_says_it_is_kept(world):
    both, only_email = _pupils(world, 2)
    changed = change_pupil(world.bestuur[YEAR], both.stamnr, email=f"new.{both.email}", roepnaam="Maximiliaan")
    changed = change_pupil(changed, only_email.stamnr, email=f"new.{only_email.email}")
    world.write_export(changed)
    key = _account(world, both.stamnr)["sync_key"]

    app = world.app(TODAY)
    plan = app.plan(None, None).plan
    (update,) = plan.changes
    assert (update.action, update.kind, update.key) == (Action.UPDATE, ObjectKind.PERSON, key)
    assert update.fields == ("given",) and update.kept == ("email",)
    assert "email" not in update.after and update.after["given"] == "Maximiliaan"
    assert "kept (not owned by koppel): email" in update.reason
    assert "protected" in plan.policy and plan.policy["protected"] == {"person": ["email"]}

    stats = writes(world.sandbox.stats())
    assert app.apply(plan).status == "succeeded"
    assert delta(stats, writes(world.sandbox.stats())) == {"updatePersons": 1}
    held = _account(world, both.stamnr)
    assert (held["first"], held["email"]) == ("Maximiliaan", both.email), "itslearning keeps its e-mail"
    assert _account(world, only_email.stamnr)["email"] == only_email.email
    assert world.app(TODAY).plan(None, None).plan.empty


def test_a_las_change_of_only_a_protected_field_is_named_in_the_plan(world):
    (pupil,) = _pupils(world, 1)
    world.write_export(change_pupil(world.bestuur[YEAR], pupil.stamnr, email=f"new.{pupil.email}"))
    plan = world.app(TODAY).plan(None, None).plan
    assert not [c for c in plan.changes if c.action is not Action.UPDATE or c.fields], "nothing is sent"
    said = [c for c in plan.changes if "email" in c.kept] + [n for n in plan.notes if "email" in n]
    assert said, "the plan says the LAS's new e-mail is kept out of itslearning"


def test_an_email_changed_by_hand_in_itslearning_is_seen_by_reconcile_and_not_overwritten(world):
    (pupil,) = _pupils(world, 1)
    account = _account(world, pupil.stamnr)
    world.manual_edit(kind="person", sync_key=account["sync_key"], field="email", value="hand.made@school.nl")

    report = world.cli("reconcile", "-f", "json")
    assert report.exit_code == 2, report.output

    drift = json.loads(report.stdout)
    (changed,) = drift["changed"]
    assert changed["key"] == account["sync_key"]
    assert changed["fields"]["email"] == {"koppel": pupil.email, "platform": "hand.made@school.nl"}
    text = world.cli("reconcile")
    assert "Changed by hand (1)" in text.stdout and "hand.made@school.nl" in text.stdout

    # The LAS changes the pupil's name: the update goes out, the e-mail made by hand stays.
    world.write_export(change_pupil(world.bestuur[YEAR], pupil.stamnr, roepnaam="Jozefien"))
    app = world.app(TODAY)
    plan = app.plan(None, None).plan
    (update,) = plan.changes
    assert update.fields == ("given",) and "email" not in update.after
    assert app.apply(plan).status == "succeeded"
    held = _account(world, pupil.stamnr)
    assert (held["first"], held["email"]) == ("Jozefien", "hand.made@school.nl")
    assert world.app(TODAY).plan(None, None).plan.empty


def test_after_reconcile_the_plan_says_kept_changed_in_itslearning(world):
    (pupil,) = _pupils(world, 1)
    account = _account(world, pupil.stamnr)
    world.manual_edit(kind="person", sync_key=account["sync_key"], field="email", value="hand.made@school.nl")
    assert world.cli("reconcile").exit_code == 2

    # With nothing changed in the LAS, the plan changes nothing and says the hand-made value is kept.
    quiet = world.app(TODAY).plan(None, None).plan
    assert quiet.empty
    assert [n for n in quiet.notes if n.startswith("kept:") and "email" in n and "changed in" in n], quiet.notes

    # With a LAS change, the update says it too.
    world.write_export(change_pupil(world.bestuur[YEAR], pupil.stamnr, roepnaam="Jozefien"))
    plan = world.app(TODAY).plan(None, None).plan
    (update,) = plan.changes
    assert "email" in update.kept and "email" not in update.after
    assert any(f"kept: changed in {where}" in update.reason for where in ("itslearning", "the platform")), \
        update.reason


def test_a_restored_account_keeps_its_protected_email(world):
    """Protected fields are sent on create only: restoring a suspended account is not a create."""
    (pupil,) = _pupils(world, 1)
    original = world.bestuur[YEAR]
    account = _account(world, pupil.stamnr)
    world.manual_edit(kind="person", sync_key=account["sync_key"], field="email", value="hand.made@school.nl")

    world.write_export(without_pupils(original, [pupil.stamnr]))
    assert world.app(TODAY).sync(None, None).applied.status == "succeeded"
    assert _account(world, pupil.stamnr)["trashed"]

    world.write_export(original)
    app = world.app(dt.date(2025, 10, 8))
    plan = app.plan(None, None).plan
    (restore,) = [c for c in plan.changes if c.kind is ObjectKind.PERSON]
    assert restore.action is Action.RESTORE
    assert app.apply(plan).status == "succeeded"
    held = _account(world, pupil.stamnr)
    assert (held["id"], held["trashed"]) == (account["id"], False)
    assert held["email"] == "hand.made@school.nl", "the e-mail the school manages in itslearning survives a restore"


def test_a_field_koppel_owns_changed_by_hand_is_set_back_to_the_las_value(world):
    """The contrast: without protection koppel owns the e-mail, and the LAS is leading."""
    world.configure(policy={"protected": {"person": []}})
    (pupil,) = _pupils(world, 1)
    account = _account(world, pupil.stamnr)
    world.manual_edit(kind="person", sync_key=account["sync_key"], field="email", value="hand.made@school.nl")
    assert world.cli("reconcile").exit_code == 2
    app = world.app(TODAY)
    plan = app.plan(None, None).plan
    (update,) = plan.changes
    assert update.fields == ("email",) and update.after["email"] == pupil.email
    assert "by hand" in update.reason
    assert app.apply(plan).status == "succeeded"
    assert _account(world, pupil.stamnr)["email"] == pupil.email
    assert world.cli("reconcile").exit_code == 0
    assert world.app(TODAY).plan(None, None).plan.empty
