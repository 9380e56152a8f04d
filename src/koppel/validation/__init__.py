"""Data quality: the source's findings plus roster-level checks, and the verdict whether to plan.

Validation sits between reading and planning (DESIGN §1). It never changes the roster and never
raises on bad data: bad rows were already left out by the source, and every finding — with file
and line where known — goes into a :class:`ValidationReport`. Only the *number* of errors decides
whether a run may go on (``max_errors``), so one typo in one pupil's row does not stop a school,
while an export full of broken rows does.

    report = validate(roster, ValidationSettings(max_errors=10))
    print(render_text(report))
    report.check()  # raises ValidationFailed above the limit
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from koppel.model.roster import Diagnostic, Roster, Severity
from koppel.validation.checks import CHECKS, Check, run_checks
from koppel.validation.report import ValidationReport, render_text

__all__ = [
    "CHECKS",
    "Check",
    "CheckLevel",
    "ValidationReport",
    "ValidationSettings",
    "render_text",
    "validate",
]


class CheckLevel(StrEnum):
    """What a finding of one check counts as."""

    ERROR = "error"
    WARNING = "warning"
    OFF = "off"


class ValidationSettings(BaseModel):
    """How strict a run is about data quality."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_errors: int = Field(
        default=0,
        ge=0,
        description="Errors allowed before a run stops before planning. Rows in error are always left out "
        "and reported; 0 (the default, as in koppel.toml) stops on any error, so nothing is synced around a "
        "broken row unless the school chose to.",
    )
    severity: dict[str, CheckLevel] = Field(
        default_factory=dict,
        description="Per check code, make its findings an error, a warning, or switch them off: "
        '{pupil-without-klas = "off", invalid-email = "error"}. Codes: docs/sources/csv.md and '
        "`koppel validate` output.",
    )

    @field_validator("severity")
    @classmethod
    def _codes_known(cls, value: dict[str, CheckLevel]) -> dict[str, CheckLevel]:
        unknown = sorted(set(value) - set(CHECKS))
        if unknown:
            raise ValueError(
                f"unknown check code(s): {', '.join(unknown)} (known: {', '.join(sorted(CHECKS))})"
            )
        return value


def validate(roster: Roster, settings: ValidationSettings | None = None) -> ValidationReport:
    """The source's diagnostics and every roster-level finding, with the settings' severities applied."""
    settings = settings or ValidationSettings()
    found = [*roster.diagnostics, *run_checks(roster)]
    if settings.severity:
        found = [d for d in (_with_level(d, settings.severity.get(d.code)) for d in found) if d is not None]
    errors = [d for d in found if d.severity is Severity.ERROR]
    warnings = [d for d in found if d.severity is not Severity.ERROR]
    return ValidationReport(diagnostics=(*errors, *warnings), max_errors=settings.max_errors)


def _with_level(diagnostic: Diagnostic, level: CheckLevel | None) -> Diagnostic | None:
    if level is None:
        return diagnostic
    if level is CheckLevel.OFF:
        return None
    severity = Severity(level.value)
    if severity is diagnostic.severity:
        return diagnostic
    return Diagnostic(
        severity,
        diagnostic.code,
        diagnostic.message,
        source=diagnostic.source,
        file=diagnostic.file,
        line=diagnostic.line,
        field=diagnostic.field,
        object=diagnostic.object,
    )
