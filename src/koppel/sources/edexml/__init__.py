"""EDEXML 2.1 files as a source: the ``EDEX`` exports of ParnasSys, ESIS and other PO LAS.

Primary schools already export EDEXML for Cito LOVS and Basispoort, so a file (or a folder of
files, one per school) is a koppeling that needs no integration at all. The same EDEXML model is
what a UWLR service answers with; :mod:`.mapping` is shared with :mod:`koppel.sources.uwlr`.
See docs/sources/edexml.md.
"""

from __future__ import annotations

from koppel.connectors import ConnectorContext
from koppel.sources.base import Source, SourceKind
from koppel.sources.edexml.mapping import KeyScope, RoleChoice
from koppel.sources.edexml.settings import EdexmlSettings
from koppel.sources.edexml.source import EdexmlSource

__all__ = ["KIND", "EdexmlSettings", "EdexmlSource", "KeyScope", "RoleChoice", "factory"]


def factory(name: str, settings: EdexmlSettings, ctx: ConnectorContext) -> Source:
    """Make the source ``name`` from its settings (as registered for kind ``edexml``)."""
    return EdexmlSource(name, settings, ctx)


KIND = SourceKind(
    kind="edexml",
    summary="EDEXML 2.1 files (EDEX export of ParnasSys, ESIS …), one per school",
    settings=EdexmlSettings,
    factory=factory,
)
