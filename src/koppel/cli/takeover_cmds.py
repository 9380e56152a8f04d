"""`koppel takeover`: take over a platform another koppeling (or an import) filled — docs/takeover.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from koppel.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    TargetOpt,
    TenantOpt,
    YearOpt,
    current_language,
    emit_json,
    fail,
    handle_errors,
    out,
)
from koppel.cli.main import _app, _who, app

if TYPE_CHECKING:
    from koppel.takeover.model import TakeoverPlan, TakeoverResult

EXIT_BLOCKED = 2  # the plan was made, but cannot be approved as it is (ambiguities, problems, partial read)


@app.command()
@handle_errors
def takeover(
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    year: YearOpt = None,
    fmt: FormatOpt = Format.TEXT,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Save the takeover plan as JSON (approve it "
                                                  "later with --approve --plan FILE).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write every object (adopt, create, stale, left "
                                                "alone, ambiguous) to this CSV file.")] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="CSV with the matches the rules cannot make: "
                                                 "sync id,koppel key ('-': no one's). Overrides takeover.mapping.")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Record the adoption in koppel's state (discovers "
                                          "again, or takes --plan FILE).")] = False,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="With --approve: the plan saved with --out; "
                                                   "refused when the state moved since.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who approves (default: the login name, or KOPPEL_USER).")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List every object in text output.")] = False,
) -> None:
    """Take over a platform another koppeling or an import filled: find what is there (read-only), match it to
    the LAS, and show what koppel would adopt, create and leave alone — suspending and deleting nothing.

    Exit 0: the plan can be approved (or, with --approve, was recorded); 2: it cannot be approved as it is
    (ambiguous matches, mapping problems, a partial read); 3: --approve refused such a plan; 1: an error
    (configuration, mapping CSV, a stale or altered plan file)."""
    if plan_file is not None and not approve:
        raise fail(current_language()._("--plan FILE goes with --approve (to make a plan, leave --plan out)"))
    app_ = _app(config)
    plan = _saved_plan(plan_file) if plan_file is not None else app_.takeover(
        tenant, target, mapping=mapping, year=year).plan
    _save(plan, out_file, report)
    if not approve:
        _show(plan, fmt, show_all=show_all, out_file=out_file, report=report)
        raise typer.Exit(EXIT_BLOCKED if plan.blocked else 0)
    if fmt is Format.TEXT and plan_file is None:
        out.print(_rendered(plan, show_all), markup=False, end="")
    result = app_.approve_takeover(plan.tenant if plan_file else tenant, plan.target if plan_file else target,
                                   approved_by=by or _who(), plan=plan)
    _show_recorded(plan, result, fmt)


def _saved_plan(plan_file: Path) -> TakeoverPlan:
    """The takeover plan saved with --out; a file that cannot be read or is not a plan is an error."""
    from koppel.takeover.model import TakeoverPlan

    try:
        return TakeoverPlan.from_json_bytes(plan_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise fail(current_language()._("{file}: not a takeover plan ({problem})").format(
            file=plan_file, problem=exc)) from None


def _save(plan: TakeoverPlan, out_file: Path | None, report: Path | None) -> None:
    """Write the plan (--out) and the CSV report of every object (--report), where asked."""
    from koppel.takeover.render import render_report

    if out_file is not None:
        out_file.write_bytes(plan.to_json_bytes())
    if report is not None:
        report.write_text(render_report(plan), encoding="utf-8")


def _rendered(plan: TakeoverPlan, show_all: bool) -> str:
    from koppel.takeover.render import render_text

    return render_text(plan, limit=None if show_all else 20, lang=current_language())


def _show(plan: TakeoverPlan, fmt: Format, *, show_all: bool, out_file: Path | None, report: Path | None) -> None:
    """The plan (not approved), as JSON or as text with where it was saved."""
    if fmt is Format.JSON:
        sys.stdout.buffer.write(plan.to_json_bytes() + b"\n")
        sys.stdout.flush()
        return
    out.print(_rendered(plan, show_all), markup=False, end="")
    t = current_language()
    for path, said in ((out_file, t._("Saved the plan to {path}.")), (report, t._("Saved the report to {path}."))):
        if path is not None:
            out.print(said.format(path=path), markup=False)


def _show_recorded(plan: TakeoverPlan, result: TakeoverResult, fmt: Format) -> None:
    """What the approval recorded, and what to do next."""
    if fmt is Format.JSON:
        emit_json({"plan": plan.id, "recorded": result.to_json()})
        return
    t = current_language()
    persons, groups, memberships = (result.adopted.get(kind, 0) for kind in ("person", "group", "membership"))
    out.print(" ".join((
        t._("Takeover {id} recorded (run {run}):").format(id=plan.id, run=result.run_id),
        t.ngettext("koppel manages {n} person,", "koppel manages {n} persons,", persons).format(n=t.num(persons)),
        t.ngettext("{n} group", "{n} groups", groups).format(n=t.num(groups)),
        t.ngettext("and {n} membership under their existing sync ids;",
                   "and {n} memberships under their existing sync ids;", memberships).format(n=t.num(memberships)),
        t.ngettext("{n} stale account waits for confirmation in a later plan.",
                   "{n} stale accounts wait for confirmation in a later plan.", result.stale).format(
            n=t.num(result.stale)),
        t._("Next: `koppel plan`, then `koppel sync`."))), markup=False)
