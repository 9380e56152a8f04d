"""A real koppel set-up for the service tests: a generated bestuur exported the Magister way, a
koppel.toml, the FakeTarget, a state store with history — and a `koppel serve` app on a free port.

``school`` builds the bestuur once per session; ``setup`` gives each test its own folder, state and
config; ``held_setup`` has applied the full export once and then planned an export with half the
pupils gone, which the guards hold. ``running`` serves the app with uvicorn in a thread.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Self

import httpx
import pytest
import uvicorn

from koppel.cli.common import configure_logging
from koppel.generator import Bestuur, generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.service import Service, create_app
from koppel.service.clock import Clock, system_clock
from tests.conftest import free_port

YEAR = SchoolYear(2025)
USER = "beheerder"
PASSWORD = "correct horse battery staple"
TENANT = "bestuur"
TARGET = "fake"


@pytest.fixture(autouse=True)
def _test_logging() -> Iterator[None]:
    """A CLI test points structlog at its runner's captured stream, closed afterwards; the service
    logs from its threads, so every test here starts and ends with the suite's logging (as
    tests/conftest.py sets it up)."""
    configure_logging("warning")
    yield
    configure_logging("warning")


@pytest.fixture(scope="session")
def bestuur() -> Bestuur:
    return generate(students=240, schools=2, year=YEAR, seed=11)


def without_half(bestuur: Bestuur) -> Bestuur:
    """Half the pupils gone from the export (every second one), as a broken LAS export would do."""
    kept = tuple(p for i, p in enumerate(bestuur.pupils) if i % 2 == 0)
    keep = {p.stamnr for p in kept}
    groups = tuple(replace(g, pupils=tuple(s for s in g.pupils if s in keep)) for g in bestuur.lesgroepen)
    return replace(bestuur, pupils=kept, lesgroepen=groups)


def config_text(*, state_url: str, schedule: str = "", service: str = "", target_extra: str = "",
                secure_cookies: str = "never") -> str:
    return f"""
[state]
url = "{state_url}"

[tenants.{TENANT}]
name = "Stichting Het Baken"
school_year = "{YEAR}"

[tenants.{TENANT}.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.{TENANT}.targets.{TARGET}]
kind = "fake"
path = "fake-target.json"
{target_extra}
{schedule}
[service]
secure_cookies = "{secure_cookies}"
base_url = "http://koppel.test"
{service}
"""


@dataclass
class Setup:
    root: Path
    config: Path
    bestuur: Bestuur

    def export(self, bestuur: Bestuur) -> None:
        write_layout(bestuur, self.root / "export", "magister")

    def open(self, *, clock: Clock = system_clock, env: dict[str, str] | None = None) -> Service:
        return Service.open(self.config, clock=clock, env=env or {})


@pytest.fixture
def setup(tmp_path: Path, bestuur: Bestuur) -> Setup:
    config = tmp_path / "koppel.toml"
    config.write_text(config_text(state_url="sqlite:///koppel-state.db"), encoding="utf-8")
    s = Setup(tmp_path, config, bestuur)
    s.export(bestuur)
    return s


def make_history(service: Service, setup: Setup) -> str:
    """The first load applied, then half the pupils gone: returns the id of the held plan."""
    first = service.koppel.sync(TENANT, TARGET, trigger="cli")
    assert first.applied is not None and first.applied.status == "succeeded"
    setup.export(without_half(setup.bestuur))
    held = service.koppel.sync(TENANT, TARGET, trigger="schedule")
    assert held.held
    return held.plan.id



class Running:
    """The service's app under uvicorn in a thread, on a free port; the scheduler runs too."""

    def __init__(self, service: Service, *, run_scheduler: bool = True):
        self.service = service
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = self.service_app = create_app(service, run_scheduler=run_scheduler)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, **kwargs)


@pytest.fixture
def held_setup(setup: Setup) -> Iterator[tuple[Setup, Service, str]]:
    service = setup.open()
    plan_id = make_history(service, setup)
    service.accounts.add_user(USER, PASSWORD)
    try:
        yield setup, service, plan_id
    finally:
        service.close()


def login(client: httpx.Client, user: str = USER, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form (with its CSRF token) like a browser does."""
    import re

    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"user": user, "password": password, "csrf": token, "next": "/"})


def csrf_of(html: str) -> str:
    import re

    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
