"""The UWLR sandbox itself: its answers follow the EDEXML 2.1 schema, it refuses requests a LAS refuses,
its faults repeat with the seed, and its command line starts and stops cleanly.

The schema check wraps the official EDEXML 2.1 types in the leerlinggegevens namespace, as the
README of shared/specs/uwlr describes, with the stale schooljaar enumeration extended (the one
deliberate change to the published files, made in a temporary copy).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from lxml import etree

from koppel.sandbox.uwlr import SandboxServer, main

from .conftest import StartSandbox

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs" / "uwlr"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
LEER = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
AUT = "http://www.edustandaard.nl/leerresultaten/2/autorisatie"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "HaalLeerlinggegevens"}

WRAPPER = f"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{LEER}" xmlns="{LEER}"
           elementFormDefault="qualified" attributeFormDefault="unqualified">
  <xs:include schemaLocation="EDEXML.elementen.xsd"/>
  <xs:element name="leerlinggegevens_antwoord">
    <xs:complexType><xs:sequence>
      <xs:element name="leerlinggegevens"><xs:complexType><xs:sequence>
        <xs:element name="school" type="SchoolType"/>
        <xs:element name="vestigingen" minOccurs="0"><xs:complexType><xs:sequence>
          <xs:element name="vestiging" type="VestigingType" maxOccurs="unbounded"/>
        </xs:sequence></xs:complexType></xs:element>
        <xs:element name="groepen" minOccurs="0"><xs:complexType>
          <xs:sequence maxOccurs="unbounded"><xs:choice>
            <xs:element name="groep" type="GroepType"/>
            <xs:element name="samengestelde_groep" type="SamengesteldeGroepType"/>
          </xs:choice></xs:sequence>
        </xs:complexType></xs:element>
        <xs:element name="leerlingen"><xs:complexType><xs:sequence>
          <xs:element name="leerling" type="LeerlingType" maxOccurs="unbounded"/>
        </xs:sequence></xs:complexType></xs:element>
        <xs:element name="leerkrachten" minOccurs="0"><xs:complexType><xs:sequence>
          <xs:element name="leerkracht" type="LeerkrachtType" maxOccurs="unbounded"/>
        </xs:sequence></xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    folder = tmp_path_factory.mktemp("xsd")
    for xsd in (SPECS / "edexml-2.1").glob("*.xsd"):
        shutil.copy(xsd, folder / xsd.name)
    variabel = folder / "EDEXML.types.variabel.xsd"
    text = variabel.read_text(encoding="utf-8")
    later = "".join(f'<xs:enumeration value="{y}-{y + 1}"/>' for y in range(2025, 2031))
    variabel.write_text(
        text.replace('<xs:enumeration value="2024-2025"/>', '<xs:enumeration value="2024-2025"/>' + later),
        encoding="utf-8",
    )
    (folder / "wrapper.xsd").write_text(WRAPPER, encoding="utf-8")
    return etree.XMLSchema(etree.parse(str(folder / "wrapper.xsd")))


def antwoord(envelope: bytes) -> etree._Element:
    return etree.fromstring(envelope).find(f"{{{SOAP}}}Body/{{{LEER}}}leerlinggegevens_antwoord")


def request(brin6: str, *, sleutel: str = "sandbox", header: bool = True, fields: str | None = None) -> bytes:
    if fields is None:
        fields = (
            f"<l:schooljaar>2025-2026</l:schooljaar><l:brincode>{brin6[:4]}</l:brincode>"
            f"<l:dependancecode>{brin6[4:]}</l:dependancecode><l:xsdversie>2.3</l:xsdversie>"
        )
    autorisatie = (
        f"<s:Header><a:autorisatie><a:autorisatiesleutel>{sleutel}</a:autorisatiesleutel>"
        "<a:klantcode>K</a:klantcode><a:klantnaam>N</a:klantnaam></a:autorisatie></s:Header>"
    )
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{AUT}" xmlns:l="{LEER}">{autorisatie if header else ""}'
        f"<s:Body><l:leerlinggegevens_verzoek>{fields}</l:leerlinggegevens_verzoek></s:Body></s:Envelope>"
    ).encode()


def post(sandbox: SandboxServer, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(sandbox.endpoint, content=body, headers=headers or HEADERS, timeout=10)


def fault_of(response: httpx.Response) -> tuple[str, str]:
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    return fault.findtext("faultcode"), fault.findtext("faultstring")


# -- the answer ---------------------------------------------------------------------------------------


def test_the_wrapper_schema_accepts_the_synthetic_sample(schema: etree.XMLSchema) -> None:
    sample = (SPECS / "samples/uwlr-2.3-leerlinggegevens-response-smalle-set.synthetic.xml").read_bytes()
    schema.assertValid(antwoord(sample))


def test_answers_follow_the_edexml_schema(
    sandbox: SandboxServer, brins: list[str], schema: etree.XMLSchema
) -> None:
    for brin6 in brins:
        response = post(sandbox, request(brin6))
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        schema.assertValid(antwoord(response.content))


def test_the_answer_is_the_smalle_set(sandbox: SandboxServer, brins: list[str]) -> None:
    content = antwoord(post(sandbox, request(brins[0])).content)
    names = {etree.QName(e).localname for e in content.iter() if isinstance(e.tag, str)}
    assert not names & {"geboortedatum", "voornamen", "voorletters-1", "bsn", "geslacht"}
    assert all(etree.QName(e).namespace == LEER for e in content.iter() if isinstance(e.tag, str))
    jaargroepen = {e.text for e in content.iter(f"{{{LEER}}}jaargroep")}
    assert jaargroepen <= {"11", "12", "13", "14", "15", "16"}


def test_the_synthetic_request_sample_is_accepted(sandbox: SandboxServer, brins: list[str]) -> None:
    """The golden request (the source's request matches it after C14N) is one the sandbox answers."""
    sample = (SPECS / "samples/uwlr-2.3-HaalLeerlinggegevens-request.synthetic.xml").read_text(
        encoding="utf-8"
    )
    sample = sample.replace("FAKE-KEY-0000000000000000", "sandbox").replace("99ZZ", brins[0][:4])
    response = post(
        sandbox, sample.replace("<leer:dependancecode>00", f"<leer:dependancecode>{brins[0][4:]}").encode()
    )
    assert response.status_code == 200, response.text


# -- what a LAS refuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "fault", "words"),
    [
        ("order", "Client.OngeldigBericht", "staat niet op zijn plaats"),
        ("unknown element", "Client.OngeldigBericht", "onbekend element"),
        ("no header", "Client.AutorisatieOngeldig", "header autorisatie ontbreekt"),
        ("wrong sleutel", "Client.AutorisatieOngeldig", "geeft geen toegang tot school"),
        ("unknown school", "Client.AutorisatieOngeldig", "geeft geen toegang tot school 00AA00"),
        ("xsdversie", "Client.XsdVersieOngeldig", "xsdversie 3.0"),
        ("gegevensset", "Client.OngeldigBericht", "gegevensset 'Brede-set' is onbekend"),
        ("schooljaar", "Client.OngeldigBericht", "niet van de vorm"),
        ("doctype", "Client.OngeldigBericht", "DOCTYPE"),
        ("soapaction", "Client.OngeldigBericht", "SOAPAction"),
    ],
)
def test_requests_a_las_refuses(
    sandbox: SandboxServer, brins: list[str], case: str, fault: str, words: str
) -> None:
    brin6 = brins[0]
    headers = HEADERS
    body = {
        "order": request(
            brin6,
            fields=f"<l:schooljaar>2025-2026</l:schooljaar><l:xsdversie>2.3</l:xsdversie>"
            f"<l:brincode>{brin6[:4]}</l:brincode>",
        ),
        "unknown element": request(brin6, fields="<l:schooljaar>2025-2026</l:schooljaar><l:klas>1A</l:klas>"),
        "no header": request(brin6, header=False),
        "wrong sleutel": request(brin6, sleutel="geraden"),
        "unknown school": request("00AA00"),
        "xsdversie": request(
            brin6,
            fields=f"<l:schooljaar>2025-2026</l:schooljaar><l:brincode>{brin6[:4]}"
            "</l:brincode><l:xsdversie>3.0</l:xsdversie>",
        ),
        "gegevensset": request(
            brin6,
            fields=f"<l:schooljaar>2025-2026</l:schooljaar><l:brincode>{brin6[:4]}"
            "</l:brincode><l:gegevenssetid>Brede-set</l:gegevenssetid>",
        ),
        "schooljaar": request(brin6, fields="<l:schooljaar>2025</l:schooljaar>"),
        "doctype": b'<!DOCTYPE x [<!ENTITY e "e">]>' + request(brin6),
        "soapaction": request(brin6),
    }[case]
    if case == "soapaction":
        headers = {**HEADERS, "SOAPAction": "HaalLeerresultaten"}
    response = post(sandbox, body, headers)
    assert response.status_code == 500
    code, text = fault_of(response)
    assert code == f"SOAP-ENV:{fault}"
    assert words in text


def test_soap_1_2_content_type_and_get(sandbox: SandboxServer, brins: list[str]) -> None:
    response = post(sandbox, request(brins[0]), {"Content-Type": "application/soap+xml; charset=utf-8"})
    assert response.status_code == 415
    assert httpx.get(sandbox.endpoint, timeout=10).status_code == 405


def test_quoted_soapaction_is_accepted(sandbox: SandboxServer, brins: list[str]) -> None:
    assert (
        post(sandbox, request(brins[0]), {**HEADERS, "SOAPAction": '"HaalLeerlinggegevens"'}).status_code
        == 200
    )


def test_faults_repeat_with_the_seed(start_sandbox: StartSandbox) -> None:
    with start_sandbox(fail_rate=0.5, seed=11) as flaky:
        brin6 = flaky.schools()[0]["brin6"]
        first = [post(flaky, request(brin6)).status_code for _ in range(8)]
        flaky.reset()
        again = [post(flaky, request(brin6)).status_code for _ in range(8)]
        assert first == again and set(first) == {200, 500}
        assert flaky.stats()["requests"] == {
            "ok": first.count(200),
            "Server.TijdelijkNietBeschikbaar": first.count(500),
        }


# -- the command line ---------------------------------------------------------------------------------


def test_main_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sleutel-env", "KOPPEL_TEST_NOT_SET", "--port", "0"]) == 2
    assert main(["--fail-rate", "2", "--port", "0"]) == 2
    assert main(["--year", "2025-2027", "--port", "0"]) == 2
    errors = capsys.readouterr().err
    assert "KOPPEL_TEST_NOT_SET is not set" in errors and "fail_rate" in errors and "second year" in errors
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0


def test_main_serves_until_terminated(brins: list[str]) -> None:
    env = {**os.environ, "UWLR_TEST_SLEUTEL": "uit-de-omgeving"}
    command = [
        sys.executable,
        "-m",
        "koppel.sandbox.uwlr",
        "--port",
        "0",
        "--students",
        "160",
        "--schools",
        "2",
        "--seed",
        "5",
        "--year",
        "2025-2026",
        "--sleutel-env",
        "UWLR_TEST_SLEUTEL",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
        endpoint = re.search(r"endpoint\s+(\S+)", banner[1])
        assert endpoint, banner
        response = httpx.post(
            endpoint.group(1),
            content=request(brins[0], sleutel="uit-de-omgeving"),
            headers=HEADERS,
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "UWLR sandbox stopped." in out
