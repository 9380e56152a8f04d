"""The data-quality report: every finding of the source and of the roster checks, with a verdict.

The verdict is deliberately simple: more errors than ``max_errors`` and the run stops before
planning (``exceeds_limit``); otherwise the bad rows, already left out by the source, are reported
and the rest is synced. Warnings never stop a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from koppel.errors import ValidationFailed
from koppel.model.roster import Diagnostic, Severity
from koppel.textsafe import printable
from koppel.validation.checks import CHECKS

__all__ = ["ValidationReport", "render_text"]


@dataclass(frozen=True)
class ValidationReport:
    """All findings, errors first in the order they were found, and the error limit they are held to."""

    diagnostics: tuple[Diagnostic, ...]
    max_errors: int

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """No errors at all (warnings allowed)."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def exceeds_limit(self) -> bool:
        """More errors than ``max_errors``: the run must stop before planning."""
        return len(self.errors) > self.max_errors

    def check(self) -> None:
        """Raise :class:`~koppel.errors.ValidationFailed` when the errors exceed the limit."""
        if self.exceeds_limit:
            raise ValidationFailed(len(self.errors), self.max_errors)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"error": {"duplicate-number": 2}, "warning": {…}}``, codes sorted."""
        tally: dict[str, Counter[str]] = {s.value: Counter() for s in Severity}
        for d in self.diagnostics:
            tally[d.severity.value][d.code] += 1
        return {severity: dict(sorted(codes.items())) for severity, codes in tally.items()}

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "exceeds_limit": self.exceeds_limit,
            "max_errors": self.max_errors,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "counts": self.counts(),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


def _sort_key(d: Diagnostic) -> tuple[str, int, str]:
    return (d.file or "~", d.line or 0, d.object or "")


def render_text(report: ValidationReport, *, limit: int | None = 20) -> str:
    """A readable report: a verdict, then per severity and check the count and the first findings.

    ``limit`` is the number of findings listed per check (None: all).
    """
    errors, warnings = len(report.errors), len(report.warnings)
    lines = [_verdict(report, errors, warnings)]
    for severity, title in (
        (Severity.ERROR, "Fouten (errors)"),
        (Severity.WARNING, "Waarschuwingen (warnings)"),
    ):
        found = [d for d in report.diagnostics if d.severity is severity]
        if not found:
            continue
        lines += ["", f"{title}: {len(found)}"]
        for code, items in _by_code(found):
            check = CHECKS.get(code)
            about = f" — {check.title}" if check else ""
            lines.append(f"  {code} ({len(items)}){about}")
            shown = items if limit is None else items[:limit]
            for d in sorted(shown, key=_sort_key):
                where = d.where
                # LAS data in a message is shown, never obeyed: no escape sequence reaches a terminal.
                lines.append(printable(f"    {where + ': ' if where else ''}{d.message}"))
            if len(items) > len(shown):
                lines.append(f"    … and {len(items) - len(shown)} more")
    return "\n".join(lines) + "\n"


def _verdict(report: ValidationReport, errors: int, warnings: int) -> str:
    counted = f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}"
    if report.exceeds_limit:
        return (
            f"Datakwaliteit: {counted} — more errors than max_errors ({report.max_errors}): the run stops "
            "before planning."
        )
    if errors:
        return (
            f"Datakwaliteit: {counted} — within max_errors ({report.max_errors}): the rows in error are left "
            "out, the rest is planned."
        )
    return f"Datakwaliteit: {counted} — the data may be planned."


def _by_code(diagnostics: Iterable[Diagnostic]) -> list[tuple[str, list[Diagnostic]]]:
    """Groups in order of size (largest first), then code."""
    groups: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        groups.setdefault(d.code, []).append(d)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
