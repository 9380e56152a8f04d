"""HTTPS with verification always on, and the client certificate ESIS demands — over real TLS sockets.

The sandbox serves HTTPS with a certificate of a test CA and demands a client certificate signed by
that CA; the certificates are made for the session with the openssl command line (conftest ``pki``).
A refused client certificate shows up as a hang-up from the sandbox (asyncio's TLS sends no alert),
so its classification with an alert is checked on the exception httpx raises for one.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator

import httpx
import pytest

from koppel.errors import ConfigError, SourceAuthError, SourceError, SourceUnavailable
from koppel.sandbox.uwlr import SandboxServer
from koppel.sources.uwlr.client import _transport_error

from .conftest import Pki, StartSandbox, make_source

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command line")


@pytest.fixture
def esis(start_sandbox: StartSandbox, pki: Pki) -> Iterator[SandboxServer]:
    with start_sandbox(
        tls_cert_file=pki.server_cert, tls_key_file=pki.server_key, client_ca_file=pki.ca
    ) as server:
        yield server


def test_client_certificate_opens_the_las(esis: SandboxServer, brins: list[str], pki: Pki) -> None:
    assert esis.endpoint.startswith("https://127.0.0.1:")
    source = make_source(
        esis.endpoint,
        brins,
        preset="esis",
        ca_file=str(pki.ca),
        client_cert_file=str(pki.client_cert),
        client_key_file=str(pki.client_key),
    )
    roster = source.read()
    assert set(roster.schools) == set(brins)
    assert {r["xsdversie"] for r in esis.requests()} == {"2.2"}


def test_encrypted_client_key_with_its_password_from_the_environment(
    esis: SandboxServer, brins: list[str], pki: Pki
) -> None:
    source = make_source(
        esis.endpoint,
        brins[:1],
        preset="esis",
        ca_file=str(pki.ca),
        client_cert_file=str(pki.client_cert),
        client_key_file=str(pki.client_key_encrypted),
        client_key_password_env="ESIS_KEY_PASSWORD",
        env={"ESIS_KEY_PASSWORD": pki.key_password},
    )
    assert source.read().schools


def test_wrong_key_password_is_a_configuration_error(esis: SandboxServer, brins: list[str], pki: Pki) -> None:
    source = make_source(
        esis.endpoint,
        brins[:1],
        preset="esis",
        ca_file=str(pki.ca),
        client_cert_file=str(pki.client_cert),
        client_key_file=str(pki.client_key_encrypted),
        client_key_password_env="ESIS_KEY_PASSWORD",
        env={"ESIS_KEY_PASSWORD": "fout"},
    )
    with pytest.raises(ConfigError, match="cannot load the client certificate .*wrong key password"):
        source.read()
    assert esis.requests() == []


HANG_UP_HINT = "the LAS may be refusing the client certificate \\(client_cert_file; ESIS demands one\\)"


def test_certificate_of_another_ca_is_refused(esis: SandboxServer, brins: list[str], pki: Pki) -> None:
    """The sandbox (asyncio TLS) hangs up instead of sending an alert: 'try again later', with the hint."""
    source = make_source(
        esis.endpoint,
        brins[:1],
        ca_file=str(pki.ca),
        client_cert_file=str(pki.rogue_cert),
        client_key_file=str(pki.rogue_key),
    )
    with pytest.raises(SourceUnavailable, match=f"school {brins[0]}: cannot reach .*{HANG_UP_HINT}"):
        source.read()
    assert esis.requests() == [], "the request never reached the application"


def test_no_client_certificate_is_refused(esis: SandboxServer, brins: list[str], pki: Pki) -> None:
    with pytest.raises(SourceUnavailable, match=HANG_UP_HINT):
        make_source(esis.endpoint, brins[:1], ca_file=str(pki.ca)).read()


@pytest.mark.parametrize(
    "reason",
    [
        "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required",
        "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca",
    ],
)
def test_a_tls_alert_refusing_the_certificate_is_an_auth_error(reason: str) -> None:
    """What an OpenSSL-based server sends; built as httpx raises it (the sandbox cannot send alerts)."""
    error = httpx.ConnectError(reason)
    error.__cause__ = ssl.SSLError(1, reason)
    refused = _transport_error(error, "https://las.example.nl/uwlr", "99ZZ00", "las")
    assert isinstance(refused, SourceAuthError)
    assert "99ZZ00" in str(refused) and "check client_cert_file" in str(refused)


def test_server_certificate_is_always_verified(esis: SandboxServer, brins: list[str], pki: Pki) -> None:
    source = make_source(
        esis.endpoint, brins[:1], client_cert_file=str(pki.client_cert), client_key_file=str(pki.client_key)
    )  # no ca_file: the test CA is not trusted
    with pytest.raises(
        SourceError, match="could not be verified .*koppel sends no pupil data to an unverified server"
    ) as info:
        source.read()
    assert type(info.value) is SourceError, "not 'try again later': retrying does not fix a certificate"
