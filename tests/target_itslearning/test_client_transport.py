"""The client over a real socket: what each HTTP outcome becomes (STYLE §9: no patching of koppel).

HTTP 5xx, timeouts and refused connections are transient (the applier retries with backoff); 503, 429
and timeouts are "busy" (the applier also sends less), with the platform's Retry-After; 413 asks for
smaller requests; 401/403 and WS-Security faults stop the run, and so do faults no retry can fix (a
wrong endpoint or SOAPAction, a 404, a redirect, a request the service cannot deserialise, an
unverifiable certificate), each with a message that says what to fix. Reads are repeated after a
transient failure; writes are sent once (the applier decides).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from koppel.errors import (
    RequestTooLarge,
    TargetAuthError,
    TargetConfigError,
    TargetProtocolError,
    TransientTargetError,
)
from koppel.http import retry_after_seconds
from koppel.retry import RetryPolicy
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.requests import read_all_persons, read_person
from koppel.targets.itslearning.values import CodeMajor, PageRequest, Service, SoapRequest, SoapResponse

from . import replies
from .builders import delete_group, delete_membership, delete_person
from .conftest import header
from .http_stub import Recorded, StubServer


def client_for(base: str, **options) -> ImsClient:
    endpoints = {service: f"{base}/{service.endpoint_file}" for service in Service}
    return ImsClient(endpoints, **options)


def send(stub: StubServer, request: SoapRequest | None = None, **options) -> SoapResponse:
    with client_for(stub.url, **options) as client:
        return client.send(request or delete_person("876", header=header()))


def test_success_posts_soap_to_the_service_endpoint():
    with StubServer(lambda r: (200, replies.response([replies.OK], message_id="1"))) as stub:
        response = send(stub)
    (recorded,) = stub.requests
    assert recorded.path == "/WCFServiceLibrary/PersonManagementServiceSync.svc"
    assert recorded.headers["soapaction"] == '"http://www.imsglobal.org/soap/pms/deletePerson"'
    assert recorded.headers["content-type"] == "text/xml; charset=utf-8"
    assert recorded.body == delete_person("876", header=header()).envelope
    assert response.statuses[0].code_major is CodeMajor.SUCCESS


def test_each_service_has_its_endpoint():
    with StubServer(lambda r: (200, replies.response([replies.OK]))) as stub, client_for(stub.url) as client:
        client.send(read_all_persons(PageRequest(1), header=header()))
        client.send(delete_group("g", header=header()))
        client.send(delete_membership("m", header=header()))
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
        pytest.raises(TargetConfigError, match=r"HTTP 404: there is no IMS ES endpoint there.*Manage IMS Enterprise"),
    ):
        send(stub)


def test_redirect_is_not_followed():
    with (
        StubServer(lambda r: (302, b"", {"Location": "https://login.example/"})) as stub,
        pytest.raises(TargetConfigError, match="redirected.*login.example"),
    ):
        send(stub)


def test_timeout_is_transient():
    def slow(recorded: Recorded):
        time.sleep(1.5)
        return 200, replies.response([replies.OK])

    with StubServer(slow) as stub:
        started = time.monotonic()
        with pytest.raises(TransientTargetError, match=r"timed out after 0.3s") as caught:
            send(stub, timeout_s=0.3)
        assert time.monotonic() - started < 1.4
    assert caught.value.overload and caught.value.unanswered, "a timeout is busy, and may still be running"


def test_connection_refused_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        client_for(f"http://127.0.0.1:{port}/x") as client,
        pytest.raises(TransientTargetError, match="ConnectError"),
    ):
        client.send(delete_person("876", header=header()))


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
        pytest.raises(TargetConfigError, match="TLS certificate .* could not be verified"),
    ):
        send(stub)
        assert stub.requests == []
        # Only when the settings turn verification off (a local test server) does it go through.
        assert send(stub, verify_tls=False).statuses[0].code_major is CodeMajor.SUCCESS


def test_missing_endpoint_is_a_programming_error():
    with pytest.raises(ValueError, match="no endpoint URL for service"):
        ImsClient({Service.PERSON: "https://x/p.svc"})


@pytest.mark.parametrize("status", [503, 429])
def test_busy_is_an_overload_with_the_platforms_retry_after(status: int):
    with (
        StubServer(lambda r: (status, b"<html>Service Unavailable</html>", {"Retry-After": "7"})) as stub,
        pytest.raises(TransientTargetError, match=rf"HTTP {status}.*busy.*Retry-After 7 s") as caught,
    ):
        send(stub)
    assert caught.value.overload and caught.value.retry_after == 7.0 and not caught.value.unanswered


def test_busy_without_retry_after():
    with StubServer(lambda r: (503, b"")) as stub, pytest.raises(TransientTargetError) as caught:
        send(stub)
    assert caught.value.overload and caught.value.retry_after is None


def test_retry_after_as_delay_seconds_or_http_date():
    from datetime import UTC, datetime

    now = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now=now) == 120.0
    assert retry_after_seconds("Fri, 04 Dec 2026 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Fri, 04 Dec 2026 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon", now=now) is None and retry_after_seconds(None) is None


def test_413_asks_for_smaller_requests():
    with StubServer(lambda r: (413, b"Request Entity Too Large")) as stub, pytest.raises(RequestTooLarge, match="413"):
        send(stub)


WCF_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"


@pytest.mark.parametrize(
    "code, text, message",
    [
        ("ActionNotSupported", "The message with Action 'http://www.imsglobal.org/soap/pms/deletePerson' cannot be "
         "processed at the receiver, due to a ContractFilter mismatch at the EndpointDispatcher.",
         r"does not serve this IMS ES operation.*ImsEnterpriseServicesPort\.svc"),
        ("DeserializationFailed", "The formatter threw an exception while trying to deserialize the message: "
         "Instance validation error: 'Teacher' is not a valid value for institutionRoleType.",
         r"could not read koppel's request.*profile_map"),
    ],
)
def test_faults_no_retry_can_fix_are_configuration_errors(code: str, text: str, message: str):
    with (
        StubServer(lambda r: (500, replies.fault(code, text, code_ns=WCF_DISPATCHER))) as stub,
        pytest.raises(TargetConfigError, match=message),
    ):
        send(stub)
    assert len(stub.requests) == 1


def test_a_read_is_repeated_after_transient_failures_and_a_write_is_not():
    answers = iter([(500, b"oops"), (503, b"busy"), (200, replies.response([replies.OK], in_set=False))])
    fast = RetryPolicy(max_attempts=3, initial_delay_s=0.001, max_delay_s=0.001)
    waits: list[float] = []
    with StubServer(lambda r: next(answers)) as stub:
        with client_for(stub.url, read_retry=fast, sleep=waits.append) as client:
            response = client.send(read_person("876", header=header()))
        assert response.statuses[0].code_major is CodeMajor.SUCCESS
        assert len(stub.requests) == 3 and len(waits) == 2
    with StubServer(lambda r: (500, b"oops")) as stub:
        with client_for(stub.url, read_retry=fast, sleep=waits.append) as client, pytest.raises(
            TransientTargetError, match="HTTP 500"
        ):
            client.send(delete_person("876", header=header()))
        assert len(stub.requests) == 1, "writes are the applier's to retry, within its budget"


def test_a_read_gives_up_after_its_attempts_with_the_count_in_the_message():
    fast = RetryPolicy(max_attempts=2, initial_delay_s=0.001, max_delay_s=0.001)
    with StubServer(lambda r: (502, b"bad gateway")) as stub:
        with client_for(stub.url, read_retry=fast, sleep=lambda s: None) as client, pytest.raises(
            TransientTargetError, match="gave up after 2 attempts"
        ):
            client.send(read_person("876", header=header()))
        assert len(stub.requests) == 2
