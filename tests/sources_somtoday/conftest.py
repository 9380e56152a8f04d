"""One Somtoday sandbox per test worker for the ordinary reads; tests of bad days start their own.

The school year and "today" are fixed, so that HUIDIG and VOLGEND never drift with the calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from koppel.connectors import ConnectorContext
from koppel.generator import Bestuur, generate
from koppel.model import SchoolYear
from koppel.sandbox.somtoday import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig, SandboxServer
from koppel.sources.somtoday import SomtodaySettings, SomtodaySource

YEAR = SchoolYear(2025)
TODAY = dt.date(2025, 10, 1)
STUDENTS = 300
SEED = 11
SECRET_ENV = "SOMTODAY_CLIENT_SECRET"


def make_source(
    sandbox: SandboxServer,
    *,
    requested: SchoolYear | None = None,
    secret: str = DEFAULT_CLIENT_SECRET,
    name: str = "som",
    today: dt.date = TODAY,
    **settings: Any,
) -> SomtodaySource:
    settings.setdefault("max_attempts", 1)
    settings.setdefault("retry_backoff_s", 0)
    values = {
        "instelling": sandbox.instelling,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret_env": SECRET_ENV,
        "api_url": sandbox.api_url,
        "token_url": sandbox.token_url,
        **settings,
    }
    ctx = ConnectorContext(tenant="test", env={SECRET_ENV: secret}, school_year=requested)
    return SomtodaySource(name, SomtodaySettings(**values), ctx, today=lambda: today)


@pytest.fixture(scope="session")
def bestuur() -> Bestuur:
    return generate(students=STUDENTS, schools=2, year=YEAR, seed=SEED)


@pytest.fixture(scope="session")
def next_bestuur() -> Bestuur:
    return generate(students=STUDENTS, schools=2, year=YEAR.next(), seed=SEED)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(students=STUDENTS, schools=2, seed=SEED, year=YEAR)
    with SandboxServer(config) as server:
        yield server


StartSandbox = Callable[..., AbstractContextManager[SandboxServer]]
SMALL = {"students": 120, "schools": 1, "seed": SEED, "year": YEAR}


@pytest.fixture(scope="session")
def small_bestuur() -> tuple[Bestuur, Bestuur]:
    """This year and next of a one-school bestuur: what private sandboxes serve unless told otherwise."""
    return generate(students=120, schools=1, year=YEAR, seed=SEED), generate(
        students=120, schools=1, year=YEAR.next(), seed=SEED
    )


@pytest.fixture(scope="session")
def small_sandbox(small_bestuur: tuple[Bestuur, Bestuur]) -> Iterator[SandboxServer]:
    """The one-school bestuur without faults: the reference a test with faults compares with."""
    with SandboxServer(
        SandboxConfig(**SMALL), current=small_bestuur[0], following=small_bestuur[1]
    ) as server:
        yield server


@pytest.fixture
def start_sandbox(small_bestuur: tuple[Bestuur, Bestuur]) -> StartSandbox:
    """``with start_sandbox(fail_rate=1.0) as server:`` — a private sandbox with other settings.

    It serves the one-school bestuur of :func:`small_bestuur` unless ``current`` is given, so a
    ``seed`` changes only the fault sequence.
    """

    @contextmanager
    def start(**settings: Any) -> Iterator[SandboxServer]:
        current = settings.pop("current", small_bestuur[0])
        following = settings.pop("following", small_bestuur[1] if current is small_bestuur[0] else None)
        with SandboxServer(
            SandboxConfig(**{**SMALL, **settings}), current=current, following=following
        ) as server:
            yield server

    return start
