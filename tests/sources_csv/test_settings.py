"""The settings model and the registry: self-describing, strict, checked at load time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from koppel.connectors import ConnectorContext, load_source_kind
from koppel.sources.base import Source
from koppel.sources.csv import KIND, CsvFiles, CsvSourceSettings, KeyScope


def test_registered_as_csv() -> None:
    kind = load_source_kind("csv")
    assert kind is KIND and kind.kind == "csv" and kind.settings is CsvSourceSettings
    source = kind.factory("las", CsvSourceSettings(path="export"), ConnectorContext(tenant="t"))
    assert isinstance(source, Source) and source.name == "las"


@pytest.mark.parametrize("model", [CsvSourceSettings, CsvFiles])
def test_every_field_is_described(model) -> None:
    schema = model.model_json_schema()
    assert schema.get("description")
    for name, field in model.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_extra_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        CsvSourceSettings(path="x", delimter=";")
    with pytest.raises(ValidationError, match="extra"):
        CsvSourceSettings(path="x", files={"leerlingen": "a.csv"})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"school": "12ab00"}, "not a BRIN6"),
        ({"locations": {"Zwolle": "Zwolle"}}, "must map to BRIN6"),
        ({"school_year": "2025"}, "not of the form"),
        ({"encoding": "klingon"}, "unknown encoding"),
        ({"delimiter": ":"}, "delimiter"),
        ({"columns": {"leerlingen": {"klas": "Groep"}}}, "no file 'leerlingen'"),
        ({"columns": {"pupils": {"class": "Groep"}}}, "pupils has no field 'class'"),
        ({"layout": "koppel", "columns": {"pupils": {"klas": "x"}}}, "no file 'pupils' in the koppel layout"),
        ({"multi_value_separator": ""}, "at least 1"),
    ],
)
def test_bad_settings(settings: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CsvSourceSettings(path="x", **settings)


def test_defaults_and_derived_values() -> None:
    settings = CsvSourceSettings(path="x", delimiter="tab", columns={"pupils": {"klas": "Groep"}})
    assert settings.effective_delimiter == "\t"
    assert settings.columns == {"pupils": {"klas": ["Groep"]}}
    assert settings.effective_key_scope is KeyScope.SCHOOL
    assert CsvSourceSettings(path="x", layout="koppel").effective_key_scope is KeyScope.EXPORT
    assert CsvSourceSettings(path="x").effective_delimiter is None
