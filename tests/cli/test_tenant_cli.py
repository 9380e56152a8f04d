"""`koppel tenant list|check` over tenants in their own files, and an included tenant planned and synced end to
end on the FakeTarget (its export and the fake platform's file next to the tenant file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear

runner = CliRunner()

MAIN = """\
include = ["tenants/*.toml"]

[state]
url = "sqlite:///state.db"
"""


def tenant_text(tid: str, *, extra: str = "") -> str:
    return f"""\
[tenants.{tid}]
name = "Stichting {tid.upper()}"
school_year = "2025-2026"

[tenants.{tid}.sources.las]
kind = "csv"
layout = "magister"
path = "{tid}-export"

[tenants.{tid}.targets.fake]
kind = "fake"
path = "{tid}-platform.json"
{extra}"""


def workspace(root: Path, tenants: dict[str, str], main: str = MAIN) -> Path:
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    for name, text in tenants.items():
        (root / "tenants" / f"{name}.toml").write_text(text, encoding="utf-8")
    (root / "koppel.toml").write_text(main, encoding="utf-8")
    return root / "koppel.toml"


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, ["--lang", "en", *args])
    finally:
        os.chdir(old)


def test_check_passes_on_a_clean_configuration(tmp_path):
    workspace(tmp_path, {"bestuur-a": tenant_text("bestuur-a"), "bestuur-b": tenant_text("bestuur-b")})
    r = run(tmp_path, "tenant", "check")
    assert r.exit_code == 0, r.output
    assert "2 tenants checked: no problems." in r.output
    r = run(tmp_path, "tenant", "check", "-f", "json")
    data = json.loads(r.output)
    assert data["ok"] is True and data["tenants"] == ["bestuur-a", "bestuur-b"] and data["problems"] == []


def test_check_lists_every_problem_in_every_file_with_its_line(tmp_path):
    bad_b = tenant_text("bestuur-b", extra="batch_sise = 100\n\n[tenants.bestuur-b.targets.fake.schedule]\n"
                                           "enabled = true\ncron = \"every morning\"\n")
    broken_c = tenant_text("bestuur-c").replace('kind = "fake"', "kind = fake")
    duplicate = "\n" + tenant_text("bestuur-a")
    main = MAIN.replace('"tenants/*.toml"', '"tenants/*.toml", "extra/*.toml"')
    workspace(tmp_path, {"bestuur-a": tenant_text("bestuur-a"), "bestuur-b": bad_b, "bestuur-c": broken_c,
                         "zz-copy": duplicate}, main=main)
    r = run(tmp_path, "tenant", "check")
    assert r.exit_code == 1, r.output
    lines = r.output.splitlines()
    expected = [
        "koppel.toml:1 [include]: 'extra/*.toml' matches no file",
        "tenants/bestuur-b.toml:13 [tenants.bestuur-b.targets.fake.batch_sise]: unknown setting 'batch_sise'; "
        "did you mean 'batch_size'?",
        "tenants/bestuur-c.toml:11: not valid TOML",
        "tenants/zz-copy.toml:2 [tenants.bestuur-a]: tenant 'bestuur-a' is defined twice: here and in "
        "tenants/bestuur-a.toml:1",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, r.output)
    assert "4 problems found." in r.output

    # The cron expression is checked once the settings load: fix the rest, and it is reported with its line.
    (tmp_path / "koppel.toml").write_text(MAIN, encoding="utf-8")
    (tmp_path / "tenants" / "bestuur-b.toml").write_text(bad_b.replace("batch_sise", "batch_size"), encoding="utf-8")
    (tmp_path / "tenants" / "bestuur-c.toml").unlink()
    (tmp_path / "tenants" / "zz-copy.toml").unlink()
    r = run(tmp_path, "tenant", "check", "-f", "json")
    assert r.exit_code == 1, r.output
    [problem] = json.loads(r.output)["problems"]
    assert problem["file"] == "tenants/bestuur-b.toml" and problem["line"] == 17
    assert problem["setting"] == "tenants.bestuur-b.targets.fake.schedule.cron"
    assert "is not a cron expression" in problem["message"]


def test_check_of_chosen_tenants_and_an_unknown_one(tmp_path):
    workspace(tmp_path, {"bestuur-a": tenant_text("bestuur-a", extra="batch_size = 0\n"),
                         "bestuur-b": tenant_text("bestuur-b", extra="seed = \"x\"\n")})
    r = run(tmp_path, "tenant", "check", "bestuur-b", "-f", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.output)
    assert [p["setting"] for p in data["problems"]] == ["tenants.bestuur-b.targets.fake.seed"]
    r = run(tmp_path, "tenant", "check", "nobody")
    assert r.exit_code == 1 and "no tenant 'nobody' in the configuration" in r.output, r.output
    assert "bestuur-a" not in r.output


def test_a_configuration_that_is_not_found_or_not_toml(tmp_path):
    r = run(tmp_path, "tenant", "check", "-c", "missing.toml")
    assert r.exit_code == 1 and "missing.toml: configuration file not found" in r.output, r.output
    (tmp_path / "koppel.toml").write_text("include = [\n", encoding="utf-8")
    r = run(tmp_path, "tenant", "check")
    assert r.exit_code == 1 and "koppel.toml:1: not valid TOML" in r.output, r.output


def test_list_shows_each_tenant_with_its_file_line_and_kinds(tmp_path):
    main = MAIN + "\n" + tenant_text("inline")
    workspace(tmp_path, {"bestuur-b": tenant_text("bestuur-b"), "bestuur-a": "# first tenant\n\n"
                         + tenant_text("bestuur-a", extra="enabled = false\n")}, main=main)
    r = run(tmp_path, "tenant", "list", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["included"] == ["tenants/bestuur-a.toml", "tenants/bestuur-b.toml"]
    rows = {t["id"]: t for t in data["tenants"]}
    assert list(rows) == ["inline", "bestuur-a", "bestuur-b"]
    assert rows["bestuur-a"] == {
        "id": "bestuur-a", "name": "Stichting BESTUUR-A", "file": "tenants/bestuur-a.toml", "line": 3,
        "where": "tenants/bestuur-a.toml:3", "included": True,
        "sources": [{"name": "las", "kind": "csv"}],
        "targets": [{"name": "fake", "kind": "fake", "enabled": False, "scheduled": False}],
    }
    assert rows["inline"]["file"] == "koppel.toml" and rows["inline"]["line"] == 6 and not rows["inline"]["included"]
    r = run(tmp_path, "tenant", "list")
    assert r.exit_code == 0, r.output
    assert "bestuur-a  Stichting BESTUUR-A  tenants/bestuur-a.toml:3" in r.output
    assert "targets: fake (fake, disabled)" in r.output and "sources: las (csv)" in r.output
    assert "3 tenants, 2 included files" in r.output


def test_list_refuses_a_broken_configuration_naming_the_problem(tmp_path):
    workspace(tmp_path, {"bestuur-a": tenant_text("bestuur-a", extra="batch_size = -1\n")})
    r = run(tmp_path, "tenant", "list")
    assert r.exit_code == 1 and "tenants/bestuur-a.toml:13 [tenants.bestuur-a.targets.fake.batch_size]" in r.output


def test_plan_and_sync_an_included_tenant_end_to_end(tmp_path):
    """Each tenant file lives in tenants/ with its export and its fake platform's file beside it."""
    for tid, seed in (("bestuur-a", 3), ("bestuur-b", 4)):
        bestuur = generate(students=40, schools=1, year=SchoolYear(2025), seed=seed)
        write_layout(bestuur, tmp_path / "tenants" / f"{tid}-export", "magister")
    workspace(tmp_path, {"bestuur-a": tenant_text("bestuur-a"), "bestuur-b": tenant_text("bestuur-b")})

    r = run(tmp_path, "plan")
    assert r.exit_code == 1 and "choose one with --tenant" in r.output, r.output
    r = run(tmp_path, "plan", "--tenant", "bestuur-a", "--format", "json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert plan["summary"]["create"] == len(plan["changes"]) > 40 and plan["summary"]["delete"] == 0

    r = run(tmp_path, "sync", "--tenant", "bestuur-a")
    assert r.exit_code == 0 and "succeeded" in r.output, r.output
    assert (tmp_path / "tenants" / "bestuur-a-platform.json").is_file()  # next to its tenant file
    assert not (tmp_path / "bestuur-a-platform.json").exists()
    r = run(tmp_path, "plan", "--tenant", "bestuur-a", "--detailed-exitcode")
    assert r.exit_code == 0, r.output

    r = run(tmp_path, "tenant", "list", "--last-run", "-f", "json")
    assert r.exit_code == 0, r.output
    last = {t["id"]: t["targets"][0]["last_run"] for t in json.loads(r.output)["tenants"]}
    assert last["bestuur-a"]["status"] == "succeeded" and last["bestuur-b"] is None

    # A missing export names the tenant file that set the path (relative to that file's folder).
    (tmp_path / "tenants" / "bestuur-b-export").rename(tmp_path / "tenants" / "moved")
    r = run(tmp_path, "plan", "--tenant", "bestuur-b")
    assert r.exit_code != 0 and str(tmp_path / "tenants" / "bestuur-b-export") in r.output, r.output


def test_check_refuses_the_procrastinate_engine_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv("KOPPEL_STATE_URL", raising=False)
    workspace(tmp_path, {"bestuur-a": tenant_text("bestuur-a")}, main=MAIN + '\n[service]\nengine = "procrastinate"\n')
    r = run(tmp_path, "tenant", "check", "-f", "json")
    assert r.exit_code == 1, r.output
    [problem] = json.loads(r.output)["problems"]
    assert problem["file"] == "koppel.toml" and problem["line"] == 7 and problem["setting"] == "service.engine"


def test_serve_runs_the_included_tenants_on_their_schedules(tmp_path):
    """`koppel serve` as a real process on a real port, configured only through included tenant files: it
    starts, answers HTTP, and its scheduler knows each included tenant's schedule."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from koppel.service.runtime import Service

    schedule = "\n[tenants.{tid}.targets.fake.schedule]\nenabled = true\ninterval = \"1d\"\n"
    for tid in ("bestuur-a", "bestuur-b"):
        write_layout(generate(students=20, schools=1, year=SchoolYear(2025), seed=9), tmp_path / "tenants" /
                     f"{tid}-export", "magister")
    workspace(tmp_path, {tid: tenant_text(tid, extra=schedule.format(tid=tid)) for tid in ("bestuur-a", "bestuur-b")})

    service = Service.open(tmp_path / "koppel.toml", env={})
    try:
        assert set(service.config.tenants) == {"bestuur-a", "bestuur-b"}
        assert set(service.scheduler.jobs) == {("bestuur-a", "fake"), ("bestuur-b", "fake")}
    finally:
        service.close()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if k not in ("KOPPEL_STATE_URL", "KOPPEL_CONFIG")}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "koppel"), "serve", "--port", str(port)],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code < 500, (tmp_path / "serve.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_check_warns_about_a_secret_written_in_a_tenant_file_without_showing_it(tmp_path):
    its = """
[tenants.{tid}.targets.its]
kind = "itslearning"
url = "https://enterprise.itslearning.com/WCFServiceLibrary/ImsEnterpriseServicesPort.svc"
username = "koppel"
{secret}
site_root = "root"
"""
    workspace(tmp_path, {
        "bestuur-a": tenant_text("bestuur-a", extra=its.format(tid="bestuur-a", secret='password = "hunter2-a"')),
        "bestuur-b": tenant_text("bestuur-b", extra=its.format(tid="bestuur-b", secret='password_file = "pw-b"')),
    })
    r = run(tmp_path, "tenant", "check")
    assert r.exit_code == 0, r.output  # a warning, not a problem: the configuration loads
    assert "warning: tenants/bestuur-a.toml:18 [tenants.bestuur-a.targets.its.password]: a secret is written in " \
           "the file: use password_env or password_file" in r.output, r.output
    assert "hunter2" not in r.output and "bestuur-b.toml" not in r.output
    r = run(tmp_path, "tenant", "check", "bestuur-b", "-f", "json")
    assert r.exit_code == 0 and json.loads(r.output)["warnings"] == []
    r = run(tmp_path, "tenant", "list", "-f", "json")
    assert r.exit_code == 0 and "hunter2" not in r.output and "pw-b" not in r.output
