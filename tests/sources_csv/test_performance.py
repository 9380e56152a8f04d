"""A 60,000-pupil bestuur must read in a few seconds (the whole pipeline has ten)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from koppel.generator import generate, write_layout
from koppel.model import SchoolYear

from .conftest import read


@pytest.mark.slow
def test_sixty_thousand_pupils_read_in_seconds(tmp_path: Path) -> None:
    bestuur = generate(students=60_000, schools=50, year=SchoolYear(2025), seed=0)
    write_layout(bestuur, tmp_path, "magister")
    started = time.perf_counter()
    roster = read(tmp_path, layout="magister")
    elapsed = time.perf_counter() - started
    assert len(roster.memberships) == bestuur.counts()["memberships"]
    assert elapsed < 6, f"reading took {elapsed:.1f}s"  # ~2 s on the reference 2-core box; margin for CI
