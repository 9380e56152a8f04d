"""Golden files: the SDS v2.1 CSV set of a small hand-made school, byte for byte, and its headers and values
against what Microsoft documents for SDS v2.1 (docs/targets/sds.md names the sources).

``golden/het-baken-2025-2026/`` was written by koppel and read by a person against the SDS v2.1 pages; a
change to it is a change to what SDS receives.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from koppel.targets.sds.mapping import FILES
from tests.target_sds.roster import by_batch, school
from tests.target_sds.support import make_target, read_set

GOLDEN = Path(__file__).parent / "golden" / "het-baken-2025-2026"

# The headers of Microsoft's SDS v2.1 sample set (github.com/OfficeDev/O365-EDU-Tools, "CSV Samples/SDS v2.1/"),
# in their order. koppel writes a subset of each, in the same order.
SDS_V21_SAMPLE_HEADERS = {
    "orgs.csv": ["sourcedId", "name", "type", "parentSourcedId"],
    "users.csv": ["sourcedId", "username", "givenName", "familyName", "password", "activeDirectoryMatchId", "email",
                  "phone", "sms"],
    "roles.csv": ["userSourcedId", "orgSourcedId", "role", "sessionSourcedId", "grade", "isPrimary", "roleStartDate",
                  "roleEndDate"],
    "classes.csv": ["sourcedId", "orgSourcedId", "title", "sessionSourcedIds", "courseSourcedId"],
    "enrollments.csv": ["classSourcedId", "userSourcedId", "role"],
    "academicSessions.csv": ["sourcedId", "title", "type", "schoolYear", "startDate", "endDate"],
    "relationships.csv": ["userSourcedId", "relationshipUserSourcedId", "relationshipRole"],
}
# Required columns: learn.microsoft.com/en-us/schooldatasync/sds-v2.1-csv-file-format ("Required" = Yes; familyName
# and givenName "Yes (only when creating users)"); the required columns of the files the page's excerpt did not
# show are those every sample row fills (marked inferred in docs/targets/sds.md).
REQUIRED = {
    "orgs.csv": {"sourcedId", "name", "type"},
    "users.csv": {"sourcedId", "username", "givenName", "familyName"},
    "roles.csv": {"userSourcedId", "orgSourcedId", "role"},
    "classes.csv": {"sourcedId", "orgSourcedId", "title"},
    "enrollments.csv": {"classSourcedId", "userSourcedId", "role"},
    "academicSessions.csv": {"sourcedId", "title", "type"},
    "relationships.csv": {"userSourcedId", "relationshipUserSourcedId", "relationshipRole"},
}
# learn.microsoft.com/en-us/schooldatasync/default-list-of-values
ORG_TYPES = {"school", "ministryOfEducation", "localAuthority", "department", "university", "region", "district",
             "college", "division", "local", "campus", "province", "state", "adultEducation", "researchCenter",
             "national", "municipality", "program", "departmentOfEducation", "academicTrust"}
ORG_ROLES = {"principal", "chair", "professor", "researcher", "adjunct", "affiliate", "occupationalTherapist",
             "physicalTherapist", "speechTherapist", "visionTherapist", "paraprofessional", "specialServices",
             "advisor", "proctor", "nurse", "officeStaff", "lecturer", "itAdmin", "administrator", "teacher",
             "faculty", "staff", "teacherAssistant", "aide", "instructor", "substitute", "coach", "alumni", "student",
             "other"}
ENROLLMENT_ROLES = {"student", "teacher"}  # the values koppel uses; both in Microsoft's enrollments.csv sample
RELATIONSHIP_ROLES = {"parent", "relative", "aide", "doctor", "guardian", "child", "other"}  # Graph contactRelationship
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture
def published(tmp_path):
    target = make_target(tmp_path / "out", bestuur={"sourced_id": "41234", "name": "Stichting VO Noord"})
    for batch in by_batch(school()):
        assert all(r.ok for r in target.apply(batch))
    note = target.publish()
    return tmp_path / "out" / "2025-2026", note


def test_the_set_is_byte_for_byte_the_golden_one(published):
    folder, note = published
    for name in FILES:
        assert (folder / name).read_bytes() == (GOLDEN / name).read_bytes(), name
    assert "1 class(es) of a later school year held back" in note


def test_headers_are_the_documented_sds_v21_names_in_their_order(published):
    folder, _ = published
    tables = read_set(folder)
    for name in FILES:
        with open(folder / name, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
        sample = SDS_V21_SAMPLE_HEADERS[name]
        assert all(column in sample for column in header), f"{name}: {header} has a column SDS v2.1 does not name"
        assert [sample.index(c) for c in header] == sorted(sample.index(c) for c in header), f"{name}: order"
        assert REQUIRED[name] <= set(header), f"{name}: a required column is missing"
        for row in tables[name]:
            assert all(row[c] for c in REQUIRED[name]), f"{name}: a required value is empty in {row}"


def test_data_minimisation_no_column_sds_does_not_need(published):
    folder, _ = published
    users = (folder / "users.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert not {"password", "phone", "sms", "activeDirectoryMatchId"} & set(users)
    roles = (folder / "roles.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert not {"grade", "roleStartDate", "roleEndDate", "sessionSourcedId"} & set(roles)


def test_values_follow_the_documented_value_lists_and_types(published):
    folder, _ = published
    t = read_set(folder)
    assert {r["type"] for r in t["orgs.csv"]} <= ORG_TYPES
    assert {r["role"] for r in t["roles.csv"]} <= ORG_ROLES
    assert {r["isPrimary"] for r in t["roles.csv"]} <= {"true", "false"}
    assert {r["role"] for r in t["enrollments.csv"]} <= ENROLLMENT_ROLES
    assert {r["relationshipRole"] for r in t["relationships.csv"]} <= RELATIONSHIP_ROLES
    (session,) = t["academicSessions.csv"]
    assert session["type"] == "schoolYear" and session["schoolYear"] == "2026", "SDS's year is the ending year"
    assert ISO_DATE.fullmatch(session["startDate"]) and ISO_DATE.fullmatch(session["endDate"])
    assert {r["sessionSourcedIds"] for r in t["classes.csv"]} == {session["sourcedId"]}
    users = {r["sourcedId"]: r for r in t["users.csv"]}
    assert all("@" in r["username"] for r in users.values()), "username is the Microsoft 365 sign-in name"
    assert users["las:100002"]["familyName"] == "in 't Veld, Jansen", "a line break became a space"
    assert users["las:100002"]["givenName"] == 'Noor "Nini"'


def test_references_resolve_within_the_set(published):
    folder, _ = published
    t = read_set(folder)
    orgs = {r["sourcedId"] for r in t["orgs.csv"]}
    users = {r["sourcedId"] for r in t["users.csv"]}
    classes = {r["sourcedId"] for r in t["classes.csv"]}
    assert all(r["parentSourcedId"] in orgs for r in t["orgs.csv"] if r["parentSourcedId"])
    assert all(r["orgSourcedId"] in orgs and r["userSourcedId"] in users for r in t["roles.csv"])
    assert all(r["orgSourcedId"] in orgs for r in t["classes.csv"])
    assert all(r["classSourcedId"] in classes and r["userSourcedId"] in users for r in t["enrollments.csv"])
    assert all(r["userSourcedId"] in users and r["relationshipUserSourcedId"] in users for r in t["relationships.csv"])
    assert len({(r["classSourcedId"], r["userSourcedId"], r["role"]) for r in t["enrollments.csv"]}) == len(
        t["enrollments.csv"]), "a mentor who also teaches the class is enrolled once"
