"""From a batch of koppel changes to the IMS ES requests that carry it. Pure.

Each (kind, action) maps to one batch operation (:data:`OPERATIONS`); a batch of changes becomes one
request per ``batch_size`` items. An archive batch is preceded by a ``createGroups`` for the archive
hierarchies its groups move into. :class:`~koppel.targets.itslearning.target.ItslearningTarget` sends
these requests; :func:`preview` builds them without credentials, for ``koppel plan --show-payloads``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from lxml import etree

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.targets.base import Payload
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.mapping import ArchiveFolder, MappingConfig, Prepared
from koppel.targets.itslearning.requests import build_request
from koppel.targets.itslearning.settings import ItslearningSettings
from koppel.targets.itslearning.values import Operation, RequestHeader, SoapRequest, WireObject
from koppel.xmlsafe import parse_xml

__all__ = [
    "DELETES",
    "OPERATIONS",
    "archive_folders",
    "chunks",
    "folder_items",
    "operation_of",
    "payload_of",
    "preview",
    "preview_requests",
    "wire_items",
]

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
DELETES = frozenset({Operation.DELETE_PERSONS, Operation.DELETE_GROUPS, Operation.DELETE_MEMBERSHIPS})

_T = TypeVar("_T")


def operation_of(changes: Sequence[Change]) -> Operation | None:
    """The operation for a batch of one kind and one action (None when itslearning has none)."""
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


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def wire_items(operation: Operation, items: Sequence[Prepared[Any]]) -> list[Any]:
    """What ``build_request`` takes: the ids for deletes, (id, object) pairs for writes."""
    if operation in DELETES:
        return [item.wire_id for item in items]
    return [(item.wire_id, item.payload) for item in items]


def archive_folders(items: Sequence[Prepared[Any]]) -> list[ArchiveFolder]:
    """The archive hierarchies ``items`` move into, each once, in order."""
    folders = {
        item.archive_folder.sync_id: item.archive_folder for item in items if item.archive_folder is not None
    }
    return list(folders.values())


def folder_items(folders: Sequence[ArchiveFolder]) -> list[tuple[str, WireObject]]:
    return [(folder.sync_id, folder.as_group()) for folder in folders]


def preview_requests(changes: Sequence[Change], config: MappingConfig, *, batch_size: int) -> list[SoapRequest]:
    """The requests ``apply`` would send for ``changes`` (one kind, one action), without credentials.

    Archive batches start with the createGroups request for their archive hierarchies. Message
    identifiers are ``preview-1``, ``preview-2`` … so previews are reproducible. Changes itslearning cannot
    take (they fail before anything is sent) are left out.
    """
    operation = operation_of(changes) if changes else None
    if operation is None:
        return []
    numbers = itertools.count(1)
    requests = []
    for chunk in chunks(changes, batch_size):
        ready = [p for p in (mapping.prepare(c, config) for c in chunk) if isinstance(p, Prepared)]
        folders = archive_folders(ready)
        if folders:
            header = RequestHeader(f"preview-{next(numbers)}")
            requests.append(build_request(Operation.CREATE_GROUPS, folder_items(folders), header=header))
        if ready:
            requests.append(
                build_request(
                    operation,
                    wire_items(operation, ready),
                    header=RequestHeader(f"preview-{next(numbers)}"),
                )
            )
    return requests


def payload_of(request: SoapRequest) -> Payload:
    """A request as ``koppel plan --show-payloads`` prints it: its SOAPAction and its envelope, indented.

    The envelope is the one koppel posts, built without credentials: its header holds only the
    message identifier, never a user name or password.
    """
    assert b"UsernameToken" not in request.envelope, "previews are built without credentials"
    root = parse_xml(request.envelope, what="itslearning request")
    etree.indent(root, space="  ")
    text = etree.tostring(root, encoding="unicode")
    return Payload(title=f"{request.operation.value} (SOAPAction {request.operation.soap_action})", body=text)


def preview(settings: Any, changes: Sequence[Change]) -> list[Payload]:
    """``TargetKind.preview`` for itslearning: the payloads of one change, from the target's settings.

    Needs no password and opens no connection. ``settings`` is the target's
    :class:`~koppel.targets.itslearning.settings.ItslearningSettings` (or its mapping).
    """
    if not isinstance(settings, ItslearningSettings):
        settings = ItslearningSettings.model_validate(dict(settings))
    requests = preview_requests(changes, settings.mapping_config(), batch_size=settings.batch_size)
    return [payload_of(request) for request in requests]
