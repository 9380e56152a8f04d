"""`koppel tenant list|check`: the tenants of koppel.toml and of the files it includes (``include = [...]``).

Registered on ``koppel.cli.main.app`` when this module is imported (main imports it at the bottom).
See docs/configuration.md ("Tenants in their own files").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from koppel.cli.common import ConfigOpt, Format, FormatOpt, current_language, emit_json, handle_errors, out
from koppel.cli.main import app

if TYPE_CHECKING:
    from koppel.config import Config, TenantConfig
    from koppel.errors import ConfigProblem

__all__ = ["tenant_check", "tenant_list"]

tenant_app = typer.Typer(help="The tenants in koppel.toml and in the files it includes: list and check them.",
                         no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(tenant_app, name="tenant")


@tenant_app.command("list")
@handle_errors
def tenant_list(
    config: ConfigOpt = Path("koppel.toml"),
    fmt: FormatOpt = Format.TEXT,
    last_run: Annotated[bool, typer.Option("--last-run", help="Also show each target's last run (opens the "
                                           "state store).")] = False,
) -> None:
    """List every tenant: id, name, the file and line it is written in, its sources and targets (with kinds).

    The configuration must load: a problem anywhere is listed (exit 1), as `koppel tenant check` does."""
    from koppel.config import load_config

    loaded = load_config(config)
    last = _last_runs(loaded) if last_run else None
    rows = [_row(loaded, tenant, last) for tenant in loaded.tenants.values()]
    if fmt is Format.JSON:
        emit_json({"config": str(loaded.path), "included": [str(f) for f in loaded.included], "tenants": rows})
        return
    t = current_language()
    width = max((len(r["id"]) for r in rows), default=0)
    for r in rows:
        sources = ", ".join(f"{s['name']} ({s['kind']})" for s in r["sources"])
        targets = ", ".join(_target_text(s, t) for s in r["targets"])
        name = f"  {r['name']}" if r["name"] != r["id"] else ""
        out.print(f"{r['id']:<{width}}{name}  {r['where']}", markup=False)
        out.print("  " + t._("sources: {sources}").format(sources=sources or "-"), markup=False)
        out.print("  " + t._("targets: {targets}").format(targets=targets or "-"), markup=False)
    files = len(loaded.included)
    out.print(t.ngettext("{n} tenant", "{n} tenants", len(rows)).format(n=t.num(len(rows))) + ", "
              + t.ngettext("{n} included file", "{n} included files", files).format(n=t.num(files)), markup=False)


@tenant_app.command("check")
@handle_errors
def tenant_check(
    tenants: Annotated[list[str] | None, typer.Argument(metavar="TENANT", show_default=False,
                                                        help="Report only these tenants' problems (and those "
                                                             "outside any tenant); default: all.")] = None,
    config: ConfigOpt = Path("koppel.toml"),
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Check the whole configuration — koppel.toml and every file it includes — and list every problem with its
    file and line (not only the first): settings, included files, duplicate tenant ids, schedules and [service].

    Exit 0 when there is none, 1 when there are problems (docs/cli.md: exit codes); an unknown TENANT is a
    problem too. A secret's value written in a file (password = "…") is a warning: name an environment
    variable or a secret file instead. Nothing is read from a source or sent to a target, and no secret is read
    or shown."""
    from koppel.config import check_config

    result = check_config(config)
    problems = list(result.problems)
    warnings: list[ConfigProblem] = []
    if result.config is not None:
        problems += _service_problems(result.config)
        warnings = _inline_secrets(result.config)
    chosen = list(dict.fromkeys(tenants or []))
    known = result.config.tenants if result.config is not None else result.defined
    unknown = [tid for tid in chosen if tid not in known] if known else []
    if chosen:
        problems = [p for p in problems if _concerns(p, chosen)]
        warnings = [w for w in warnings if _concerns(w, chosen)]
    checked = [tid for tid in (chosen or list(known)) if tid in known]
    if fmt is Format.JSON:
        emit_json({"config": str(config), "ok": not problems and not unknown, "tenants": checked,
                   "unknown_tenants": unknown, "problems": [_problem_json(p) for p in problems],
                   "warnings": [_problem_json(w) for w in warnings]})
    else:
        _print_check(config, problems, warnings, unknown, checked)
    if problems or unknown:
        raise typer.Exit(1)


def _print_check(config: Path, problems: list[ConfigProblem], warnings: list[ConfigProblem], unknown: list[str],
                 checked: list[str]) -> None:
    t = current_language()
    for tid in unknown:
        out.print(t._("{config}: no tenant {tenant!r} in the configuration").format(config=config, tenant=tid),
                  markup=False)
    for p in problems:
        out.print(str(p), markup=False)
    for w in warnings:
        out.print(t._("warning:") + f" {w}", markup=False)
    if problems or unknown:
        count = len(problems) + len(unknown)
        out.print(t.ngettext("{n} problem found.", "{n} problems found.", count).format(n=t.num(count)),
                  markup=False)
    else:
        out.print(t.ngettext("{n} tenant checked: no problems.", "{n} tenants checked: no problems.",
                             len(checked)).format(n=t.num(len(checked))), markup=False)


def _inline_secrets(config: Config) -> list[ConfigProblem]:
    from koppel.config import inline_secrets
    from koppel.errors import ConfigProblem

    warnings = []
    for loc in inline_secrets(config):
        file, line = config.locate(loc)
        warnings.append(ConfigProblem(f"a secret is written in the file: use {loc[-1]}_env or {loc[-1]}_file "
                                      "(an environment variable or a secret file) instead", setting=".".join(loc),
                                      file=str(file) if file else None, line=line))
    return warnings


def _concerns(problem: ConfigProblem, chosen: list[str]) -> bool:
    """Whether a problem belongs to one of the chosen tenants, or to no tenant (a file, include, state …)."""
    setting = problem.setting or ""
    if not setting.startswith("tenants."):
        return True
    return any(setting == f"tenants.{tid}" or setting.startswith(f"tenants.{tid}.") for tid in chosen)


def _problem_json(problem: ConfigProblem) -> dict[str, Any]:
    return {"file": problem.file, "line": problem.line, "setting": problem.setting, "message": problem.message}


def _service_problems(config: Config) -> list[ConfigProblem]:
    """What `koppel serve` checks on top of the settings: the schedules (interval, cron, windows, pauses, time
    zone), the [service] section and its engine, each named with the file and line it is written on."""
    from koppel.errors import ConfigError, ConfigProblem
    from koppel.service.jobs import check_engine
    from koppel.service.schedule import Schedule, ScheduleError
    from koppel.service.settings import load_service_settings

    problems: list[ConfigProblem] = []
    for tenant in config.tenants.values():
        for target in tenant.targets.values():
            if not target.schedule.enabled:
                continue
            try:
                Schedule.from_settings(target.schedule)
            except ScheduleError as exc:
                loc = ("tenants", tenant.id, "targets", target.name, "schedule", exc.setting)
                file, line = config.locate(loc)
                problems.append(ConfigProblem(str(exc), setting=".".join(loc), file=str(file) if file else None,
                                              line=line))
    try:
        check_engine(config, load_service_settings(config))  # procrastinate needs the state on PostgreSQL
    except ConfigError as exc:
        problems.extend(exc.problems)
    return problems


def _row(config: Config, tenant: TenantConfig, last: dict[tuple[str, str], Any] | None) -> dict[str, Any]:
    file = config.tenant_file(tenant)
    where = f"{file}:{tenant.line}" if file and tenant.line else str(file)
    row: dict[str, Any] = {
        "id": tenant.id, "name": tenant.name, "file": str(file) if file else None, "line": tenant.line,
        "where": where, "included": tenant.file is not None,
        "sources": [{"name": s.name, "kind": s.kind} for s in tenant.sources.values()],
        "targets": [{"name": g.name, "kind": g.kind, "enabled": g.enabled, "scheduled": g.schedule.enabled}
                    for g in tenant.targets.values()],
    }
    if last is not None:
        for target in row["targets"]:
            target["last_run"] = last.get((tenant.id, target["name"]))
    return row


def _target_text(target: dict[str, Any], t: Any) -> str:
    text = f"{target['name']} ({target['kind']}"
    if not target["enabled"]:
        text += ", " + t._("disabled")
    text += ")"
    run = target.get("last_run")
    if run is not None:
        text += " " + t._("last run {id} {status} {at}").format(id=run["id"], status=run["status"], at=run["started_at"])
    return text


def _last_runs(config: Config) -> dict[tuple[str, str], Any]:
    """The last run of each (tenant, target), from the state store: one query per target."""
    from koppel.state.store import StateStore

    store = StateStore.open(config.state_url(), base_dir=config.base_dir)
    try:
        last: dict[tuple[str, str], Any] = {}
        for tenant in config.tenants.values():
            for name in tenant.targets:
                runs = store.runs(tenant.id, name, limit=1)
                if runs:
                    run = runs[0]
                    last[(tenant.id, name)] = {"id": run.id, "kind": run.kind, "status": run.status,
                                               "started_at": run.started_at, "finished_at": run.finished_at}
        return last
    finally:
        store.close()
