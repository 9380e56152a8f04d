"""The itslearning target: applies plan changes over IMS Enterprise Services and reads back.

Each (kind, action) maps to one batch operation (:data:`~.batches.OPERATIONS`); a batch of
changes becomes one request per ``batch_size`` items (:mod:`.batches`), and every change gets exactly
one ``ItemResult``, in order. Lifecycle actions map onto what itslearning allows:

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
archive hierarchies already made (locked). Reading back is :mod:`.reader`'s, the takeover's walk
:mod:`.discover`'s, ``koppel check`` :mod:`.preflight`'s.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import structlog

from koppel.model.change import Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.takeover.model import Discovery
from koppel.targets.base import Capabilities, Check, ReadObject, TargetSnapshot
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.batches import (
    DELETES,
    OPERATIONS,
    archive_folders,
    chunks,
    operation_of,
    preview_requests,
    wire_items,
)
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.mapping import ArchiveFolder, MappingConfig, Prepared
from koppel.targets.itslearning.preflight import run_checks
from koppel.targets.itslearning.reader import SiteReader
from koppel.targets.itslearning.requests import build_request
from koppel.targets.itslearning.responses import item_statuses
from koppel.targets.itslearning.settings import ItslearningSettings
from koppel.targets.itslearning.values import (
    Credentials,
    Operation,
    RequestHeader,
    SoapRequest,
    SoapResponse,
)

__all__ = ["ItslearningTarget"]

log = structlog.get_logger(__name__)


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
        operation = operation_of(changes)
        if operation is None:
            return [_as_result(mapping.prepare(change, self._config)) for change in changes]
        results: list[ItemResult] = []
        for chunk in chunks(changes, self.settings.batch_size):
            results.extend(self._apply_chunk(chunk, operation))
        return results

    def payloads(self, batch: Sequence[Change]) -> list[SoapRequest]:
        """The requests ``apply`` would send for ``batch``, without credentials: for previews
        (:func:`~.batches.preview_requests`)."""
        return preview_requests(list(batch), self._config, batch_size=self.settings.batch_size)

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
        folders = archive_folders([p for _, p in ready])
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
        request = build_request(operation, wire_items(operation, items), header=self._header())
        response = self._client.send(request)
        statuses = item_statuses(response, len(items), operation=operation)
        _check_echo(request, response)
        deleting = operation in DELETES
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
        """What itslearning holds, in koppel's vocabulary, for reconciliation. Read-only (:mod:`.reader`).

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
        return self._reader().read(known_group_keys, known_person_keys, known_target_ids)

    def convert_manual_accounts(self) -> list[ReadObject]:
        """Give every account made by hand a sync key (``readAllPersons`` with ``ConvertFromManual``),
        so that an adopted account can be managed over IMS ES. This writes to itslearning: call it only
        for an approved adoption. Returns the manual accounts with the keys they have now."""
        return self._reader().convert_manual_accounts()

    def _reader(self) -> SiteReader:
        return SiteReader(self._client.send, self._header, self._config, batch=self._read_batch(),
                          concurrency=self.settings.max_operations_in_flight)

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


def _folder_prepared(folders: Sequence[ArchiveFolder]) -> list[Prepared[Any]]:
    return [
        Prepared(key=f"archive:{folder.sync_id}", wire_id=folder.sync_id, payload=folder.as_group())
        for folder in folders
    ]


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
