"""One IMS Enterprise file from what koppel publishes: which records, in which order, streamed to a writer.

Pure apart from writing to the stream it is given. The file is written record by record (a 60,000-pupil bestuur
is 900,000 memberships): no document tree is built; every record is a few lines of text from
:mod:`~koppel.targets.imsenterprise.mapping`.

Order: ``<properties>``, every ``<person>``, every ``<group>``, every ``<membership>`` — Moodle skips a
membership whose person or course it has not met yet. Within a membership the removals come first: Moodle's
unenrol takes the whole enrolment, so an unenrol after an enrol of the same person would undo it.

What a file holds, by profile and mode:

* **Moodle, snapshot**: every active person and every active course (no recstatus: Moodle creates what it lacks
  and leaves what it has), each followed by its update (recstatus 2) when one is being carried; then the carried
  removals — deleted persons (recstatus 3), archived and deleted courses (recstatus 3: hidden) — and in each
  course's membership its carried unenrolments (status 0) before its active members (status 1).
* **Moodle, delta**: only the changes (carried for ``carry_days`` on a fixed file name, or this publication's
  own on a numbered one): recstatus 1 adds, 2 updates, 3 removals.
* **itslearning, snapshot**: every active person, every active and archived group (parents first, with their
  parent as ``<relationship>``) and their memberships; what is missing from a file the import removes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from koppel.model.desired import ObjectKind
from koppel.targets.files import MirrorObject
from koppel.targets.imsenterprise.mapping import (
    HEAD,
    TAIL,
    Event,
    MappingConfig,
    group_record,
    member_line,
    membership_record,
    person_record,
    properties_record,
)
from koppel.targets.imsenterprise.settings import Categories, Mode

__all__ = ["View", "Written", "ancestors", "categories_of", "view_of", "write_file"]

_ACTIVE = "active"
_CHUNK = 1 << 16


@dataclass
class View:
    """The published roster, indexed for writing: persons and groups by key (every status), active memberships
    by group key, each list in key order."""

    persons: dict[str, MirrorObject] = field(default_factory=dict)
    groups: dict[str, MirrorObject] = field(default_factory=dict)
    memberships: dict[str, list[MirrorObject]] = field(default_factory=lambda: defaultdict(list))


def view_of(objects: Iterable[MirrorObject]) -> View:
    view = View()
    for obj in objects:
        if obj.kind is ObjectKind.PERSON:
            view.persons[obj.key] = obj
        elif obj.kind is ObjectKind.GROUP:
            view.groups[obj.key] = obj
        elif obj.status == _ACTIVE:
            view.memberships[str(obj.attrs.get("group"))].append(obj)
    return view


@dataclass
class Written:
    """What a file holds, for the publish note and the tests."""

    persons: int = 0
    groups: int = 0
    members: int = 0
    updates: int = 0
    removals: int = 0

    def note(self) -> str:
        extra = []
        if self.updates:
            extra.append(f"{self.updates:,} update(s)")
        if self.removals:
            extra.append(f"{self.removals:,} removal(s)")
        tail = f"; {', '.join(extra)}" if extra else ""
        return f"{self.persons:,} person(s), {self.groups:,} group(s), {self.members:,} member(s){tail}"


class _Out:
    """Buffers records and writes them in chunks of about 64 KiB (one write per record is slow)."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.parts: list[str] = []
        self.size = 0

    def __call__(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.stream.write("".join(self.parts).encode("utf-8"))
            self.parts.clear()
            self.size = 0


def ident(obj: MirrorObject) -> str:
    return obj.target_id or obj.key


def ancestors(key: str, groups: Mapping[str, MirrorObject]) -> list[MirrorObject]:
    """The group's parents, top down (a missing or looping parent ends the walk)."""
    chain: list[MirrorObject] = []
    seen = {key}
    parent = groups[key].attrs.get("parent") if key in groups else None
    while parent and parent in groups and parent not in seen:
        seen.add(parent)
        obj = groups[parent]
        chain.append(obj)
        parent = obj.attrs.get("parent")
    chain.reverse()
    return chain


def categories_of(key: str, groups: Mapping[str, MirrorObject], config: MappingConfig) -> tuple[str, ...]:
    """Moodle's course category names for a course: its school's name, or every parent's, top down."""
    if config.categories is Categories.NONE:
        return ()
    chain = ancestors(key, groups)
    if config.categories is Categories.SCHOOL:
        schools = [g for g in chain if g.attrs.get("type") == "school"] or chain[:1]
        chain = schools[:1]
    return tuple(str(g.attrs.get("name") or g.key) for g in chain)


def write_file(stream: IO[bytes], view: View, events: Iterable[Event], config: MappingConfig, *, when: str) -> Written:
    """Write the whole file to ``stream``; ``events`` are the records beyond the snapshot (Moodle)."""
    out = _Out(stream)
    written = Written()
    out(HEAD)
    out(properties_record(config, when=when, kind=config.mode.value))
    if config.moodle:
        _moodle(out, view, list(events), config, written)
    else:
        _itslearning(out, view, config, written)
    out(TAIL)
    out.flush()
    return written


def _moodle(out: _Out, view: View, events: list[Event], config: MappingConfig, written: Written) -> None:
    snapshot = config.mode is Mode.SNAPSHOT
    by_kind: dict[ObjectKind, dict[str, Event]] = {kind: {} for kind in ObjectKind}
    for event in events:
        by_kind[event.kind][event.key] = event
    person_events, group_events = by_kind[ObjectKind.PERSON], by_kind[ObjectKind.GROUP]

    # persons
    active_persons = {k: p for k, p in view.persons.items() if p.status == _ACTIVE} if snapshot else {}
    active_usernames = {config.username(str(p.attrs.get("username") or "")) for p in view.persons.values()
                        if p.status == _ACTIVE}
    for key, person in active_persons.items():
        out(person_record(ident(person), person.attrs, config))
        written.persons += 1
        carried = person_events.get(key)
        if carried is not None:
            _person_event(out, carried, config, written, skip_add=True)
    for key in sorted(person_events):
        if key in active_persons:
            continue
        event = person_events[key]
        if 3 in event.records and config.username(str(event.attrs.get("username") or "")) in active_usernames:
            continue  # the user name belongs to someone else now: Moodle deletes by user name
        _person_event(out, event, config, written, skip_add=False)

    # groups (courses)
    courses = {k: g for k, g in view.groups.items() if g.status == _ACTIVE and config.writes_group(g.attrs.get("type"))}
    if snapshot:
        for key, group in courses.items():
            out(group_record(ident(group), group.attrs, config, categories=categories_of(key, view.groups, config)))
            written.groups += 1
            carried = group_events.get(key)
            if carried is not None:
                _group_event(out, carried, view, config, written, skip_add=True)
    for key in sorted(group_events):
        if snapshot and key in courses:
            continue
        _group_event(out, group_events[key], view, config, written, skip_add=False)

    # memberships, per course: carried unenrolments first, then the members
    member_events: dict[str, list[Event]] = defaultdict(list)
    for key in sorted(by_kind[ObjectKind.MEMBERSHIP]):
        event = by_kind[ObjectKind.MEMBERSHIP][key]
        member_events[str(event.attrs["group"])].append(event)
    group_keys = sorted(set(courses) | set(member_events)) if snapshot else sorted(member_events)
    for group_key in group_keys:
        members: list[str] = []
        current = view.memberships.get(group_key, []) if group_key in courses else []
        enrolled = {str(m.attrs.get("person")) for m in current}
        for event in member_events.get(group_key, ()):
            attrs = event.attrs
            if 3 in event.records:
                if attrs["person"] in enrolled:
                    continue  # another role of the same person stays: Moodle's unenrol would take them all
                members.append(member_line(attrs["person_id"], str(attrs["username"]), attrs["roletype"], config,
                                           active=False))
                written.removals += 1
            elif not snapshot:
                members.append(member_line(attrs["person_id"], str(attrs["username"]), attrs["roletype"], config))
        if snapshot:
            for membership in current:
                line = _active_member(membership, view, config)
                if line is not None:
                    members.append(line)
        written.members += len(members)
        if members:
            course = view.groups.get(group_key)
            group_id = ident(course) if course is not None else _event_group_id(member_events[group_key])
            out(membership_record(group_id, members, config))


def _event_group_id(events: list[Event]) -> str:
    return str(events[0].attrs["group_id"])


def _active_member(membership: MirrorObject, view: View, config: MappingConfig) -> str | None:
    person = view.persons.get(str(membership.attrs.get("person")))
    roletype = config.role_codes.get(str(membership.attrs.get("role")))
    if person is None or person.status != _ACTIVE or roletype is None:
        return None
    return member_line(ident(person), str(person.attrs.get("username") or ""), roletype, config)


def _person_event(out: _Out, event: Event, config: MappingConfig, written: Written, *, skip_add: bool) -> None:
    fields = frozenset(event.fields) if event.fields is not None else None
    for recstatus in event.records:
        if recstatus == 1 and skip_add:
            continue
        out(person_record(str(event.attrs["id"]), event.attrs, config, recstatus=recstatus,
                          auth=event.auth if recstatus == 2 else None, fields=fields if recstatus == 2 else None))
        if recstatus == 1:
            written.persons += 1
        elif recstatus == 2:
            written.updates += 1
        else:
            written.removals += 1


def _group_event(out: _Out, event: Event, view: View, config: MappingConfig, written: Written, *,
                 skip_add: bool) -> None:
    categories = categories_of(event.key, view.groups, config) if event.key in view.groups else ()
    for recstatus in event.records:
        if recstatus == 1 and skip_add:
            continue
        out(group_record(str(event.attrs["id"]), event.attrs, config, recstatus=recstatus, categories=categories))
        if recstatus == 1:
            written.groups += 1
        elif recstatus == 2:
            written.updates += 1
        else:
            written.removals += 1


def _itslearning(out: _Out, view: View, config: MappingConfig, written: Written) -> None:
    persons = {k: p for k, p in view.persons.items() if p.status == _ACTIVE}
    for person in persons.values():
        out(person_record(ident(person), person.attrs, config))
        written.persons += 1
    groups = {k: g for k, g in view.groups.items() if g.status in (_ACTIVE, "archived")}
    depth = {k: len(ancestors(k, groups)) for k in groups}
    for key in sorted(groups, key=lambda k: (depth[k], k)):
        group = groups[key]
        parent_key = group.attrs.get("parent")
        parent = groups.get(str(parent_key)) if parent_key else None
        relation = (ident(parent), str(parent.attrs.get("name") or parent.key)) if parent is not None else None
        out(group_record(ident(group), group.attrs, config, parent=relation))
        written.groups += 1
    for key in sorted(groups):
        members = [line for m in view.memberships.get(key, ()) if (line := _active_member(m, view, config))]
        written.members += len(members)
        if members:
            out(membership_record(ident(groups[key]), members, config))


def counts(view: View) -> dict[str, Any]:
    """Objects in the mirror by kind and status (``koppel check``)."""
    out: dict[str, Any] = {}
    for name, table in (("persons", view.persons), ("groups", view.groups)):
        by_status: dict[str, int] = defaultdict(int)
        for obj in table.values():
            by_status[obj.status] += 1
        out[name] = dict(by_status)
    out["memberships"] = sum(len(v) for v in view.memberships.values())
    return out


def event_records(event: Event, config: MappingConfig, *, categories: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    """The records of one event, each with its recstatus: for previews (``koppel plan --show-payloads``)."""
    attrs = event.attrs
    if event.kind is ObjectKind.PERSON:
        fields = frozenset(event.fields) if event.fields is not None else None
        return [(r, person_record(str(attrs["id"]), attrs, config, recstatus=r, auth=event.auth if r == 2 else None,
                                  fields=fields if r == 2 else None)) for r in event.records]
    if event.kind is ObjectKind.GROUP:
        return [(r, group_record(str(attrs["id"]), attrs, config, recstatus=r, categories=categories))
                for r in event.records]
    return [(r, membership_record(str(attrs["group_id"]), [member_line(
        str(attrs["person_id"]), str(attrs["username"]), str(attrs["roletype"]), config, active=r != 3)], config))
        for r in event.records]
