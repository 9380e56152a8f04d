"""The emulated itslearning site: runs one decoded request against the store and says what happened.

It owns the request-level rules — one transaction per request, one savepoint and one status per item
in request order — and hands each item to the rules of its kind (``persons``, ``groups``,
``memberships``). It knows nothing of HTTP, XML or load: a request over ``max_batch`` operations is
processed like any other (it is only counted, by the endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from . import groups, memberships, persons
from .config import SandboxConfig
from .decode import KeysRequest, PageRequest, Request, SubjectRequest, WriteRequest
from .model import ObjectKind, Outcome, Record, Status
from .operations import Operation, Verb
from .rules import Context, Rejected
from .store import Store

__all__ = ["Site", "now_iso"]

Item = TypeVar("Item")
Delete = Callable[[Store, Context, str | None], Status]
Read = Callable[[Store, str | None], Record]

# Each upsert takes the payload type its kind decodes to (PersonData for persons …).
_UPSERTS: dict[ObjectKind, Callable[..., Status]] = {
    ObjectKind.PERSON: persons.upsert_person,
    ObjectKind.GROUP: groups.upsert_group,
    ObjectKind.MEMBERSHIP: memberships.upsert_membership,
}
_DELETES: dict[ObjectKind, Delete] = {
    ObjectKind.PERSON: persons.delete_person,
    ObjectKind.GROUP: groups.delete_group,
    ObjectKind.MEMBERSHIP: memberships.delete_membership,
}
_READS: dict[ObjectKind, Read] = {
    ObjectKind.PERSON: persons.live_person,
    ObjectKind.GROUP: groups.existing_group,
    ObjectKind.MEMBERSHIP: memberships.read_membership,
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Site:
    def __init__(self, store: Store, config: SandboxConfig, doomed: Callable[[ObjectKind, str], bool]):
        self.store = store
        self.config = config
        self._doomed = doomed

    def execute(self, operation: Operation, request: Request) -> Outcome:
        """Run ``request`` in one transaction. Per-item failures are statuses, never exceptions."""
        context = Context(
            now=now_iso(),
            seed=self.config.seed,
            doomed=self._doomed,
            site_profiles=frozenset(self.config.extra_institution_roles),
        )
        with self.store.transaction():
            return self._dispatch(operation, request, context)

    def _dispatch(self, operation: Operation, request: Request, context: Context) -> Outcome:
        kind, store = operation.kind, self.store
        if isinstance(request, WriteRequest):
            upsert = _UPSERTS[kind]
            return _each(
                store, request.items, lambda item: (upsert(store, context, item.key, item.payload), None)
            )
        if isinstance(request, KeysRequest) and operation.verb is Verb.DELETE:
            delete = _DELETES[kind]
            return _each(store, request.keys, lambda key: (delete(store, context, key), None))
        if isinstance(request, KeysRequest):
            read = _READS[kind]
            return _each(store, request.keys, lambda key: (Status.success(), read(store, key)))
        if isinstance(request, SubjectRequest):
            return self._read_for(operation, request.key)
        assert isinstance(request, PageRequest)
        return persons.read_all_persons(store, context, request)

    def _read_for(self, operation: Operation, key: str | None) -> Outcome:
        """readPersonsForGroup, readGroupsForPerson, readMembershipsFor{Group,Person}."""
        try:
            records = self._related(operation, key)
        except Rejected as rejected:
            return Outcome((rejected.status,))
        return Outcome((Status.success(),), tuple(records))

    def _related(self, operation: Operation, key: str | None) -> Sequence[Record]:
        store = self.store
        if operation.subject is ObjectKind.GROUP:
            group = groups.existing_group(store, key)
            if operation.kind is ObjectKind.PERSON:
                return store.persons_in_group(group.id)
            return store.memberships_in_group(group.id)
        person = persons.live_person(store, key)
        if operation.kind is ObjectKind.GROUP:
            return store.groups_for_person(person.id)
        return store.memberships_of_person(person.id)


def _each(
    store: Store, items: Sequence[Item], handle: Callable[[Item], tuple[Status, Record | None]]
) -> Outcome:
    """Handle every item in its own savepoint; collect statuses (and what was read) in request order."""
    statuses: list[Status] = []
    found: list[Record] = []
    for item in items:
        try:
            with store.savepoint():
                status, record = handle(item)
        except Rejected as rejected:
            statuses.append(rejected.status)
            continue
        statuses.append(status)
        if record is not None:
            found.append(record)
    return Outcome(tuple(statuses), tuple(found))
