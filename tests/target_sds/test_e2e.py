"""End to end: a generated school → ``koppel sync`` → the SDS v2.1 set in a folder and on a real SFTP server (the
test's own sshd); a LAS change; a run with nothing to do (no upload); the jaarovergang as a new flow; and the
failures — a wrong host key, the server down — that publish nothing and record nothing."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from koppel.generator import generate
from koppel.generator.mutate import move_pupil
from koppel.targets.sds.mapping import FILES
from tests.target_sds.support import read_set
from tests.target_sds.workspace import NEXT_YEAR, TARGET, TENANT, YEAR, make_workspace, remove_pupil

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path, sshd):
    workspace = make_workspace(tmp_path / "ws", sshd)
    yield workspace
    workspace.close()


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def logins(ws) -> int:
    return len(re.findall(r"Accepted publickey for", (ws.sshd.root / "sshd.log").read_text(errors="replace")))


def expected_enrollments(bestuur) -> set[tuple[str, str]]:
    """(LAS group name, stamnr or docentcode) of every class of the year: lesgroepen and klassen."""
    pairs = {(g.name, s) for g in bestuur.lesgroepen for s in g.pupils}
    pairs |= {(g.name, t) for g in bestuur.lesgroepen for t in g.teachers}
    pairs |= {(p.klas, p.stamnr) for p in bestuur.pupils}
    pairs |= {(k.name, k.mentor) for k in bestuur.klassen if k.mentor}
    return pairs


def published_enrollments(tables) -> set[tuple[str, str]]:
    users = {u["sourcedId"]: u["username"].split("@")[0] for u in tables["users.csv"]}
    titles = {c["sourcedId"]: c["sourcedId"].rsplit(":", 1)[-1] for c in tables["classes.csv"]}
    return {(titles[e["classSourcedId"]], users[e["userSourcedId"]].upper() if not users[e["userSourcedId"]].isdigit()
             else users[e["userSourcedId"]]) for e in tables["enrollments.csv"]}


def test_a_school_through_sync_a_las_change_a_quiet_run_and_the_jaarovergang(ws):
    bestuur = ws.bestuur[YEAR]
    # 1. The first sync: the whole set, in the folder and on the SFTP server, the same bytes.
    first = ws.cli("sync")
    assert first.exit_code == 0, first.output
    local, remote = read_set(ws.local()), read_set(ws.remote())
    assert local == remote
    assert all((ws.local() / n).read_bytes() == (ws.remote() / n).read_bytes() for n in FILES)
    assert {u["username"].split("@")[0] for u in local["users.csv"]} == (
        {p.stamnr for p in bestuur.pupils} | {t.docentcode.lower() for t in bestuur.teachers})
    assert [o["name"] for o in local["orgs.csv"]] == [bestuur.schools[0].name]
    assert len(local["classes.csv"]) == len(bestuur.lesgroepen) + len(bestuur.klassen)
    assert published_enrollments(local) == expected_enrollments(bestuur)
    assert local["academicSessions.csv"][0]["schoolYear"] == "2026"

    # 2. A LAS change: one pupil changes klas, one leaves.
    mover = next(p for p in bestuur.pupils if sum(1 for k in bestuur.klassen if k.leerjaar == p.leerjaar) > 1)
    new_klas = next(k.name for k in bestuur.klassen if k.leerjaar == mover.leerjaar and k.name != mover.klas)
    leaver = next(p for p in bestuur.pupils if p.stamnr != mover.stamnr)
    changed = remove_pupil(move_pupil(bestuur, mover.stamnr, new_klas), leaver.stamnr)
    ws.export(changed)
    second = ws.cli("sync")
    assert second.exit_code == 0, second.output
    local = read_set(ws.local())
    assert local == read_set(ws.remote())
    names = {u["username"].split("@")[0] for u in local["users.csv"]}
    assert leaver.stamnr not in names and mover.stamnr in names, "the leaver is out of users.csv (suspended)"
    pairs = published_enrollments(local)
    assert (new_klas, mover.stamnr) in pairs and (mover.klas, mover.stamnr) not in pairs
    assert pairs == expected_enrollments(changed)
    assert not [e for e in local["roles.csv"] if e["userSourcedId"].endswith(leaver.stamnr)]

    # 3. Nothing changed: no publication, no upload (the files are not touched).
    before_local, before_remote, before_logins = stamps(ws.local()), stamps(ws.remote()), logins(ws)
    quiet = ws.cli("sync")
    assert quiet.exit_code == 0, quiet.output
    assert stamps(ws.local()) == before_local and stamps(ws.remote()) == before_remote
    assert logins(ws) == before_logins, "a run with nothing to publish does not even log in"

    # 4. The jaarovergang: one held plan; approved, it publishes the new year as a new flow.
    old_year_files = {n: (ws.local() / n).read_bytes() for n in FILES}
    ws.export(generate(students=200, schools=1, year=NEXT_YEAR, seed=5))
    preview = ws.cli("plan", "--year", str(NEXT_YEAR), "-f", "json")
    assert preview.exit_code in (0, 2), preview.output
    plan = json.loads(preview.stdout)
    assert plan["held"] and "jaarovergang" in {h["guard"] for h in plan["holds"]}
    held = ws.cli("sync", "--year", str(NEXT_YEAR))
    assert held.exit_code == 3, held.output
    assert not ws.local(NEXT_YEAR).exists(), "a held jaarovergang publishes nothing"
    applied = ws.cli("apply", "--approve", plan["id"], "--by", "Mw. A. de Vries", "--yes")
    assert applied.exit_code == 0, applied.output
    new_local, new_remote = read_set(ws.local(NEXT_YEAR)), read_set(ws.remote(NEXT_YEAR))
    assert new_local == new_remote
    next_bestuur = ws.bestuur[NEXT_YEAR]
    assert new_local["academicSessions.csv"][0] == {
        "sourcedId": "schooljaar-2026-2027", "title": "Schooljaar 2026-2027", "type": "schoolYear",
        "schoolYear": "2027", "startDate": "2026-08-01", "endDate": "2027-07-31"}
    assert all(":2026-2027:" in c["sourcedId"] for c in new_local["classes.csv"])
    assert len(new_local["classes.csv"]) == len(next_bestuur.lesgroepen) + len(next_bestuur.klassen)
    assert published_enrollments(new_local) == expected_enrollments(next_bestuur)
    assert {u["username"].split("@")[0] for u in new_local["users.csv"]} == (
        {p.stamnr for p in next_bestuur.pupils} | {t.docentcode.lower() for t in next_bestuur.teachers})
    assert {n: (ws.local() / n).read_bytes() for n in FILES} == old_year_files, "last year's flow is left as it was"
    assert read_set(ws.remote()) == read_set(ws.local()), "on the server too"

    # The new year is koppel's school year from now on; a quiet run publishes nothing.
    ws.configure(school_year=NEXT_YEAR)
    before = stamps(ws.remote(NEXT_YEAR))
    after_switch = ws.cli("sync")
    assert after_switch.exit_code == 0, after_switch.output
    assert stamps(ws.remote(NEXT_YEAR)) == before


def test_payloads_show_the_rows_without_secrets(ws):
    shown = ws.cli("plan", "--show-payloads")
    assert shown.exit_code in (0, 2), shown.output
    out = shown.stdout
    assert "orgs.csv: row in every publication from now on\n    sourcedId,name,type\n    school:" in out
    assert "classes.csv: row in every publication from now on" in out and "schooljaar-2025-2026" in out
    assert "(not in the SDS files)" in out, "the year folder is koppel's hierarchy only"
    assert "client_ed25519" not in out and "known_hosts" not in out


def test_a_wrong_host_key_is_refused_and_the_server_down_fails_and_nothing_moves(ws):
    app = ws.app()
    # A server that presents another host key: refused before logging in, nothing published or recorded.
    ws.sshd.stop()
    ws.sshd.new_host_key()
    ws.sshd.start()
    refused = ws.cli("sync")
    assert refused.exit_code != 0
    assert "sftp host key" in refused.output and "koppel did not log in" in refused.output
    assert not app.store.counts(TENANT, TARGET), "nothing recorded"
    assert not ws.local().exists() and not ws.remote().exists()
    assert logins(ws) == 0

    # The administrator checked the new key and updated known_hosts: the next run publishes.
    ws.sshd.write_known_hosts(Path(ws.sshd.settings()["known_hosts"]))  # type: ignore[arg-type]
    assert ws.cli("sync").exit_code == 0
    assert read_set(ws.local()) == read_set(ws.remote())
    recorded = app.store.counts(TENANT, TARGET)
    assert recorded

    # A LAS change while the server is down: the check before the first write stops the run.
    bestuur = ws.bestuur[YEAR]
    leaver = bestuur.pupils[0]
    ws.export(remove_pupil(bestuur, leaver.stamnr))
    published = stamps(ws.local())
    ws.sshd.stop()
    down = ws.cli("sync")
    assert down.exit_code != 0 and "cannot reach the SFTP server" in down.output
    assert app.store.counts(TENANT, TARGET) == recorded and stamps(ws.local()) == published

    # The server goes down after the check, while koppel stages: publish() fails, nothing is recorded.
    ws.sshd.start()

    def stop_server(plan):
        return lambda done, total: ws.sshd.stop() if done >= total else None

    outcome = ws.app().sync(None, None, before_apply=stop_server)
    assert outcome.applied is not None and outcome.applied.status == "failed"
    assert "nothing was published" in (outcome.applied.message or "")
    assert app.store.counts(TENANT, TARGET) == recorded and stamps(ws.local()) == published
    assert leaver.stamnr in (ws.remote() / "users.csv").read_text(encoding="utf-8")

    # The server is back: the next run publishes the change.
    ws.sshd.start()
    assert ws.cli("sync").exit_code == 0
    assert leaver.stamnr not in (ws.local() / "users.csv").read_text(encoding="utf-8")
    assert read_set(ws.local()) == read_set(ws.remote())
    assert os.listdir(ws.remote()) and not [n for n in os.listdir(ws.remote()) if n.endswith(".koppel-upload")]
