"""Hostile and broken UWLR answers over real HTTP: a DTD in UTF-16, an entity that is not defined, values too
long or carrying control or bidi characters, a body that does not follow its Content-Encoding."""

from __future__ import annotations

import pytest

from koppel.errors import SourceDataError
from koppel.model.roster import Severity

from .conftest import CannedServer, make_source
from .test_bad_input import answer

PUPILS = (
    '<le:leerling key="1"><le:achternaam>Jansen</le:achternaam><le:roepnaam>Sem</le:roepnaam></le:leerling>'
    '<le:leerling key="2"><le:achternaam>{achternaam}</le:achternaam><le:roepnaam>Noëlle</le:roepnaam>'
    "</le:leerling>"
)


def pupils(achternaam: str) -> str:
    return PUPILS.replace("{achternaam}", achternaam)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_dtd_in_another_encoding_is_refused(canned: CannedServer, encoding: str) -> None:
    text = answer(leerlingen=pupils("&x;"), doctype='<!DOCTYPE s:Envelope [<!ENTITY x "">]>')
    canned.answer(text.replace("UTF-8", encoding.upper(), 1).encode(encoding))
    with pytest.raises(
        SourceDataError, match="DOCTYPE or entity declaration is refused \\(nothing was resolved\\)"
    ):
        make_source(canned.url, ["99ZZ00"]).read()


def test_an_answer_in_utf16_without_a_dtd_is_read(canned: CannedServer) -> None:
    canned.answer(answer(leerlingen=pupils("Ağaoğlu")).replace("UTF-8", "UTF-16", 1).encode("utf-16"))
    roster = make_source(canned.url, ["99ZZ00"]).read()
    assert sorted(p.display_name for p in roster.persons.values()) == ["Noëlle Ağaoğlu", "Sem Jansen"]


def test_an_undefined_entity_is_an_error_naming_the_line(canned: CannedServer) -> None:
    canned.answer(answer(leerlingen=pupils("&foo;")).replace("<le:leerling key", "\n<le:leerling key"))
    with pytest.raises(
        SourceDataError,
        match="the answer for school 99ZZ00, line 3: the entity reference &foo; is not defined",
    ):
        make_source(canned.url, ["99ZZ00"]).read()


@pytest.mark.parametrize(
    ("achternaam", "code", "said"),
    [
        ("x" * 9_000_000, "field-too-long", "achternaam is 9,000,000 characters long, more than the 200"),
        (
            "Jansen\u202egnirts",
            "bad-character",
            "achternaam contains a bidirectional control character (U+202E",
        ),
        ("Jan\x9bsen", "bad-character", "achternaam contains a control character (U+009B)"),
    ],
)
def test_a_bad_value_leaves_the_pupil_out_naming_it(
    canned: CannedServer, achternaam: str, code: str, said: str
) -> None:
    canned.answer(answer(leerlingen=pupils(achternaam)))
    roster = make_source(canned.url, ["99ZZ00"]).read()
    assert [p.display_name for p in roster.persons.values()] == ["Sem Jansen"]
    (diagnostic,) = roster.diagnostics
    assert (diagnostic.severity, diagnostic.code, diagnostic.field, diagnostic.file) == (
        Severity.ERROR,
        code,
        "achternaam",
        None,
    )
    assert diagnostic.object == "99ZZ00/leerlingen/leerling[@key='2']"
    assert diagnostic.message.startswith(f"99ZZ00: leerling '2': {said}")


def test_a_body_that_does_not_follow_its_content_encoding(canned: CannedServer) -> None:
    canned.answer(answer(), headers={"Content-Encoding": "gzip"})
    with pytest.raises(SourceDataError, match="school 99ZZ00: the answer cannot be decoded"):
        make_source(canned.url, ["99ZZ00"]).read()
