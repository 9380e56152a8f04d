"""The JSON API: fuzzed against its own OpenAPI description with Schemathesis, authenticated with a
token; and each page's JSON twin carries what the page shows."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from koppel.generator import generate

from .conftest import PASSWORD, TARGET, TENANT, USER, YEAR, Running, Setup, config_text, login, make_history


@dataclass
class Api:
    url: str
    headers: dict[str, str]
    schema: dict
    plan_id: str


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    root: Path = tmp_path_factory.mktemp("api")
    config = root / "koppel.toml"
    config.write_text(config_text(state_url="sqlite:///koppel-state.db"), encoding="utf-8")
    setup = Setup(root, config, generate(students=120, schools=2, year=YEAR, seed=5))
    setup.export(setup.bestuur)
    service = setup.open()
    plan_id = make_history(service, setup)
    token = service.accounts.create_token("schemathesis")
    service.accounts.add_user(USER, PASSWORD)
    try:
        with Running(service, run_scheduler=False) as running:
            headers = {"Authorization": f"Bearer {token}"}
            schema = httpx.get(running.url + "/api/openapi.json", headers=headers).json()
            yield Api(running.url, headers, schema, plan_id)
    finally:
        service.close()


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def test_the_api_keeps_its_openapi_promises(api: Api):
    """Every operation, 30 generated requests each: no 5xx, only documented status codes, valid bodies."""
    schema = schemathesis.openapi.from_dict(api.schema)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def conforms(case) -> None:
            response = case.call(base_url=api.url, headers=api.headers)
            statuses.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        conforms()
    assert len(statuses) >= 10 * len(operations)
    assert {200, 404} <= set(statuses)


def test_the_openapi_description_needs_a_token_and_describes_every_page(api: Api):
    assert httpx.get(api.url + "/api/openapi.json").status_code == 401
    paths = set(api.schema["paths"])
    assert {"/api/overview", "/api/targets/{tenant}/{target}", "/api/plans", "/api/plans/{plan_id}",
            "/api/plans/{plan_id}/approve", "/api/plans/{plan_id}/discard", "/api/runs", "/api/runs/{run_id}",
            "/api/persons", "/api/persons/{tenant}/{key}", "/api/quality", "/api/config",
            "/api/targets/{tenant}/{target}/run"} <= paths
    assert all(p.startswith("/api/") for p in paths)  # the HTML pages are not part of the API
    assert "HTTPBearer" in api.schema["components"]["securitySchemes"]


def test_each_page_has_a_json_twin_with_the_same_content(api: Api):
    browser = httpx.Client(base_url=api.url, follow_redirects=False)
    login(browser)
    token = httpx.Client(base_url=api.url, headers=api.headers)
    plan = token.get(f"/api/plans/{api.plan_id}").json()
    page = browser.get(f"/plans/{api.plan_id}").text
    assert plan["record"]["status"] == "held" and plan["can_decide"]
    assert f'href="/api/plans/{api.plan_id}?page=1"' in page
    # The JSON pages through every change (issue 12); the page without a filter is a review, and lists the
    # changes of a filter: those match the JSON of the same filter.
    assert plan["total"] > 0 and len(plan["changes"]) == min(plan["total"], 100)
    filtered = token.get(f"/api/plans/{api.plan_id}", params={"action": "suspend"}).json()["changes"]
    filtered_page = browser.get(f"/plans/{api.plan_id}", params={"action": "suspend"}).text
    assert filtered
    for change in filtered[:20]:
        assert ((change["person"] or {}).get("name") or change["label"]) in html.unescape(filtered_page)
    overview = token.get("/api/overview").json()
    card = overview["tenants"][0]["targets"][0]
    assert card["held_plans"][0]["id"] == api.plan_id and card["last_run"]["status"] == "held"
    assert api.plan_id in browser.get("/").text
    suspended = token.get(f"/api/plans/{api.plan_id}", params={"action": "suspend"}).json()
    assert suspended["changes"] and {c["action"] for c in suspended["changes"]} == {"suspend"}
    runs = token.get("/api/runs").json()["runs"]
    assert [r["status"] for r in runs] == ["held", "succeeded"]


def test_api_actions_are_recorded_under_the_token_name(api: Api):
    client = httpx.Client(base_url=api.url, headers=api.headers)
    queued = client.post(f"/api/targets/{TENANT}/{TARGET}/run")
    assert queued.status_code == 202
    request = queued.json()["request"]
    assert request["requested_by"] == "api:schemathesis" and request["trigger"] == "api"
    assert client.get(f"/api/requests/{request['id']}").json()["status"] == "queued"
    again = client.post(f"/api/targets/{TENANT}/{TARGET}/run").json()["request"]
    assert again["id"] == request["id"]  # not queued twice
    assert client.post("/api/targets/nobody/fake/run").status_code == 404
    assert client.post("/api/plans/ffffffffffff/approve").status_code == 404
