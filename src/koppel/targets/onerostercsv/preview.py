"""``koppel plan --show-payloads`` for a OneRoster CSV target: the rows one change puts in the zip. Pure.

Built from the change and the settings alone, without the mirror: a row that depends on other objects shows
what the change itself decides (a user's orgs come from its school memberships, each shown as its own change; a
class's kind is read from the membership's role where the group is not at hand).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.model.keys import school_key
from koppel.targets.base import Payload
from koppel.targets.onerostercsv.mapping import (
    COMMON,
    HEADERS,
    Body,
    MappingOptions,
    SchoolTie,
    class_body,
    course_body,
    course_id,
    enrollment_body,
    org_body,
    role_bodies,
    session_body,
    session_id,
    sourced_id,
    user_body,
)
from koppel.targets.onerostercsv.package import csv_lines
from koppel.targets.onerostercsv.settings import Mode, OneRosterCsvSettings

__all__ = ["preview"]

_STATUS = {Action.SUSPEND: "suspended", Action.ARCHIVE: "archived"}


@dataclass
class _Object:
    kind: ObjectKind
    key: str
    attrs: dict[str, Any] = field(default_factory=dict)
    status: str = "active"


def preview(settings: Any, changes: Sequence[Change]) -> list[Payload]:
    """``TargetKind.preview``: the rows each change writes, one payload per file."""
    if not isinstance(settings, OneRosterCsvSettings):
        settings = OneRosterCsvSettings.model_validate(dict(settings))
    opts = MappingOptions(settings.version, settings.voorvoegsel, settings.suspended_users, settings.archived_classes)
    payloads: list[Payload] = []
    for change in changes:
        payloads += _payloads(change, settings, opts)
    return payloads


def _payloads(change: Change, settings: OneRosterCsvSettings, opts: MappingOptions) -> list[Payload]:
    obj = _Object(change.kind, change.key, {**(change.before or {}), **(change.after or {})},
                  _STATUS.get(change.action, "active"))
    rows = _rows(obj, change, opts)
    if not rows:
        return [Payload("no OneRoster row", "folders (school year, leerjaar) have no counterpart in OneRoster: "
                        "nothing is written for this group; its klassen and courses carry the school year as their term")]
    delta = settings.mode is Mode.DELTA
    deleting = change.action is Action.DELETE
    payloads = []
    for name, sid, body in rows:
        if isinstance(body, str):
            payloads.append(Payload(f"{name}.csv: the row of {sid}", body))
            continue
        if deleting and not delta:
            payloads.append(Payload(f"{name}.csv (bulk)", f"{sid}: left out of the next zip"))
            continue
        status = ("tobedeleted" if deleting else "active") if delta else ""
        modified = "<the publication's time>" if delta else ""
        header = (*COMMON, *HEADERS[opts.version][name])
        payloads.append(Payload(f"{name}.csv ({'delta, or bulk in the first zip' if delta else 'bulk'})",
                                csv_lines([header, (sid, status, modified, *body)])))
    return payloads


def _rows(obj: _Object, change: Change, opts: MappingOptions) -> list[tuple[str, str, Body | str]]:
    org = sourced_id(school_key(change.school or str(obj.attrs.get("school") or "")))
    if obj.kind is ObjectKind.GROUP:
        kind = obj.attrs.get("type")
        if kind == "school":
            return [("orgs", sourced_id(obj.key), org_body(obj))]
        if kind not in ("klas", "course") or not opts.written_group(obj):
            return []
        year = obj.attrs.get("school_year")
        rows: list[tuple[str, str, Body | str]] = [("classes", sourced_id(obj.key), class_body(obj, org)),
                ("courses", course_id(obj.key), course_body(obj, org))]
        return rows + ([("academicSessions", session_id(year), session_body(year))] if year else [])
    if obj.kind is ObjectKind.PERSON:
        if change.school:
            obj.attrs["_school"] = change.school
        body = user_body(obj, [], obj.attrs.get("children") or (), opts, {})
        return [("users", sourced_id(obj.key), body)] if body is not None else []
    group = str(obj.attrs.get("group", ""))
    if group.startswith("school:"):
        tie = SchoolTie(obj.key, sourced_id(group), str(obj.attrs.get("role", "")), bool(obj.attrs.get("home")))
        if opts.version == "1.2":
            person = _Object(ObjectKind.PERSON, str(obj.attrs.get("person", "")))
            return [("roles", sid, body) for sid, body in role_bodies(person, [tie], opts).items()]
        home = " (first: the home school)" if tie.home else ""
        return [("users", sourced_id(str(obj.attrs.get("person", ""))),
                 f"orgSourcedIds {'loses' if change.action is Action.DELETE else 'has'} {tie.org}{home}")]
    klas = _Object(ObjectKind.GROUP, group, {"type": "klas" if obj.attrs.get("role") == "mentor" else "course"})
    body = enrollment_body(obj, klas, org, opts)
    return [("enrollments", sourced_id(obj.key), body)] if body is not None else []
