"""Reading a ``HaalLeerlinggegevens`` request as a LAS does, and refusing it the way UWLR says.

The protocol page of UWLR 2.2.1 lists what the LAS checks: the message is valid against the WSDL's
schemas, the ``xsdversie`` is supported, the klant is known, the autorisatiesleutel opens the school
asked for. So the sandbox is strict where a client could get it wrong: SOAP 1.1 envelope,
``SOAPAction: HaalLeerlinggegevens``, the ``autorisatie`` header with its three elements in the
autorisatie namespace, and the ``leerlinggegevens_verzoek`` elements in the leerlinggegevens
namespace, **in the documented order**, none unknown. Each refusal is a SOAP fault with one of the
Eck2 fault types (Topicus' UWLR server code, shared/reference/las-sources.md §1.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree

from koppel.errors import SandboxError
from koppel.xmlsafe import XMLParseError, parse_xml

from .wire import AUTORISATIE_NS, LEERLINGGEGEVENS_NS, SOAP_ENV_NS

__all__ = ["FaultType", "UwlrFault", "Verzoek", "read_request"]

SOAP_ACTION = "HaalLeerlinggegevens"
VERZOEK_ORDER = (
    "schooljaar",
    "brincode",
    "dependancecode",
    "schoolkey",
    "xsdversie",
    "gegevenssetid",
    "laatstontvangengegevens",
)
AUTORISATIE_ORDER = ("autorisatiesleutel", "klantcode", "klantnaam")
_SCHOOLJAAR_RE = re.compile(r"^(\d{4})-(\d{4})$")


class FaultType(StrEnum):
    """ "Types foutberichten zoals gespecificeerd in de Eck2-afspraak" (the leerlinggegevens side)."""

    INTERNE_FOUT = "Server.InterneFout"
    TIJDELIJK_NIET_BESCHIKBAAR = "Server.TijdelijkNietBeschikbaar"
    ONGELDIG_BERICHT = "Client.OngeldigBericht"
    ONGELDIGE_KLANT_IDENTIFICATIE = "Client.OngeldigeKlantIdentificatie"
    AUTORISATIE_ONGELDIG = "Client.AutorisatieOngeldig"
    XSD_VERSIE_ONGELDIG = "Client.XsdVersieOngeldig"


class UwlrFault(SandboxError):
    """The request is answered with a SOAP fault (HTTP 500) instead of data."""

    def __init__(self, fault: FaultType, text: str) -> None:
        self.fault = fault
        self.text = text
        super().__init__(f"{fault.value}: {text}")


@dataclass(frozen=True)
class Verzoek:
    """A request that passed the message checks; autorisatie is checked by the endpoint, per school."""

    autorisatiesleutel: str = field(repr=False)
    klantcode: str
    klantnaam: str
    schooljaar: str
    brincode: str | None
    dependancecode: str | None
    schoolkey: str | None
    xsdversie: str | None
    gegevenssetid: str | None
    laatstontvangengegevens: str | None

    @property
    def brin6(self) -> str | None:
        if not self.brincode:
            return None
        return self.brincode + (self.dependancecode or "00")


def _invalid(text: str) -> UwlrFault:
    return UwlrFault(FaultType.ONGELDIG_BERICHT, text)


def check_soap_action(header: str | None) -> None:
    action = (header or "").strip().strip('"')
    if action != SOAP_ACTION:
        raise _invalid(f"SOAPAction {header!r} wordt niet ondersteund; verwacht {SOAP_ACTION}")


def read_request(body: bytes) -> Verzoek:
    """The request in ``body``, or the UwlrFault a LAS answers it with."""
    try:
        envelope = parse_xml(body, what="het verzoek")
    except XMLParseError as exc:
        raise _invalid(str(exc)) from None
    if envelope.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise _invalid(f"geen SOAP 1.1-envelop maar <{envelope.tag!s}>")
    header = envelope.find(f"{{{SOAP_ENV_NS}}}Header")
    body_element = envelope.find(f"{{{SOAP_ENV_NS}}}Body")
    if body_element is None:
        raise _invalid("de SOAP-envelop heeft geen Body")
    autorisatie = _autorisatie(header)
    verzoek = _only_child(body_element, "leerlinggegevens_verzoek")
    fields = _ordered(verzoek, LEERLINGGEGEVENS_NS, VERZOEK_ORDER)
    schooljaar = fields.get("schooljaar")
    if not schooljaar:
        raise _invalid("schooljaar ontbreekt")
    match = _SCHOOLJAAR_RE.match(schooljaar)
    if match is None or int(match.group(2)) != int(match.group(1)) + 1:
        raise _invalid(f"schooljaar {schooljaar!r} is niet van de vorm 2025-2026")
    return Verzoek(
        autorisatie["autorisatiesleutel"],
        autorisatie["klantcode"],
        autorisatie["klantnaam"],
        schooljaar,
        fields.get("brincode"),
        fields.get("dependancecode"),
        fields.get("schoolkey"),
        fields.get("xsdversie"),
        fields.get("gegevenssetid"),
        fields.get("laatstontvangengegevens"),
    )


def _autorisatie(header: etree._Element | None) -> dict[str, str]:
    block = header.find(f"{{{AUTORISATIE_NS}}}autorisatie") if header is not None else None
    if block is None:
        raise UwlrFault(FaultType.AUTORISATIE_ONGELDIG, "de SOAP-header autorisatie ontbreekt")
    fields = _ordered(block, AUTORISATIE_NS, AUTORISATIE_ORDER)
    missing = [name for name in AUTORISATIE_ORDER if not fields.get(name)]
    if missing:
        raise UwlrFault(FaultType.AUTORISATIE_ONGELDIG, f"autorisatie zonder {', '.join(missing)}")
    return fields


def _only_child(body: etree._Element, name: str) -> etree._Element:
    children = [child for child in body if isinstance(child.tag, str)]
    expected = f"{{{LEERLINGGEGEVENS_NS}}}{name}"
    if len(children) != 1 or children[0].tag != expected:
        found = ", ".join(f"<{c.tag!s}>" for c in children) or "niets"
        raise _invalid(f"de Body moet precies één {name} in {LEERLINGGEGEVENS_NS} bevatten, niet {found}")
    return children[0]


def _ordered(parent: etree._Element, namespace: str, order: tuple[str, ...]) -> dict[str, str]:
    """The children of ``parent`` as name → text, checked: in ``namespace``, known, in ``order``."""
    fields: dict[str, str] = {}
    position = -1
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.namespace != namespace or qname.localname not in order:
            raise _invalid(f"onbekend element <{child.tag}> in <{etree.QName(parent).localname}>")
        index = order.index(qname.localname)
        if index <= position:
            raise _invalid(f"<{qname.localname}> staat niet op zijn plaats; volgorde: {', '.join(order)}")
        position = index
        fields[qname.localname] = (child.text or "").strip()
    return fields
