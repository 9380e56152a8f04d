"""The OneRoster CSV target passes koppel's target conformance suite, for each version and mode: what the suite
sends is staged, published as real zips in a folder, and read back from those zips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from koppel.targets.onerostercsv import OneRosterCsvTarget
from koppel.testing.conformance import TargetConformance

from .support import make_target, published


@pytest.fixture(params=[("1.1", "bulk"), ("1.1", "delta"), ("1.2", "bulk"), ("1.2", "delta")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def variant(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


class TestOneRosterCsvConformance(TargetConformance):
    @pytest.fixture
    def target(self, tmp_path: Path, variant: tuple[str, str]) -> Iterator[OneRosterCsvTarget]:
        version, mode = variant
        # middle_name keeps the voorvoegsel apart in the file, so the suite's family name reads back as sent.
        target = make_target(tmp_path / "out", version=version, mode=mode, voorvoegsel="middle_name")
        yield target
        target.close()

    def snapshot(self, target: OneRosterCsvTarget) -> dict[str, dict[str, Any]]:
        return published(target)
