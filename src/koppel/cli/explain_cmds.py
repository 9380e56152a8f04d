"""`koppel explain PERSON [GROUP]`: "why is pupil X not in course Y?" (koppel.explain does the work)."""

from __future__ import annotations

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
    emit_json,
    handle_errors,
    out,
)
from koppel.cli.main import _app, app
from koppel.textsafe import printable

if TYPE_CHECKING:
    from koppel.explain import Explanation

_MARK = {"member": "=", "planned": "+", "held": "!", "refused": "!", "removal-planned": "-"}


@app.command()
@handle_errors
def explain(
    person: Annotated[str, typer.Argument(help="Leerlingnummer, docentcode, ECK iD, sync key or (part of) a name.")],
    group: Annotated[str | None, typer.Argument(help="A klas, lesgroep or course (its name in the LAS, e.g. 1A.fa, "
                                                "or its title in the platform). Without it: every group of the "
                                                "person's klas and lesgroepen they are not in.")] = None,
    config: ConfigOpt = Path("koppel.toml"),
    tenant: TenantOpt = None,
    target: TargetOpt = None,
    year: YearOpt = None,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Why a person is (not) in a group: who they are in the LAS and in koppel's state, their groups now, changes
    waiting in held plans, and for each group they are not in the rule that decided it — with the LAS file and
    line it rests on. Reads only; records nothing.

    Exit 0: explained; 1: no such person, or more than one matches (the candidates are listed)."""
    from koppel.explain import AmbiguousPerson
    from koppel.explain import explain as run_explain

    app_ = _app(config)
    try:
        found = run_explain(app_, tenant, target, person, group, year=year)
    except AmbiguousPerson as exc:
        if fmt is Format.JSON:
            emit_json({"error": str(exc), "candidates": [c.to_json() for c in exc.candidates]})
        else:
            out.print(f"{len(exc.candidates)} persons match {person!r}; name one by leerlingnummer or docentcode:",
                      markup=False)
            for c in exc.candidates:
                out.print(f"  {printable(c.line())}", markup=False)
        raise typer.Exit(1) from None
    if fmt is Format.JSON:
        emit_json(found.to_json())
        return
    out.print(render_explanation(found), markup=False, end="")


def render_explanation(e: Explanation) -> str:
    p = e.person
    ids = ", ".join(f"{k} {v}" for k, v in (("leerlingnummer", p.leerlingnummer), ("docentcode", p.docentcode)) if v)
    klas = f", klas {p.klas}" if p.klas else ""
    schools = ", ".join(f"{b} {p.school_names[b]}" if b in p.school_names else b for b in p.schools)
    lines = [f"{p.name} — {p.kind or 'person'}{' ' + ids if ids else ''}{klas} [{schools}]"]
    if p.in_las:
        lines.append(f"  LAS ({e.school_year}): {p.source or 'in the export'}")
    else:
        lines.append(f"  LAS ({e.school_year}): not in the export")
    state = (f"{p.sync_key}, {p.state_status}" if p.state_status else f"{p.sync_key} (not managed yet)")
    lines.append(f"  koppel ({e.target}): {state}")
    lines += ["", f"Groups now, per koppel's state ({len(e.groups)}):"]
    if not e.groups:
        lines.append("  none")
    for g in e.groups:
        status = "" if g.status == "active" else f", {g.status}"
        lines.append(f"  {g.name}  ({g.type or 'group'}, {g.role}{status})")
    if e.pending:
        lines += ["", "Waiting in held plans:"]
        for c in e.pending:
            lines.append(f"  plan {c.plan} ({c.plan_status}): {c.action} {c.kind} {c.label or c.key} — {c.reason}")
        for plan, holds in sorted({(c.plan, c.holds) for c in e.pending}):
            for h in holds:
                lines.append(f"    held {plan}: {h}")
    title = f"In {e.asked}?" if e.asked else "Groups of their klas and lesgroepen they are not in:"
    lines += ["", title]
    if not e.answers:
        lines.append("  none: the person is in every group the LAS places them in" if not e.asked else "  -")
    for a in e.answers:
        lines.append(f"  {_MARK.get(a.verdict, 'x')} {a.group}: {a.verdict}")
        lines.append(f"      {a.message}")
        if a.platform_message:
            lines.append(f"      itslearning said: {a.platform_message}")
        for w in a.where:
            lines.append(f"      from {w}")
    for n in e.notes:
        lines += ["", f"Note: {n}"]
    return "\n".join(printable(line) for line in lines) + "\n"
