"""Fuzzing the XML readers: EDEXML files and UWLR answers, from arbitrary and mutated bytes.

Whatever comes in, the outcome is a Roster or one of koppel's own errors (:class:`KoppelError`): no
other exception, no hang (Hypothesis' deadline), no memory blow-up (libxml2's limits stay on and the
inputs are bounded), and nothing else changes (the export folder holds what it held). A roster that
is read carries no name that :func:`koppel.textsafe.field_problem` refuses.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from koppel.connectors import ConnectorContext
from koppel.errors import KoppelError
from koppel.model.roster import Roster, SchoolYear
from koppel.sandbox.uwlr.data import LasData
from koppel.sandbox.uwlr.wire import answer_envelope
from koppel.sources.edexml import EdexmlSettings, EdexmlSource
from koppel.sources.uwlr import UwlrSettings, UwlrSource
from koppel.textsafe import field_problem
from koppel.xmlsafe import XMLParseError, parse_xml

YEAR = SchoolYear(2025)
TODAY = dt.date(2025, 10, 1)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "specs" / "uwlr" / "edexml-2.1" / "samples"
EXAMPLES = int(os.environ.get("KOPPEL_FUZZ_EXAMPLES", "120"))  # more for a longer hunt
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=dt.timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INSERTS = [
    b"<!DOCTYPE EDEX>",
    b'<!DOCTYPE EDEX [<!ENTITY a "b">]>',
    b'<!DOCTYPE EDEX SYSTEM "http://127.0.0.1:9/x.dtd">',
    b'<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;',
    b"&foo;",
    b"&a;",
    b"&amp;",
    b"&#0;",
    b"&#x1b;",
    b"&#x202e;",
    b"&#x85;",
    b"\xe2\x80\xae",  # U+202E RIGHT-TO-LEFT OVERRIDE
    b"\xc2\x9b",  # U+009B CONTROL SEQUENCE INTRODUCER
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"<![CDATA[x]]>",
    b"<?pi x?>",
    b"<!-- c -->",
    b"]]>",
    b"<",
    b"&",
    b'"',
    b"<a>" * 300,  # deeper than libxml2's 256 levels
    b"x" * 5000,
    b' key="k"',
    b' key="' + b"k" * 300 + b'"',
    b"<leerling key='9'><achternaam>X</achternaam></leerling>",
    b'<?xml version="1.0" encoding="UTF-16"?>',
    b'<?xml version="1.1"?>',
]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """One of ``seeds`` with a few byte-level edits, sometimes re-encoded (UTF-16/32, with or without BOM)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 5))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "insert", "flip", "delete", "truncate"]))
        if operation == "insert":
            data[position:position] = draw(st.sampled_from(INSERTS) | st.binary(max_size=12))
        elif operation == "flip" and data:
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif operation == "truncate":
            del data[position:]
    encoding = draw(st.sampled_from([None, None, None, "utf-16", "utf-16-le", "utf-32-be", "latin-1"]))
    if encoding is None:
        return bytes(data)
    return bytes(data).decode("utf-8", "replace").encode(encoding, "replace")


def _names_are_safe(roster: Roster) -> None:
    for person in roster.persons.values():
        for value in (person.roepnaam, person.voorvoegsel, person.achternaam):
            assert field_problem(value, "name") is None, (person.key, value[:80])
        assert person.email is None or field_problem(person.email, "email") is None
    for group in roster.groups.values():
        assert field_problem(group.name, "name") is None or group.name == group.las_key


# -- the parser itself ----------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=2000))
def test_parse_xml_on_arbitrary_bytes(data: bytes) -> None:
    try:
        root = parse_xml(data, what="fuzz")
    except XMLParseError:
        return
    assert root.getroottree().docinfo.doctype == ""
    assert not any(True for _ in root.iter(etree.Entity))


def _edex_seeds() -> list[bytes]:
    return [
        (SAMPLE / "EDEXML.Voorbeeld.2.1.xml").read_bytes(),
        (SAMPLE / "EDEXML.Voorbeeld.2.1-Vla.xml").read_bytes(),
        _edex("Jansen"),
    ]


def _edex(achternaam: str, roepnaam: str = "Sem", naam: str = "1A", key: str = "1") -> bytes:
    root = etree.Element("EDEX")
    school = etree.SubElement(root, "school")
    for name, value in (("schooljaar", "2025-2026"), ("brincode", "99ZZ"), ("dependancecode", "00")):
        etree.SubElement(school, name).text = value
    groep = etree.SubElement(etree.SubElement(root, "groepen"), "groep", key="g1")
    etree.SubElement(groep, "naam").text = naam
    etree.SubElement(groep, "jaargroep").text = "11"
    leerlingen = etree.SubElement(root, "leerlingen")
    for number, (last, first) in enumerate([("Smit", "Ada"), (achternaam, roepnaam)]):
        leerling = etree.SubElement(leerlingen, "leerling", key=key if number else "0")
        etree.SubElement(leerling, "achternaam").text = last
        etree.SubElement(leerling, "roepnaam").text = first
        etree.SubElement(leerling, "groep", key="g1")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@FUZZ
@given(data=mutated(_edex_seeds()))
def test_parse_xml_on_mutated_edexml(data: bytes) -> None:
    try:
        root = parse_xml(data, what="fuzz")
    except XMLParseError:
        return
    assert root.getroottree().docinfo.doctype == ""
    assert not any(True for _ in root.iter(etree.Entity))


# -- EDEXML files -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("edexml-fuzz")
    yield folder


def _read_edexml(folder: Path, data: bytes) -> Roster | KoppelError:
    path = folder / "school.xml"
    path.write_bytes(data)
    ctx = ConnectorContext(tenant="fuzz", base_dir=folder, env={})
    source = EdexmlSource("po", EdexmlSettings(path=str(path)), ctx, today=lambda: TODAY)
    try:
        outcome: Roster | KoppelError = source.read()
    except KoppelError as exc:
        outcome = exc
    assert sorted(p.name for p in folder.iterdir()) == ["school.xml"]
    assert path.read_bytes() == data
    return outcome


@FUZZ
@given(data=mutated(_edex_seeds()))
def test_edexml_files_from_mutated_bytes(export: Path, data: bytes) -> None:
    outcome = _read_edexml(export, data)
    if isinstance(outcome, Roster):
        _names_are_safe(outcome)


XML_TEXT = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\ufffe\uffff" + "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r"),
)
HOSTILE = st.sampled_from(["\u202e", "\u2066", "\u200f", "\x85", "\x9b", "\x7f", "\t", "\n", "Ã«", "é"])
VALUES = st.one_of(
    st.text(XML_TEXT, max_size=30),
    st.lists(st.one_of(st.text(XML_TEXT, max_size=3), HOSTILE), max_size=8).map("".join),
    st.integers(150, 400).map(lambda n: "x" * n),
)


@FUZZ
@given(achternaam=VALUES, roepnaam=VALUES, naam=VALUES, key=VALUES)
def test_edexml_values_are_accepted_or_left_out(
    export: Path, achternaam: str, roepnaam: str, naam: str, key: str
) -> None:
    outcome = _read_edexml(export, _edex(achternaam, roepnaam, naam, key))
    assert isinstance(outcome, Roster | KoppelError)
    if isinstance(outcome, Roster):
        _names_are_safe(outcome)
        assert any(p.achternaam == "Smit" for p in outcome.persons.values())


# -- UWLR answers -------------------------------------------------------------------------------------


def _uwlr_seeds() -> list[bytes]:
    school = next(iter(LasData(students=12, schools=1, seed=2, current=YEAR).year(YEAR).schools.values()))
    answer = answer_envelope(school, schooljaar=str(YEAR), xsdversie="2.3", now=dt.datetime(2025, 10, 1, 2))
    fault = (
        b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b"<s:Fault><faultcode>s:Server.TijdelijkNietBeschikbaar</faultcode><faultstring>onderhoud</faultstring>"
        b"</s:Fault></s:Body></s:Envelope>"
    )
    return [answer, fault, b"<html><body>Bad Gateway</body></html>"]


UWLR_SEEDS = _uwlr_seeds()
BRIN6 = etree.fromstring(UWLR_SEEDS[0]).findtext(".//{*}brincode", "") + "00"


@FUZZ
@given(
    body=mutated(UWLR_SEEDS),
    status=st.sampled_from([200, 200, 200, 500, 401, 302, 404, 408, 429]),
    encoding=st.sampled_from([None, None, "gzip", "deflate", "br", "identity", "x-garbage"]),
)
def test_uwlr_answers_from_mutated_bytes(body: bytes, status: int, encoding: str | None) -> None:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if encoding:
        headers["Content-Encoding"] = encoding
    transport = httpx.MockTransport(lambda request: httpx.Response(status, headers=headers, content=body))
    settings_ = UwlrSettings(
        url="https://las.example/uwlr",
        schools=[{"brin6": BRIN6}],
        klantcode="FUZZ",
        klantnaam="koppel",
        autorisatiesleutel_env="SLEUTEL",
        max_response_mb=1,
    )
    ctx = ConnectorContext(tenant="fuzz", base_dir=Path.cwd(), env={"SLEUTEL": "s"}, school_year=YEAR)
    source = UwlrSource("las", settings_, ctx, today=lambda: TODAY, transport=transport)
    try:
        roster = source.read()
    except KoppelError:
        return
    _names_are_safe(roster)
