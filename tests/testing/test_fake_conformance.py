"""The FakeTarget passes the target conformance suite — the same suite the itslearning target passes."""

from __future__ import annotations

import pytest

from koppel.testing.conformance import TargetConformance
from koppel.testing.fake import FakeTarget


class TestFakeTargetConformance(TargetConformance):
    @pytest.fixture
    def target(self):
        fake = FakeTarget(batch_size=3)
        yield fake
        fake.close()

    def snapshot(self, target: FakeTarget):
        return {k: dict(v) for k, v in target.active().items()}
