"""The rows of a publication: every row of every file (bulk), or the rows that changed since the last one
(delta). Pure: it reads the published mirror and the run's staged changes, and writes nothing.

The files are views of the objects, not one object each: a user's row holds its schools (its school
memberships), a student's row its guardians, a class's row its school's org. So a delta is computed per file
as the difference between that file's rows before and after the run, only for the rows the run can have
touched: the group files (a few thousand rows) whole, the users and roles of the persons the run touched
(their own changes, their school memberships, a guardian's children), and the enrollments of the memberships,
groups and persons the run touched. A row that comes out the same is not written; a row that disappears is
written once more with status ``tobedeleted``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from koppel.model.desired import ObjectKind
from koppel.targets.files import MirrorObject, PublishedRoster
from koppel.targets.onerostercsv.mapping import (
    FILES,
    Body,
    MappingOptions,
    SchoolTie,
    class_body,
    course_body,
    course_id,
    enrollment_body,
    org_body,
    org_id_of,
    role_bodies,
    session_body,
    session_id,
    sourced_id,
    user_body,
)

__all__ = ["Delta", "Rows", "delta_rows", "snapshot_rows"]

Rows = dict[str, dict[str, Body]]  # file -> sourcedId -> body
_GROUP_FILES = ("academicSessions", "orgs", "courses", "classes")


@dataclass
class Delta:
    """Per file, the rows to write: sourcedId -> (status, body); ``tobedeleted`` rows carry their last body."""

    files: dict[str, dict[str, tuple[str, Body]]] = field(default_factory=dict)

    def count(self) -> int:
        return sum(len(rows) for rows in self.files.values())


# -- groups ---------------------------------------------------------------------------------------------------


def _orgs_by_brin(groups: Iterable[MirrorObject]) -> dict[str, str]:
    return {g.attrs["school"]: sourced_id(g.key) for g in groups
            if g.attrs.get("type") == "school" and g.attrs.get("school")}


def group_rows(groups: Mapping[str, MirrorObject], opts: MappingOptions) -> Rows:
    """orgs, academicSessions, courses and classes from every group."""
    orgs_by_brin = _orgs_by_brin(groups.values())
    rows: Rows = {name: {} for name in _GROUP_FILES}
    for group in groups.values():
        kind = group.attrs.get("type")
        if kind == "school":
            rows["orgs"][sourced_id(group.key)] = org_body(group)
        elif kind in ("klas", "course") and opts.written_group(group):
            org = org_id_of(group.attrs["school"], orgs_by_brin)
            sid = sourced_id(group.key)
            rows["classes"][sid] = class_body(group, org)
            rows["courses"][course_id(group.key)] = course_body(group, org)
            year = group.attrs.get("school_year")
            if year:
                rows["academicSessions"][session_id(year)] = session_body(year)
    return rows


# -- persons --------------------------------------------------------------------------------------------------


def _tie(membership: MirrorObject, groups: Mapping[str, MirrorObject], orgs_by_brin: Mapping[str, str]) -> SchoolTie | None:
    group = groups.get(membership.attrs.get("group", ""))
    if group is None or group.attrs.get("type") != "school":
        return None
    return SchoolTie(membership.key, sourced_id(group.key), membership.attrs.get("role", ""),
                     bool(membership.attrs.get("home")))


def _agents(persons: Iterable[MirrorObject]) -> dict[str, set[str]]:
    """Person key -> the sourcedIds of its agents: a guardian's children, a child's guardians (both sides)."""
    agents: dict[str, set[str]] = defaultdict(set)
    for person in persons:
        children = person.attrs.get("children") or ()
        if person.attrs.get("role") != "guardian" or not children:
            continue
        for child in children:
            agents[person.key].add(sourced_id(child))
            agents[child].add(sourced_id(person.key))
    return agents


def _person_rows(person: MirrorObject, ties: list[SchoolTie], agents: Iterable[str], opts: MappingOptions,
                 orgs_by_brin: Mapping[str, str], rows: Rows) -> None:
    body = user_body(person, ties, agents, opts, orgs_by_brin)
    if body is not None:
        rows["users"][sourced_id(person.key)] = body
    if opts.version == "1.2":
        rows["roles"].update(role_bodies(person, ties, opts))


# -- a whole snapshot -----------------------------------------------------------------------------------------


def snapshot_rows(objects: Iterable[MirrorObject], opts: MappingOptions) -> dict[str, Iterable[tuple[str, Body]]]:
    """Every row of every file, from every object that will be published (bulk). The enrollments — a million for a
    bestuur — are made while the zip is written, not held."""
    groups: dict[str, MirrorObject] = {}
    persons: list[MirrorObject] = []
    memberships: list[MirrorObject] = []
    for obj in objects:
        if obj.kind is ObjectKind.GROUP:
            groups[obj.key] = obj
        elif obj.kind is ObjectKind.PERSON:
            persons.append(obj)
        else:
            memberships.append(obj)
    rows = group_rows(groups, opts)
    rows.update({name: {} for name in FILES[opts.version] if name not in rows})
    orgs_by_brin = _orgs_by_brin(groups.values())
    ties: dict[str, list[SchoolTie]] = defaultdict(list)
    for membership in memberships:
        tie = _tie(membership, groups, orgs_by_brin)
        if tie is not None:
            ties[membership.attrs["person"]].append(tie)
    agents = _agents(persons)
    written: set[str] = set()
    for person in persons:
        _person_rows(person, ties.get(person.key, []), agents.get(person.key, ()), opts, orgs_by_brin, rows)
        if opts.written_person(person):
            written.add(person.key)

    def enrollments() -> Iterator[tuple[str, Body]]:
        for membership in memberships:
            group = groups.get(membership.attrs.get("group", ""))
            if group is None or membership.attrs.get("person") not in written:
                continue
            body = enrollment_body(membership, group, org_id_of(group.attrs.get("school", ""), orgs_by_brin), opts)
            if body is not None:
                yield sourced_id(membership.key), body

    out: dict[str, Iterable[tuple[str, Body]]] = {name: table.items() for name, table in rows.items()}
    out["enrollments"] = enrollments()
    return out


# -- the difference a run makes ---------------------------------------------------------------------------------


@dataclass
class _Side:
    """One side (before or after the run) of what a delta compares."""

    groups: dict[str, MirrorObject]
    orgs_by_brin: dict[str, str]
    ties: dict[str, list[SchoolTie]] = field(default_factory=lambda: defaultdict(list))
    agents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def enrollment(self, membership: MirrorObject | None, person: MirrorObject | None,
                   opts: MappingOptions) -> Body | None:
        if membership is None or person is None or not opts.written_person(person):
            return None
        group = self.groups.get(membership.attrs.get("group", ""))
        if group is None:
            return None
        return enrollment_body(membership, group, org_id_of(group.attrs.get("school", ""), self.orgs_by_brin), opts)


def delta_rows(roster: PublishedRoster, opts: MappingOptions) -> Delta:
    """The rows the staged changes change, against what was last published."""
    published = roster.published
    before_groups = {key: o for (kind, key), o in published.items() if kind is ObjectKind.GROUP}
    after_groups = dict(before_groups)
    touched_persons: set[str] = set()
    touched_groups: set[str] = set()
    touched_memberships: set[str] = set()
    for staged in roster.staged:
        change, after = staged.change, staged.after
        if change.kind is ObjectKind.GROUP:
            touched_groups.add(change.key)
            if after is None:
                after_groups.pop(change.key, None)
            else:
                after_groups[change.key] = after
        elif change.kind is ObjectKind.PERSON:
            touched_persons.add(change.key)
            for obj in (staged.before, after):
                if obj is not None:
                    touched_persons.update(obj.attrs.get("children") or ())  # their agents change
        else:
            touched_memberships.add(change.key)
            for obj in (staged.before, after):
                if obj is not None and obj.attrs.get("person"):
                    touched_persons.add(obj.attrs["person"])
    before = _Side(before_groups, _orgs_by_brin(before_groups.values()))
    after_side = _Side(after_groups, _orgs_by_brin(after_groups.values()))
    out = Delta()
    _diff(out, group_rows(before_groups, opts), group_rows(after_groups, opts))
    enrollment_keys = set(touched_memberships)
    guardians_before: list[MirrorObject] = []
    for (kind, key), obj in published.items():
        if kind is ObjectKind.MEMBERSHIP:
            person, group = obj.attrs.get("person"), obj.attrs.get("group")
            if person in touched_persons:
                enrollment_keys.add(key)
                tie = _tie(obj, before_groups, before.orgs_by_brin)
                if tie is not None:
                    before.ties[person].append(tie)
            elif group in touched_groups:
                enrollment_keys.add(key)
        elif kind is ObjectKind.PERSON and obj.attrs.get("role") == "guardian":
            guardians_before.append(obj)
    _person_sides(roster, touched_persons, guardians_before, before, after_side)
    _diff(out, *_person_rows_both(roster, touched_persons, before, after_side, opts))
    _diff(out, *_enrollment_rows_both(roster, enrollment_keys, before, after_side, opts))
    for name in FILES[opts.version]:
        out.files.setdefault(name, {})
    return out


def _person_sides(roster: PublishedRoster, persons: set[str], guardians_before: list[MirrorObject],
                  before: _Side, after: _Side) -> None:
    """The school ties and agents of the touched persons, before and after the run."""
    for person, ties in before.ties.items():
        after.ties[person] = list(ties)
    for staged in roster.staged:
        if staged.change.kind is not ObjectKind.MEMBERSHIP:
            continue
        either = staged.after or staged.before
        owner = either.attrs.get("person") if either is not None else None
        if not owner:
            continue
        current = [t for t in after.ties.get(owner, []) if t.key != staged.change.key]
        if staged.after is not None:
            tie = _tie(staged.after, after.groups, after.orgs_by_brin)
            if tie is not None:
                current.append(tie)
        after.ties[owner] = current
    guardians_after = {g.key: g for g in guardians_before}
    for staged in roster.staged:
        if staged.change.kind is ObjectKind.PERSON:
            if staged.after is not None and staged.after.attrs.get("role") == "guardian":
                guardians_after[staged.change.key] = staged.after
            else:
                guardians_after.pop(staged.change.key, None)
    for side, guardians in ((before, guardians_before), (after, list(guardians_after.values()))):
        for key, agents in _agents(guardians).items():
            if key in persons:
                side.agents[key] = agents


def _person_rows_both(roster: PublishedRoster, persons: set[str], before: _Side, after: _Side,
                      opts: MappingOptions) -> tuple[Rows, Rows]:
    rows_before: Rows = {"users": {}, "roles": {}}
    rows_after: Rows = {"users": {}, "roles": {}}
    for key in persons:
        old = roster.published.get((ObjectKind.PERSON, key))
        new = roster.get(ObjectKind.PERSON, key)
        if old is not None:
            _person_rows(old, before.ties.get(key, []), before.agents.get(key, ()), opts, before.orgs_by_brin,
                         rows_before)
        if new is not None:
            _person_rows(new, after.ties.get(key, []), after.agents.get(key, ()), opts, after.orgs_by_brin,
                         rows_after)
    if opts.version == "1.1":
        del rows_before["roles"], rows_after["roles"]
    return rows_before, rows_after


def _enrollment_rows_both(roster: PublishedRoster, keys: set[str], before: _Side, after: _Side,
                          opts: MappingOptions) -> tuple[Rows, Rows]:
    rows_before: Rows = {"enrollments": {}}
    rows_after: Rows = {"enrollments": {}}
    for key in keys:
        old = roster.published.get((ObjectKind.MEMBERSHIP, key))
        new = roster.get(ObjectKind.MEMBERSHIP, key)
        if old is not None:
            person = roster.published.get((ObjectKind.PERSON, old.attrs.get("person", "")))
            body = before.enrollment(old, person, opts)
            if body is not None:
                rows_before["enrollments"][sourced_id(key)] = body
        if new is not None:
            body = after.enrollment(new, roster.get(ObjectKind.PERSON, new.attrs.get("person", "")), opts)
            if body is not None:
                rows_after["enrollments"][sourced_id(key)] = body
    return rows_before, rows_after


def _diff(out: Delta, before: Rows, after: Rows) -> None:
    for name in after.keys() | before.keys():
        old, new = before.get(name, {}), after.get(name, {})
        target = out.files.setdefault(name, {})
        for sid, body in new.items():
            if old.get(sid) != body:
                target[sid] = ("active", body)
        for sid, body in old.items():
            if sid not in new:
                target[sid] = ("tobedeleted", body)
