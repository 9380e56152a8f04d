"""Somtoday Connect's JSON records, in the spec's words.

The spec is the OpenAPI document "Somtoday Connect - Generiek Koppelvlak" 14.10.0.

Only the fields koppel uses are modelled; everything else in a record is ignored. **Every field is
optional**, because the spec says so in three ways: "Wanneer de waarde van een veld in Somtoday null
is, wordt dat veld niet aan de JSON toegevoegd"; a field the school did not grant (veldpermissies)
is missing too; and a list may be ``[]``. An explicit ``null`` is accepted as well, and an absent or
null list reads as empty. Python names are the wire names (they are already readable Dutch), so a
reader can hold this module next to the spec.

Records are validated one at a time (:func:`parse_records`): a record that breaks the spec's types
is reported and left out, and the rest of the page still counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

__all__ = [
    "ErrorBody",
    "Leerling",
    "LeerlingVestiging",
    "Lesgroep",
    "LesgroepReferentie",
    "Medewerker",
    "Mentor",
    "Opleiding",
    "Plaatsing",
    "RecordProblem",
    "Stamgroep",
    "Vestiging",
    "VestigingReferentie",
    "parse_records",
]


def _none_as_empty(value: object) -> object:
    return [] if value is None else value


def _blank_as_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


T = TypeVar("T")
OptionalList = Annotated[list[T], BeforeValidator(_none_as_empty)]
Text = Annotated[str | None, BeforeValidator(_blank_as_none)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class VestigingReferentie(_Record):
    """Spec: "Een referentie naar een Vestiging met het uuid en de naam van de Vestiging erbij." """

    uuid: Text = None
    naam: Text = None


class ExternalIdentifier(_Record):
    """Spec: "Lijst van BRIN6 nummers van de Vestiging met eventueel bijbehorende digideliveryID's." """

    brinnr: Text = None


class Vestiging(_Record):
    """Spec: "Een Vestiging is een organisatorisch lichaam binnen een school." Data is read per vestiging."""

    uuid: Text = None
    naam: Text = None
    afkorting: Text = None
    brins: OptionalList[str] = Field(
        default_factory=list, description="Lijst van BRIN6 nummers van de Vestiging."
    )
    externalidentifiers: OptionalList[ExternalIdentifier] = Field(default_factory=list)


class LesgroepReferentie(_Record):
    """Spec: "Een verwijzing naar een Lesgroep met het uuid en de naam van de Lesgroep." """

    uuid: Text = None
    naam: Text = None


class LeerlingVestiging(_Record):
    """Spec: "Het UUID van een leerling en de Vestiging waar je die leerling kan vinden." """

    uuid: Text = None


class Mentor(_Record):
    """Spec: "Een referentie naar de Medewerker die als Mentor optreedt voor een Leerling." """

    medewerker_uuid: Text = None
    toewijzing: Text = Field(
        default=None,
        description="Plaatsing | EersteMentorStamgroep | TweedeMentorStamgroep: how the mentor was assigned "
        "(to the pupil's plaatsing, or as first or second mentor of the stamgroep).",
    )


class Stamgroep(_Record):
    """Spec: "Een groep leerlingen, maar niet aan een specifiek vak gebonden." (the klas)"""

    uuid: Text = None
    naam: Text = Field(default=None, description='e.g. "H4D"')
    omschrijving: Text = None
    leerjaar: int | None = None
    onderwijssoort: Text = None
    leerlingen: OptionalList[LeerlingVestiging] = Field(
        default_factory=list,
        description="Verwijzingen naar de Leerlingen in deze Stamgroep. Niet gevuld als stamgroep via "
        "Plaatsing wordt uitgeleverd.",
    )
    mentoren: OptionalList[Mentor] = Field(default_factory=list)


class Opleiding(_Record):
    """The vestiging's own name for a national opleiding (e.g. afkorting "HAVO-NG")."""

    afkorting: Text = None
    naam: Text = None


class Plaatsing(_Record):
    """Spec: "Een Plaatsing geeft aan welk onderwijs een Leerling op een bepaalde Vestiging … volgt." """

    uuid: Text = None
    schooljaar: Text = Field(
        default=None, description='"Het schooljaar waarbinnen deze Plaatsing valt", e.g. "2021/2022".'
    )
    startdatum: dt.date | None = Field(default=None, description="Geldig vanaf (inclusief), YYYY-MM-DD.")
    einddatum: dt.date | None = Field(default=None, description="Geldig tot en met, YYYY-MM-DD.")
    leerjaar: int | None = Field(default=None, description="Het leerjaar (1 - 6) tijdens deze Plaatsing.")
    opleiding: Opleiding | None = None
    stamgroep: Stamgroep | None = None
    mentoren: OptionalList[Mentor] = Field(default_factory=list)


class Leerling(_Record):
    """A pupil: "uniek binnen een Instelling", but possibly placed at several vestigingen over time."""

    uuid: Text = None
    eckid: Text = Field(default=None, description="Het ECK-ID van de Leerling.")
    leerlingnummer: int | None = Field(default=None, description="Uniek binnen de Instelling.")
    roepnaam: Text = None
    voornamen: Text = None
    voorvoegsel: Text = None
    achternaam: Text = None
    emailadres: Text = Field(default=None, description="Het is niet gegarandeerd dat dit uniek is.")
    gebruikersnaam: Text = Field(default=None, description="De gebruikersnaam (inlognaam) van het account.")
    plaatsingen: OptionalList[Plaatsing] = Field(default_factory=list)
    lesgroepen: OptionalList[LesgroepReferentie] = Field(
        default_factory=list,
        description="De Lesgroepen waar de Leerling in zit of … gedurende een moment binnen het "
        "peilschooljaar zal zitten.",
    )


class Medewerker(_Record):
    """Spec: "Een Medewerker … is uniek op Instellingsniveau" and may work at several vestigingen."""

    uuid: Text = None
    eckid: Text = None
    roepnaam: Text = None
    voorletters: Text = None
    voorvoegsel: Text = None
    achternaam: Text = None
    emailadres: Text = None
    medewerkernummer: Text = Field(
        default=None, description='"begint altijd met Medewerker", e.g. "Medewerker 51326".'
    )
    afkorting: Text = Field(
        default=None,
        description="De afkorting van de Medewerker zoals de school die heeft bepaald (the docentcode).",
    )
    gebruikersnaam: Text = None
    lesgroepen: OptionalList[LesgroepReferentie] = Field(
        default_factory=list, description="De Lesgroepen waar deze Medewerker docent van is."
    )
    is_docent: bool | None = None
    datum_in_dienst: dt.date | None = None
    datum_uit_dienst: dt.date | None = None


class Lesgroep(_Record):
    """A teaching group of one school year: "Lesgroepen zijn maar één schooljaar geldig." """

    uuid: Text = None
    naam: Text = Field(default=None, description='e.g. "h4bBIO"')
    leerlingen: OptionalList[LeerlingVestiging] = Field(default_factory=list)
    docenten: OptionalList[str] = Field(
        default_factory=list, description="UUIDs van alle Medewerkers die docent van deze Lesgroep zijn."
    )
    vak: Text = Field(default=None, description="De afkorting van het Vak van de Lesgroep. Kan leeg zijn.")
    vaknaam: Text = None
    leerjaar: int | None = None
    schooljaar: Text = Field(default=None, description='e.g. "2021/2022"')
    onderwijssoort: Text = Field(default=None, description='e.g. "HAVO-TT"')


class ErrorBody(_Record):
    """Somtoday's ``Error``: "Foutmelding" with a numeric code, a problem and a clarification."""

    code: int | None = None
    problem: Text = None
    clarification: Text = None

    def __str__(self) -> str:
        parts = [p for p in (self.problem, self.clarification) if p]
        text = ": ".join(parts) if parts else "no description"
        return f"{text} (code {self.code})" if self.code is not None else text


R = TypeVar("R", bound=_Record)


class RecordProblem:
    """One record that could not be read: its position on the page, its uuid if known, and why."""

    __slots__ = ("index", "reason", "uuid")

    def __init__(self, index: int, uuid: str | None, reason: str) -> None:
        self.index = index
        self.uuid = uuid
        self.reason = reason


def parse_records(model: type[R], items: Iterable[Any]) -> tuple[list[R], list[RecordProblem]]:
    """Validate each raw item as ``model``; bad items become problems instead of stopping the page."""
    records: list[R] = []
    problems: list[RecordProblem] = []
    for index, item in enumerate(items):
        uuid = item.get("uuid") if isinstance(item, dict) else None
        if not isinstance(item, dict):
            problems.append(RecordProblem(index, None, f"is a JSON {type(item).__name__}, not an object"))
            continue
        try:
            records.append(model.model_validate(item))
        except ValidationError as exc:
            problems.append(RecordProblem(index, uuid if isinstance(uuid, str) else None, _describe(exc)))
    return records, problems


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"
