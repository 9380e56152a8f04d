"""The SCIM target: applies plan changes to a SCIM 2.0 service provider and reads it back.

=================  ==========================================  ==========================================
change             request                                     why
=================  ==========================================  ==========================================
person create      look-up by externalId, then POST /Users     an upsert: a User with the sync key is
                   (or PATCH of the one found)                 updated, a taken userName is adopted only
                                                               when its externalId proves it (:mod:`.users`)
person update      PATCH replace of the changed fields         fields koppel does not own are not sent
person suspend     PATCH active=false                          the account stays, with its data
person restore     PATCH of the fields, active=true            the same account, not a new one
person delete      DELETE /Users/{id} (or active=false)        ``user_delete``
group create       look-up by externalId, then POST /Groups    schools, klassen, courses; folders are not sent
group update       PATCH displayName
group archive      PATCH displayName "3A (2025-2026)"          SCIM has no folders to move it into
group delete       DELETE /Groups/{id}
membership create  one PATCH add per group in the batch        members[value eq "…"] to remove
membership delete  one PATCH remove per group in the batch
=================  ==========================================  ==========================================

Without PATCH on the server (or ``update_method = "put"``) every change of an existing resource is a GET, a
merge and a PUT with ``If-Match``; a 412 reads again (:mod:`.session`).

``apply`` is called from as many threads as the applier's operations budget allows; inside a batch the
requests for its objects (one per User or Group, one per group's members) go out together on the target's
own pool, so the objects in flight are the requests in flight. A batch in which the server answered busy
(429/503) lets its other requests finish, then raises ``TransientTargetError(overload=True)`` with the
server's ``Retry-After``: the applier waits, sends less at a time and sends the batch again — whatever of it
already landed is found by its externalId and not made twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import structlog

from koppel.errors import TargetAuthError, TargetConfigError, TargetError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import Capabilities, Check, TargetSnapshot
from koppel.targets.scim import mapping
from koppel.targets.scim.client import ScimClient
from koppel.targets.scim.groups import Groups, Members, waves
from koppel.targets.scim.preflight import run_checks
from koppel.targets.scim.reader import ServerReader
from koppel.targets.scim.session import Session
from koppel.targets.scim.settings import ScimSettings
from koppel.targets.scim.users import Users, failed

__all__ = ["ACTIONS", "ScimTarget"]

log = structlog.get_logger(__name__)

ACTIONS = frozenset({
    (ObjectKind.PERSON, Action.CREATE), (ObjectKind.PERSON, Action.UPDATE), (ObjectKind.PERSON, Action.SUSPEND),
    (ObjectKind.PERSON, Action.RESTORE), (ObjectKind.PERSON, Action.DELETE),
    (ObjectKind.GROUP, Action.CREATE), (ObjectKind.GROUP, Action.UPDATE), (ObjectKind.GROUP, Action.ARCHIVE),
    (ObjectKind.GROUP, Action.RESTORE), (ObjectKind.GROUP, Action.DELETE),
    (ObjectKind.MEMBERSHIP, Action.CREATE), (ObjectKind.MEMBERSHIP, Action.UPDATE),
    (ObjectKind.MEMBERSHIP, Action.DELETE),
})

_T = TypeVar("_T")


class ScimTarget:
    """A koppel Target for one SCIM 2.0 service provider."""

    def __init__(self, name: str, settings: ScimSettings, *, client: ScimClient):
        self.name = name
        self.settings = settings
        self.capabilities = Capabilities(max_batch=settings.batch_size,
                                         max_operations_in_flight=settings.max_operations_in_flight,
                                         adaptive=settings.adaptive, actions=ACTIONS, can_read=True,
                                         memberships_by_group=True)
        self.session = Session(client, settings)
        self.users = Users(self.session)
        self.groups = Groups(self.session)
        self.members = Members(self.session)
        self._pool = ThreadPoolExecutor(max_workers=settings.max_operations_in_flight, thread_name_prefix="scim")

    def __repr__(self) -> str:
        return f"ScimTarget(name={self.name!r}, url={self.settings.url!r})"

    # -- apply -----------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Change]) -> list[ItemResult]:
        """One ItemResult per change, in order. All changes share one kind and one action."""
        changes = list(batch)
        if not changes:
            return []
        kind, action = changes[0].kind, changes[0].action
        if (kind, action) not in ACTIONS:
            return [failed(c, f"a SCIM target cannot {action.value} a {kind.value}", "unsupported") for c in changes]
        if kind is ObjectKind.MEMBERSHIP:
            results = self._apply_members(changes)
        elif kind is ObjectKind.PERSON:
            existing = self.users.resolve(changes)
            results = self._each(changes, lambda c: self.users.apply_one(c, existing))
        else:
            known = self.groups.resolve(changes)
            done: dict[str, ItemResult] = {}
            for wave in waves(changes) if action in (Action.CREATE, Action.RESTORE) else [changes]:
                done.update(zip([c.key for c in wave],
                                self._each(wave, lambda c: self.groups.apply_one(c, known)), strict=True))
            results = [done[c.key] for c in changes]
        _log_results(kind, action, results)
        return results

    def _apply_members(self, changes: list[Change]) -> list[ItemResult]:
        action = changes[0].action
        answered, work = self.members.plan(changes)
        for found in self._fan_out(work, lambda w: self.members.send(w, action)):
            answered.update(found)
        return [answered[c.key] for c in changes]

    def _each(self, changes: list[Change], call: Callable[[Change], ItemResult]) -> list[ItemResult]:
        return self._fan_out(changes, call)

    def _fan_out(self, items: Sequence[Any], call: Callable[[Any], _T]) -> list[_T]:
        """``call`` for every item on the pool, answers in order. When one raises, the ones not started are
        cancelled, those running finish, and the most serious error is raised (refused token or configuration
        first, then the first other one)."""
        if len(items) == 1:
            return [call(items[0])]
        futures: list[Future[_T]] = [self._pool.submit(call, item) for item in items]
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        errors = [f.exception() for f in finished if f.exception() is not None]
        if errors:
            for future in futures:
                future.cancel()
            wait(futures)
            errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
            serious: list[BaseException | None] = [e for e in errors if isinstance(e, (TargetAuthError, TargetConfigError))]
            first = (serious or [e for e in errors if isinstance(e, TargetError)] or errors)[0]
            assert first is not None
            raise first
        return [f.result() for f in futures]

    # -- read ------------------------------------------------------------------------------------

    def read(self, known_group_keys: Collection[str] = (), *, known_person_keys: Collection[str] = (),
             known_target_ids: Mapping[str, str] | None = None) -> TargetSnapshot:
        """Every User and Group on the server, paged (``startIndex``/``count``), in koppel's vocabulary
        (:mod:`.reader`). Read-only. Users and Groups without an externalId are ``manual``."""
        return ServerReader(self.session.client, self.session.config, page_size=self.settings.page_size).read()

    def held_attrs(self, kind: ObjectKind, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """What the server holds after koppel sent ``attrs``, in the vocabulary ``read`` returns."""
        return mapping.held_attrs(kind, attrs, self.session.config)

    def check(self, *, full: bool = True) -> list[Check]:
        """Can koppel work with this server? Reads only (:mod:`.preflight`)."""
        return run_checks(self.session, full=full)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.session.client.close()


def _log_results(kind: ObjectKind, action: Action, results: Sequence[ItemResult]) -> None:
    counts = Counter(result.outcome.value for result in results)
    log.info("scim.batch", kind=kind.value, action=action.value, items=len(results), **counts)
    for result in results:
        if result.outcome is not ItemOutcome.DONE:
            log.warning("scim.item", kind=kind.value, action=action.value, key=result.key,
                        outcome=result.outcome.value, code=result.code, message=result.message)
