"""The sandbox on the wire, checked against the spec with plain HTTP (no koppel client involved)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from koppel.generator import Bestuur
from koppel.sandbox.somtoday import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer, main

from .conftest import StartSandbox


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def token(http: httpx.Client, sandbox: SandboxServer, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        **form,
    }
    return http.post(sandbox.token_url, params={"organisation": sandbox.instelling}, data=data)


@pytest.fixture(scope="module")
def bearer(sandbox: SandboxServer, http: httpx.Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(http, sandbox).json()['access_token']}"}


def leerlingen_url(sandbox: SandboxServer, bestuur: Bestuur) -> str:
    return f"{sandbox.api_url}/connect/vestiging/{sandbox.vestiging(bestuur.schools[0].brin6)}/leerling"


def test_the_token_endpoint_speaks_oauth2(sandbox: SandboxServer, http: httpx.Client) -> None:
    answer = token(http, sandbox)
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer" and answer.json()["expires_in"] == 3600
    assert token(http, sandbox, client_secret="wrong").json()["error"] == "invalid_client"
    assert token(http, sandbox, client_secret="wrong").status_code == 401
    assert token(http, sandbox, grant_type="password").json()["error"] == "unsupported_grant_type"
    basic = http.post(
        sandbox.token_url,
        params={"organisation": sandbox.instelling},
        data={"grant_type": "client_credentials"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    assert basic.status_code == 200
    other = http.post(
        sandbox.token_url,
        params={"organisation": "1349fac3-259a-44fd-a1f1-6fe5f8a2f39e"},
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    )
    assert other.status_code == 400


def test_data_needs_a_token_of_the_instelling(
    sandbox: SandboxServer, bestuur: Bestuur, http: httpx.Client, bearer: dict[str, str]
) -> None:
    url = leerlingen_url(sandbox, bestuur)
    refused = http.get(url, params={"amount": 10})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert (
        http.get(url, params={"amount": 10}, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    )
    assert http.get(url, params={"amount": 10}, headers=bearer).status_code == 200
    elsewhere = f"{sandbox.api_url}/connect/vestiging/00000000-0000-0000-0000-000000000000/leerling"
    closed = http.get(elsewhere, params={"amount": 10}, headers=bearer)
    assert closed.status_code == 401 and "Geen toegang tot Vestiging" in closed.json()["clarification"]


def test_paging_follows_offset_and_amount(
    sandbox: SandboxServer, bestuur: Bestuur, http: httpx.Client, bearer: dict[str, str]
) -> None:
    url = leerlingen_url(sandbox, bestuur)
    whole = http.get(url, params={"amount": 200}, headers=bearer).json()["leerlingen"]
    pages = [
        http.get(url, params={"offset": o, "amount": 50}, headers=bearer).json()["leerlingen"]
        for o in range(0, len(whole) + 50, 50)
    ]
    assert [r["uuid"] for page in pages for r in page] == [r["uuid"] for r in whole]
    assert pages[-1] == []
    assert len(whole) == sum(1 for p in bestuur.pupils if p.brin6 == bestuur.schools[0].brin6)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "Parameter amount is verplicht"),
        ({"amount": 201}, "Parameter amount moet tussen 1 en 200 zijn"),
        ({"amount": "veel"}, "Parameter amount moet een geheel getal zijn"),
        ({"amount": 10, "offset": -1}, "Parameter offset moet minimaal 0 zijn"),
        ({"amount": 10, "peilschooljaar": "VORIG"}, "Parameter peilschooljaar moet HUIDIG of VOLGEND zijn"),
    ],
)
def test_bad_parameters_get_an_error_body(
    sandbox: SandboxServer,
    bestuur: Bestuur,
    http: httpx.Client,
    bearer: dict[str, str],
    params: dict,
    problem: str,
) -> None:
    answer = http.get(leerlingen_url(sandbox, bestuur), params=params, headers=bearer)
    assert answer.status_code == 400
    assert answer.json()["code"] == 400 and answer.json()["problem"] == problem


def test_records_leave_out_null_values(
    sandbox: SandboxServer, bestuur: Bestuur, http: httpx.Client, bearer: dict[str, str]
) -> None:
    records = http.get(leerlingen_url(sandbox, bestuur), params={"amount": 200}, headers=bearer).json()[
        "leerlingen"
    ]

    def no_nulls(value: object) -> bool:
        if isinstance(value, dict):
            return all(v is not None and v != "" and no_nulls(v) for v in value.values())
        if isinstance(value, list):
            return all(no_nulls(v) for v in value)
        return True

    assert all(no_nulls(r) for r in records)
    pupil = next(p for p in bestuur.pupils if p.brin6 == bestuur.schools[0].brin6 and not p.voorvoegsel)
    (record,) = [r for r in records if r["leerlingnummer"] == int(pupil.stamnr)]
    assert "voorvoegsel" not in record
    (plaatsing,) = record["plaatsingen"]
    assert plaatsing["schooljaar"] == "2025/2026" and plaatsing["stamgroep"]["naam"] == pupil.klas
    assert plaatsing["mentoren"][0]["toewijzing"] == "EersteMentorStamgroep"


def test_volgend_gives_next_year_and_both_plaatsingen(
    sandbox: SandboxServer, bestuur: Bestuur, http: httpx.Client, bearer: dict[str, str]
) -> None:
    answer = http.get(
        leerlingen_url(sandbox, bestuur), params={"amount": 200, "peilschooljaar": "VOLGEND"}, headers=bearer
    ).json()["leerlingen"]
    years = {tuple(p["schooljaar"] for p in r["plaatsingen"]) for r in answer}
    assert ("2025/2026", "2026/2027") in years  # pupils who stay
    assert ("2026/2027",) in years  # new brugklassers


def test_single_records_and_filters(
    sandbox: SandboxServer, bestuur: Bestuur, http: httpx.Client, bearer: dict[str, str]
) -> None:
    base = f"{sandbox.api_url}/connect/vestiging/{sandbox.vestiging(bestuur.schools[0].brin6)}"
    groups = http.get(f"{base}/lesgroep/", params={"amount": 200}, headers=bearer).json()["lesgroepen"]
    linked = http.get(f"{base}/lesgroep/", params={"amount": 200, "stamgroep": "true"}, headers=bearer).json()
    unlinked = http.get(
        f"{base}/lesgroep/", params={"amount": 200, "stamgroep": "false"}, headers=bearer
    ).json()
    assert len(linked["lesgroepen"]) + len(unlinked["lesgroepen"]) == len(groups) > 0
    assert all("." in g["naam"] for g in linked["lesgroepen"])  # klas-lesgroepen are named 1A.ne
    one = groups[0]
    single = http.get(f"{base}/lesgroep/{one['uuid']}", headers=bearer).json()
    assert single == {"lesgroepen": [one]}
    assert (
        http.get(f"{base}/lesgroep/00000000-0000-0000-0000-000000000000", headers=bearer).status_code == 404
    )
    chosen = http.get(
        f"{base}/lesgroep/",
        params=[("amount", 200), ("uuid", groups[0]["uuid"]), ("uuid", groups[2]["uuid"])],
        headers=bearer,
    ).json()
    assert [g["uuid"] for g in chosen["lesgroepen"]] == [groups[0]["uuid"], groups[2]["uuid"]]
    assert all(g["schooljaar"] == "2025/2026" for g in groups)


def test_veldpermissies_withhold_fields_and_say_so(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    hidden = {"leerling": frozenset({"emailadres"}), "plaatsing": frozenset({"mentoren"})}
    with start_sandbox(hidden_fields=hidden) as sandbox:
        headers = {"Authorization": f"Bearer {token(http, sandbox).json()['access_token']}"}
        url = f"{sandbox.api_url}/connect/vestiging/{sandbox.vestiging(sandbox_brin(sandbox, http))}/leerling"
        answer = http.get(url, params={"amount": 5, "veldpermissies": "true"}, headers=headers).json()
    assert all("emailadres" not in r for r in answer["leerlingen"])
    assert all("mentoren" not in p for r in answer["leerlingen"] for p in r["plaatsingen"])
    permissions = answer["veldpermissies"]
    assert permissions["emailadres"] is False and permissions["achternaam"] is True
    assert permissions["plaatsingVeldpermissies"]["mentoren"] is False


def sandbox_brin(sandbox: SandboxServer, http: httpx.Client) -> str:
    instelling = http.get(f"{sandbox.api_url}/connect/instelling").json()["instellingen"][0]
    assert instelling["uuid"] == sandbox.instelling
    headers = {"Authorization": f"Bearer {token(http, sandbox).json()['access_token']}"}
    (vestiging,) = http.get(f"{sandbox.api_url}/connect/vestiging", headers=headers).json()["vestigingen"]
    return str(vestiging["brins"][0])


def test_the_instelling_can_be_found_by_brin_without_a_token(
    sandbox: SandboxServer, bestuur: Bestuur, http: httpx.Client
) -> None:
    url = f"{sandbox.api_url}/connect/instelling"
    found = http.get(url, params={"brin": bestuur.schools[0].brin6}).json()["instellingen"]
    assert [i["uuid"] for i in found] == [sandbox.instelling]
    assert http.get(url, params={"brin": "00XX"}).json() == {"instellingen": []}


def test_the_sandbox_never_imports_the_source_it_emulates() -> None:
    code = (
        "import sys, koppel.sandbox.somtoday; sys.exit(any(m.startswith('koppel.sources.somtoday') for m in "
        "sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_command_line_checks_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fail-rate", "2", "--port", "0"]) == 2
    assert "fail_rate" in capsys.readouterr().err
    assert main(["--year", "2025/2027", "--port", "0"]) == 2
    assert main(["--client-secret-env", "KOPPEL_TEST_SURELY_UNSET", "--port", "0"]) == 2
    assert main(["--hide", "leerling.schoenmaat", "--port", "0"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--token-ttl-s" in capsys.readouterr().out
