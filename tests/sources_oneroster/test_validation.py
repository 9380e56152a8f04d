"""Import what is valid, report the rest with file and line: one export with a bit of everything wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.errors import SourceDataError
from koppel.model import PersonKind, Role, Severity

from .conftest import read
from .writer import CLASSES, ENROLLMENTS, ORGS, USERS_11, write_csv, write_manifest

ECKID = "https://ketenid.nl/201703/" + "ab" * 64


def u(
    sid: str,
    role: str,
    given: str,
    family: str,
    *,
    orgs: str = "o1",
    enabled: str = "true",
    ids: str = "",
    ident: str = "",
    agents: str = "",
    grades: str = "",
) -> tuple[str, ...]:
    return (
        sid,
        "",
        "",
        enabled,
        orgs,
        role,
        sid,
        ids,
        given,
        family,
        "",
        ident,
        "",
        "",
        "",
        agents,
        grades,
        "",
    )


def enr(sid: str, cls: str, user: str, role: str, begin: str = "", end: str = "") -> tuple[str, ...]:
    return (sid, "", "", cls, "o1", user, role, "", begin, end)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(
        folder / "orgs.csv",
        ORGS,
        [
            ("o1", "", "", "Het Baken", "school", "12ab 00", ""),  # line 2: BRIN6 with a space, lower case
            ("o2", "", "", "Zonder Brin", "school", "X-17", ""),  # 3: no BRIN6 → error
            ("o3", "", "", "Vestiging Oost", "school", "34CD", ""),  # 4: BRIN4 → 34CD00
            ("d1", "", "", "Het Bestuur", "district", "", ""),  # 5
        ],
    )
    write_csv(
        folder / "users.csv",
        USERS_11,
        [
            u(
                "s1",
                "student",
                "Jan",
                "van der Berg",
                ids="{Fed:x},{ECK:" + ECKID + "}",
                ident="1001",
                grades="3",
            ),
            u("s2", "student", "Fatima", "El Amrani", ident="1002", agents="p1"),
            u("t1", "Teacher", "Anna", "de Vries"),  # 4: role in capitals → warning
            u("x1", "wizard", "Merlin", "Ambrosius"),  # 5: unknown role → error, left out
            u("p1", "parent", "Karim", "El Amrani"),  # 6
            u("s3", "student", "Oud", "Leerling", enabled="false"),  # 7: disabled → left out, not reported
            u("s4", "student", "Ver", "Weg", orgs="o9"),  # 8: unknown org → warning; no school → left out
            (
                "s5",
                "active",
                "2025-10-01",
                "true",
                "o1",
                "student",
                "s5",
                "",
                "Met",
                "Status",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ),  # 9: bulk row with status → warning, read
            ("s6", "", "", "true", "o1", "student"),  # 10: too short → error
        ],
    )
    write_csv(
        folder / "classes.csv",
        CLASSES,
        [
            ("c1", "", "", "3A", "3", "", "", "homeroom", "", "o1", "", "", "", ""),
            ("c2", "", "", "3a-wis", "3", "", "", "scheduled", "", "o1", "", "wiskunde", "wi", ""),
            ("c3", "", "", "Lezing", "", "", "", "lecture", "", "o1", "", "", "", ""),  # 4: bad classType
            ("c4", "", "", "Weg", "", "", "", "scheduled", "", "o9", "", "", "", ""),  # 5: unknown org
            (
                "c5",
                "",
                "",
                "Ergens",
                "",
                "",
                "",
                "scheduled",
                "",
                "o2",
                "",
                "",
                "",
                "",
            ),  # 6: school without BRIN6
        ],
    )
    write_csv(
        folder / "enrollments.csv",
        ENROLLMENTS,
        [
            enr("e1", "c1", "s1", "student", "2025-08-01", "2026-07-31"),
            enr("e2", "c1", "s2", "student", "01-08-2025"),  # 3: not ISO → error, value dropped
            enr("e3", "c1", "t1", "teacher"),  # 4: homeroom teacher → mentor
            enr("e4", "c2", "t1", "teacher"),
            enr("e5", "c2", "s1", "student"),
            enr("e6", "c9", "s1", "student"),  # 7: unknown class → error
            enr("e7", "c2", "s99", "student"),  # 8: unknown user → error
            enr("e8", "c2", "t1", "proctor"),  # 9: no counterpart → warning
            enr("e9", "c2", "s2", "learner"),  # 10: unknown role → error
            enr("e10", "c1", "s3", "student"),  # 11: disabled user: silently left out
            enr("e11", "c3", "s1", "student"),  # 12: class left out already
            enr("e1", "c2", "s2", "student"),  # 13: duplicate sourcedId → error
        ],
    )
    write_manifest(folder, "1.1", {"orgs": "bulk", "users": "bulk", "classes": "bulk", "enrollments": "bulk"})
    return folder


def found(roster, code: str) -> list[tuple[str, int | None]]:
    return sorted((Path(d.file).name if d.file else "", d.line) for d in roster.diagnostics if d.code == code)


def test_what_is_valid_is_imported(export: Path) -> None:
    roster = read(export)
    assert sorted(roster.schools) == ["12AB00", "34CD00"]
    persons = {p.las_key: p for p in roster.persons.values()}
    assert sorted(persons) == ["p1", "s1", "s2", "s5", "t1"]
    jan = persons["s1"]
    assert (jan.key, jan.voorvoegsel, jan.achternaam, jan.leerlingnummer, jan.leerjaar) == (
        f"eck:{ECKID}",
        "van der",
        "Berg",
        "1001",
        3,
    )
    assert (persons["s2"].voorvoegsel, persons["s2"].achternaam) == ("", "El Amrani")
    assert persons["p1"].kind is PersonKind.GUARDIAN and persons["p1"].children == (persons["s2"].key,)
    assert persons["t1"].kind is PersonKind.STAFF
    roles = {
        (roster.persons[m.person].las_key, roster.groups[m.group].name, m.role) for m in roster.memberships
    }
    assert roles == {
        ("s1", "3A", Role.STUDENT),
        ("s2", "3A", Role.STUDENT),
        ("t1", "3A", Role.MENTOR),
        ("t1", "3a-wis", Role.TEACHER),
        ("s1", "3a-wis", Role.STUDENT),
    }
    (dated,) = [m for m in roster.memberships if m.start]
    assert (str(dated.start), str(dated.end)) == ("2025-08-01", "2026-07-31")
    wis = next(g for g in roster.groups.values() if g.name == "3a-wis")
    assert (wis.subject, wis.subject_name, wis.leerjaar) == ("wi", "wiskunde", 3)


def test_the_rest_is_reported_with_file_and_line(export: Path) -> None:
    roster = read(export)
    assert found(roster, "school-without-brin6") == [("orgs.csv", 3)]
    assert found(roster, "unknown-role") == [("enrollments.csv", 10), ("users.csv", 5)]
    assert found(roster, "vocabulary-case") == [("users.csv", 4)]
    assert found(roster, "unknown-org") == [("classes.csv", 5), ("users.csv", 8)]
    assert found(roster, "person-without-school") == [("users.csv", 8)]
    assert found(roster, "bulk-with-status") == [("users.csv", 9)]
    assert found(roster, "row-width") == [("users.csv", 10)]
    assert found(roster, "unknown-class-type") == [("classes.csv", 4)]
    assert found(roster, "bad-date") == [("enrollments.csv", 3)]
    assert found(roster, "mixed-date-formats") == [("enrollments.csv", 3)]
    assert found(roster, "unknown-class") == [("enrollments.csv", 7)]
    assert found(roster, "unknown-user") == [("enrollments.csv", 8)]
    assert found(roster, "unmapped-role") == [("enrollments.csv", 9)]
    assert found(roster, "duplicate-sourcedid") == [("enrollments.csv", 13)]
    assert not found(roster, "class-outside-school")  # c5's school was reported once, at the org
    mixed = next(d for d in roster.diagnostics if d.code == "mixed-date-formats")
    assert (mixed.field, mixed.message) == (
        "beginDate",
        "beginDate mixes date formats: 1 x YYYY-MM-DD, 1 x DD-MM-YYYY",
    )
    assert sum(d.severity is Severity.ERROR for d in roster.diagnostics) == 10
    assert roster.sources[0].counts["users.disabled"] == 1


def test_a_required_column_missing_refuses_the_file(export: Path) -> None:
    write_csv(export / "classes.csv", [c for c in CLASSES if c != "classType"], [])
    with pytest.raises(SourceDataError, match=r"export/classes.csv:1: no column classType"):
        read(export)


def test_a_quote_that_never_closes_refuses_the_file(export: Path) -> None:
    with (export / "users.csv").open("a", encoding="utf-8") as handle:
        handle.write('s7,,,true,o1,student,s7,,"Afgebroken,Regel\n')
    with pytest.raises(SourceDataError, match=r"users.csv:\d+: cannot be read as CSV .* looks truncated"):
        read(export)


def test_a_file_that_is_not_utf8_is_refused(export: Path) -> None:
    (export / "orgs.csv").write_bytes(
        "sourcedId,status,dateLastModified,name,type\no1,,,Café,school\n".encode("cp1252")
    )
    with pytest.raises(SourceDataError, match=r"orgs.csv:2: not UTF-8"):
        read(export)


def test_the_manifest_is_required_and_must_name_a_version(export: Path) -> None:
    write_csv(export / "manifest.csv", ("propertyName", "value"), [("oneroster.version", "1.0")])
    with pytest.raises(
        SourceDataError, match=r"oneroster\.version is '1\.0'; koppel reads OneRoster 1\.1 and 1\.2"
    ):
        read(export)
    (export / "manifest.csv").unlink()
    with pytest.raises(SourceDataError, match=r"has no manifest\.csv"):
        read(export)
