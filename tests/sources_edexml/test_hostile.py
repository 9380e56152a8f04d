"""Hostile and broken EDEXML files: a DTD in any encoding, entities that resolve to nothing, values that are
too long or carry NUL, control or bidi characters. Each is refused or left out, and says where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from koppel import xmlsafe
from koppel.errors import SourceDataError
from koppel.model.roster import Severity
from koppel.textsafe import FIELD_LIMITS

from .conftest import edex, read, write

PUPILS = (
    '<leerling key="1"><achternaam>Jansen</achternaam><roepnaam>Sem</roepnaam><groep key="g1"/></leerling>\n'
    '<leerling key="2"><achternaam>{achternaam}</achternaam><roepnaam>Noëlle</roepnaam><groep key="g1"/>'
    "</leerling>"
)


def pupils(achternaam: str) -> str:
    return PUPILS.replace("{achternaam}", achternaam)


def write_bytes(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "school.xml"
    path.write_bytes(data)
    return path


def with_doctype(text: str, doctype: str) -> str:
    return text.replace("<EDEX>", doctype + "<EDEX>", 1)


# -- a DTD, whatever the encoding -------------------------------------------------------------------

EXTERNAL = '<!DOCTYPE EDEX SYSTEM "http://127.0.0.1:9/edex.dtd">'
INTERNAL = '<!DOCTYPE EDEX [<!ENTITY naam "Hackerman">]>'


@pytest.mark.parametrize(
    ("encoding", "declared", "doctype"),
    [
        ("utf-16", "UTF-16", EXTERNAL),  # with a byte order mark
        ("utf-16-le", "UTF-16LE", EXTERNAL),  # without one
        ("utf-16-be", "UTF-16BE", INTERNAL),
        ("utf-32", "UTF-32", INTERNAL),
        ("utf-8", "UTF-8", EXTERNAL.replace(" ", "\t\n  ")),
        ("utf-8-sig", "UTF-8", INTERNAL),
        ("utf-7", "UTF-7", EXTERNAL),  # "<" is "+ADw-": not one ASCII "<!DOCTYPE" in the bytes
    ],
)
def test_a_dtd_is_refused_in_every_encoding(
    tmp_path: Path, encoding: str, declared: str, doctype: str
) -> None:
    reference = "&naam;" if "ENTITY" in doctype else "&undefined;"
    text = with_doctype(edex(leerlingen=pupils(reference)), doctype).replace("UTF-8", declared, 1)
    data = text.encode(encoding)
    if encoding == "utf-7":  # Python writes "<" as itself; UTF-7 may also shift it, to "+ADw-"
        data = data.replace(b"<!DOCTYPE", b"+ADw-!DOCTYPE")
    path = write_bytes(tmp_path, data)
    with pytest.raises(
        SourceDataError, match="school.xml: XML with a DOCTYPE or entity declaration is refused"
    ):
        read(path)


def test_the_parsed_document_is_checked_again_for_a_dtd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: an encoding the first check could not decode still meets the second check, on the
    document lxml built."""
    monkeypatch.setattr(xmlsafe, "_declares_dtd", lambda raw: False)
    text = with_doctype(edex(leerlingen=pupils("&undefined;")), EXTERNAL).replace("UTF-8", "UTF-16", 1)
    with pytest.raises(SourceDataError, match="DOCTYPE or entity declaration is refused"):
        read(write_bytes(tmp_path, text.encode("utf-16")))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "iso-8859-1"])
def test_other_encodings_without_a_dtd_are_read(tmp_path: Path, encoding: str) -> None:
    text = edex(leerlingen=pupils("Ağaoğlu" if encoding != "iso-8859-1" else "Hoëlle")).replace(
        "UTF-8", encoding.upper(), 1
    )
    roster = read(write_bytes(tmp_path, text.encode(encoding)))
    assert sorted(p.roepnaam for p in roster.persons.values()) == ["Noëlle", "Sem"]
    assert not roster.diagnostics


# -- entities that resolve to nothing ---------------------------------------------------------------


def test_an_undefined_entity_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "school.xml", edex(leerlingen=pupils("&foo;")))
    with pytest.raises(
        SourceDataError, match=r"school\.xml, line 7: the entity reference &foo; is not defined"
    ):
        read(path)


def test_an_entity_left_in_the_tree_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before this check, a UTF-16 file with a DTD was read and the pupil's achternaam was silently empty."""
    monkeypatch.setattr(xmlsafe, "_declares_dtd", lambda raw: False)
    monkeypatch.setattr(xmlsafe, "_refuse_dtd", lambda root, what: None)
    text = with_doctype(edex(leerlingen=pupils("&naam;")), INTERNAL).replace("UTF-8", "UTF-16", 1)
    with pytest.raises(
        SourceDataError, match=r"school\.xml, line 7: the entity reference &naam; cannot be resolved"
    ):
        read(write_bytes(tmp_path, text.encode("utf-16")))


# -- values koppel does not accept ------------------------------------------------------------------


def test_a_nine_megabyte_name_is_left_out_with_file_and_line(tmp_path: Path) -> None:
    roster = read(write(tmp_path, "school.xml", edex(leerlingen=pupils("x" * 9_000_000))))
    assert [p.roepnaam for p in roster.persons.values()] == ["Sem"]
    (diagnostic,) = roster.diagnostics
    assert (diagnostic.severity, diagnostic.code, diagnostic.file, diagnostic.line, diagnostic.field) == (
        Severity.ERROR,
        "field-too-long",
        "school.xml",
        7,
        "achternaam",
    )
    assert diagnostic.object == "99ZZ00/leerlingen/leerling[@key='2']"
    assert diagnostic.message == (
        "99ZZ00: leerling '2': achternaam is 9,000,000 characters long, more than the 200 koppel accepts for "
        "a name; left out"
    )


@pytest.mark.parametrize(
    ("achternaam", "why"),
    [
        ("Jansen\u202egnirts", "a bidirectional control character \\(U\\+202E RIGHT-TO-LEFT OVERRIDE\\)"),
        ("Jansen\x9b31m", "a control character \\(U\\+009B\\)"),
        ("Jan&#x85;sen", "a control character \\(U\\+0085\\)"),  # NEL: Unicode whitespace, but not in a name
        ("Jan&#9;sen", "a control character \\(U\\+0009\\)"),
    ],
)
def test_control_and_bidi_characters_in_a_name(tmp_path: Path, achternaam: str, why: str) -> None:
    roster = read(write(tmp_path, "school.xml", edex(leerlingen=pupils(achternaam))))
    assert [p.roepnaam for p in roster.persons.values()] == ["Sem"]
    (diagnostic,) = roster.diagnostics
    assert (diagnostic.code, diagnostic.line) == ("bad-character", 7)
    assert diagnostic.message.startswith("99ZZ00: leerling '2': achternaam contains ")
    assert re.search(why, diagnostic.message)


def test_every_element_with_a_bad_value_is_left_out_and_reported(tmp_path: Path) -> None:
    long_key = "k" * (FIELD_LIMITS["id"] + 1)
    groepen = (
        '<groep key="g1"><naam>1A</naam><jaargroep>11</jaargroep></groep>\n'
        '<groep key="g2"><naam>1B\u202e</naam><jaargroep>11</jaargroep></groep>\n'
        f'<samengestelde_groep key="{long_key}"><naam>ne1</naam></samengestelde_groep>'
    )
    leerlingen = "\n".join(  # one element a line: the diagnostics name these lines
        [
            '<leerling key="1"><achternaam>Een</achternaam><groep key="g1"/></leerling>',
            f'<leerling key="{long_key}"><achternaam>Twee</achternaam></leerling>',
            '<leerling key="3"><achternaam>Drie</achternaam><emailadres>'
            + "e" * 400
            + "</emailadres></leerling>",
            '<leerling key="4" eckid="E\u2066"><achternaam>Vier</achternaam></leerling>',
            '<leerling key="5"><achternaam>Vijf</achternaam><groep key="g2"/></leerling>',
        ]
    )
    leerkrachten = (
        '<leerkracht key="T1"><achternaam>Smit</achternaam><rol>L\x85RK</rol></leerkracht>'
        '<leerkracht key="T2"><achternaam>Bos</achternaam><groepen>'
        '<groep key="g1"><rol>L\u200fRK</rol></groep><groep key="g1"/></groepen></leerkracht>'
    )
    text = edex(groepen=groepen, leerlingen=leerlingen, leerkrachten=leerkrachten)
    roster = read(write(tmp_path, "school.xml", text))
    found = sorted((d.code, d.line, d.field or "") for d in roster.diagnostics)
    assert found == sorted(
        [
            ("bad-character", 5, "naam"),  # g2
            ("field-too-long", 6, "key"),  # the samengestelde_groep
            ("field-too-long", 9, "key"),
            ("field-too-long", 10, "emailadres"),
            ("bad-character", 11, "eckid"),
            ("unknown-group-ref", 12, ""),  # leerling 5 in g2, which was left out
            ("bad-character", 14, "rol"),  # T1
            ("bad-character", 14, "rol"),  # T2's first link to g1
        ]
    )
    assert all(d.severity is Severity.ERROR for d in roster.diagnostics if d.code != "unknown-group-ref")
    assert all(long_key not in d.message for d in roster.diagnostics)
    assert sorted(p.las_key for p in roster.persons.values()) == ["99ZZ00:1", "99ZZ00:5", "99ZZ00:mw:T2"]
    assert sorted(g.las_key for g in roster.groups.values()) == ["g1"]
    assert [m.role.value for m in roster.memberships if m.person.endswith("mw:T2")] == ["teacher"]


def test_a_bad_value_in_the_school_block_refuses_the_file(tmp_path: Path) -> None:
    text = edex(extra_school="<peildatum>2025-10-01\u202e</peildatum>")
    with pytest.raises(
        SourceDataError, match="school.xml: the <school> block's peildatum contains a bidirectional"
    ):
        read(write(tmp_path, "school.xml", text))
