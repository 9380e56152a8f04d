"""Taking over an itslearning site another koppeling filled — against the sandbox over a real socket, with real
files and a SQLite state, through the command line where a school would use it.

Each site is pre-filled as a previous koppeling left it (``koppel.sandbox.itslearning.prefill``): its own
sync-id scheme, accounts made by hand, a test account holding a pupil's would-be user name, a course
without code, and pupils who left the school."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from koppel.cli.main import app as cli
from koppel.generator import generate, write_layout
from koppel.sandbox.itslearning import SandboxConfig, SandboxServer
from koppel.sandbox.itslearning.prefill import PrefillReport, prefill
from koppel.state.store import StateStore
from tests.e2e.workspace import PASSWORD, PASSWORD_ENV, SITE_ROOT, YEAR, Workspace

EC = """
[tenants.school.targets.itslearning.takeover]
person_sync_ids = ["EC_{brin}_{leerlingnummer}", "EC_{brin}_{docentcode}"]
group_sync_ids = ["EC_{brin}", "EC_{brin}_{jaar}", "EC_{brin}_{klas}_{jaar}", "EC_{brin}_{lesgroep}_{jaar}"]
"""
IMS_E = """
[tenants.school.targets.itslearning.takeover]
person_sync_ids = ["{leerlingnummer}", "{brin6}-{docentcode}"]
group_sync_ids = ["{brin6}", "{brin6}-{school_year_short}", "{brin6}-{groep}-{school_year_short}"]
"""
# What the previous koppeling called things, so that koppel renames nothing (docs/takeover.md, step 2).
LIKE_EC = {'course_code = "{groep} {school_year_short}"': 'course_code = "{groep}"',
           '[tenants.school.targets.itslearning.rules.names]': '[tenants.school.targets.itslearning.rules.names]\n'
                                                               'year = "Schooljaar {school_year}"'}
LIKE_IMS_E = {'course_code = "{groep} {school_year_short}"': 'course_code = "{groep}"'}
LIKE_GUID = {'year = true ': 'year = false', 'course_parent = "year"': 'course_parent = "school"'}


def takeover_workspace(root: Path, scheme: str, *, extra: str = "", edits: dict[str, str] | None = None,
                       students: int = 120, missing_email: str | None = None) -> tuple[Workspace, PrefillReport]:
    bestuur = generate(students=students, schools=1, year=YEAR, seed=11)
    if missing_email:
        bestuur = replace(bestuur, pupils=(*bestuur.pupils[:-1], replace(bestuur.pupils[-1], email=missing_email)))
    write_layout(bestuur, root / "export", "magister")
    report = prefill(root / "sandbox.db", bestuur, scheme, site_root=SITE_ROOT)
    sandbox = SandboxServer(SandboxConfig(db_path=root / "sandbox.db", username="koppel", password=PASSWORD,
                                          site_root=SITE_ROOT, seed=11)).start()
    ws = Workspace(root, bestuur, sandbox, extra=extra)
    ws.write_config()
    text = ws.config_path.read_text(encoding="utf-8")
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    ws.config_path.write_text(text, encoding="utf-8")
    return ws, report


def koppel(ws: Workspace, *args: str):
    return CliRunner().invoke(cli, [*args[:1], "-c", str(ws.config_path), *args[1:]], env={PASSWORD_ENV: PASSWORD})


def live_persons(ws: Workspace) -> list[dict]:
    return [p for p in ws.sandbox.objects()["persons"] if not p["trashed"]]


@pytest.mark.parametrize("scheme,extra,edits", [("educonnector", EC, LIKE_EC), ("ims-e", IMS_E, LIKE_IMS_E)])
def test_a_site_filled_by_another_koppeling_is_taken_over_without_duplicates(tmp_path, scheme, extra, edits):
    ws, filled = takeover_workspace(tmp_path, scheme, extra=extra, edits=edits)
    try:
        before = ws.sandbox.objects()
        stats = ws.sandbox.stats()
        result = koppel(ws, "takeover", "--out", str(tmp_path / "takeover.json"), "--report", str(tmp_path / "r.csv"))
        assert result.exit_code == 0, result.output
        assert "Suspend and delete: nothing" in result.output
        after = ws.sandbox.stats()
        assert after["writes"] == stats["writes"] and ws.sandbox.objects() == before, "discovery writes nothing"
        assert after["requests"]["readAllPersons"] >= 2 and after["requests"]["readMembershipsForPerson"] > 100
        assert after["max_in_flight_seen"] <= 9, "itslearning asks for fewer than 10 unprocessed operations"

        rows = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
        outcome = Counter((r["outcome"], r["kind"]) for r in rows)
        pupils, teachers = len(ws.bestuur.pupils), len(ws.bestuur.teachers)
        assert outcome[("adopt", "person")] == pupils - 1 + teachers, "all but the pupil the old koppeling missed"
        assert outcome[("create", "person")] == 1 and outcome[("create", "group")] == 0
        assert {r["sync id"] for r in rows if r["outcome"] == "stale"} == set(filled.leavers)
        assert outcome[("left alone", "person")] == 2  # the administrator and the test account
        (taken,) = [r for r in rows if r["outcome"] == "user name taken"]
        assert taken["site name"].startswith("Test Leerling") and filled.collision in taken["note"]
        manual = next(r for r in rows if r["outcome"] == "adopt" and r["sync id"].startswith("(made by hand"))
        assert filled.adoptable_manual in manual["sync id"]

        approved = koppel(ws, "takeover", "--approve", "--plan", str(tmp_path / "takeover.json"), "--by", "ict")
        assert approved.exit_code == 0, approved.output
        assert ws.sandbox.stats()["writes"] == stats["writes"], "approving records; it writes nothing to the site"

        app = ws.app()
        synced = app.sync(None, None)
        assert not synced.held and synced.applied.status == "succeeded", synced.applied.failures
        persons = live_persons(ws)
        assert len(persons) == len(before["persons"]) + 1, "one account made: the pupil who had none"
        assert Counter(p["username"] for p in persons).most_common(1)[0][1] == 1
        missing = ws.bestuur.pupils[-1]
        (new,) = [p for p in persons if (p["first"], p["last"]) == (missing.roepnaam, missing.achternaam)
                  and p["username"] != filled.collision]
        assert new["username"] == f"{filled.collision}2", "the taken user name gets the next free one"
        teacher = next(p for p in persons if p["username"] == filled.adoptable_manual)
        assert teacher["sync_key"].startswith("itsla-") and teacher["id"] in {p["id"] for p in before["persons"]}
        objects = ws.sandbox.objects()
        assert len(objects["courses"]) == len(before["courses"]) and len(objects["groups"]) == len(before["groups"])
        memberships = Counter((m["person_sync_key"], m["group_sync_id"]) for m in objects["memberships"])
        assert memberships.most_common(1)[0][1] == 1, "no second membership of anyone in any group"

        updates = [e for e in app.store.run_journal(synced.run_id) if e.action == "update"]
        assert [(e.key.rsplit(":", 1)[1], sorted(e.after) and e.reason) for e in updates] == [
            (ws.bestuur.lesgroepen[0].name, f"changed in the LAS: code (empty) → '{ws.bestuur.lesgroepen[0].name}'")
        ], "only the fields that differ: the course without code"
        course = next(c for c in objects["courses"] if c["sync_id"] == filled.course_without_code)
        assert course["code"] == ws.bestuur.lesgroepen[0].name and course["title"] == next(
            c["title"] for c in before["courses"] if c["sync_id"] == filled.course_without_code)

        later = app.plan(None, None).plan
        assert later.held and [h.guard for h in later.holds] == ["takeover-stale"]
        assert sorted(c.target_id for c in later.changes) == sorted(filled.leavers)
        assert all(c.action.value == "suspend" for c in later.changes)
        app.approve(later.id, approved_by="ict")
        trashed = {p["sync_key"] for p in ws.sandbox.objects()["persons"] if p["trashed"]}
        assert trashed == set(filled.leavers)
        assert app.plan(None, None).plan.empty
    finally:
        ws.close()


def test_an_ambiguous_account_is_listed_and_blocks_approval_until_the_mapping_says(tmp_path):
    ws, _filled = takeover_workspace(tmp_path, "guid", edits=LIKE_GUID, missing_email="noor@example.org")
    try:
        missing = ws.bestuur.pupils[-1]
        for name in ("noor1", "noor2"):  # two accounts made by hand for the pupil the old koppeling missed
            response = httpx.post(ws.sandbox.url + "/sandbox/api/manual/person", timeout=10, json={
                "first": missing.roepnaam, "prefix": missing.voorvoegsel, "last": missing.achternaam,
                "username": name, "email": "noor@example.org"})
            assert response.status_code < 300, response.text
        state = tmp_path / "state.db"
        shown = koppel(ws, "takeover", "--report", str(tmp_path / "r.csv"))
        assert shown.exit_code == 2, shown.output
        assert "Ambiguous (1)" in shown.output and "noor1" in shown.output and "noor2" in shown.output
        # The same listing in Dutch (issue 12: one language per screen); the platform's own words stay.
        dutch = CliRunner().invoke(cli, ["--lang", "nl", "takeover", "-c", str(ws.config_path)],
                                   env={PASSWORD_ENV: PASSWORD})
        assert dutch.exit_code == 2, dutch.output
        assert "Overname van itslearning voor tenant school" in dutch.output, dutch.output
        assert "Gevonden op de site:" in dutch.output and "Dubbelzinnig (1)" in dutch.output
        assert "Dit plan kan nog niet worden goedgekeurd: 1 dubbelzinnige koppeling" in dutch.output
        assert "Roos Janssen (noor1) — met de hand gemaakt; hoort bij geen persoon in het LAS" in dutch.output
        for english in ("Takeover of", "Found on the site", "Adopt:", "Create:", "Suspend and delete", "Ambiguous",
                        "could be", "Left alone", "Stale accounts", "cannot be approved yet", " persons", " groups",
                        "made by hand", "no LAS person", "ambiguous match", "person in het LAS", "say which"):
            assert english not in dutch.output, english
        refused = koppel(ws, "takeover", "--approve")
        assert refused.exit_code == 3 and "cannot be approved" in refused.output
        store = StateStore.open(f"sqlite:///{state}")
        assert store.counts("school", "itslearning") == {}, "a refused approval records nothing"

        rows = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
        key = next(r["koppel key"] for r in rows if r["outcome"] == "ambiguous")
        (tmp_path / "mapping.csv").write_text(f"sync id,koppel key\nnoor1,{key}\nnoor2,-\n", encoding="utf-8")
        approved = koppel(ws, "takeover", "--approve", "--mapping", str(tmp_path / "mapping.csv"), "-f", "json")
        assert approved.exit_code == 0, approved.output

        app = ws.app()
        synced = app.sync(None, None)
        assert synced.applied.status == "succeeded", synced.applied.failures
        noor = [p for p in live_persons(ws) if p["email"] == "noor@example.org"]
        assert sorted(p["username"] for p in noor) == ["noor1", "noor2"], "no third account for the pupil"
        assert next(p for p in noor if p["username"] == "noor1")["sync_key"].startswith("itsla-")
        updates = {e.key for e in app.store.run_journal(synced.run_id) if e.action == "update"}
        assert updates == {f"las:{ws.bestuur.schools[0].brin6}:2025-2026:{ws.bestuur.lesgroepen[0].name}"}
        assert not any(e.action == "create" and e.kind == "group" for e in app.store.run_journal(synced.run_id))
        store.close()
    finally:
        ws.close()


def test_bad_input_is_refused_with_file_and_line_and_leaves_the_state_untouched(tmp_path):
    ws, _ = takeover_workspace(tmp_path, "educonnector", extra=EC, edits=LIKE_EC, students=60)
    try:
        state = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
        (tmp_path / "bad.csv").write_text("sync id,koppel key\nEC_1,las:1\nEC_2\n", encoding="utf-8")
        bad = koppel(ws, "takeover", "--mapping", str(tmp_path / "bad.csv"))
        assert bad.exit_code == 1 and f"{tmp_path / 'bad.csv'}:3" in bad.output and "expected 2 columns" in bad.output

        config = ws.config_path.read_text(encoding="utf-8")
        ws.config_path.write_text(config.replace("{leerlingnummer}", "{leerlingnr}"), encoding="utf-8")
        line = ws.config_path.read_text(encoding="utf-8").splitlines().index(
            next(x for x in ws.config_path.read_text(encoding="utf-8").splitlines() if "{leerlingnr}" in x)) + 1
        unknown = koppel(ws, "takeover")
        assert unknown.exit_code == 1 and f"koppel.toml:{line}" in unknown.output
        assert "unknown placeholder {leerlingnr}" in unknown.output
        ws.config_path.write_text(config, encoding="utf-8")

        saved = koppel(ws, "takeover", "--out", str(tmp_path / "plan.json"))
        assert saved.exit_code == 0, saved.output
        raw = (tmp_path / "plan.json").read_bytes()
        (tmp_path / "altered.json").write_bytes(raw.replace(b'"Het', b'"Ons', 1) if b'"Het' in raw
                                                else raw.replace(b'"manual_accounts": 3', b'"manual_accounts": 0'))
        altered = koppel(ws, "takeover", "--approve", "--plan", str(tmp_path / "altered.json"))
        assert altered.exit_code == 1 and "altered" in altered.output
        assert state.counts("school", "itslearning") == {} and state.serial("school", "itslearning")[1] == 0

        assert ws.app().approve_takeover(None, None, approved_by="ict").adopted["person"] > 0  # the state moves
        serial = state.serial("school", "itslearning")
        stale = koppel(ws, "takeover", "--approve", "--plan", str(tmp_path / "plan.json"))
        assert stale.exit_code == 1 and "stale" in stale.output
        assert state.serial("school", "itslearning") == serial, "a stale plan records nothing"
        again = koppel(ws, "takeover", "-f", "json")
        assert again.exit_code == 0 and '"adopt": []' in again.output, "a second takeover finds it all managed"
        state.close()
    finally:
        ws.close()
