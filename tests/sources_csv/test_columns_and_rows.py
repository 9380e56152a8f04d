"""Headers (aliases, unknown, misspelt, missing) and row-level findings (duplicates, references, years)."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.errors import SourceDataError
from koppel.model import PersonKind, Role, SchoolYear

from .conftest import codes, make_source, read

STAFF = "Stamnr;Code;Roepnaam;Achternaam\n1;ABC;Eva;Kok\n"


def export(folder: Path, pupils: str, staff: str = STAFF) -> Path:
    (folder / "leerlingen.csv").write_text(pupils, encoding="utf-8")
    (folder / "docenten.csv").write_text(staff, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "header",
    [
        "Stamnr;Roepnaam;Tussenv;Achternaam;Klas",
        "Stamnummer;Voornaam;Tussenvoegsel;Achternaam;Stamgroep",
        "LEERLINGNUMMER;roepnaam;Voorvoegsel;ACHTERNAAM;Basisgroep",
        " stamnr_str ; Roep naam ;tussen_voegsel;Achter-naam; klas ",
        "\ufeffSTAMNR;FIRSTNAME;PREFIX;LASTNAME;CLASS",
    ],
)
def test_header_aliases_are_case_space_and_punctuation_insensitive(tmp_path: Path, header: str) -> None:
    roster = read(export(tmp_path, f"{header}\n7;Jan;van der;Berg;2B1\n"), layout="magister", school="12AB00")
    jan = roster.persons["las:12AB00:7"]
    assert (jan.roepnaam, jan.voorvoegsel, jan.achternaam) == ("Jan", "van der", "Berg")
    assert {g.name for g in roster.groups.values()} == {"2B1"}
    assert roster.diagnostics == ()


def test_unknown_and_ignored_columns(tmp_path: Path) -> None:
    roster = read(
        export(
            tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Geboortedatum;Schoenmaat\n1;A;B;1A;2010-01-01;38\n"
        ),
        layout="magister",
        school="12AB00",
    )
    (finding,) = roster.diagnostics
    assert (finding.code, finding.field, finding.line, finding.file) == (
        "unknown-column",
        "Schoenmaat",
        1,
        "leerlingen.csv",
    )
    assert finding.severity.value == "warning"


def test_misspelt_column_did_you_mean(tmp_path: Path) -> None:
    roster = read(
        export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Emial;Tusenvoegsel\n1;A;B;1A;a@b.nl;van\n"),
        layout="magister",
        school="12AB00",
    )
    assert codes(roster) == ["misspelt-column", "misspelt-column"]
    assert "did you mean 'Email'" in roster.diagnostics[0].message
    assert "did you mean 'Tussenvoegsel'" in roster.diagnostics[1].message
    assert roster.persons["las:12AB00:1"].email is None  # a misspelt column is never guessed at


def test_missing_required_column_names_file_and_header(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Klas\n1;A;1A\n")
    with pytest.raises(
        SourceDataError,
        match=r"^leerlingen.csv: required column 'Achternaam' is missing "
        r"\(also accepted: LASTNAME, Familienaam\)$",
    ):
        read(tmp_path, layout="magister", school="12AB00")
    export(tmp_path, "Stamnr;Roepnaam;Achternam;Klas\n1;A;B;1A\n")
    with pytest.raises(SourceDataError, match="is 'Achternam' a misspelling of it"):
        read(tmp_path, layout="magister", school="12AB00")
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n", "Code;Roepnaam;Achternaam\nABC;A;B\n")
    with pytest.raises(SourceDataError, match=r"docenten\.csv: required column 'Stamnr' is missing"):
        read(tmp_path, layout="magister", school="12AB00")


def test_duplicate_column(tmp_path: Path) -> None:
    roster = read(
        export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Stamgroep\n1;A;B;1A;2B\n"),
        layout="magister",
        school="12AB00",
    )
    assert codes(roster) == ["duplicate-column"]
    assert {g.name for g in roster.groups.values()} == {"1A"}


def test_column_overrides(tmp_path: Path) -> None:
    export(tmp_path, "Nr;Roepnaam;Achternaam;Groep\n1;A;B;1A\n")
    roster = read(
        tmp_path, layout="magister", school="12AB00", columns={"pupils": {"number": "Nr", "klas": "Groep"}}
    )
    assert {g.name for g in roster.groups.values()} == {"1A"}


def test_duplicate_stamnr_names_both_lines(tmp_path: Path) -> None:
    roster = read(
        export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n2;C;D;1A\n1;E;F;1B\n"),
        layout="magister",
        school="12AB00",
    )
    (dup,) = roster.diagnostics
    assert (dup.code, dup.severity.value, dup.line) == ("duplicate-number", "error", 4)
    assert "also on line 2" in dup.message and "left out" in dup.message
    assert roster.persons["las:12AB00:1"].roepnaam == "A"
    assert {g.name for g in roster.groups.values()} == {"1A"}  # the later row left nothing behind


def test_duplicate_eckid(tmp_path: Path) -> None:
    eckid = "https://ketenid.nl/201703/" + "c" * 128
    roster = read(
        export(tmp_path, f"Stamnr;EckId;Roepnaam;Achternaam;Klas\n1;{eckid};A;B;1A\n2;{eckid};C;D;1A\n"),
        layout="magister",
        school="12AB00",
    )
    assert codes(roster) == ["duplicate-person"] and roster.diagnostics[0].line == 3
    assert len(roster.persons) == 2  # one pupil, one docent


def test_missing_stamnr(tmp_path: Path) -> None:
    roster = read(
        export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas\n;A;B;1A\n2;C;D;1A\n"),
        layout="magister",
        school="12AB00",
    )
    assert codes(roster) == ["missing-value"] and roster.diagnostics[0].line == 2


def test_klasvakken_for_an_unknown_klas(tmp_path: Path) -> None:
    export(
        tmp_path,
        "Stamnr;Roepnaam;Achternaam;Klas;Vakken\n1;A;B;1A;ne,wi\n",
        "Stamnr;Code;Roepnaam;Achternaam;Klasvakken\n1;ABC;Eva;Kok;1A.ne,9Z.ne,ne\n",
    )
    roster = read(tmp_path, layout="magister", school="12AB00")
    assert codes(roster) == ["unknown-klas", "bad-klasvak"]
    assert all(
        d.file == "docenten.csv" and d.line == 2 and d.field == "Klasvakken" for d in roster.diagnostics
    )
    assert "'9Z.ne'" in roster.diagnostics[0].message
    assert {g.name for g in roster.groups.values()} == {"1A", "1A.ne"}


def test_mentors_from_pupils_and_from_docenten(tmp_path: Path) -> None:
    export(
        tmp_path,
        "Stamnr;Roepnaam;Achternaam;Klas;Mentor\n1;A;B;1A;ABC\n2;C;D;1A;ABC\n3;E;F;1B;XYZ\n",
        "Stamnr;Code;Roepnaam;Achternaam;Mentor van\n1;ABC;Eva;Kok;1A\n2;DEF;Jan;Bos;1B,7Q\n",
    )
    roster = read(tmp_path, layout="magister", school="12AB00")
    mentors = {
        (roster.persons[m.person].docentcode, roster.groups[m.group].name)
        for m in roster.memberships
        if m.role is Role.MENTOR
    }
    assert mentors == {("ABC", "1A"), ("DEF", "1B")}
    assert codes(roster) == ["unknown-klas", "unknown-mentor"]
    assert roster.diagnostics[1].line == 4 and "'XYZ'" in roster.diagnostics[1].message


def test_vakken_join_declared_klas_groups_once(tmp_path: Path) -> None:
    (tmp_path / "lesgroepen.csv").write_text(
        "Lesgroep;Vak;Vakomschrijving;Klas\n1A.ne;ne;Nederlands;1A\n1A-wisk;wi;wiskunde;1A\n",
        encoding="utf-8",
    )
    export(
        tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Groepen;Vakken\n1;A;B;1A;1A.ne;ne,wi,en\n2;C;D;1A;;wi\n"
    )
    roster = read(tmp_path, layout="magister", school="12AB00")
    pairs = sorted(
        (roster.persons[m.person].leerlingnummer, roster.groups[m.group].name)
        for m in roster.memberships
        if m.role is Role.STUDENT
    )
    assert pairs == [("1", "1A"), ("1", "1A-wisk"), ("1", "1A.ne"), ("2", "1A"), ("2", "1A-wisk")]
    wisk = next(g for g in roster.groups.values() if g.name == "1A-wisk")
    assert (wisk.subject, wisk.subject_name) == ("wi", "wiskunde")


def test_school_year_from_the_lesperiode_column(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Lesperiode\n1;A;B;1A;2526\n2;C;D;1A;2025/2026\n")
    roster = read(tmp_path, layout="magister", school="12AB00", today=__import__("datetime").date(2031, 1, 1))
    assert roster.school_year == SchoolYear(2025)
    assert all(g.school_year == SchoolYear(2025) for g in roster.groups.values())


def test_huidig_and_volgend_rows(tmp_path: Path) -> None:
    export(
        tmp_path,
        "Stamnr;Roepnaam;Achternaam;Klas;Schooljaar\n1;A;B;1A;2025-2026\n1;A;B;2A;2026-2027\n"
        "2;C;D;1B;2025-2026\n",
    )
    now = read(tmp_path, layout="magister", school="12AB00")
    assert now.school_year == SchoolYear(2025)
    assert {g.name for g in now.groups.values()} == {"1A", "1B"}
    assert codes(now) == ["other-school-year"]
    assert "1 row(s) of 2026-2027 left out" in now.diagnostics[0].message
    ahead = read(tmp_path, layout="magister", school="12AB00", requested=SchoolYear(2026))
    assert ahead.school_year == SchoolYear(2026)
    assert {g.name for g in ahead.groups.values()} == {"2A"}
    assert all(g.key.startswith("las:12AB00:2026-2027:") for g in ahead.groups.values())
    fixed = read(tmp_path, layout="magister", school="12AB00", school_year="2026-2027")
    assert {g.name for g in fixed.groups.values()} == {"2A"}


def test_several_years_none_current(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Schooljaar\n1;A;B;1A;2030-2031\n2;C;D;1A;2031-2032\n")
    with pytest.raises(SourceDataError, match=r"several school years.*set school_year"):
        read(tmp_path, layout="magister", school="12AB00")


def test_bad_school_year_cell(tmp_path: Path) -> None:
    roster = read(
        export(
            tmp_path,
            "Stamnr;Roepnaam;Achternaam;Klas;Schooljaar\n1;A;B;1A;volgend jaar\n2;C;D;1A;2025-2026\n",
        ),
        layout="magister",
        school="12AB00",
    )
    assert codes(roster) == ["bad-school-year"] and roster.diagnostics[0].line == 2


def test_year_without_column_and_requested_year(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n")
    assert read(tmp_path, layout="magister", school="12AB00").school_year == SchoolYear(
        2025
    )  # today: 2025-10-01
    asked = read(tmp_path, layout="magister", school="12AB00", requested=SchoolYear(2026))
    assert asked.school_year == SchoolYear(2026) and asked.diagnostics == ()


def test_requested_year_differs_from_the_export(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Lesperiode\n1;A;B;1A;2025/2026\n")
    roster = read(tmp_path, layout="magister", school="12AB00", requested=SchoolYear(2026))
    assert roster.school_year == SchoolYear(2025)
    assert codes(roster) == ["school-year-mismatch"]


def test_lesgroepen_file_without_year_read_before_pupils_with_one(tmp_path: Path) -> None:
    """The group keys are made before the year is known; the source reads again with the right year."""
    (tmp_path / "lesgroepen.csv").write_text("Lesgroep;Vak\n4hnat1;nat\n", encoding="utf-8")
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas;Groepen;Lesperiode\n1;A;B;4H1;4hnat1;2023/2024\n")
    roster = read(tmp_path, layout="magister", school="12AB00")
    assert roster.school_year == SchoolYear(2023)
    assert all(":2023-2024:" in g.key for g in roster.groups.values())
    assert next(g for g in roster.groups.values() if g.name == "4hnat1").subject == "nat"


def test_school_year_in_the_path(tmp_path: Path) -> None:
    for year in ("2025-2026", "2026-2027"):
        (tmp_path / year).mkdir()
        export(tmp_path / year, f"Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;{year[:4]}\n")
    source = make_source(
        tmp_path / "{school_year}", layout="magister", school="12AB00", requested=SchoolYear(2026)
    )
    assert source.path == tmp_path / "2026-2027"
    assert {g.name for g in source.read().groups.values()} == {"2026"}
    assert (
        make_source(tmp_path / "{school_year}", layout="magister", school="12AB00").path
        == tmp_path / "2025-2026"
    )


def test_key_scope(tmp_path: Path) -> None:
    for brin6, number in (("12AB00", "1"), ("34CD00", "2")):
        (tmp_path / brin6).mkdir()
        export(
            tmp_path / brin6,
            f"Stamnr;Roepnaam;Achternaam;Klas\n{number};A;B;1A\n",
            "Stamnr;Code;Roepnaam;Achternaam;Klasvakken\n77;KOK;Eva;Kok;1A.ne\n",
        )
    per_school = read(tmp_path, layout="magister")
    assert len([p for p in per_school.persons.values() if p.kind is PersonKind.STAFF]) == 2
    shared = read(tmp_path, layout="magister", key_scope="export")
    (teacher,) = [p for p in shared.persons.values() if p.kind is PersonKind.STAFF]
    assert (teacher.key, teacher.schools) == ("las:mw:77", ("12AB00", "34CD00"))
    assert len([m for m in shared.memberships if m.person == teacher.key]) == 2
    assert codes(shared) == []
    # under export scope one stamnummer in two schools is one pupil listed twice: refused
    (tmp_path / "34CD00" / "leerlingen.csv").write_text("Stamnr;Roepnaam;Achternaam;Klas\n1;X;Y;1A\n")
    twice = read(tmp_path, layout="magister", key_scope="export")
    assert codes(twice)[0] == "duplicate-person"
    assert twice.diagnostics[0].file == "34CD00/leerlingen.csv"
    assert "Stamnr 1 is also A B (las: 12AB00/leerlingen.csv:2)" in twice.diagnostics[0].message


def test_duplicate_docent_stamnr_and_shared_docentcode(tmp_path: Path) -> None:
    export(tmp_path, "Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n",
           "Stamnr;Code;Roepnaam;Achternaam\n1;ABC;Eva;Kok\n1;XYZ;Jan;Bos\n2;ABC;Piet;Smit\n")
    roster = read(tmp_path, layout="magister", school="12AB00")
    assert codes(roster) == ["duplicate-number"] and roster.diagnostics[0].line == 3
    assert sorted(p.docentcode for p in roster.persons.values() if p.docentcode) == ["ABC", "ABC"]


def test_split_multi() -> None:
    from koppel.sources.csv.builder import split_multi

    assert split_multi("", ",") == []
    assert split_multi("4hnat1,4hschk1", ",") == ["4hnat1", "4hschk1"]
    assert split_multi(" 4hnat1 , ,4hschk1,4hnat1,", ",") == ["4hnat1", "4hschk1"]
    assert split_multi("a|b", "|") == ["a", "b"]


def test_memberships_are_made_like_the_constructor_makes_them() -> None:
    from koppel.model import Membership, Provenance
    from koppel.sources.csv.builder import membership_maker

    where = Provenance("las", "leerlingen.csv", 7)
    made = membership_maker()("p", "g", Role.MENTOR, where)
    assert made == Membership("p", "g", Role.MENTOR, None, None, where)
