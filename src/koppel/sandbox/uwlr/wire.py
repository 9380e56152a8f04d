"""The UWLR wire form the sandbox writes: ``leerlinggegevens_antwoord`` and SOAP 1.1 faults.

Built here from the documentation, not from koppel's UWLR client (DESIGN §8): the answer is a SOAP
1.1 envelope whose body holds ``leerlinggegevens_antwoord/leerlinggegevens`` in
``http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens``; every element below it is in that
namespace too (the EDEXML 2.1 types are chameleon-included with ``elementFormDefault="qualified"``),
attributes are unqualified. Elements come in the order of ``EDEXML.elementen.xsd``:

* ``school``: schooljaar, brincode, dependancecode, aanmaakdatum, auteur, xsdversie;
* ``vestigingen/vestiging@key``: naam;
* ``groepen``: ``groep@key`` (naam, jaargroep) for each klas, ``samengestelde_groep@key`` (naam) for
  each lesgroep and cluster;
* ``leerlingen/leerling@key@eckid``: achternaam, voorvoegsel, roepnaam, jaargroep, groep,
  samengestelde_groepen, vestiging;
* ``leerkrachten/leerkracht@key``: achternaam, voorvoegsel, roepnaam, emailadres, groepen (a
  ``groep`` for each klas they are mentor of, a ``samengestelde_groep`` for each group they teach).

That is the UWLR 2.3 "Smalle set" profile: no geboortedatum, no voornamen or voorletters, no pupil
e-mail; VO jaargroep ``10 + leerjaar``. Keys are the LAS's: the stamnummer for a pupil, the
docentcode for a teacher, ``KL-<klas>`` and ``LG-<lesgroep>`` for groups — deliberately not the names,
so that a client mixing up key and naam shows it.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from .data import SchoolData

__all__ = [
    "AUTORISATIE_NS",
    "LEERLINGGEGEVENS_NS",
    "SOAP_ENV_NS",
    "answer_envelope",
    "empty_answer_envelope",
    "fault_envelope",
    "group_key",
]

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
AUTORISATIE_NS = "http://www.edustandaard.nl/leerresultaten/2/autorisatie"
LEERLINGGEGEVENS_NS = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
AUTEUR = "koppel UWLR sandbox"

_LE = f"{{{LEERLINGGEGEVENS_NS}}}"
_ENV = f"{{{SOAP_ENV_NS}}}"


def group_key(kind: str, name: str) -> str:
    """The LAS key of a klas (``KL-1A``) or lesgroep (``LG-4hnat1``)."""
    return f"{'KL' if kind == 'klas' else 'LG'}-{name}"


def _add(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _LE + name, attributes)
    if text is not None:
        element.text = text
    return element


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(_ENV + "Envelope", nsmap={"SOAP-ENV": SOAP_ENV_NS})
    return envelope, etree.SubElement(envelope, _ENV + "Body")


def _serialise(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _school_block(
    parent: etree._Element, data: SchoolData, schooljaar: str, xsdversie: str, now: dt.datetime
) -> None:
    school = _add(parent, "school")
    _add(school, "schooljaar", schooljaar)
    _add(school, "brincode", data.school.brin6[:4])
    _add(school, "dependancecode", data.school.brin6[4:])
    _add(school, "aanmaakdatum", now.replace(microsecond=0, tzinfo=None).isoformat())
    _add(school, "auteur", AUTEUR)
    _add(school, "xsdversie", xsdversie)
    vestigingen = _add(parent, "vestigingen")
    vestiging = _add(vestigingen, "vestiging", key=data.school.brin6)
    _add(vestiging, "naam", data.school.name[:64])


def _groepen(parent: etree._Element, data: SchoolData) -> None:
    groepen = _add(parent, "groepen")
    for klas in data.klassen:
        groep = _add(groepen, "groep", key=group_key("klas", klas.name))
        _add(groep, "naam", klas.name)
        _add(groep, "jaargroep", str(10 + klas.leerjaar))
    for lesgroep in data.lesgroepen:
        groep = _add(groepen, "samengestelde_groep", key=group_key("lesgroep", lesgroep.name))
        _add(groep, "naam", lesgroep.name)


def _names(parent: etree._Element, roepnaam: str, voorvoegsel: str, achternaam: str) -> None:
    _add(parent, "achternaam", achternaam)
    if voorvoegsel:
        _add(parent, "voorvoegsel", voorvoegsel)
    _add(parent, "roepnaam", roepnaam)


def _leerlingen(parent: etree._Element, data: SchoolData) -> None:
    leerlingen = _add(parent, "leerlingen")
    for pupil in data.pupils:
        attributes = {"key": pupil.stamnr}
        if pupil.eckid:
            attributes["eckid"] = pupil.eckid
        leerling = _add(leerlingen, "leerling", **attributes)
        _names(leerling, pupil.roepnaam, pupil.voorvoegsel, pupil.achternaam)
        _add(leerling, "jaargroep", str(10 + pupil.leerjaar))
        _add(leerling, "groep", key=group_key("klas", pupil.klas))
        groups = data.lesgroepen_of_pupil.get(pupil.stamnr)
        if groups:
            samengesteld = _add(leerling, "samengestelde_groepen")
            for group in groups:
                _add(samengesteld, "samengestelde_groep", key=group_key("lesgroep", group.name))
        _add(leerling, "vestiging", key=data.school.brin6)


def _leerkrachten(parent: etree._Element, data: SchoolData) -> None:
    leerkrachten = _add(parent, "leerkrachten")
    for teacher in data.teachers:
        leerkracht = _add(leerkrachten, "leerkracht", key=teacher.docentcode)
        _names(leerkracht, teacher.roepnaam, teacher.voorvoegsel, teacher.achternaam)
        _add(leerkracht, "emailadres", teacher.email)
        klassen = data.klassen_of_mentor.get(teacher.docentcode, [])
        lesgroepen = data.lesgroepen_of_teacher.get(teacher.docentcode, [])
        if klassen or lesgroepen:
            groepen = _add(leerkracht, "groepen")
            for klas in klassen:
                _add(groepen, "groep", key=group_key("klas", klas.name))
            for lesgroep in lesgroepen:
                _add(groepen, "samengestelde_groep", key=group_key("lesgroep", lesgroep.name))


def answer_envelope(data: SchoolData, *, schooljaar: str, xsdversie: str, now: dt.datetime) -> bytes:
    """The ``leerlinggegevens_antwoord`` for one school: all pupils, groups and teachers (alles-in-één)."""
    envelope, body = _envelope()
    answer = etree.SubElement(body, _LE + "leerlinggegevens_antwoord", nsmap={"le": LEERLINGGEGEVENS_NS})
    content = _add(answer, "leerlinggegevens")
    _school_block(content, data, schooljaar, xsdversie, now)
    _groepen(content, data)
    _leerlingen(content, data)
    if data.teachers:
        _leerkrachten(content, data)
    return _serialise(envelope)


def empty_answer_envelope(data: SchoolData, *, schooljaar: str, xsdversie: str, now: dt.datetime) -> bytes:
    """An answer that lost its pupils: school, vestigingen, groepen, no leerlingen (an injected failure)."""
    envelope, body = _envelope()
    answer = etree.SubElement(body, _LE + "leerlinggegevens_antwoord", nsmap={"le": LEERLINGGEGEVENS_NS})
    content = _add(answer, "leerlinggegevens")
    _school_block(content, data, schooljaar, xsdversie, now)
    _groepen(content, data)
    return _serialise(envelope)


def fault_envelope(faultcode: str, faultstring: str) -> bytes:
    """A SOAP 1.1 Fault; ``faultcode`` is the Eck2 type (``Client.AutorisatieOngeldig``), qualified by the
    envelope namespace as SOAP 1.1 §4.4.1's dot notation does (``SOAP-ENV:Client.AutorisatieOngeldig``)."""
    envelope, body = _envelope()
    fault = etree.SubElement(body, _ENV + "Fault")
    etree.SubElement(fault, "faultcode").text = f"SOAP-ENV:{faultcode}"
    string = etree.SubElement(fault, "faultstring")
    string.text = faultstring
    string.set("{http://www.w3.org/XML/1998/namespace}lang", "nl")
    return _serialise(envelope)
