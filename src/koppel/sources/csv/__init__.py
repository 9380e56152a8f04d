"""CSV and Excel exports as a source: Magister, Somtoday, koppel-native or a school's own layout.

Files are how most schools can hand over their data today (a Magister "lijst", a Somtoday
export, an Excel sheet), and how koppel's own generator and demo feed it. This source turns them
into a complete Roster, or refuses with a SourceDataError naming the file and line when the
export cannot be trusted as a whole. See docs/sources/csv.md for the layouts and conventions.
"""

from __future__ import annotations

from koppel.connectors import ConnectorContext
from koppel.sources.base import Source, SourceKind
from koppel.sources.csv.settings import CsvFiles, CsvLayout, CsvSourceSettings, KeyScope
from koppel.sources.csv.source import CsvSource

__all__ = ["KIND", "CsvFiles", "CsvLayout", "CsvSource", "CsvSourceSettings", "KeyScope", "factory"]


def factory(name: str, settings: CsvSourceSettings, ctx: ConnectorContext) -> Source:
    """Make the source ``name`` from its settings (as registered for kind ``csv``)."""
    return CsvSource(name, settings, ctx)


KIND = SourceKind(
    kind="csv",
    summary="CSV/Excel exports: Magister, Somtoday, koppel-native or a school's own columns",
    settings=CsvSourceSettings,
    factory=factory,
)
