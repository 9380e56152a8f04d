"""The IMS Enterprise file target: stages a run's changes, publishes one file, keeps the mirror.

A :class:`~koppel.targets.base.PublishingTarget` (see :mod:`koppel.targets.files`): ``apply`` checks each change
and stages it on the :class:`~koppel.targets.files.PublishedRoster` (loaded once per run) — a per-object problem
is a FAILED result and the object is not staged; ``publish`` writes the file atomically (temp file, fsync,
rename), then the carried events (Moodle), then the mirror, and only then does the applier move the state. A
run without changes never publishes: no file is touched.

==================  ===============================  ==============================================
change              Moodle                           itslearning (snapshot semantics)
==================  ===============================  ==============================================
person create       in every snapshot (delta: 1)     in every snapshot
person update       recstatus 2 (carried)            in every snapshot, with the new values
person suspend      recstatus 2, auth=suspend_auth   left out of the file: the import removes it
                    (when set; else nothing)
person restore      recstatus 2 (carried)            back in the file
person delete       recstatus 3 (carried; Moodle     left out
                    deletes by user name)
group create        a course in every snapshot       a group in every snapshot
group update        recstatus 2: <full> only         in every snapshot, with the new values
group archive       recstatus 3: Moodle hides it     kept in the file (deleting it would delete it)
group restore       recstatus 2 (stays hidden)       in the file
group delete        recstatus 3: Moodle hides it     left out
membership create   status 1 in every snapshot       in every snapshot
membership update   nothing (home is itslearning's   nothing
                    IMS ES concept)
membership delete   recstatus 3 + status 0           left out
==================  ===============================  ==============================================
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from koppel.errors import TargetConfigError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import Capabilities, Check, CheckStatus, TargetSnapshot
from koppel.targets.files import MirrorObject, PublishedRoster, atomic_write
from koppel.targets.imsenterprise.carry import CarriedEvents
from koppel.targets.imsenterprise.document import Written, counts, ident, view_of, write_file
from koppel.targets.imsenterprise.mapping import (
    CODE_MISSING_PARENT,
    CODE_UNSUPPORTED,
    GROUP_ID_LIMIT,
    PERSON_ID_LIMIT,
    SUPPORTED,
    Event,
    MappingConfig,
    Refusal,
    event_of,
    group_record,
    person_record,
    wire_id,
)
from koppel.targets.imsenterprise.reader import snapshot_of
from koppel.targets.imsenterprise.settings import ImsEnterpriseSettings, Mode, Profile

__all__ = ["ImsEnterpriseTarget"]

log = structlog.get_logger(__name__)

# Objects per apply call, and the applier's ceiling of objects in flight: a batch is about half the ceiling
# (koppel.apply.budget), so 2,000 gives batches of 1,000. Staging is in memory and locked: one at a time.
MAX_BATCH = 1000
IN_FLIGHT = 2 * MAX_BATCH


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _newer_than(path: Path, previous: float | None) -> None:
    """Moodle compares whole seconds (PHP's filemtime) and skips a file not newer than the one it last read: a
    file replaced within the same second gets the next second as its modification time."""
    if previous is None:
        return
    stat = path.stat()
    if int(stat.st_mtime) <= int(previous):
        os.utime(path, (stat.st_atime, int(previous) + 1))


class ImsEnterpriseTarget:
    """A koppel target writing IMS Enterprise 1.1 files for Moodle or itslearning."""

    def __init__(self, name: str, settings: ImsEnterpriseSettings, *, folder: Path, mirror_path: Path | None = None,
                 clock: Callable[[], dt.datetime] = _now):
        self.name = name
        self.settings = settings
        self.folder = folder
        self.mirror_path = mirror_path or folder / ".koppel" / f"{name}.db"
        self.carry_path = self.mirror_path.with_name(self.mirror_path.stem + ".carry.json")
        self.capabilities = Capabilities(max_batch=MAX_BATCH, max_operations_in_flight=IN_FLIGHT, adaptive=False,
                                         actions=SUPPORTED, can_read=True)
        self._config = MappingConfig.of(settings)
        self._clock = clock
        self._roster: PublishedRoster | None = None
        self._pending: dict[tuple[ObjectKind, str], Event | None] = {}
        self._carried: frozenset[tuple[ObjectKind, str]] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ImsEnterpriseTarget(name={self.name!r}, path={str(self.path_for(1))!r})"

    @property
    def roster(self) -> PublishedRoster:
        if self._roster is None:
            self._roster = PublishedRoster.load(self.mirror_path)
        return self._roster

    def path_for(self, sequence: int) -> Path:
        return self.folder / self.settings.file_name_for(sequence)

    # -- apply: stage ------------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Change]) -> list[ItemResult]:
        """One result per change, in order; every change that can be written is staged for ``publish``."""
        with self._lock:
            return [self._stage(change) for change in batch]

    def _stage(self, change: Change) -> ItemResult:
        if (change.kind, change.action) not in SUPPORTED:
            return ItemResult(change.key, ItemOutcome.FAILED, f"an IMS Enterprise file cannot {change.action.value} "
                              f"a {change.kind.value}", code=CODE_UNSUPPORTED)
        roster = self.roster
        before = roster.get(change.kind, change.key)
        try:
            ids = self._check(change, before)
        except Refusal as refusal:
            log.warning("imsenterprise.item_refused", key=change.key, code=refusal.code, message=refusal.message)
            return ItemResult(change.key, ItemOutcome.FAILED, refusal.message, code=refusal.code)
        staged = roster.stage(change)
        own = ids.get("id")
        if staged.after is not None and own and own != change.key:
            staged.after.target_id = own
        event = None if not ids or not self._config.moodle else event_of(
            change, before.attrs if before else None, staged.after.attrs if staged.after else None, self._config,
            ids=ids)
        ident = (change.kind, change.key)
        if event is not None or ident in self._carried_keys():  # a None voids what is carried for the object
            self._pending[ident] = event
        target_id = own if own and own != change.key else None
        return ItemResult(change.key, ItemOutcome.DONE, target_id=target_id)

    def _carried_keys(self) -> frozenset[tuple[ObjectKind, str]]:
        """The objects whose changes are being repeated (read once a run): only they need a void marker."""
        if self._carried is None:
            self._carried = (frozenset(CarriedEvents.load(self.carry_path).events) if self.settings.carries
                             else frozenset())
        return self._carried

    def _check(self, change: Change, before: MirrorObject | None) -> dict[str, Any]:
        """Whether the change can be written; the ids its records carry. Raises :class:`Refusal`."""
        config = self._config
        kind, action = change.kind, change.action
        merged = {**(before.attrs if before else {}), **(change.after or {})}
        if kind is ObjectKind.MEMBERSHIP:
            return self._membership_ids(change, merged)
        limit = PERSON_ID_LIMIT if kind is ObjectKind.PERSON else GROUP_ID_LIMIT
        own = change.target_id or (before.target_id if before else None) or wire_id(change.key, limit)
        if action in (Action.CREATE, Action.UPDATE, Action.RESTORE):
            if kind is ObjectKind.PERSON:
                person_record(own, merged, config)  # raises on what cannot be written
            else:
                group_record(own, merged, config)
                parent = merged.get("parent")
                if parent and self.roster.get(ObjectKind.GROUP, str(parent)) is None:
                    raise Refusal(f"its parent group {parent} is not published (yet): it is written after its parent",
                                  CODE_MISSING_PARENT)
        return {"id": own}

    def _membership_ids(self, change: Change, attrs: Mapping[str, Any]) -> dict[str, Any]:
        roster = self.roster
        person_key, group_key = str(attrs.get("person") or ""), str(attrs.get("group") or "")
        person = roster.get(ObjectKind.PERSON, person_key)
        group = roster.get(ObjectKind.GROUP, group_key)
        if change.action is not Action.DELETE:
            for what, key, obj in (("person", person_key, person), ("group", group_key, group)):
                if obj is None:
                    raise Refusal(f"its {what} {key} is not published (yet): a membership is written after its "
                                  f"{what}", CODE_MISSING_PARENT)
            assert group is not None
            role = str(attrs.get("role"))
            if self._config.writes_group(group.attrs.get("type")) and self._config.role_codes.get(role) is None:
                raise Refusal(f"no IMS roletype for the role {role!r} in a course (Moodle maps 04 Member to student): "
                              f"set roles.{role} to write it")
            if change.action is Action.UPDATE or self._config.mode is Mode.SNAPSHOT or not self._config.moodle:
                return {}  # nothing but the snapshot: no record of its own (a million of these on a first load)
        return {
            "person_id": ident(person) if person else person_key,
            "username": str(person.attrs.get("username") or "") if person else "",
            "group_id": ident(group) if group else group_key,
            "group_type": group.attrs.get("type") if group else None,
        }

    # -- publish ------------------------------------------------------------------------------------------

    def publish(self) -> str:
        """Write the file (atomically), the carried events and the mirror; a short note of what was published."""
        with self._lock:
            roster = self.roster
            now = self._clock()
            when = now.isoformat(timespec="seconds")
            sequence = roster.publication + 1
            carried: CarriedEvents | None = None
            if self.settings.carries:
                carried = CarriedEvents.load(self.carry_path)
                carried.merge(self._pending, when)
                carried.expire(now - dt.timedelta(days=self.settings.carry_days))
                events = carried.values()
            else:
                events = [e for e in self._pending.values() if e is not None]
                for event in events:
                    event.since = when
            view = view_of(roster.objects())
            path = self.path_for(sequence)
            written = Written()

            def write(out: Any) -> None:
                nonlocal written
                written = write_file(out, view, events, self._config, when=when)

            previous = _mtime(path)
            try:
                atomic_write(path, write)
            except Refusal as refusal:  # validated when staged: only an older mirror can hold such a value
                raise TargetConfigError(f"{path} was not written: {refusal.message}") from None
            _newer_than(path, previous)
            if carried is not None:
                carried.save()
            roster.commit()
            self._pending.clear()
            self._carried = None
            log.info("imsenterprise.published", path=str(path), publication=sequence, persons=written.persons,
                     groups=written.groups, members=written.members, updates=written.updates,
                     removals=written.removals)
            return f"{path} (publication {sequence}: {written.note()})"

    def discard(self) -> None:
        with self._lock:
            if self._roster is not None:
                self._roster.discard()
            self._pending.clear()
            self._carried = None

    # -- read and check -----------------------------------------------------------------------------------

    def read(self, group_keys: Sequence[str] = (), **known: Any) -> TargetSnapshot:
        """What koppel last published (its mirror, with anything staged in this run): Moodle and itslearning
        cannot be read back through a file. Active objects only; suspended persons and archived groups are
        counted in the notes."""
        return snapshot_of(self.roster.objects(), self.mirror_path)

    def held_attrs(self, kind: ObjectKind, attrs: Mapping[str, Any]) -> dict[str, Any]:
        return dict(attrs)

    def check(self, *, full: bool = True) -> list[Check]:
        """Whether the folder can be written, and (full) what was last published and when."""
        checks = [self._folder_check()]
        if checks[0].status is CheckStatus.FAILED or not full:
            return checks
        try:
            roster = PublishedRoster.load(self.mirror_path)
        except TargetConfigError as exc:
            return [*checks, Check("last publication", CheckStatus.FAILED, str(exc),
                                   "remove the damaged file and run `koppel sync --full`")]
        checks.append(self._published_check(roster))
        leftovers = sorted(p.name for p in self.folder.glob(".*.tmp")) if self.folder.is_dir() else []
        if leftovers:
            checks.append(Check("temporary files", CheckStatus.WARNING,
                                f"{len(leftovers)} temporary file(s) of an interrupted write in {self.folder}: "
                                f"{', '.join(leftovers[:3])}", "remove them; they are never read"))
        if self.settings.profile is Profile.MOODLE:
            checks.append(self._moodle_note())
        return checks

    def _folder_check(self) -> Check:
        folder = self.folder
        if folder.is_dir():
            if os.access(folder, os.W_OK | os.X_OK):
                return Check("folder", CheckStatus.OK, f"{folder} is writable")
            return Check("folder", CheckStatus.FAILED, f"{folder} is not writable for koppel",
                         f"give the user koppel runs as write access to {folder}")
        existing = next((p for p in folder.parents if p.exists()), None)
        if folder.exists() or existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            return Check("folder", CheckStatus.FAILED, f"{folder} is not a folder koppel can make or write",
                         "set `folder` to a writable folder (for Moodle: the folder of imsfilelocation)")
        return Check("folder", CheckStatus.WARNING, f"{folder} does not exist yet; the first publication makes it")

    def _published_check(self, roster: PublishedRoster) -> Check:
        if roster.publication == 0:
            return Check("last publication", CheckStatus.OK, "nothing published yet; the first sync writes the file")
        view = view_of(roster.objects())
        figures = counts(view)
        when = dt.datetime.fromtimestamp(self.mirror_path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
        path = self.path_for(roster.publication)
        message = (f"publication {roster.publication} at {when}: {sum(figures['persons'].values()):,} person(s), "
                   f"{sum(figures['groups'].values()):,} group(s), {figures['memberships']:,} membership(s)")
        data = {"publication": roster.publication, "published_at": when, **figures}
        if path.exists():
            return Check("last publication", CheckStatus.OK, f"{message}; {path} ({path.stat().st_size:,} bytes)",
                         data=data)
        if self.settings.numbered or self.settings.profile is Profile.ITSLEARNING:
            return Check("last publication", CheckStatus.OK, f"{message}; {path.name} was picked up", data=data)
        return Check("last publication", CheckStatus.WARNING, f"{message}; but {path} is gone (Moodle leaves it "
                     "in place)", "the next publication writes it whole; check what removed it", data=data)

    def _moodle_note(self) -> Check:
        return Check(
            "moodle", CheckStatus.OK,
            f"Moodle reads {self.path_for(1) if not self.settings.numbered else self.folder} when its 'File "
            "location' (imsfilelocation) is that path; it needs 'Create user accounts' and 'Create new courses' on, "
            "'Unenrol' (imsunenrol) for removals, 'Update user data' for updates and suspensions, 'Delete user "
            "accounts' for deletions (docs/targets/ims-enterprise.md)")

    def close(self) -> None:
        """Files are written whole inside ``publish``; the mirror's connection is closed here."""
        if self._roster is not None:
            self._roster.close()  # the mirror's SQLite connection
            self._roster = None
