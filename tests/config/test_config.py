"""Configuration: every problem listed at once with file, line and setting; secrets never shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from koppel.cli.init_config import render_config
from koppel.config import load_config, parse_config, public_view
from koppel.errors import ConfigError

GOOD = """\
[state]
url = "sqlite:///state.db"

[tenants.baken]
name = "Het Baken"

[tenants.baken.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.baken.targets.fake]
kind = "fake"

[tenants.baken.targets.fake.rules]
course_strategy = "klas-vak"

[tenants.baken.targets.fake.policy.lifecycle]
grace_days_student = 14
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "koppel.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    tenant = cfg.tenant(None)
    assert tenant.name == "Het Baken"
    target = tenant.targets["fake"]
    assert target.rules.course_strategy.value == "klas-vak"
    assert target.policy.plan_policy().grace_days["student"] == 14
    assert tenant.resolve_year(dt.date(2026, 7, 31)).start_year == 2025
    assert tenant.resolve_year(dt.date(2026, 8, 1)).start_year == 2026
    assert cfg.base_dir == tmp_path


def test_three_mistakes_are_all_reported_with_their_lines(tmp_path):
    bad = GOOD.replace('course_strategy = "klas-vak"', 'course_strategy = "per-vak"') \
              .replace("grace_days_student = 14", "grace_days_studnet = 14") \
              .replace('kind = "fake"', 'kind = "fakeish"')
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    text = str(info.value)
    assert "3 problems" in text, text
    assert {p.line for p in problems} == {13, 16, 19}
    bad2 = GOOD.replace('course_strategy = "klas-vak"', 'course_strategy = "per-vak"') \
               .replace("grace_days_student = 14", "grace_days_studnet = 14") \
               .replace('layout = "magister"', 'layout = "magistr"')
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, bad2))
    by_line = {p.line: p for p in info.value.problems}
    assert set(by_line) == {9, 16, 19}
    assert by_line[16].setting == "tenants.baken.targets.fake.rules.course_strategy"
    assert "did you mean 'grace_days_student'" in by_line[19].message
    assert all(p.file == str(tmp_path / "koppel.toml") for p in info.value.problems)


def test_toml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD.replace('name = "Het Baken"', 'name = "Het Baken')))
    (problem,) = info.value.problems
    assert problem.line == 5 and "not valid TOML" in problem.message


def test_missing_file_and_missing_tenants(tmp_path):
    with pytest.raises(ConfigError, match="koppel init"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="no tenants configured"):
        parse_config('[state]\nurl = "sqlite:///x.db"\n')


def test_unknown_sections_and_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD + '\n[tenants.baken.targets.fake.policy.guards]\nmax_procent = 5\n'
                                          '\n[logging]\nlevel = "debug"\n'))
    text = str(info.value)
    assert "unknown section 'logging'" in text and "did you mean 'max_percent'" in text


def test_secrets_are_masked_in_the_public_view(tmp_path):
    text = GOOD.replace('url = "sqlite:///state.db"', 'url = "postgresql://koppel:hunter2@db/koppel"')
    text = text.replace('kind = "csv"', 'kind = "csv"\n# nothing secret here')
    cfg = parse_config(text + '\n[service]\nsecret_key = "abc123"\nsmtp_password_env = "SMTP_PW"\n')
    view = public_view(cfg)
    flat = repr(view)
    assert "hunter2" not in flat and "abc123" not in flat
    assert view["service"]["smtp_password_env"] == "SMTP_PW"
    assert view["state"]["url"] == "postgresql://koppel:***@db/koppel"


def test_env_overrides_the_state_url(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.state_url({"KOPPEL_STATE_URL": "postgresql://x/y"}) == "postgresql://x/y"
    assert cfg.state_url({}) == "sqlite:///state.db"


def test_init_writes_a_file_that_loads(tmp_path):
    for kind in ("fake", "itslearning"):
        text = render_config(source="export", layout="magister", target_kind=kind, url="https://enterprise.x.example",
                             username="koppel", password_env="PW", tenant="t1", today=dt.date(2026, 1, 1))
        cfg = parse_config(text)
        assert cfg.tenant("t1").targets[kind].kind == kind


def test_several_tenants_need_a_choice(tmp_path):
    two = GOOD + GOOD.split("[tenants.baken]", 1)[1].replace("baken", "rijn").join(["\n[tenants.rijn]", ""])
    cfg = parse_config(two)
    with pytest.raises(ConfigError, match="choose one with --tenant"):
        cfg.tenant(None)
    assert cfg.tenant("rijn").id == "rijn"
