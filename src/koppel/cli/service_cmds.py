"""`koppel serve`, `koppel user …` and `koppel token …`: the service mode's commands.

Registered on ``koppel.cli.main.app`` when this module is imported (main imports it at the bottom).
Accounts live in the state store, so these commands need only ``--config`` to find it (and its
tenants: a grant on a tenant the configuration does not have is refused).

Roles (docs/security.md): every user and token needs a role — ``viewer``, ``operator``, ``approver``
or ``admin`` — on one or more tenants (``--tenant``, repeatable) or on every tenant (``--tenant '*'``).
With one tenant in the configuration ``--tenant`` may be left out (it means ``*``); with more it must be given.
"""

from __future__ import annotations

import errno
import getpass
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from koppel.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    current_language,
    emit_json,
    fail,
    handle_errors,
    out,
)
from koppel.cli.error_text import account_problem
from koppel.cli.main import app
from koppel.locale import Language

if TYPE_CHECKING:
    from koppel.service.accounts import Accounts, Grant

__all__ = ["token_app", "user_app"]

user_app = typer.Typer(help="Dashboard users (passwords hashed with argon2).", no_args_is_help=True,
                       rich_markup_mode="markdown")
token_app = typer.Typer(help="API tokens for automation (`Authorization: Bearer …`).", no_args_is_help=True,
                        rich_markup_mode="markdown")
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
    return Accounts(store, clock=system_clock, login=settings.login, tenants=list(config.tenants))


ROLE_HELP = ("viewer (read), operator (+ run now), approver (+ approve/discard held plans) or admin "
             "(+ users and tokens, with these commands).")
RoleOpt = Annotated[str, typer.Option("--role", help="The role: " + ROLE_HELP)]
TenantOpt = Annotated[list[str] | None, typer.Option(
    "--tenant", help="A tenant id from the configuration the role is for; repeat for more; '*' for every tenant "
                     "(quote it in a shell). May be left out when the configuration has one tenant.")]


def _grants(accounts: Accounts, role: str, tenants: list[str] | None) -> list[Grant]:
    """The grants the options ask for, or AccountError (unknown role, no --tenant with several tenants)."""
    from koppel.service.accounts import ALL_TENANTS, AccountError, Grant, parse_role

    parsed = parse_role(role)
    if not tenants:
        known = sorted(accounts.known_tenants or ())
        if len(known) > 1:
            raise AccountError(f"the configuration has {len(known)} tenants ({', '.join(known)}): say which with "
                               "--tenant ID (repeatable), or --tenant '*' for every tenant")
        tenants = [ALL_TENANTS]
    return [Grant(parsed, tenant.strip()) for tenant in tenants]


def _shown(grants) -> str:
    return ", ".join(str(g) for g in grants) or current_language()._("none (sees nothing)")


PORT_IN_USE = 6  # docs/cli.md: the exit code of `koppel serve` when its port is taken


@app.command()
@handle_errors
def serve(
    config: ConfigOpt = Path("koppel.toml"),
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default: [service] host, "
                                             "127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: [service] port, 8480).")] = None,
) -> None:
    """Run the scheduler and the web dashboard (with its JSON API) in one process.

    Prints the dashboard's URL and what to do next when it starts. Runs follow each target's [schedule];
    "nu synchroniseren" and approvals on the dashboard are queued for the same workers. SIGTERM (or Ctrl+C)
    stops cleanly: a running apply finishes the batches in flight first. A port in use stops it at once
    (exit 6)."""
    from koppel.service import Service
    from koppel.service import serve as run_service

    service = Service.open(config)
    host = host or service.settings.host
    port = port or service.settings.port
    problem = _cannot_listen(host, port)
    if problem is not None:
        service.close()
        raise fail(problem, code=PORT_IN_USE)
    out.print(starting_text(current_language(), host=host, port=port, config=service.config.path,
                            users=[u.name for u in service.accounts.users()]), markup=False, end="")
    run_service(service, host=host, port=port)


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` — tried as uvicorn binds (with SO_REUSEADDR) —
    or None when it can."""
    t = current_language()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return t._("cannot listen on {host}: {problem}; pick another address with --host").format(
            host=host, problem=exc.strerror)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return t._("port {port} is in use; pick another with --port").format(port=port)
            return t._("cannot listen on {host}:{port}: {problem}; pick another with --host or --port").format(
                host=host, port=port, problem=exc.strerror or exc)
    return None


def starting_text(t: Language, *, host: str, port: int, config: Path | None, users: list[str]) -> str:
    """What `koppel serve` prints when it starts: where the dashboard is, how to log in, the configuration it
    read, how to stop it."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    url = f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"
    if users:
        login = t.ngettext("Log in as {users} (another user: `koppel user add NAME --role ROLE`).",
                           "Log in as one of {users} (another user: `koppel user add NAME --role ROLE`).",
                           len(users)).format(users=", ".join(users))
    else:
        login = t._("No dashboard users yet: add one with `koppel user add NAME --role admin`, then log in with it.")
    where = str(config.absolute()) if config is not None else "-"
    lines = [
        t._("koppel serve: the dashboard listens on {url}").format(url=url),
        "  " + login,
        "  " + t._("Configuration: {file} (the schedule per target is its [schedule] section).").format(file=where),
        "  " + t._("Stop with Ctrl+C or SIGTERM: a running apply finishes the batches in flight first."),
    ]
    return "\n".join(lines) + "\n"


@user_app.command("add")
@handle_errors
def user_add(
    name: Annotated[str, typer.Argument(help="User name for the dashboard login.")],
    role: RoleOpt,
    tenant: TenantOpt = None,
    config: ConfigOpt = Path("koppel.toml"),
    password_env: Annotated[str | None, typer.Option("--password-env", help="Read the password from this "
                                                     "environment variable instead of prompting (automation).")] = None,
) -> None:
    """Add a dashboard user with a role on one or more tenants, e.g.
    `koppel user add anna --role approver --tenant bestuur-a`. The password is prompted twice (or read from
    --password-env)."""
    from koppel.service.accounts import AccountError

    t = current_language()
    accounts = _accounts(config)
    try:
        grants = _grants(accounts, role, tenant)
        accounts.check_grants(grants)  # refuse a wrong role or tenant before asking for a password
    except AccountError as exc:
        raise fail(account_problem(exc, current_language())) from None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise fail(t._("environment variable {name} is not set").format(name=password_env))
    else:
        password = getpass.getpass(t._("Password: "))
        if getpass.getpass(t._("Password again: ")) != password:
            raise fail(t._("the passwords differ"))
    try:
        user = accounts.add_user(name, password, grants=grants)
    except AccountError as exc:
        raise fail(account_problem(exc, current_language())) from None
    out.print(t._("User {name} added: {grants}.").format(name=name, grants=_shown(user.grants)), markup=False)


@user_app.command("list")
@handle_errors
def user_list(config: ConfigOpt = Path("koppel.toml"), fmt: FormatOpt = Format.TEXT) -> None:
    """The dashboard users, with their roles and when they last logged in."""
    users = _accounts(config).users()
    if fmt is Format.JSON:
        emit_json([u.to_json() for u in users])
        return
    if not users:
        out.print(current_language()._("No users. Add one with `koppel user add NAME --role ROLE`."), markup=False)
    t = current_language()
    for u in users:
        out.print(f"{u.name:<24} " + t._("created {at}  last login {login}").format(
            at=t.time(u.created_at), login=t.time(u.last_login_at) if u.last_login_at else t._("never"))
            + f"  [{_shown(u.grants)}]", markup=False)


@user_app.command("remove")
@handle_errors
def user_remove(name: Annotated[str, typer.Argument(help="User to remove (their sessions end too).")],
                config: ConfigOpt = Path("koppel.toml")) -> None:
    """Remove a dashboard user and end their sessions."""
    from koppel.service.accounts import AccountError

    try:
        _accounts(config).remove_user(name)
    except AccountError as exc:
        raise fail(account_problem(exc, current_language())) from None
    out.print(current_language()._("User {name} removed.").format(name=name), markup=False)


def _grant(kind_name: str, name: str, role: str, tenant: list[str] | None, config: Path) -> None:
    from koppel.service.accounts import AccountError, SubjectKind

    accounts = _accounts(config)
    kind = SubjectKind(kind_name)
    try:
        grants = accounts.grant(kind, name, _grants(accounts, role, tenant))
    except AccountError as exc:
        raise fail(account_problem(exc, current_language())) from None
    out.print(_now_has(kind.value, name, grants), markup=False)


def _ungrant(kind_name: str, name: str, tenant: list[str], config: Path) -> None:
    from koppel.service.accounts import AccountError, SubjectKind

    kind = SubjectKind(kind_name)
    try:
        grants = _accounts(config).revoke(kind, name, [t.strip() for t in tenant])
    except AccountError as exc:
        raise fail(account_problem(exc, current_language())) from None
    out.print(_now_has(kind.value, name, grants), markup=False)


def _now_has(kind: str, name: str, grants) -> str:
    t = current_language()
    text = t._("User {name} now has: {grants}.") if kind == "user" else t._("Token {name} now has: {grants}.")
    return text.format(name=name, grants=_shown(grants))


UngrantTenantOpt = Annotated[list[str], typer.Option("--tenant", help="The tenant (or '*') whose grant goes; "
                                                                       "repeatable.")]


@user_app.command("grant")
@handle_errors
def user_grant(name: Annotated[str, typer.Argument(help="The user.")], role: RoleOpt, tenant: TenantOpt = None,
               config: ConfigOpt = Path("koppel.toml")) -> None:
    """Give a user a role on tenants (replacing its role on those tenants; its other grants stay). Takes effect
    at the user's next request."""
    _grant("user", name, role, tenant, config)


@user_app.command("ungrant")
@handle_errors
def user_ungrant(name: Annotated[str, typer.Argument(help="The user.")], tenant: UngrantTenantOpt,
                 config: ConfigOpt = Path("koppel.toml")) -> None:
    """Take a user's role on tenants away (a user without grants can log in but sees nothing)."""
    _ungrant("user", name, tenant, config)


@token_app.command("create")
@handle_errors
def token_create(name: Annotated[str, typer.Argument(help="A name for what uses the token, e.g. monitoring.")],
                 role: RoleOpt, tenant: TenantOpt = None,
                 config: ConfigOpt = Path("koppel.toml"), fmt: FormatOpt = Format.TEXT) -> None:
    """Create an API token with a role on tenants, e.g. `koppel token create monitoring --role viewer --tenant '*'`.
    It is printed once; koppel keeps only its hash."""
    from koppel.service.accounts import AccountError

    accounts = _accounts(config)
    try:
        grants = _grants(accounts, role, tenant)
        token = accounts.create_token(name, grants=grants)
    except AccountError as exc:
        raise fail(account_problem(exc, current_language())) from None
    if fmt is Format.JSON:
        emit_json({"name": name, "token": token, "grants": [g.to_json() for g in grants]})
        return
    out.print(token, markup=False)
    out.print(current_language()._("Token {name} created ({grants}). Keep it safe: it is not shown again. Use it as "
                                   "`Authorization: Bearer <token>`.").format(name=name, grants=_shown(grants)),
              markup=False, style="dim")


@token_app.command("list")
@handle_errors
def token_list(config: ConfigOpt = Path("koppel.toml"), fmt: FormatOpt = Format.TEXT) -> None:
    """The API tokens (name, first characters, roles, last use) — never the tokens themselves."""
    tokens = _accounts(config).tokens()
    if fmt is Format.JSON:
        emit_json([tk.to_json() for tk in tokens])
        return
    t = current_language()
    for tk in tokens:
        out.print(f"{tk.name:<24} {tk.prefix}…  " + t._("created {at}  last used {used}").format(
            at=t.time(tk.created_at), used=t.time(tk.last_used_at) if tk.last_used_at else t._("never"))
            + f"  [{_shown(tk.grants)}]", markup=False)


@token_app.command("revoke")
@handle_errors
def token_revoke(name: Annotated[str, typer.Argument(help="Token to revoke.")],
                 config: ConfigOpt = Path("koppel.toml")) -> None:
    """Revoke an API token at once."""
    from koppel.service.accounts import AccountError

    try:
        _accounts(config).revoke_token(name)
    except AccountError as exc:
        raise fail(account_problem(exc, current_language())) from None
    out.print(current_language()._("Token {name} revoked.").format(name=name), markup=False)


@token_app.command("grant")
@handle_errors
def token_grant(name: Annotated[str, typer.Argument(help="The token's name.")], role: RoleOpt,
                tenant: TenantOpt = None, config: ConfigOpt = Path("koppel.toml")) -> None:
    """Give a token a role on tenants (replacing its role on those tenants; its other grants stay)."""
    _grant("token", name, role, tenant, config)


@token_app.command("ungrant")
@handle_errors
def token_ungrant(name: Annotated[str, typer.Argument(help="The token's name.")], tenant: UngrantTenantOpt,
                  config: ConfigOpt = Path("koppel.toml")) -> None:
    """Take a token's role on tenants away."""
    _ungrant("token", name, tenant, config)
