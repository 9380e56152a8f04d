"""The command line's short texts for people: the school year line, the data-quality report, the apply summary.

Pure functions of a :class:`~koppel.locale.Language` and the data: the CLI prints what they return. Findings
from a source (a duplicate leerlingnummer in file X line Y) are the source's technical messages and stay as
the source wrote them, each on a line of its own; every label around them is in the chosen language.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from koppel.textsafe import printable

if TYPE_CHECKING:
    from koppel.apply.applier import ApplyResult
    from koppel.config import YearChoice
    from koppel.locale import Language
    from koppel.model.roster import Diagnostic
    from koppel.validation import ValidationReport


def year_line(t: Language, choice: YearChoice) -> str:
    """``School year 2025-2026 (auto: today 2026-12-04, year starts 08-01)`` — the origin as the core words it in
    English (scripts read it), in words in another language."""
    if t.code == "en":
        why = choice.why
    elif choice.origin == "auto":
        why = t._("auto: today {today}, the year starts {start}").format(today=choice.today.isoformat(),
                                                                        start=choice.year_start)
    elif choice.origin == "--year":
        why = t._("chosen with --year")
    else:
        why = t._("school_year in koppel.toml")
    return t._("School year {year} ({why})").format(year=choice.year, why=why)


def counted(t: Language, errors: int, warnings: int) -> str:
    """``3 errors, 1 warning`` (plural forms by the language's rule)."""
    return ", ".join((t.ngettext("{n} error", "{n} errors", errors).format(n=t.num(errors)),
                      t.ngettext("{n} warning", "{n} warnings", warnings).format(n=t.num(warnings))))


def render_validation(t: Language, report: ValidationReport, *, limit: int | None = 20) -> str:
    """The data-quality report: a verdict, then per severity and check the count and the first findings."""
    from koppel.cli.error_text import say_finding
    from koppel.model.roster import Severity
    from koppel.validation.checks import CHECKS

    errors, warnings = len(report.errors), len(report.warnings)
    lines = [_verdict(t, report, errors, warnings)]
    for severity, title in ((Severity.ERROR, t._("Errors")), (Severity.WARNING, t._("Warnings"))):
        found = [d for d in report.diagnostics if d.severity is severity]
        if not found:
            continue
        lines += ["", f"{title}: {t.num(len(found))}"]
        for code, items in _by_code(found):
            check = CHECKS.get(code)
            title = check.title if check else ""
            if t.code != "en" and t.say(title) == title:
                title = ""  # an English title in a Dutch report would mix languages: the code alone names it
            about = f" — {t.say(title)}" if title else ""
            lines.append(f"  {code} ({t.num(len(items))}){about}")
            shown = items if limit is None else items[:limit]
            for d in sorted(shown, key=_sort_key):
                lines.append(printable(f"    {d.where + ': ' if d.where else ''}{say_finding(d.message, t)}"))
            if len(items) > len(shown):
                lines.append("    " + t._("… and {n} more").format(n=t.num(len(items) - len(shown))))
    return "\n".join(lines) + "\n"


def _verdict(t: Language, report: ValidationReport, errors: int, warnings: int) -> str:
    counts = counted(t, errors, warnings)
    if report.exceeds_limit:
        text = t._("Data quality: {counts} — more errors than max_errors ({limit}): the run stops before planning.")
    elif errors:
        text = t._("Data quality: {counts} — within max_errors ({limit}): the rows in error are left out, the rest "
                   "is planned.")
    else:
        text = t._("Data quality: {counts} — the data may be planned.")
    return text.format(counts=counts, limit=t.num(report.max_errors))


def _by_code(found: Iterable[Diagnostic]) -> list[tuple[str, list[Diagnostic]]]:
    groups: dict[str, list[Diagnostic]] = {}
    for d in found:
        groups.setdefault(d.code, []).append(d)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _sort_key(d: Diagnostic) -> tuple[str, int, str]:
    return (d.file or "~", d.line or 0, d.object or "")


def run_status(t: Language, status: str) -> str:
    """A status (of a run, plan, object or journal entry) in words (``succeeded`` → ``geslaagd``)."""
    words = {
        "succeeded": t._("succeeded"), "failed": t._("failed"), "partial": t._("partial"), "held": t._("held"),
        "running": t._("running"), "stopped": t._("stopped"), "saved": t._("saved"), "applied": t._("applied"),
        "discarded": t._("discarded"), "stale": t._("stale"), "superseded": t._("superseded"),
        "active": t._("active"), "suspended": t._("suspended"), "archived": t._("archived"),
        "deleted": t._("deleted"), "done": t._("done"), "warning": t._("warning"), "skipped": t._("skipped"),
    }
    return words.get(str(status), str(status))


def render_apply(t: Language, result: ApplyResult) -> list[str]:
    """What an apply did, in a few lines: the outcomes, the requests, the run, its load and its failures."""
    from koppel.cli.status import render_load
    from koppel.model.status import JournalOutcome

    o = result.outcomes
    done, warned = o.get(JournalOutcome.DONE, 0), o.get(JournalOutcome.WARNING, 0)
    lines = [t._("Applied: {done} done ({warned} with a warning), {failed} failed, {skipped} skipped — {requests}, "
                 "{retries}, {seconds} s. Run {run}: {status}.").format(
        done=t.num(done + warned), warned=t.num(warned), failed=t.num(o.get(JournalOutcome.FAILED, 0)),
        skipped=t.num(o.get(JournalOutcome.SKIPPED, 0)),
        requests=t.ngettext("{n} request", "{n} requests", result.requests).format(n=t.num(result.requests)),
        retries=t.ngettext("{n} retry", "{n} retries", result.retries).format(n=t.num(result.retries)),
        seconds=t.num(round(result.seconds, 1)), run=result.run_id, status=run_status(t, str(result.status)))]
    if result.published:  # a file target: what it published
        lines.append(t._("Published: {what}").format(what=result.published))
    if result.requests and not result.published:  # a file target's load is its disk, not a platform's window
        lines.append(render_load(result.load.to_json(), t))
    if result.message:
        lines.append(t.say(result.message))
    failures: list[dict[str, Any]] = list(result.failures)
    for f in failures[:20]:
        lines.append(f"  ! {f['action']} {f['kind']} {f['key']} {f.get('label') or ''}: {f.get('message')}")
    if len(failures) > 20:
        lines.append("  " + t._("… and {n} more (`koppel status --run {run}`)").format(n=t.num(len(failures) - 20),
                                                                                   run=result.run_id))
    return lines
