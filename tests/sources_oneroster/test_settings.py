"""The OneRoster source is registered, documented per field, and checks its settings when loaded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from koppel.connectors import ConnectorContext, load_source_kind
from koppel.sources.base import Source
from koppel.sources.oneroster import KIND, OneRosterSettings
from koppel.sources.oneroster.mapping import split_voorvoegsel


def test_registered_as_oneroster() -> None:
    kind = load_source_kind("oneroster")
    assert kind is KIND and kind.settings is OneRosterSettings
    source = kind.factory("or", OneRosterSettings(path="export.zip"), ConnectorContext(tenant="t"))
    assert isinstance(source, Source) and source.name == "or"


def test_every_field_is_described() -> None:
    assert OneRosterSettings.model_json_schema().get("description")
    assert all(field.description for field in OneRosterSettings.model_fields.values())


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="schools must map to BRIN6 codes"):
        OneRosterSettings(path="x", schools={"ORG_1": "12AB"})
    with pytest.raises(ValidationError, match="not of the form 2025-2026"):
        OneRosterSettings(path="x", school_year="2025")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        OneRosterSettings(path="x", delta="y.zip")


@pytest.mark.parametrize(
    ("family", "split"),
    [
        ("van der Berg", ("van der", "Berg")),
        ("Van Dijk", ("Van", "Dijk")),
        ("in 't Veld", ("in 't", "Veld")),
        ("d'Ancona", ("d'", "Ancona")),
        ("da Silva", ("da", "Silva")),
        ("El Amrani", ("", "El Amrani")),
        ("Vandermeer", ("", "Vandermeer")),
        ("de", ("", "de")),
        ("Jansen", ("", "Jansen")),
    ],
)
def test_a_leading_voorvoegsel_is_split_off(family: str, split: tuple[str, str]) -> None:
    assert split_voorvoegsel(family) == split
