"""The CLI is a product: every command has help, is documented in docs/cli.md and, when it prints data,
takes --format text|json. The README's quick start holds exactly two commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from koppel.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DATA_COMMANDS = {"validate", "plan", "apply", "sync", "status", "history", "generate", "reconcile", "purge",
                 "takeover", "check", "connectors list", "connectors describe"}


def commands() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    out = []

    def walk(group, prefix: str) -> None:
        for name, cmd in sorted(group.commands.items()):
            full = f"{prefix}{name}"
            if hasattr(cmd, "commands"):
                walk(cmd, full + " ")
            else:
                out.append((full, cmd))

    walk(root, "")
    return out


@pytest.mark.parametrize("name,command", commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help_and_is_documented(name, command):
    assert (command.help or "").strip(), f"`koppel {name}` has no help text"
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    head = name.split()[0]
    assert re.search(rf"^### `koppel {re.escape(name)}[ `]", doc, re.M) or \
        re.search(rf"^### `koppel {re.escape(head)} .*`koppel {re.escape(name)}", doc, re.M) or \
        f"`koppel {name}" in doc, f"`koppel {name}` is not documented in docs/cli.md"
    result = CliRunner().invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize("name", sorted(DATA_COMMANDS))
def test_commands_that_print_data_take_format(name):
    command = dict(commands())[name]
    assert any("--format" in p.opts for p in command.params), f"`koppel {name}` lacks --format"


def test_readme_quick_start_has_exactly_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", section, re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 2, lines
    assert any("koppel demo" in line for line in lines) and any("pytest" in line for line in lines)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_line = next(line for line in lines if "pytest" in line)
    assert test_line.strip() in ci, ".ci/run runs the README's test command exactly"


def test_the_configuration_reference_is_current():
    from koppel.cli.describe import REFERENCE_END, REFERENCE_START, reference_markdown

    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    generated = doc.split(REFERENCE_START, 1)[1].split(REFERENCE_END, 1)[0].strip()
    assert generated == reference_markdown().strip(), \
        "docs/configuration.md is stale: run `python -m koppel.cli.describe --write docs/configuration.md`"
