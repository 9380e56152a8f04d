"""koppel's errors in the user's language, for the errors a systeembeheerder meets day to day.

The core raises its errors with an English message and, for the common ones, the facts behind it as
attributes (the years of a school-year mismatch, the path of a missing export, the plan and serials of a
stale plan, who holds a lock). Here those facts are said again through the CLI's gettext catalogue, so a
Dutch screen reads Dutch from its first line to its last. An error this module does not know is shown in
the core's own words (English), and the languages test lists which those are.
"""

from __future__ import annotations

from collections.abc import Callable

from koppel.errors import KoppelError, LockHeld, PlanHeldError, StalePlanError, ValidationFailed
from koppel.locale import Language
from koppel.pipeline import SchoolYearMismatch
from koppel.sources.csv.files import ExportNotFound

__all__ = ["describe"]


def describe(exc: KoppelError, t: Language) -> str:
    """``exc`` in ``t``'s language where its facts are known; its own message otherwise (and always in English,
    where the catalogue is the identity)."""
    if t.code == "en":
        return str(exc)
    for kind, say in _SAYINGS:
        if isinstance(exc, kind):
            text = say(exc, t)
            if text is not None:
                return text
    return str(exc)


def _school_year(exc: KoppelError, t: Language) -> str | None:
    found, expected, where = getattr(exc, "found", None), getattr(exc, "expected", None), getattr(exc, "where", None)
    if found is None or expected is None:
        return None
    head = (t._("the export ({where}) describes school year {found}, but koppel works on {expected}.")
            if where else t._("the export describes school year {found}, but koppel works on {expected}."))
    return _sourced(exc, t, " ".join((
        head.format(where=where, found=found, expected=expected),
        t._("Likely cause: a stale export, made before the new school year began."),
        t._("Fix: make a new export of {expected} in the LAS, or work on the export's year with --year {found}.")
        .format(expected=expected, found=found),
        t._("Nothing was recorded and nothing was planned."))))


def _export_not_found(exc: KoppelError, t: Language) -> str | None:
    path = getattr(exc, "path", None)
    if path is None:
        return None
    return _sourced(exc, t, t._("export not found: {path}").format(path=path))


def _sourced(exc: KoppelError, t: Language, text: str) -> str:
    source = getattr(exc, "source", None)
    return t._("source {source}: {message}").format(source=source, message=text) if source else text


def _validation(exc: ValidationFailed, t: Language) -> str:
    return " ".join((
        t.ngettext("{n} data error exceeds the limit of {limit} (validation.max_errors);",
                   "{n} data errors exceed the limit of {limit} (validation.max_errors);", exc.errors)
        .format(n=t.num(exc.errors), limit=t.num(exc.limit)),
        t._("nothing was planned. Run koppel validate for the report.")))


def _stale(exc: StalePlanError, t: Language) -> str | None:
    if exc.plan_id is None or exc.made_at is None:
        return None
    return t._("plan {id} is stale: it was made at state serial {made}, the state is now at {now} (something was "
               "applied since). Make a new plan with koppel plan.").format(
        id=exc.plan_id, made=exc.made_at, now="?" if exc.now_at is None else exc.now_at)


def _held(exc: PlanHeldError, t: Language) -> str | None:
    if exc.plan_id is None or exc.holds is None:
        return None
    return t.ngettext("plan {id} is held by a guard ({n} hold); review it and apply it with koppel apply "
                      "--approve {id}",
                      "plan {id} is held by a guard ({n} holds); review it and apply it with koppel apply "
                      "--approve {id}", exc.holds).format(id=exc.plan_id, n=t.num(exc.holds))


def _lock(exc: LockHeld, t: Language) -> str | None:
    if exc.host is None:
        return None
    return t._("another run for tenant {tenant}, target {target} is busy: {purpose} by pid {pid} on {host} since "
               "{since}. koppel unlock shows the lock and removes it once stale.").format(
        tenant=exc.tenant, target=exc.target, purpose=exc.purpose or t._("run"), pid=exc.pid, host=exc.host,
        since=t.time(exc.since))


_SAYINGS: list[tuple[type, Callable]] = [
    (SchoolYearMismatch, _school_year),
    (ExportNotFound, _export_not_found),
    (ValidationFailed, _validation),
    (StalePlanError, _stale),
    (PlanHeldError, _held),
    (LockHeld, _lock),
]
