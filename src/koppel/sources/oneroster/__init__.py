"""OneRoster 1.1 and 1.2 CSV exports as a source: the 1EdTech standard many SIS and LMS speak.

A OneRoster export is a zip (or folder) of CSV files with a ``manifest.csv``: orgs, users, classes,
enrollments, academicSessions, courses, and in 1.2 roles. This package reads a bulk export, applies
any deltas on top of it, validates every row (reporting the bad ones with file and line) and maps
the rest to one Roster; docs/sources/oneroster.md has the settings and the mapping.

Layout: :mod:`.archive` opens zips without trusting them, :mod:`.tables` reads the CSV files and
the manifest, :mod:`.dataset` applies bulk and delta, :mod:`.mapping` builds the canonical model.
"""

from __future__ import annotations

from koppel.connectors import ConnectorContext
from koppel.sources.base import Source, SourceKind
from koppel.sources.oneroster.settings import OneRosterSettings, VoorvoegselSource
from koppel.sources.oneroster.source import OneRosterSource

__all__ = ["KIND", "OneRosterSettings", "OneRosterSource", "VoorvoegselSource", "factory"]


def factory(name: str, settings: OneRosterSettings, ctx: ConnectorContext) -> Source:
    """Make the source ``name`` from its settings (as registered for kind ``oneroster``)."""
    return OneRosterSource(name, settings, ctx)


KIND = SourceKind(
    kind="oneroster",
    summary="OneRoster 1.1/1.2 CSV (zip or folder), bulk plus deltas",
    settings=OneRosterSettings,
    factory=factory,
)
