"""What the sandbox holds, as plain data: for ``/sandbox/api/stats``, ``/sandbox/api/objects`` and the
HTML pages. Tests assert on these, so the shapes are part of the sandbox's contract (documented in
docs/sandbox-itslearning.md) and only grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import Course, Group, Membership, Person
from .store import Counter, Store

__all__ = [
    "HierarchyNode",
    "course_json",
    "group_json",
    "hierarchy",
    "membership_json",
    "objects",
    "person_json",
    "stats",
]


def stats(store: Store) -> dict[str, Any]:
    """Counts of what is there now (trashed persons and their memberships not included) and of traffic.

    ``operations_in_flight`` is added by the running sandbox (it is measured in memory, not stored)."""
    return {
        **store.object_counts(),
        "requests": store.requests.per_operation(),
        "requests_total": store.requests.count(),
        "writes": store.requests.count(access="write"),
        "max_in_flight_seen": store.counters.get(Counter.MAX_IN_FLIGHT_SEEN),
        "faults_injected": store.counters.get(Counter.FAULTS_INJECTED),
        "http_503": store.counters.get(Counter.HTTP_503),
        "batches_over_50": store.counters.get(Counter.BATCHES_OVER_LIMIT),
        "elements_skipped": {
            "unknown": store.counters.get(Counter.SKIPPED_UNKNOWN),
            "out_of_order": store.counters.get(Counter.SKIPPED_OUT_OF_ORDER),
        },
    }


def objects(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Everything, trashed persons, hidden memberships and orphaned courses included (with flags)."""
    return {
        "persons": [person_json(person) for person in store.persons()],
        "groups": [group_json(group) for group in store.groups()],
        "courses": [course_json(course, store) for course in store.courses()],
        "memberships": [membership_json(membership) for membership in store.memberships()],
    }


def person_json(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "sync_key": person.sync_key,
        "first": person.first,
        "last": person.last,
        "prefix": person.prefix,
        "username": person.username,
        "email": person.email,
        "institution_role": person.institution_role,
        "profile": str(person.profile),
        "origin": person.origin.value,
        "trashed": person.trashed,
        "trashed_at": person.trashed_at,
        "children": list(person.children),
        "extension": {field.name: field.value for field in person.extension_fields},
        "created_at": person.created_at,
        "updated_at": person.updated_at,
    }


def group_json(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "sync_id": group.sync_id,
        "type": group.type.value,
        "name": group.name,
        "desc_long": group.desc_long,
        "desc_full": group.desc_full,
        "parent_id": group.parent_id,
        "parent_sync_id": group.parent_sync_id,
        "course": None
        if group.course is None
        else {
            "id": group.course.id,
            "title": group.course.title,
            "code": group.course.code,
            "credits": group.course.credits,
        },
        "extension": {field.name: field.value for field in group.extension_fields},
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }


def course_json(course: Course, store: Store) -> dict[str, Any]:
    group = None if course.group_id is None else store.group_by_id(course.group_id)
    return {
        "id": course.id,
        "title": course.title,
        "code": course.code,
        "credits": course.credits,
        "sync_id": course.sync_id,
        "group_sync_id": None if group is None else group.sync_id,
        "orphaned": course.orphaned,
        "disconnected_at": course.disconnected_at,
        "created_at": course.created_at,
    }


def membership_json(membership: Membership) -> dict[str, Any]:
    return {
        "id": membership.id,
        "sync_id": membership.sync_id,
        "group_sync_id": membership.group_sync_id,
        "person_sync_key": membership.person_sync_key,
        "role": membership.role.value,
        "role_code": membership.role.code,
        "hierarchy_role": membership.role.hierarchy_role,
        "home_organisation": membership.home_organisation,
        "person_trashed": membership.person_trashed,
        "created_at": membership.created_at,
        "updated_at": membership.updated_at,
    }


@dataclass
class HierarchyNode:
    group: Group
    members: int
    children: list[HierarchyNode] = field(default_factory=list)


def hierarchy(store: Store) -> list[HierarchyNode]:
    """The hierarchy as trees, roots first, children in creation order."""
    counts = store.membership_counts()
    nodes = {group.id: HierarchyNode(group, counts.get(group.id, 0)) for group in store.groups()}
    roots: list[HierarchyNode] = []
    for node in nodes.values():
        parent = nodes.get(node.group.parent_id) if node.group.parent_id is not None else None
        (roots if parent is None else parent.children).append(node)
    return roots
