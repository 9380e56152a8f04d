"""Shared fixtures: the state store on SQLite and on PostgreSQL, and service availability.

PostgreSQL runs on 127.0.0.1:5432 on our machines and in CI (`.ci/run` starts it). Tests that need it
are skipped with the reason on a laptop without it — unless KOPPEL_REQUIRE_SERVICES=1 (as in CI),
where a missing service is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from koppel.state.store import StateStore

ADMIN_URL = os.environ.get("KOPPEL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE = os.environ.get("KOPPEL_REQUIRE_SERVICES") == "1"


def need(reason: str) -> None:
    """Skip (on a developer machine) or fail (in CI) when a service the test needs is missing."""
    if REQUIRE:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def _pg_admin():
    try:
        import psycopg
    except ImportError:
        need("psycopg is not installed (pip install -e '.[test]')")
    try:
        return psycopg.connect(ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True,
                               connect_timeout=3)
    except psycopg.OperationalError as exc:
        need(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}".strip())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    admin = _pg_admin()
    name = f"koppel_test_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin = _pg_admin()
        with admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database named ``prefix_<random>``, as a SQLAlchemy URL with the psycopg driver (what
    koppel.toml's ``[state] url`` takes); dropped afterwards, with any connection still open to it."""
    admin = _pg_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        drop_database(name)


def drop_database(name_or_url: str) -> None:
    """Drop a database made by :func:`fresh_database` (its name or URL), with its connections; gone is fine."""
    name = name_or_url.rsplit("/", 1)[-1]
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(store: StateStore) -> None:
    from sqlalchemy import text

    from koppel.state.schema import metadata

    with store.engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path: Path) -> Iterator[str]:
    """A state store URL on each backend; the PostgreSQL one is emptied after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    store = StateStore.open(url)
    try:
        _truncate(store)
    finally:
        store.close()


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    s = StateStore.open(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StateStore]:
    s = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        yield s
    finally:
        s.close()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def pytest_configure(config):
    """Logs at warning level, as the CLI's default: tests read failures, not chatter."""
    from koppel.cli.common import configure_logging

    configure_logging("warning")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen | None, *, timeout: float = 10) -> None:
    """Stop a server a test started: SIGTERM, then SIGKILL when it does not end within ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
