"""A tenant with several targets: `koppel plan` shows a section per target, `koppel sync` runs each on its own
(one failing or held never stops another), `--target` runs one."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear

runner = CliRunner()


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


def setup(tmp_path: Path) -> None:
    bestuur = generate(students=40, schools=1, year=SchoolYear(2025), seed=5)
    write_layout(bestuur, tmp_path / "export", "magister")
    r = run(tmp_path, "init", "--source", "export", "--layout", "magister", "--target", "fake", "--tenant", "baken")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "koppel.toml").read_text(encoding="utf-8").replace('school_year = "auto"',
                                                                          'school_year = "2025-2026"')
    # Two more targets: teams (its own user names) and broken (refuses every object).
    start = text.index("[tenants.baken.targets.fake]")
    block = text[start:]
    teams = block.replace("targets.fake", "targets.teams").replace('path = "fake-target.json"',
                                                                  'path = "teams.json"')
    teams = teams.replace('username_student = "{leerlingnummer}"', 'username_student = "ll{leerlingnummer}"')
    broken = block.replace("targets.fake", "targets.broken").replace('path = "fake-target.json"',
                                                                    'path = "broken.json"\npermanent_rate = 1.0')
    (tmp_path / "koppel.toml").write_text(text + "\n" + teams + "\n" + broken, encoding="utf-8")


def test_plan_shows_a_section_per_target(tmp_path: Path):
    setup(tmp_path)
    r = run(tmp_path, "plan", "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert "══ Target fake (fake) ══" in r.output and "══ Target teams (fake) ══" in r.output
    assert "══ Target broken (fake) ══" in r.output
    assert r.output.count("to create") == 3
    r = run(tmp_path, "plan", "--format", "json")
    plans = json.loads(r.output)["targets"]
    assert set(plans) == {"fake", "teams", "broken"}
    assert all(p["summary"]["create"] > 0 for p in plans.values())
    r = run(tmp_path, "plan", "--out", "x.json")
    assert r.exit_code == 1 and "--target" in r.output and not (tmp_path / "x.json").exists()
    r = run(tmp_path, "plan", "--target", "teams", "--format", "json")
    assert json.loads(r.output)["target"] == "teams"


def test_sync_runs_every_target_and_one_failing_does_not_stop_the_others(tmp_path: Path):
    setup(tmp_path)
    r = run(tmp_path, "sync")
    assert r.exit_code == 1, r.output
    assert "fake: done" in r.output and "teams: done" in r.output and "broken: failed (exit 1)" in r.output
    fake = json.loads((tmp_path / "fake-target.json").read_text())
    teams = json.loads((tmp_path / "teams.json").read_text())
    assert fake and teams
    # The same pupils under each target's own user name rule.
    names = {json.dumps(v) for v in (fake.values() if isinstance(fake, dict) else fake)}
    assert any('"ll' in v for v in {json.dumps(v) for v in (teams.values() if isinstance(teams, dict) else teams)})
    assert not any('"ll' in v for v in names)
    r = run(tmp_path, "plan", "--target", "fake", "--detailed-exitcode", "--full")
    assert r.exit_code == 0, r.output
    r = run(tmp_path, "plan", "--target", "teams", "--detailed-exitcode", "--full")
    assert r.exit_code == 0, r.output
    r = run(tmp_path, "plan", "--target", "broken", "--detailed-exitcode")
    assert r.exit_code == 2, "what failed is planned again"

    r = run(tmp_path, "sync", "--format", "json")
    results = json.loads(r.output)["targets"]
    assert results["fake"]["status"] == "succeeded" and results["teams"]["status"] == "succeeded"
    assert results["broken"]["status"] == "failed"

    r = run(tmp_path, "sync", "--target", "teams")
    assert r.exit_code == 0 and "══" not in r.output, r.output


def test_a_target_that_cannot_start_is_reported_and_the_others_run(tmp_path: Path):
    setup(tmp_path)
    text = (tmp_path / "koppel.toml").read_text(encoding="utf-8")
    (tmp_path / "koppel.toml").write_text(text.replace('path = "broken.json"', 'path = "no-such-dir/sub/broken.json"'),
                                          encoding="utf-8")
    r = run(tmp_path, "sync")
    assert "fake: done" in r.output and "teams: done" in r.output, r.output
    assert r.exit_code != 0
    status = json.loads(run(tmp_path, "status", "--format", "json").output)
    runs = {t["target"]: t["last_runs"] for t in status["tenants"][0]["targets"]}
    assert runs["fake"][0]["status"] == "succeeded"
    assert not runs["broken"] or runs["broken"][0]["status"] != "running", "no run is left running"


def usernames(path: Path) -> dict[str, str]:
    objects = json.loads(path.read_text())["objects"]
    return {k: o["attrs"]["username"] for k, o in objects.items() if o["kind"] == "person"}


def with_username_from(folder: Path) -> None:
    setup(folder)
    text = (folder / "koppel.toml").read_text(encoding="utf-8")
    # teams takes the user names of fake (the directory, say); broken is left out here.
    text = text.replace("[tenants.baken.targets.teams.rules.accounts]",
                        '[tenants.baken.targets.teams.rules.accounts]\nusername_from = "fake"')
    text = text.replace("[tenants.baken.targets.broken]", "[tenants.baken.targets.broken]\nenabled = false")
    (folder / "koppel.toml").write_text(text, encoding="utf-8")


def test_a_target_takes_the_user_names_of_another(tmp_path: Path):
    with_username_from(tmp_path)
    r = run(tmp_path, "sync")  # fake first (the order of the file), then teams
    assert r.exit_code == 0, r.output
    fake, teams = usernames(tmp_path / "fake-target.json"), usernames(tmp_path / "teams.json")
    assert teams == fake and not any(name.startswith("ll") for name in teams.values())


def test_user_names_taken_from_another_target_never_rename_an_account(tmp_path: Path):
    with_username_from(tmp_path)
    assert run(tmp_path, "sync", "--target", "teams").exit_code == 0  # nobody in fake yet: its own template
    first = usernames(tmp_path / "teams.json")
    pupils = {k for k, name in first.items() if name.startswith("ll")}
    assert pupils
    assert run(tmp_path, "sync", "--target", "fake").exit_code == 0
    r = run(tmp_path, "plan", "--target", "teams", "--detailed-exitcode")
    assert r.exit_code == 0, "fake's new accounts are a changed input (no short cut), and rename nothing: " + r.output
    assert "unchanged since" not in r.output
    assert usernames(tmp_path / "teams.json") == first


def test_username_from_must_name_another_target(tmp_path: Path):
    setup(tmp_path)
    text = (tmp_path / "koppel.toml").read_text(encoding="utf-8")
    (tmp_path / "koppel.toml").write_text(text.replace(
        "[tenants.baken.targets.teams.rules.accounts]",
        '[tenants.baken.targets.teams.rules.accounts]\nusername_from = "directory"'), encoding="utf-8")
    r = run(tmp_path, "plan")
    assert r.exit_code != 0
    assert "koppel.toml" in r.output and "username_from" in r.output and "'directory'" in r.output, r.output
    assert "fake, broken" in r.output


def test_connectors_list_every_target_and_describe_each(tmp_path: Path):
    r = run(tmp_path, "connectors", "list")
    assert r.exit_code == 0, r.output
    targets = [line for line in r.output.splitlines() if line.startswith("target ")]
    kinds = [line.split()[1] for line in targets]
    assert set(kinds) >= {"itslearning", "ims-enterprise", "oneroster-csv", "sds", "scim", "ldap"}
    starts = {len(re.match(r"target\s+\S+\s+", line).group(0)) for line in targets}  # type: ignore[union-attr]
    assert len(starts) == 1, "the summaries start in one column"
    for kind in kinds:
        r = run(tmp_path, "connectors", "describe", kind)
        assert r.exit_code == 0 and "[tenants.<id>.targets.<name>]" in r.output, (kind, r.output)
