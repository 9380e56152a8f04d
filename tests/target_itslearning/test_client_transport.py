"""The client over a real socket: what each HTTP outcome becomes (STYLE §9: no patching of koppel).

HTTP 5xx, timeouts and refused connections are transient (the applier retries with backoff);
401/403 and WS-Security faults stop the run; an answer that is not a SOAP envelope, a 404 or an
unverifiable certificate is a protocol error with a message that says what to check.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from koppel.errors import TargetAuthError, TargetProtocolError, TransientTargetError
from koppel.targets.itslearning import envelopes as ims
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.envelopes import Service

from . import replies
from .conftest import header
from .http_stub import Recorded, StubServer


def client_for(base: str, **options) -> ImsClient:
    endpoints = {service: f"{base}/{service.endpoint_file}" for service in Service}
    return ImsClient(endpoints, **options)


def send(stub: StubServer, request: ims.SoapRequest | None = None, **options) -> ims.SoapResponse:
    with client_for(stub.url, **options) as client:
        return client.send(request or ims.delete_person("876", header=header()))


def test_success_posts_soap_to_the_service_endpoint():
    with StubServer(lambda r: (200, replies.response([replies.OK], message_id="1"))) as stub:
        response = send(stub)
    (recorded,) = stub.requests
    assert recorded.path == "/WCFServiceLibrary/PersonManagementServiceSync.svc"
    assert recorded.headers["soapaction"] == '"http://www.imsglobal.org/soap/pms/deletePerson"'
    assert recorded.headers["content-type"] == "text/xml; charset=utf-8"
    assert recorded.body == ims.delete_person("876", header=header()).envelope
    assert response.statuses[0].code_major is ims.CodeMajor.SUCCESS


def test_each_service_has_its_endpoint():
    with StubServer(lambda r: (200, replies.response([replies.OK]))) as stub, client_for(stub.url) as client:
        client.send(ims.read_all_persons(ims.PageRequest(1), header=header()))
        client.send(ims.delete_group("g", header=header()))
        client.send(ims.delete_membership("m", header=header()))
    paths = [r.path.rsplit("/", 1)[1] for r in stub.requests]
    assert paths == [
        "ExtendedPersonManagementServiceSync.svc",
        "GroupManagementServiceSync.svc",
        "MembershipManagementServiceSync.svc",
    ]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_server_errors_are_transient(status: int):
    with (
        StubServer(lambda r: (status, b"busy", {"Content-Type": "text/plain"})) as stub,
        pytest.raises(TransientTargetError, match=f"HTTP {status}"),
    ):
        send(stub)


def test_garbage_500_body_is_still_transient():
    with (
        StubServer(lambda r: (500, b"\x00\xff<<not xml")) as stub,
        pytest.raises(TransientTargetError, match="HTTP 500"),
    ):
        send(stub)


def test_soap_server_fault_is_transient_with_its_faultstring():
    body = replies.fault(
        "InternalServiceFault", "The server was unable to process the request.", code_ns="urn:wcf"
    )
    with (
        StubServer(lambda r: (500, body)) as stub,
        pytest.raises(TransientTargetError, match="unable to process the request"),
    ):
        send(stub)


@pytest.mark.parametrize("status, body", [(500, replies.INVALID_SECURITY), (401, b""), (403, b"Forbidden")])
def test_refused_credentials_are_an_auth_error(status: int, body: bytes):
    with (
        StubServer(lambda r: (status, body)) as stub,
        pytest.raises(TargetAuthError, match="username and password"),
    ):
        send(stub)
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    "body, message",
    [
        (b"\x00\xffgarbage", "not XML"),
        (b"<html><body>Maintenance</body></html>", "not a SOAP 1.1 envelope"),
        (b"", "not XML"),
    ],
)
def test_200_that_is_not_soap_is_a_protocol_error(body: bytes, message: str):
    with StubServer(lambda r: (200, body)) as stub, pytest.raises(TargetProtocolError, match=message):
        send(stub)


def test_404_names_the_endpoint():
    with (
        StubServer(lambda r: (404, b"Not Found", {"Content-Type": "text/html"})) as stub,
        pytest.raises(TargetProtocolError, match=r"HTTP 404: there is no IMS ES endpoint there"),
    ):
        send(stub)


def test_redirect_is_not_followed():
    with (
        StubServer(lambda r: (302, b"", {"Location": "https://login.example/"})) as stub,
        pytest.raises(TargetProtocolError, match="redirected.*login.example"),
    ):
        send(stub)


def test_timeout_is_transient():
    def slow(recorded: Recorded):
        time.sleep(1.5)
        return 200, replies.response([replies.OK])

    with StubServer(slow) as stub:
        started = time.monotonic()
        with pytest.raises(TransientTargetError, match=r"timed out after 0.3s"):
            send(stub, timeout_s=0.3)
        assert time.monotonic() - started < 1.4


def test_connection_refused_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        client_for(f"http://127.0.0.1:{port}/x") as client,
        pytest.raises(TransientTargetError, match="ConnectError"),
    ):
        client.send(ims.delete_person("876", header=header()))


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> ssl.SSLContext:
    folder: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_unverifiable_certificate_is_refused(self_signed: ssl.SSLContext):
    with (
        StubServer(lambda r: (200, replies.response([replies.OK])), tls=self_signed) as stub,
        pytest.raises(TargetProtocolError, match="TLS certificate .* could not be verified"),
    ):
        send(stub)
        assert stub.requests == []
        # Only when the settings turn verification off (a local test server) does it go through.
        assert send(stub, verify_tls=False).statuses[0].code_major is ims.CodeMajor.SUCCESS


def test_missing_endpoint_is_a_programming_error():
    with pytest.raises(ValueError, match="no endpoint URL for service"):
        ImsClient({Service.PERSON: "https://x/p.svc"})
