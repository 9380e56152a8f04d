"""Schools, klassen and courses as SCIM Groups, and memberships as their ``members``.

* A group create is an upsert: a Group with the sync key as ``externalId`` is renamed, not made twice. Its
  parent must be there first (a course before its school is a data error, as on every target); a parent that
  is a folder is not sent, so then its school is what must be there.
* Folders (school year, leerjaar) are not sent: SCIM groups are flat and a folder has no members.
* Archive (the jaarovergang) renames the Group (``archive_name``: "3A (2025-2026)"); its members follow the
  policy's ``archived_memberships`` like on any target. Restore gives it its name back. Delete deletes it.
* Memberships of one group in a batch go in **one PATCH** (``add`` of every new member, a ``remove`` with
  ``members[value eq "…"]`` per member gone), or — without PATCH — one GET and PUT with If-Match. A PATCH the
  server refuses as a whole (400) is sent again per member, so one bad member fails alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scim2_models import Context

from koppel.model.attrs import membership_attrs
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.targets.scim.client import ScimAnswer
from koppel.targets.scim.directory import Endpoint
from koppel.targets.scim.mapping import (
    GroupView,
    anchor_of,
    archived_name,
    group_resource,
    is_folder,
    members_patch,
    merge_members,
    rename_patch,
    wire,
)
from koppel.targets.scim.session import Session
from koppel.targets.scim.users import _id_of, failed, outcome_of

__all__ = ["Groups", "MemberWork", "Members", "waves"]

_NOT_SENT = "folders are not sent to SCIM: its groups are flat"


def _attrs(change: Change) -> Mapping[str, Any]:
    return change.after if change.after is not None else (change.before or {})


def _hints(changes: Sequence[Change]) -> dict[str, str]:
    """The ids the state recorded for the objects these changes refer to."""
    hints: dict[str, str] = {}
    for change in changes:
        hints.update((change.meta or {}).get("target_ids") or {})
        if change.target_id and change.kind.value == "group":
            hints[change.key] = change.target_id
    return hints


class Groups:
    def __init__(self, session: Session):
        self.s = session

    def resolve(self, changes: Sequence[Change]) -> dict[str, Any]:
        """Before a batch: for creates and restores the parents that must exist and the Groups already there,
        for the others the Groups' ids."""
        sent = [c for c in changes if not is_folder(_attrs(c))]
        if not sent:
            return {}
        hints = _hints(sent)
        if changes[0].action in (Action.CREATE, Action.RESTORE):
            anchors = {c.key: anchor_of(_attrs(c)) for c in sent}
            batch = {c.key for c in sent}
            wanted = [a for a in anchors.values() if a and a not in batch]
            here = self.s.directory.ids(Endpoint.GROUPS, wanted, hints) if wanted else {}
            existing: dict[str, GroupView | str] = {c.key: c.target_id for c in sent if c.target_id}
            existing.update(self.s.directory.groups([c.key for c in sent if c.key not in existing]))
            return {"anchors": anchors, "parents": here, "existing": existing}
        return {"ids": self.s.directory.ids(Endpoint.GROUPS, [c.key for c in sent], hints)}

    def apply_one(self, change: Change, known: Mapping[str, Any]) -> ItemResult:
        attrs = _attrs(change)
        if is_folder(attrs):
            return ItemResult(change.key, ItemOutcome.DONE, _NOT_SENT)
        if change.action in (Action.CREATE, Action.RESTORE):
            return self._upsert(change, known)
        resource_id = (known.get("ids") or {}).get(change.key)
        name = attrs.get("name") or change.key
        if change.action is Action.DELETE:
            if resource_id is None:
                return ItemResult(change.key, ItemOutcome.DONE, "the Group is not on the SCIM server (already gone)")
            answer = self.s.client.send("DELETE", f"{Endpoint.GROUPS.value}/{resource_id}")
            self.s.directory.forget(Endpoint.GROUPS, change.key)
            return outcome_of(change, answer, what=f"Group {name!r}", target_id=resource_id, gone_is_done=True)
        if change.action is Action.ARCHIVE:
            new_name = archived_name(change.before or attrs, self.s.config)
        elif change.action is Action.UPDATE:
            if "name" not in (change.fields or ("name",)) or not change.after or "name" not in change.after:
                return ItemResult(change.key, ItemOutcome.DONE, "nothing SCIM holds changed", target_id=resource_id)
            new_name = change.after["name"]
        else:
            return failed(change, f"a SCIM target cannot {change.action.value} a group", "unsupported")
        if resource_id is None:
            if change.action is Action.ARCHIVE:
                return ItemResult(change.key, ItemOutcome.DONE, "the Group is not on the SCIM server (already gone)")
            return failed(change, f"Group {name!r} is not on the SCIM server (removed there?)", "missing")
        return self._rename(change, resource_id, new_name)

    def _rename(self, change: Change, resource_id: str, name: str) -> ItemResult:
        answer = self.s.modify(Endpoint.GROUPS, resource_id, rename_patch(name),
                               lambda current: {**{k: v for k, v in current.items() if k != "meta"},
                                                "displayName": name})
        return outcome_of(change, answer, what=f"Group {name!r}", target_id=resource_id,
                          gone_is_done=change.action is Action.ARCHIVE)

    def _upsert(self, change: Change, known: Mapping[str, Any]) -> ItemResult:
        attrs = change.after or {}
        name = str(attrs.get("name") or change.key)
        anchor = known["anchors"].get(change.key)
        if anchor and anchor not in known["parents"] and not self.s.directory.known(Endpoint.GROUPS, anchor):
            return failed(change, f"its parent group {anchor!r} is not on the SCIM server: the parent is made first",
                          "parent-missing")
        existing = known["existing"].get(change.key)
        if existing is not None:
            resource_id = existing if isinstance(existing, str) else existing.id
            result = self._rename(change, resource_id, name)
            if result.ok or result.code != "missing":
                return result
            self.s.directory.forget(Endpoint.GROUPS, change.key)
        answer = self.s.client.send("POST", Endpoint.GROUPS.value,
                                    body=wire(group_resource(change.key, name), Context.RESOURCE_CREATION_REQUEST))
        if answer.status in (200, 201):
            resource_id = _id_of(answer)
            self.s.directory.remember(Endpoint.GROUPS, change.key, resource_id)
            return ItemResult(change.key, ItemOutcome.DONE, target_id=resource_id)
        return outcome_of(change, answer, what=f"Group {name!r}", target_id=None)


def waves(changes: Sequence[Change]) -> list[list[Change]]:
    """A batch of group creates in the order they can be made: a group whose parent is in the same batch goes
    in a later wave than its parent (the plan's phases already do this; a batch made otherwise is honoured)."""
    anchors = {c.key: anchor_of(_attrs(c)) for c in changes}
    depth: dict[str, int] = {}

    def level(key: str, seen: frozenset[str] = frozenset()) -> int:
        if key not in depth:
            anchor = anchors.get(key)
            depth[key] = 0 if anchor is None or anchor not in anchors or key in seen else level(anchor, seen | {key}) + 1
        return depth[key]

    out: dict[int, list[Change]] = {}
    for change in changes:
        out.setdefault(level(change.key), []).append(change)
    return [out[n] for n in sorted(out)]


class MemberWork:
    """One group's member changes in a batch: which change adds or removes which User."""

    def __init__(self, group_key: str, group_id: str | None):
        self.group_key = group_key
        self.group_id = group_id
        self.changes: list[tuple[Change, str]] = []  # (change, user id)
        self.results: dict[str, ItemResult] = {}


class Members:
    def __init__(self, session: Session):
        self.s = session

    def plan(self, changes: Sequence[Change]) -> tuple[dict[str, ItemResult], list[MemberWork]]:
        """Split a batch of membership changes per group, resolving every person and group to its id. What
        needs no request (an update: SCIM keeps no HomeOrganisation; a person or group not on the server) is
        answered here."""
        done: dict[str, ItemResult] = {}
        if changes[0].action is Action.UPDATE:
            return {c.key: ItemResult(c.key, ItemOutcome.DONE, "SCIM keeps no home organisation per member")
                    for c in changes}, []
        removing = changes[0].action is Action.DELETE
        refs = [membership_attrs(_attrs(c)) for c in changes]
        hints = _hints(changes)
        users = self.s.directory.ids(Endpoint.USERS, [r["person"] for r in refs], hints)
        groups = self.s.directory.ids(Endpoint.GROUPS, [r["group"] for r in refs], hints)
        work: dict[str, MemberWork] = {}
        for change, ref in zip(changes, refs, strict=True):
            user_id, group_id = users.get(ref["person"]), groups.get(ref["group"])
            if user_id is None or group_id is None:
                missing = f"person {ref['person']!r}" if user_id is None else f"group {ref['group']!r}"
                done[change.key] = (ItemResult(change.key, ItemOutcome.DONE, f"{missing} is not on the SCIM server")
                                    if removing else
                                    failed(change, f"{missing} is not on the SCIM server: it is made first",
                                           "parent-missing"))
                continue
            work.setdefault(group_id, MemberWork(ref["group"], group_id)).changes.append((change, user_id))
        return done, list(work.values())

    def send(self, work: MemberWork, action: Action) -> dict[str, ItemResult]:
        """One PATCH (or GET + PUT) for the group; a whole refusal (400) is tried again member by member."""
        results = self._send(work, work.changes, action)
        if results is None:
            results = {}
            for pair in work.changes:
                results.update(self._send(work, [pair], action) or {})
        return results

    def _send(self, work: MemberWork, pairs: Sequence[tuple[Change, str]],
              action: Action) -> dict[str, ItemResult] | None:
        ids = [user_id for _, user_id in pairs]
        add, remove = (ids, []) if action is Action.CREATE else ([], ids)
        assert work.group_id is not None
        answer: ScimAnswer = self.s.modify(Endpoint.GROUPS, work.group_id, members_patch(add, remove),
                                           lambda current: merge_members(current, add, remove))
        if answer.status == 400 and len(pairs) > 1:
            return None
        removing = action is Action.DELETE
        if answer.status == 404:
            self.s.directory.forget(Endpoint.GROUPS, work.group_key)
        return {change.key: outcome_of(change, answer, what=f"the members of group {work.group_key!r}",
                                       target_id=None, gone_is_done=removing) for change, _ in pairs}
