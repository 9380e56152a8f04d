"""The updates and removals a Moodle file repeats for ``carry_days``, kept beside the mirror.

Moodle reads one fixed path, and only a file whose modification time and MD5 changed since its last read. A
file koppel overwrites before Moodle's scheduled task read it is never read: the records only it held would be
lost. A snapshot loses nothing of what *is* (every active person, course and enrolment is in every file), but
Moodle needs explicit records for what changed or went (recstatus 2 and 3, status 0): those are repeated in every
file published within ``carry_days`` of their first publication. Reading one twice is harmless to Moodle (an
update sets the same values, deleting a deleted user or unenrolling someone not enrolled is logged and skipped).

One event per object: a newer change of the same object replaces the older (a re-created membership voids its
unenrolment; a person's deletion is dropped as soon as someone else has their user name, because Moodle deletes by
user name). Saved before the mirror, so that a crash between the two repeats, never loses, what was published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from koppel.errors import TargetConfigError
from koppel.model.desired import ObjectKind
from koppel.targets.files import atomic_write
from koppel.targets.imsenterprise.mapping import Event

__all__ = ["CarriedEvents"]

_VERSION = 1


@dataclass
class CarriedEvents:
    path: Path
    events: dict[tuple[ObjectKind, str], Event] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> CarriedEvents:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise TargetConfigError(f"cannot read {path} (the changes koppel repeats for Moodle): {exc.strerror}") from None
        try:
            events = [Event.from_json(e) for e in orjson.loads(raw)["events"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise TargetConfigError(f"{path} (the changes koppel repeats for Moodle) is damaged: {exc}; remove it: "
                                    "the next file then repeats only its own changes") from None
        return cls(path, {(e.kind, e.key): e for e in events})

    def merge(self, pending: Mapping[tuple[ObjectKind, str], Event | None], since: str) -> None:
        """This publication's changes: each replaces what was carried for its object (None voids it)."""
        for ident, event in pending.items():
            if event is None:
                self.events.pop(ident, None)
            else:
                event.since = since
                self.events[ident] = event

    def expire(self, cutoff: dt.datetime) -> int:
        """Drop what was first published before ``cutoff``; returns how many."""
        stale = [i for i, e in self.events.items() if not e.since or dt.datetime.fromisoformat(e.since) < cutoff]
        for ident in stale:
            del self.events[ident]
        return len(stale)

    def values(self) -> list[Event]:
        return [self.events[i] for i in sorted(self.events, key=lambda i: (i[0].value, i[1]))]

    def save(self) -> None:
        body = orjson.dumps({"version": _VERSION, "events": [e.to_json() for e in self.values()]})
        atomic_write(self.path, lambda out: out.write(body), mode=0o600)
