"""Write a generated bestuur as a OneRoster 1.1 or 1.2 bulk export, from the spec's tables alone.

A test helper, independent of the source: it knows the CSV columns of the spec and the generator's
values, nothing of koppel's mapping, so a round trip through it tests the source's reading.
The Dutch voorvoegsel goes where OneRoster has room for it: in familyName ("van der Berg").
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from koppel.generator import Bestuur

FILES_11 = (
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItems",
    "orgs",
    "resources",
    "results",
    "users",
)
FILES_12 = (
    *FILES_11,
    "roles",
    "userProfiles",
    "userResources",
    "scoreScales",
    "lineItemLearningObjectiveIds",
    "lineItemScoreScales",
    "resultLearningObjectiveIds",
    "resultScoreScales",
)
HEAD = ("sourcedId", "status", "dateLastModified")
ORGS = (*HEAD, "name", "type", "identifier", "parentSourcedId")
SESSIONS = (*HEAD, "title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear")
COURSES = (*HEAD, "schoolYearSourcedId", "title", "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes")
CLASSES = (*HEAD, "title", "grades", "courseSourcedId", "classCode", "classType", "location", "schoolSourcedId",
           "termSourcedIds", "subjects", "subjectCodes", "periods")
ENROLLMENTS = (*HEAD, "classSourcedId", "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate", "endDate")
_PERSON = ("username", "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
           "agentSourcedIds", "grades", "password")
USERS_11 = (*HEAD, "enabledUser", "orgSourcedIds", "role", *_PERSON)
USERS_12 = (*HEAD, "enabledUser", *_PERSON, "userMasterIdentifier", "preferredGivenName", "preferredMiddleName",
            "preferredFamilyName", "primaryOrgSourcedId", "pronouns")
ROLES = (*HEAD, "userSourcedId", "roleType", "role", "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_manifest(folder: Path, version: str, modes: dict[str, str]) -> None:
    files = FILES_12 if version == "1.2" else FILES_11
    rows = [("manifest.version", "1.0"), ("oneroster.version", version)]
    rows += [(f"file.{name}", modes.get(name, "absent")) for name in files]
    rows += [("source.systemName", "koppel-tests"), ("source.systemCode", "koppel")]
    write_csv(folder / "manifest.csv", ("propertyName", "value"), rows)


def family_name(voorvoegsel: str, achternaam: str) -> str:
    return f"{voorvoegsel} {achternaam}".strip()


def write_export(bestuur: Bestuur, folder: Path, version: str = "1.2") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    year = bestuur.school_year
    session = f"sy-{year.start_year}"
    write_csv(
        folder / "orgs.csv",
        ORGS,
        [("bestuur", "", "", "Het Bestuur", "district", "", "")]
        + [(f"org-{s.brin6}", "", "", s.name, "school", s.brin6, "bestuur") for s in bestuur.schools],
    )
    write_csv(
        folder / "academicSessions.csv",
        SESSIONS,
        [
            (
                session,
                "",
                "",
                str(year),
                "schoolYear",
                year.start.isoformat(),
                year.end.isoformat(),
                "",
                str(year.start_year + 1),
            )
        ],
    )
    vakken = sorted({(g.brin6, g.vak, g.vaknaam) for g in bestuur.lesgroepen})
    write_csv(
        folder / "courses.csv",
        COURSES,
        [(f"crs-{b}-{vak}", "", "", session, naam, vak, "", f"org-{b}", naam, vak) for b, vak, naam in vakken]
        + [
            (f"crs-{s.brin6}-klas", "", "", session, "Klas", "klas", "", f"org-{s.brin6}", "", "")
            for s in bestuur.schools
        ],
    )
    write_csv(
        folder / "classes.csv",
        CLASSES,
        [
            (
                f"cls-{k.brin6}-{k.name}",
                "",
                "",
                k.name,
                k.leerjaar,
                f"crs-{k.brin6}-klas",
                k.name,
                "homeroom",
                "",
                f"org-{k.brin6}",
                session,
                "",
                "",
                "",
            )
            for k in bestuur.klassen
        ]
        + [
            (
                f"cls-{g.brin6}-{g.name}",
                "",
                "",
                g.name,
                g.leerjaar,
                f"crs-{g.brin6}-{g.vak}",
                g.name,
                "scheduled",
                "",
                f"org-{g.brin6}",
                session,
                g.vaknaam,
                g.vak,
                "",
            )
            for g in bestuur.lesgroepen
        ],
    )
    _users(bestuur, folder, version)
    staff = {(t.brin6, t.docentcode): f"tea-{t.stamnr}" for t in bestuur.teachers}
    enrollments = [
        (
            f"enr-{p.stamnr}-{p.klas}",
            "",
            "",
            f"cls-{p.brin6}-{p.klas}",
            f"org-{p.brin6}",
            f"stu-{p.stamnr}",
            "student",
            "",
            "",
            "",
        )
        for p in bestuur.pupils
    ]
    enrollments += [
        (
            f"enr-m-{k.brin6}-{k.name}",
            "",
            "",
            f"cls-{k.brin6}-{k.name}",
            f"org-{k.brin6}",
            staff[(k.brin6, k.mentor)],
            "teacher",
            "true",
            "",
            "",
        )
        for k in bestuur.klassen
        if k.mentor
    ]
    for g in bestuur.lesgroepen:
        enrollments += [
            (
                f"enr-{s}-{g.brin6}-{g.name}",
                "",
                "",
                f"cls-{g.brin6}-{g.name}",
                f"org-{g.brin6}",
                f"stu-{s}",
                "student",
                "",
                "",
                "",
            )
            for s in g.pupils
        ]
        enrollments += [
            (
                f"enr-{c}-{g.brin6}-{g.name}",
                "",
                "",
                f"cls-{g.brin6}-{g.name}",
                f"org-{g.brin6}",
                staff[(g.brin6, c)],
                "teacher",
                "",
                "",
                "",
            )
            for c in g.teachers
        ]
    write_csv(
        folder / "enrollments.csv",
        ENROLLMENTS,
        enrollments,
    )
    written = ["academicSessions", "classes", "courses", "enrollments", "orgs", "users"]
    write_manifest(
        folder, version, dict.fromkeys([*written, *(["roles"] if version == "1.2" else [])], "bulk")
    )
    return folder


def _users(bestuur: Bestuur, folder: Path, version: str) -> None:
    people = [
        (
            f"stu-{p.stamnr}",
            "student",
            p.brin6,
            p.login,
            p.roepnaam,
            p.voorvoegsel,
            p.achternaam,
            p.stamnr,
            p.email or "",
            p.eckid or "",
            str(p.leerjaar),
        )
        for p in bestuur.pupils
    ]
    people += [
        (
            f"tea-{t.stamnr}",
            "teacher",
            t.brin6,
            t.login,
            t.roepnaam,
            t.voorvoegsel,
            t.achternaam,
            "",
            t.email,
            "",
            "",
        )
        for t in bestuur.teachers
    ]
    if version == "1.1":
        write_csv(
            folder / "users.csv",
            USERS_11,
            [
                (
                    sid,
                    "",
                    "",
                    "true",
                    f"org-{brin6}",
                    role,
                    login,
                    f"{{ECK:{eck}}}" if eck else "",
                    given,
                    family_name(vv, last),
                    "",
                    ident,
                    email,
                    "",
                    "",
                    "",
                    grade,
                    "",
                )
                for sid, role, brin6, login, given, vv, last, ident, email, eck, grade in people
            ],
        )
        return
    write_csv(
        folder / "users.csv",
        USERS_12,
        [
            (
                sid,
                "",
                "",
                "true",
                login,
                "",
                given,
                family_name(vv, last),
                "",
                ident,
                email,
                "",
                "",
                "",
                grade,
                "",
                eck,
                "",
                "",
                "",
                f"org-{brin6}",
                "",
            )
            for sid, role, brin6, login, given, vv, last, ident, email, eck, grade in people
        ],
    )
    write_csv(
        folder / "roles.csv",
        ROLES,
        [
            (f"role-{sid}", "", "", sid, "primary", role, "", "", f"org-{brin6}", "")
            for sid, role, brin6, *_ in people
        ],
    )


def zip_folder(folder: Path, target: Path, *, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, prefix + path.name)
    return target
