"""Reconciliation against the itslearning sandbox: drift is reported without changing anything, and a
manual account that matches a LAS person is adopted only after explicit approval."""

from __future__ import annotations

from dataclasses import replace

import httpx

from tests.e2e.workspace import make_workspace


def sandbox_post(ws, path: str, body: dict) -> dict:
    response = httpx.post(ws.sandbox.url + path, json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()

def test_drift_is_reported_and_nothing_changes(tmp_path):
    ws = make_workspace(tmp_path, students=60)
    try:
        app = ws.app()
        assert app.sync(None, None).applied.status == "succeeded"
        clean = app.reconcile(None, None)
        assert clean.complete and clean.clean, clean.to_json()
        assert clean.checked["person"] > 0 and clean.checked["membership"] > 0

        pupil = next(c for c in app.store.find_persons("school", None, ws.bestuur.pupils[0].achternaam))
        sandbox_post(ws, "/sandbox/api/manual/edit", {"kind": "person", "sync_key": pupil["key"], "field": "first",
                                                      "value": "Handmatig"})
        course = next(g for g in ws.sandbox.objects()["groups"] if g["type"] == "Course")
        sandbox_post(ws, "/sandbox/api/manual/edit", {"kind": "group", "sync_id": course["sync_id"], "field": "name",
                                                      "value": "Hernoemd door de school"})
        sandbox_post(ws, "/sandbox/api/manual/person", {"first": "Piet", "last": "Handwerk", "username": "phandwerk"})
        writes = ws.sandbox.stats()["writes"]

        report = app.reconcile(None, None)
        assert not report.clean and report.complete
        changed = {d.key: d for d in report.changed}
        assert changed[pupil["key"]].fields["given"][1] == "Handmatig"
        assert changed[course["sync_id"]].fields["name"][1] == "Hernoemd door de school"
        assert report.manual == 1
        assert ws.sandbox.stats()["writes"] == writes, "reconcile reads only"
        runs = app.store.runs("school", "itslearning", limit=1)
        assert runs[0].kind == "reconcile" and runs[0].summary["changed"] == 2
    finally:
        ws.close()

def test_a_matching_manual_account_is_adopted_after_approval(tmp_path):
    ws = make_workspace(tmp_path, students=60)
    try:
        app = ws.app()
        assert app.sync(None, None).applied.status == "succeeded"
        # A new pupil arrives in the LAS; the school had already made an account by hand.
        template = ws.bestuur.pupils[0]
        newcomer = replace(template, stamnr="999001", eckid=None, roepnaam="Noor", voorvoegsel="de",
                           achternaam="Wit", email="noor.dewit@example.org", login="999001")
        ws.relaunch_export(replace(ws.bestuur, pupils=(*ws.bestuur.pupils, newcomer)))
        manual = sandbox_post(ws, "/sandbox/api/manual/person", {"first": "Noor", "prefix": "de", "last": "Wit",
                                                                  "username": "nwit", "email": "noor.dewit@example.org"})
        report = app.reconcile(None, None)
        (candidate,) = report.candidates
        assert candidate.username == "nwit" and set(candidate.matched_on) >= {"email", "name"}
        assert ws.sandbox.stats()["persons"] == len(ws.bestuur.pupils) + len(ws.bestuur.teachers)

        target_id = app.adopt(None, None, account="nwit", person_key=candidate.person_key, approved_by="ict")
        assert target_id
        result = app.sync(None, None)
        assert result.applied.status == "succeeded", result.applied.failures
        held = [p for p in ws.sandbox.objects()["persons"] if (p["first"], p["last"]) == ("Noor", "Wit")]
        assert len(held) == 1, "the manual account is managed, not duplicated"
        assert held[0]["id"] == manual["id"] and held[0]["username"] == "nwit", "same account, user name kept"
        assert held[0]["sync_key"] == target_id
        memberships = [m for m in ws.sandbox.objects()["memberships"] if m["person_sync_key"] == target_id]
        assert memberships, "the adopted account got the newcomer's memberships"
        history = app.store.history("school", "itslearning", candidate.person_key)
        assert history[0].action == "adopt" and "approved by ict" in history[0].reason
        assert app.plan(None, None).plan.empty
    finally:
        ws.close()


def test_the_plan_after_reconciliation_sets_owned_fields_back_and_keeps_the_others(tmp_path):
    ws = make_workspace(tmp_path, students=60)
    text = ws.config_path.read_text(encoding="utf-8")
    assert 'person = []\ngroup = []' in text
    ws.config_path.write_text(text.replace('person = []\ngroup = []', 'person = ["email"]\ngroup = []'), encoding="utf-8")
    try:
        app = ws.app()
        assert app.sync(None, None).applied.status == "succeeded"
        a = app.store.find_persons("school", None, ws.bestuur.pupils[0].stamnr)[0]["key"]
        b = app.store.find_persons("school", None, ws.bestuur.pupils[1].stamnr)[0]["key"]
        sandbox_post(ws, "/sandbox/api/manual/edit", {"kind": "person", "sync_key": a, "field": "first",
                                                      "value": "Handmatig"})
        sandbox_post(ws, "/sandbox/api/manual/edit", {"kind": "person", "sync_key": b, "field": "email",
                                                      "value": "eigen.adres@school.nl"})
        app.reconcile(None, None)
        plan = app.plan(None, None).plan
        (change,) = plan.changes
        assert change.key == a and change.fields == ("given",) and "set back" in change.reason
        assert any("kept:" in n and "email changed in the platform" in n for n in plan.notes), plan.notes
        assert app.apply(plan).status == "succeeded"
        persons = {p["sync_key"]: p for p in ws.sandbox.objects()["persons"]}
        assert persons[a]["first"] != "Handmatig", "the LAS is leading for fields koppel owns"
        assert persons[b]["email"] == "eigen.adres@school.nl", "a field koppel does not own stays as the school set it"
        assert app.store.load_drift("school", "itslearning").keys() == {b}
    finally:
        ws.close()
