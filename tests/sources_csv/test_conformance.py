"""The CSV source passes the shared source conformance suite, in every layout the generator writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.generator import generate, write_layout
from koppel.model import SchoolYear
from koppel.sources.csv import CsvSource
from koppel.testing.source_conformance import SourceConformance

from .conftest import make_source

YEAR = SchoolYear(2025)
ROW_FILES = {"magister": "leerlingen", "somtoday": "leerlingen", "koppel": "memberships"}


@pytest.fixture(params=sorted(ROW_FILES))
def layout(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _export(folder: Path, layout: str) -> list[Path]:
    bestuur = generate(students=150, schools=2, year=YEAR, seed=5)
    return write_layout(bestuur, folder, layout)  # type: ignore[arg-type]


class TestCsvConformance(SourceConformance):
    @pytest.fixture
    def source(self, layout: str, tmp_path: Path) -> CsvSource:
        _export(tmp_path, layout)
        return make_source(tmp_path, layout=layout, requested=YEAR)

    @pytest.fixture
    def broken_source(self, layout: str, tmp_path: Path) -> CsvSource:
        files = _export(tmp_path, layout)
        path = next(p for p in files if p.stem == ROW_FILES[layout])
        data = path.read_bytes()
        cut = data.index(b"\n", len(data) * 2 // 3) + 4  # a few characters into a row: an interrupted copy
        path.write_bytes(data[:cut])
        return make_source(tmp_path, layout=layout, requested=YEAR)
