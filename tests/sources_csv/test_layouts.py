"""The presets against golden exports: Magister, Somtoday, koppel-native and a bestuur in one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.errors import ConfigError, SourceDataError
from koppel.model import GroupKind, PersonKind, Role, Roster, SchoolYear

from .conftest import DATA, codes, read


def members(roster: Roster, name: str, role: Role = Role.STUDENT, school: str | None = None) -> set[str]:
    """Display names of the members of the group called ``name``."""
    keys = {k for k, g in roster.groups.items() if g.name == name and (school is None or g.school == school)}
    assert keys, f"no group {name}"
    return {
        roster.persons[m.person].display_name
        for m in roster.memberships
        if m.group in keys and m.role is role
    }


def group(roster: Roster, name: str, kind: GroupKind | None = None):
    (found,) = [g for g in roster.groups.values() if g.name == name and (kind is None or g.kind is kind)]
    return found


# -- Magister ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def magister() -> Roster:
    return read(DATA / "magister_small", layout="magister", school="12AB00")


def test_magister_persons(magister: Roster) -> None:
    assert magister.school_year == SchoolYear(2025)
    assert [(s.brin6, s.name) for s in magister.schools.values()] == [("12AB00", "Het Baken College")]
    zoe = magister.persons["las:12AB00:10001"]
    assert (zoe.kind, zoe.roepnaam, zoe.voorvoegsel, zoe.achternaam) == (
        PersonKind.STUDENT,
        "Zoë",
        "van der",
        "Berg",
    )
    assert (zoe.leerlingnummer, zoe.las_username, zoe.email, zoe.leerjaar) == (
        "10001",
        "10001",
        "10001@leerling.hetbaken.nl",
        1,
    )
    assert magister.persons["las:12AB00:10002"].email is None
    nguyen = magister.persons["las:12AB00:mw:503"]
    assert (nguyen.kind, nguyen.docentcode, nguyen.achternaam, nguyen.schools) == (
        PersonKind.STAFF,
        "NGU",
        "Nguyễn",
        ("12AB00",),
    )
    assert zoe.provenance is not None and (zoe.provenance.file, zoe.provenance.line) == ("leerlingen.csv", 2)


def test_magister_klassen_clusters_and_klasvakken(magister: Roster) -> None:
    klas = group(magister, "1A", GroupKind.STAMGROEP)
    assert (klas.las_key, klas.leerjaar, klas.onderwijssoort) == ("stamgroep:1A", 1, "havo")
    assert klas.key == "las:12AB00:2025-2026:stamgroep:1A"
    assert members(magister, "1A") == {"Zoë van der Berg", "Daan de Vries"}
    # whole-klas groups come from the docent's Klasvakken and the pupils' Vakken
    ne = group(magister, "1A.ne")
    assert (ne.kind, ne.subject, ne.leerjaar, ne.parent) == (GroupKind.LESGROEP, "ne", 1, klas.key)
    assert members(magister, "1A.ne") == {"Zoë van der Berg", "Daan de Vries"}
    assert members(magister, "1A.ne", Role.TEACHER) == {"Anna van den Broek"}
    assert members(magister, "4H1.ne") == {"Björn Çelik", "Fatima El Amrani"}
    # a vak nobody teaches as a klasvak (en) makes no group
    assert not [g for g in magister.groups.values() if g.name.endswith(".en")]
    # clusters come from Groepen and Groepvakken
    assert members(magister, "4hwisB1") == {"Björn Çelik", "Fatima El Amrani"}
    assert members(magister, "4hwisB1", Role.TEACHER) == {"Jan Jansen"}
    assert members(magister, "4hnat1") == {"Björn Çelik"}
    assert group(magister, "4hnat1").parent is None


def test_magister_mentor_column(magister: Roster) -> None:
    assert members(magister, "1A", Role.MENTOR) == {"Anna van den Broek"}
    assert members(magister, "4H1", Role.MENTOR) == {"Jan Jansen"}
    assert len(magister.memberships) == 22
    assert magister.diagnostics == ()


def test_magister_provenance_is_shared_per_row(magister: Roster) -> None:
    bjorn = [m for m in magister.memberships if m.person == "las:12AB00:10003"]
    from_row = [m for m in bjorn if m.provenance.line == 4]
    assert len(from_row) == 4 and len({id(m.provenance) for m in from_row}) == 1


def test_magister_source_info(magister: Roster) -> None:
    (info,) = magister.sources
    assert (info.name, info.kind, info.school_year) == ("las", "csv", "2025-2026")
    assert info.counts["memberships"] == 22


# -- Somtoday ------------------------------------------------------------------------------------


def test_somtoday_small() -> None:
    roster = read(DATA / "somtoday_small", layout="somtoday")
    assert [(s.brin6, s.name) for s in roster.schools.values()] == [("34CD00", "Sg. De Rijn")]
    noor = roster.persons["eck:https://ketenid.nl/201703/" + "a" * 128]
    assert (noor.voorvoegsel, noor.achternaam, noor.las_key) == ("in 't", "Veld", "34CD00:20001")
    assert roster.persons["las:34CD00:20002"].roepnaam == "Ömer"  # no ECK iD: keyed by (source, LAS key)
    ne = group(roster, "2V1.ne")
    assert (ne.subject, ne.subject_name, ne.parent) == ("ne", "Nederlands", group(roster, "2V1").key)
    assert members(roster, "2V1.ne") == {"Noor in 't Veld", "Ömer Şahin", "Chloë Dijkstra"}
    assert members(roster, "2V1", Role.MENTOR) == {"Sanne van Dijk"}
    assert members(roster, "5vwisB1", Role.TEACHER) == {"Koen Bakker"}
    assert group(roster, "5vwisB1").leerjaar == 5
    assert roster.diagnostics == ()


# -- koppel-native -------------------------------------------------------------------------------


def test_koppel_native_small() -> None:
    roster = read(DATA / "koppel_small", layout="koppel")
    assert {s.brin6: s.name for s in roster.schools.values()} == {
        "56EF00": "Het Kompas College",
        "56EF01": "Het Kompas College locatie Zeist",
    }
    staff = roster.persons["las:mw900"]
    assert (staff.kind, staff.schools, staff.docentcode) == (PersonKind.STAFF, ("56EF00", "56EF01"), "GRA")
    guardian = roster.persons["las:o1"]
    assert guardian.kind is PersonKind.GUARDIAN and guardian.children == ("las:30001",)
    gs = group(roster, "3H1.gs")
    assert (gs.subject_name, gs.parent, gs.key) == (
        "geschiedenis",
        group(roster, "3H1").key,
        "las:56EF00:2025-2026:3H1.gs",
    )
    dated = [m for m in roster.memberships if m.group == gs.key and m.role is Role.STUDENT]
    assert [(m.start.isoformat(), m.end.isoformat()) for m in dated] == [("2025-08-01", "2026-01-31")]
    roles = {
        (roster.persons[m.person].achternaam, roster.groups[m.group].name, m.role) for m in roster.memberships
    }
    assert ("Visser", "3H1", Role.GUARDIAN) in roles and ("Graaf", "1A", Role.MENTOR) in roles
    assert ("Hof", "1A.ne", Role.STUDENT) in roles  # group id unique across schools: no school needed
    assert roster.diagnostics == ()


def test_koppel_native_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "groups.csv").write_bytes((DATA / "koppel_small" / "groups.csv").read_bytes())
    (tmp_path / "persons.csv").write_text(
        "id,kind,schools,roepnaam,achternaam\n"
        "1,student,56EF00,Jan,Smit\n"
        "2,alien,56EF00,Piet,Bos\n"
        "1,student,56EF00,Kees,Kok\n"
        "3,staff,5XEF00,Eva,Prins\n",
        encoding="utf-8",
    )
    (tmp_path / "memberships.csv").write_text(
        "person,group,school,role,start\n"
        "1,3H1,56EF00,student,\n"
        "9,3H1,56EF00,student,\n"
        "1,9Z9,56EF00,student,\n"
        "1,3H1,56EF00,captain,\n"
        "1,3H1.gs,56EF00,student,1 augustus\n",
        encoding="utf-8",
    )
    roster = read(tmp_path, layout="koppel")
    assert codes(roster) == [
        "unknown-kind",
        "duplicate-id",
        "bad-brin6",
        "unknown-person",
        "unknown-group",
        "unknown-role",
        "bad-date",
    ]
    assert [d.line for d in roster.diagnostics] == [3, 4, 5, 3, 4, 5, 6]
    assert len(roster.memberships) == 1


def test_koppel_native_needs_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "persons.csv"
    file.write_text("id,kind,roepnaam,achternaam\n1,student,A,B\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="folder"):
        read(file, layout="koppel")
    with pytest.raises(SourceDataError, match="groups, memberships"):
        read(tmp_path, layout="koppel")


# -- bestuur conventions -------------------------------------------------------------------------


def test_bestuur_in_one_file_with_locatie_and_scholen(tmp_path: Path) -> None:
    roster = read(DATA / "bestuur_locatie", layout="magister")
    assert {s.brin6: s.name for s in roster.schools.values()} == {
        "12AB00": "Het Baken College",
        "12AB01": "Het Baken Mavo",
    }
    # stamnummers are per school: the same number in two schools is two persons
    assert roster.persons["las:12AB00:mw:1"].roepnaam == "Renée"  # cp1252 é
    assert roster.persons["las:12AB01:mw:1"].roepnaam == "José"
    assert members(roster, "1A", school="12AB00") == {"Sem Bos"}
    assert members(roster, "1A", school="12AB01") == {"Tess de Jong"}
    assert members(roster, "2tdu1", Role.TEACHER) == {"José Meijer"}


def test_locations_setting_maps_locatie(tmp_path: Path) -> None:
    (tmp_path / "leerlingen.csv").write_text(
        "Stamnr;Roepnaam;Achternaam;Klas;Locatie\n1;A;B;1A;Zwolle\n2;C;D;1A;12CD00\n3;E;F;1A;Elders\n",
        encoding="utf-8",
    )
    (tmp_path / "docenten.csv").write_text(
        "Stamnr;Code;Roepnaam;Achternaam;Locatie\n1;XYZ;G;H;Zwolle\n", encoding="utf-8"
    )
    roster = read(tmp_path, layout="magister", locations={"Zwolle": "12AB00"})
    assert {p.schools for p in roster.persons.values()} == {("12AB00",), ("12CD00",)}
    assert codes(roster) == ["unknown-location"]
    assert roster.diagnostics[0].line == 4 and "Elders" in roster.diagnostics[0].message
    with_default = read(tmp_path, layout="magister", locations={"Zwolle": "12AB00"}, school="12EF00")
    assert ("12EF00",) in {p.schools for p in with_default.persons.values()}


def test_school_folders(tmp_path: Path) -> None:
    for brin6 in ("12AB00", "34CD00"):
        folder = tmp_path / brin6
        folder.mkdir()
        (folder / "leerlingen.csv").write_text(
            "Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n", encoding="utf-8"
        )
        (folder / "docenten.csv").write_text(
            "Stamnr;Code;Roepnaam;Achternaam;Klasvakken\n1;ABC;C;D;1A.ne\n", encoding="utf-8"
        )
    roster = read(tmp_path, layout="magister")
    assert sorted(roster.schools) == ["12AB00", "34CD00"]
    assert len([p for p in roster.persons.values() if p.kind is PersonKind.STUDENT]) == 2
    (tmp_path / "scholen.csv").write_text("BRIN6;Naam\n12AB00;Een\n", encoding="utf-8")
    partly = read(tmp_path, layout="magister")
    assert codes(partly) == ["unlisted-school"] and partly.diagnostics[0].file == "34CD00"
    assert sorted(partly.schools) == ["12AB00", "34CD00"]
    (tmp_path / "scholen.csv").write_text(
        "BRIN6;Naam\n12AB00;Een\n34CD00;Twee\n56EF00;Drie\n", encoding="utf-8"
    )
    with pytest.raises(SourceDataError, match=r"lists 56EF00 \(Drie\).*incomplete"):
        read(tmp_path, layout="magister")
    (tmp_path / "leerlingen.csv").write_text("Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n", encoding="utf-8")
    (tmp_path / "docenten.csv").write_text("Stamnr;Code;Roepnaam;Achternaam\n1;ABC;C;D\n", encoding="utf-8")
    with pytest.raises(SourceDataError, match="both"):
        read(tmp_path, layout="magister")


def test_school_folder_missing_a_file(tmp_path: Path) -> None:
    (tmp_path / "12AB00").mkdir()
    (tmp_path / "12AB00" / "leerlingen.csv").write_text("Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n")
    with pytest.raises(SourceDataError, match="12AB00: school folder has no docenten file"):
        read(tmp_path, layout="magister")


def test_no_way_to_tell_the_school(tmp_path: Path) -> None:
    (tmp_path / "leerlingen.csv").write_text("Stamnr;Roepnaam;Achternaam;Klas\n1;A;B;1A\n")
    (tmp_path / "docenten.csv").write_text("Stamnr;Code;Roepnaam;Achternaam\n1;ABC;C;D\n")
    with pytest.raises(ConfigError, match="cannot tell which school"):
        read(tmp_path, layout="magister")


def test_single_file_path_and_custom_layout(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("Leerling ID,Voornaam,Familienaam,Groep\n1,Ab,Cd,1A\n", encoding="utf-8")
    roster = read(
        export,
        layout="custom",
        school="12AB00",
        columns={"pupils": {"number": "Leerling ID", "klas": ["Groep"]}},
    )
    assert [p.display_name for p in roster.persons.values()] == ["Ab Cd"]
    assert members(roster, "1A") == {"Ab Cd"}
    with pytest.raises(SourceDataError, match="no docenten file beside"):
        read(export, layout="magister", school="12AB00")


def test_extension_lookup_prefers_csv_then_xlsx(tmp_path: Path) -> None:
    (tmp_path / "leerlingen.txt").write_text("Stamnr\tRoepnaam\tAchternaam\tKlas\n1\tA\tB\t1A\n")
    (tmp_path / "docenten.txt").write_text("Stamnr\tCode\tRoepnaam\tAchternaam\n1\tABC\tC\tD\n")
    roster = read(tmp_path, layout="magister", school="12AB00")
    assert len(roster.persons) == 2


def test_export_not_found(tmp_path: Path) -> None:
    with pytest.raises(SourceDataError, match="export not found"):
        read(tmp_path / "nope", layout="magister")
    with pytest.raises(SourceDataError, match="no leerlingen, docenten file here"):
        read(tmp_path, layout="magister")
