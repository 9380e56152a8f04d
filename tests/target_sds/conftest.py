"""Fixtures: a real OpenSSH server per test (tests/target_sds/sshd.py), skipped without sshd unless
KOPPEL_REQUIRE_SERVICES=1 (then a failure, as in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.target_sds.sshd import SshServer, available


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    reason = available()
    if reason is not None:
        need(reason)
    server = SshServer(tmp_path / "sshd")
    server.start()
    try:
        yield server
    finally:
        server.stop()
