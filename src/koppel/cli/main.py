"""The command line: thin — it parses options, calls the pipeline and renders. No business rule here."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, cast

import orjson
import typer

from koppel import __version__
from koppel.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    JsonTerminalSafe,
    TargetOpt,
    TenantOpt,
    YearOpt,
    YesOpt,
    configure_logging,
    confirm_apply,
    current_language,
    emit_json,
    enable_fast_exit,
    fail,
    finish,
    handle_errors,
    out,
    progress_bar,
    refuse_without_terminal,
    remember_config,
    report_error,
    use_language,
    with_core_phrases,
)
from koppel.cli.localised_help import LocalisedGroup
from koppel.errors import KoppelError

EveryTargetOpt = Annotated[str | None, typer.Option(
    "--target", help="Target name; without it, each enabled target of the tenant in turn.")]

if TYPE_CHECKING:
    from koppel.apply.applier import ApplyResult
    from koppel.config import Config
    from koppel.pipeline import Koppel, PlanOutcome, Progress
    from koppel.plan.model import Plan

app = typer.Typer(
    name="koppel",
    cls=LocalisedGroup,  # --help in the user's language, for every command (koppel.cli.localised_help)
    help="koppel keeps a school's learning platform (itslearning) in step with its LAS (Magister, Somtoday, …).\n\n"
         "The LAS is leading: koppel reads it completely, plans what must change, and applies only what the "
         "platform confirms.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",  # `code` in help texts renders as code; [tables] stay as written
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
connectors_app = typer.Typer(help="List the source and target kinds and describe their settings.", no_args_is_help=True,
                             rich_markup_mode="markdown")
app.add_typer(connectors_app, name="connectors")


def _language(value: str | None) -> str | None:
    """``--lang``, taken first (it is eager, as --help is), so that `koppel --lang nl --help` is Dutch."""
    from koppel.locale import choose, language

    if value is not None and value.lower() not in ("en", "nl"):
        raise typer.BadParameter(f"{value!r}: use en or nl", param_hint="--lang")
    use_language(with_core_phrases(language(choose(value, os.environ))))
    return value


def _version(value: bool) -> None:
    if value:
        out.print(f"koppel {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug).")] = 0,
    log_format: Annotated[str, typer.Option("--log-format", help="Log format on stderr: text or json.")] = "text",
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
    lang: Annotated[str | None, typer.Option("--lang", metavar="<en|nl>", help="Language of the output: en or nl "
                                             "(default: KOPPEL_LANG, else the locale: LC_ALL, LC_MESSAGES, LANG; "
                                             "English unless Dutch). JSON output is never translated.",
                                             show_default=False, is_eager=True, callback=_language)] = None,
) -> None:
    """koppel: the open-source koppeling between the LAS and the learning platform."""
    level = {0: "warning", 1: "info"}.get(verbose, "debug")
    configure_logging(level, log_format)
    _LOGGING.update(explicit_level=verbose > 0, explicit_format=log_format != "text", level=level, format=log_format)


_LOGGING: dict = {"explicit_level": False, "explicit_format": False, "level": "warning", "format": "text"}


def _app(config_path: Path) -> Koppel:
    from koppel.config import load_config
    from koppel.pipeline import Koppel

    config = load_config(config_path)
    remember_config(config)
    _show_times_in(config)
    level = _LOGGING["level"] if _LOGGING["explicit_level"] else config.log.level
    fmt = _LOGGING["format"] if _LOGGING["explicit_format"] else config.log.format
    if (level, fmt) != (_LOGGING["level"], _LOGGING["format"]):
        configure_logging(level, fmt)
    return Koppel.open(config)


def _show_times_in(config: Config) -> None:
    """Times are shown in the zone the configuration names for people ([service] timezone), else the system's."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (config.service or {}).get("timezone")
    if isinstance(name, str) and name:
        try:
            use_language(current_language().in_zone(ZoneInfo(name)))
        except (ZoneInfoNotFoundError, ValueError):
            pass


def _who() -> str:
    try:
        return os.environ.get("KOPPEL_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# -- validate ------------------------------------------------------------------------------------


@app.command()
@handle_errors
def validate(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    year: YearOpt = None,
    fmt: FormatOpt = Format.TEXT,
    limit: Annotated[int, typer.Option(help="Findings listed per check in text output (0 = all).")] = 20,
) -> None:
    """Read every source and print the data-quality report (errors and warnings with file and line).

    Exit code 0 when the data may be planned, 1 when errors exceed validation.max_errors. An export of another
    school year than koppel works on stops with what to do (exit 1).
    """
    from koppel.cli.summaries import render_validation, year_line

    outcome = _app(config).validate(tenant, year=year)
    t = current_language()
    report = outcome.report
    if fmt is Format.JSON:
        emit_json({"tenant": outcome.tenant, "school_year": str(outcome.year), "roster": dict(outcome.counts),
                   "school_year_from": outcome.year_choice.why if outcome.year_choice else None,
                   **report.to_json()})
    else:
        if outcome.year_choice is not None:
            out.print(year_line(t, outcome.year_choice), markup=False)
        out.print(render_validation(t, report, limit=limit or None), markup=False, end="")
    raise typer.Exit(1 if report.exceeds_limit else 0)


# -- plan ------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def plan(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: EveryTargetOpt = None,
    year: YearOpt = None,
    fmt: FormatOpt = Format.TEXT,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Save the plan as JSON to apply it later.")] = None,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode", help="Exit 0 = no changes, 1 = error, "
                                                    "2 = changes (for cron and scripts).")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="List every change in text output.")] = False,
    search: Annotated[str | None, typer.Option("--search", help="List only the changes whose person (name, "
                                              "leerlingnummer, docentcode, klas), group or course matches TEXT "
                                              "(case-insensitive).")] = None,
    show_payloads: Annotated[bool, typer.Option("--show-payloads", help="After the plan, the request each change "
                                                "would send to the target (text output; no credentials).")] = False,
    full: Annotated[bool, typer.Option("--full", help="Plan even when the export, configuration, state and day are "
                                       "those of the last sync that found nothing to change, and compare every "
                                       "membership (no per-group digests).")] = False,
) -> None:
    """Show what would change in the target: create, update, suspend, restore, archive, delete — with reasons.

    A preview: it records nothing and stores no held plan (`koppel sync` does, as a run). --out saves the plan
    to a file only. An export of another school year than koppel works on stops with what to do (exit 1).
    When the export's bytes, the configuration, koppel's version, the state and the day are those of the last
    sync that found nothing to change, it says so without planning again (--full plans anyway)."""
    t = current_language()
    if show_payloads and fmt is Format.JSON:
        raise fail(t._("--show-payloads shows the payloads in text output: leave out --format json"))
    app_ = _app(config)
    t = current_language()
    names = _target_names(app_, tenant, target)
    if out_file is not None and len(names) > 1:
        raise fail(t._("this tenant has several targets; save one plan at a time with --target ({targets})").format(
            targets=", ".join(n for n in names if n)))
    changes = False
    if fmt is Format.JSON and len(names) > 1:
        sys.stdout.buffer.write(b'{"targets":{')
    for number, name in enumerate(names):
        outcome = app_.plan(tenant, name, year=year, shortcut=not full and out_file is None and not show_payloads,
                            full=full)
        p = outcome.plan
        changes = changes or bool(p.changes)
        if out_file is not None:
            try:
                with out_file.open("wb") as fh:
                    p.write_json(fh)
            except OSError as exc:
                raise fail(t._("could not write the plan to {file}: {problem}").format(
                    file=out_file, problem=exc.strerror or exc)) from None
        if fmt is Format.JSON:
            if len(names) > 1:
                sys.stdout.buffer.write((b"," if number else b"") + orjson.dumps(p.target) + b":")
            p.write_json(cast("BinaryIO", JsonTerminalSafe(sys.stdout.buffer)))  # writes whole JSON tokens
            sys.stdout.flush()
        else:
            if len(names) > 1:
                _target_heading(app_, tenant, p.target, first=number == 0)
            _print_plan(app_, outcome, search=search, show_all=show_all, show_payloads=show_payloads,
                        out_file=out_file)
        del outcome, p
    if fmt is Format.JSON and len(names) > 1:
        sys.stdout.buffer.write(b"}}\n")
        sys.stdout.flush()
    finish(2 if detailed_exitcode and changes else 0, store=app_.store)


def _target_names(app_: Koppel, tenant: str | None, target: str | None) -> list[str | None]:
    """The targets a command works on: the one named with --target; else every enabled target of the tenant
    (``[None]`` when it has one, so its messages stay those of a single target)."""
    if target is not None:
        return [target]
    enabled = [t.name for t in app_.config.tenant(tenant).targets.values() if t.enabled]
    return [None] if len(enabled) <= 1 else list(enabled)


def _target_heading(app_: Koppel, tenant: str | None, name: str, *, first: bool) -> None:
    """The line above each target's section when a tenant has several targets."""
    target_cfg = app_.config.tenant(tenant).targets[name]
    heading = current_language()._("Target {name} ({kind})").format(name=name, kind=target_cfg.kind)
    out.print(("" if first else "\n") + f"══ {heading} ══", markup=False)


def _print_plan(app_: Koppel, outcome: PlanOutcome, *, search: str | None, show_all: bool, show_payloads: bool,
                out_file: Path | None) -> None:
    """`koppel plan`'s text output: the school year, the plan (or the changes matching --search), the payloads
    when asked, and what to do next."""
    from koppel.cli.summaries import year_line
    from koppel.plan.render import render_text

    t = current_language()
    p = outcome.plan
    if outcome.year_choice is not None:
        out.print(year_line(t, outcome.year_choice), markup=False)
    if search is not None:
        from koppel.plan.render import render_search

        out.print(render_search(p, search, limit=None if show_all else 200, lang=t), markup=False, end="")
    else:
        out.print(render_text(p, limit=None if show_all else 50, school_names=dict(outcome.schools), lang=t),
                  markup=False, end="")
    if show_payloads:
        from koppel.cli.preview import render_payloads

        out.print(render_payloads(app_.config, p, limit=None if show_all else 50), markup=False, end="")
    if p.held:  # its text says how to approve it; this preview stored nothing
        out.print("\n" + t._("This preview stored nothing. `koppel apply --approve ID` plans again and applies "
                             "the plan when it is still this one; `koppel sync` stores it as the target's held "
                             "plan."), markup=False)
    if out_file is not None:
        out.print("\n" + t._("Saved to {file}. Apply it with `koppel apply {file}`.").format(file=out_file),
                  markup=False)
    elif p.changes and not p.held:
        out.print("\n" + t._("Apply with `koppel apply` (plans again, shows the plan and asks) or save it with "
                             "--out and apply the file."), markup=False)


# -- apply / sync -----------------------------------------------------------------------------------


def _print_apply(result: ApplyResult, fmt: Format) -> None:
    if fmt is Format.JSON:
        emit_json(result.to_json())
        return
    from koppel.cli.summaries import render_apply

    for line in render_apply(current_language(), result):
        out.print(line, markup=False)


@app.command()
@handle_errors
def apply(
    plan_file: Annotated[Path | None, typer.Argument(help="A plan saved with `koppel plan --out`. Without it, "
                                                    "koppel plans and applies in one go.")] = None,
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    approve: Annotated[str | None, typer.Option("--approve", help="Apply the held plan with this id, recording "
                                                "who approved it (see `koppel status`).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who approves (default: the login name, or KOPPEL_USER).")] = None,
    year: Annotated[str | None, typer.Option("--year", help="School year to read when koppel plans here, e.g. "
                                             "2026-2027 (no short form: -y is --yes).")] = None,
    yes: YesOpt = False,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Apply a plan. Shows the plan and asks `yes` first, like terraform: --yes (-y) for scripts; with no terminal
    and no --yes it refuses (exit 2). A stale plan (the state moved since) is refused; a held plan needs --approve."""
    from koppel.plan.model import Plan

    refuse_without_terminal(yes)
    app_ = _app(config)
    approved_by: str | None = None
    schools: dict[str, str] | None = None
    if approve:
        p = app_.approvable(approve, tenant_id=tenant, target_name=target)
        approved_by = by or _who()
    elif plan_file is not None:
        try:
            p = Plan.from_json_bytes(plan_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise fail(current_language()._("{file}: not a koppel plan ({problem})").format(
                file=plan_file, problem=exc)) from None
    else:
        outcome = app_.plan(tenant, target, year=year, record=True)  # a run: the read is recorded, a held plan stored
        p, schools = outcome.plan, dict(outcome.schools)
        if outcome.year_choice is not None and fmt is Format.TEXT:
            from koppel.cli.summaries import year_line

            out.print(year_line(current_language(), outcome.year_choice), markup=False)
        if p.held:
            from koppel.plan.render import render_text

            out.print(render_text(p, limit=20, lang=current_language()), markup=False, end="")
            raise fail(current_language()._("plan {id} is held; review it and run `koppel apply --approve {id}`")
                       .format(id=p.id), code=3)
    if p.changes and not yes:
        _show_plan(p, schools, fmt)
        confirm_apply(len(p.changes), yes=yes)
    with progress_bar(len(p.changes), current_language()._("applying"), enabled=fmt is Format.TEXT) as progress:
        result = app_.apply(p, approved_by=approved_by, progress=progress)
    _print_apply(result, fmt)
    finish(_exit_code(result), store=app_.store)


def _show_plan(p: Plan, schools: dict[str, str] | None, fmt: Format) -> None:
    """The plan as `koppel plan` shows it, before the question (on stderr when stdout carries JSON)."""
    from koppel.cli.common import err
    from koppel.plan.render import render_text

    text = render_text(p, limit=50, school_names=schools, lang=current_language())
    (out if fmt is Format.TEXT else err).print(text, markup=False, end="")


def _exit_code(result: ApplyResult) -> int:
    from koppel.model.status import RunStatus

    return 0 if result.status == RunStatus.SUCCEEDED else 1


@app.command()
@handle_errors
def sync(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: EveryTargetOpt = None,
    year: YearOpt = None,
    fmt: FormatOpt = Format.TEXT,
    full: Annotated[bool, typer.Option("--full", help="Plan even when the export, configuration, state and day are "
                                       "those of the last sync that found nothing to change, and compare every "
                                       "membership (no per-group digests).")] = False,
) -> None:
    """Plan and apply in one go — unless a guard holds the plan (exit code 3; approve it with `koppel apply --approve`).

    Never asks: sync is the scheduled command (cron, the service), and its guards hold large removals for approval
    instead. It records the LAS read and stores a held plan as the target's one held plan (older ones are marked
    superseded). Use `koppel apply` to see the plan and confirm it by hand. When the export's bytes, the
    configuration, koppel's version, the state and the day are those of the last sync that found nothing to change,
    it records an unchanged run without reading or planning (--full plans anyway)."""
    from koppel.cli.summaries import year_line

    app_ = _app(config)
    t = current_language()
    if fmt is Format.TEXT:
        out.print(year_line(t, app_.school_year(tenant, year)), markup=False)
    names = _target_names(app_, tenant, target)
    if len(names) == 1:
        code, result = _sync_one(app_, tenant, names[0], year=year, fmt=fmt, full=full)
        if code == 3 or result is None:
            raise typer.Exit(code)
        finish(code, store=app_.store)
    # Several targets: each its own plan, guards and run; one failing or held never stops the others.
    codes: dict[str, int] = {}
    results: dict[str, Any] = {}
    for number, name in enumerate(names):
        assert name is not None
        if fmt is Format.TEXT:
            _target_heading(app_, tenant, name, first=number == 0)
        try:
            codes[name], results[name] = _sync_one(app_, tenant, name, year=year, fmt=fmt, full=full, several=True)
        except KoppelError as exc:
            report_error(exc)
            codes[name], results[name] = exc.exit_code, {"error": str(exc), "exit_code": exc.exit_code}
        except OSError as exc:  # a file the target writes, on a full or read-only disk
            problem = (f"{exc.filename}: " if exc.filename else "") + (exc.strerror or str(exc))
            fail(problem)
            codes[name], results[name] = 1, {"error": problem, "exit_code": 1}
    if fmt is Format.JSON:
        emit_json({"targets": results})
    else:
        out.print("\n" + "  ".join(t._("{name}: {result}").format(name=name, result=_sync_word(t, code))
                                    for name, code in codes.items()), markup=False)
    failed = [c for c in codes.values() if c not in (0, 3)]
    finish(failed[0] if failed else (3 if 3 in codes.values() else 0), store=app_.store)


def _sync_one(app_: Koppel, tenant: str | None, name: str | None, *, year: str | None, fmt: Format, full: bool,
              several: bool = False) -> tuple[int, Any]:
    """Sync one target: its exit code (0, 1 when not everything landed, 3 held) and what it did (the apply's
    result, or the held plan as JSON when ``several``; None for a held plan of a single target, already shown)."""
    from koppel.plan.render import render_summary_line, render_text

    t = current_language()
    with ExitStack() as bars:
        def starting(p: Plan) -> Progress | None:
            if fmt is Format.TEXT:
                out.print(render_summary_line(p, t), markup=False)
            return bars.enter_context(progress_bar(len(p.changes), current_language()._("applying"),
                                                   enabled=fmt is Format.TEXT))

        outcome = app_.sync(tenant, name, year=year, before_apply=starting, full=full)
    p = outcome.plan
    if outcome.applied is None:  # held
        held = {"plan_id": p.id, "held": True, "holds": [h.to_json() for h in p.holds], "summary": p.summary()}
        if fmt is Format.JSON and not several:
            emit_json(held)
        elif fmt is Format.TEXT:
            out.print(render_text(p, limit=20, lang=t), markup=False, end="")
        return 3, (held if several else None)
    if fmt is Format.TEXT or not several:
        _print_apply(outcome.applied, fmt)
    return _exit_code(outcome.applied), outcome.applied.to_json()


def _sync_word(t: Any, code: int) -> str:
    if code == 0:
        return str(t._("done"))
    if code == 3:
        return str(t._("held for approval"))
    return str(t._("failed (exit {code})").format(code=code))


# -- check ----------------------------------------------------------------------------------------

_CHECK_MARK = {"ok": "ok  ", "warning": "warn", "failed": "FAIL", "skipped": "skip"}  # by CheckStatus


@app.command()
@handle_errors
def check(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Check, without writing, that koppel can work with a target: endpoint, TLS, credentials, site root, the
    operations it may use, and what it already holds. Exit 5 when something must be fixed."""
    from koppel.targets.base import CheckStatus

    app_ = _app(config)
    checks = app_.check(tenant, target)
    failed = [c for c in checks if c.status is CheckStatus.FAILED]
    if fmt is Format.JSON:
        emit_json({"ok": not failed, "checks": [c.to_json() for c in checks]})
    else:
        t = current_language()
        for c in checks:
            out.print(f"{_CHECK_MARK[c.status]}  {c.name}: {c.message}", markup=False)
            if c.fix and c.status in (CheckStatus.FAILED, CheckStatus.WARNING):
                out.print("      " + t._("fix: {fix}").format(fix=c.fix), markup=False)
        out.print(t.ngettext("{n} problem to fix.", "{n} problems to fix.", len(failed)).format(n=t.num(len(failed)))
                  if failed else t._("koppel can work with this target."), markup=False)
    raise typer.Exit(5 if failed else 0)


# -- status / history ------------------------------------------------------------------------------


@app.command()
@handle_errors
def status(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    run: Annotated[int | None, typer.Option("--run", help="Show one run with its per-object errors.")] = None,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Per target: the last runs, held plans waiting for approval, objects managed, the run lock."""
    from koppel.cli.status import render_run, render_status, status_data
    from koppel.model.status import PROBLEMS

    app_ = _app(config)
    if run is not None:
        info = app_.store.run(run)
        if info is None:
            raise fail(current_language()._("no run {id}").format(id=run))
        entries = app_.store.run_journal(run, outcomes=PROBLEMS)
        if fmt is Format.JSON:
            emit_json({"run": info.__dict__, "problems": [e.to_json() for e in entries]})
        else:
            out.print(render_run(info, entries, current_language()), markup=False, end="")
        return
    data = status_data(app_, tenant)
    if fmt is Format.JSON:
        emit_json(data)
    else:
        out.print(render_status(data, current_language()), markup=False, end="")


@app.command()
@handle_errors
def history(
    person: Annotated[str, typer.Argument(help="Sync key, leerlingnummer, docentcode, user name or (part of) a name.")],
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Every change koppel made to this person and their memberships: when, what and why."""
    from koppel.cli.status import render_history

    app_ = _app(config)
    tenant_cfg = app_.config.tenant(tenant)
    matches = app_.store.find_persons(tenant_cfg.id, target, person)
    exact = [m for m in matches if m["key"] == person or person in (m["meta"].get("leerlingnummer"),
                                                                      m["meta"].get("docentcode"))]
    if exact:
        matches = exact
    keys = sorted({m["key"] for m in matches})
    t = current_language()
    if not keys:
        raise fail(t._("no person matching {text} in tenant {tenant}").format(text=repr(person), tenant=tenant_cfg.id))
    if len(keys) > 1:
        if fmt is Format.JSON:
            emit_json({"matches": matches})
        else:
            from koppel.explain import person_lines
            from koppel.textsafe import printable

            out.print(t._("{n} persons match {text}; be more precise:").format(n=t.num(len(keys)), text=repr(person)),
                      markup=False)
            for line in person_lines(app_, tenant_cfg.id, matches):
                out.print(f"  {printable(line)}", markup=False)
        raise typer.Exit(1)
    entries = app_.store.history(tenant_cfg.id, target, keys[0])
    if fmt is Format.JSON:
        emit_json({"person": matches[0], "history": [e.to_json() for e in entries]})
    else:
        out.print(render_history(matches[0], entries, t), markup=False, end="")


# -- the run lock -----------------------------------------------------------------------------------------


@app.command()
@handle_errors
def unlock(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Remove the lock even when it looks live (only when you "
                                        "know the run that holds it is gone).")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who removes it (default: the login name, or KOPPEL_USER).")] = None,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Show the target's run lock — whose it is (host, pid, run, started) and when it last beat — and remove it
    when it is stale. A lock whose last heartbeat is older than its lease is stale whatever its pid; a live one is
    kept (exit 4) unless --force."""
    app_ = _app(config)
    found = app_.unlock(tenant, target, force=force, by=f"koppel unlock (by {by or _who()})")
    lock = found["lock"]
    if fmt is Format.JSON:
        emit_json(found)
    else:
        from koppel.cli.status import render_unlock

        out.print(render_unlock(found, current_language()), markup=False, end="")
    raise typer.Exit(4 if lock is not None and not found["removed"] and not found["stale"] else 0)


# -- set-up: init, generate, connectors, demo ------------------------------------------------------------


@app.command()
@handle_errors
def init(
    source: Annotated[Path, typer.Option("--source", help="Folder (or file) with the LAS export.")] = Path("export"),
    layout: Annotated[str, typer.Option("--layout", help="Export layout: magister, somtoday or koppel.")] = "magister",
    target_kind: Annotated[str, typer.Option("--target", help="Target kind: itslearning or fake.")] = "itslearning",
    url: Annotated[str | None, typer.Option("--url", help="The target's URL (itslearning: as its admin page gives it).")] = None,
    username: Annotated[str | None, typer.Option("--username", help="The integration's user name.")] = None,
    password_env: Annotated[str | None, typer.Option("--password-env", help="Environment variable that holds the "
                                                     "password (never the password itself).")] = None,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id.")] = "school",
    name: Annotated[str | None, typer.Option("--name", help="Tenant name (the bestuur or school).")] = None,
    school: Annotated[str | None, typer.Option("--school", help="BRIN6 of a single-school export.")] = None,
    state: Annotated[str, typer.Option("--state", help="State store URL.")] = "sqlite:///koppel-state.db",
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Where to write the configuration.")] = Path("koppel.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a working, commented koppel.toml."""
    from koppel.cli.init_config import render_config
    from koppel.config import load_config

    t = current_language()
    if out_file.exists() and not force:
        raise fail(t._("{file} exists; use --force to overwrite it").format(file=out_file))
    text = render_config(source=str(source), layout=layout, target_kind=target_kind, url=url, username=username,
                         password_env=password_env, tenant=tenant, name=name, school=school, state=state,
                         today=dt.date.today())
    out_file.write_text(text, encoding="utf-8")
    load_config(out_file)  # what we write must load
    out.print(t._("Wrote {file}. Next: `koppel validate -c {file}`, then `koppel plan -c {file}`.").format(
        file=out_file), markup=False)


@app.command()
@handle_errors
def generate(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the export to.")],
    students: Annotated[int, typer.Option("--students", "-n", min=1, help="Number of pupils in the bestuur.")] = 1200,
    schools: Annotated[int, typer.Option("--schools", "-k", min=1, help="Number of schools.")] = 1,
    year: Annotated[str | None, typer.Option("--year", help="School year, e.g. 2025-2026 (default: the current "
                                             "school year); the next year gives the same bestuur one year on.",
                                             show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same files.")] = 1,
    layout: Annotated[str, typer.Option("--layout", help="magister, somtoday or koppel.")] = "magister",
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Generate realistic, deterministic Dutch secondary schools as a LAS export (for trying and testing)."""
    from koppel.generator import generate as gen
    from koppel.generator import write_layout
    from koppel.model.roster import SchoolYear

    t = current_language()
    try:
        school_year = SchoolYear.parse(year) if year else SchoolYear.containing(dt.date.today())
    except ValueError:
        raise fail(t._("{value}: not a school year; write it as 2025-2026").format(value=repr(year))) from None
    if layout not in ("magister", "somtoday", "koppel"):
        raise fail(t._("unknown layout {layout}: use magister, somtoday or koppel").format(layout=repr(layout)))
    bestuur = gen(students=students, schools=schools, year=school_year, seed=seed)
    files = write_layout(bestuur, out_dir, layout)  # type: ignore[arg-type]
    summary = {"out": str(out_dir), "layout": layout, "school_year": str(school_year), "schools": len(bestuur.schools),
               "pupils": len(bestuur.pupils), "teachers": len(bestuur.teachers), "files": [str(f) for f in files]}
    if fmt is Format.JSON:
        emit_json(summary)
    else:
        out.print(" ".join((
            t.ngettext("Wrote {n} file to {folder}:", "Wrote {n} files to {folder}:", len(files)).format(
                n=t.num(len(files)), folder=out_dir),
            t.ngettext("{n} school,", "{n} schools,", len(bestuur.schools)).format(n=t.num(len(bestuur.schools))),
            t.ngettext("{n} pupil,", "{n} pupils,", len(bestuur.pupils)).format(n=t.num(len(bestuur.pupils))),
            t.ngettext("{n} teacher,", "{n} teachers,", len(bestuur.teachers)).format(n=t.num(len(bestuur.teachers))),
            t._("school year {year}, layout {layout}.").format(year=school_year, layout=layout))), markup=False)


@connectors_app.command("list")
@handle_errors
def connectors_list(fmt: FormatOpt = Format.TEXT) -> None:
    """The source and target kinds koppel knows."""
    from koppel.connectors import SOURCE_KINDS, TARGET_KINDS, load_source_kind, load_target_kind

    rows = [{"role": "source", "kind": k, "summary": load_source_kind(k).summary} for k in sorted(SOURCE_KINDS)]
    rows += [{"role": "target", "kind": k, "summary": load_target_kind(k).summary} for k in sorted(TARGET_KINDS)]
    if fmt is Format.JSON:
        emit_json(rows)
        return
    t = current_language()
    roles = {"source": t._("source"), "target": t._("target")}
    width = max(len(role) for role in roles.values())
    kinds = max(len(r["kind"]) for r in rows)
    for r in rows:
        # A connector's summary is its own English text; the catalogue holds it by that text
        # (tests/cli/test_setup_commands_language.py checks that every summary has a translation).
        out.print(f"{roles[r['role']]:<{width}} {r['kind']:<{kinds}}  {t._(r['summary'])}", markup=False)


@connectors_app.command("describe")
@handle_errors
def connectors_describe(
    name: Annotated[str, typer.Argument(help="Kind to describe, e.g. csv or itslearning.")],
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Every setting of a source or target kind, with its type, default and description."""
    from koppel.cli.describe import describe_kind

    data = describe_kind(name)
    if fmt is Format.JSON:
        emit_json(data)
        return
    t = current_language()
    head = t._("source kind {kind}: {summary}") if data["role"] == "source" else t._("target kind {kind}: {summary}")
    out.print(head.format(kind=data["kind"], summary=t._(data["summary"])) + "\n", markup=False)
    for section in data["sections"]:
        out.print(f"[[{section['table']}]]" if section.get("array") else f"[{section['table']}]", markup=False)
        for f in section["fields"]:
            default = "" if f["required"] else " " + t._("(default: {value})").format(value=f["default"])
            out.print(f"  {f['name']} : {f['type']}{default}", markup=False)
            if f["description"]:
                out.print(f"      {f['description']}", markup=False)
        out.print("", markup=False)


@app.command()
@handle_errors
def demo(
    directory: Annotated[Path | None, typer.Option("--dir", help="Folder for the demo's files (default: a new "
                                                   "temporary folder).")] = None,
    students: Annotated[int, typer.Option("--students", help="Pupils in the generated school.")] = 240,
    keep_running: Annotated[bool, typer.Option("--keep-running", help="Keep the itslearning sandbox running "
                                               "afterwards so you can browse what landed.")] = False,
) -> None:
    """Run koppel end to end on embedded defaults: a generated school, a first plan and apply, then an LAS change
    (a pupil moves klas, a pupil stops a subject, a new teacher joins a lesgroep) and the incremental plan."""
    from koppel.cli.demo import run_demo

    run_demo(directory, students=students, keep_running=keep_running)


# -- reconciliation ---------------------------------------------------------------------------------------


@app.command()
@handle_errors
def reconcile(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    adopt: Annotated[list[str] | None, typer.Option("--adopt", help="ACCOUNT=PERSON: after review, let koppel "
                                                    "manage this existing account (user name or target id) for "
                                                    "this LAS person (sync key). Repeatable.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who approves the adoption (default: the login name).")] = None,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Read back what the target holds and report drift: objects changed or removed by hand, objects koppel does
    not know, and manual accounts that match a LAS person. Changes nothing, unless you --adopt."""
    from koppel.cli.status import render_drift

    app_ = _app(config)
    t = current_language()
    if adopt:
        done = []
        for pair in adopt:
            account, sep, person_key = pair.partition("=")
            if not sep or not account or not person_key:
                raise fail(t._("--adopt {value}: write ACCOUNT=PERSON (e.g. --adopt jdevries=las:12345)").format(
                    value=repr(pair)))
            target_id = app_.adopt(tenant, target, account=account, person_key=person_key, approved_by=by or _who())
            done.append({"account": account, "person": person_key, "target_id": target_id})
        if fmt is Format.JSON:
            emit_json({"adopted": done})
        else:
            for d in done:
                out.print(t._("Adopted {account} ({id}) for {person}; the next plan updates the fields koppel owns.")
                          .format(account=d["account"], id=d["target_id"], person=d["person"]), markup=False)
        return
    report = app_.reconcile(tenant, target)
    if fmt is Format.JSON:
        emit_json(report.to_json())
    else:
        out.print(render_drift(report, t), markup=False, end="")
    raise typer.Exit(0 if report.clean else 2)


# -- AVG: retention ---------------------------------------------------------------------------------------


@app.command()
@handle_errors
def purge(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be purged.")] = False,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """AVG: remove the state and history of persons deleted longer ago than the retention period
    (policy.lifecycle.retention_days per target)."""
    report = _app(config).purge(tenant, target, dry_run=dry_run)
    if fmt is Format.JSON:
        emit_json({"dry_run": dry_run, "targets": report})
        return
    t = current_language()
    for entry in report:
        n, days = len(entry["persons"]), entry["retention_days"]
        said = (t.ngettext("{target}: {n} person deleted before {date} (retention {days}) would be purged.",
                           "{target}: {n} persons deleted before {date} (retention {days}) would be purged.", n)
                if dry_run else
                t.ngettext("{target}: {n} person deleted before {date} (retention {days}) purged.",
                           "{target}: {n} persons deleted before {date} (retention {days}) purged.", n))
        out.print(said.format(target=entry["target"], n=t.num(n), date=t.time(entry["deleted_before"]),
                              days=t.ngettext("{n} day", "{n} days", days).format(n=t.num(days))), markup=False)
        for p in entry["persons"]:
            out.print(f"  {p['key']}  {p['label'] or ''}  [{p['school'] or '-'}] "
                      + t._("deleted {when}").format(when=t.time(p["deleted_at"])), markup=False)
        if entry.get("purged"):
            rows, journal = entry["purged"]["rows"], entry["purged"]["journal"]
            out.print("  " + t.ngettext("removed {n} state row", "removed {n} state rows", rows).format(n=t.num(rows))
                      + " " + t.ngettext("and {n} history entry.", "and {n} history entries.", journal).format(
                          n=t.num(journal)), markup=False)


def run() -> None:
    enable_fast_exit()
    app()


# Commands that live in their own modules register themselves on `app` when imported.
from koppel.cli import (  # noqa: E402
    explain_cmds,  # noqa: F401
    sandbox_cmds,  # noqa: F401
    service_cmds,  # noqa: F401
    takeover_cmds,  # noqa: F401
    tenant_cmds,  # noqa: F401
    worker_cmds,  # noqa: F401
)

if __name__ == "__main__":  # pragma: no cover
    run()
