"""The OneRoster source: open the bulk export and its deltas, apply them, map the result, or raise.

``read()`` is all-or-nothing at the level of the export (DESIGN §1, §7): an archive that is
refused (path traversal, zip bomb, not a zip), a manifest that is missing or names another
version, a required file that is absent, a file that is not UTF-8 CSV or lacks a required column,
or an export in which no pupil survives — each raises a ``SourceDataError`` naming the file.
Bad *rows* become diagnostics with file and line, and only they are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from koppel.connectors import ConnectorContext
from koppel.errors import SourceDataError
from koppel.model.roster import Roster
from koppel.sources.builder import RosterBuilder
from koppel.sources.oneroster.archive import open_package
from koppel.sources.oneroster.dataset import Export, load_dataset, read_export
from koppel.sources.oneroster.mapping import MappingOptions, OneRosterMapper
from koppel.sources.oneroster.settings import OneRosterSettings

__all__ = ["OneRosterSource"]


class OneRosterSource:
    """A source reading OneRoster 1.1/1.2 CSV exports (see :class:`OneRosterSettings`)."""

    def __init__(
        self,
        name: str,
        settings: OneRosterSettings,
        ctx: ConnectorContext,
        *,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self._today = today

    def read(self) -> Roster:
        out = RosterBuilder(self.name)
        try:
            base = self._open(self.settings.path)
            deltas = [self._open(path) for path in self.settings.deltas]
            dataset = load_dataset(base, deltas, out.report, self._max_bytes)
            options = MappingOptions(
                source=self.name,
                schools=dict(self.settings.schools),
                voorvoegsel=self.settings.voorvoegsel,
                fixed_year=self.settings.fixed_school_year,
                requested_year=self.ctx.school_year,
                today=self._today(),
            )
            mapper = OneRosterMapper(dataset, options, out)
            location = " + ".join(str(self.ctx.path(p)) for p in (self.settings.path, *self.settings.deltas))
            return mapper.build(location)
        except SourceDataError as exc:
            if exc.source is None:
                raise SourceDataError(str(exc), source=self.name) from None
            raise

    @property
    def _max_bytes(self) -> int:
        return self.settings.max_unpacked_mb * 1024 * 1024

    def _open(self, setting: str) -> Export:
        path: Path = self.ctx.path(setting)
        return read_export(open_package(path, path.name or str(path), self._max_bytes))
