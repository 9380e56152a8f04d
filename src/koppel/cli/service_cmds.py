"""`koppel serve`, `koppel user …` and `koppel token …`: the service mode's commands.

Registered on ``koppel.cli.main.app`` when this module is imported (main imports it at the bottom).
Accounts live in the state store, so these commands need only ``--config`` to find it.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from koppel.cli.common import ConfigOpt, Format, FormatOpt, emit_json, fail, handle_errors, out
from koppel.cli.main import app

__all__ = ["token_app", "user_app"]

user_app = typer.Typer(help="Dashboard users (passwords hashed with argon2).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for automation (`Authorization: Bearer …`).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def _accounts(config_path: Path):
    from koppel.config import load_config
    from koppel.service.accounts import Accounts
    from koppel.service.clock import system_clock
    from koppel.service.settings import load_service_settings
    from koppel.state.store import StateStore

    config = load_config(config_path)
    settings = load_service_settings(config)
    store = StateStore.open(config.state_url(), base_dir=config.base_dir)
    return Accounts(store, clock=system_clock, login=settings.login)


@app.command()
@handle_errors
def serve(
    config: ConfigOpt = Path("koppel.toml"),
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default: [service] host, "
                                             "127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: [service] port, 8480).")] = None,
) -> None:
    """Run the scheduler and the web dashboard (with its JSON API) in one process.

    Runs follow each target's [schedule]; "nu synchroniseren" and approvals on the dashboard are queued
    for the same workers. SIGTERM stops cleanly: a running apply finishes the batches in flight first.
    """
    from koppel.service import Service
    from koppel.service import serve as run_service

    service = Service.open(config)
    if not service.accounts.users():
        out.print("No dashboard users yet: add one with `koppel user add NAME`.", markup=False)
    run_service(service, host=host, port=port)


@user_app.command("add")
@handle_errors
def user_add(
    name: Annotated[str, typer.Argument(help="User name for the dashboard login.")],
    config: ConfigOpt = Path("koppel.toml"),
    password_env: Annotated[str | None, typer.Option("--password-env", help="Read the password from this "
                                                     "environment variable instead of prompting (automation).")] = None,
) -> None:
    """Add a dashboard user. The password is prompted twice (or read from --password-env)."""
    from koppel.service.accounts import AccountError

    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise fail(f"environment variable {password_env} is not set")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise fail("the passwords differ")
    try:
        _accounts(config).add_user(name, password)
    except AccountError as exc:
        raise fail(str(exc)) from None
    out.print(f"User {name} added.", markup=False)


@user_app.command("list")
@handle_errors
def user_list(config: ConfigOpt = Path("koppel.toml"), fmt: FormatOpt = Format.TEXT) -> None:
    """The dashboard users, with when they last logged in."""
    users = _accounts(config).users()
    if fmt is Format.JSON:
        emit_json([u.__dict__ for u in users])
        return
    if not users:
        out.print("No users. Add one with `koppel user add NAME`.", markup=False)
    for u in users:
        out.print(f"{u.name:<24} created {u.created_at}  last login {u.last_login_at or 'never'}", markup=False)


@user_app.command("remove")
@handle_errors
def user_remove(name: Annotated[str, typer.Argument(help="User to remove (their sessions end too).")],
                config: ConfigOpt = Path("koppel.toml")) -> None:
    """Remove a dashboard user and end their sessions."""
    from koppel.service.accounts import AccountError

    try:
        _accounts(config).remove_user(name)
    except AccountError as exc:
        raise fail(str(exc)) from None
    out.print(f"User {name} removed.", markup=False)


@token_app.command("create")
@handle_errors
def token_create(name: Annotated[str, typer.Argument(help="A name for what uses the token, e.g. monitoring.")],
                 config: ConfigOpt = Path("koppel.toml"), fmt: FormatOpt = Format.TEXT) -> None:
    """Create an API token. It is printed once; koppel keeps only its hash."""
    from koppel.service.accounts import AccountError

    try:
        token = _accounts(config).create_token(name)
    except AccountError as exc:
        raise fail(str(exc)) from None
    if fmt is Format.JSON:
        emit_json({"name": name, "token": token})
        return
    out.print(token, markup=False)
    out.print(f"Token {name} created. Keep it safe: it is not shown again. "
              "Use it as `Authorization: Bearer <token>`.", markup=False, style="dim")


@token_app.command("list")
@handle_errors
def token_list(config: ConfigOpt = Path("koppel.toml"), fmt: FormatOpt = Format.TEXT) -> None:
    """The API tokens (name, first characters, last use) — never the tokens themselves."""
    tokens = _accounts(config).tokens()
    if fmt is Format.JSON:
        emit_json([tk.__dict__ for tk in tokens])
        return
    for tk in tokens:
        out.print(f"{tk.name:<24} {tk.prefix}…  created {tk.created_at}  last used {tk.last_used_at or 'never'}",
                  markup=False)


@token_app.command("revoke")
@handle_errors
def token_revoke(name: Annotated[str, typer.Argument(help="Token to revoke.")],
                 config: ConfigOpt = Path("koppel.toml")) -> None:
    """Revoke an API token at once."""
    from koppel.service.accounts import AccountError

    try:
        _accounts(config).revoke_token(name)
    except AccountError as exc:
        raise fail(str(exc)) from None
    out.print(f"Token {name} revoked.", markup=False)
