"""The CLI's small breakages of issue 12, point 10: no ``<bool>`` after flags, no literal backticks in help,
"export not found" names the full path and the configuration line that set it, and a CLI ``sync`` is recorded
as a sync. Through the console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from koppel.cli.main import app
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear

KOPPEL = Path(sys.executable).parent / "koppel"
ROOT = Path(__file__).resolve().parents[2]
YEAR = SchoolYear(2025)


def koppel(cwd: Path, *args: str, lang: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "KOPPEL_LANG")}
    env.update({"PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"})
    if lang:
        env["LANG"] = lang
    return subprocess.run([str(KOPPEL), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _commands() -> list[str]:
    found: list[str] = [""]

    def walk(group: object, prefix: str) -> None:
        for name, cmd in sorted(group.commands.items()):  # type: ignore[attr-defined]
            found.append(f"{prefix}{name}")
            if hasattr(cmd, "commands"):
                walk(cmd, f"{prefix}{name} ")

    walk(typer.main.get_command(app), "")
    return found


@pytest.fixture(scope="module")
def helps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    here = tmp_path_factory.mktemp("help")
    out = {}
    for name in _commands():
        done = koppel(here, *name.split(), "--help")
        assert done.returncode == 0, (name, done.stderr)
        out[name] = done.stdout
    return out


def test_flags_show_no_metavar_and_options_keep_theirs(helps: dict[str, str]) -> None:
    assert [name for name, text in helps.items() if "<bool>" in text] == []
    plan = helps["plan"]
    assert re.search(r"--all\s+List every change", plan), plan
    assert re.search(r"--out\s+-o\s+<path>", plan), "an option that takes a value still shows it"


def test_help_shows_no_literal_backticks(helps: dict[str, str]) -> None:
    assert [name for name, text in helps.items() if "`" in text] == []
    assert "koppel plan --out" in helps["apply"], "the code in the help text is still there, rendered"
    assert "[schedule]" in helps["serve"] and "[service] port" in helps["serve"], "TOML tables are not eaten as markup"


def _school(here: Path, path_line: str) -> Path:
    write_layout(generate(students=20, schools=1, year=YEAR, seed=4), here / "export", "magister")
    assert koppel(here, "init", "--source", "export", "--target", "fake").returncode == 0
    config = here / "koppel.toml"
    text = config.read_text(encoding="utf-8").replace('school_year = "auto"', f'school_year = "{YEAR}"')
    text, n = re.subn(r'(?m)^path = "export"$', path_line, text)
    assert n == 1, text
    config.write_text(text, encoding="utf-8")
    return config


@pytest.mark.parametrize("lang", [None, "nl_NL.UTF-8"])
def test_export_not_found_names_the_full_path_and_the_config_line(tmp_path: Path, lang: str | None) -> None:
    config = _school(tmp_path, 'path = "exprt"')
    line = next(n for n, text in enumerate(config.read_text(encoding="utf-8").splitlines(), 1)
                if text == 'path = "exprt"')
    done = koppel(tmp_path, "validate", lang=lang)
    assert done.returncode != 0
    not_found = "export niet gevonden" if lang else "export not found"
    assert f"{not_found}: {tmp_path / 'exprt'}" in done.stderr
    set_by = "ingesteld in" if lang else "set by"
    assert f'{set_by} {config}:{line} (tenants.school.sources.las.path = "exprt")' in done.stderr, done.stderr


def test_export_not_found_with_a_school_year_in_the_path(tmp_path: Path) -> None:
    config = _school(tmp_path, 'path = "exports/{school_year}"')
    done = koppel(tmp_path, "plan")
    assert f"export not found: {tmp_path / 'exports' / str(YEAR)}" in done.stderr, done.stderr
    assert f"set by {config}:" in done.stderr and "sources.las.path" in done.stderr


def test_a_cli_sync_is_recorded_as_a_sync(tmp_path: Path) -> None:
    _school(tmp_path, 'path = "export"')
    assert koppel(tmp_path, "sync").returncode == 0
    assert koppel(tmp_path, "plan", "--out", "plan.json").returncode == 0
    assert koppel(tmp_path, "apply", "plan.json", "--yes").returncode == 0
    status = json.loads(koppel(tmp_path, "status", "--format", "json").stdout)
    runs = status["tenants"][0]["targets"][0]["last_runs"]
    assert [r["kind"] for r in runs] == ["apply", "sync"], "newest first: the apply of a plan file, the sync"
    text = koppel(tmp_path, "status").stdout
    assert re.search(r"run \d+ sync ", text), text
