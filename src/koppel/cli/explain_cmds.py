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
    current_language,
    emit_json,
    handle_errors,
    out,
)
from koppel.cli.main import _app, app
from koppel.cli.summaries import run_status
from koppel.locale import Language, language
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
            t = current_language()
            out.print(t._("{n} persons match {text}; name one by leerlingnummer or docentcode:").format(
                n=t.num(len(exc.candidates)), text=repr(person)), markup=False)
            for c in exc.candidates:
                out.print(f"  {printable(c.line())}", markup=False)
        raise typer.Exit(1) from None
    if fmt is Format.JSON:
        emit_json(found.to_json())
        return
    out.print(render_explanation(found, current_language()), markup=False, end="")


def render_explanation(e: Explanation, lang: Language | None = None) -> str:
    """Who the person is, their groups now, what waits in held plans, and the answer per group. The rules'
    own messages (``a.message``) are the explanation's technical text and stay on lines of their own."""
    t = lang or language("en")
    lines = _who(e, t)
    lines += ["", t._("Groups now, per koppel's state ({n}):").format(n=t.num(len(e.groups)))]
    if not e.groups:
        lines.append("  " + t._("none"))
    for g in e.groups:
        status = "" if g.status == "active" else f", {run_status(t, g.status)}"
        lines.append(f"  {g.name}  ({g.type or t._('group')}, {g.role}{status})")
    if e.pending:
        lines += ["", t._("Waiting in held plans:")]
        for c in e.pending:
            lines.append("  " + t._("plan {id} ({status}): {what} — {reason}").format(
                id=c.plan, status=run_status(t, c.plan_status), what=f"{c.action} {c.kind} {c.label or c.key}",
                reason=t.say(c.reason)))
        for plan, holds in sorted({(c.plan, c.holds) for c in e.pending}):
            for h in holds:
                lines.append("    " + t._("held {plan}: {why}").format(plan=plan, why=t.say(h)))
    lines += ["", t._("In {group}?").format(group=e.asked) if e.asked
              else t._("Groups of their klas and lesgroepen they are not in:")]
    if not e.answers:
        lines.append("  " + t._("none: the person is in every group the LAS places them in") if not e.asked else "  -")
    for a in e.answers:
        lines.append(f"  {_MARK.get(a.verdict, 'x')} {a.group}: {_verdict(a.verdict, t)}")
        lines.append(f"      {t.say(a.message)}")
        if a.platform_message:
            lines.append("      " + t._("itslearning said: {message}").format(message=a.platform_message))
        for w in a.where:
            lines.append("      " + t._("from {where}").format(where=w))
    for n in e.notes:
        lines += ["", t._("Note: {note}").format(note=n)]
    return "\n".join(printable(line) for line in lines) + "\n"


def _who(e: Explanation, t: Language) -> list[str]:
    p = e.person
    ids = ", ".join(f"{k} {v}" for k, v in (("leerlingnummer", p.leerlingnummer), ("docentcode", p.docentcode)) if v)
    klas = f", klas {p.klas}" if p.klas else ""
    schools = ", ".join(f"{b} {p.school_names[b]}" if b in p.school_names else b for b in p.schools)
    lines = [f"{p.name} — {p.kind or t._('person')}{' ' + ids if ids else ''}{klas} [{schools}]"]
    las = (p.source or t._("in the export")) if p.in_las else t._("not in the export")
    lines.append(f"  LAS ({e.school_year}): {las}")
    state = (f"{p.sync_key}, {run_status(t, p.state_status)}" if p.state_status
             else t._("{key} (not managed yet)").format(key=p.sync_key))
    lines.append(f"  koppel ({e.target}): {state}")
    return lines


def _verdict(verdict: str, t: Language) -> str:
    """The verdict's code in English (scripts grep it), in words in another language."""
    if t.code == "en":
        return verdict
    words = {"member": t._("member"), "planned": t._("planned"), "held": t._("held"), "refused": t._("refused"),
             "removal-planned": t._("removal planned"), "not-in-vakken": t._("vak not in their Vakken"),
             "not-placed": t._("not placed by the LAS"), "no-lesgroep": t._("no such lesgroep"),
             "filtered": t._("filtered out"), "rule": t._("a rule stops it"), "one-role": t._("a stronger role")}
    return words.get(verdict, verdict)
