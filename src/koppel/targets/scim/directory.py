"""Which SCIM ``id`` belongs to which koppel sync key (``externalId``), looked up in batches and remembered.

A SCIM server assigns each resource its own ``id``; koppel knows its objects by sync key, sent as
``externalId``. The state records the ``id`` koppel got back (``ItemResult.target_id``) and the plan hands it
to later changes (``Change.target_id``, and ``meta["target_ids"]`` for a membership's person and group), so
most changes need no look-up at all. What is left — a create (is it there already? then it is adopted, not
duplicated), a membership whose person was made in this very run — is asked with one filter for many keys
(``externalId eq "a" or externalId eq "b" …``, ``lookup_batch`` at a time) and remembered for the run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import cast

import structlog

from koppel.errors import TargetConfigError, TargetProtocolError
from koppel.targets.scim.client import ScimClient
from koppel.targets.scim.mapping import GroupView, UserView, external_id_filter, parse_group, parse_user

__all__ = ["Directory", "Endpoint"]

log = structlog.get_logger(__name__)


class Endpoint(StrEnum):
    USERS = "Users"
    GROUPS = "Groups"


class Directory:
    """Sync key → SCIM id per endpoint, for one target's lifetime (a run). Thread-safe."""

    def __init__(self, client: ScimClient, *, lookup_batch: int):
        self._client = client
        self._batch = lookup_batch
        self._ids: dict[Endpoint, dict[str, str]] = {Endpoint.USERS: {}, Endpoint.GROUPS: {}}
        self._lock = threading.Lock()

    def remember(self, endpoint: Endpoint, key: str, resource_id: str) -> None:
        with self._lock:
            self._ids[endpoint][key] = resource_id

    def forget(self, endpoint: Endpoint, key: str) -> None:
        with self._lock:
            self._ids[endpoint].pop(key, None)

    def known(self, endpoint: Endpoint, key: str) -> str | None:
        with self._lock:
            return self._ids[endpoint].get(key)

    def ids(self, endpoint: Endpoint, keys: Iterable[str], hints: Mapping[str, str] | None = None) -> dict[str, str]:
        """The ids of ``keys`` that exist: from ``hints`` (what the state recorded), what this run saw, and one
        look-up for the rest. A key missing from the answer is not on the server."""
        hints = hints or {}
        found: dict[str, str] = {}
        unknown: list[str] = []
        for key in dict.fromkeys(keys):
            resource_id = hints.get(key) or self.known(endpoint, key)
            if resource_id:
                found[key] = resource_id
            else:
                unknown.append(key)
        if unknown:
            found.update({key: view.id for key, view in self.lookup(endpoint, unknown).items()})
        return found

    def users(self, keys: Sequence[str]) -> dict[str, UserView]:
        """The Users whose externalId is one of ``keys``."""
        return cast("dict[str, UserView]", self.lookup(Endpoint.USERS, keys))

    def groups(self, keys: Sequence[str]) -> dict[str, GroupView]:
        """The Groups whose externalId is one of ``keys`` (without their members)."""
        return cast("dict[str, GroupView]", self.lookup(Endpoint.GROUPS, keys))

    def lookup(self, endpoint: Endpoint, keys: Sequence[str]) -> dict[str, UserView | GroupView]:
        """The resources whose externalId is one of ``keys``, read from the server (and remembered)."""
        out: dict[str, UserView | GroupView] = {}
        for start in range(0, len(keys), self._batch):
            chunk = list(keys[start:start + self._batch])
            params = {"filter": external_id_filter(chunk), "count": len(chunk) * 2,
                      **({"excludedAttributes": "members"} if endpoint is Endpoint.GROUPS else {})}
            answer = self._client.get(endpoint.value, params=params)
            if answer.status == 400:
                raise TargetConfigError(
                    f"the SCIM server refused the filter {params['filter']!r} ({answer.detail}); koppel finds its "
                    "objects by externalId: set lookup_batch = 1 for a server that takes only one 'eq' at a time")
            if not answer.ok or answer.body is None:
                raise TargetProtocolError(f"GET /{endpoint.value} with a filter answered {answer.detail}")
            for data in answer.body.get("Resources") or ():
                view: UserView | GroupView = parse_user(data) if endpoint is Endpoint.USERS else parse_group(data)
                if view.external_id not in chunk or not view.id:
                    continue
                if view.external_id in out:
                    log.warning("scim.duplicate_external_id", endpoint=endpoint.value, external_id=view.external_id,
                                kept=out[view.external_id].id, other=view.id)
                    continue
                out[view.external_id] = view
        for key, view in out.items():
            self.remember(endpoint, key, view.id)
        return out
