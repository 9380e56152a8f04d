"""The LDAP target: applies plan changes to an OpenLDAP or Active Directory directory, and reads back.

=================  =====================================================================================
change             what the directory gets
=================  =====================================================================================
person create      an entry under ou=<role>,ou=<BRIN6> (an upsert: an entry with the key is updated), an
                   initial password (Password Modify, RFC 3062; ad: unicodePwd) listed in the delivery report
person update      a modify of the owned attributes that changed; the user name (the RDN) never changes
person suspend     locked (ppolicy pwdAccountLockedTime; ad: ACCOUNTDISABLE) and moved to the leavers OU
person restore     moved back under its school, unlocked, attributes set again (as create)
person delete      removed from its groups, then deleted
group create       an OU (school, folder) or a groupOfNames / group (klas, course) under its parent
group update       description, and a modify DN when the name or the parent changed
group archive      nothing: the group stays in its school year's OU (its memberships follow the policy)
group delete       deleted (an OU that still holds entries is refused)
membership create  member add (one modify per group per batch); in a school or folder OU: the entry's place
membership delete  member delete; the last member makes way for the placeholder (groupOfNames needs one)
=================  =====================================================================================

Entries are found by their sync key (:mod:`.index`), never by name. One connection serves the target, and
batches are applied one at a time (a lock): an LDAP server answers one request after the other on a
connection anyway. Per-entry problems are results; a failing connection raises (:mod:`.client`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import structlog

from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import Capabilities, Check, TargetSnapshot
from koppel.targets.ldap import mapping
from koppel.targets.ldap.client import Answer, Code, LdapClient
from koppel.targets.ldap.index import DirectoryIndex, GroupEntry, norm_dn
from koppel.targets.ldap.mapping import MappingConfig, MoveEntry, Operation, SetPassword
from koppel.targets.ldap.members import MemberWriter
from koppel.targets.ldap.report import PasswordReport, new_password
from koppel.targets.ldap.settings import LdapSettings, LockMethod

__all__ = ["ACTIONS", "LdapTarget"]

log = structlog.get_logger(__name__)

ACTIONS = frozenset({
    *((ObjectKind.PERSON, a) for a in (Action.CREATE, Action.UPDATE, Action.SUSPEND, Action.RESTORE, Action.DELETE)),
    *((ObjectKind.GROUP, a) for a in (Action.CREATE, Action.UPDATE, Action.ARCHIVE, Action.RESTORE, Action.DELETE)),
    *((ObjectKind.MEMBERSHIP, a) for a in (Action.CREATE, Action.UPDATE, Action.DELETE)),
})


def _result(change: Change, outcome: ItemOutcome, message: str | None = None, code: str | None = None) -> ItemResult:
    return ItemResult(change.key, outcome, message, code)


def _failed(change: Change, code: str, message: str) -> ItemResult:
    return ItemResult(change.key, ItemOutcome.FAILED, message, code)


def _refused(change: Change, what: str, answer: Answer) -> ItemResult:
    return ItemResult(change.key, ItemOutcome.FAILED, f"{what}: {answer}", f"ldap-{answer.description or answer.code}")


class LdapTarget:
    """A koppel Target for one directory."""

    def __init__(self, name: str, settings: LdapSettings, *, client: LdapClient, report: PasswordReport | None):
        self.name = name
        self.settings = settings
        self.config = MappingConfig.from_settings(settings)
        self.capabilities = Capabilities(max_batch=settings.batch_size, max_operations_in_flight=settings.batch_size,
                                         adaptive=False, actions=ACTIONS, can_read=True, memberships_by_group=True)
        self.client = client
        self.report = report
        self._index: DirectoryIndex | None = None
        # (person, group) -> the roles this run made them a member in: a role change (teacher -> mentor) is a
        # create and a delete of the same member value, and the delete must not undo the create.
        self._added: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"LdapTarget(name={self.name!r}, url={self.settings.url!r}, base_dn={self.settings.base_dn!r})"

    @property
    def index(self) -> DirectoryIndex:
        if self._index is None:
            self._index = DirectoryIndex.load(self.client, self.config)
        return self._index

    # -- apply ----------------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Change]) -> list[ItemResult]:
        changes = list(batch)
        if not changes:
            return []
        kinds = {(c.kind, c.action) for c in changes}
        if len(kinds) != 1:
            raise ValueError(f"a batch must hold one kind and action, got {sorted(kinds)}")
        kind, action = next(iter(kinds))
        with self._lock:
            if (kind, action) not in ACTIONS:
                return [_failed(c, "unsupported", f"the LDAP target cannot {action.value} a {kind.value}")
                        for c in changes]
            if kind is ObjectKind.MEMBERSHIP:
                writer = MemberWriter(self.client, self.index, self.config, self._added)
                return writer.apply(action, changes)
            handle = self._person if kind is ObjectKind.PERSON else self._group
            results = [handle(action, change) for change in changes]
        for result in results:
            if result.outcome is not ItemOutcome.DONE:
                log.warning("ldap.item", target=self.name, key=result.key, outcome=result.outcome.value,
                            code=result.code, message=result.message)
        return results

    # -- persons --------------------------------------------------------------------------------------

    def _person(self, action: Action, change: Change) -> ItemResult:
        if action in (Action.CREATE, Action.RESTORE):
            return self._upsert_person(change)
        dn = self.index.persons.get(change.key)
        if action is Action.DELETE:
            return self._delete_person(change, dn)
        if dn is None:
            if action is Action.SUSPEND:
                return _result(change, ItemOutcome.WARNING, "not in the directory: nothing to suspend", "not-found")
            return _failed(change, "not-found", f"no entry with {self.config.person_key}={change.key} under "
                                                f"{self.config.base_dn}")
        if action is Action.UPDATE:
            modify, warning = mapping.person_update(change, dn, self.config)
            if modify is not None and not (answer := self.client.send(modify)).ok:
                return _refused(change, f"modify {dn}", answer)
            return _result(change, ItemOutcome.WARNING, warning, "not-renamed") if warning else \
                _result(change, ItemOutcome.DONE)
        return self._suspend(change, dn)

    def _upsert_person(self, change: Change) -> ItemResult:
        attrs = {**(change.before or {}), **(change.after or {})}
        username = str(attrs.get("username") or "")
        dn = self.index.persons.get(change.key)
        if dn is not None:
            return self._refresh_person(change, attrs, dn)
        problem = mapping.check_username(username, self.config)
        if problem:
            return _failed(change, "invalid-username", problem)
        owner = self.index.usernames.get(username.lower())
        if owner is not None:
            return self._username_taken(change, username, *owner)
        parent = self.config.person_parent(str(attrs.get("role")), change.school)
        trouble = self._ensure_ous(parent)
        if trouble is not None:
            return _refused(change, f"cannot make {parent}", trouble)
        add = mapping.person_add(attrs, change.key, parent, self.config)
        answer = self.client.send(add)
        if answer.code == Code.ALREADY_EXISTS:
            return self._username_taken(change, username, add.dn, None)
        if not answer.ok:
            return _refused(change, f"add {add.dn}", answer)
        self.index.add_person(change.key, add.dn, username)
        return self._initial_password(change, attrs, add.dn)

    def _refresh_person(self, change: Change, attrs: Mapping[str, Any], dn: str) -> ItemResult:
        """The entry is there (a replayed create, a restore): back in its school, unlocked, attributes as sent,
        and a password if it never got one."""
        cfg = self.config
        entry = self.client.read(dn, ["userPassword", "userAccountControl"])
        ops: list[Operation] = []
        if norm_dn(mapping.parent_dn(dn)) != norm_dn(cfg.person_parent(str(attrs.get("role")), change.school)):
            parent = cfg.person_parent(str(attrs.get("role")), change.school)
            trouble = self._ensure_ous(parent)
            if trouble is not None:
                return _refused(change, f"cannot make {parent}", trouble)
            move = MoveEntry(dn, mapping.rdn_of(dn), parent)
            ops.append(move)
            dn = move.new_dn
        uac = mapping.uac_of(entry.attributes) if entry else None
        refresh = mapping.refresh_person(attrs, dn, cfg)
        unlock = mapping.unlock_changes(dn, cfg, uac)
        if unlock is not None and (not cfg.ad or (uac or 0) & mapping.UAC_DISABLED):
            refresh = mapping.ModifyEntry(dn, refresh.changes + unlock.changes)
        ops.append(refresh)
        for op in ops:
            answer = self.client.send(op)
            if not answer.ok:
                return _refused(change, f"{type(op).__name__} {op.dn}", answer)
        self.index.move_person(change.key, dn)
        no_password = entry is not None and (
            not entry.attributes.get("userPassword") if not cfg.ad else bool((uac or 0) & mapping.UAC_DISABLED))
        if self.settings.initial_passwords and no_password:
            return self._initial_password(change, attrs, dn)
        return _result(change, ItemOutcome.DONE)

    def _initial_password(self, change: Change, attrs: Mapping[str, Any], dn: str) -> ItemResult:
        if not self.settings.initial_passwords or self.report is None:
            return _result(change, ItemOutcome.DONE)
        password = new_password(self.settings.password_length)
        answer = self.client.send(SetPassword(dn), password=password)
        if not answer.ok:
            # RETRY: the applier sends the create again, which finds the entry without a password.
            return _result(change, ItemOutcome.RETRY, f"created {dn}, but the initial password was refused: {answer}",
                           "password")
        self.report.add(username=str(attrs.get("username")), password=password, name=mapping.display_name(attrs),
                        role=str(attrs.get("role")), school=change.school, dn=dn)
        enable = mapping.after_password(dn, self.config)
        if enable is not None and not (answer := self.client.send(enable)).ok:
            return _result(change, ItemOutcome.RETRY, f"could not enable {dn}: {answer}", "enable")
        return _result(change, ItemOutcome.DONE)

    def _username_taken(self, change: Change, username: str, dn: str, owner: str | None) -> ItemResult:
        whose = f"koppel's person {owner}" if owner else "an account koppel does not manage"
        return _failed(change, "username-taken",
                       f"user name {username!r} is taken in the directory by {dn} ({whose}); koppel never takes over "
                       "or renames an account: remove or rename that entry, or give this person another user name")

    def _suspend(self, change: Change, dn: str) -> ItemResult:
        cfg = self.config
        uac = None
        if cfg.ad:
            entry = self.client.read(dn, ["userAccountControl"])
            uac = mapping.uac_of(entry.attributes) if entry else None
        lock = mapping.lock_changes(dn, cfg, uac)
        if lock is not None and not (answer := self.client.send(lock)).ok:
            return _refused(change, f"lock {dn}", answer)
        if norm_dn(mapping.parent_dn(dn)) != norm_dn(cfg.leavers_dn):
            trouble = self._ensure_ous(cfg.leavers_dn)
            if trouble is not None:
                return _refused(change, f"cannot make {cfg.leavers_dn}", trouble)
            move = MoveEntry(dn, mapping.rdn_of(dn), cfg.leavers_dn)
            if not (answer := self.client.send(move)).ok:
                return _refused(change, f"move {dn} to {cfg.leavers_dn}", answer)
            self.index.move_person(change.key, move.new_dn)
        return _result(change, ItemOutcome.DONE)

    def _delete_person(self, change: Change, dn: str | None) -> ItemResult:
        if dn is None:
            return _result(change, ItemOutcome.DONE)
        problem = MemberWriter(self.client, self.index, self.config, self._added).remove_everywhere(dn)
        if problem is not None:
            return _refused(change, f"remove {dn} from its groups", problem)
        answer = self.client.send(mapping.DeleteEntry(dn))
        if not answer.ok and answer.code != Code.NO_SUCH_OBJECT:
            return _refused(change, f"delete {dn}", answer)
        self.index.drop_person(change.key)
        return _result(change, ItemOutcome.DONE)

    # -- groups ---------------------------------------------------------------------------------------

    def _group(self, action: Action, change: Change) -> ItemResult:
        existing = self.index.groups.get(change.key)
        if action is Action.ARCHIVE:
            return _result(change, ItemOutcome.DONE)
        if action is Action.DELETE:
            if existing is None:
                return _result(change, ItemOutcome.DONE)
            answer = self.client.send(mapping.DeleteEntry(existing.dn))
            if answer.code == Code.NOT_ALLOWED_ON_NON_LEAF:
                return _failed(change, "not-empty", f"{existing.dn} still holds entries koppel did not remove "
                                                    "(persons or groups made by hand); move them away first")
            if not answer.ok and answer.code != Code.NO_SUCH_OBJECT:
                return _refused(change, f"delete {existing.dn}", answer)
            del self.index.groups[change.key]
            return _result(change, ItemOutcome.DONE)
        attrs = {**(change.before or {}), **(change.after or {})}
        parent_key = attrs.get("parent")
        parent = self.config.base_dn if parent_key is None else getattr(self.index.groups.get(parent_key), "dn", None)
        if parent is None:
            return _failed(change, "parent-missing", f"its parent group {parent_key} is not in the directory yet "
                                                     "(parents are made before their children)")
        if existing is not None:
            return self._update_group(change, attrs, existing, parent)
        if action is Action.UPDATE:
            return _failed(change, "not-found", f"no entry with {self.config.group_key}={change.key} under "
                                                f"{self.config.base_dn}")
        return self._add_group(change, attrs, parent)

    def _add_group(self, change: Change, attrs: Mapping[str, Any], parent: str) -> ItemResult:
        add = mapping.group_add(attrs, change.key, parent, self.config)
        answer = self.client.send(add)
        ou = mapping.is_ou(attrs)
        if answer.code == Code.ALREADY_EXISTS and ou:
            # An OU koppel made for a person before the school arrived, or one an administrator made: adopted.
            adopt = mapping.ModifyEntry(add.dn, (("replace", self.config.group_key, (change.key,)),
                                                 ("replace", "description", (str(attrs.get("name") or ""),))))
            answer = self.client.send(adopt)
        elif answer.code == Code.ALREADY_EXISTS:
            return _failed(change, "name-taken", f"{add.dn} is already there and koppel does not manage it "
                                                 "(no key): rename or remove it, or rename the group in the LAS")
        if not answer.ok:
            return _refused(change, f"add {add.dn}", answer)
        self.index.groups[change.key] = GroupEntry(add.dn, ou)
        if ou:
            self.index.ous.add(norm_dn(add.dn))
        elif self.config.placeholder is not None:
            self.index.with_placeholder.add(norm_dn(add.dn))
        return _result(change, ItemOutcome.DONE)

    def _update_group(self, change: Change, attrs: Mapping[str, Any], existing: GroupEntry, parent: str) -> ItemResult:
        dn = existing.dn
        for op in mapping.group_update(attrs, dn, parent, self.config):
            answer = self.client.send(op)
            if answer.code == Code.ALREADY_EXISTS:
                return _failed(change, "name-taken", f"cannot rename {dn}: {getattr(op, 'new_dn', dn)} is taken")
            if not answer.ok:
                return _refused(change, f"{type(op).__name__} {dn}", answer)
            if isinstance(op, MoveEntry):
                dn = op.new_dn
                if self.config.placeholder is not None and norm_dn(existing.dn) in self.index.with_placeholder:
                    self.index.with_placeholder.add(norm_dn(dn))
                self._rebase(existing.dn, dn)
        self.index.groups[change.key] = GroupEntry(dn, existing.ou)
        return _result(change, ItemOutcome.DONE)

    def _rebase(self, old: str, new: str) -> None:
        """After a modify DN of a subtree: the DNs below it moved too."""
        old_norm = norm_dn(old)
        suffix = "," + old_norm
        for key, dn in list(self.index.persons.items()):
            if norm_dn(dn).endswith(suffix):
                self.index.move_person(key, dn[: len(dn) - len(old)] + new if dn.endswith(old) else dn)
        for key, entry in list(self.index.groups.items()):
            if norm_dn(entry.dn).endswith(suffix) and entry.dn.endswith(old):
                self.index.groups[key] = GroupEntry(entry.dn[: len(entry.dn) - len(old)] + new, entry.ou)

    def _ensure_ous(self, dn: str) -> Answer | None:
        """Make the OUs from base_dn down to ``dn`` that are not there yet; None when they all are."""
        base = norm_dn(self.config.base_dn)
        chain: list[str] = []
        current = dn
        while norm_dn(current) != base and norm_dn(current).endswith("," + base):
            chain.append(current)
            current = mapping.parent_dn(current)
        for ou_dn in reversed(chain):
            if norm_dn(ou_dn) in self.index.ous:
                continue
            answer = self.client.send(mapping.ou_add(ou_dn, None, None, self.config))
            if not answer.ok and answer.code != Code.ALREADY_EXISTS:
                return answer
            self.index.ous.add(norm_dn(ou_dn))
        return None

    # -- read, check ----------------------------------------------------------------------------------

    def read(self, known_group_keys: Collection[str] = (), *, known_person_keys: Collection[str] = (),
             known_target_ids: Mapping[str, str] | None = None) -> TargetSnapshot:
        """What the directory holds under base_dn, in koppel's vocabulary (:mod:`.reader`). Read-only."""
        from koppel.targets.ldap.reader import read_directory

        with self._lock:
            return read_directory(self.client, self.config, known_target_ids or {})

    def held_attrs(self, kind: ObjectKind, attrs: Mapping[str, Any]) -> dict[str, Any]:
        return mapping.held_attrs(kind, attrs, self.config)

    def check(self, *, full: bool = True) -> list[Check]:
        """Can koppel work with this directory? Reads only (:mod:`.preflight`)."""
        from koppel.targets.ldap.preflight import run_checks

        with self._lock:
            return run_checks(self.client, self.settings, self.config, full=full)

    @property
    def locks_accounts(self) -> bool:
        return self.config.ad or self.settings.lock is LockMethod.PPOLICY

    def close(self) -> None:
        if self.report is not None:
            self.report.close()
            if self.report.path is not None:
                log.info("ldap.password_report", target=self.name, path=str(self.report.path), rows=self.report.rows)
        self.client.close()
