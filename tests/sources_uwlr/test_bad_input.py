"""Bad days, one test each: every failure stops the read with an error that says what to do — never a roster.

The hostile-XML tests prove that nothing was fetched: the external entities point at a second local
HTTP server (which must receive no request) and at a local file (whose access time must not move;
a control file read the ordinary way shows that access times do move on this file system).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from koppel.errors import SourceAuthError, SourceDataError, SourceUnavailable

from .conftest import CannedServer, StartSandbox, make_source

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
LEER = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
OLD = 946_684_800  # 2000-01-01: an access time any read on a relatime file system moves


def answer(
    brin6: str = "99ZZ00", year: str = "2025-2026", leerlingen: str | None = None, doctype: str = ""
) -> str:
    if leerlingen is None:
        leerlingen = (
            '<le:leerling key="1"><le:achternaam>Jansen</le:achternaam>'
            "<le:roepnaam>Sem</le:roepnaam></le:leerling>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><le:leerlinggegevens_antwoord xmlns:le="{LEER}">'
        "<le:leerlinggegevens>"
        f"<le:school><le:schooljaar>{year}</le:schooljaar><le:brincode>{brin6[:4]}</le:brincode>"
        f"<le:dependancecode>{brin6[4:]}</le:dependancecode></le:school>"
        f"<le:leerlingen>{leerlingen}</le:leerlingen>"
        "</le:leerlinggegevens></le:leerlinggegevens_antwoord></s:Body></s:Envelope>"
    )


def test_the_canned_answer_itself_is_fine(canned: CannedServer) -> None:
    canned.answer(answer())
    roster = make_source(canned.url, ["99ZZ00"]).read()
    assert [p.display_name for p in roster.persons.values()] == ["Sem Jansen"]
    (request,) = canned.received
    assert request["headers"]["SOAPAction"] == "HaalLeerlinggegevens"
    assert request["headers"]["Content-Type"] == "text/xml; charset=utf-8"


# -- what the LAS says ---------------------------------------------------------------------------------


def test_soap_fault_tijdelijk_niet_beschikbaar(start_sandbox: StartSandbox, brins: list[str]) -> None:
    with (
        start_sandbox(fail_rate=1.0, failure="tijdelijk-niet-beschikbaar") as las,
        pytest.raises(
            SourceUnavailable,
            match=f"school {brins[0]}: the LAS is temporarily unavailable "
            r"\(fault Server.TijdelijkNietBeschikbaar",
        ),
    ):
        make_source(las.endpoint, brins).read()


def test_http_401_names_the_school(canned: CannedServer) -> None:
    canned.answer("<html><body>Unauthorized</body></html>", status=401, content_type="text/html")
    with pytest.raises(
        SourceAuthError,
        match=r"school 12AB03: the LAS refused access \(HTTP 401\); check the "
        "autorisatiesleutel for 12AB03",
    ):
        make_source(canned.url, ["12AB03"]).read()


def test_http_500(start_sandbox: StartSandbox, brins: list[str]) -> None:
    with (
        start_sandbox(fail_rate=1.0, failure="http-500") as las,
        pytest.raises(SourceUnavailable, match=r"HTTP 500; try again later"),
    ):
        make_source(las.endpoint, brins).read()


def test_timeout(start_sandbox: StartSandbox, brins: list[str]) -> None:
    with start_sandbox(latency_ms=1000) as slow:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match=r"did not answer within 0.2s .*try again later"):
            make_source(slow.endpoint, brins, timeout_s=0.2).read()
        assert time.monotonic() - started < 0.9, "the read gave up at its timeout, not when the LAS answered"


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceUnavailable, match="cannot reach .*ConnectError"):
        make_source(f"http://127.0.0.1:{port}/uwlr", ["99ZZ00"]).read()


def test_malformed_xml(start_sandbox: StartSandbox, brins: list[str]) -> None:
    with (
        start_sandbox(fail_rate=1.0, failure="malformed") as las,
        pytest.raises(SourceDataError, match="not well-formed XML.*the LAS's answer was not read"),
    ):
        make_source(las.endpoint, brins).read()


def test_empty_answer_is_never_everyone_left(start_sandbox: StartSandbox, brins: list[str]) -> None:
    with (
        start_sandbox(fail_rate=1.0, failure="empty") as las,
        pytest.raises(
            SourceDataError,
            match="without any leerling for 2025-2026; an empty answer is never read as 'everyone left'",
        ),
    ):
        make_source(las.endpoint, brins).read()


def test_answer_whose_every_leerling_is_unreadable(canned: CannedServer) -> None:
    canned.answer(
        answer(leerlingen="<le:leerling><le:achternaam>Zonder sleutel</le:achternaam></le:leerling>")
    )
    with pytest.raises(
        SourceDataError, match="no leerling in the answer could be read .*without its required key"
    ):
        make_source(canned.url, ["99ZZ00"]).read()


def test_answer_for_another_school(canned: CannedServer) -> None:
    canned.answer(answer(brin6="12AB00"))
    with pytest.raises(SourceDataError, match="asked for school 99ZZ00, the LAS answered for 12AB00"):
        make_source(canned.url, ["99ZZ00"]).read()


def test_answer_for_another_year(canned: CannedServer) -> None:
    canned.answer(answer(year="2024-2025"))
    with pytest.raises(
        SourceDataError, match="asked for school year 2025-2026, the LAS answered for 2024-2025"
    ):
        make_source(canned.url, ["99ZZ00"]).read()


def test_answer_larger_than_allowed(canned: CannedServer) -> None:
    canned.answer(
        answer(
            leerlingen="<le:leerling key='1'><le:roepnaam>" + "x" * (2 * 2**20) + "</le:roepnaam>"
            "</le:leerling>"
        )
    )
    with pytest.raises(SourceDataError, match=r"larger than max_response_mb \(1 MB\)"):
        make_source(canned.url, ["99ZZ00"], max_response_mb=1).read()


def test_one_failing_school_stops_the_whole_read(start_sandbox: StartSandbox, brins: list[str]) -> None:
    first, second = brins
    with start_sandbox(sleutels={second: "een-andere"}) as las:
        with pytest.raises(SourceAuthError, match=f"school {second}"):
            make_source(las.endpoint, brins).read()
        outcomes = {r["brin6"]: r["outcome"] for r in las.requests()}
    assert outcomes == {first: "ok", second: "Client.AutorisatieOngeldig"}


# -- hostile XML: refused, nothing fetched ------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file an external entity points at, with an old access time; a control read shows atimes move."""
    control = tmp_path / "control.txt"
    control.write_text("control", encoding="utf-8")
    os.utime(control, (OLD, time.time()))
    control.read_text(encoding="utf-8")
    if os.stat(control).st_atime == OLD:
        pytest.skip(
            "this file system does not record access times (noatime); the file check proves nothing here"
        )
    secret = tmp_path / "geheim.txt"
    secret.write_text("BSN 123456782", encoding="utf-8")
    os.utime(secret, (OLD, time.time()))
    return secret


def hostile_doctypes(secret: Path, bystander: CannedServer) -> dict[str, str]:
    lol = '<!ENTITY lol "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    return {
        "external entity, file": f'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file://{secret}">]>',
        "external entity, http": f'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "{bystander.url}/x.xml">]>',
        "parameter entity, http": f'<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "{bystander.url}/p.dtd"> %p;]>',
        "external DTD": f'<!DOCTYPE s:Envelope SYSTEM "{bystander.url}/envelope.dtd">',
        "entity expansion bomb": f"<!DOCTYPE s:Envelope [{lol}]>",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "external entity, file",
        "external entity, http",
        "parameter entity, http",
        "external DTD",
        "entity expansion bomb",
    ],
)
def test_hostile_xml_is_refused_and_nothing_is_fetched(
    kind: str, canned: CannedServer, bystander: CannedServer, secret_file: Path
) -> None:
    doctype = hostile_doctypes(secret_file, bystander)[kind]
    reference = "&lol9;" if "bomb" in kind else ("&x;" if "external entity" in kind else "Sem")
    leerling = f'<le:leerling key="1"><le:achternaam>{reference}</le:achternaam></le:leerling>'
    canned.answer(answer(leerlingen=leerling, doctype=doctype))
    started = time.monotonic()
    with pytest.raises(
        SourceDataError, match="DOCTYPE or entity declaration is refused \\(nothing was resolved\\)"
    ):
        make_source(canned.url, ["99ZZ00"]).read()
    assert time.monotonic() - started < 1.0
    assert bystander.received == [], "the external entity's server was contacted"
    assert os.stat(secret_file).st_atime == OLD, "the file behind the external entity was read"
