"""Reading published OneRoster zips back into koppel's neutral vocabulary: a bulk zip and the deltas after it.

``OneRosterCsvTarget.read`` answers from the mirror (what koppel last published); this module reads what is in
the folder, for ``koppel check``-style inspection and for tests that compare the files with what was staged.
It reads koppel's own output only (the OneRoster *source*, ``koppel.sources.oneroster``, reads any export):

* orgs of type school → school groups; classes → klas (homeroom) or course (scheduled) groups;
* users with enabledUser TRUE → persons (a disabled user is a suspended one: not active);
* 1.1 orgSourcedIds and role, 1.2 roles rows → school memberships (the first org / the primary role is home);
* enrollments → memberships; a primary teacher of a homeroom is its mentor.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from koppel.model.desired import ObjectKind
from koppel.targets.base import ReadObject
from koppel.targets.onerostercsv.mapping import FILES
from koppel.targets.onerostercsv.settings import Voorvoegsel

__all__ = ["Tables", "neutral_objects", "read_tables"]

Tables = dict[str, dict[str, dict[str, str]]]  # file -> sourcedId -> column -> value
_PERSON_ROLE = {"student": "student", "teacher": "staff", "guardian": "guardian", "parent": "guardian"}
_SCHOOL_ROLE = {"student": "student", "staff": "teacher", "guardian": "guardian"}


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    with archive.open(name) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def read_tables(paths: Sequence[Path]) -> tuple[str, Tables]:
    """The tables after applying the zips in order (the first a bulk): bulk replaces a file, delta upserts
    ``active`` rows and removes ``tobedeleted`` ones."""
    version = ""
    tables: Tables = {}
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            manifest = {row["propertyName"]: row["value"] for row in _csv(archive, "manifest.csv")}
            version = version or manifest["oneroster.version"]
            for name in FILES[version]:
                mode = manifest.get(f"file.{name}", "absent")
                if mode == "absent":
                    continue
                rows = _csv(archive, f"{name}.csv")
                table = {} if mode == "bulk" else tables.setdefault(name, {})
                for row in rows:
                    if row["status"] == "tobedeleted":
                        table.pop(row["sourcedId"], None)
                    else:
                        table[row["sourcedId"]] = row
                tables[name] = table
    return version, tables


def neutral_objects(version: str, tables: Tables, voorvoegsel: Voorvoegsel = Voorvoegsel.FAMILY_NAME
                    ) -> dict[str, ReadObject]:
    """Active objects by key (a sourcedId is a sync key): groups, persons, memberships."""
    out: dict[str, ReadObject] = {}
    orgs = tables.get("orgs", {})
    sessions = tables.get("academicSessions", {})
    for sid, row in orgs.items():
        if row["type"] == "school":
            out[sid] = ReadObject(ObjectKind.GROUP, sid, {"type": "school", "name": row["name"],
                                                          "code": row["identifier"], "school": row["identifier"]})
    for sid, row in tables.get("classes", {}).items():
        term = sessions.get(row["termSourcedIds"].split(",")[0], {})
        out[sid] = ReadObject(ObjectKind.GROUP, sid, {
            "type": "klas" if row["classType"] == "homeroom" else "course", "name": row["title"],
            "code": row["classCode"] or None, "school": orgs.get(row["schoolSourcedId"], {}).get("identifier"),
            "school_year": term.get("title"), "subject": row["subjectCodes"] or None,
            "leerjaar": int(row["grades"]) if row["grades"].isdigit() else None})
    roles: dict[str, list[dict[str, str]]] = {}
    for sid, row in tables.get("roles", {}).items():
        roles.setdefault(row["userSourcedId"], []).append({**row, "sourcedId": sid})
    for sid, row in tables.get("users", {}).items():
        if row["enabledUser"].upper() != "TRUE":
            continue
        out.update(_person(version, sid, row, roles.get(sid, []), voorvoegsel))
    for sid, row in tables.get("enrollments", {}).items():
        homeroom = tables["classes"].get(row["classSourcedId"], {}).get("classType") == "homeroom"
        role = "mentor" if homeroom and row["role"] == "teacher" and row["primary"] == "TRUE" else row["role"]
        out[sid] = ReadObject(ObjectKind.MEMBERSHIP, sid, {"person": row["userSourcedId"],
                                                           "group": row["classSourcedId"], "role": role, "home": False})
    return out


def _person(version: str, sid: str, row: dict[str, str], roles: list[dict[str, str]],
            voorvoegsel: Voorvoegsel) -> dict[str, ReadObject]:
    if version == "1.1":
        role = _PERSON_ROLE.get(row["role"], "staff")
        ties = [(f"{sid}|{org}|{_SCHOOL_ROLE[role]}", org, _SCHOOL_ROLE[role], index == 0)
                for index, org in enumerate(o for o in row["orgSourcedIds"].split(",") if o)]
    else:
        ordered = sorted(roles, key=lambda r: r["roleType"] != "primary")
        role = _PERSON_ROLE.get(ordered[0]["role"], "staff") if ordered else "staff"
        ties = [(r["sourcedId"], r["orgSourcedId"], r["role"], r["roleType"] == "primary") for r in ordered]
    prefix = row["middleName"] if voorvoegsel is Voorvoegsel.MIDDLE_NAME else ""
    attrs: dict[str, Any] = {"role": role, "given": row["givenName"], "prefix": prefix, "family": row["familyName"],
                             "username": row["username"], "email": row["email"] or None}
    found = {sid: ReadObject(ObjectKind.PERSON, sid, attrs)}
    for key, org, school_role, home in ties:
        found[key] = ReadObject(ObjectKind.MEMBERSHIP, key, {"person": sid, "group": org, "role": school_role,
                                                              "home": home})
    return found
