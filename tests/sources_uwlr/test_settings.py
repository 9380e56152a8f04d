"""UWLR settings: presets, BRIN notations, secrets, and every mistake caught when the configuration loads."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import koppel.sandbox.uwlr as sandbox_package
from koppel.connectors import load_source_kind
from koppel.sources.edexml import EdexmlSettings
from koppel.sources.uwlr import KIND, RoleChoice, UwlrSchool, UwlrSettings

BASE = {
    "url": "https://las.example.nl/uwlr.svc",
    "klantcode": "K",
    "klantnaam": "N",
    "schools": [{"brin6": "99ZZ00", "autorisatiesleutel_env": "KEY"}],
}


def settings(**changes: Any) -> UwlrSettings:
    return UwlrSettings(**{**BASE, **changes})


def test_registered_kinds_describe_every_field() -> None:
    assert load_source_kind("uwlr") is KIND
    assert load_source_kind("edexml").settings is EdexmlSettings
    for model in (UwlrSettings, UwlrSchool, EdexmlSettings):
        assert all(field.description for field in model.model_fields.values()), model.__name__


def test_the_sandbox_never_imports_the_source() -> None:
    """DESIGN §8: the sandbox builds the wire form on its own, so a misunderstanding shows up as a failure."""
    for path in Path(sandbox_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                )
                assert not any(name.startswith("koppel.sources") for name in names), f"{path.name}: {names}"


@pytest.mark.parametrize(
    ("preset", "xsd", "set_id"),
    [("generic", "2.3", None), ("magister", "2.3", "Smalle-set-VO"), ("somtoday", "2.2", None)],
)
def test_presets(preset: str, xsd: str, set_id: str | None) -> None:
    chosen = settings(preset=preset)
    assert (chosen.effective_xsdversie, chosen.effective_gegevenssetid) == (xsd, set_id)


def test_explicit_values_win_over_the_preset() -> None:
    chosen = settings(preset="magister", xsdversie="2.2", gegevenssetid="")
    assert (chosen.effective_xsdversie, chosen.effective_gegevenssetid) == ("2.2", None)


def test_esis_needs_a_client_certificate() -> None:
    with pytest.raises(ValidationError, match="esis preset needs a client certificate"):
        settings(preset="esis")
    assert settings(preset="esis", client_cert_file="esis.pem").effective_xsdversie == "2.2"


@pytest.mark.parametrize(
    ("written", "brin6"),
    [("99ZZ", "99ZZ00"), ("99ZZ00", "99ZZ00"), ("99zz.01", "99ZZ01"), ("12AB 03", "12AB03")],
)
def test_brin_notations(written: str, brin6: str) -> None:
    assert settings(schools=[{"brin6": written, "autorisatiesleutel_env": "K"}]).schools[0].brin6 == brin6


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schools": [{"brin6": "9ZZ00", "autorisatiesleutel_env": "K"}]}, "is not a BRIN"),
        ({"schools": []}, "at least 1"),
        ({"schools": [{"brin6": "99ZZ00"}]}, "school 99ZZ00 has no autorisatiesleutel"),
        (
            {
                "schools": [
                    {"brin6": "99ZZ", "autorisatiesleutel_env": "K"},
                    {"brin6": "99ZZ00", "autorisatiesleutel_env": "K"},
                ]
            },
            "school 99ZZ00 is listed twice",
        ),
        (
            {"schools": [{"brin6": "99ZZ00", "autorisatiesleutel_env": "K", "autorisatiesleutel_file": "f"}]},
            "give only one of autorisatiesleutel_env, autorisatiesleutel_file",
        ),
        ({"url": "http://las.example.nl/uwlr.svc"}, "HTTPS only"),
        ({"url": "ftp://las.example.nl/"}, "not an http\\(s\\) URL"),
        ({"client_key_file": "k.pem"}, "client_key_file is set without client_cert_file"),
        ({"school_year": "2025-2027"}, "second year must follow"),
        ({"xsdversie": "2.1"}, "xsdversie"),
        ({"klantcode": ""}, "klantcode"),
        ({"onbekend": 1}, "Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_caught_at_load(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**changes)


def test_a_shared_sleutel_covers_schools_without_their_own() -> None:
    chosen = settings(
        autorisatiesleutel_file="/run/secrets/uwlr",
        schools=[{"brin6": "99ZZ00"}, {"brin6": "12AB00", "autorisatiesleutel_env": "KEY_12AB"}],
    )
    first, second = chosen.schools
    assert chosen.sleutel_ref(first).describe() == "file:/run/secrets/uwlr"
    assert chosen.sleutel_ref(second).describe() == "env:KEY_12AB"
    assert chosen.sleutel_setting(second) == "schools[1].autorisatiesleutel (12AB00)"


def test_a_sleutel_in_the_file_is_never_shown() -> None:
    chosen = settings(schools=[{"brin6": "99ZZ00", "autorisatiesleutel": "geheim-123"}])
    assert "geheim-123" not in repr(chosen) and "geheim-123" not in str(chosen.model_dump())
    assert chosen.sleutel_ref(chosen.schools[0]).describe() == "********"


def test_rollen_codes_are_upper_cased() -> None:
    assert settings(rollen={"lrk": "mentor", " sta ": "skip"}).rollen == {
        "LRK": RoleChoice.MENTOR,
        "STA": RoleChoice.SKIP,
    }
