"""The OneRoster CSV target: stages a run's changes on the published mirror and publishes one zip.

A :class:`~koppel.targets.base.PublishingTarget`. ``apply`` checks each change (a child before its parent, a
person without a name are per-object data errors) and stages it on the mirror of what was last published
(:class:`~koppel.targets.files.PublishedRoster`, loaded once per run); the platform sees nothing yet.
``publish`` writes the zip with :func:`~koppel.targets.files.atomic_write` — a temp file beside it, fsync,
rename — and only then the mirror; the applier records the run's changes after ``publish`` returned. A
failed write leaves the previous zip and the previous mirror, and the state does not move: the next run
stages and publishes the same changes again.

In bulk mode every zip is the whole roster (:func:`~.tables.snapshot_rows`) under one name; in delta mode the
first zip is a bulk and each later one holds the rows that changed (:func:`~.tables.delta_rows`) under a new
name with a sequence number. A run whose changes change no row (a folder renamed) writes no zip.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from koppel.errors import TargetConfigError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import Capabilities, Check, CheckStatus, ReadObject, TargetSnapshot
from koppel.targets.files import PublishedRoster, atomic_write
from koppel.targets.onerostercsv.mapping import Body, MappingOptions, refusal, sourced_id
from koppel.targets.onerostercsv.package import PackageRow, iso_modified, write_package
from koppel.targets.onerostercsv.settings import Mode, OneRosterCsvSettings
from koppel.targets.onerostercsv.tables import Delta, delta_rows, snapshot_rows

__all__ = ["ACTIONS", "OneRosterCsvTarget", "mapping_options"]

log = structlog.get_logger(__name__)

ACTIONS = frozenset((kind, action) for kind in ObjectKind for action in Action)
PRIVATE = ("_school",)  # attributes the target keeps for itself (a person's last school), never read back


def mapping_options(settings: OneRosterCsvSettings) -> MappingOptions:
    return MappingOptions(settings.version, settings.voorvoegsel, settings.suspended_users, settings.archived_classes)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OneRosterCsvTarget:
    """A koppel target that publishes a OneRoster CSV zip in a folder."""

    def __init__(self, name: str, settings: OneRosterCsvSettings, *, folder: Path, mirror: Path,
                 clock: Callable[[], dt.datetime] = _utcnow):
        self.name = name
        self.settings = settings
        self.folder = folder
        self.mirror = mirror
        self.capabilities = Capabilities(max_batch=settings.batch_size, max_operations_in_flight=2 * settings.batch_size,
                                         adaptive=False, actions=ACTIONS, can_read=True)
        self._options = mapping_options(settings)
        self._clock = clock
        self._lock = threading.Lock()
        self._roster: PublishedRoster | None = None

    def __repr__(self) -> str:
        return f"OneRosterCsvTarget(name={self.name!r}, folder={str(self.folder)!r})"

    # -- apply: stage -------------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Change]) -> list[ItemResult]:
        with self._lock:
            roster = self._load()
            return [self._stage(roster, change) for change in batch]

    def _stage(self, roster: PublishedRoster, change: Change) -> ItemResult:
        held = roster.get(change.kind, change.key)
        attrs = {**(held.attrs if held else {}), **(change.after or {})}

        def exists(kind: ObjectKind, key: str) -> bool:
            return roster.get(kind, key) is not None

        problem = refusal(change, attrs, exists, self._options)
        if problem is not None:
            log.warning("oneroster_csv.item_refused", key=change.key, message=problem)
            return ItemResult(change.key, ItemOutcome.FAILED, problem, code="invaliddata")
        if change.kind is ObjectKind.PERSON and change.after is not None and change.school:
            change = replace(change, after={**change.after, "_school": change.school})
        roster.stage(change)
        sid = sourced_id(change.key)
        group = roster.get(ObjectKind.GROUP, attrs.get("group", "")) if change.kind is ObjectKind.MEMBERSHIP else None
        if (group is not None and group.attrs.get("type") in ("klas", "course") and attrs.get("role") == "guardian"
                and self.settings.version == "1.1"):
            return ItemResult(change.key, ItemOutcome.WARNING, "OneRoster 1.1 has no guardian enrollment role: not "
                              "written (the guardian's children are in its agentSourcedIds)", target_id=sid)
        return ItemResult(change.key, ItemOutcome.DONE, target_id=sid)

    @property
    def pending(self) -> int:
        """Changes staged and not yet published."""
        return len(self._roster.staged) if self._roster is not None else 0

    def _load(self) -> PublishedRoster:
        if self._roster is None:
            self._roster = PublishedRoster.load(self.mirror)
        return self._roster

    # -- publish ------------------------------------------------------------------------------------------

    def publish(self) -> str:
        """Write the zip (whole or not at all), then the mirror; returns the zip's path and what it holds."""
        with self._lock:
            roster = self._load()
            moment = self._clock()
            sequence = roster.publication + 1
            bulk = self.settings.mode is Mode.BULK or roster.publication == 0
            if bulk:
                files = self._bulk_files(snapshot_rows(roster.objects(), self._options))
            else:
                delta = delta_rows(roster, self._options)
                if not delta.count():
                    roster.commit()
                    return f"no row of {self.folder} changed: no zip written"
                files = self._delta_files(delta, iso_modified(moment))
            mode = "bulk" if bulk else "delta"
            name = self.settings.name_template.format(sequence=sequence, mode=mode,
                                                      timestamp=moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"))
            path = self.folder / name
            counts: dict[str, int] = {}

            def write(out: Any) -> None:
                counts.update(write_package(out, self.settings.version, files, system_name=self.settings.system_name,
                                            moment=moment))

            atomic_write(path, write)
            roster.commit()
            rows = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
            log.info("oneroster_csv.published", path=str(path), mode=mode, sequence=sequence, **counts)
            return f"{path} (OneRoster {self.settings.version} {mode} #{sequence}: {rows or 'no rows'})"

    def _bulk_files(self, rows: Mapping[str, Iterable[tuple[str, Body]]]) -> dict[str, tuple[str, Iterator[PackageRow]]]:
        return {name: ("bulk", ((sid, "", "", body) for sid, body in table)) for name, table in rows.items()}

    def _delta_files(self, delta: Delta, modified: str) -> dict[str, tuple[str, Iterator[PackageRow]]]:
        return {name: ("delta", ((sid, status, modified, body) for sid, (status, body) in sorted(table.items())))
                for name, table in delta.files.items()}

    def discard(self) -> None:
        with self._lock:
            if self._roster is not None:
                self._roster.discard()

    # -- read ---------------------------------------------------------------------------------------------

    def read(self, known_group_keys: Collection[str] = (), *, known_person_keys: Collection[str] = (),
             known_target_ids: Mapping[str, str] | None = None) -> TargetSnapshot:
        """What koppel last published (the mirror), active objects only, in the neutral vocabulary. A file
        target cannot see what the platform made of it: drift shows only if the mirror itself was changed."""
        roster = PublishedRoster.load(self.mirror)
        objects = tuple(
            ReadObject(o.kind, o.key, {k: v for k, v in o.attrs.items() if k not in PRIVATE},
                       target_id=sourced_id(o.key))
            for o in roster.published.values() if o.status == "active")
        return TargetSnapshot(objects, notes=(f"read from {self.mirror} (what koppel last published)",))

    def held_attrs(self, kind: ObjectKind, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """A file holds exactly what was written (tuples read back as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}

    # -- check --------------------------------------------------------------------------------------------

    def check(self, *, full: bool = True) -> list[Check]:
        """Is the folder writable, and what was last published (and when)? Writes nothing."""
        checks = [self._folder_check()]
        try:
            roster = PublishedRoster.load(self.mirror)
        except TargetConfigError as exc:
            checks.append(Check("last publication", CheckStatus.FAILED, str(exc),
                                f"remove {self.mirror} and run `koppel sync --full` to publish a complete zip"))
            return checks
        if not roster.publication:
            checks.append(Check("last publication", CheckStatus.OK, "nothing published yet; the first sync writes a "
                                "complete (bulk) zip"))
            return checks
        when = dt.datetime.fromtimestamp(self.mirror.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        counts = {kind.value: 0 for kind in ObjectKind}
        for obj in roster.published.values():
            counts[obj.kind.value] += 1
        checks.append(Check("last publication", CheckStatus.OK,
                            f"publication #{roster.publication} at {when}: {counts['person']:,} person(s), "
                            f"{counts['group']:,} group(s), {counts['membership']:,} membership(s)",
                            data={"publication": roster.publication, **counts}))
        if full and self.settings.mode is Mode.BULK:
            name = self.settings.name_template.format(sequence=roster.publication, mode="bulk", timestamp="")
            if "{" not in self.settings.name_template and not (self.folder / name).exists():
                checks.append(Check("zip", CheckStatus.WARNING, f"{self.folder / name} is gone (the platform took it, "
                                    "or it was removed); the next change publishes a complete zip again",
                                    "run `koppel sync --full` to publish it now"))
        return checks

    def _folder_check(self) -> Check:
        existing = self.folder
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        if not existing.is_dir():
            return Check("folder", CheckStatus.FAILED, f"{existing} is not a folder", f"set folder to a folder ({self.folder})")
        if not os.access(existing, os.W_OK | os.X_OK):
            return Check("folder", CheckStatus.FAILED, f"koppel may not write in {existing}",
                         f"give the user running koppel write access to {existing}, or set another folder")
        if existing != self.folder:
            return Check("folder", CheckStatus.OK, f"{self.folder} will be made on the first publication")
        return Check("folder", CheckStatus.OK, f"koppel can write in {self.folder}")

    def close(self) -> None:
        """What was staged and not published is dropped with the target; the mirror's connection is closed."""
        if self._roster is not None:
            self._roster.close()  # the mirror's SQLite connection
            self._roster = None
