"""What the file targets share (IMS Enterprise XML, OneRoster CSV, SDS CSV): a mirror of what was last
published, a run's changes staged onto it, and publishing a file atomically.

A file target is a :class:`~koppel.targets.base.PublishingTarget`: ``apply`` stages each batch on a
:class:`PublishedRoster` and ``publish`` writes the platform's file(s) from it, then the mirror. The mirror
is needed because a full snapshot holds every object, not only the run's changes, and because the platform
may remove a file once it has read it. It lives in a private folder beside the output
(``<folder>/.koppel/<target>.json`` by default), written after the platform's file: a crash between the two
leaves the old mirror and an unmoved state, and the next run stages and publishes the same changes again —
a snapshot published twice is the same file.

:func:`atomic_write` writes a temp file in the destination's folder, fsyncs it and renames it over the
destination, so a platform that polls the folder never reads half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from koppel.errors import TargetConfigError, TransientTargetError
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind

__all__ = ["MirrorObject", "PublishedRoster", "atomic_write"]

_VERSION = 1


@dataclass(slots=True)
class MirrorObject:
    """One object as the file target published it: its attributes and lifecycle status."""

    kind: ObjectKind
    key: str
    attrs: dict[str, Any]
    status: str = "active"  # active | suspended | archived
    target_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "key": self.key, "attrs": self.attrs, "status": self.status,
                **({"target_id": self.target_id} if self.target_id else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MirrorObject:
        return cls(ObjectKind(data["kind"]), data["key"], dict(data.get("attrs") or {}), data.get("status", "active"),
                   data.get("target_id"))


@dataclass(slots=True)
class Staged:
    """One staged change with the object before and after it (None: absent), for a delta file."""

    change: Change
    before: MirrorObject | None
    after: MirrorObject | None


@dataclass
class PublishedRoster:
    """The objects a file target last published, plus the changes this run staged on top.

    ``objects()`` is the roster as it will be published (published + staged); ``staged`` lists the run's
    changes in order, each with its object before and after, for a delta file; ``publication`` counts the
    publications (1 for the first), for file names and a file's own sequence number.
    """

    path: Path
    published: dict[tuple[ObjectKind, str], MirrorObject] = field(default_factory=dict)
    publication: int = 0
    staged: list[Staged] = field(default_factory=list)
    _current: dict[tuple[ObjectKind, str], MirrorObject | None] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PublishedRoster:
        """The mirror at ``path``; an empty roster when nothing was published yet."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise TargetConfigError(f"cannot read {path} (what koppel last published): {exc.strerror}") from None
        try:
            data = orjson.loads(raw)
            objects = [MirrorObject.from_json(o) for o in data["objects"]]
            publication = int(data.get("publication", 0))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise TargetConfigError(
                f"{path} (what koppel last published) is damaged: {exc}; remove it and run `koppel sync --full` to "
                "publish a complete file again") from None
        return cls(path, {(o.kind, o.key): o for o in objects}, publication)

    # -- staging -------------------------------------------------------------------------------------------

    def get(self, kind: ObjectKind, key: str) -> MirrorObject | None:
        ident = (kind, key)
        if ident in self._current:
            return self._current[ident]
        return self.published.get(ident)

    def stage(self, change: Change) -> Staged:
        """Apply one change to the roster to be published (create is an upsert, deleting what is gone is done)."""
        before = self.get(change.kind, change.key)
        after: MirrorObject | None
        if change.action is Action.DELETE:
            after = None
        else:
            attrs = dict(before.attrs) if before else {}
            attrs.update(change.after or {})
            status = before.status if before else "active"
            if change.action in (Action.CREATE, Action.RESTORE):
                status = "active"
            elif change.action is Action.SUSPEND:
                status = "suspended"
            elif change.action is Action.ARCHIVE:
                status = "archived"
            after = MirrorObject(change.kind, change.key, attrs, status,
                                 change.target_id or (before.target_id if before else None))
        self._current[(change.kind, change.key)] = after
        staged = Staged(change, before, after)
        self.staged.append(staged)
        return staged

    def objects(self, kind: ObjectKind | None = None) -> Iterator[MirrorObject]:
        """Every object that will be published (staged changes included), in a stable order (kind, key)."""
        merged: dict[tuple[ObjectKind, str], MirrorObject | None] = {**self.published, **self._current}
        for ident in sorted(merged, key=lambda i: (i[0].value, i[1])):
            obj = merged[ident]
            if obj is not None and (kind is None or obj.kind is kind):
                yield obj

    def discard(self) -> None:
        self.staged.clear()
        self._current.clear()

    def commit(self) -> None:
        """The platform's file is out: what was staged is now what was published. Writes the mirror."""
        self.published = {(o.kind, o.key): o for o in self.objects()}
        self.publication += 1
        self.discard()
        body = orjson.dumps({"version": _VERSION, "publication": self.publication,
                             "objects": [o.to_json() for o in self.published.values()]})
        atomic_write(self.path, lambda out: out.write(body), mode=0o600)


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any], *, mode: int = 0o644) -> None:
    """Write ``path`` whole or not at all: a temp file in its folder, fsync, rename over ``path``.

    A folder that cannot be made or written is a :class:`TargetConfigError` (a setting or a permission to fix);
    a full disk or another I/O failure is a :class:`TransientTargetError` (the next run tries again).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except (PermissionError, FileExistsError, NotADirectoryError) as exc:
        raise TargetConfigError(f"cannot write in {path.parent}: {exc.strerror}") from None
    except OSError as exc:
        raise TransientTargetError(f"cannot write in {path.parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise TransientTargetError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    with contextlib.suppress(OSError):  # the rename itself is durable once the folder is synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
