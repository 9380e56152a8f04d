"""The published sample sets (shared/specs/oneroster/), read into golden rosters.

Both are test fixtures of an IMS-certified Moodle plugin and deliberately imperfect: the 1.1 set
has no org of type school and writes ``Scheduled`` with a capital, the 1.2 set is a delta. What
koppel makes of them — and what it reports — is pinned in ``golden/*.json``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from koppel.errors import SourceDataError
from koppel.model import GroupKind, PersonKind, Role

from .conftest import SPECS, assert_golden, codes, read, roster_document
from .writer import FILES_12, write_csv, write_manifest, zip_folder

BULK = SPECS / "v1p1-bulk-minimal"
DELTA = SPECS / "v1p2-delta"
DEPARTMENT = {"org-sch-222-456": "99XX00"}  # the set's only org is a department: map it to a school


@pytest.fixture
def bulk(tmp_path: Path) -> Path:
    """The 1.1 set copied, so that provenance names a stable folder."""
    return Path(shutil.copytree(BULK, tmp_path / "v1p1-bulk-minimal"))


def test_v1p1_bulk_minimal(bulk: Path) -> None:
    roster = read(bulk, schools=DEPARTMENT)
    assert_golden("v1p1-bulk-minimal", roster_document(roster))
    kinds = sorted(p.kind.value for p in roster.persons.values())
    assert kinds == ["guardian", "staff", "staff", "student", "student", "student"]
    history = next(g for g in roster.groups.values() if g.name == "History - 2")
    assert history.kind is GroupKind.STAMGROEP
    assert {(m.person, m.role) for m in roster.memberships if m.group == history.key} == {
        ("or:usr-222-123456", Role.MENTOR),
        ("or:usr-222-987654", Role.STUDENT),
        ("or:usr-222-1234561232", Role.STUDENT),
    }
    assert codes(roster) == ["role-mismatch", "role-mismatch", "vocabulary-case"]
    assert not any(
        p.email == "Password1-" for p in roster.persons.values()
    )  # the password column is never read


def test_the_same_set_as_a_zip_reads_the_same(bulk: Path, tmp_path: Path) -> None:
    folder = roster_document(read(bulk, schools=DEPARTMENT))
    zipped = roster_document(read(zip_folder(bulk, tmp_path / "export.zip"), schools=DEPARTMENT))
    for part in ("schools", "memberships"):
        assert zipped[part] == folder[part]
    assert [p["key"] for p in zipped["persons"]] == [p["key"] for p in folder["persons"]]
    assert {d[2] for d in zipped["diagnostics"]} == {"export.zip/classes.csv", "export.zip/enrollments.csv"}


def test_without_a_school_nothing_can_be_placed(bulk: Path) -> None:
    with pytest.raises(
        SourceDataError,
        match=r"org 'History Department' \(department\), which is not a school; "
        r"map it to a BRIN6 under schools",
    ):
        read(bulk)


def test_a_delta_alone_is_not_a_roster() -> None:
    with pytest.raises(
        SourceDataError,
        match=r"marks orgs.csv as delta.*not a complete roster.*list this export "
        r"under deltas",
    ):
        read(DELTA, schools={"ORG_1": "12AB00"})


def empty_bulk(folder: Path) -> Path:
    """A 1.2 bulk export with headers only: a school's first day in OneRoster."""
    folder.mkdir()
    headers = {
        name: (DELTA / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
        for name in ("orgs", "users", "roles", "classes", "courses", "enrollments", "academicSessions")
    }
    for name, header in headers.items():
        write_csv(folder / f"{name}.csv", header, [])
    write_manifest(folder, "1.2", dict.fromkeys(headers, "bulk"))
    assert set(headers) <= set(FILES_12)
    return folder


def test_v1p2_delta_on_an_empty_bulk(tmp_path: Path) -> None:
    roster = read(empty_bulk(tmp_path / "bulk"), deltas=[str(DELTA)], schools={"ORG_1": "12AB00"})
    document = roster_document(roster)
    document["diagnostics"] = [
        [*d[:2], Path(d[2]).name if d[2] else None, *d[3:]] for d in document["diagnostics"]
    ]
    for section in ("persons", "groups"):
        for item in document[section]:
            item["from"] = Path(item["from"]).name
    assert_golden("v1p2-delta-on-empty-bulk", document)
    (bruce,) = roster.persons.values()
    assert (bruce.kind, bruce.display_name, bruce.las_username) == (
        PersonKind.STUDENT,
        "Bruce Wayne",
        "brucewayne",
    )
    (group,) = roster.groups.values()
    assert (group.name, group.subject, group.subject_name) == ("Basic Detection", "0101", "subject1")
    assert str(roster.school_year) == "2023-2024"  # from the session's dates; schoolYear 2023 disagrees
    assert codes(roster) == ["school-year-mismatch"]
