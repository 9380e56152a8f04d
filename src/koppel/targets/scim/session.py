"""What every SCIM operation shares: the client, the id directory, the mapping, and the server's features.

It also holds the one way koppel changes an existing resource (:meth:`Session.modify`): a PATCH where the
server supports it, or — for a server without PATCH, or with ``update_method = "put"`` — read the resource
(``GET``, its ``ETag``), merge what koppel changes into it and ``PUT`` it back with ``If-Match``. A ``412
Precondition Failed`` means someone changed it in between: read again and merge again, a few times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from scim2_models import Context, PatchOp, ServiceProviderConfig

from koppel.errors import KoppelError, TargetAuthError, TransientTargetError
from koppel.targets.scim.client import ScimAnswer, ScimClient
from koppel.targets.scim.directory import Directory, Endpoint
from koppel.targets.scim.mapping import MappingConfig, wire
from koppel.targets.scim.settings import ScimSettings, UpdateMethod

__all__ = ["MAX_PRECONDITION_RETRIES", "Features", "Session"]

log = structlog.get_logger(__name__)

MAX_PRECONDITION_RETRIES = 5
"""How often a PUT that met a changed resource (412) is read, merged and sent again before the item is retried
later by the applier."""


@dataclass(frozen=True)
class Features:
    """What the server's ``/ServiceProviderConfig`` says it supports (RFC 7643 §5)."""

    patch: bool = True
    filter: bool = True
    etag: bool = False
    bulk: bool = False
    bulk_max_operations: int | None = None
    filter_max_results: int | None = None
    known: bool = False  # False: the configuration could not be read, these are assumptions

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Features:
        try:
            config = ServiceProviderConfig.model_validate(dict(body))
        except ValidationError:
            return cls()
        return cls(
            patch=bool(config.patch and config.patch.supported),
            filter=bool(config.filter and config.filter.supported),
            etag=bool(config.etag and config.etag.supported),
            bulk=bool(config.bulk and config.bulk.supported),
            bulk_max_operations=config.bulk.max_operations if config.bulk else None,
            filter_max_results=config.filter.max_results if config.filter else None,
            known=True,
        )


class Session:
    """One target's connection to its SCIM server, shared by the threads that apply batches."""

    def __init__(self, client: ScimClient, settings: ScimSettings):
        self.client = client
        self.settings = settings
        self.config: MappingConfig = settings.mapping_config()
        self.directory = Directory(client, lookup_batch=settings.lookup_batch)
        self._features: Features | None = None
        self._lock = threading.Lock()

    def features(self) -> Features:
        """The server's features, read once (a read; an unreadable configuration assumes PATCH and filters)."""
        with self._lock:
            if self._features is None:
                try:
                    answer = self.client.get("ServiceProviderConfig")
                except (TargetAuthError, TransientTargetError):
                    raise  # not cached: the next batch asks again
                except KoppelError as exc:
                    log.warning("scim.service_provider_config_unreadable", error=str(exc))
                    answer = None
                self._features = Features.of(answer.body) if answer and answer.ok and answer.body else Features()
            return self._features

    def uses_patch(self) -> bool:
        method = self.settings.update_method
        if method is UpdateMethod.AUTO:
            return self.features().patch
        return method is UpdateMethod.PATCH

    def modify(self, endpoint: Endpoint, resource_id: str, patch: PatchOp[Any],
               merge: Callable[[Mapping[str, Any]], dict[str, Any]]) -> ScimAnswer:
        """Change one resource: ``patch`` with PATCH, or ``merge`` (current JSON → new JSON) with GET and PUT
        If-Match, again after a 412. Returns the last answer (404 when the resource is gone)."""
        path = f"{endpoint.value}/{resource_id}"
        if self.uses_patch():
            if not patch.operations:
                return ScimAnswer(204)
            return self.client.send("PATCH", path, body=wire(patch, Context.RESOURCE_PATCH_REQUEST))
        answer = ScimAnswer(412)
        for attempt in range(1, MAX_PRECONDITION_RETRIES + 1):
            current = self.client.get(path)
            if current.status != 200 or current.body is None:
                return current
            version = current.etag or _meta_version(current.body)
            answer = self.client.send("PUT", path, body=merge(current.body), if_match=version)
            if answer.status != 412:
                return answer
            log.info("scim.precondition_failed", path=path, attempt=attempt)
        return answer


def _meta_version(body: Mapping[str, Any]) -> str | None:
    meta = body.get("meta")
    return meta.get("version") if isinstance(meta, dict) else None
