"""Reading an itslearning site back in koppel's vocabulary, for reconciliation. Read-only.

* every person (``readAllPersons``, paged by :data:`PAGE_SIZE` until ``virtualCount``); persons made by
  hand have no sync key (``key=None``) or one itslearning assigned (``itsla-…``), and are
  ``manual=True``;
* the groups koppel knows (``readGroups``): IMS ES cannot list hierarchies, and the ones made in the UI
  cannot be managed anyway;
* the memberships of each group found (``readMembershipsForGroup``, at most ``concurrency`` at once).

:func:`convert_manual_accounts` is the one writing exception: ``readAllPersons`` with
``ConvertFromManual``, only for an approved adoption.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from koppel.errors import TargetProtocolError
from koppel.model.desired import ObjectKind
from koppel.targets.base import ReadObject, TargetSnapshot
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.batches import chunks
from koppel.targets.itslearning.mapping import KeyResolver, MappingConfig
from koppel.targets.itslearning.requests import read_all_persons, read_groups, read_memberships_for_group
from koppel.targets.itslearning.responses import (
    item_statuses,
    overall_status,
    read_all_persons_result,
    read_groups_result,
    read_memberships_result,
)
from koppel.targets.itslearning.values import (
    CodeMajor,
    Operation,
    PageRequest,
    RequestHeader,
    SoapRequest,
    SoapResponse,
    StatusInfo,
)

__all__ = ["PAGE_SIZE", "SiteReader"]

PAGE_SIZE = 100  # readAllPersons: "PageSize ≤ 100 recommended"


@dataclass(frozen=True)
class SiteReader:
    """Reads for one target: how to send, a fresh header per request, the mapping, and the limits.

    ``batch`` is the number of ids per ``readGroups``; ``concurrency`` the number of
    ``readMembershipsForGroup`` requests in flight at once.
    """

    send: Callable[[SoapRequest], SoapResponse]
    header: Callable[[], RequestHeader]
    config: MappingConfig
    batch: int
    concurrency: int

    def read(
        self,
        known_group_keys: Collection[str],
        known_person_keys: Collection[str],
        known_target_ids: Mapping[str, str] | None,
    ) -> TargetSnapshot:
        """What itslearning holds (see ``ItslearningTarget.read``); ``complete=False`` with notes when a
        page or a group could not be read."""
        resolve = KeyResolver.build([*known_person_keys, *known_group_keys], known_target_ids)
        notes: list[str] = []
        persons, persons_complete = self._persons(resolve, notes)
        group_ids = list(
            dict.fromkeys(
                (known_target_ids or {}).get(key) or mapping.stable_key(key) for key in known_group_keys
            )
        )
        groups, groups_complete = self._groups(group_ids, resolve, notes)
        found = [group.target_id for group in groups if group.target_id]
        memberships, memberships_complete = self._memberships(found, resolve, notes)
        return TargetSnapshot(
            objects=tuple(persons + groups + memberships),
            complete=persons_complete and groups_complete and memberships_complete,
            notes=tuple(notes),
        )

    def _persons(self, resolve: KeyResolver, notes: list[str]) -> tuple[list[ReadObject], bool]:
        by_id: dict[object, ReadObject] = {}
        index, received, total = 1, 0, 0
        while True:
            response = self.send(read_all_persons(PageRequest(index=index, size=PAGE_SIZE), header=self.header()))
            status = overall_status(response, Operation.READ_ALL_PERSONS)
            if status.code_major is not CodeMajor.SUCCESS:
                notes.append(
                    f"readAllPersons page {index} failed ({status.text}); "
                    "persons are incomplete — is readAllPersons enabled for the integration?"
                )
                return list(by_id.values()), False
            page = read_all_persons_result(response)
            total = page.virtual_count
            for sync_key, person in page.persons:
                attrs = mapping.person_attrs(person, resolve, self.config)
                manual = sync_key is None or sync_key.startswith("itsla-")
                identity: object = sync_key if sync_key else ("manual", person.user_id, len(by_id))
                by_id[identity] = ReadObject(
                    kind=ObjectKind.PERSON,
                    key=resolve(sync_key) if sync_key else None,
                    attrs=attrs,
                    target_id=sync_key,
                    manual=manual,
                )
            received += len(page.persons)
            if received >= total or not page.persons or index >= math.ceil(total / PAGE_SIZE) + 1:
                break
            index += 1
        if received < total:
            notes.append(f"readAllPersons announced {total} persons but returned {received}")
            return list(by_id.values()), False
        return list(by_id.values()), True

    def _groups(
        self, group_ids: Sequence[str], resolve: KeyResolver, notes: list[str]
    ) -> tuple[list[ReadObject], bool]:
        objects: list[ReadObject] = []
        complete = True
        for chunk in chunks(group_ids, self.batch):
            response = self.send(read_groups(chunk, header=self.header()))
            statuses = item_statuses(response, len(chunk), operation=Operation.READ_GROUPS)
            found = read_groups_result(response, chunk)
            for group_id, status in zip(chunk, statuses, strict=True):
                if group_id in found:
                    attrs = mapping.group_attrs(found[group_id], resolve, self.config)
                    objects.append(
                        ReadObject(
                            kind=ObjectKind.GROUP, key=resolve(group_id), attrs=attrs, target_id=group_id
                        )
                    )
                elif not _unknown(status):
                    complete = False
                    notes.append(f"readGroups {group_id}: {status.text}")
        return objects, complete

    def _memberships(
        self, group_ids: Sequence[str], resolve: KeyResolver, notes: list[str]
    ) -> tuple[list[ReadObject], bool]:
        if not group_ids:
            return [], True
        workers = min(self.concurrency, len(group_ids))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="itslearning-read") as pool:
            answers = list(pool.map(lambda group_id: self._memberships_of(group_id, resolve), group_ids))
        objects = [obj for found, _ in answers for obj in found]
        problems = [problem for _, problem in answers if problem]
        notes.extend(problems)
        return objects, not problems

    def _memberships_of(self, group_id: str, resolve: KeyResolver) -> tuple[list[ReadObject], str | None]:
        response = self.send(read_memberships_for_group(group_id, header=self.header()))
        status = overall_status(response, Operation.READ_MEMBERSHIPS_FOR_GROUP)
        if status.code_major is not CodeMajor.SUCCESS:
            if _unknown(status):
                return [], None
            return [], f"readMembershipsForGroup {group_id}: {status.text}"
        objects = [
            ReadObject(
                kind=ObjectKind.MEMBERSHIP,
                key=resolve(membership_id) if membership_id else None,
                attrs=mapping.membership_attrs(membership, resolve, self.config),
                target_id=membership_id or None,
                manual=not membership_id,
            )
            for membership_id, membership in read_memberships_result(response)
        ]
        return objects, None

    def convert_manual_accounts(self) -> list[ReadObject]:
        """Give every account made by hand a sync key (``readAllPersons`` with ``ConvertFromManual``) and
        return the manual accounts with the keys they have now. This writes: only for an approved adoption."""
        resolve = KeyResolver.build([], None)
        out: list[ReadObject] = []
        index = 1
        while True:
            request = PageRequest(index=index, size=PAGE_SIZE, only_manually_created=True, convert_from_manual=True)
            response = self.send(read_all_persons(request, header=self.header()))
            status = overall_status(response, Operation.READ_ALL_PERSONS)
            if status.code_major is not CodeMajor.SUCCESS:
                raise TargetProtocolError(f"readAllPersons with ConvertFromManual failed: {status.text}")
            page = read_all_persons_result(response)
            out += [ReadObject(ObjectKind.PERSON, None, mapping.person_attrs(person, resolve, self.config),
                               target_id=key, manual=True) for key, person in page.persons]
            if len(out) >= page.virtual_count or not page.persons:
                return out
            index += 1


def _unknown(status: StatusInfo) -> bool:
    return status.has_code("unknownobject")
