"""Bad days, each over a real socket: the read stops with a clear error, or — for an expired token — recovers.

A source never returns part of a roster (DESIGN §1): every case below either raises one of the
source errors, named by what to do next, or completes with everything.
"""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest

from koppel.errors import ConfigError, SourceAuthError, SourceDataError, SourceError, SourceUnavailable
from koppel.generator import Bestuur, GeneratedSchool
from koppel.model import SchoolYear
from koppel.sandbox.somtoday import SandboxServer

from .conftest import YEAR, StartSandbox, make_source


def test_a_wrong_client_secret_is_an_auth_error_naming_the_instelling(small_sandbox: SandboxServer) -> None:
    sandbox = small_sandbox
    with pytest.raises(SourceAuthError) as info:
        make_source(sandbox, secret="not-the-secret").read()
    message = str(info.value)
    assert sandbox.instelling in message and "HTTP 401" in message and "invalid_client" in message
    assert "not-the-secret" not in message


def test_an_unknown_instelling_is_an_auth_error(small_sandbox: SandboxServer) -> None:
    with pytest.raises(SourceAuthError, match="00000000-0000-0000-0000-000000000000"):
        make_source(small_sandbox, instelling="00000000-0000-0000-0000-000000000000").read()


def test_a_missing_secret_is_a_configuration_error(small_sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigError, match="SOMTODAY_CLIENT_SECRET"):
        make_source(small_sandbox, secret="").read()


def test_http_500_makes_the_source_unavailable(start_sandbox: StartSandbox) -> None:
    with start_sandbox(fail_rate=1.0) as sandbox:
        with pytest.raises(
            SourceUnavailable, match=r"GET /connect/vestiging answered HTTP 500.*Interne serverfout"
        ):
            make_source(sandbox, max_attempts=2).read()
        assert sandbox.stats()["counters"]["faults.server_error"] == 2  # retried once, then gave up


def test_transient_500s_are_retried_and_the_read_completes(
    start_sandbox: StartSandbox, small_sandbox: SandboxServer
) -> None:
    expected = make_source(small_sandbox).read()
    with start_sandbox(fail_rate=0.3, seed=4) as flaky:
        roster = make_source(flaky, max_attempts=6).read()
        assert flaky.stats()["counters"]["faults.server_error"] > 0
    assert roster.counts() == expected.counts()


def test_a_timeout_makes_the_source_unavailable(start_sandbox: StartSandbox) -> None:
    with start_sandbox(latency_ms=400) as sandbox:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match=r"timed out after 0.1s"):
            make_source(sandbox, timeout_s=0.1).read()
    assert time.monotonic() - started < 2


def test_malformed_json_stops_the_read(start_sandbox: StartSandbox) -> None:
    with (
        start_sandbox(malformed_rate=1.0) as sandbox,
        pytest.raises(SourceDataError, match=r"GET /connect/vestiging: the answer is not valid JSON"),
    ):
        make_source(sandbox).read()


def test_an_expired_token_mid_paging_is_renewed_and_the_read_completes(
    start_sandbox: StartSandbox, small_sandbox: SandboxServer
) -> None:
    # Tokens die after 0.3 s but claim an hour, so the client trusts them until Somtoday says 401; at
    # 20 ms a request, the 30-odd pages of the read take longer than that.
    expected = make_source(small_sandbox).read()
    with start_sandbox(token_ttl_s=0.3, advertised_ttl_s=3600, latency_ms=20) as sandbox:
        roster = make_source(sandbox, page_size=10).read()
        counters = sandbox.stats()["counters"]
    assert counters["unauthorized.expired_token"] >= 1
    assert counters["tokens.issued"] == counters["unauthorized.expired_token"] + 1
    assert roster.counts() == expected.counts()
    assert roster.memberships and roster.diagnostics == ()


def test_a_token_is_renewed_before_it_expires_when_its_lifetime_is_known(start_sandbox: StartSandbox) -> None:
    # Tokens live 0.4 s and say so; the read takes longer. The client renews 0.04 s before the end, so
    # a renewal normally meets no 401 at all (on a loaded machine a request may still outlive its token).
    with start_sandbox(token_ttl_s=0.4, latency_ms=20) as sandbox:
        make_source(sandbox, page_size=10).read()
        counters = sandbox.stats()["counters"]
    renewals = counters["tokens.issued"] - 1
    assert renewals >= 1
    assert counters.get("unauthorized.expired_token", 0) < renewals


def test_a_401_with_a_fresh_token_is_an_auth_error_naming_the_vestiging(start_sandbox: StartSandbox) -> None:
    with start_sandbox(unauthorized_rate=1.0) as sandbox:
        with pytest.raises(SourceAuthError, match=r"instelling .* \(HTTP 401 with a freshly renewed token"):
            make_source(sandbox).read()
        assert sandbox.stats()["counters"]["tokens.issued"] == 2  # renewed once, not in a loop


def test_a_vestiging_not_opened_for_the_client_is_an_auth_error(small_sandbox: SandboxServer) -> None:
    with pytest.raises(SourceAuthError, match="11111111-2222-3333-4444-555555555555 not opened"):
        make_source(small_sandbox, vestigingen=["11111111-2222-3333-4444-555555555555"]).read()
    with pytest.raises(SourceAuthError, match="no vestiging with BRIN6 99XX00"):
        make_source(small_sandbox, brins=["99XX00"]).read()


def test_an_empty_vestiging_is_refused(start_sandbox: StartSandbox, bestuur: Bestuur) -> None:
    empty = GeneratedSchool("99LE00", "Lege Vestiging", "lege.nl")
    with_empty = dataclasses.replace(bestuur, schools=(*bestuur.schools, empty))
    with (
        start_sandbox(current=with_empty) as sandbox,
        pytest.raises(
            SourceDataError, match=r"vestiging Lege Vestiging \(99LE00, .*\) delivered no leerlingen"
        ),
    ):
        make_source(sandbox).read()


def test_volgend_without_a_next_year_is_refused_not_read_as_empty(
    start_sandbox: StartSandbox, bestuur: Bestuur
) -> None:
    with (
        start_sandbox(current=bestuur, following=None) as sandbox,
        pytest.raises(SourceDataError, match="delivered no leerlingen for peilschooljaar VOLGEND"),
    ):
        make_source(sandbox, requested=YEAR.next()).read()


def test_a_year_somtoday_cannot_serve_is_refused_before_any_request(start_sandbox: StartSandbox) -> None:
    with start_sandbox() as sandbox:
        with pytest.raises(SourceError, match="cannot deliver 2023-2024"):
            make_source(sandbox, requested=SchoolYear(2023)).read()
        assert sandbox.stats()["counters"] == {}


def test_another_refusal_carries_somtodays_error_body(start_sandbox: StartSandbox) -> None:
    expected = r"HTTP 400 Bad Request: Parameter amount moet tussen 1 en 50 zijn: ontvangen: 200 \(code 400\)"
    # a server stricter than the spec's 200
    with start_sandbox(max_amount=50) as sandbox, pytest.raises(SourceError, match=expected) as info:
        make_source(sandbox).read()
    assert type(info.value) is SourceError


def test_a_server_that_is_not_there_makes_the_source_unavailable(small_sandbox: SandboxServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once the socket closes: nobody listens there
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(SourceUnavailable, match=r"token request .* failed: ConnectError"):
        make_source(small_sandbox, api_url=f"{url}/rest/v1", token_url=f"{url}/oauth2/token").read()
