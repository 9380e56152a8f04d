"""UWLR 2.2 / 2.3 as a source: ``HaalLeerlinggegevens`` from Magister, Somtoday, ESIS and other LAS.

UWLR (Uitwisseling Leerlinggegevens en Resultaten, Edustandaard) is the standard a LAS offers
educational applications to fetch a school's pupils, groups and teachers: the koppeling calls the
LAS's SOAP 1.1 service with an ``autorisatie`` header and a ``leerlinggegevens_verzoek``, and gets
EDEXML 2.1 content back. Request building and answer reading are pure (:mod:`.messages`), the
network is one module (:mod:`.client`), and the EDEXML mapping is shared with the EDEXML file
source (:mod:`koppel.sources.edexml.mapping`). See docs/sources/uwlr.md.
"""

from __future__ import annotations

from koppel.connectors import ConnectorContext
from koppel.sources.base import Source, SourceKind
from koppel.sources.edexml.mapping import KeyScope, RoleChoice
from koppel.sources.uwlr.messages import (
    Autorisatie,
    LeerlinggegevensVerzoek,
    SoapFault,
    SoapRequest,
    build_request,
    fault_error,
    read_answer,
)
from koppel.sources.uwlr.settings import PRESETS, Preset, UwlrSchool, UwlrSettings
from koppel.sources.uwlr.source import UwlrSource

__all__ = [
    "KIND",
    "PRESETS",
    "Autorisatie",
    "KeyScope",
    "LeerlinggegevensVerzoek",
    "Preset",
    "RoleChoice",
    "SoapFault",
    "SoapRequest",
    "UwlrSchool",
    "UwlrSettings",
    "UwlrSource",
    "build_request",
    "factory",
    "fault_error",
    "read_answer",
]


def factory(name: str, settings: UwlrSettings, ctx: ConnectorContext) -> Source:
    """Make the source ``name`` from its settings (as registered for kind ``uwlr``)."""
    return UwlrSource(name, settings, ctx)


KIND = SourceKind(
    kind="uwlr",
    summary="UWLR 2.2/2.3 HaalLeerlinggegevens (SOAP): Magister UWLR-L, Somtoday, ESIS …",
    settings=UwlrSettings,
    factory=factory,
)
