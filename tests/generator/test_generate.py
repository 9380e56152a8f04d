"""The generator: realistic Dutch schools, the same bytes for the same arguments, one year on."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koppel.generator import LATEST, ORIGIN, Bestuur, generate, write_layout
from koppel.model import BRIN6_RE, SchoolYear

YEAR = SchoolYear(2025)


@pytest.fixture(scope="module")
def bestuur() -> Bestuur:
    return generate(students=3000, schools=3, year=YEAR, seed=11)


def test_schools_have_brin6_names_and_domains(bestuur: Bestuur) -> None:
    assert len(bestuur.schools) == 3
    assert all(BRIN6_RE.match(s.brin6) for s in bestuur.schools)
    assert len({s.brin6 for s in bestuur.schools}) == 3
    assert len({s.name for s in bestuur.schools}) == 3
    assert all(re.fullmatch(r"[a-z0-9]+\.nl", s.domain) for s in bestuur.schools)


def test_pupils_are_spread_over_the_schools(bestuur: Bestuur) -> None:
    per_school = Counter(p.brin6 for p in bestuur.pupils)
    assert set(per_school) == {s.brin6 for s in bestuur.schools}
    assert abs(len(bestuur.pupils) - 3000) < 3000 * 0.05  # origin size, kept steady by the intake


def test_streams_leerjaren_and_klas_names(bestuur: Bestuur) -> None:
    years = {"vmbo-b": 4, "vmbo-k": 4, "vmbo-t": 4, "havo": 5, "vwo": 6}
    letters = {"vmbo-b": "B", "vmbo-k": "K", "vmbo-t": "T", "havo": "H", "vwo": "V"}
    assert {k.onderwijssoort for k in bestuur.klassen} == set(years)  # the first school is a brede school
    for klas in bestuur.klassen:
        assert 1 <= klas.leerjaar <= years[klas.onderwijssoort]
        if klas.leerjaar == 1:
            assert re.fullmatch(r"1[A-Z]+", klas.name)
        else:
            assert re.fullmatch(rf"{klas.leerjaar}{letters[klas.onderwijssoort]}\d+", klas.name)
    klas_of = {(k.brin6, k.name): k for k in bestuur.klassen}
    for pupil in bestuur.pupils:
        klas = klas_of[(pupil.brin6, pupil.klas)]
        assert (pupil.leerjaar, pupil.onderwijssoort) == (klas.leerjaar, klas.onderwijssoort)


def test_onderbouw_klassen_follow_every_vak_together(bestuur: Bestuur) -> None:
    pupils_of = Counter((p.brin6, p.klas) for p in bestuur.pupils)
    lower = [g for g in bestuur.lesgroepen if g.klas is not None and g.leerjaar <= 2]
    assert lower
    for group in lower:
        assert group.name == f"{group.klas}.{group.vak}"
        assert len(group.pupils) == pupils_of[(group.brin6, group.klas)]


def test_bovenbouw_has_clusters_across_klassen(bestuur: Bestuur) -> None:
    clusters = [g for g in bestuur.lesgroepen if g.klas is None]
    assert clusters and all(g.leerjaar >= 3 for g in clusters)
    assert all(re.fullmatch(r"[3-6][bkthv][A-Za-z0-9]+\d", g.name) for g in clusters)
    assert any(re.fullmatch(r"4hnat\d", g.name) for g in clusters)
    assert any(g.name.startswith("5vwisB") for g in clusters)
    klassen_per_cluster = [
        len({bestuur.pupil(s).klas for s in g.pupils}) for g in clusters if len(g.pupils) > 20
    ]
    assert max(klassen_per_cluster) > 1  # clusters mix klassen
    upper_pupils = [p for p in bestuur.pupils if p.leerjaar >= 4 and p.onderwijssoort in ("havo", "vwo")]
    assert all(p.profiel in ("CM", "EM", "NG", "NT") for p in upper_pupils)


def test_docenten_codes_loads_and_mentors(bestuur: Bestuur) -> None:
    for school in bestuur.schools:
        codes = [t.docentcode for t in bestuur.teachers_of(school.brin6)]
        assert len(codes) == len(set(codes))
        assert all(re.fullmatch(r"[A-Z]{3,4}", c) for c in codes)
    loads = Counter((t, g.brin6) for g in bestuur.lesgroepen for t in g.teachers)
    assert all(g.teachers for g in bestuur.lesgroepen)
    median = sorted(loads.values())[len(loads) // 2]
    assert 5 <= median <= 12
    assert max(loads.values()) <= 16
    teachers = {(t.brin6, t.docentcode) for t in bestuur.teachers}
    assert all(k.mentor and (k.brin6, k.mentor) in teachers for k in bestuur.klassen)
    mentoruur = [g for g in bestuur.lesgroepen if g.vak == "men"]
    mentor_of = {(k.brin6, k.name): k.mentor for k in bestuur.klassen}
    assert all(g.teachers == (mentor_of[(g.brin6, g.klas)],) for g in mentoruur)


def test_names_identifiers_and_addresses(bestuur: Bestuur) -> None:
    stamnrs = [p.stamnr for p in bestuur.pupils]
    assert len(stamnrs) == len(set(stamnrs))
    eckids = [p.eckid for p in bestuur.pupils if p.eckid]
    assert 0.8 < len(eckids) / len(stamnrs) < 0.97
    assert all(re.fullmatch(r"https://ketenid\.nl/201703/[0-9a-f]{128}", e) for e in eckids)
    assert len(set(eckids)) == len(eckids)
    emails = [p.email for p in bestuur.pupils]
    assert 0 < emails.count(None) < len(emails) * 0.1
    assert any(p.voorvoegsel for p in bestuur.pupils)
    everyone = " ".join(f"{p.roepnaam} {p.achternaam}" for p in (*bestuur.pupils, *bestuur.teachers))
    assert any(ch in everyone for ch in "ëöüçşễầ")
    assert all(t.email.endswith(".nl") and "@" in t.email for t in bestuur.teachers)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    students=st.integers(min_value=1, max_value=400),
    schools=st.integers(min_value=1, max_value=3),
    year=st.integers(min_value=ORIGIN.start_year, max_value=ORIGIN.start_year + 6),
    seed=st.integers(min_value=0, max_value=2**32),
    layout=st.sampled_from(["magister", "somtoday", "koppel"]),
)
def test_same_arguments_same_bytes(students: int, schools: int, year: int, seed: int, layout: str) -> None:
    schools = min(schools, students)
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        a = write_layout(
            generate(students=students, schools=schools, year=SchoolYear(year), seed=seed),
            Path(first),
            layout,
        )  # type: ignore[arg-type]
        b = write_layout(
            generate(students=students, schools=schools, year=SchoolYear(year), seed=seed),
            Path(second),
            layout,
        )  # type: ignore[arg-type]
        assert [p.relative_to(first) for p in a] == [p.relative_to(second) for p in b]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))


def test_other_seed_other_bestuur() -> None:
    a = generate(students=300, year=YEAR, seed=1)
    b = generate(students=300, year=YEAR, seed=2)
    assert a.schools != b.schools


def test_one_year_on() -> None:
    before = generate(students=2000, schools=2, year=YEAR, seed=4)
    after = generate(students=2000, schools=2, year=YEAR.next(), seed=4)
    assert after.school_year == YEAR.next()
    old = {p.stamnr: p for p in before.pupils}
    new = {p.stamnr: p for p in after.pupils}
    stayed = old.keys() & new.keys()
    exam_year = {"vmbo-b": 4, "vmbo-k": 4, "vmbo-t": 4, "havo": 5, "vwo": 6}
    for stamnr in stayed:
        o, n = old[stamnr], new[stamnr]
        assert (n.leerjaar, n.eckid, n.roepnaam, n.achternaam, n.brin6) == (
            o.leerjaar + 1,
            o.eckid,
            o.roepnaam,
            o.achternaam,
            o.brin6,
        )
    left = [old[s] for s in old.keys() - new.keys()]
    examen = [p for p in old.values() if p.leerjaar == exam_year[p.onderwijssoort]]
    assert all(p.stamnr not in new for p in examen)  # exam candidates are gone
    random_leavers = [p for p in left if p.leerjaar < exam_year[p.onderwijssoort]]
    assert 0 < len(random_leavers) < len(old) * 0.05
    first_years = [new[s] for s in new.keys() - old.keys()]
    assert first_years and all(p.leerjaar == 1 for p in first_years)
    assert min(int(p.stamnr) for p in first_years) > max(int(s) for s in old)
    assert abs(len(after.pupils) - len(before.pupils)) < len(before.pupils) * 0.05
    staff_before = {(t.brin6, t.stamnr) for t in before.teachers}
    staff_after = {(t.brin6, t.stamnr) for t in after.teachers}
    assert staff_before - staff_after and staff_after - staff_before  # some leave, some join
    assert len(staff_before & staff_after) > 0.8 * len(staff_before)


def test_klassen_are_formed_again_each_year() -> None:
    before = generate(students=1500, year=YEAR, seed=9)
    after = generate(students=1500, year=YEAR.next(), seed=9)
    old_klas = {p.stamnr: p.klas for p in before.pupils}
    moved_up = [p for p in after.pupils if p.stamnr in old_klas and p.leerjaar == 2]
    # brugklassers are spread over the streams' klassen of leerjaar 2: klassen do not move up whole
    pairs = Counter((old_klas[p.stamnr], p.klas) for p in moved_up)
    assert len(pairs) > len({old_klas[p.stamnr] for p in moved_up})


def test_small_and_edge_sizes() -> None:
    tiny = generate(students=50, year=YEAR)
    assert 45 <= len(tiny.pupils) <= 55 and tiny.klassen and tiny.lesgroepen and tiny.teachers
    one = generate(students=1, year=ORIGIN)
    assert len(one.pupils) == 1
    with pytest.raises(ValueError, match="cannot fill"):
        generate(students=2, schools=3, year=YEAR)
    with pytest.raises(ValueError, match="covers"):
        generate(students=100, year=ORIGIN.previous())
    with pytest.raises(ValueError, match="covers"):
        generate(students=100, year=LATEST.next())


def test_write_layout_rejects_unknown_layouts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown layout"):
        write_layout(generate(students=10, year=YEAR), tmp_path, "edexml")  # type: ignore[arg-type]


def test_written_files(tmp_path: Path, bestuur: Bestuur) -> None:
    files = write_layout(bestuur, tmp_path / "m", "magister")
    assert files[0] == tmp_path / "m" / "scholen.csv"
    school = bestuur.schools[0].brin6
    leerlingen = (tmp_path / "m" / school / "leerlingen.csv").read_bytes()
    assert leerlingen.startswith(b"\xef\xbb\xbfStamnr;Id;Login;Email;Roepnaam;Tussenv;Achternaam;Lesperiode;")
    assert b"\r\n" in leerlingen and b";2025/2026;" in leerlingen
    files = write_layout(bestuur, tmp_path / "k", "koppel")
    assert [f.name for f in files] == ["schools.csv", "persons.csv", "groups.csv", "memberships.csv"]
    memberships = (tmp_path / "k" / "memberships.csv").read_text(encoding="utf-8").splitlines()
    assert len(memberships) - 1 == bestuur.counts()["memberships"]


@pytest.mark.slow
def test_sixty_thousand_pupils_in_fifty_schools(tmp_path: Path) -> None:
    bestuur = generate(students=60_000, schools=50, year=YEAR, seed=0)
    write_layout(bestuur, tmp_path, "magister")
    assert len(bestuur.schools) == 50 and abs(len(bestuur.pupils) - 60_000) < 1500
    assert bestuur.counts()["memberships"] > 800_000
    assert len(list(tmp_path.glob("*/leerlingen.csv"))) == 50
