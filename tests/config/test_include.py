"""``include = [...]``: one tenant per file, every problem named with the included file's own path and line,
ids unique across files, relative paths (exports, secret files) resolved against the tenant file's folder."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from koppel.config import check_config, load_config, public_view
from koppel.errors import ConfigError

MAIN = """\
include = ["tenants/*.toml"]

[state]
url = "sqlite:///state.db"
"""


def tenant_text(tid: str, *, export: str = "export", extra: str = "") -> str:
    return f"""\
# bestuur {tid}
[tenants.{tid}]
name = "Bestuur {tid}"
school_year = "2025-2026"

[tenants.{tid}.sources.las]
kind = "csv"
layout = "magister"
path = "{export}"

[tenants.{tid}.targets.fake]
kind = "fake"
{extra}"""


def workspace(tmp_path: Path, tenants: dict[str, str], main: str = MAIN) -> Path:
    """koppel.toml plus one file per entry of ``tenants`` (file name without .toml → its text)."""
    (tmp_path / "tenants").mkdir(exist_ok=True)
    for name, text in tenants.items():
        path = tmp_path / "tenants" / f"{name}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    config = tmp_path / "koppel.toml"
    config.write_text(main, encoding="utf-8")
    return config


def problems_of(path: Path) -> list:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return list(caught.value.problems)


def test_two_hundred_tenant_files_load_in_sorted_order(tmp_path):
    ids = [f"bestuur-{n:03d}" for n in range(200)]
    config_path = workspace(tmp_path, {tid: tenant_text(tid) for tid in reversed(ids)})
    started = time.perf_counter()
    config = load_config(config_path)
    elapsed = time.perf_counter() - started
    assert list(config.tenants) == ids  # sorted within the pattern, whatever order the files were written in
    assert len(config.included) == 200
    tenant = config.tenant("bestuur-117")
    assert tenant.file == tmp_path / "tenants" / "bestuur-117.toml" and tenant.line == 2
    assert tenant.targets["fake"].kind == "fake" and tenant.sources["las"].kind == "csv"
    assert set(public_view(config)["tenants"]) == set(ids)  # the dashboard's configuration page shows them all
    assert elapsed < 10, f"200 tenant files took {elapsed:.1f} s"


def test_tenants_in_koppel_toml_and_in_included_files_together(tmp_path):
    main = MAIN + "\n" + tenant_text("inline")
    config = load_config(workspace(tmp_path, {"a": tenant_text("a")}, main=main))
    assert list(config.tenants) == ["inline", "a"]
    assert config.tenant("inline").file is None and config.tenant_file(config.tenant("inline")) == config.path
    assert config.tenant_dir(config.tenant("inline")) == tmp_path


def test_a_duplicate_id_names_both_files_and_lines(tmp_path):
    second = "\n\n" + tenant_text("same").replace("Bestuur same", "Another")
    path = workspace(tmp_path, {"a-first": tenant_text("same"), "b-second": second})
    [problem] = problems_of(path)
    assert problem.file == str(tmp_path / "tenants" / "b-second.toml") and problem.line == 4
    assert f"{tmp_path / 'tenants' / 'a-first.toml'}:2" in problem.message
    assert problem.setting == "tenants.same" and "defined twice" in problem.message


def test_a_duplicate_of_a_tenant_in_koppel_toml(tmp_path):
    main = MAIN + "\n" + tenant_text("dup")
    path = workspace(tmp_path, {"dup": tenant_text("dup")}, main=main)
    [problem] = problems_of(path)
    assert problem.file == str(tmp_path / "tenants" / "dup.toml") and problem.line == 2
    assert f"{path}:7" in problem.message


def test_a_syntax_error_names_the_included_file_and_its_line(tmp_path):
    broken = tenant_text("b").replace('kind = "fake"', 'kind = "fake\n')
    path = workspace(tmp_path, {"a": tenant_text("a"), "b": broken, "c": tenant_text("c")})
    [problem] = problems_of(path)
    assert problem.file == str(tmp_path / "tenants" / "b.toml") and problem.line == 12
    assert problem.message.startswith("not valid TOML")


def test_bad_settings_name_the_included_file_line_and_setting(tmp_path):
    bad = tenant_text("b", extra="latency = 5\n\n[tenants.b.targets.fake.policy.guards]\nmax_percent = 500\n")
    path = workspace(tmp_path, {"a": tenant_text("a", extra="batch_size = 0\n"), "b": bad})
    found = {(Path(p.file).name, p.line, p.setting) for p in problems_of(path)}
    assert found == {
        ("a.toml", 13, "tenants.a.targets.fake.batch_size"),
        ("b.toml", 13, "tenants.b.targets.fake.latency"),
        ("b.toml", 16, "tenants.b.targets.fake.policy.guards.max_percent"),
    }


def test_a_pattern_that_matches_nothing_is_an_error_naming_pattern_and_line(tmp_path):
    main = 'include = [\n  "tenants/*.toml",\n  "tennants/*.toml",\n]\n'
    path = workspace(tmp_path, {"a": tenant_text("a")}, main=main)
    [problem] = problems_of(path)
    assert problem.file == str(path) and problem.line == 3 and problem.setting == "include"
    assert "'tennants/*.toml' matches no file" in problem.message


def test_an_empty_include_list_with_no_tenants_says_so(tmp_path):
    path = workspace(tmp_path, {}, main='include = []\n')
    [problem] = problems_of(path)
    assert "no tenants configured" in problem.message


@pytest.mark.parametrize(("value", "expected"), [
    ('"tenants/*.toml"', 'must be a list of file patterns, e.g. include = ["tenants/*.toml"], not a string'),
    ("{ path = \"tenants\" }", "must be a list of file patterns"),
    ('["tenants/*.toml", 7]', "entry 2 must be a file pattern"),
    ('["tenants/*.toml", ""]', "entry 2 must be a file pattern (a string, e.g. include = [\"tenants/*.toml\"]), "
                               "not an empty string"),
    ('[["tenants/*.toml"]]', "entry 1 must be a file pattern"),
])
def test_include_must_be_a_list_of_strings(tmp_path, value, expected):
    path = workspace(tmp_path, {"a": tenant_text("a")}, main=f"include = {value}\n")
    problems = problems_of(path)
    assert any(expected in p.message and p.line == 1 and p.setting == "include" for p in problems), problems


def test_include_written_below_a_table_gets_a_hint(tmp_path):
    path = workspace(tmp_path, {"a": tenant_text("a")}, main='[state]\ninclude = ["tenants/*.toml"]\n')
    problems = problems_of(path)
    assert any(p.line == 2 and "belongs at the top of koppel.toml" in p.message for p in problems), problems


def test_absolute_and_parent_patterns_are_allowed(tmp_path):
    """koppel.toml is the operator's own file and may already name any export or secret file: a tenant folder
    next to it (``../``) or elsewhere (absolute) is as legitimate, and each match is still checked as a tenant."""
    elsewhere = tmp_path / "etc" / "tenants.d"
    elsewhere.mkdir(parents=True)
    (elsewhere / "abs.toml").write_text(tenant_text("abs"), encoding="utf-8")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "up.toml").write_text(tenant_text("up"), encoding="utf-8")
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    main = f'include = ["{elsewhere}/*.toml", "../shared/*.toml"]\n'
    (conf_dir / "koppel.toml").write_text(main, encoding="utf-8")
    config = load_config(conf_dir / "koppel.toml")
    assert list(config.tenants) == ["abs", "up"]
    assert config.tenant_dir(config.tenant("up")) == conf_dir / ".." / "shared"


def test_a_pattern_that_matches_koppel_toml_itself_or_a_folder_is_refused(tmp_path):
    (tmp_path / "tenants" / "sub").mkdir(parents=True)
    path = workspace(tmp_path, {"a": tenant_text("a")}, main='include = ["*.toml", "tenants/*"]\n')
    messages = [p.message for p in problems_of(path)]
    assert any("matches this configuration file itself" in m for m in messages), messages
    assert any("matches the folder" in m and "sub" in m for m in messages), messages


def test_a_file_two_patterns_match_is_read_once(tmp_path):
    path = workspace(tmp_path, {"a": tenant_text("a")}, main='include = ["tenants/*.toml", "tenants/a.toml"]\n')
    config = load_config(path)
    assert list(config.tenants) == ["a"] and len(config.included) == 1


def test_a_tenant_file_holds_exactly_one_tenant_and_nothing_else(tmp_path):
    two = tenant_text("x") + "\n" + tenant_text("y")
    other = 'include = ["more/*.toml"]\n[state]\nurl = "sqlite:///other.db"\n\n' + tenant_text("z")
    path = workspace(tmp_path, {"two": two, "other": other, "empty": "# nothing yet\n"})
    by_file: dict[str, list] = {}
    for p in problems_of(path):
        by_file.setdefault(Path(p.file).name, []).append(p)
    assert [(p.line, p.setting) for p in by_file["two.toml"]] == [(15, "tenants.y")]
    assert "a second tenant 'y'" in by_file["two.toml"][0].message
    assert {(p.line, p.setting) for p in by_file["other.toml"]} == {(1, "include"), (2, "state")}
    assert [p.message for p in by_file["empty.toml"]] == [
        "no tenant in this file: an included file holds exactly one [tenants.<id>] table"]


def test_a_tenant_table_written_only_through_sub_tables_is_found_on_its_first_line(tmp_path):
    text = "# no [tenants.s] header\n\n[tenants.s.sources.las]\nkind = \"csv\"\nlayout = \"magister\"\n" \
           "path = \"export\"\n\n[tenants.s.targets.fake]\nkind = \"fake\"\n"
    config = load_config(workspace(tmp_path, {"s": text}))
    assert config.tenant("s").line == 3


def test_relative_paths_and_secret_files_resolve_against_the_tenant_file(tmp_path, monkeypatch):
    """The export and the password file of a tenant in tenants/bestuur-a/ are looked for next to that file,
    not next to koppel.toml nor in the current folder; the secret is read from there and never shown."""
    folder = tmp_path / "tenants" / "bestuur-a"
    folder.mkdir(parents=True)
    (folder / "itslearning.pw").write_text("s3cret-bestuur-a\n", encoding="utf-8")
    text = tenant_text("bestuur-a", export="export-a") + """
[tenants.bestuur-a.targets.its]
kind = "itslearning"
url = "https://enterprise.itslearning.com/WCFServiceLibrary/ImsEnterpriseServicesPort.svc"
username = "koppel"
password_file = "itslearning.pw"
site_root = "root"
"""
    (folder / "tenant.toml").write_text(text, encoding="utf-8")
    path = workspace(tmp_path, {}, main='include = ["tenants/*/tenant.toml"]\n')
    monkeypatch.chdir(tmp_path / "tenants")  # the current folder plays no part
    config = load_config(path)
    tenant = config.tenant("bestuur-a")
    ctx = config.context(tenant, env={})
    assert ctx.path(tenant.sources["las"].settings.path) == folder / "export-a"  # type: ignore[attr-defined]
    settings = tenant.targets["its"].settings
    assert ctx.secret(settings.password_ref(), setting="password_file") == "s3cret-bestuur-a"  # type: ignore[attr-defined]
    assert config.where(("tenants", "bestuur-a", "targets", "its", "password_file")) == f"{folder / 'tenant.toml'}:18"
    view = public_view(config)
    assert view["tenants"]["bestuur-a"]["targets"]["its"]["password_file"] == "itslearning.pw"
    assert "s3cret" not in repr(view)


def test_check_config_returns_every_problem_and_the_ids_it_saw(tmp_path):
    path = workspace(tmp_path, {"a": tenant_text("a", extra="batch_size = 0\n"), "b": tenant_text("b"),
                                "c": tenant_text("c").replace("[tenants.c]", "[tenants.c")})
    result = check_config(path)
    assert result.config is None
    assert {Path(p.file).name for p in result.problems} == {"a.toml", "c.toml"}
    assert set(result.defined) == {"a", "b"}  # c's file is no TOML: its id is unknown
    (tmp_path / "ok").mkdir()
    clean = check_config(workspace(tmp_path / "ok", {"a": tenant_text("a")}))
    assert clean.config is not None and clean.problems == ()


def test_sub_folders_with_double_star_and_hidden_files_left_out(tmp_path):
    (tmp_path / "tenants" / "noord").mkdir(parents=True)
    (tmp_path / "tenants" / "noord" / "n1.toml").write_text(tenant_text("n1"), encoding="utf-8")
    (tmp_path / "tenants" / ".draft.toml").write_text(tenant_text("draft"), encoding="utf-8")  # an editor's copy
    path = workspace(tmp_path, {"a": tenant_text("a")}, main='include = ["tenants/**/*.toml"]\n')
    config = load_config(path)
    assert list(config.tenants) == ["a", "n1"]
    assert config.tenant_dir(config.tenant("n1")) == tmp_path / "tenants" / "noord"


def test_a_broken_link_is_a_problem_of_its_own(tmp_path):
    path = workspace(tmp_path, {"a": tenant_text("a")})
    (tmp_path / "tenants" / "gone.toml").symlink_to(tmp_path / "nowhere.toml")
    [problem] = problems_of(path)
    assert problem.file == str(tmp_path / "tenants" / "gone.toml") and "not found" in problem.message
