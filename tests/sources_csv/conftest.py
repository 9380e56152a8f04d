"""Reading exports the way koppel does, with a fixed 'today' so that school years never drift."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from koppel.connectors import ConnectorContext
from koppel.model import Roster, SchoolYear
from koppel.sources.csv import CsvSource, CsvSourceSettings

DATA = Path(__file__).parent / "data"
TODAY = dt.date(2025, 10, 1)


def make_source(
    path: Path | str,
    *,
    requested: SchoolYear | None = None,
    today: dt.date = TODAY,
    name: str = "las",
    **settings: Any,
) -> CsvSource:
    ctx = ConnectorContext(tenant="test", base_dir=Path.cwd(), env={}, school_year=requested)
    return CsvSource(name, CsvSourceSettings(path=str(path), **settings), ctx, today=lambda: today)


def read(path: Path | str, **kwargs: Any) -> Roster:
    return make_source(path, **kwargs).read()


def codes(roster: Roster) -> list[str]:
    return [d.code for d in roster.diagnostics]


@pytest.fixture
def data() -> Path:
    return DATA
