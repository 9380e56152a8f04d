"""Bulk first, deltas on top, in order: what a delta adds, replaces and removes, and what it may not do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from koppel.errors import SourceDataError
from koppel.generator import Bestuur, generate
from koppel.model import PersonKind, SchoolYear

from .conftest import codes, read
from .writer import ENROLLMENTS, ROLES, USERS_12, write_csv, write_export, write_manifest

STAMP = "2025-10-02T08:00:00.000Z"


@pytest.fixture(scope="module")
def bestuur() -> Bestuur:
    return generate(students=60, schools=1, year=SchoolYear(2025), seed=5)


@pytest.fixture
def base(bestuur: Bestuur, tmp_path: Path) -> Path:
    return write_export(bestuur, tmp_path / "bulk")


def user(sourced_id: str, status: str, given: str, family: str, org: str) -> tuple[str, ...]:
    return (
        sourced_id,
        status,
        STAMP,
        "true",
        sourced_id,
        "",
        given,
        family,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        org,
        "",
    )


def write_delta(folder: Path, **files: list[tuple[str, ...]]) -> Path:
    folder.mkdir()
    headers = {"users": USERS_12, "roles": ROLES, "enrollments": ENROLLMENTS}
    for name, rows in files.items():
        write_csv(folder / f"{name}.csv", headers[name], rows)
    write_manifest(folder, "1.2", dict.fromkeys(files, "delta"))
    return folder


def test_a_delta_adds_replaces_and_removes(bestuur: Bestuur, base: Path, tmp_path: Path) -> None:
    leaver, renamed = bestuur.pupils[0], bestuur.pupils[1]
    org = f"org-{leaver.brin6}"
    klas = f"cls-{leaver.brin6}-{leaver.klas}"
    delta = write_delta(
        tmp_path / "delta1",
        users=[
            user(f"stu-{leaver.stamnr}", "tobedeleted", "", "", org),
            user(f"stu-{renamed.stamnr}", "active", "Anouk", "van Dam", org),
            user("stu-new", "active", "Nieuwe", "Leerling", org),
        ],
        roles=[("role-stu-new", "active", STAMP, "stu-new", "primary", "student", "", "", org, "")],
        enrollments=[("enr-new", "active", STAMP, klas, org, "stu-new", "student", "", "2025-10-02", "")],
    )
    before = read(base)
    after = read(base, deltas=[str(delta)])
    students = {p.las_key: p for p in after.persons.values() if p.kind is PersonKind.STUDENT}
    assert f"stu-{leaver.stamnr}" not in students
    assert (students[f"stu-{renamed.stamnr}"].voorvoegsel, students[f"stu-{renamed.stamnr}"].achternaam) == (
        "van",
        "Dam",
    )
    assert "stu-new" in students
    new_membership = next(m for m in after.memberships if m.person == students["stu-new"].key)
    assert str(new_membership.start) == "2025-10-02"
    assert len(students) == sum(1 for p in before.persons.values() if p.kind is PersonKind.STUDENT)
    # the leaver's role and enrollments stayed in the bulk: each is reported as pointing at a deleted user
    left_behind = {(d.file, d.code) for d in after.diagnostics if "stu-" + leaver.stamnr in d.message}
    assert left_behind == {
        ("bulk/roles.csv", "reference-to-deleted"),
        ("bulk/enrollments.csv", "reference-to-deleted"),
    }
    assert all(d.severity.value == "warning" for d in after.diagnostics)


def test_deltas_apply_in_order(bestuur: Bestuur, base: Path, tmp_path: Path) -> None:
    org = f"org-{bestuur.schools[0].brin6}"
    first = write_delta(
        tmp_path / "d1",
        users=[user("stu-x", "active", "Eerst", "Jansen", org)],
        roles=[("role-x", "active", STAMP, "stu-x", "primary", "student", "", "", org, "")],
    )
    second = write_delta(
        tmp_path / "d2",
        users=[user("stu-x", "tobedeleted", "", "", org)],
        roles=[("role-x", "tobedeleted", STAMP, "stu-x", "primary", "student", "", "", org, "")],
    )
    assert any(p.las_key == "stu-x" for p in read(base, deltas=[str(first)]).persons.values())
    roster = read(base, deltas=[str(first), str(second)])
    assert not any(p.las_key == "stu-x" for p in roster.persons.values())
    assert "delete-unknown" not in codes(roster)
    roster = read(base, deltas=[str(second)])
    assert codes(roster).count("delete-unknown") == 2  # deleting what was never there is reported, not fatal


def test_a_delta_of_another_version_is_refused(base: Path, tmp_path: Path) -> None:
    delta = tmp_path / "d11"
    delta.mkdir()
    write_manifest(delta, "1.1", {})
    with pytest.raises(SourceDataError, match=r"d11 is OneRoster 1\.1, but the bulk export bulk is 1\.2"):
        read(base, deltas=[str(delta)])


def test_a_delta_row_needs_a_status(base: Path, tmp_path: Path, bestuur: Bestuur) -> None:
    org = f"org-{bestuur.schools[0].brin6}"
    delta = write_delta(tmp_path / "d", users=[user("stu-y", "", "Zonder", "Status", org)])
    roster = read(base, deltas=[str(delta)])
    (problem,) = [d for d in roster.diagnostics if d.code == "bad-status"]
    assert (problem.file, problem.line) == (f"{delta.name}/users.csv", 2)


def test_a_base_that_is_partly_delta_is_refused(base: Path, tmp_path: Path) -> None:
    mixed = Path(shutil.copytree(base, tmp_path / "mixed"))
    write_manifest(
        mixed,
        "1.2",
        {
            "orgs": "bulk",
            "users": "delta",
            "roles": "bulk",
            "classes": "bulk",
            "enrollments": "bulk",
            "academicSessions": "bulk",
            "courses": "bulk",
        },
    )
    with pytest.raises(SourceDataError, match=r"marks users\.csv as delta"):
        read(mixed)
