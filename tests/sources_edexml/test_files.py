"""EDEXML files as a source: conformance on generated schools, folders, and every file koppel must refuse."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from koppel.errors import SourceDataError
from koppel.generator import generate
from koppel.model.roster import PersonKind, Role, SchoolYear, Severity
from koppel.sources.edexml import EdexmlSource
from koppel.testing.source_conformance import SourceConformance

from .conftest import YEAR, edex, make_source, read, write

OLD = 946_684_800


class TestEdexmlConformance(SourceConformance):
    @pytest.fixture
    def source(self, generated: tuple[Path, list[str]]) -> EdexmlSource:
        return make_source(generated[0])

    @pytest.fixture
    def broken_source(self, generated: tuple[Path, list[str]]) -> EdexmlSource:
        folder, brins = generated
        path = folder / f"EDEX-{brins[1]}.xml"
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 3])  # cut short, as an interrupted copy leaves it
        return make_source(folder)


def test_a_folder_of_generated_schools(generated: tuple[Path, list[str]]) -> None:
    folder, brins = generated
    roster = read(folder)
    bestuur = generate(students=120, schools=2, year=YEAR, seed=3)
    assert sorted(roster.schools) == brins
    assert {s.name for s in roster.schools.values()} == {s.name for s in bestuur.schools}
    assert sum(p.kind is PersonKind.STUDENT for p in roster.persons.values()) == len(bestuur.pupils)
    assert sum(p.kind is PersonKind.STAFF for p in roster.persons.values()) == len(bestuur.teachers)
    pupil = bestuur.pupils[-1]
    person = roster.persons[f"eck:{pupil.eckid}" if pupil.eckid else f"po:{pupil.brin6}:{pupil.stamnr}"]
    assert (person.display_name, person.leerjaar) == (
        " ".join(p for p in (pupil.roepnaam, pupil.voorvoegsel, pupil.achternaam) if p),
        pupil.leerjaar,
    )
    assert {m.person for m in roster.memberships} >= {
        p.key for p in roster.persons.values() if p.kind is PersonKind.STUDENT
    }
    assert roster.sources[0].kind == "edexml" and not roster.diagnostics


def test_school_year_placeholder_and_mismatch_warning(tmp_path: Path) -> None:
    write(tmp_path / "2025-2026", "school.xml", edex())
    roster = read(tmp_path / "{school_year}", requested=YEAR)
    assert roster.school_year == YEAR and not roster.diagnostics
    write(tmp_path / "2026-2027", "school.xml", edex())  # last year's export, put in next year's folder
    later = read(tmp_path / "{school_year}", requested=YEAR.next())
    assert later.school_year == YEAR
    assert [(d.code, d.message) for d in later.diagnostics] == [
        ("school-year-mismatch", "koppel asked for 2026-2027, but the export describes 2025-2026")
    ]


def test_one_human_in_two_schools_is_one_person(tmp_path: Path) -> None:
    eck = "https://ketenid.nl/201703/" + "ab" * 64
    teacher = (
        f'<leerkracht key="T1" eckid="{eck}"><achternaam>Smit</achternaam><roepnaam>Ada</roepnaam>'
        '<groepen><groep key="g1"/></groepen></leerkracht>'
    )
    write(tmp_path, "a.xml", edex(brincode="11AA", leerkrachten=teacher))
    write(tmp_path, "b.xml", edex(brincode="22BB", leerkrachten=teacher.replace("T1", "T9")))
    roster = read(tmp_path)
    ada = roster.persons[f"eck:{eck}"]
    assert ada.schools == ("11AA00", "22BB00")
    assert {roster.groups[m.group].school for m in roster.memberships if m.person == ada.key} == {
        "11AA00",
        "22BB00",
    }


def test_key_scope_source_joins_keys_across_schools(tmp_path: Path) -> None:
    write(tmp_path, "a.xml", edex(brincode="11AA"))
    write(tmp_path, "b.xml", edex(brincode="22BB"))
    assert set(read(tmp_path).persons) == {"po:11AA00:1", "po:22BB00:1"}
    joined = read(tmp_path, key_scope="source")
    assert set(joined.persons) == {"po:1"} and joined.persons["po:1"].schools == ("11AA00", "22BB00")


def test_leerling_and_leerkracht_keys_are_separate_key_spaces(tmp_path: Path) -> None:
    teacher = (
        '<leerkracht key="1"><achternaam>Smit</achternaam><groepen><groep key="g1"/></groepen></leerkracht>'
    )
    roster = read(write(tmp_path, "a.xml", edex(leerkrachten=teacher)))
    assert {(p.key, p.kind) for p in roster.persons.values()} == {
        ("po:99ZZ00:1", PersonKind.STUDENT),
        ("po:99ZZ00:mw:1", PersonKind.STAFF),
    }


def test_bad_elements_become_diagnostics_with_file_and_line(tmp_path: Path) -> None:
    leerlingen = "\n".join(  # one element a line: the diagnostics name these lines
        [
            '<leerling key="1"><achternaam>Een</achternaam><groep key="g1"/></leerling>',
            "<leerling><achternaam>Zonder key</achternaam></leerling>",
            '<leerling key="1"><achternaam>Nog een</achternaam></leerling>',
            (
                '<leerling key="2"><achternaam>Twee</achternaam><jaargroep>7B</jaargroep><groep key="weg"/>'
                "</leerling>"
            ),
            '<leerling key="3" eckid="E"><achternaam>Drie</achternaam></leerling>',
            '<leerling key="4" eckid="E"><achternaam>Vier</achternaam></leerling>',
        ]
    )
    groepen = (
        '<groep key="g1"><naam>1A</naam><jaargroep>11</jaargroep></groep>'
        '<samengestelde_groep key="sg"/><groep key="g1"><naam>dubbel</naam><jaargroep>11</jaargroep></groep>'
    )
    roster = read(write(tmp_path, "school.xml", edex(groepen=groepen, leerlingen=leerlingen)))
    found = {(d.code, d.line, d.severity) for d in roster.diagnostics}
    assert found == {
        ("unnamed-group", 4, Severity.WARNING),
        ("duplicate-id", 4, Severity.ERROR),  # line 4: <groepen>
        ("missing-value", 7, Severity.ERROR),
        ("duplicate-id", 8, Severity.ERROR),  # line 6: the first leerling
        ("unknown-jaargroep", 9, Severity.WARNING),
        ("unknown-group-ref", 9, Severity.WARNING),
        ("duplicate-person", 11, Severity.ERROR),
    }
    assert all(d.file == "school.xml" and d.message.startswith("99ZZ00: ") for d in roster.diagnostics)
    assert sorted(p.las_key for p in roster.persons.values()) == ["99ZZ00:1", "99ZZ00:2", "99ZZ00:3"]
    assert roster.persons["po:99ZZ00:2"].leerjaar is None
    assert roster.groups["po:99ZZ00:2025-2026:sg"].name == "sg"


def test_unknown_rol_is_read_as_teacher_and_reported_once(tmp_path: Path) -> None:
    teacher = (
        '<leerkracht key="T"><achternaam>Smit</achternaam><rol>XYZ</rol><groepen><groep key="g1"/>'
        '<groep key="g1"><rol>XYZ</rol></groep></groepen></leerkracht>'
    )
    roster = read(write(tmp_path, "a.xml", edex(leerkrachten=teacher)))
    assert [m.role for m in roster.memberships if m.person.endswith("mw:T")] == [Role.TEACHER]
    assert [d.code for d in roster.diagnostics] == ["unknown-rol"]


def test_single_vestiging_names_the_school(tmp_path: Path) -> None:
    roster = read(
        write(tmp_path, "a.xml", edex(vestigingen='<vestiging key="V"><naam>OBS De Linde</naam></vestiging>'))
    )
    assert roster.schools["99ZZ00"].name == "OBS De Linde"


# -- files that are refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            edex(leerlingen=""),
            (
                "school 99ZZ00 has no pupils in the export .*no <leerling> elements.*never read as "
                "'everyone left'"
            ),
        ),
        (
            edex(
                leerlingen='<leerling key="1"><uitstroomdatum>2020-01-01</uitstroomdatum></leerling>',
                extra_school="<aanmaakdatum>2025-10-01T02:00:00</aanmaakdatum>",
            ),
            "no pupils .*left on 2020-01-01",
        ),
        (edex(brincode=""), "names no brincode"),
        (edex(brincode="99zz9"), "is not a BRIN"),
        (edex(schooljaar="volgend jaar"), "schooljaar 'volgend jaar' is not of the form 2025-2026"),
        ("<EDEX><groepen/></EDEX>", "has no <school> block"),
        ('<?xml version="1.0"?><Leerlingen/>', "root element is <Leerlingen>, not <EDEX>"),
        ("<EDEX><school>", "not well-formed XML"),
        ("", "empty XML document|not well-formed"),
    ],
)
def test_unusable_files(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(SourceDataError, match=words):
        read(write(tmp_path, "school.xml", text))


def test_a_year_beyond_the_schema_enumeration_is_read(tmp_path: Path) -> None:
    assert read(write(tmp_path, "a.xml", edex(schooljaar="2031-2032"))).school_year == SchoolYear(2031)


def test_folder_problems(tmp_path: Path) -> None:
    with pytest.raises(SourceDataError, match="EDEXML export not found"):
        read(tmp_path / "nergens")
    (tmp_path / "leeg").mkdir()
    write(tmp_path / "leeg", "leesmij.txt", "geen xml")
    with pytest.raises(SourceDataError, match="no EDEXML files"):
        read(tmp_path / "leeg")
    write(tmp_path / "dubbel", "a.xml", edex())
    write(tmp_path / "dubbel", "b.xml", edex())
    with pytest.raises(SourceDataError, match="a.xml and b.xml are both exports of school 99ZZ00"):
        read(tmp_path / "dubbel")
    write(tmp_path / "jaren", "a.xml", edex(brincode="11AA"))
    write(tmp_path / "jaren", "b.xml", edex(brincode="22BB", schooljaar="2024-2025"))
    with pytest.raises(SourceDataError, match="different school years .*a.xml: 2025-2026, b.xml: 2024-2025"):
        read(tmp_path / "jaren")


def test_file_larger_than_allowed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "groot.xml",
        edex(leerlingen='<leerling key="1"><roepnaam>' + "x" * (2 * 2**20) + "</roepnaam></leerling>"),
    )
    with pytest.raises(SourceDataError, match="more than max_file_mb \\(1\\)"):
        read(path, max_file_mb=1)


def test_hostile_files_are_refused_and_nothing_is_read(tmp_path: Path) -> None:
    control = write(tmp_path, "control.txt", "control")
    os.utime(control, (OLD, time.time()))
    control.read_text(encoding="utf-8")
    secret = write(tmp_path, "geheim.txt", "BSN 123456782")
    os.utime(secret, (OLD, time.time()))
    doctype = f'<!DOCTYPE EDEX [<!ENTITY x SYSTEM "file://{secret}">]>'
    text = edex(leerlingen='<leerling key="1"><achternaam>&x;</achternaam></leerling>')
    path = write(tmp_path / "export", "school.xml", text.replace("<EDEX>", doctype + "<EDEX>", 1))
    with pytest.raises(
        SourceDataError, match="school.xml: XML with a DOCTYPE or entity declaration is refused"
    ):
        read(path)
    if os.stat(control).st_atime != OLD:  # this file system records access times: the check means something
        assert os.stat(secret).st_atime == OLD, "the file behind the external entity was read"
    bomb = (
        '<!DOCTYPE EDEX [<!ENTITY a "aaaaaaaaaa">'
        + "".join(
            f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
        )
        + "]>"
    )
    path.write_text(
        edex(leerlingen='<leerling key="1"><achternaam>&a9;</achternaam></leerling>').replace(
            "<EDEX>", bomb + "<EDEX>", 1
        ),
        encoding="utf-8",
    )
    started = time.monotonic()
    with pytest.raises(SourceDataError, match="refused"):
        read(path)
    assert time.monotonic() - started < 1.0
