"""The itslearning target: applies plan changes over IMS Enterprise Services and reads back.

Each (kind, action) maps to one batch operation (:data:`OPERATIONS`); a batch of changes
becomes one request per ``batch_size`` items, and every change gets exactly one
``ItemResult``, in order. Lifecycle actions map onto what itslearning allows:

=================  ==================  =====================================================
change             operation           why
=================  ==================  =====================================================
person create      createPersons       an upsert
person update      updatePersons       additive: fields koppel does not own are left alone
person suspend     deletePersons       the trash can: no login, data kept, restorable
person restore     createPersons       re-creating with the same sync key restores the user
person delete      deletePersons       already in the trash counts as done
group create       createGroups        an upsert (a course is created with its hierarchy)
group update       updateGroups        always with the parent relationship
group archive      updateGroups        moved under the school's archive hierarchy, name
                                       marked with its school year, course and content kept
group restore      createGroups        back under its parent with its own name
group delete       deleteGroups        descendants and memberships go too; a course is only
                                       disconnected (courses cannot be deleted over IMS ES)
membership create  createMemberships
membership update  updateMemberships   only role and HomeOrganisation can change
membership delete  deleteMemberships
=================  ==================  =====================================================

Requests that fail as a whole raise (``TransientTargetError``: the applier retries the batch
with backoff; ``TargetAuthError``/``TargetProtocolError``: the run stops); per-item outcomes are
results. ``apply`` is called from as many threads as the applier's operations budget allows (at most
``max_operations_in_flight``): the only shared state is the HTTP client (thread-safe) and the set of
archive hierarchies already made (locked).
"""

from __future__ import annotations

import itertools
import math
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from koppel.errors import TargetProtocolError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.takeover.model import Discovery
from koppel.targets.base import Capabilities, Check, ReadObject, TargetSnapshot
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.envelopes import (
    CodeMajor,
    Credentials,
    Operation,
    PageRequest,
    RequestHeader,
    SoapRequest,
    SoapResponse,
    StatusInfo,
    build_request,
    item_statuses,
    read_all_persons,
    read_all_persons_result,
    read_groups,
    read_groups_result,
    read_memberships_for_group,
    read_memberships_result,
)
from koppel.targets.itslearning.mapping import ArchiveFolder, KeyResolver, MappingConfig, Prepared
from koppel.targets.itslearning.preflight import run_checks
from koppel.targets.itslearning.settings import ItslearningSettings

__all__ = ["OPERATIONS", "PAGE_SIZE", "ItslearningTarget"]

log = structlog.get_logger(__name__)

OPERATIONS: Mapping[tuple[ObjectKind, Action], Operation] = {
    (ObjectKind.PERSON, Action.CREATE): Operation.CREATE_PERSONS,
    (ObjectKind.PERSON, Action.UPDATE): Operation.UPDATE_PERSONS,
    (ObjectKind.PERSON, Action.SUSPEND): Operation.DELETE_PERSONS,
    (ObjectKind.PERSON, Action.RESTORE): Operation.CREATE_PERSONS,
    (ObjectKind.PERSON, Action.DELETE): Operation.DELETE_PERSONS,
    (ObjectKind.GROUP, Action.CREATE): Operation.CREATE_GROUPS,
    (ObjectKind.GROUP, Action.UPDATE): Operation.UPDATE_GROUPS,
    (ObjectKind.GROUP, Action.ARCHIVE): Operation.UPDATE_GROUPS,
    (ObjectKind.GROUP, Action.RESTORE): Operation.CREATE_GROUPS,
    (ObjectKind.GROUP, Action.DELETE): Operation.DELETE_GROUPS,
    (ObjectKind.MEMBERSHIP, Action.CREATE): Operation.CREATE_MEMBERSHIPS,
    (ObjectKind.MEMBERSHIP, Action.UPDATE): Operation.UPDATE_MEMBERSHIPS,
    (ObjectKind.MEMBERSHIP, Action.DELETE): Operation.DELETE_MEMBERSHIPS,
}
_DELETES = frozenset({Operation.DELETE_PERSONS, Operation.DELETE_GROUPS, Operation.DELETE_MEMBERSHIPS})
PAGE_SIZE = 100  # readAllPersons: "PageSize ≤ 100 recommended"


def _new_message_id() -> str:
    return str(uuid.uuid4())


class ItslearningTarget:
    """A koppel Target for one itslearning IMS Enterprise Services integration."""

    def __init__(
        self,
        name: str,
        settings: ItslearningSettings,
        *,
        client: ImsClient,
        credentials: Credentials,
        message_ids: Callable[[], str] = _new_message_id,
    ):
        self.name = name
        self.settings = settings
        self.capabilities = Capabilities(
            max_batch=settings.batch_size,
            max_operations_in_flight=settings.max_operations_in_flight,
            adaptive=settings.adaptive,
            actions=frozenset(OPERATIONS),
            can_read=True,
        )
        self._config: MappingConfig = settings.mapping_config()
        self._client = client
        self._credentials = credentials
        self._message_ids = message_ids
        self._archive_folders: set[str] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        endpoints = sorted(set(self._client.endpoints.values()))
        return f"ItslearningTarget(name={self.name!r}, endpoints={endpoints!r})"

    # -- apply ---------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Change]) -> list[ItemResult]:
        """One ItemResult per change, in order. All changes share one kind and one action."""
        changes = list(batch)
        if not changes:
            return []
        operation = self._operation_of(changes)
        if operation is None:
            return [_as_result(mapping.prepare(change, self._config)) for change in changes]
        results: list[ItemResult] = []
        for chunk in _chunks(changes, self.settings.batch_size):
            results.extend(self._apply_chunk(chunk, operation))
        return results

    def payloads(self, batch: Sequence[Change]) -> list[SoapRequest]:
        """The requests ``apply`` would send for ``batch``, without credentials: for previews.

        Archive batches start with the createGroups request for their archive hierarchies.
        Message identifiers are ``preview-1``, ``preview-2`` … so previews are reproducible.
        """
        changes = list(batch)
        operation = self._operation_of(changes) if changes else None
        if operation is None:
            return []
        numbers = itertools.count(1)
        requests = []
        for chunk in _chunks(changes, self.settings.batch_size):
            ready = [p for p in (mapping.prepare(c, self._config) for c in chunk) if isinstance(p, Prepared)]
            folders = _archive_folders(ready)
            if folders:
                header = RequestHeader(f"preview-{next(numbers)}")
                requests.append(build_request(Operation.CREATE_GROUPS, _folder_items(folders), header=header))
            if ready:
                requests.append(
                    build_request(
                        operation,
                        _wire_items(operation, ready),
                        header=RequestHeader(f"preview-{next(numbers)}"),
                    )
                )
        return requests

    def _operation_of(self, changes: Sequence[Change]) -> Operation | None:
        kind, action = changes[0].kind, changes[0].action
        mixed = sorted(
            {f"{c.kind.value} {c.action.value}" for c in changes if (c.kind, c.action) != (kind, action)}
        )
        if mixed:
            raise ValueError(
                "one batch must hold one kind and one action; "
                f"got {kind.value} {action.value} and {', '.join(mixed)}"
            )
        return OPERATIONS.get((kind, action))

    def _apply_chunk(self, chunk: Sequence[Change], operation: Operation) -> list[ItemResult]:
        outcomes: list[ItemResult | None] = [None] * len(chunk)
        ready: list[tuple[int, Prepared[Any]]] = []
        for index, change in enumerate(chunk):
            prepared = mapping.prepare(change, self._config)
            if isinstance(prepared, ItemResult):
                log.warning(
                    "itslearning.item_refused", key=change.key, code=prepared.code, message=prepared.message
                )
                outcomes[index] = prepared
            else:
                ready.append((index, prepared))
        ready = self._ensure_archive_folders(ready, outcomes)
        if ready:
            for (index, _), result in zip(
                ready, self._send_items(operation, [p for _, p in ready]), strict=True
            ):
                outcomes[index] = result
        assert all(outcome is not None for outcome in outcomes)
        return outcomes  # type: ignore[return-value]

    def _ensure_archive_folders(
        self, ready: list[tuple[int, Prepared[Any]]], outcomes: list[ItemResult | None]
    ) -> list[tuple[int, Prepared[Any]]]:
        """Upsert the archive hierarchies an archive batch moves groups into, once per target.

        Items whose archive hierarchy could not be made get that hierarchy's outcome (RETRY stays
        RETRY, anything else is FAILED) and are not sent.
        """
        folders = _archive_folders([p for _, p in ready])
        with self._lock:
            missing = [folder for folder in folders if folder.sync_id not in self._archive_folders]
        if not missing:
            return ready
        refused: dict[str, ItemResult] = {}
        for folder, result in zip(
            missing, self._send_items(Operation.CREATE_GROUPS, _folder_prepared(missing)), strict=True
        ):
            if result.ok:
                with self._lock:
                    self._archive_folders.add(folder.sync_id)
            else:
                refused[folder.sync_id] = result
        kept = []
        for index, prepared in ready:
            assert prepared.archive_folder is not None
            problem = refused.get(prepared.archive_folder.sync_id)
            if problem is None:
                kept.append((index, prepared))
                continue
            outcomes[index] = ItemResult(
                key=prepared.key,
                outcome=ItemOutcome.RETRY if problem.outcome is ItemOutcome.RETRY else ItemOutcome.FAILED,
                message=f"archive hierarchy {prepared.archive_folder.name!r} could not be made: "
                f"{problem.message}",
                code=problem.code,
                target_id=prepared.wire_id,
            )
        return kept

    def _send_items(self, operation: Operation, items: Sequence[Prepared[Any]]) -> list[ItemResult]:
        request = build_request(operation, _wire_items(operation, items), header=self._header())
        response = self._client.send(request)
        statuses = item_statuses(response, len(items), operation=operation)
        _check_echo(request, response)
        deleting = operation in _DELETES
        results = [
            mapping.item_result(item, status, deleting=deleting)
            for item, status in zip(items, statuses, strict=True)
        ]
        _log_results(request, results)
        return results

    def _header(self) -> RequestHeader:
        return RequestHeader(self._message_ids(), self._credentials)

    # -- read ----------------------------------------------------------------------------------

    def read(
        self,
        known_group_keys: Collection[str] = (),
        *,
        known_person_keys: Collection[str] = (),
        known_target_ids: Mapping[str, str] | None = None,
    ) -> TargetSnapshot:
        """What itslearning holds, in koppel's vocabulary, for reconciliation. Read-only.

        * every person (``readAllPersons``, paged by 100 until ``virtualCount``); persons made by
          hand have no sync key (``key=None``) or one itslearning assigned (``itsla-…``), and are
          ``manual=True``;
        * the groups koppel knows (``readGroups`` for ``known_group_keys``): IMS ES cannot list
          hierarchies, and the ones made in the UI cannot be managed anyway;
        * the memberships of each group found (``readMembershipsForGroup``, at most
          ``max_operations_in_flight`` at once).

        Keys come back as koppel keys where koppel knows them: give the person keys too, and
        ``known_target_ids`` (koppel key → recorded target id) for objects whose target id is not
        derived from their key (adopted accounts, memberships). ``target_id`` is always the id
        itslearning holds. ``complete=False`` with notes when a page or a group could not be read.
        """
        resolve = KeyResolver.build([*known_person_keys, *known_group_keys], known_target_ids)
        notes: list[str] = []
        persons, persons_complete = self._read_persons(resolve, notes)
        group_ids = _unique(
            ((known_target_ids or {}).get(key) or mapping.stable_key(key)) for key in known_group_keys
        )
        groups, groups_complete = self._read_groups(group_ids, resolve, notes)
        found = [group.target_id for group in groups if group.target_id]
        memberships, memberships_complete = self._read_memberships(found, resolve, notes)
        return TargetSnapshot(
            objects=tuple(persons + groups + memberships),
            complete=persons_complete and groups_complete and memberships_complete,
            notes=tuple(notes),
        )

    def _read_persons(self, resolve: KeyResolver, notes: list[str]) -> tuple[list[ReadObject], bool]:
        by_id: dict[object, ReadObject] = {}
        index, received, total = 1, 0, 0
        while True:
            response = self._client.send(
                read_all_persons(PageRequest(index=index, size=PAGE_SIZE), header=self._header())
            )
            status = _overall(response, Operation.READ_ALL_PERSONS)
            if status.code_major is not CodeMajor.SUCCESS:
                notes.append(
                    f"readAllPersons page {index} failed ({_why(status)}); "
                    "persons are incomplete — is readAllPersons enabled for the integration?"
                )
                return list(by_id.values()), False
            page = read_all_persons_result(response)
            total = page.virtual_count
            for sync_key, person in page.persons:
                attrs = mapping.person_attrs(person, resolve, self._config)
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

    def _read_groups(
        self, group_ids: Sequence[str], resolve: KeyResolver, notes: list[str]
    ) -> tuple[list[ReadObject], bool]:
        objects: list[ReadObject] = []
        complete = True
        for chunk in _chunks(group_ids, self._read_batch()):
            response = self._client.send(read_groups(chunk, header=self._header()))
            statuses = item_statuses(response, len(chunk), operation=Operation.READ_GROUPS)
            found = read_groups_result(response, chunk)
            for group_id, status in zip(chunk, statuses, strict=True):
                if group_id in found:
                    attrs = mapping.group_attrs(found[group_id], resolve, self._config)
                    objects.append(
                        ReadObject(
                            kind=ObjectKind.GROUP, key=resolve(group_id), attrs=attrs, target_id=group_id
                        )
                    )
                elif not _unknown(status):
                    complete = False
                    notes.append(f"readGroups {group_id}: {_why(status)}")
        return objects, complete

    def _read_memberships(
        self, group_ids: Sequence[str], resolve: KeyResolver, notes: list[str]
    ) -> tuple[list[ReadObject], bool]:
        if not group_ids:
            return [], True
        workers = min(self.settings.max_operations_in_flight, len(group_ids))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="itslearning-read") as pool:
            answers = list(pool.map(lambda group_id: self._memberships_of(group_id, resolve), group_ids))
        objects = [obj for found, _ in answers for obj in found]
        problems = [problem for _, problem in answers if problem]
        notes.extend(problems)
        return objects, not problems

    def _memberships_of(self, group_id: str, resolve: KeyResolver) -> tuple[list[ReadObject], str | None]:
        response = self._client.send(read_memberships_for_group(group_id, header=self._header()))
        status = _overall(response, Operation.READ_MEMBERSHIPS_FOR_GROUP)
        if status.code_major is not CodeMajor.SUCCESS:
            if _unknown(status):
                return [], None
            return (
                [],
                f"readMembershipsForGroup {group_id}: {_why(status)}",
            )
        objects = [
            ReadObject(
                kind=ObjectKind.MEMBERSHIP,
                key=resolve(membership_id) if membership_id else None,
                attrs=mapping.membership_attrs(membership, resolve, self._config),
                target_id=membership_id or None,
                manual=not membership_id,
            )
            for membership_id, membership in read_memberships_result(response)
        ]
        return objects, None

    def convert_manual_accounts(self) -> list[ReadObject]:
        """Give every account made by hand a sync key (``readAllPersons`` with ``ConvertFromManual``),
        so that an adopted account can be managed over IMS ES. This writes to itslearning: call it only
        for an approved adoption. Returns the manual accounts with the keys they have now."""
        resolve = KeyResolver.build([], None)
        out: list[ReadObject] = []
        index = 1
        while True:
            request = PageRequest(index=index, size=PAGE_SIZE, only_manually_created=True, convert_from_manual=True)
            response = self._client.send(read_all_persons(request, header=self._header()))
            status = _overall(response, Operation.READ_ALL_PERSONS)
            if status.code_major is not CodeMajor.SUCCESS:
                raise TargetProtocolError(f"readAllPersons with ConvertFromManual failed: {_why(status)}")
            page = read_all_persons_result(response)
            out += [ReadObject(ObjectKind.PERSON, None, mapping.person_attrs(person, resolve, self._config),
                               target_id=key, manual=True) for key, person in page.persons]
            if len(out) >= page.virtual_count or not page.persons:
                return out
            index += 1

    # -- other ---------------------------------------------------------------------------------

    def held_attrs(self, kind: ObjectKind, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """What itslearning holds after koppel sent ``attrs``, in the vocabulary ``read`` returns."""
        return mapping.held_attrs(kind, attrs, self._config)

    def discover(self, probe_group_ids: Collection[str] = (), *, known_keys: Collection[str] = (),
                 known_target_ids: Mapping[str, str] | None = None) -> Discovery:
        """Walk the whole site read-only for `koppel takeover` (:mod:`.discover`): every account, its
        memberships, their groups and parents up to the site root. Writes nothing."""
        from koppel.targets.itslearning.discover import discover

        return discover(self._client.send, self._header, self._config, probe_group_ids=probe_group_ids,
                        known_keys=known_keys, known_target_ids=known_target_ids, batch=self._read_batch(),
                        concurrency=self.settings.max_operations_in_flight)

    def _read_batch(self) -> int:
        """Ids per batch read: every object asked for is an operation too, so never more than the ceiling."""
        return min(self.settings.batch_size, self.settings.max_operations_in_flight)

    def check(self, *, full: bool = True) -> list[Check]:
        """Can koppel work with this integration? Reads only (see :mod:`.preflight`)."""
        return run_checks(self._client, self._header, self.settings, full=full)

    def close(self) -> None:
        self._client.close()


def _as_result(prepared: Prepared[Any] | ItemResult) -> ItemResult:
    assert isinstance(prepared, ItemResult), "only unsupported changes reach here"
    return prepared


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _unique(values: Iterator[str] | Collection[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _wire_items(operation: Operation, items: Sequence[Prepared[Any]]) -> list[Any]:
    if operation in _DELETES:
        return [item.wire_id for item in items]
    return [(item.wire_id, item.payload) for item in items]


def _archive_folders(items: Sequence[Prepared[Any]]) -> list[ArchiveFolder]:
    folders = {
        item.archive_folder.sync_id: item.archive_folder for item in items if item.archive_folder is not None
    }
    return list(folders.values())


def _folder_prepared(folders: Sequence[ArchiveFolder]) -> list[Prepared[Any]]:
    return [
        Prepared(key=f"archive:{folder.sync_id}", wire_id=folder.sync_id, payload=folder.as_group())
        for folder in folders
    ]


def _folder_items(folders: Sequence[ArchiveFolder]) -> list[tuple[str, Any]]:
    return [(folder.sync_id, folder.as_group()) for folder in folders]


def _overall(response: SoapResponse, operation: Operation) -> StatusInfo:
    """The status of a one-object read. ``read*For*`` answer with a statusInfoSet; its first
    failure, if any, speaks for the request."""
    if not response.statuses:
        return item_statuses(response, 1, operation=operation)[0]
    return next((s for s in response.statuses if s.code_major is not CodeMajor.SUCCESS), response.statuses[0])


def _why(status: StatusInfo) -> str:
    return status.description or status.code or status.code_major.value


def _unknown(status: StatusInfo) -> bool:
    return status.has_code("unknownobject")


def _check_echo(request: SoapRequest, response: SoapResponse) -> None:
    """itslearning echoes the messageIdentifier (sometimes as an empty element); log a mismatch."""
    echoed = {status.message_id_ref for status in response.statuses if status.message_id_ref}
    if response.message_identifier:
        echoed.add(response.message_identifier)
    if echoed - {request.message_id}:
        log.warning(
            "itslearning.message_id_mismatch",
            operation=request.operation.value,
            sent=request.message_id,
            echoed=sorted(echoed),
        )


def _log_results(request: SoapRequest, results: Sequence[ItemResult]) -> None:
    counts = Counter(result.outcome.value for result in results)
    log.info(
        "itslearning.request",
        operation=request.operation.value,
        message_id=request.message_id,
        items=len(results),
        **counts,
    )
    for result in results:
        if result.outcome is not ItemOutcome.DONE:
            log.warning(
                "itslearning.item",
                operation=request.operation.value,
                key=result.key,
                outcome=result.outcome.value,
                code=result.code,
                message=result.message,
            )
