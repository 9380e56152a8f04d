"""Discovery: a read-only walk of an itslearning site that another koppeling (or an import) filled.

IMS ES cannot list hierarchies, so the walk starts from the people:

1. ``readAllPersons`` (ExtendedPersonManagement), pages of :data:`PAGE_SIZE` with ``ConvertFromManual``
   false — reading never gives an account a sync key. The first page says how many there are
   (``virtualCount``); the other pages are read side by side;
2. ``readMembershipsForPerson`` for every account with a sync key (an account made by hand has none,
   and no membership IMS ES could manage);
3. ``readGroups`` for every group those memberships name, and for the ``probe`` ids the caller expects
   (a course whose members are all gone is found that way), in batches of at most :data:`READ_BATCH`;
4. their parents, upward, until the site root (the configured ``site_root``, or a group of type Site).

Every request is a read. At most :data:`CONCURRENCY` are in flight at once: itslearning asks for fewer
than ten unprocessed operations. Transient faults are the client's to retry; a request that still fails
stops the walk with that error (a takeover never works from a site it read in part). A read that
itslearning answers with a per-item failure other than "unknown object" is noted, and the discovery is
then marked incomplete.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from koppel.takeover.model import Discovery, FoundGroup, FoundMembership, FoundPerson
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.mapping import KeyResolver, MappingConfig
from koppel.targets.itslearning.requests import read_all_persons, read_groups, read_memberships_for_person
from koppel.targets.itslearning.responses import (
    item_statuses,
    overall_status,
    read_all_persons_result,
    read_groups_result,
    read_memberships_result,
)
from koppel.targets.itslearning.values import (
    CodeMajor,
    ImsGroup,
    Operation,
    PageRequest,
    RequestHeader,
    SoapRequest,
    SoapResponse,
    StatusInfo,
)

__all__ = ["CONCURRENCY", "PAGE_SIZE", "READ_BATCH", "discover"]

PAGE_SIZE = 100  # readAllPersons: "PageSize ≤ 100 recommended"
READ_BATCH = 50  # itslearning "strongly discourages" more than 50 objects a request
CONCURRENCY = 9  # "fewer than 10 unprocessed operations"
MAX_LEVELS = 20  # parents upward: a cycle in a broken hierarchy must not loop for ever
CONVERTED_PREFIX = "itsla-"  # the sync keys ConvertFromManual gives accounts made by hand

_T = TypeVar("_T")
_R = TypeVar("_R")


class _Walk:
    """One discovery: the sender, a request counter and the notes, shared by the worker threads."""

    def __init__(self, send: Callable[[SoapRequest], SoapResponse], header: Callable[[], RequestHeader],
                 config: MappingConfig, resolve: KeyResolver, concurrency: int, batch: int):
        self._send = send
        self._header = header
        self.config = config
        self.resolve = resolve
        self.concurrency = max(1, concurrency)
        self.batch = max(1, min(batch, READ_BATCH))
        self.requests = 0
        self.notes: list[str] = []
        self.complete = True
        self._lock = threading.Lock()

    def send(self, build: Callable[[RequestHeader], SoapRequest]) -> SoapResponse:
        with self._lock:
            self.requests += 1
        return self._send(build(self._header()))

    def note(self, text: str, *, incomplete: bool = True) -> None:
        with self._lock:
            self.notes.append(text)
            if incomplete:
                self.complete = False

    def each(self, items: Sequence[_T], work: Callable[[_T], _R], *, size: int = 1) -> list[_R]:
        """``work`` for every item, at most ``concurrency`` operations at a time (an item of ``size`` ids is
        that many operations); results in item order."""
        parallel = max(1, self.concurrency // max(1, size))
        if len(items) <= 1 or parallel == 1:
            return [work(item) for item in items]
        workers = min(parallel, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="itslearning-discover") as pool:
            return list(pool.map(work, items))

    # -- persons ----------------------------------------------------------------------------------

    def persons(self) -> list[FoundPerson]:
        first = self._page(1)
        if first is None:
            return []
        total, found = first
        pages = list(range(2, math.ceil(total / PAGE_SIZE) + 1))
        for answer in self.each(pages, self._page):
            if answer is None:
                continue
            found += answer[1]
        by_id: dict[object, FoundPerson] = {}
        for person in found:
            identity: object = person.target_id or ("manual", person.username, person.label, len(by_id))
            by_id.setdefault(identity, person)
        if len(found) < total:
            self.note(f"readAllPersons announced {total} persons but returned {len(found)} (accounts made or "
                      "removed while reading shift the pages); run the takeover again")
        return list(by_id.values())

    def _page(self, index: int) -> tuple[int, list[FoundPerson]] | None:
        response = self.send(lambda header: read_all_persons(PageRequest(index=index, size=PAGE_SIZE), header=header))
        status = overall_status(response, Operation.READ_ALL_PERSONS)
        if status.code_major is not CodeMajor.SUCCESS:
            self.note(f"readAllPersons page {index} failed ({status.text}); is readAllPersons enabled in the "
                      "integration's settings?")
            return None
        page = read_all_persons_result(response)
        persons = []
        for sync_key, person in page.persons:
            attrs = mapping.person_attrs(person, _same, self.config)
            persons.append(FoundPerson(
                target_id=sync_key or None,
                given=attrs["given"] or "", prefix=attrs["prefix"] or "", family=attrs["family"] or "",
                username=attrs["username"], email=attrs["email"], role=attrs["role"],
                manual=not sync_key or sync_key.startswith(CONVERTED_PREFIX),
                ids=tuple(f.value for f in person.extension_fields if f.value),
                managed_key=self._managed(sync_key),
            ))
        return page.virtual_count, persons

    def _managed(self, target_id: str | None) -> str | None:
        if not target_id:
            return None
        return self.resolve.to_key.get(target_id)

    # -- memberships ------------------------------------------------------------------------------

    def memberships(self, persons: Sequence[FoundPerson]) -> list[FoundMembership]:
        ids = [p.target_id for p in persons if p.target_id]
        out: list[FoundMembership] = []
        for found in self.each(ids, self._memberships_of):
            out += found
        return out

    def _memberships_of(self, person_id: str) -> list[FoundMembership]:
        response = self.send(lambda header: read_memberships_for_person(person_id, header=header))
        status = overall_status(response, Operation.READ_MEMBERSHIPS_FOR_PERSON)
        if status.code_major is not CodeMajor.SUCCESS:
            if not _unknown(status):  # an account deleted while reading has no memberships to take over
                self.note(f"readMembershipsForPerson {person_id}: {status.text}")
            return []
        out = []
        for membership_id, membership in read_memberships_result(response):
            if not membership_id:
                continue  # made in the UI: IMS ES cannot manage it
            attrs = mapping.membership_attrs(membership, _same, self.config)
            out.append(FoundMembership(target_id=membership_id, person=membership.person or person_id,
                                       group=membership.group, role=attrs["role"], home=bool(attrs["home"])))
        return out

    # -- groups -----------------------------------------------------------------------------------

    def groups(self, wanted: Iterable[str]) -> tuple[list[FoundGroup], str | None]:
        """Read ``wanted`` and, level by level, the parents of what was found."""
        read: dict[str, FoundGroup] = {}
        asked: set[str] = set()
        site_root: str | None = None
        level = list(dict.fromkeys(g for g in wanted if g and g != self.config.site_root))
        for _ in range(MAX_LEVELS):
            level = [g for g in level if g not in asked]
            if not level:
                break
            asked.update(level)
            chunks = [level[i:i + self.batch] for i in range(0, len(level), self.batch)]
            for found in self.each(chunks, self._read_groups, size=self.batch):
                for group_id, group in found.items():
                    read[group_id] = self._found_group(group_id, group)
            parents = []
            for group_id in level:
                found_group = read.get(group_id)
                if found_group is None:
                    continue
                if found_group.type == "site":
                    site_root = group_id
                elif found_group.parent:
                    parents.append(found_group.parent)
            level = [p for p in dict.fromkeys(parents) if p != self.config.site_root]
        else:
            self.note(f"the hierarchy is more than {MAX_LEVELS} levels deep (or loops); stopped going up")
        groups = [g for g in read.values() if g.type != "site"]
        return groups, site_root or (self.config.site_root if any(g.parent is None for g in groups) else None)

    def _read_groups(self, chunk: Sequence[str]) -> dict[str, ImsGroup]:
        response = self.send(lambda header: read_groups(chunk, header=header))
        statuses = item_statuses(response, len(chunk), operation=Operation.READ_GROUPS)
        found = read_groups_result(response, chunk)
        for group_id, status in zip(chunk, statuses, strict=True):
            if group_id not in found and not _unknown(status):
                self.note(f"readGroups {group_id}: {status.text}")
        return found

    def _found_group(self, group_id: str, group: ImsGroup) -> FoundGroup:
        attrs = mapping.group_attrs(group, _same, self.config)
        raw_type = (group.type or "").lower()
        kind = "site" if raw_type == "site" else attrs["type"]
        return FoundGroup(target_id=group_id, type=kind, name=attrs["name"] or "", code=attrs.get("code"),
                          parent=attrs["parent"], managed_key=self._managed(group_id))


def discover(
    send: Callable[[SoapRequest], SoapResponse],
    header: Callable[[], RequestHeader],
    config: MappingConfig,
    *,
    probe_group_ids: Collection[str] = (),
    known_keys: Collection[str] = (),
    known_target_ids: Mapping[str, str] | None = None,
    concurrency: int = CONCURRENCY,
    batch: int = READ_BATCH,
) -> Discovery:
    """Walk the site read-only (see the module docstring). ``known_keys`` and ``known_target_ids`` (koppel
    key → recorded id) are what koppel manages already: such objects come back with ``managed_key``."""
    started = time.perf_counter()
    walk = _Walk(send, header, config, KeyResolver.build(known_keys, known_target_ids), concurrency, batch)
    persons = walk.persons()
    memberships = walk.memberships(persons)
    groups, site_root = walk.groups([*(m.group for m in memberships), *probe_group_ids])
    if site_root and site_root != config.site_root:
        walk.note(f"the site's root has sync id {site_root!r}, but the target's site_root is "
                  f"{config.site_root!r}: set site_root = {site_root!r}", incomplete=False)
    return Discovery(
        persons=tuple(persons), groups=tuple(groups), memberships=tuple(memberships),
        complete=walk.complete, notes=tuple(walk.notes), requests=walk.requests,
        seconds=time.perf_counter() - started, site_root=site_root,
    )


def _same(value: str) -> str:
    return value


def _unknown(status: StatusInfo) -> bool:
    return status.has_code("unknownobject")
