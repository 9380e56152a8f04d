"""Somtoday Connect as a source: the richest Dutch LAS interface, read over REST with OAuth2.

Somtoday Connect ("Generiek Koppelvlak", public OpenAPI spec in ``shared/specs/somtoday-connect/``)
gives per vestiging the leerlingen with their plaatsingen, stamgroep, mentoren and lesgroepen, the
medewerkers with their lesgroepen, and the lesgroepen and stamgroepen themselves, for the current
or the next school year. This package reads all of it for one instelling into one Roster, or
raises; docs/sources/somtoday.md has the settings, the mapping and the error table.

Layout (sans-I/O): :mod:`.protocol` builds requests and parses answers, :mod:`.wire` holds the
records in the spec's words, :mod:`.mapping` turns records into the canonical model, and
:mod:`.client` is the one module that opens sockets.
"""

from __future__ import annotations

from koppel.connectors import ConnectorContext
from koppel.sources.base import Source, SourceKind
from koppel.sources.somtoday.settings import Peilschooljaar, SomtodaySettings
from koppel.sources.somtoday.source import SomtodaySource

__all__ = ["KIND", "Peilschooljaar", "SomtodaySettings", "SomtodaySource", "factory"]


def factory(name: str, settings: SomtodaySettings, ctx: ConnectorContext) -> Source:
    """Make the source ``name`` from its settings (as registered for kind ``somtoday``)."""
    return SomtodaySource(name, settings, ctx)


KIND = SourceKind(
    kind="somtoday",
    summary="Somtoday Connect (REST, OAuth2 client credentials per instelling), read per vestiging",
    settings=SomtodaySettings,
    factory=factory,
)
