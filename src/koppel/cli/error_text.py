"""koppel's errors in the user's language, for the errors a systeembeheerder meets day to day.

The core raises its errors with an English message and, for the common ones, the facts behind it as
attributes (the years of a school-year mismatch, the path of a missing export, the plan and serials of a
stale plan, who holds a lock). Here those facts are said again through the CLI's gettext catalogue, so a
Dutch screen reads Dutch from its first line to its last. An error this module does not know is shown in
the core's own words (English), and the languages test lists which those are.

The export's own problems (an empty, binary or headerless file, a wrong delimiter, a missing column) and the
configuration's (each :class:`ConfigProblem` with its file, line and setting) carry their facts in their
message's fixed wording: :data:`_DATA_PROBLEMS` and :data:`_SETTING_PROBLEMS` read them back (file, line,
column, delimiter, allowed values) and say them again in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from koppel.errors import (
    ConfigError,
    ConfigProblem,
    KoppelError,
    LockHeld,
    PlanHeldError,
    SourceDataError,
    StalePlanError,
    ValidationFailed,
)
from koppel.locale import Language
from koppel.pipeline import SchoolYearMismatch
from koppel.sources.csv.files import ExportNotFound

__all__ = ["account_problem", "describe", "say_finding"]


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


def _config(exc: ConfigError, t: Language) -> str:
    n = len(exc.problems)
    head = t.ngettext("configuration has {n} problem:", "configuration has {n} problems:", n).format(n=t.num(n))
    return "\n".join([head] + [f"  - {_problem(p, t)}" for p in exc.problems])


def _problem(problem: ConfigProblem, t: Language) -> str:
    where = ""
    if problem.file:
        where = f"{problem.file}:{problem.line}" if problem.line else problem.file
    if problem.setting:
        where = f"{where} [{problem.setting}]" if where else f"[{problem.setting}]"
    message = _rephrased(problem.message, _SETTING_PROBLEMS, t) or problem.message
    return f"{where}: {message}" if where else message


def _data(exc: SourceDataError, t: Language) -> str | None:
    text = str(exc)
    prefix = f"source {exc.source}: " if exc.source else ""
    said = _rephrased(text.removeprefix(prefix), _DATA_PROBLEMS, t)
    return None if said is None else _sourced(exc, t, said)


def _rephrased(text: str, phrases: list[tuple[re.Pattern[str], Callable[[re.Match[str], Language], str]]],
               t: Language) -> str | None:
    for pattern, say in phrases:
        found = pattern.fullmatch(text)
        if found:
            return say(found, t)
    return None


def _choices(text: str, t: Language) -> str:
    """``'a', 'b' or 'c'`` with the language's own ``or``."""
    head, sep, last = text.rpartition(" or ")
    return t._("{choices} or {last}").format(choices=head, last=last) if sep else text


def _where(m: re.Match[str]) -> str:
    return m["where"]


_NO_ROWS = re.escape(": an export without rows is refused (it never means everyone left)")
_DATA_PROBLEMS: list[tuple[re.Pattern[str], Callable[[re.Match[str], Language], str]]] = [
    (re.compile(r"(?P<where>.+?): is empty" + _NO_ROWS),
     lambda m, t: t._("{file}: is empty: an export without rows is refused (it never means everyone left)")
     .format(file=_where(m))),
    (re.compile(r"(?P<where>.+?): has a header but no rows" + _NO_ROWS),
     lambda m, t: t._("{file}: has a header but no rows: an export without rows is refused (it never means "
                      "everyone left)").format(file=_where(m))),
    (re.compile(r"(?P<where>.+?): is a binary file, not CSV text(?P<xlsx> \(it looks like an Excel.*\))?"),
     lambda m, t: t._("{file}: is a binary file, not CSV text").format(file=_where(m))
     + (" " + t._("(it looks like an Excel workbook: give it the .xlsx extension)") if m["xlsx"] else "")),
    (re.compile(r"(?P<where>.+?): the header has no (?P<configured>.+?) but has (?P<found>.+?): the file is separated "
                r"by (?P<by>.+?); set delimiter = (?P<value>.+?) or \"auto\""),
     lambda m, t: t._("{file}: the header has no {configured} but has {found}: the file is separated by {found}; "
                      "set delimiter = {value} or \"auto\"").format(
         file=_where(m), configured=m["configured"], found=m["found"], value=m["value"])),
    (re.compile(r"(?P<where>.+?): required column (?P<column>'[^']*') is missing(?: \(also accepted: (?P<also>[^)]*)\))?"
                r"(?:; is (?P<near>'[^']*') a misspelling of it\?|(?P<single>; the header has a single column: is the "
                r"delimiter right\?))?"),
     lambda m, t: "".join((
         t._("{file}: required column {column} is missing").format(file=_where(m), column=m["column"]),
         " " + t._("(also accepted: {names})").format(names=m["also"]) if m["also"] else "",
         "; " + t._("is {name} a misspelling of it?").format(name=m["near"]) if m["near"] else "",
         "; " + t._("the header has a single column: is the delimiter right?") if m["single"] else ""))),
    (re.compile(r"(?P<where>.+?): has no usable rows \((?P<n>\d+) could not be read, the first at line (?P<line>\d+)\)"),
     lambda m, t: t._("{file}: has no usable rows ({n} could not be read, the first at line {line})").format(
         file=_where(m), n=t.num(int(m["n"])), line=m["line"])),
    (re.compile(r"(?P<where>.+?): contains a NUL character: a damaged export, or not text"),
     lambda m, t: t._("{file}: contains a NUL character: a damaged export, or not text").format(file=_where(m))),
    (re.compile(r"(?P<where>.+?): is neither UTF-8 nor Windows-1252 text \(byte (?P<byte>0x[0-9a-f]{2})\); "
                r"not a CSV export\?"),
     lambda m, t: t._("{file}: is neither UTF-8 nor Windows-1252 text (byte {byte}); not a CSV export?").format(
         file=_where(m), byte=m["byte"])),
    (re.compile(r"(?P<where>.+?): has no line break in its first megabyte: not a CSV export"),
     lambda m, t: t._("{file}: has no line break in its first megabyte: not a CSV export").format(file=_where(m))),
]

_SETTING_PROBLEMS: list[tuple[re.Pattern[str], Callable[[re.Match[str], Language], str]]] = [
    (re.compile(r"Input should be (?P<choices>'.*')"),
     lambda m, t: t._("should be {choices}").format(choices=_choices(m["choices"], t))),
    (re.compile(r"Input should be less than or equal to (?P<n>\S+)"),
     lambda m, t: t._("should be at most {n}").format(n=m["n"])),
    (re.compile(r"Input should be greater than or equal to (?P<n>\S+)"),
     lambda m, t: t._("should be at least {n}").format(n=m["n"])),
    (re.compile(r"Input should be less than (?P<n>\S+)"),
     lambda m, t: t._("should be less than {n}").format(n=m["n"])),
    (re.compile(r"Input should be greater than (?P<n>\S+)"),
     lambda m, t: t._("should be more than {n}").format(n=m["n"])),
    (re.compile(r"Input should be a valid integer.*"), lambda m, t: t._("should be a whole number")),
    (re.compile(r"Input should be a valid number.*"), lambda m, t: t._("should be a number")),
    (re.compile(r"Input should be a valid boolean.*"), lambda m, t: t._("should be true or false")),
    (re.compile(r"Input should be a valid string.*"), lambda m, t: t._("should be text (in quotes)")),
    (re.compile(r"Field required"), lambda m, t: t._("this setting is required")),
    (re.compile(r"Extra inputs are not permitted"), lambda m, t: t._("koppel has no such setting (a typo?)")),
    (re.compile(r"target (?P<name>\S+) \((?P<kind>[^)]+)\) cannot be taken over: koppel cannot read what it holds"),
     lambda m, t: t._("target {name} ({kind}) cannot be taken over: koppel cannot read what it holds").format(
         name=m["name"], kind=m["kind"])),
    (re.compile(r"unknown connector kind (?P<kind>'[^']*') \(known: (?P<known>.*)\)"),
     lambda m, t: t._("unknown connector kind {kind} (known: {known})").format(kind=m["kind"], known=m["known"])),
]


# The data-quality findings a systeembeheerder meets most (duplicates, a klas no pupil is in, a lesgroep without a
# docent); others keep the core's words.
_FINDINGS: list[tuple[re.Pattern[str], Callable[[re.Match[str], Language], str]]] = [
    (re.compile(r"(?P<what>.+?) (?P<key>\S+) is also on line (?P<line>\d+); (?:this row|the later one) is left out"),
     lambda m, t: t._("{what} {key} is also on line {line}; this row is left out").format(
         what=m["what"], key=m["key"], line=m["line"])),
    (re.compile(r"Klasvakken (?P<item>'[^']*'): no pupil is in klas (?P<klas>'[^']*'); left out"),
     lambda m, t: t._("Klasvakken {item}: no pupil is in klas {klas}; left out").format(item=m["item"], klas=m["klas"])),
    (re.compile(r"lesgroep (?P<name>.+) \((?P<school>[^)]+)\) has no docent"),
     lambda m, t: t._("lesgroep {name} ({school}) has no docent").format(name=m["name"], school=m["school"])),
]


def say_finding(message: str, t: Language) -> str:
    """A data-quality finding's message in ``t``'s language where its wording is known; as written otherwise."""
    if t.code == "en":
        return message
    return _rephrased(message, _FINDINGS, t) or message


# What the dashboard's accounts refuse (`koppel user …`, `koppel token …`): AccountError's messages.
_ACCOUNT_PROBLEMS: list[tuple[re.Pattern[str], Callable[[re.Match[str], Language], str]]] = [
    (re.compile(r"unknown role (?P<role>'[^']*'): choose one of (?P<roles>.+)"),
     lambda m, t: t._("unknown role {role}: choose one of {roles}").format(role=m["role"], roles=m["roles"])),
    (re.compile(r"unknown role (?P<role>'[^']*')"), lambda m, t: t._("unknown role {role}").format(role=m["role"])),
    (re.compile(r"a (?P<kind>user|token) name has letters, digits, '\.', '_', '-' or '@' \(at most (?P<n>\d+)\)"),
     lambda m, t: (t._("a user name has letters, digits, '.', '_', '-' or '@' (at most {n})") if m["kind"] == "user"
                   else t._("a token name has letters, digits, '.', '_', '-' or '@' (at most {n})")).format(n=m["n"])),
    (re.compile(r"a password needs at least (?P<n>\d+) characters"),
     lambda m, t: t._("a password needs at least {n} characters").format(n=m["n"])),
    (re.compile(r"user (?P<name>'[^']*') exists; remove it first to set a new password"),
     lambda m, t: t._("user {name} exists; remove it first to set a new password").format(name=m["name"])),
    (re.compile(r"token (?P<name>'[^']*') exists; revoke it first"),
     lambda m, t: t._("token {name} exists; revoke it first").format(name=m["name"])),
    (re.compile(r"no user (?P<name>'[^']*')"), lambda m, t: t._("no user {name}").format(name=m["name"])),
    (re.compile(r"no token (?P<name>'[^']*')"), lambda m, t: t._("no token {name}").format(name=m["name"])),
    (re.compile(r"give a role: (?P<rest>.+)"), lambda m, t: t._("give a role: {how}").format(how=m["rest"])),
    (re.compile(r"no tenant (?P<tenant>'[^']*') in the configuration \(tenants: (?P<known>.*); '\*' is every tenant\)"),
     lambda m, t: t._("no tenant {tenant} in the configuration (tenants: {known}; '*' is every tenant)").format(
         tenant=m["tenant"], known=m["known"])),
    (re.compile(r"(?P<tenant>'[^']*') is not a tenant id"),
     lambda m, t: t._("{tenant} is not a tenant id").format(tenant=m["tenant"])),
    (re.compile(r"tenant (?P<tenant>'[^']*') given twice"),
     lambda m, t: t._("tenant {tenant} given twice").format(tenant=m["tenant"])),
    (re.compile(r"(?P<kind>user|token) (?P<name>'[^']*') has no grant on (?P<tenants>.+)"),
     lambda m, t: (t._("user {name} has no grant on {tenants}") if m["kind"] == "user"
                   else t._("token {name} has no grant on {tenants}")).format(name=m["name"], tenants=m["tenants"])),
    (re.compile(r"the configuration has (?P<n>\d+) tenants \((?P<known>.*)\): say which with --tenant ID "
                r"\(repeatable\), or --tenant '\*' for every tenant"),
     lambda m, t: t._("the configuration has {n} tenants ({known}): say which with --tenant ID (repeatable), or "
                      "--tenant '*' for every tenant").format(n=m["n"], known=m["known"])),
]


def account_problem(exc: Exception, t: Language) -> str:
    """What the accounts refused (an AccountError's message) in ``t``'s language where its wording is known."""
    text = str(exc)
    if t.code == "en":
        return text
    return _rephrased(text, _ACCOUNT_PROBLEMS, t) or text


_SAYINGS: list[tuple[type, Callable]] = [
    (ConfigError, _config),
    (SchoolYearMismatch, _school_year),
    (ExportNotFound, _export_not_found),
    (ValidationFailed, _validation),
    (StalePlanError, _stale),
    (PlanHeldError, _held),
    (LockHeld, _lock),
    (SourceDataError, _data),  # after ExportNotFound, a SourceDataError with its own saying
]
