"""Helpers of the OneRoster CSV target's tests: a target on a folder with a fixed clock, its zips read back."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from koppel.connectors import ConnectorContext
from koppel.model.desired import ObjectKind
from koppel.targets.onerostercsv import OneRosterCsvTarget, factory
from koppel.targets.onerostercsv.reader import neutral_objects, read_tables
from koppel.targets.onerostercsv.settings import Voorvoegsel

START = dt.datetime(2025, 9, 1, 2, 0, tzinfo=dt.UTC)


def ticking_clock(start: dt.datetime = START) -> Any:
    """A clock that moves one minute per call: each publication its own time."""
    counter = itertools.count()
    return lambda: start + dt.timedelta(minutes=next(counter))


def make_target(folder: Path, name: str = "oneroster", **settings: Any) -> OneRosterCsvTarget:
    return factory(name, {"folder": str(folder), **settings}, ConnectorContext("t", base_dir=folder.parent),
                   clock=ticking_clock())


def zips(folder: Path) -> list[Path]:
    """The published zips, oldest first: by name, the sequence number in it compared as a number."""
    return sorted(folder.glob("*.zip"), key=lambda p: (len(p.name), p.name))


def published(target: OneRosterCsvTarget) -> dict[str, dict[str, Any]]:
    """Publish what is staged, then read every zip back: active objects by key, neutral attributes."""
    if target.pending:
        target.publish()
    paths = zips(target.folder)
    if not paths:
        return {}
    version, tables = read_tables(paths)
    objects = neutral_objects(version, tables, Voorvoegsel(target.settings.voorvoegsel))
    return {key: dict(obj.attrs) for key, obj in objects.items()}


def kinds(snapshot: dict[str, dict[str, Any]], kind: ObjectKind) -> dict[str, dict[str, Any]]:
    if kind is ObjectKind.MEMBERSHIP:
        return {k: v for k, v in snapshot.items() if "|" in k}
    if kind is ObjectKind.PERSON:
        return {k: v for k, v in snapshot.items() if "|" not in k and "given" in v}
    return {k: v for k, v in snapshot.items() if "|" not in k and "type" in v}
