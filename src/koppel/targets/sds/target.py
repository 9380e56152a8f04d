"""The SDS target: stages a run's changes on the published roster and publishes the SDS v2.1 CSV set at the end.

A :class:`~koppel.targets.base.PublishingTarget` (docs/targets/files and docs/targets/sds.md):

* ``apply`` checks each change against what SDS can take (:func:`.mapping.object_problem`, a parent group and
  a membership's person and group present) and stages it on the :class:`~koppel.targets.files.PublishedRoster`
  (loaded once per run); a problem is that object's ``FAILED`` result, the others go on;
* ``publish`` builds the whole set from the roster (:class:`.mapping.SdsFiles`), writes the seven files into a
  temporary folder next to the flow's folder, uploads them over SFTP when configured (:mod:`.sftp`), then swaps
  the folder in (one ``rename``: the flow's folder is always one complete set) and only then writes the mirror.
  Any failure before that raises, nothing is published, and the applier records nothing;
* ``read`` is the mirror (:mod:`.reader`); ``check`` says whether the folder is writable, what was published
  last, and (with SFTP) whether the server is reachable, its host key right, the login accepted and the remote
  folder writable.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import structlog

from koppel.errors import KoppelError, TargetConfigError, TransientTargetError
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import Capabilities, Check, CheckStatus, TargetSnapshot
from koppel.targets.files import PublishedRoster
from koppel.targets.sds.mapping import FILES, MappingConfig, SdsFiles, object_problem, write_csv
from koppel.targets.sds.reader import snapshot_of
from koppel.targets.sds.settings import SdsSettings
from koppel.targets.sds.sftp import SftpUploader

__all__ = ["SdsTarget", "mapping_config"]

log = structlog.get_logger(__name__)

ACTIONS = frozenset((k, a) for k in ObjectKind for a in Action)
BATCH = 1000


def mapping_config(settings: SdsSettings) -> MappingConfig:
    bestuur = settings.bestuur
    return MappingConfig(
        username_domain=settings.username_domain, staff_role=settings.staff_role, klassen=settings.klassen,
        match_existing_accounts=settings.match_existing_accounts, emails=settings.emails,
        guardian_role=settings.guardian_role,
        bestuur=(bestuur.sourced_id, bestuur.name, bestuur.type) if bestuur else None,
        flow_folder=settings.flow_folder)


class SdsTarget:
    """A koppel target that publishes School Data Sync v2.1 CSV sets."""

    def __init__(self, name: str, settings: SdsSettings, *, folder: Path, uploader: SftpUploader | None = None,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        self.name = name
        self.settings = settings
        self.folder = folder
        self.uploader = uploader
        # Staging is in memory and serialised by a lock: large batches, two in flight (the applier cuts a batch at
        # about half the operations budget, so a budget of 1 would stage one object per call).
        self.capabilities = Capabilities(max_batch=BATCH, max_operations_in_flight=2 * BATCH, adaptive=False,
                                         actions=ACTIONS, can_read=True)
        self.config = mapping_config(settings)
        self.mirror_path = folder / ".koppel" / f"{name}.db"
        self._today = today
        self._roster: PublishedRoster | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SdsTarget(name={self.name!r}, folder={str(self.folder)!r}, sftp={self.uploader!r})"

    def _load(self) -> PublishedRoster:
        if self._roster is None:
            self._roster = PublishedRoster.load(self.mirror_path)
        return self._roster

    # -- apply: stage --------------------------------------------------------------------------------------

    def apply(self, batch: Sequence[Change]) -> list[ItemResult]:
        with self._lock:
            roster = self._load()
            return [self._stage(roster, change) for change in batch]

    def _stage(self, roster: PublishedRoster, change: Change) -> ItemResult:
        if change.action is Action.DELETE:
            roster.stage(change)
            return ItemResult(change.key, ItemOutcome.DONE, target_id=change.key)
        before = roster.get(change.kind, change.key)
        if before is None and change.action in (Action.SUSPEND, Action.ARCHIVE):
            return ItemResult(change.key, ItemOutcome.DONE, target_id=change.key)  # not published: nothing to take out
        if change.action in (Action.CREATE, Action.UPDATE, Action.RESTORE):
            attrs: dict[str, Any] = {**(before.attrs if before else {}), **(change.after or {})}
            problem = object_problem(change.kind, attrs, self.config) or self._missing_reference(roster, change, attrs)
            if problem is not None:
                log.warning("sds.item_refused", key=change.key, message=problem)
                return ItemResult(change.key, ItemOutcome.FAILED, problem, code="invaliddata")
        roster.stage(change)
        return ItemResult(change.key, ItemOutcome.DONE, target_id=change.key)

    @staticmethod
    def _missing_reference(roster: PublishedRoster, change: Change, attrs: dict[str, Any]) -> str | None:
        if change.kind is ObjectKind.GROUP:
            parent = attrs.get("parent")
            if parent and roster.get(ObjectKind.GROUP, parent) is None:
                return f"its parent group {parent!r} is not there (yet)"
        elif change.kind is ObjectKind.MEMBERSHIP:
            for kind, key in ((ObjectKind.PERSON, attrs.get("person")), (ObjectKind.GROUP, attrs.get("group"))):
                if not key or roster.get(kind, str(key)) is None:
                    return f"its {kind.value} {key!r} is not there (yet)"
        return None

    def discard(self) -> None:
        with self._lock:
            if self._roster is not None:
                self._roster.discard()

    # -- publish -------------------------------------------------------------------------------------------

    def publish(self) -> str:
        """Write the whole set, upload it (SFTP), swap it in, then move the mirror. Returns where it went."""
        with self._lock:
            roster = self._load()
            files = SdsFiles(roster.objects(), self.config, today=self._today())
            flow = files.flow
            tmp, counts = self._write(files)
            try:
                remote = self.uploader.upload([tmp / name for name in FILES], flow) if self.uploader else None
                destination = self.folder / flow
                _swap_in(tmp, destination)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
            roster.commit()
        held = f"; {files.held_back:,} class(es) of a later school year held back" if files.held_back else ""
        summary = ", ".join(f"{name.removesuffix('.csv')} {n:,}" for name, n in counts.items())
        note = f"{destination} ({summary}){held}" + (f"; uploaded to {remote}" if remote else "")
        log.info("sds.published", flow=flow, folder=str(destination), remote=remote, **{
            name.removesuffix(".csv"): n for name, n in counts.items()})
        return note

    def _write(self, files: SdsFiles) -> tuple[Path, dict[str, int]]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{files.flow}.", suffix=".tmp", dir=self.folder))
        except (PermissionError, FileExistsError, NotADirectoryError) as exc:
            raise TargetConfigError(f"cannot write in {self.folder}: {exc.strerror}") from None
        except OSError as exc:
            raise TransientTargetError(f"cannot write in {self.folder}: {exc.strerror}") from None
        counts: dict[str, int] = {}
        try:
            for name in FILES:
                with open(tmp / name, "w", encoding="utf-8", newline="") as out:
                    counts[name] = write_csv(out, self.config.headers(name), files.rows(name))
                    out.flush()
                    os.fsync(out.fileno())
            os.chmod(tmp, 0o755)
            _fsync_dir(tmp)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise TransientTargetError(f"cannot write the SDS files in {self.folder}: {exc.strerror or exc}") from None
            raise
        return tmp, counts

    # -- read and check ------------------------------------------------------------------------------------

    def read(self, group_keys: Collection[str] = (), **known: Any) -> TargetSnapshot:
        """The mirror of what was last published (SDS has nothing koppel could read back)."""
        return snapshot_of(PublishedRoster.load(self.mirror_path))

    def check(self, *, full: bool = True) -> list[Check]:
        checks = [self._folder_check(), self._published_check()]
        if self.uploader is not None:
            checks += self.uploader.check()
        return checks

    def _folder_check(self) -> Check:
        folder = self.folder
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        if not folder.is_dir():
            return Check("folder", CheckStatus.FAILED, f"{folder} is not a folder", "set folder to a folder koppel may write")
        if not os.access(folder, os.W_OK | os.X_OK):
            return Check("folder", CheckStatus.FAILED, f"koppel may not write in {folder}",
                         f"give the user koppel runs as write access to {folder}, or choose another folder")
        made = "" if folder == self.folder else f" ({self.folder} is made on the first publication)"
        return Check("folder", CheckStatus.OK, f"koppel may write in {folder}{made}")

    def _published_check(self) -> Check:
        try:
            roster = PublishedRoster.load(self.mirror_path)
            stamp = self.mirror_path.stat().st_mtime if self.mirror_path.exists() else None
        except KoppelError as exc:
            return Check("published", CheckStatus.FAILED, str(exc), "remove the file and run `koppel sync --full`")
        if not roster.publication:
            return Check("published", CheckStatus.OK, "nothing published yet", data={"publication": 0})
        when = dt.datetime.fromtimestamp(stamp or 0, dt.UTC).isoformat(timespec="seconds")
        flows = sorted(p.name for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if self.folder.is_dir() else []
        return Check("published", CheckStatus.OK,
                     f"publication {roster.publication} at {when}: {len(roster.published):,} objects; flow folders: "
                     f"{', '.join(flows) or 'none'}", data={"publication": roster.publication, "at": when})

    def close(self) -> None:
        """The SFTP connection lives only inside ``publish``; the mirror's connection is closed here."""
        if self._roster is not None:
            self._roster.close()  # the mirror's SQLite connection
            self._roster = None


# -- swapping a folder in --------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _swap_in(new: Path, destination: Path) -> None:
    """Make ``new`` the folder at ``destination`` in one step: ``rename`` when there is none yet; otherwise Linux's
    ``renameat2(RENAME_EXCHANGE)`` swaps the two (the old set then sits at ``new`` and is removed), and elsewhere
    the old folder is renamed away first (a moment without the folder, never a mixed set)."""
    try:
        if not destination.exists():
            os.rename(new, destination)
        elif not _exchange(new, destination):
            old = destination.with_name(f".{destination.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(destination, old)
            os.rename(new, destination)
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(destination.parent)
    except PermissionError as exc:
        raise TargetConfigError(f"cannot put the SDS files in {destination}: {exc.strerror}") from None
    except OSError as exc:
        raise TransientTargetError(f"cannot put the SDS files in {destination}: {exc.strerror or exc}") from None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
