"""Roster-level data-quality checks: what no single row shows, but the whole roster does.

A source reports what it sees row by row (a duplicate stamnummer, an unknown header). These checks
look at the roster as a whole: references that lead nowhere, pupils without a klas, lesgroepen
without a docent or without pupils, persons without a name, e-mail addresses and ECK iDs that
cannot be right, and identifiers that two persons share. Each finding names the object and, where
the source recorded it, the file and line it came from.

Every check is one pass over persons, groups or memberships, so validating a million memberships
stays well under a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from koppel.model.roster import (
    Diagnostic,
    GroupKind,
    Membership,
    Person,
    PersonKind,
    Provenance,
    Role,
    Roster,
    Severity,
)
from koppel.textsafe import has_mojibake, printable

__all__ = ["CHECKS", "Check", "run_checks"]

_EMAIL_RE = re.compile(r"^[^@\s,;<>()\[\]\"]+@[^@\s,;<>()\[\]\"]+\.[A-Za-z]{2,}$")
_ECKID_RE = re.compile(r"^https://ketenid\.nl/[0-9A-Za-z]+/[0-9a-fA-F]{128}$")


@dataclass(frozen=True, slots=True)
class Check:
    """A kind of finding: its code, default severity and what it means (for reports and docs)."""

    code: str
    severity: Severity
    title: str


_ROSTER_CHECKS = (
    Check("unknown-person", Severity.ERROR, "membership of a person who is not in the roster"),
    Check("unknown-group", Severity.ERROR, "membership of a group that is not in the roster"),
    Check("duplicate-membership", Severity.WARNING, "the same person, group and role more than once"),
    Check("duplicate-leerlingnummer", Severity.ERROR, "two pupils of one school share a leerlingnummer"),
    Check("duplicate-docentcode", Severity.ERROR, "two staff members of one school share a docentcode"),
    Check("missing-name", Severity.ERROR, "person without roepnaam or achternaam"),
    Check("invalid-email", Severity.WARNING, "e-mail address that cannot be valid"),
    Check("invalid-eckid", Severity.WARNING, "ECK iD not of the form https://ketenid.nl/…/<128 hex>"),
    Check("mojibake", Severity.WARNING, "name that looks like UTF-8 read as Windows-1252 (NoÃ«lle)"),
    Check("pupil-without-klas", Severity.WARNING, "pupil who is in no klas (stamgroep)"),
    Check("group-without-teacher", Severity.WARNING, "lesgroep with pupils but without a docent"),
    Check("group-without-pupils", Severity.WARNING, "klas or lesgroep without pupils"),
    Check("unknown-parent", Severity.WARNING, "group whose parent group is not in the roster"),
)

# What sources report (docs/sources/csv.md lists them); here for titles in reports.
_SOURCE_CHECKS = (
    Check("unknown-column", Severity.WARNING, "column the layout does not use"),
    Check("misspelt-column", Severity.WARNING, "column that looks like a misspelt known column"),
    Check("duplicate-column", Severity.WARNING, "column that names a field a column before it already gave"),
    Check("short-row", Severity.ERROR, "row with fewer values than the header"),
    Check("long-row", Severity.ERROR, "row with more values than the header"),
    Check("malformed-row", Severity.ERROR, "row with broken quoting"),
    Check("field-too-long", Severity.ERROR, "value longer than koppel accepts for its kind; row left out"),
    Check("bad-character", Severity.ERROR, "value with a control or bidi character; row left out"),
    Check("invalid-utf8", Severity.WARNING, "byte that is not UTF-8 in a UTF-8 file, read as Windows-1252"),
    Check("missing-value", Severity.ERROR, "row without its key (stamnummer, id)"),
    Check("duplicate-number", Severity.ERROR, "stamnummer twice in one school; the later row is left out"),
    Check("duplicate-id", Severity.ERROR, "id twice; the later row is left out"),
    Check("duplicate-person", Severity.ERROR, "two rows for one ECK iD; the later row is left out"),
    Check("unknown-location", Severity.ERROR, "Locatie not mapped to a school; row left out"),
    Check("unlisted-school", Severity.WARNING, "school folder the scholen file does not list"),
    Check("bad-brin6", Severity.ERROR, "school code that is not a BRIN6"),
    Check("bad-school-year", Severity.ERROR, "school year that cannot be read; row left out"),
    Check("other-school-year", Severity.WARNING, "rows of another school year, left out"),
    Check(
        "school-year-mismatch", Severity.WARNING,
        "the export describes another year than koppel works on (the pipeline stops the read: a stale export)",
    ),
    Check("bad-leerjaar", Severity.WARNING, "leerjaar that is not a number"),
    Check("unknown-klas", Severity.WARNING, "reference to a klas no pupil is in; left out"),
    Check("bad-klasvak", Severity.WARNING, "Klasvakken item not of the form <klas>.<vak>"),
    Check("unknown-mentor", Severity.WARNING, "mentor code that is no docent's code"),
    Check("unknown-kind", Severity.ERROR, "kind that is not known; row left out"),
    Check("unknown-role", Severity.ERROR, "role that is not known; row left out"),
    Check("ambiguous-group", Severity.ERROR, "group id found in several schools; row left out"),
    Check("bad-date", Severity.ERROR, "date that cannot be read; row left out"),
    Check("name-conflict", Severity.WARNING, "one person with different names in two sources"),
    # Sources that read LAS interfaces (UWLR, EDEXML, Somtoday Connect, OneRoster)
    Check("unknown-group-ref", Severity.WARNING, "reference to a group the LAS did not deliver; left out"),
    Check("unknown-jaargroep", Severity.WARNING, "jaargroep outside the EDEXML code list"),
    Check("unknown-rol", Severity.WARNING, "leerkracht rol not mapped to teacher or mentor"),
    Check("unnamed-group", Severity.WARNING, "group without a name; its key is used"),
    Check("pupil-left", Severity.WARNING, "pupil whose uitstroomdatum has passed; left out"),
    # Rules
    Check("two-roles", Severity.WARNING, "one person with two roles in one group; the strongest is kept"),
    Check("empty-username", Severity.WARNING, "user name template gave nothing; a fallback was used"),
)

CHECKS: dict[str, Check] = {c.code: c for c in (*_SOURCE_CHECKS, *_ROSTER_CHECKS)}


def _where(provenance: Provenance | None) -> dict[str, object]:
    if provenance is None:
        return {}
    return {"source": provenance.source, "file": provenance.file, "line": provenance.line}


def _finding(
    code: str, message: str, provenance: Provenance | None, obj: str, field: str | None = None
) -> Diagnostic:
    where = _where(provenance)
    return Diagnostic(CHECKS[code].severity, code, message, object=obj, field=field, **where)  # type: ignore[arg-type]


def run_checks(roster: Roster) -> Iterator[Diagnostic]:
    """Every roster-level finding, check by check."""
    for check in (_membership_checks, _person_checks, _identifier_checks, _parent_checks):
        yield from check(roster)


def _membership_checks(roster: Roster) -> Iterator[Diagnostic]:
    """References, duplicates, and who is in which group, in one pass over the memberships.

    Pupils per group are kept as sets of person keys (the strings the roster already holds), so
    the pass allocates no object per membership.
    """
    persons, groups = roster.persons, roster.groups
    pupils: dict[str, set[str]] = {}  # group -> its pupils
    others: dict[tuple[str, Role], set[str]] = {}  # (group, role) -> its teachers, mentors …
    pupils_in_klas: set[str] = set()
    student, stamgroep = Role.STUDENT, GroupKind.STAMGROEP
    for m in roster.memberships:
        group = groups.get(m.group)
        if m.person not in persons:
            yield _finding(
                "unknown-person",
                f"person {m.person} is not in the roster; membership of {m.group} ignored",
                m.provenance,
                m.person,
            )
            continue
        if group is None:
            yield _finding(
                "unknown-group",
                f"group {m.group} is not in the roster; membership of {m.person} ignored",
                m.provenance,
                m.group,
            )
            continue
        if m.role is student:
            members = pupils.get(m.group)
            if members is None:
                members = pupils[m.group] = set()
            if group.kind is stamgroep:
                pupils_in_klas.add(m.person)
        else:
            members = others.get((m.group, m.role))
            if members is None:
                members = others[(m.group, m.role)] = set()
        if m.person in members:
            yield _duplicate(m)
        members.add(m.person)
    yield from _group_findings(roster, pupils, others)
    for key, person in persons.items():
        if person.kind is PersonKind.STUDENT and key not in pupils_in_klas:
            yield _finding(
                "pupil-without-klas",
                f"pupil {person.display_name} ({person.leerlingnummer or key}) is in no klas",
                person.provenance,
                key,
            )


def _duplicate(m: Membership) -> Diagnostic:
    return _finding(
        "duplicate-membership",
        f"{m.person} is {m.role.value} of {m.group} more than once",
        m.provenance,
        m.person,
    )


def _group_findings(
    roster: Roster, pupils: dict[str, set[str]], others: dict[tuple[str, Role], set[str]]
) -> Iterator[Diagnostic]:
    for key, group in roster.groups.items():
        if group.kind not in (GroupKind.STAMGROEP, GroupKind.LESGROEP):
            continue
        if key not in pupils:
            yield _finding(
                "group-without-pupils",
                f"{group.kind.value} {group.name} ({group.school}) has no pupils",
                group.provenance,
                key,
            )
        elif group.kind is GroupKind.LESGROEP and (key, Role.TEACHER) not in others:
            yield _finding(
                "group-without-teacher",
                f"lesgroep {group.name} ({group.school}) has no docent",
                group.provenance,
                key,
            )


def _person_checks(roster: Roster) -> Iterator[Diagnostic]:
    email_ok: Callable[[str], object] = _EMAIL_RE.match
    eckid_ok: Callable[[str], object] = _ECKID_RE.match
    for key, person in roster.persons.items():
        missing = [
            name
            for name, value in (("roepnaam", person.roepnaam), ("achternaam", person.achternaam))
            if not value.strip()
        ]
        if missing:
            yield _finding(
                "missing-name",
                f"{_label(person)} has no {' and no '.join(missing)}",
                person.provenance,
                key,
                field=missing[0],
            )
        if person.email and not email_ok(person.email):
            yield _finding(
                "invalid-email",
                f"{_label(person)}: e-mail address {person.email!r} cannot be valid",
                person.provenance,
                key,
                field="email",
            )
        garbled = [
            (name, value)
            for name, value in (
                ("roepnaam", person.roepnaam),
                ("voorvoegsel", person.voorvoegsel),
                ("achternaam", person.achternaam),
            )
            if value and has_mojibake(value)
        ]
        if garbled:
            field, value = garbled[0]
            yield _finding(
                "mojibake",
                f"{_label(person)}: {field} {printable(value)!r} looks like UTF-8 read as Windows-1252 "
                "('Ã«' for 'ë'); if the export is UTF-8, set encoding = \"utf-8\" for this source, "
                "else correct the name in the LAS",
                person.provenance,
                key,
                field=field,
            )
        if person.eckid and not eckid_ok(person.eckid):
            yield _finding(
                "invalid-eckid",
                f"{_label(person)}: ECK iD {person.eckid!r} is not of the form "
                "https://ketenid.nl/201703/<128 hex>",
                person.provenance,
                key,
                field="eckid",
            )


def _identifier_checks(roster: Roster) -> Iterator[Diagnostic]:
    """Two persons of one school with the same leerlingnummer or docentcode: one of them is wrong."""
    seen: dict[tuple[str, str, str], Person] = {}
    for key, person in roster.persons.items():
        if person.kind is PersonKind.STUDENT and person.leerlingnummer:
            code, kind, value = "duplicate-leerlingnummer", "leerlingnummer", person.leerlingnummer
        elif person.kind is PersonKind.STAFF and person.docentcode:
            code, kind, value = "duplicate-docentcode", "docentcode", person.docentcode
        else:
            continue
        for school in person.schools:
            other = seen.setdefault((kind, school, value), person)
            if other is not person:
                yield _finding(
                    code,
                    f"{kind} {value} of {school} is both {_label(other)} and {_label(person)}",
                    person.provenance,
                    key,
                    field=kind,
                )


def _parent_checks(roster: Roster) -> Iterator[Diagnostic]:
    for key, group in roster.groups.items():
        if group.parent is not None and group.parent not in roster.groups:
            yield _finding(
                "unknown-parent",
                f"parent {group.parent} of {group.name} is not in the roster",
                group.provenance,
                key,
            )


def _label(person: Person) -> str:
    number = person.leerlingnummer or person.docentcode or person.las_key
    return f"{person.display_name or '(no name)'} ({number})"
