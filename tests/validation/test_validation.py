"""Validation: the source's findings plus roster checks, the verdict, and the readable report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from koppel.connectors import ConnectorContext
from koppel.errors import ValidationFailed
from koppel.generator import generate
from koppel.model import (
    Diagnostic,
    Group,
    GroupKind,
    Membership,
    Person,
    PersonKind,
    Provenance,
    Role,
    Roster,
    School,
    SchoolYear,
    Severity,
)
from koppel.sources.csv import CsvSource, CsvSourceSettings
from koppel.validation import CHECKS, ValidationReport, ValidationSettings, render_text, validate

YEAR = SchoolYear(2025)
ECKID = "https://ketenid.nl/201703/" + "d" * 128


def person(key: str, kind: PersonKind = PersonKind.STUDENT, line: int = 2, **fields) -> Person:
    values = {
        "roepnaam": "Jan",
        "voorvoegsel": "",
        "achternaam": "Smit",
        "schools": ("12AB00",),
        "leerlingnummer": key if kind is PersonKind.STUDENT else None,
        **fields,
    }
    return Person(
        key=key,
        kind=kind,
        source="las",
        las_key=key,
        provenance=Provenance("las", "leerlingen.csv", line),
        **values,
    )


def group(key: str, kind: GroupKind = GroupKind.LESGROEP, parent: str | None = None) -> Group:
    return Group(
        key=key,
        kind=kind,
        name=key,
        school="12AB00",
        school_year=YEAR,
        source="las",
        las_key=key,
        parent=parent,
        provenance=Provenance("las", "lesgroepen.csv", 3),
    )


def roster(persons, groups, memberships, diagnostics=()) -> Roster:
    return Roster.build(
        school_year=YEAR,
        schools=[School("12AB00", "Het Baken")],
        persons=persons,
        groups=groups,
        memberships=memberships,
        diagnostics=diagnostics,
    )


@pytest.fixture
def clean() -> Roster:
    return roster(
        [person("p1", email="p1@school.nl", eckid=ECKID), person("t1", PersonKind.STAFF, docentcode="ABC")],
        [group("1A", GroupKind.STAMGROEP), group("1A.ne", parent="1A")],
        [
            Membership("p1", "1A", Role.STUDENT),
            Membership("p1", "1A.ne", Role.STUDENT),
            Membership("t1", "1A.ne", Role.TEACHER),
            Membership("t1", "1A", Role.MENTOR),
        ],
    )


def test_a_clean_roster(clean: Roster) -> None:
    report = validate(clean, ValidationSettings())
    assert report.diagnostics == () and report.ok and not report.exceeds_limit
    assert render_text(report) == "Datakwaliteit: 0 errors, 0 warnings — the data may be planned.\n"


def test_generated_bestuur_is_clean() -> None:
    import tempfile

    from koppel.generator import write_layout

    with tempfile.TemporaryDirectory() as folder:
        bestuur = generate(students=800, schools=2, year=YEAR, seed=8)
        write_layout(bestuur, Path(folder), "magister")
        source = CsvSource(
            "las",
            CsvSourceSettings(path=folder),
            ConnectorContext(tenant="t"),
            today=lambda: dt.date(2025, 10, 1),
        )
        assert validate(source.read()).diagnostics == ()


def test_every_roster_check(clean: Roster) -> None:
    bad = roster(
        [
            *clean.persons.values(),
            person(
                "p2", line=3, roepnaam="", email="geen-adres", eckid="eckid_L1"
            ),  # no klas, bad e-mail, ECK iD
            person("p3", line=4, leerlingnummer="p1"),  # same leerlingnummer as p1
            person("t2", PersonKind.STAFF, line=5, docentcode="ABC", achternaam=" "),
        ],
        [*clean.groups.values(), group("4hnat1"), group("leeg"), group("wees", parent="weg")],
        [
            *clean.memberships,
            Membership("p1", "1A.ne", Role.STUDENT, provenance=Provenance("las", "leerlingen.csv", 2)),
            Membership("p3", "1A", Role.STUDENT),
            Membership("p3", "4hnat1", Role.STUDENT),
            Membership("p3", "wees", Role.STUDENT),
            Membership("t2", "wees", Role.TEACHER),
            Membership("ghost", "1A", Role.STUDENT),
            Membership("p3", "nowhere", Role.STUDENT),
        ],
    )
    report = validate(bad, ValidationSettings(max_errors=100))
    found = {(d.code, d.object) for d in report.diagnostics}
    assert found == {
        ("unknown-person", "ghost"),
        ("unknown-group", "nowhere"),
        ("duplicate-membership", "p1"),
        ("group-without-teacher", "4hnat1"),
        ("group-without-pupils", "leeg"),
        ("pupil-without-klas", "p2"),
        ("missing-name", "p2"),
        ("missing-name", "t2"),
        ("invalid-email", "p2"),
        ("invalid-eckid", "p2"),
        ("duplicate-leerlingnummer", "p3"),
        ("duplicate-docentcode", "t2"),
        ("unknown-parent", "wees"),
    }
    assert all(d.code in CHECKS for d in report.diagnostics)
    missing = next(d for d in report.diagnostics if d.code == "missing-name" and d.object == "p2")
    assert (missing.file, missing.line, missing.severity) == ("leerlingen.csv", 3, Severity.ERROR)
    severities = [d.severity for d in report.diagnostics]
    assert severities == sorted(severities, key=lambda s: s is not Severity.ERROR)  # errors first
    assert not report.ok and not report.exceeds_limit


def test_limit_and_verdict(clean: Roster) -> None:
    errors = [
        Diagnostic(
            Severity.ERROR,
            "duplicate-number",
            f"Stamnr {n} twice",
            source="las",
            file="leerlingen.csv",
            line=n,
        )
        for n in range(2, 5)
    ]
    with_errors = clean.with_diagnostics(errors)
    report = validate(with_errors, ValidationSettings(max_errors=2))
    assert report.exceeds_limit and not report.ok
    with pytest.raises(ValidationFailed, match="3 data errors exceed the limit of 2"):
        report.check()
    assert not validate(with_errors, ValidationSettings(max_errors=3)).exceeds_limit
    assert validate(with_errors).exceeds_limit  # the default allows none, as koppel.toml does
    assert ValidationSettings().max_errors == 0


def test_severity_overrides(clean: Roster) -> None:
    source_findings = [
        Diagnostic(Severity.WARNING, "unknown-column", "column 'X' ignored", file="a.csv", line=1),
        Diagnostic(Severity.ERROR, "duplicate-number", "twice", file="a.csv", line=3),
    ]
    noisy = roster(
        [*clean.persons.values(), person("p9", line=9)],
        clean.groups.values(),
        clean.memberships,
        source_findings,
    )
    plain = validate(noisy)
    assert [(d.code, d.severity.value) for d in plain.diagnostics] == [
        ("duplicate-number", "error"),
        ("unknown-column", "warning"),
        ("pupil-without-klas", "warning"),
    ]
    tuned = validate(
        noisy,
        ValidationSettings(
            severity={"duplicate-number": "warning", "unknown-column": "off", "pupil-without-klas": "error"}
        ),
    )
    assert [(d.code, d.severity.value) for d in tuned.diagnostics] == [
        ("pupil-without-klas", "error"),
        ("duplicate-number", "warning"),
    ]
    with pytest.raises(ValidationError, match="unknown check code"):
        ValidationSettings(severity={"no-such-check": "off"})
    with pytest.raises(ValidationError):
        ValidationSettings(max_errors=-1)
    with pytest.raises(ValidationError, match="extra"):
        ValidationSettings(max_error=3)


def test_render_text_groups_by_severity_and_check() -> None:
    findings = [
        Diagnostic(
            Severity.ERROR,
            "duplicate-number",
            f"Stamnr {n} is also on line 2; this row is left out",
            source="las",
            file="leerlingen.csv",
            line=n,
        )
        for n in (9, 7, 8)
    ]
    findings.append(
        Diagnostic(
            Severity.WARNING,
            "misspelt-column",
            "column 'Emial' is not known; did you mean 'Email'? It is ignored",
            source="las",
            file="leerlingen.csv",
            line=1,
        )
    )
    findings.append(Diagnostic(Severity.ERROR, "unknown-group", "group g is not in the roster", object="g"))
    report = ValidationReport(diagnostics=tuple(findings), max_errors=0)
    assert render_text(report, limit=2) == (
        "Datakwaliteit: 4 errors, 1 warning — more errors than max_errors (0): the run stops before "
        "planning.\n"
        "\n"
        "Fouten (errors): 4\n"
        "  duplicate-number (3) — stamnummer twice in one school; the later row is left out\n"
        "    leerlingen.csv:7: Stamnr 7 is also on line 2; this row is left out\n"
        "    leerlingen.csv:9: Stamnr 9 is also on line 2; this row is left out\n"
        "    … and 1 more\n"
        "  unknown-group (1) — membership of a group that is not in the roster\n"
        "    g: group g is not in the roster\n"
        "\n"
        "Waarschuwingen (warnings): 1\n"
        "  misspelt-column (1) — column that looks like a misspelt known column\n"
        "    leerlingen.csv:1: column 'Emial' is not known; did you mean 'Email'? It is ignored\n"
    )
    assert render_text(report, limit=None).count("Stamnr") == 3
    within = ValidationReport(diagnostics=tuple(findings), max_errors=10)
    assert render_text(within).startswith(
        "Datakwaliteit: 4 errors, 1 warning — within max_errors (10): the rows "
        "in error are left out, the rest is planned."
    )


def test_to_json(clean: Roster) -> None:
    finding = Diagnostic(
        Severity.WARNING, "unknown-column", "column 'X' ignored", source="las", file="a.csv", line=1
    )
    report = validate(clean.with_diagnostics([finding]))
    data = json.loads(json.dumps(report.to_json()))
    assert data == {
        "ok": True,
        "exceeds_limit": False,
        "max_errors": 0,
        "errors": 0,
        "warnings": 1,
        "counts": {"error": {}, "warning": {"unknown-column": 1}},
        "diagnostics": [
            {
                "severity": "warning",
                "code": "unknown-column",
                "message": "column 'X' ignored",
                "source": "las",
                "file": "a.csv",
                "line": 1,
            }
        ],
    }


def test_bad_rows_never_crash_a_run(tmp_path: Path) -> None:
    (tmp_path / "leerlingen.csv").write_text(
        "Stamnr;Roepnaam;Achternaam;Klas;Email;Groepen\n1;A;B;1A;a@b.nl;4hnat1\n1;C;D;1A;;\n2;;;;niet-geldig;\n"
        "3;E\n4;F;G;1A;;\n",
        encoding="utf-8",
    )
    (tmp_path / "docenten.csv").write_text(
        "Stamnr;Code;Roepnaam;Achternaam;Klasvakken\n1;ABC;H;I;9Z.ne\n", encoding="utf-8"
    )
    source = CsvSource(
        "las",
        CsvSourceSettings(path=str(tmp_path), school="12AB00"),
        ConnectorContext(tenant="t"),
        today=lambda: dt.date(2025, 10, 1),
    )
    report = validate(source.read(), ValidationSettings(max_errors=5))
    assert report.counts() == {
        "error": {"duplicate-number": 1, "missing-name": 1, "short-row": 1},
        "warning": {
            "group-without-teacher": 1,
            "invalid-email": 1,
            "pupil-without-klas": 1,
            "unknown-klas": 1,
        },
    }
    assert not report.exceeds_limit
    text = render_text(report)
    assert "leerlingen.csv:3: Stamnr 1 is also on line 2" in text and "docenten.csv:2:" in text
