"""Write a generated bestuur as the files a school would hand over: Magister, Somtoday or koppel-native.

The writers know the export formats on their own and do not import the CSV source: like a
sandbox, they are a second, independent reading of the documented layouts (docs/sources/csv.md),
so a misunderstanding on either side shows up as a failing round-trip test.

Conventions (documented in docs/generator.md):

* ``magister`` and ``somtoday``: one folder per school named by its BRIN6 with the leerlingen,
  docenten/medewerkers and lesgroepen files, and ``scholen.csv`` (BRIN6 and name) at the top.
  Magister files are UTF-8 with BOM, ``;``-separated with CRLF line ends (what Excel and
  PowerShell's ``Export-Csv -Encoding UTF8`` produce); Somtoday files are UTF-8, ``;`` and LF.
* ``koppel``: schools.csv, persons.csv, groups.csv and memberships.csv in one folder, UTF-8, ``,``.

Rows are written in a fixed order, so the same bestuur always gives byte-identical files.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from koppel.generator.model import Bestuur, GeneratedSchool, Klas, Lesgroep, Pupil, Teacher

__all__ = ["Layout", "write_layout"]

Layout = Literal["magister", "somtoday", "koppel"]

MULTI = ","  # separator inside multi-value cells


def write_layout(bestuur: Bestuur, out_dir: Path, layout: Layout) -> list[Path]:
    """Write ``bestuur`` to ``out_dir`` in ``layout``; return the files written, in writing order."""
    writers = {"magister": _write_magister, "somtoday": _write_somtoday, "koppel": _write_koppel}
    try:
        writer = writers[layout]
    except KeyError:
        raise ValueError(f"unknown layout {layout!r} (known: {', '.join(writers)})") from None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return writer(bestuur, out_dir)


class _SchoolView:
    """Per school: its pupils, docenten, klassen and lesgroepen, and who is in what."""

    def __init__(self, school: GeneratedSchool) -> None:
        self.school = school
        self.pupils: list[Pupil] = []
        self.teachers: list[Teacher] = []
        self.klassen: list[Klas] = []
        self.lesgroepen: list[Lesgroep] = []
        self.groups_of_pupil: dict[str, list[Lesgroep]] = {}
        self.groups_of_teacher: dict[str, list[Lesgroep]] = {}
        self.mentor: dict[str, str | None] = {}
        self.mentor_of: dict[str, list[str]] = {}

    def index(self) -> None:
        for group in self.lesgroepen:
            for stamnr in group.pupils:
                self.groups_of_pupil.setdefault(stamnr, []).append(group)
            for code in group.teachers:
                self.groups_of_teacher.setdefault(code, []).append(group)
        for klas in self.klassen:
            self.mentor[klas.name] = klas.mentor
            if klas.mentor:
                self.mentor_of.setdefault(klas.mentor, []).append(klas.name)


def _views(bestuur: Bestuur) -> list[_SchoolView]:
    """One pass over the bestuur, bucketed by school, in the bestuur's own order."""
    views = {s.brin6: _SchoolView(s) for s in bestuur.schools}
    for pupil in bestuur.pupils:
        views[pupil.brin6].pupils.append(pupil)
    for teacher in bestuur.teachers:
        views[teacher.brin6].teachers.append(teacher)
    for klas in bestuur.klassen:
        views[klas.brin6].klassen.append(klas)
    for group in bestuur.lesgroepen:
        views[group.brin6].lesgroepen.append(group)
    for view in views.values():
        view.index()
    return list(views.values())


def _write(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str,
    encoding: str = "utf-8",
    lineterminator: str = "\n",
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=lineterminator)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _full_name(person: Pupil | Teacher) -> str:
    return " ".join(p for p in (person.roepnaam, person.voorvoegsel, person.achternaam) if p)


# -- Magister ------------------------------------------------------------------------------------

MAGISTER_LEERLINGEN = (
    "Stamnr",
    "Id",
    "Login",
    "Email",
    "Roepnaam",
    "Tussenv",
    "Achternaam",
    "Lesperiode",
    "Leerjaar",
    "Klas",
    "Studie",
    "Profiel",
    "Groepen",
    "Vakken",
    "Locatie",
    "Mentor",
    "EckId",
)
MAGISTER_DOCENTEN = (
    "Stamnr",
    "Id",
    "Login",
    "Email",
    "Code",
    "Roepnaam",
    "Tussenv",
    "Achternaam",
    "Naam",
    "Functie",
    "Groepvakken",
    "Klasvakken",
    "Docentvakken",
    "Locatie",
)
MAGISTER_LESGROEPEN = (
    "Lesgroep",
    "Vak",
    "Vakomschrijving",
    "Leerjaar",
    "Studie",
    "Klas",
    "Lesperiode",
    "Locatie",
)


def _write_magister(bestuur: Bestuur, out_dir: Path) -> list[Path]:
    lesperiode = f"{bestuur.school_year.start_year}/{bestuur.school_year.start_year + 1}"
    options = {"delimiter": ";", "encoding": "utf-8-sig", "lineterminator": "\r\n"}
    written = [
        _write(
            out_dir / "scholen.csv",
            ("BRIN6", "Naam", "Locatie"),
            ((s.brin6, s.name, s.name) for s in bestuur.schools),
            **options,
        )
    ]
    for view in _views(bestuur):
        folder = out_dir / view.school.brin6
        locatie = view.school.name
        leerlingen = (_magister_pupil(view, p, lesperiode, locatie) for p in view.pupils)
        docenten = (_magister_teacher(view, t, locatie) for t in view.teachers)
        groepen = (
            (g.name, g.vak, g.vaknaam, g.leerjaar, g.onderwijssoort, g.klas or "", lesperiode, locatie)
            for g in view.lesgroepen
        )
        written.append(_write(folder / "leerlingen.csv", MAGISTER_LEERLINGEN, leerlingen, **options))
        written.append(_write(folder / "docenten.csv", MAGISTER_DOCENTEN, docenten, **options))
        written.append(_write(folder / "lesgroepen.csv", MAGISTER_LESGROEPEN, groepen, **options))
    return written


def _magister_pupil(view: _SchoolView, p: Pupil, lesperiode: str, locatie: str) -> tuple[object, ...]:
    groups = view.groups_of_pupil.get(p.stamnr, [])
    clusters = MULTI.join(g.name for g in groups if g.klas is None)
    vakken = MULTI.join(dict.fromkeys(g.vak for g in groups))
    return (
        p.stamnr,
        p.login,
        p.login,
        p.email or "",
        p.roepnaam,
        p.voorvoegsel,
        p.achternaam,
        lesperiode,
        p.leerjaar,
        p.klas,
        p.onderwijssoort,
        p.profiel or "",
        clusters,
        vakken,
        locatie,
        view.mentor.get(p.klas) or "",
        p.eckid or "",
    )


def _magister_teacher(view: _SchoolView, t: Teacher, locatie: str) -> tuple[object, ...]:
    groups = view.groups_of_teacher.get(t.docentcode, [])
    groepvakken = MULTI.join(g.name for g in groups if g.klas is None)
    klasvakken = MULTI.join(g.name for g in groups if g.klas is not None)  # named <klas>.<vak>
    docentvakken = MULTI.join(sorted({g.vak for g in groups}))
    return (
        t.stamnr,
        t.login,
        t.login,
        t.email,
        t.docentcode,
        t.roepnaam,
        t.voorvoegsel,
        t.achternaam,
        _full_name(t),
        t.functie,
        groepvakken,
        klasvakken,
        docentvakken,
        locatie,
    )


# -- Somtoday ------------------------------------------------------------------------------------

SOMTODAY_LEERLINGEN = (
    "leerlingnummer",
    "eckid",
    "roepnaam",
    "voorvoegsel",
    "achternaam",
    "emailadres",
    "gebruikersnaam",
    "vestiging",
    "schooljaar",
    "leerjaar",
    "opleiding",
    "stamgroep",
    "lesgroepen",
)
SOMTODAY_MEDEWERKERS = (
    "medewerkernummer",
    "eckid",
    "afkorting",
    "roepnaam",
    "voorvoegsel",
    "achternaam",
    "emailadres",
    "gebruikersnaam",
    "functie",
    "vestiging",
    "lesgroepen",
    "mentor_van",
)
SOMTODAY_LESGROEPEN = (
    "naam",
    "vak",
    "vaknaam",
    "leerjaar",
    "onderwijssoort",
    "stamgroep",
    "schooljaar",
    "vestiging",
)


def _write_somtoday(bestuur: Bestuur, out_dir: Path) -> list[Path]:
    year = str(bestuur.school_year)
    options = {"delimiter": ";"}
    written = [
        _write(
            out_dir / "scholen.csv",
            ("brin6", "naam"),
            ((s.brin6, s.name) for s in bestuur.schools),
            **options,
        )
    ]
    for view in _views(bestuur):
        folder = out_dir / view.school.brin6
        vestiging = view.school.name
        leerlingen = (
            (
                p.stamnr,
                p.eckid or "",
                p.roepnaam,
                p.voorvoegsel,
                p.achternaam,
                p.email or "",
                p.login,
                vestiging,
                year,
                p.leerjaar,
                p.onderwijssoort,
                p.klas,
                MULTI.join(g.name for g in view.groups_of_pupil.get(p.stamnr, [])),
            )
            for p in view.pupils
        )
        medewerkers = (
            (
                t.stamnr,
                "",
                t.docentcode,
                t.roepnaam,
                t.voorvoegsel,
                t.achternaam,
                t.email,
                t.login,
                t.functie,
                vestiging,
                MULTI.join(g.name for g in view.groups_of_teacher.get(t.docentcode, [])),
                MULTI.join(view.mentor_of.get(t.docentcode, [])),
            )
            for t in view.teachers
        )
        groepen = (
            (g.name, g.vak, g.vaknaam, g.leerjaar, g.onderwijssoort, g.klas or "", year, vestiging)
            for g in view.lesgroepen
        )
        written.append(_write(folder / "leerlingen.csv", SOMTODAY_LEERLINGEN, leerlingen, **options))
        written.append(_write(folder / "medewerkers.csv", SOMTODAY_MEDEWERKERS, medewerkers, **options))
        written.append(_write(folder / "lesgroepen.csv", SOMTODAY_LESGROEPEN, groepen, **options))
    return written


# -- koppel-native -------------------------------------------------------------------------------

KOPPEL_SCHOOLS = ("brin6", "name")
KOPPEL_PERSONS = (
    "id",
    "kind",
    "schools",
    "eckid",
    "roepnaam",
    "voorvoegsel",
    "achternaam",
    "email",
    "leerlingnummer",
    "docentcode",
    "username",
    "leerjaar",
)
KOPPEL_GROUPS = (
    "id",
    "kind",
    "name",
    "school",
    "school_year",
    "leerjaar",
    "subject",
    "subject_name",
    "onderwijssoort",
    "parent",
)
KOPPEL_MEMBERSHIPS = ("person", "group", "school", "role", "start", "end")


def staff_id(teacher: Teacher) -> str:
    """Person ids are unique across the whole export; staff numbers get their own prefix."""
    return f"mw{teacher.stamnr}"


def _write_koppel(bestuur: Bestuur, out_dir: Path) -> list[Path]:
    year = str(bestuur.school_year)
    persons: list[Sequence[object]] = []
    groups: list[Sequence[object]] = []
    memberships: list[Sequence[object]] = []
    for view in _views(bestuur):
        brin6 = view.school.brin6
        persons.extend(_koppel_pupil(p, brin6) for p in view.pupils)
        persons.extend(_koppel_staff(t, brin6) for t in view.teachers)
        groups.extend(_koppel_klas(k, year) for k in view.klassen)
        groups.extend(_koppel_lesgroep(g, year) for g in view.lesgroepen)
        memberships.extend(_koppel_memberships(view))
    options = {"delimiter": ","}
    return [
        _write(
            out_dir / "schools.csv", KOPPEL_SCHOOLS, ((s.brin6, s.name) for s in bestuur.schools), **options
        ),
        _write(out_dir / "persons.csv", KOPPEL_PERSONS, persons, **options),
        _write(out_dir / "groups.csv", KOPPEL_GROUPS, groups, **options),
        _write(out_dir / "memberships.csv", KOPPEL_MEMBERSHIPS, memberships, **options),
    ]


def _koppel_pupil(p: Pupil, brin6: str) -> tuple[object, ...]:
    return (
        p.stamnr,
        "student",
        brin6,
        p.eckid or "",
        p.roepnaam,
        p.voorvoegsel,
        p.achternaam,
        p.email or "",
        p.stamnr,
        "",
        p.login,
        p.leerjaar,
    )


def _koppel_staff(t: Teacher, brin6: str) -> tuple[object, ...]:
    return (
        staff_id(t),
        "staff",
        brin6,
        "",
        t.roepnaam,
        t.voorvoegsel,
        t.achternaam,
        t.email,
        "",
        t.docentcode,
        t.login,
        "",
    )


def _koppel_memberships(view: _SchoolView) -> Iterator[tuple[object, ...]]:
    """One school's memberships: pupils in their klas, mentors of their klas, then each lesgroep's
    pupils and teachers."""
    brin6 = view.school.brin6
    teacher_ids = {t.docentcode: staff_id(t) for t in view.teachers}
    yield from ((p.stamnr, p.klas, brin6, "student", "", "") for p in view.pupils)
    yield from (
        (teacher_ids[k.mentor], k.name, brin6, "mentor", "", "")
        for k in view.klassen
        if k.mentor in teacher_ids
    )
    for g in view.lesgroepen:
        yield from ((s, g.name, brin6, "student", "", "") for s in g.pupils)
        yield from ((teacher_ids[c], g.name, brin6, "teacher", "", "") for c in g.teachers)


def _koppel_klas(k: Klas, year: str) -> tuple[object, ...]:
    return (k.name, "stamgroep", k.name, k.brin6, year, k.leerjaar, "", "", k.onderwijssoort, "")


def _koppel_lesgroep(g: Lesgroep, year: str) -> tuple[object, ...]:
    return (
        g.name,
        "lesgroep",
        g.name,
        g.brin6,
        year,
        g.leerjaar,
        g.vak,
        g.vaknaam,
        g.onderwijssoort,
        g.klas or "",
    )
