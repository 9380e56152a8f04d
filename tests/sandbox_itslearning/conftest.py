"""One sandbox per test worker, emptied before each test; tests that need other settings start their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from koppel.sandbox.itslearning import SandboxConfig, SandboxServer

from .envelopes import Client


@pytest.fixture(scope="session")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    config = SandboxConfig(db_path=tmp_path_factory.mktemp("itslearning") / "sandbox.db")
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def sandbox(shared_sandbox: SandboxServer) -> SandboxServer:
    shared_sandbox.reset()
    return shared_sandbox


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def its(sandbox: SandboxServer, http: httpx.Client) -> Client:
    """A SOAP client for the (freshly emptied) shared sandbox."""
    return Client(sandbox, http)


StartSandbox = Callable[..., AbstractContextManager[SandboxServer]]


@pytest.fixture
def start_sandbox(tmp_path: Path) -> StartSandbox:
    """``with start_sandbox(max_batch=3) as server:`` — a private sandbox with other settings."""

    @contextmanager
    def start(**settings: Any) -> Iterator[SandboxServer]:
        settings.setdefault("db_path", tmp_path / "private.db")
        with SandboxServer(SandboxConfig(**settings)) as server:
            yield server

    return start
