"""The Somtoday source passes the shared source conformance suite, over a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from koppel.sandbox.somtoday import SandboxServer
from koppel.sources.somtoday import SomtodaySource
from koppel.testing.source_conformance import SourceConformance

from .conftest import StartSandbox, make_source


class TestSomtodayConformance(SourceConformance):
    @pytest.fixture
    def source(self, sandbox: SandboxServer) -> SomtodaySource:
        return make_source(sandbox)

    @pytest.fixture
    def broken_source(self, start_sandbox: StartSandbox) -> Iterator[SomtodaySource]:
        # With seed 2 the first two API requests succeed and the third (a page of medewerkers) fails:
        # the failure comes halfway through the read, after leerlingen were already received.
        with start_sandbox(fail_rate=0.3, seed=2) as flaky:
            yield make_source(flaky)
