"""A generated bestuur in Somtoday Connect's own JSON form, written from the spec alone.

This module knows the Connect schemas (``Instelling``, ``Vestiging``, ``Leerling`` with
``Plaatsing``/``Stamgroep``/``Mentor``, ``Medewerker``, ``Lesgroep``, ``Stamgroep``) and the
generator's plain values; it never imports koppel's Somtoday source, so that a misreading of the
spec on either side shows up as a failing test instead of cancelling out.

Rules taken from the spec: a null value is *left out* of the JSON, an empty list is ``[]``;
``schooljaar`` is written ``2026/2027``; dates are ``YYYY-MM-DD``; a leerling carries its
plaatsingen (each with stamgroep and mentoren) and references to its lesgroepen; a medewerker
references the lesgroepen it teaches; a lesgroep lists its leerlingen and docenten (UUIDs).

Inference (the spec does not say): every UUID is derived from the seed and the LAS's own key
(uuid5), so a pupil keeps its UUID from year to year and a lesgroep gets a new one each year
("Lesgroepen zijn maar één schooljaar geldig"). For ``VOLGEND`` a pupil who is also placed this
year at the same vestiging carries both plaatsingen, this year's and next year's; a client must
pick the plaatsing of the year it reads. Onderwijssoort is the generator's code in capitals.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from koppel.generator import Bestuur, GeneratedSchool, Klas, Lesgroep, Pupil, Teacher
from koppel.model.roster import SchoolYear

__all__ = ["Documents", "Identities", "build_documents"]

Record = dict[str, Any]
ENTITIES = ("leerling", "medewerker", "lesgroep", "stamgroep")
_NAMESPACE = uuid.UUID("5b0e2a4c-6f1d-4a7e-9c3b-2d8f1e0a9b71")


class Identities:
    """Stable UUIDs for everything of one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._known: dict[tuple[object, ...], str] = {}  # every reference to a record repeats its UUID

    def _uuid(self, *parts: object) -> str:
        known = self._known.get(parts)
        if known is None:
            name = "\x1f".join(str(p) for p in (self.seed, *parts))
            known = self._known[parts] = str(uuid.uuid5(_NAMESPACE, name))
        return known

    def instelling(self) -> str:
        return self._uuid("instelling")

    def vestiging(self, brin6: str) -> str:
        return self._uuid("vestiging", brin6)

    def leerling(self, stamnr: str) -> str:
        return self._uuid("leerling", stamnr)

    def medewerker(self, stamnr: str) -> str:
        return self._uuid("medewerker", stamnr)

    def plaatsing(self, stamnr: str, year: SchoolYear) -> str:
        return self._uuid("plaatsing", stamnr, year)

    def lesgroep(self, brin6: str, year: SchoolYear, name: str) -> str:
        return self._uuid("lesgroep", brin6, year, name)

    def stamgroep(self, brin6: str, year: SchoolYear, name: str) -> str:
        return self._uuid("stamgroep", brin6, year, name)

    def vak(self, brin6: str, vak: str) -> str:
        return self._uuid("vak", brin6, vak)

    def opleiding(self, brin6: str, onderwijssoort: str) -> str:
        return self._uuid("opleiding", brin6, onderwijssoort)

    def vakkeuze(self, stamnr: str, year: SchoolYear, vak: str) -> str:
        return self._uuid("vakkeuze", stamnr, year, vak)


@dataclass
class Documents:
    """What one peilschooljaar serves: the vestigingen and, per (vestiging uuid, record type), the records."""

    vestigingen: list[Record]
    lists: dict[tuple[str, str], list[Record]] = field(default_factory=dict)
    linked_lesgroepen: set[str] = field(default_factory=set)
    """UUIDs of the lesgroepen "aan een stamgroep gekoppeld" (a whole klas), for ``?stamgroep=true|false``."""

    def records(self) -> Iterator[tuple[str, str, int, Record]]:
        """(vestiging uuid, record type, position, record) in serving order."""
        for (vestiging, entity), records in self.lists.items():
            for position, record in enumerate(records):
                yield vestiging, entity, position, record


def _compact(record: Record) -> Record:
    """Leave out what is null, as Somtoday does ("wordt dat veld niet aan de JSON toegevoegd")."""
    return {k: v for k, v in record.items() if v is not None and v != ""}


def schooljaar(year: SchoolYear) -> str:
    return f"{year.start_year}/{year.start_year + 1}"


def instelling_record(bestuur: Bestuur, ids: Identities) -> Record:
    brins = list(dict.fromkeys(s.brin6[:4] for s in bestuur.schools))
    return {
        "uuid": ids.instelling(),
        "naam": f"Sandbox-instelling {bestuur.seed}",
        "afkorting": "sbx",
        "brins": brins,
    }


def vestiging_record(school: GeneratedSchool, ids: Identities) -> Record:
    afkorting = "".join(word[0] for word in school.name.split() if word[:1].isalpha()).upper()
    return {
        "uuid": ids.vestiging(school.brin6),
        "naam": school.name,
        "afkorting": afkorting,
        "brins": [school.brin6],
        "externalidentifiers": [{"brinnr": school.brin6}],
    }


class _School:
    """One school of one year, indexed the way the records need it."""

    def __init__(self, bestuur: Bestuur, school: GeneratedSchool, ids: Identities) -> None:
        self.bestuur = bestuur
        self.school = school
        self.ids = ids
        self.year = bestuur.school_year
        self.ref = {"uuid": ids.vestiging(school.brin6), "naam": school.name}
        self.pupils = [p for p in bestuur.pupils if p.brin6 == school.brin6]
        self.teachers = [t for t in bestuur.teachers if t.brin6 == school.brin6]
        self.klassen = {k.name: k for k in bestuur.klassen if k.brin6 == school.brin6}
        self.pupils_of_klas: dict[str, list[str]] = {}
        for pupil in self.pupils:
            self.pupils_of_klas.setdefault(pupil.klas, []).append(pupil.stamnr)
        self.lesgroepen = [g for g in bestuur.lesgroepen if g.brin6 == school.brin6]
        self.teacher_uuid = {t.docentcode: ids.medewerker(t.stamnr) for t in self.teachers}
        self.groups_of_pupil: dict[str, list[Lesgroep]] = {}
        self.groups_of_teacher: dict[str, list[Lesgroep]] = {}
        for group in self.lesgroepen:
            for stamnr in group.pupils:
                self.groups_of_pupil.setdefault(stamnr, []).append(group)
            for code in group.teachers:
                self.groups_of_teacher.setdefault(code, []).append(group)

    def lesgroep_ref(self, group: Lesgroep) -> Record:
        return {
            "uuid": self.ids.lesgroep(group.brin6, self.year, group.name),
            "naam": group.name,
            "vestiging": self.ref,
        }

    def mentors(self, klas: Klas) -> list[Record]:
        uuid_ = self.teacher_uuid.get(klas.mentor or "")
        return [{"medewerker_uuid": uuid_, "toewijzing": "EersteMentorStamgroep"}] if uuid_ else []

    def stamgroep_summary(self, klas: Klas) -> Record:
        return _compact(
            {
                "uuid": self.ids.stamgroep(klas.brin6, self.year, klas.name),
                "naam": klas.name,
                "omschrijving": f"Klas {klas.name}",
                "leerjaar": klas.leerjaar,
                "onderwijssoort": klas.onderwijssoort.upper(),
            }
        )

    def plaatsing(self, pupil: Pupil) -> Record:
        klas = self.klassen[pupil.klas]
        return _compact(
            {
                "uuid": self.ids.plaatsing(pupil.stamnr, self.year),
                "schooljaar": schooljaar(self.year),
                "startdatum": self.year.start.isoformat(),
                "einddatum": self.year.end.isoformat(),
                "leerjaar": pupil.leerjaar,
                "opleiding": {
                    "uuid": self.ids.opleiding(pupil.brin6, pupil.onderwijssoort),
                    "afkorting": pupil.onderwijssoort.upper(),
                    "naam": pupil.onderwijssoort.upper(),
                },
                "stamgroep": self.stamgroep_summary(klas),
                "mentoren": self.mentors(klas),
            }
        )

    def vakkeuzes(self, pupil: Pupil) -> list[Record]:
        seen: dict[str, Lesgroep] = {}
        for group in self.groups_of_pupil.get(pupil.stamnr, []):
            seen.setdefault(group.vak, group)
        return [
            {
                "uuid": self.ids.vakkeuze(pupil.stamnr, self.year, vak),
                "begindatum": self.year.start.isoformat(),
                "einddatum": self.year.end.isoformat(),
                "school_vaknaam": group.vaknaam,
                "school_vakafkorting": vak,
                "leerjaar": group.leerjaar,
                "onderwijssoort": group.onderwijssoort.upper(),
                "vestiging": self.ref,
            }
            for vak, group in seen.items()
        ]

    def leerling(self, pupil: Pupil, earlier: Record | None) -> Record:
        plaatsingen = [earlier, self.plaatsing(pupil)] if earlier else [self.plaatsing(pupil)]
        return _compact(
            {
                "uuid": self.ids.leerling(pupil.stamnr),
                "eckid": pupil.eckid,
                "leerlingnummer": int(pupil.stamnr) if pupil.stamnr.isdigit() else None,
                "roepnaam": pupil.roepnaam,
                "voorvoegsel": pupil.voorvoegsel,
                "achternaam": pupil.achternaam,
                "emailadres": pupil.email,
                "gebruikersnaam": pupil.login,
                "vestiging": self.ref,
                "plaatsingen": plaatsingen,
                "lesgroepen": [self.lesgroep_ref(g) for g in self.groups_of_pupil.get(pupil.stamnr, [])],
                "vakkeuzes": self.vakkeuzes(pupil),
                "isActief": True,
            }
        )

    def medewerker(self, teacher: Teacher) -> Record:
        groups = self.groups_of_teacher.get(teacher.docentcode, [])
        return _compact(
            {
                "uuid": self.ids.medewerker(teacher.stamnr),
                "roepnaam": teacher.roepnaam,
                "voorletters": teacher.roepnaam[:1],
                "voorvoegsel": teacher.voorvoegsel,
                "achternaam": teacher.achternaam,
                "emailadres": teacher.email,
                "medewerkernummer": f"Medewerker {teacher.stamnr}",
                "afkorting": teacher.docentcode,
                "lesgroepen": [self.lesgroep_ref(g) for g in groups],
                "vestiging": self.ref,
                "hoofdvestiging": self.ref,
                "is_docent": bool(groups),
                "functie": teacher.functie,
                "gebruikersnaam": teacher.login,
            }
        )

    def pupil_ref(self, stamnr: str) -> Record:
        return {"uuid": self.ids.leerling(stamnr), "vestiging": self.ref}

    def lesgroep(self, group: Lesgroep) -> Record:
        return _compact(
            {
                "uuid": self.ids.lesgroep(group.brin6, self.year, group.name),
                "naam": group.name,
                "leerlingen": [self.pupil_ref(s) for s in group.pupils],
                "docenten": [self.teacher_uuid[c] for c in group.teachers if c in self.teacher_uuid],
                "vak": group.vak,
                "vaknaam": group.vaknaam,
                "vakuuid": self.ids.vak(group.brin6, group.vak),
                "leerjaar": group.leerjaar,
                "schooljaar": schooljaar(self.year),
                "onderwijssoort": group.onderwijssoort.upper(),
                "vestiging": self.ref,
            }
        )

    def stamgroep(self, klas: Klas) -> Record:
        members = sorted(self.pupils_of_klas.get(klas.name, []))
        return {
            **self.stamgroep_summary(klas),
            "leerlingen": [self.pupil_ref(s) for s in members],
            "mentoren": self.mentors(klas),
        }


def _documents(bestuur: Bestuur, ids: Identities, earlier: Bestuur | None) -> Documents:
    documents = Documents([vestiging_record(s, ids) for s in bestuur.schools])
    earlier_schools = {s.brin6: _School(earlier, s, ids) for s in earlier.schools} if earlier else {}
    for generated in bestuur.schools:
        school = _School(bestuur, generated, ids)
        before = earlier_schools.get(generated.brin6)
        placed_before = {p.stamnr: p for p in before.pupils} if before else {}
        vestiging = ids.vestiging(generated.brin6)
        documents.lists[(vestiging, "leerling")] = [
            school.leerling(
                p, before.plaatsing(placed_before[p.stamnr]) if before and p.stamnr in placed_before else None
            )
            for p in sorted(school.pupils, key=lambda p: p.stamnr)
        ]
        documents.lists[(vestiging, "medewerker")] = [
            school.medewerker(t) for t in sorted(school.teachers, key=lambda t: t.docentcode)
        ]
        documents.lists[(vestiging, "lesgroep")] = [
            school.lesgroep(g) for g in sorted(school.lesgroepen, key=lambda g: g.name)
        ]
        documents.linked_lesgroepen.update(
            ids.lesgroep(g.brin6, bestuur.school_year, g.name)
            for g in school.lesgroepen
            if g.klas is not None
        )
        documents.lists[(vestiging, "stamgroep")] = [
            school.stamgroep(k) for k in sorted(school.klassen.values(), key=lambda k: k.name)
        ]
    return documents


def build_documents(current: Bestuur, following: Bestuur | None) -> tuple[Record, dict[str, Documents]]:
    """The instelling, and the documents per peilschooljaar (HUIDIG; VOLGEND when a next year exists)."""
    ids = Identities(current.seed)
    served = {"HUIDIG": _documents(current, ids, None)}
    if following is not None:
        served["VOLGEND"] = _documents(following, ids, current)
    return instelling_record(current, ids), served
