"""The EDEXML 2.1 vocabulary as plain values: what a file or a UWLR answer says, in its own words.

EDEXML is the one data model behind two ways a Dutch LAS hands over its pupils: the ``EDEX`` file
that ParnasSys and ESIS export for Cito LOVS and Basispoort, and the ``leerlinggegevens`` that a
UWLR 2.x service (Magister, Somtoday, ESIS) sends in its SOAP answer. Both are read into these
values first, and only then mapped onto koppel's Roster (:mod:`.mapping`), so that the reading of
the standard and koppel's interpretation of it can be read, and tested, apart.

Names and docstrings follow ``EDEXML.elementen.xsd`` (versie 2016-12-07) and
``EDEXML.types.variabel.xsd`` (versie 2017-02-17). Only what a koppeling may need is kept: no BSN,
no address, no birth date, no nationality (AVG/GDPR data minimisation, DESIGN §3). Every value
carries the line it was read from, so a diagnostic can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EDEXML_ROLLEN",
    "EdexDocument",
    "Groep",
    "GroepKoppeling",
    "GroepRef",
    "Leerkracht",
    "Leerling",
    "ReadProblem",
    "SchoolBlok",
    "Vestiging",
]

EDEXML_ROLLEN: dict[str, str] = {
    "ADJ": "Adjunctdirecteur",
    "ADM": "Administratief medewerk(st)er",
    "CON": "Conciërge",
    "DIR": "Directeur / Schoolleider",
    "ICT": "ICT-coördinator",
    "IB": "Interne begeleider",
    "KLA": "Klassenassistent (SBO)",
    "LRK": "Leerkracht / Groepsleraar",
    "LOS": "Lerarenondersteuner",
    "LOC": "Locatieleider",
    "OWA": "Onderwijsassistent (BO)",
    "OUD": "Ouder",
    "RT": "Remedial teacher",
    "SMW": "Schoolmaatschappelijk werk(st)er",
    "STA": "Stagiair(e)",
    "TAL": "Toetsafname leider",
    "VAK": "Vakleerkracht (bijv. voor gymnastiek, muziek of handvaardigheid)",
}
"""``EDEXLeerkrachtRolType``: "Rol Leerkracht bij Groep of onafhankelijk van Groep"."""


@dataclass(frozen=True, slots=True)
class SchoolBlok:
    """``SchoolType``: the school the data is about, and the year.

    ``schooljaar`` is required ("2025-2026"); the school is named by ``brincode`` (``99XX``) with an
    optional ``dependancecode`` ("De inhoud 00 betekent hetzelfde als leeg"), or — the Flemish
    variant — by ``instellingsnummer``, or by a ``schoolkey`` only.
    """

    schooljaar: str | None
    peildatum: str | None
    brincode: str | None
    dependancecode: str | None
    schoolkey: str | None
    instellingsnummer: str | None
    aanmaakdatum: str | None
    xsdversie: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class Vestiging:
    """``VestigingType``: a location of the school, named (``naam``, ≤ 64) but without a BRIN of its own."""

    key: str
    naam: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class Groep:
    """``GroepType`` (``samengesteld`` False) or ``SamengesteldeGroepType`` (True).

    A ``groep`` is the stamgroep (klas, basisgroep): "exactly 0..1 per leerling", with a required
    ``jaargroep``. A ``samengestelde_groep`` is every other group (lesgroep, cluster, zorggroep) and
    has no jaargroep. Their keys share one key space (``groepKeyUnique``).
    """

    key: str
    naam: str | None
    jaargroep: str | None
    samengesteld: bool
    line: int | None


@dataclass(frozen=True, slots=True)
class GroepRef:
    """``GroepReferentieType``: a reference by ``@key`` from a leerling to a groep."""

    key: str
    line: int | None


@dataclass(frozen=True, slots=True)
class GroepKoppeling:
    """``LeerkrachtGroepReferentieType``: a leerkracht's link to a groep, with that link's ``rol`` codes."""

    key: str
    samengesteld: bool
    rollen: tuple[str, ...]
    line: int | None


@dataclass(frozen=True, slots=True)
class Leerling:
    """``LeerlingType``, the fields a koppeling uses.

    ``key`` (required) is the LAS key; ``eckid`` (optional, unique in the message) is the ECK iD —
    UWLR 2.3: "Als een leerling een ECK-iD heeft dan moet dit als identifier … worden gebruikt".
    ``jaargroep`` is the pupil's own year group (needed in a combinatiegroep, jaargroep ``C``).
    """

    key: str
    eckid: str | None
    achternaam: str | None
    voorvoegsel: str | None
    voornamen: str | None
    voorletters: str | None
    roepnaam: str | None
    jaargroep: str | None
    groep: GroepRef | None
    samengestelde_groepen: tuple[GroepRef, ...]
    vestiging: str | None
    gebruikersnaam: str | None
    emailadres: str | None
    instroomdatum: str | None
    uitstroomdatum: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class Leerkracht:
    """``LeerkrachtType``, the fields a koppeling uses; ``rollen`` hold for links without rollen of their own.

    ``key`` is the LAS key (the docentcode in most LAS), ``eckid`` the ECK iD where the LAS has one.
    """

    key: str
    eckid: str | None
    achternaam: str | None
    voorvoegsel: str | None
    voornamen: str | None
    voorletters: str | None
    roepnaam: str | None
    gebruikersnaam: str | None
    emailadres: str | None
    rollen: tuple[str, ...]
    groepen: tuple[GroepKoppeling, ...]
    line: int | None


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """Something in the document that had to be left out while reading (an element without its key, or
    with a value koppel does not accept); ``ref`` is the element's place within its school, ``field`` the
    value's name."""

    code: str
    message: str
    line: int | None
    ref: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class EdexDocument:
    """One school's data: the content of an ``EDEX`` file or of a UWLR ``leerlinggegevens`` element."""

    school: SchoolBlok
    vestigingen: tuple[Vestiging, ...]
    groepen: tuple[Groep, ...]
    leerlingen: tuple[Leerling, ...]
    leerkrachten: tuple[Leerkracht, ...]
    problems: tuple[ReadProblem, ...]
