"""Persons as SCIM Users: create (an upsert), update, suspend (``active=false``), restore, delete.

A create never makes a second account for a person:

1. the batch's sync keys are looked up as ``externalId`` first; a User found is this person's (koppel or an
   earlier run that crashed before recording made it) and is *updated* and made active — an upsert;
2. otherwise ``POST /Users``. A ``409 Conflict`` means the ``userName`` is taken: koppel reads that User
   (``userName eq "…"``). When its ``externalId`` is this person's sync key it is provably the same person
   and is adopted (updated, made active); any other User — made by hand, by another provisioning, or for
   another person — is left alone and the person's create fails with a message naming that User.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scim2_models import Context

from koppel.errors import TargetProtocolError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.targets.scim.client import ScimAnswer
from koppel.targets.scim.directory import Endpoint
from koppel.targets.scim.mapping import (
    UserView,
    merge_user,
    parse_user,
    user_active_patch,
    user_name_filter,
    user_patch,
    user_resource,
    wire,
)
from koppel.targets.scim.session import Session
from koppel.targets.scim.settings import UserDelete

__all__ = ["Users", "failed", "outcome_of"]


def failed(change: Change, message: str, code: str, *, target_id: str | None = None) -> ItemResult:
    return ItemResult(change.key, ItemOutcome.FAILED, message, code, target_id)


def outcome_of(change: Change, answer: ScimAnswer, *, what: str, target_id: str | None,
               gone_is_done: bool = False) -> ItemResult:
    """The item result of one answer about one object."""
    if answer.ok:
        return ItemResult(change.key, ItemOutcome.DONE, target_id=target_id)
    if answer.status == 404:
        if gone_is_done:
            return ItemResult(change.key, ItemOutcome.DONE, f"{what} is not on the SCIM server (already gone)",
                              target_id=target_id)
        return failed(change, f"{what} is not on the SCIM server any more (removed there?); `koppel reconcile` "
                      "shows what is missing", "missing", target_id=target_id)
    if answer.status == 412:
        return ItemResult(change.key, ItemOutcome.RETRY, f"{what} kept changing on the server ({answer.detail})",
                          "precondition-failed", target_id)
    return failed(change, f"the SCIM server refused {what}: {answer.detail}", "rejected", target_id=target_id)


class Users:
    def __init__(self, session: Session):
        self.s = session

    # -- create and restore: an upsert -------------------------------------------------------------

    def existing(self, changes: Sequence[Change]) -> dict[str, UserView | str]:
        """Per key, the User that is there already: its recorded id (a restore) or what a look-up found."""
        out: dict[str, UserView | str] = {c.key: c.target_id for c in changes if c.target_id}
        rest = [c.key for c in changes if c.key not in out]
        out.update(self.s.directory.users(rest))
        return out

    def upsert(self, change: Change, existing: UserView | str | None) -> ItemResult:
        attrs = change.after
        if attrs is None:  # a restore without attributes: make it active again
            return self.set_active(change, True)
        if existing is not None:
            resource_id = existing if isinstance(existing, str) else existing.id
            result = self._update(change, resource_id, attrs, tuple(attrs), active=True)
            if result.ok and isinstance(existing, UserView) and change.action is Action.CREATE:
                return ItemResult(change.key, ItemOutcome.WARNING, f"the User {resource_id} with this person's "
                                  "externalId was there already: updated and made active, not made twice", "adopted",
                                  resource_id)
            if result.outcome is not ItemOutcome.FAILED or result.code != "missing":
                return result
            self.s.directory.forget(Endpoint.USERS, change.key)  # recorded, but removed by hand: make it again
        try:
            user = user_resource(change.key, attrs, self.s.config)
        except ValueError as exc:
            return failed(change, f"the person cannot be sent as a SCIM User: {exc}", "invalid")
        answer = self.s.client.send("POST", Endpoint.USERS.value, body=wire(user, Context.RESOURCE_CREATION_REQUEST))
        if answer.status in (200, 201):
            resource_id = _id_of(answer)
            self.s.directory.remember(Endpoint.USERS, change.key, resource_id)
            return ItemResult(change.key, ItemOutcome.DONE, target_id=resource_id)
        if answer.status == 409:
            return self._taken(change, attrs, answer)
        return outcome_of(change, answer, what=f"User {attrs.get('username')!r}", target_id=None)

    def _taken(self, change: Change, attrs: Mapping[str, Any], conflict: ScimAnswer) -> ItemResult:
        user_name = str(attrs.get("username"))
        found = self.s.client.get(Endpoint.USERS.value, params={"filter": user_name_filter(user_name), "count": 2})
        holders = [parse_user(data) for data in (found.body or {}).get("Resources") or ()] if found.ok else []
        holder = next((u for u in holders if (u.user_name or "").casefold() == user_name.casefold()), None)
        if holder is None:
            return failed(change, f"the SCIM server refused User {user_name!r} as a duplicate ({conflict.detail}), "
                          "and no User has that userName: another unique value (an e-mail address?) is taken",
                          "conflict")
        if holder.external_id == change.key:
            self.s.directory.remember(Endpoint.USERS, change.key, holder.id)
            result = self._update(change, holder.id, attrs, tuple(attrs), active=True)
            if result.ok:
                return ItemResult(change.key, ItemOutcome.WARNING,
                                  f"adopted the existing User {holder.id} with userName {user_name!r}: its externalId "
                                  "is this person's sync key", "adopted", holder.id)
            return result
        owner = f"externalId {holder.external_id!r}" if holder.external_id else "no externalId (made by hand?)"
        return failed(change, f"userName {user_name!r} is taken on the SCIM server by User {holder.id} ({owner}); "
                      "koppel does not make a second account nor take over one it cannot prove is this person's: "
                      "rename or remove that User, or give it this person's externalId "
                      f"{change.key!r} to let koppel adopt it", "username-taken")

    # -- update, suspend, delete ----------------------------------------------------------------------

    def update(self, change: Change, resource_id: str | None) -> ItemResult:
        attrs = change.after or {}
        if resource_id is None:
            return failed(change, f"User {attrs.get('username') or change.key!r} is not on the SCIM server (removed "
                          "there?); `koppel reconcile` shows what is missing", "missing")
        return self._update(change, resource_id, attrs, change.fields or tuple(attrs), active=None)

    def _update(self, change: Change, resource_id: str, attrs: Mapping[str, Any], fields: Sequence[str], *,
                active: bool | None) -> ItemResult:
        try:
            patch = user_patch(attrs, fields, self.s.config, active=active)
        except ValueError as exc:
            return failed(change, f"the person cannot be sent as a SCIM User: {exc}", "invalid", target_id=resource_id)
        answer = self.s.modify(Endpoint.USERS, resource_id, patch,
                               lambda current: merge_user(current, attrs, fields, self.s.config, active=active))
        if answer.status == 404:
            self.s.directory.forget(Endpoint.USERS, change.key)
        return outcome_of(change, answer, what=f"User {attrs.get('username') or change.key!r}", target_id=resource_id)

    def set_active(self, change: Change, active: bool, resource_id: str | None = None) -> ItemResult:
        resource_id = resource_id or change.target_id or self.s.directory.ids(Endpoint.USERS, [change.key]).get(
            change.key)
        if resource_id is None:
            if not active:
                return ItemResult(change.key, ItemOutcome.DONE, "the User is not on the SCIM server (already gone)")
            return failed(change, "the User is not on the SCIM server any more; it is made again when the person "
                          "is in the LAS and its state is cleared (`koppel reconcile`)", "missing")
        answer = self.s.modify(Endpoint.USERS, resource_id, user_active_patch(active),
                               lambda current: {**{k: v for k, v in current.items() if k != "meta"}, "active": active})
        return outcome_of(change, answer, what=f"User {resource_id}", target_id=resource_id, gone_is_done=not active)

    def delete(self, change: Change, resource_id: str | None) -> ItemResult:
        if self.s.settings.user_delete is UserDelete.DEACTIVATE:
            return self.set_active(change, False, resource_id)
        if resource_id is None:
            return ItemResult(change.key, ItemOutcome.DONE, "the User is not on the SCIM server (already gone)")
        answer = self.s.client.send("DELETE", f"{Endpoint.USERS.value}/{resource_id}")
        self.s.directory.forget(Endpoint.USERS, change.key)
        return outcome_of(change, answer, what=f"User {resource_id}", target_id=resource_id, gone_is_done=True)

    def apply_one(self, change: Change, existing: Mapping[str, UserView | str]) -> ItemResult:
        action = change.action
        if action in (Action.CREATE, Action.RESTORE):
            return self.upsert(change, existing.get(change.key))
        resource_id = _recorded(existing.get(change.key))
        if action is Action.UPDATE:
            return self.update(change, resource_id)
        if action is Action.SUSPEND:
            return self.set_active(change, False, resource_id)
        if action is Action.DELETE:
            return self.delete(change, resource_id)
        return failed(change, f"a SCIM target cannot {action.value} a person", "unsupported")

    def resolve(self, changes: Sequence[Change]) -> dict[str, UserView | str]:
        """What the batch's changes need to know first: for creates and restores the Users already there (an
        upsert), for the others their ids (recorded, or one look-up for the batch)."""
        if changes[0].action in (Action.CREATE, Action.RESTORE):
            return self.existing(changes)
        hints = {c.key: c.target_id for c in changes if c.target_id}
        return dict(self.s.directory.ids(Endpoint.USERS, [c.key for c in changes], hints))


def _recorded(found: UserView | str | None) -> str | None:
    if found is None:
        return None
    return found if isinstance(found, str) else found.id


def _id_of(answer: ScimAnswer) -> str:
    resource_id = (answer.body or {}).get("id")
    if not resource_id:
        raise TargetProtocolError(f"the SCIM server created a resource but answered no id ({answer.status})")
    return str(resource_id)
