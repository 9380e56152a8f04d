"""Somtoday Connect's JSON records, in the spec's words.

The spec is the OpenAPI document "Somtoday Connect - Generiek Koppelvlak" 14.10.0.

Only the fields koppel uses are modelled; everything else in a record is ignored. **Every field is
optional**, because the spec says so in three ways: "Wanneer de waarde van een veld in Somtoday null
is, wordt dat veld niet aan de JSON toegevoegd"; a field the school did not grant (veldpermissies)
is missing too; and a list may be ``[]``. An explicit ``null`` is accepted as well, and an absent or
null list reads as empty. Python names are the wire names (they are already readable Dutch), so a
reader can hold this module next to the spec.

Records are validated one at a time (:func:`parse_records`): a record that breaks the spec's types
is reported and left out, and the rest of the page still counts. So is a record with a value koppel
does not accept whatever the spec allows: every string is bounded by its kind (an id, a name, a code,
an e-mail address: :data:`koppel.textsafe.FIELD_LIMITS`) and may hold no NUL, control or bidi
character (:func:`koppel.textsafe.field_problem`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from koppel.textsafe import FIELD_LIMITS, FieldKind, field_problem

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
    "PlaatsingStamgroep",
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


REFUSED = {"field_too_long": "field-too-long", "bad_character": "bad-character"}
"""The pydantic error types of a value :func:`field_problem` refuses → their diagnostic codes."""


def _accepted(kind: FieldKind) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is not None:
            problem = field_problem(value, kind)
            if problem is not None:
                error = "field_too_long" if len(value) > FIELD_LIMITS[kind] else "bad_character"
                raise PydanticCustomError(error, "{problem}", {"problem": problem})
        return value

    return AfterValidator(check)


def _dropped(kind: FieldKind) -> AfterValidator:
    """In a reference to another record: a value koppel does not accept is left out (None), not the record
    that holds the reference. The referred record's own endpoint reports it."""

    def check(value: str | None) -> str | None:
        return None if value is not None and field_problem(value, kind) is not None else value

    return AfterValidator(check)


def _accepted_ids(values: list[str]) -> list[str]:
    return [value for value in values if field_problem(value, "id") is None]


T = TypeVar("T")
OptionalList = Annotated[list[T], BeforeValidator(_none_as_empty)]
Text = Annotated[str | None, BeforeValidator(_blank_as_none), _accepted("text")]
Id = Annotated[str | None, BeforeValidator(_blank_as_none), _accepted("id")]
Name = Annotated[str | None, BeforeValidator(_blank_as_none), _accepted("name")]
Code = Annotated[str | None, BeforeValidator(_blank_as_none), _accepted("code")]
Email = Annotated[str | None, BeforeValidator(_blank_as_none), _accepted("email")]
CodeItem = Annotated[str, _accepted("code")]
RefId = Annotated[str | None, BeforeValidator(_blank_as_none), _dropped("id")]
RefName = Annotated[str | None, BeforeValidator(_blank_as_none), _dropped("name")]
RefCode = Annotated[str | None, BeforeValidator(_blank_as_none), _dropped("code")]
RefText = Annotated[str | None, BeforeValidator(_blank_as_none), _dropped("text")]
RefIds = Annotated[list[str], BeforeValidator(_none_as_empty), AfterValidator(_accepted_ids)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class VestigingReferentie(_Record):
    """Spec: "Een referentie naar een Vestiging met het uuid en de naam van de Vestiging erbij." """

    uuid: RefId = None
    naam: RefName = None


class ExternalIdentifier(_Record):
    """Spec: "Lijst van BRIN6 nummers van de Vestiging met eventueel bijbehorende digideliveryID's." """

    brinnr: Code = None


class Vestiging(_Record):
    """Spec: "Een Vestiging is een organisatorisch lichaam binnen een school." Data is read per vestiging."""

    uuid: Id = None
    naam: Name = None
    afkorting: Code = None
    brins: OptionalList[CodeItem] = Field(
        default_factory=list, description="Lijst van BRIN6 nummers van de Vestiging."
    )
    externalidentifiers: OptionalList[ExternalIdentifier] = Field(default_factory=list)


class LesgroepReferentie(_Record):
    """Spec: "Een verwijzing naar een Lesgroep met het uuid en de naam van de Lesgroep." """

    uuid: RefId = None
    naam: RefName = None


class LeerlingVestiging(_Record):
    """Spec: "Het UUID van een leerling en de Vestiging waar je die leerling kan vinden." """

    uuid: RefId = None


class Mentor(_Record):
    """Spec: "Een referentie naar de Medewerker die als Mentor optreedt voor een Leerling." """

    medewerker_uuid: RefId = None
    toewijzing: Code = Field(
        default=None,
        description="Plaatsing | EersteMentorStamgroep | TweedeMentorStamgroep: how the mentor was assigned "
        "(to the pupil's plaatsing, or as first or second mentor of the stamgroep).",
    )


class Stamgroep(_Record):
    """Spec: "Een groep leerlingen, maar niet aan een specifiek vak gebonden." (the klas)"""

    uuid: Id = None
    naam: Name = Field(default=None, description='e.g. "H4D"')
    omschrijving: Text = None
    leerjaar: int | None = None
    onderwijssoort: Code = None
    leerlingen: OptionalList[LeerlingVestiging] = Field(
        default_factory=list,
        description="Verwijzingen naar de Leerlingen in deze Stamgroep. Niet gevuld als stamgroep via "
        "Plaatsing wordt uitgeleverd.",
    )
    mentoren: OptionalList[Mentor] = Field(default_factory=list)


class PlaatsingStamgroep(Stamgroep):
    """The stamgroep as a plaatsing refers to it: a value koppel does not accept is left out, not the pupil
    (the stamgroep's own record is left out and reported)."""

    uuid: RefId = None
    naam: RefName = None
    omschrijving: RefText = None
    onderwijssoort: RefCode = None


class Opleiding(_Record):
    """The vestiging's own name for a national opleiding (e.g. afkorting "HAVO-NG")."""

    afkorting: RefCode = None
    naam: RefName = None


class Plaatsing(_Record):
    """Spec: "Een Plaatsing geeft aan welk onderwijs een Leerling op een bepaalde Vestiging … volgt." """

    uuid: Id = None
    schooljaar: Code = Field(
        default=None, description='"Het schooljaar waarbinnen deze Plaatsing valt", e.g. "2021/2022".'
    )
    startdatum: dt.date | None = Field(default=None, description="Geldig vanaf (inclusief), YYYY-MM-DD.")
    einddatum: dt.date | None = Field(default=None, description="Geldig tot en met, YYYY-MM-DD.")
    leerjaar: int | None = Field(default=None, description="Het leerjaar (1 - 6) tijdens deze Plaatsing.")
    opleiding: Opleiding | None = None
    stamgroep: PlaatsingStamgroep | None = None
    mentoren: OptionalList[Mentor] = Field(default_factory=list)


class Leerling(_Record):
    """A pupil: "uniek binnen een Instelling", but possibly placed at several vestigingen over time."""

    uuid: Id = None
    eckid: Id = Field(default=None, description="Het ECK-ID van de Leerling.")
    leerlingnummer: int | None = Field(default=None, description="Uniek binnen de Instelling.")
    roepnaam: Name = None
    voornamen: Name = None
    voorvoegsel: Name = None
    achternaam: Name = None
    emailadres: Email = Field(default=None, description="Het is niet gegarandeerd dat dit uniek is.")
    gebruikersnaam: Id = Field(default=None, description="De gebruikersnaam (inlognaam) van het account.")
    plaatsingen: OptionalList[Plaatsing] = Field(default_factory=list)
    lesgroepen: OptionalList[LesgroepReferentie] = Field(
        default_factory=list,
        description="De Lesgroepen waar de Leerling in zit of … gedurende een moment binnen het "
        "peilschooljaar zal zitten.",
    )


class Medewerker(_Record):
    """Spec: "Een Medewerker … is uniek op Instellingsniveau" and may work at several vestigingen."""

    uuid: Id = None
    eckid: Id = None
    roepnaam: Name = None
    voorletters: Name = None
    voorvoegsel: Name = None
    achternaam: Name = None
    emailadres: Email = None
    medewerkernummer: Code = Field(
        default=None, description='"begint altijd met Medewerker", e.g. "Medewerker 51326".'
    )
    afkorting: Code = Field(
        default=None,
        description="De afkorting van de Medewerker zoals de school die heeft bepaald (the docentcode).",
    )
    gebruikersnaam: Id = None
    lesgroepen: OptionalList[LesgroepReferentie] = Field(
        default_factory=list, description="De Lesgroepen waar deze Medewerker docent van is."
    )
    is_docent: bool | None = None
    datum_in_dienst: dt.date | None = None
    datum_uit_dienst: dt.date | None = None


class Lesgroep(_Record):
    """A teaching group of one school year: "Lesgroepen zijn maar één schooljaar geldig." """

    uuid: Id = None
    naam: Name = Field(default=None, description='e.g. "h4bBIO"')
    leerlingen: OptionalList[LeerlingVestiging] = Field(default_factory=list)
    docenten: RefIds = Field(
        default_factory=list, description="UUIDs van alle Medewerkers die docent van deze Lesgroep zijn."
    )
    vak: Code = Field(default=None, description="De afkorting van het Vak van de Lesgroep. Kan leeg zijn.")
    vaknaam: Name = None
    leerjaar: int | None = None
    schooljaar: Code = Field(default=None, description='e.g. "2021/2022"')
    onderwijssoort: Code = Field(default=None, description='e.g. "HAVO-TT"')


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
    """One record that could not be read: its position on the page, its uuid if known, and why.

    ``code`` is ``bad-record`` for a record that breaks the spec, ``field-too-long`` or ``bad-character`` for
    one with a value koppel does not accept (``field`` names it).
    """

    __slots__ = ("code", "field", "index", "reason", "uuid")

    def __init__(
        self, index: int, uuid: str | None, reason: str, code: str = "bad-record", field: str | None = None
    ) -> None:
        self.index = index
        self.uuid = uuid
        self.reason = reason
        self.code = code
        self.field = field


def parse_records(model: type[R], items: Iterable[Any]) -> tuple[list[R], list[RecordProblem]]:
    """Validate each raw item as ``model``; bad items become problems instead of stopping the page."""
    records: list[R] = []
    problems: list[RecordProblem] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(RecordProblem(index, None, f"is a JSON {type(item).__name__}, not an object"))
            continue
        try:
            records.append(model.model_validate(item))
        except ValidationError as exc:
            problems.append(_problem(index, _usable_uuid(item.get("uuid")), exc))
    return records, problems


def _usable_uuid(value: object) -> str | None:
    """The record's uuid for messages, unless it is itself what is wrong with the record."""
    return value if isinstance(value, str) and value.strip() and field_problem(value, "id") is None else None


def _problem(index: int, uuid: str | None, exc: ValidationError) -> RecordProblem:
    errors = exc.errors(include_url=False, include_input=False)
    refused = next((e for e in errors if e["type"] in REFUSED), None)
    first = refused or errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    reason = f"{where}: {first['msg']}{more}"
    if refused is not None:
        return RecordProblem(index, uuid, reason, REFUSED[refused["type"]], where)
    return RecordProblem(index, uuid, reason)
