"""Fixtures: one ``scim2-server`` process for the session (a real SCIM 2.0 server, python-scim's, run as its own
process), a fresh tenant of it per test, and a target pointed at that tenant.

The server comes with the test extra (``pip install -e '.[test]'``). Without it the tests are skipped on a
laptop, and fail in CI (``KOPPEL_REQUIRE_SERVICES=1``)."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from koppel.connectors import ConnectorContext
from koppel.targets.scim import ScimTarget, factory
from tests.conftest import need
from tests.target_scim.server import TOKEN, ScimServer, Tenant, start_server

TOKEN_ENV = "KOPPEL_TEST_SCIM_TOKEN"


@pytest.fixture(scope="session")
def scim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScimServer]:
    if importlib.util.find_spec("scim2_server") is None:
        need("scim2-server is not installed (pip install -e '.[test]')")
    server = start_server(tmp_path_factory.mktemp("scim2-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tenant_name() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def tenant(scim_server: ScimServer, tenant_name: str) -> Tenant:
    return scim_server.tenant(tenant_name)


def make_target(url: str, tmp_path: Path, **settings: Any) -> ScimTarget:
    ctx = ConnectorContext(tenant="test", base_dir=tmp_path, env={TOKEN_ENV: TOKEN})
    return factory("scim", {"url": url, "token_env": TOKEN_ENV, **settings}, ctx)


@pytest.fixture
def target(tenant: Tenant, tmp_path: Path) -> Iterator[ScimTarget]:
    scim = make_target(tenant.url, tmp_path)
    yield scim
    scim.close()
