"""The pure half of the UWLR source: the request on the wire, and what every kind of answer means.

Golden files: the synthetic UWLR 2.3 request and Smalle-set response in shared/specs/uwlr/samples/
(written from the UWLR 2.2.1 viewer; see their README). Envelopes are compared after C14N.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from koppel.errors import SourceAuthError, SourceDataError, SourceError, SourceUnavailable
from koppel.model.roster import GroupKind, PersonKind, Role, SchoolYear
from koppel.sources.edexml.mapping import MappingOptions, Origin, RosterAssembler
from koppel.sources.edexml.parse import read_document
from koppel.sources.uwlr import (
    Autorisatie,
    LeerlinggegevensVerzoek,
    SoapFault,
    build_request,
    fault_error,
    read_answer,
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "specs" / "uwlr" / "samples"
REQUEST = SAMPLES / "uwlr-2.3-HaalLeerlinggegevens-request.synthetic.xml"
RESPONSE = SAMPLES / "uwlr-2.3-leerlinggegevens-response-smalle-set.synthetic.xml"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
LEER = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
ECK_SANNE = "https://ketenid.nl/201703/" + "0" * 126 + "1a"
ECK_PIETER = "https://ketenid.nl/201703/" + "0" * 126 + "aa"


def canonical(xml: bytes) -> bytes:
    parser = etree.XMLParser(
        remove_blank_text=True, remove_comments=True, resolve_entities=False, no_network=True
    )
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


def sample_request() -> bytes:
    autorisatie = Autorisatie("FAKE-KEY-0000000000000000", "FAKE-KLANTCODE", "VoorbeeldKoppeling")
    verzoek = LeerlinggegevensVerzoek.for_school(
        "99ZZ00", SchoolYear(2025), xsdversie="2.3", gegevenssetid="Smalle-set-VO"
    )
    return build_request(autorisatie, verzoek).body


def fault(code: str, text: str = "tekst", detail: str = "") -> bytes:
    detail_xml = f"<detail><reden>{detail}</reden></detail>" if detail else ""
    return (
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault><faultcode>{code}</faultcode>'
        f"<faultstring>{text}</faultstring>{detail_xml}</s:Fault></s:Body></s:Envelope>"
    ).encode()


# -- the request -------------------------------------------------------------------------------------


def test_request_matches_the_synthetic_sample() -> None:
    assert canonical(sample_request()) == canonical(REQUEST.read_bytes())


def test_request_headers_are_soap_1_1() -> None:
    request = build_request(Autorisatie("k", "c", "n"), LeerlinggegevensVerzoek(SchoolYear(2025)))
    assert request.headers == {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": "HaalLeerlinggegevens",
    }


def test_request_elements_in_documented_order_optional_ones_only_when_set() -> None:
    verzoek = LeerlinggegevensVerzoek.for_school(
        "12AB03",
        SchoolYear(2026),
        schoolkey="S1",
        xsdversie="2.2",
        gegevenssetid="profiel",
        laatstontvangengegevens=dt.datetime(2026, 9, 1, 7, 30),
    )
    root = etree.fromstring(build_request(Autorisatie("k", "c", "n"), verzoek).body)
    fields = [(etree.QName(e).localname, e.text) for e in root.find(f"{{{SOAP}}}Body")[0]]
    assert fields == [
        ("schooljaar", "2026-2027"),
        ("brincode", "12AB"),
        ("dependancecode", "03"),
        ("schoolkey", "S1"),
        ("xsdversie", "2.2"),
        ("gegevenssetid", "profiel"),
        ("laatstontvangengegevens", "2026-09-01T07:30:00"),
    ]
    bare = etree.fromstring(
        build_request(Autorisatie("k", "c", "n"), LeerlinggegevensVerzoek(SchoolYear(2026))).body
    )
    assert [etree.QName(e).localname for e in bare.find(f"{{{SOAP}}}Body")[0]] == ["schooljaar"]


def test_sleutel_is_not_in_repr() -> None:
    assert "FAKE-KEY" not in repr(Autorisatie("FAKE-KEY", "c", "n"))
    request = build_request(Autorisatie("FAKE-KEY", "c", "n"), LeerlinggegevensVerzoek(SchoolYear(2025)))
    assert "FAKE-KEY" not in repr(request)


# -- the answer: golden ----------------------------------------------------------------------------


def test_synthetic_response_parses_to_the_expected_roster() -> None:
    content = read_answer(200, RESPONSE.read_bytes(), school="99ZZ00", source="las")
    assembler = RosterAssembler(MappingOptions("las"), SchoolYear(2025))
    assert assembler.add(read_document(content), Origin("99ZZ00")) == 2
    roster = assembler.build(kind="uwlr", location="sample")

    assert list(roster.schools) == ["99ZZ00"] and roster.school_year == SchoolYear(2025)
    sanne = roster.persons[f"eck:{ECK_SANNE}"]
    assert (
        sanne.kind,
        sanne.roepnaam,
        sanne.voorvoegsel,
        sanne.achternaam,
        sanne.leerjaar,
        sanne.las_key,
        sanne.leerlingnummer,
    ) == (PersonKind.STUDENT, "Sanne", "de", "Jansen", 2, "99ZZ00:L-100001", "L-100001")
    daan = roster.persons["las:99ZZ00:L-100002"]  # no ECK iD: (source, LAS key)
    assert (daan.roepnaam, daan.voorvoegsel, daan.achternaam, daan.leerjaar, daan.eckid) == (
        "Daan",
        "",
        "Bakker",
        3,
        None,
    )
    pieter = roster.persons[f"eck:{ECK_PIETER}"]
    assert (pieter.kind, pieter.display_name, pieter.email, pieter.docentcode) == (
        PersonKind.STAFF,
        "Pieter de Vries",
        "p.devries@voorbeeldschool.invalid",
        "M-ABC",
    )

    groups = {g.las_key: g for g in roster.groups.values()}
    assert {k: (g.kind, g.name, g.leerjaar) for k, g in groups.items()} == {
        "G-H2A": (GroupKind.STAMGROEP, "H2A", 2),
        "G-V3B": (GroupKind.STAMGROEP, "V3B", 3),
        "SG-2HA-WI1": (GroupKind.LESGROEP, "2ha-wi1", None),
        "SG-3V-FA2": (GroupKind.LESGROEP, "3v-fa2", None),
    }
    assert groups["G-H2A"].key == "las:99ZZ00:2025-2026:G-H2A"

    memberships = {(m.person, roster.groups[m.group].las_key, m.role) for m in roster.memberships}
    assert memberships == {
        (sanne.key, "G-H2A", Role.STUDENT),
        (sanne.key, "SG-2HA-WI1", Role.STUDENT),
        (daan.key, "G-V3B", Role.STUDENT),
        (daan.key, "SG-3V-FA2", Role.STUDENT),
        (pieter.key, "G-H2A", Role.TEACHER),
        (pieter.key, "SG-2HA-WI1", Role.TEACHER),
    }
    assert (
        sanne.provenance is not None and sanne.provenance.ref == "99ZZ00/leerlingen/leerling[@key='L-100001']"
    )
    assert not roster.diagnostics


def test_answer_with_unqualified_content_and_any_order_is_read() -> None:
    """Lenient where real LAS output strays: order (roepnaam before achternaam), a one-child list."""
    answer = f"""<s:Envelope xmlns:s="{SOAP}"><s:Body><a:leerlinggegevens_antwoord xmlns:a="{LEER}">
      <a:leerlinggegevens>
        <a:leerlingen><a:leerling key="1"><a:groep key="g"/><a:roepnaam>Kim</a:roepnaam>
        <a:achternaam>Ali</a:achternaam>
        </a:leerling></a:leerlingen>
        <a:groepen><a:groep key="g"><a:jaargroep>14</a:jaargroep><a:naam>4H</a:naam></a:groep></a:groepen>
        <a:school><a:brincode>12AB</a:brincode><a:schooljaar>2031-2032</a:schooljaar></a:school>
      </a:leerlinggegevens></a:leerlinggegevens_antwoord></s:Body></s:Envelope>""".encode()
    document = read_document(read_answer(200, answer, school="12AB00"))
    assembler = RosterAssembler(MappingOptions("las"), SchoolYear(2031))
    assembler.add(document, Origin("12AB00"))
    roster = assembler.build(kind="uwlr", location=None)
    (kim,) = roster.persons.values()
    assert (kim.display_name, kim.leerjaar) == ("Kim Ali", 4)
    assert document.school.schooljaar == "2031-2032"  # far beyond the schema's enumeration


# -- the answer: what goes wrong ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "SOAP-ENV:Server.TijdelijkNietBeschikbaar",
        "Server.TijdelijkNietBeschikbaar",
        "s:TijdelijkNietBeschikbaar",
    ],
)
def test_tijdelijk_niet_beschikbaar_means_retry_later(code: str) -> None:
    with pytest.raises(SourceUnavailable, match="school 99ZZ00: the LAS is temporarily unavailable"):
        read_answer(500, fault(code, "onderhoud"), school="99ZZ00")


@pytest.mark.parametrize(
    "code", ["SOAP-ENV:Client.AutorisatieOngeldig", "SOAP-ENV:Client.OngeldigeKlantIdentificatie"]
)
def test_autorisatie_faults_name_the_school(code: str) -> None:
    with pytest.raises(SourceAuthError, match="school 12AB00.*autorisatiesleutel configured for 12AB00"):
        read_answer(500, fault(code, "sleutel onbekend"), school="12AB00")


def test_wcf_style_fault_with_the_type_in_its_text() -> None:
    error = fault_error(
        SoapFault("s:Client", "Client.AutorisatieOngeldig: sleutel verlopen"), school="12AB00"
    )
    assert isinstance(error, SourceAuthError)
    detail = fault_error(
        SoapFault("s:Server", "Er ging iets mis", "TijdelijkNietBeschikbaar"), school="12AB00"
    )
    assert isinstance(detail, SourceUnavailable)


def test_other_faults_carry_the_faultstring() -> None:
    with pytest.raises(
        SourceError, match="Client.XsdVersieOngeldig: xsdversie 2.9 wordt niet ondersteund"
    ) as info:
        read_answer(
            500,
            fault("SOAP-ENV:Client.XsdVersieOngeldig", "xsdversie 2.9 wordt niet ondersteund"),
            school="12AB00",
        )
    assert type(info.value) is SourceError


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, SourceAuthError, "refused access \\(HTTP 401\\).*12AB00"),
        (403, SourceAuthError, "HTTP 403"),
        (500, SourceUnavailable, "HTTP 500; try again later"),
        (503, SourceUnavailable, "HTTP 503"),
        (429, SourceUnavailable, "HTTP 429"),
        (404, SourceError, "HTTP 404; check the url"),
        (302, SourceError, "redirected"),
    ],
)
def test_http_status_without_soap(status: int, error: type[SourceError], words: str) -> None:
    with pytest.raises(error, match=words) as info:
        read_answer(status, b"<html><body>nope</body></html>", school="12AB00")
    assert type(info.value) is error


def test_html_error_page_with_doctype_is_still_classified_by_status() -> None:
    page = b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"
    with pytest.raises(SourceUnavailable, match="HTTP 502"):
        read_answer(502, page, school="12AB00")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty XML document|not well-formed"),
        (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>", "not well-formed"),
        (b"<html/>", "not a SOAP 1.1 envelope"),
        (
            f"<s:Envelope xmlns:s='{SOAP}'><s:Body><x/></s:Body></s:Envelope>".encode(),
            "no leerlinggegevens_antwoord",
        ),
        (
            (
                f"<s:Envelope xmlns:s='{SOAP}'><s:Body><l:leerlinggegevens_antwoord xmlns:l='{LEER}'/>"
                "</s:Body></s:Envelope>"
            ).encode(),
            "holds no leerlinggegevens",
        ),
        (
            b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body/></s:Envelope>",
            "not a SOAP 1.1 envelope",
        ),
    ],
)
def test_unusable_answers_are_data_errors(body: bytes, words: str) -> None:
    with pytest.raises(SourceDataError, match=words):
        read_answer(200, body, school="12AB00")
