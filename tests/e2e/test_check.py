"""`koppel check` and the preflight before the first write, against the itslearning sandbox over a real socket.

A wrong URL or password fails in `koppel check` with a message that says what to fix, exit 5; the same
problems stop `koppel sync` before anything is written; a site another koppeling filled is refused for a
first sync until `koppel takeover` recorded what is whose.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from koppel.cli.main import app as cli
from tests.e2e.test_takeover import takeover_workspace
from tests.e2e.workspace import PASSWORD, PASSWORD_ENV, Workspace, make_workspace


@pytest.fixture
def ws(tmp_path: Path):
    workspace = make_workspace(tmp_path, students=40)
    yield workspace
    workspace.close()


def koppel(ws: Workspace, *args: str, password: str = PASSWORD):
    return CliRunner().invoke(cli, [*args[:1], "-c", str(ws.config_path), *args[1:]], env={PASSWORD_ENV: password})


def lines(output: str) -> dict[str, str]:
    out = {}
    for line in output.splitlines():
        if ":" in line and line[:4] in ("ok  ", "warn", "FAIL", "skip"):
            mark, _, rest = line.partition("  ")
            out[rest.split(":", 1)[0].strip()] = mark.strip()
    return out


def test_a_good_configuration_passes_every_check_and_writes_nothing(ws):
    result = koppel(ws, "check")
    assert result.exit_code == 0, result.output
    got = lines(result.output)
    assert got == {"configuration": "ok", "endpoint": "ok", "tls": "ok", "credentials": "ok", "site root": "ok",
                   "memberships": "ok", "readAllPersons": "ok", "profiles": "ok", "writes": "skip", "state": "ok"}
    assert "koppel can work with this target" in result.output
    assert ws.sandbox.stats()["writes"] == 0


def test_json_output(ws):
    result = koppel(ws, "check", "--format", "json")
    data = json.loads(result.output)
    assert data["ok"] is True and {c["status"] for c in data["checks"]} <= {"ok", "skipped"}
    accounts = next(c for c in data["checks"] if c["name"] == "readAllPersons")
    assert accounts["data"] == {"accounts": 0, "first_page": 0, "with_sync_id": 0}


def test_a_wrong_password_fails_with_what_to_fix_and_sync_sends_nothing(ws):
    result = koppel(ws, "check", password="wrong")
    assert result.exit_code == 5, result.output
    got = lines(result.output)
    assert got["credentials"] == "FAIL" and got["site root"] == "skip"
    assert "fix: copy the user name and password again from Administration › Manage IMS Enterprise" in result.output
    sync = koppel(ws, "sync", password="wrong")
    assert sync.exit_code == 5 and "nothing was sent" in sync.output
    assert ws.sandbox.stats()["writes"] == 0 and ws.sandbox.stats()["persons"] == 0


def test_the_url_of_another_service_fails_as_the_wrong_endpoint(ws):
    ws.write_config(url=ws.sandbox.endpoint("gms"))  # the group service's own .svc, not the combined port
    result = koppel(ws, "check")
    assert result.exit_code == 5, result.output
    assert lines(result.output)["endpoint"] == "FAIL"
    assert "does not serve this IMS ES operation" in result.output
    assert "fix: paste the URL Administration › Manage IMS Enterprise › Web services shows" in result.output


def test_a_url_with_no_service_behind_it_fails_with_a_404(ws):
    ws.write_config(url=ws.sandbox.url + "/WCFServiceLibrary/Nothing.svc")
    result = koppel(ws, "check")
    assert result.exit_code == 5 and "HTTP 404" in result.output, result.output


def test_a_bare_sandbox_host_is_completed_to_the_combined_port(ws):
    ws.write_config(url=ws.sandbox.url)
    assert koppel(ws, "check").exit_code == 0


def test_nothing_listening_fails_naming_the_host(ws):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ws.write_config(url=f"http://127.0.0.1:{port}/WCFServiceLibrary/ImsEnterpriseServicesPort.svc")
    result = koppel(ws, "check")
    assert result.exit_code == 5
    assert lines(result.output)["endpoint"] == "FAIL" and "DNS, firewall, proxy" in result.output


def test_a_missing_site_root_fails_with_how_to_give_it_a_sync_id(ws):
    text = ws.config_path.read_text(encoding="utf-8").replace('site_root = "koppel-test-root"', 'site_root = "nope"')
    ws.config_path.write_text(text, encoding="utf-8")
    result = koppel(ws, "check")
    assert result.exit_code == 5
    assert lines(result.output)["site root"] == "FAIL"
    assert "no hierarchy with sync id 'nope'" in result.output and "Administration › Hierarchies" in result.output
    assert koppel(ws, "sync").exit_code == 5 and ws.sandbox.stats()["writes"] == 0


def test_a_profile_outside_the_contract_is_a_warning(ws):
    ws.write_config(extra='\n[tenants.school.targets.itslearning.profile_map]\ninstitution_roles = {staff = "Teacher"}\n')
    result = koppel(ws, "check")
    assert result.exit_code == 0 and lines(result.output)["profiles"] == "warn"
    assert "'Teacher'" in result.output


def test_a_site_another_koppeling_filled_needs_a_takeover_before_the_first_sync(tmp_path):
    ws, _ = takeover_workspace(tmp_path, "educonnector")
    try:
        result = koppel(ws, "check")
        assert result.exit_code == 5
        assert lines(result.output)["state"] == "FAIL" and "run `koppel takeover` first" in result.output
        persons = ws.sandbox.stats()["persons"]
        sync = koppel(ws, "sync")
        assert sync.exit_code == 5 and "second account" in sync.output
        assert ws.sandbox.stats()["writes"] == 0 and ws.sandbox.stats()["persons"] == persons
    finally:
        ws.close()


def test_accounts_made_by_hand_alone_are_a_warning_not_a_stop(ws):
    made = httpx.post(ws.sandbox.url + "/sandbox/api/manual/person",
                      json={"first": "Piet", "last": "Handwerk", "username": "phandwerk"}, timeout=10)
    made.raise_for_status()
    result = koppel(ws, "check")
    assert result.exit_code == 0, result.output
    assert lines(result.output)["state"] == "warn" and "1 account(s) made by hand" in result.output
    assert koppel(ws, "sync").exit_code == 0 and ws.sandbox.stats()["persons"] > 1
