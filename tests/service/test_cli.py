"""`koppel user` and `koppel token`: accounts for the dashboard and the API, from the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.service.accounts import Accounts, LoginOutcome
from koppel.service.clock import system_clock
from koppel.state.store import StateStore

from .conftest import Setup


def _accounts(setup: Setup) -> Accounts:
    return Accounts(StateStore.open(f"sqlite:///{setup.root / 'koppel-state.db'}"), clock=system_clock)


def test_user_add_list_remove(setup: Setup, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("NEW_PASSWORD", "een lang en goed wachtwoord")
    added = runner.invoke(app, ["user", "add", "anna", "--role", "approver", "-c", str(setup.config),
                                "--password-env", "NEW_PASSWORD"])
    assert added.exit_code == 0, added.output
    assert _accounts(setup).login("anna", "een lang en goed wachtwoord", client="x").outcome is LoginOutcome.OK
    listed = runner.invoke(app, ["user", "list", "-c", str(setup.config), "--format", "json"])
    assert '"name": "anna"' in listed.output
    again = runner.invoke(app, ["user", "add", "anna", "--role", "approver", "-c", str(setup.config),
                                "--password-env", "NEW_PASSWORD"])
    assert again.exit_code == 1 and "exists" in again.output
    removed = runner.invoke(app, ["user", "remove", "anna", "-c", str(setup.config)])
    assert removed.exit_code == 0 and _accounts(setup).users() == []


def test_user_add_prompts_twice(setup: Setup, monkeypatch):
    import getpass

    answers = iter(["een lang en goed wachtwoord", "een ander wachtwoord!"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))  # the terminal, not koppel code
    differs = CliRunner().invoke(app, ["user", "add", "bert", "--role", "viewer", "-c", str(setup.config)])
    assert differs.exit_code == 1 and "differ" in differs.output


def test_token_create_list_revoke(setup: Setup):
    runner = CliRunner()
    created = runner.invoke(app, ["token", "create", "monitoring", "--role", "viewer", "-c", str(setup.config)])
    assert created.exit_code == 0, created.output
    token = created.output.split()[0]
    assert _accounts(setup).token_name(token) == "monitoring"
    listed = runner.invoke(app, ["token", "list", "-c", str(setup.config)])
    assert "monitoring" in listed.output and token not in listed.output
    assert runner.invoke(app, ["token", "revoke", "monitoring", "-c", str(setup.config)]).exit_code == 0
    assert _accounts(setup).token_name(token) is None


def test_commands_have_help():
    runner = CliRunner()
    for command in (["serve"], ["user", "add"], ["user", "list"], ["user", "remove"], ["user", "grant"],
                    ["user", "ungrant"], ["token", "create"], ["token", "list"], ["token", "revoke"], ["token", "grant"],
                    ["token", "ungrant"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and len(result.output) > 100, command
