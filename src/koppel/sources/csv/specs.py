"""The columns each kind of file may carry, with the header names real exports use for them.

One vocabulary serves every LAS layout: Magister (TeamSync/ADFuncties and HelloID-style Decibel
lists), Somtoday and a school's own ``custom`` export all describe the same things (a pupil's
stamnummer, klas, lesgroepen …) under different headers, so a header is matched against every
alias of every field, case-, space- and punctuation-insensitively (``Leerfase.Leerjaar`` =
``leerfase leerjaar``). The koppel-native layout has its own, stricter tables.

``ignored`` lists headers real exports carry that koppel deliberately does not read (data
minimisation: no birth dates, no addresses); they are accepted silently instead of being reported
as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LAS_TABLES",
    "NATIVE_TABLES",
    "Column",
    "TableSpec",
    "normalize_header",
]


def normalize_header(text: str) -> str:
    """``E-mail`` → ``email``, ``ECK iD`` → ``eckid``, ``Leerfase.Leerjaar`` → ``leerfaseleerjaar``."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Column:
    """One field of a table; ``aliases[0]`` is the header koppel's docs and errors use."""

    field: str
    aliases: tuple[str, ...]
    description: str
    required: bool = False
    multi: bool = False


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A kind of file: its setting name (``pupils``), its Dutch label, columns and ignored headers."""

    name: str
    label: str
    columns: tuple[Column, ...]
    ignored: tuple[str, ...] = ()

    def column(self, field: str) -> Column:
        for column in self.columns:
            if column.field == field:
                return column
        raise KeyError(field)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.columns)


_PERSON_IGNORED = (
    "Id",
    "Naam",
    "Volledige_naam",
    "Loginaccount.Volledige_naam",
    "Voorletters",
    "INITIALS",
    "Voornamen",
    "Geslacht",
    "GENDER",
    "M_V",
    "Geboortedatum",
    "geb_datum_str",
    "BIRTHDATE",
    "Adres",
    "Straat",
    "STREET",
    "Huisnummer",
    "Huisnr",
    "HOUSENR",
    "HOUSENRSUFIX",
    "Postcode",
    "POSTALCODE",
    "Woonplaats",
    "Plaats",
    "CITY",
    "Telefoon",
    "Mobiel",
    "Mobiel_nr",
    "gsm",
    "Land",
    "Nationaliteit",
    "c_vrij1",
    "c_vrij2",
    "c_vrij3",
    "c_vrij4",
)

PUPILS = TableSpec(
    name="pupils",
    label="leerlingen",
    columns=(
        Column(
            "number",
            ("Stamnr", "Stamnummer", "Leerlingnummer", "stamnr_str", "Leerling nr"),
            "The pupil's number in the LAS, unique within the school (the LAS key).",
            required=True,
        ),
        Column(
            "eckid",
            ("EckId", "ECK iD", "ECK-id", "Eck_id"),
            "ECK iD (https://ketenid.nl/201703/…); the preferred person key where present.",
        ),
        Column(
            "username",
            ("Login", "Gebruikersnaam", "Loginaccount.Naam", "sis_gebr__login_naam", "Username"),
            "The pupil's username in the LAS.",
        ),
        Column("email", ("Email", "E-mail", "Emailadres", "E-mailadres", "Mail"), "E-mail address."),
        Column(
            "roepnaam", ("Roepnaam", "Voornaam", "FIRSTNAME"), "Name the pupil is called by.", required=True
        ),
        Column(
            "voorvoegsel",
            ("Tussenv", "Tussenvoegsel", "Voorvoegsel", "Tussenvoegsels", "PREFIX"),
            "Voorvoegsel (tussenvoegsel) of the achternaam: 'van der'.",
        ),
        Column(
            "achternaam",
            ("Achternaam", "LASTNAME", "Familienaam"),
            "Surname without voorvoegsel.",
            required=True,
        ),
        Column(
            "school_year",
            ("Lesperiode", "Schooljaar", "STUDYPERIOD", "Lesperiode.Korte_omschrijving"),
            "School year of the row: 2025-2026, 2025/2026 or 2526. Rows of other years are left out.",
        ),
        Column("leerjaar", ("Leerjaar", "Leerfase.Leerjaar", "STUDYYEAR", "Jaarlaag"), "Leerjaar 1–6."),
        Column(
            "klas",
            ("Klas", "Stamgroep", "Basisgroep", "Stamklas", "CLASS"),
            "The pupil's klas (stamgroep); may be empty for a pupil without one.",
            required=True,
        ),
        Column(
            "studie",
            ("Studie", "Opleiding", "Onderwijssoort", "STUDY"),
            "Studie/opleiding (havo, vwo, vmbo-t …); kept as the klas's onderwijssoort.",
        ),
        Column(
            "profiel", ("Profiel", "Profiel.Code", "Profielcode", "PROFILECODE"), "Profiel (read, not used)."
        ),
        Column(
            "lesgroepen",
            ("Groepen", "Lesgroepen", "Clusters", "Clustergroepen"),
            "The lesgroepen/clusters the pupil is in (multi-value).",
            multi=True,
        ),
        Column(
            "vakken",
            ("Vakken", "Vakkeuzes"),
            "Vak codes the pupil takes (multi-value); with the klas they place the pupil in whole-klas "
            "lesgroepen <klas>.<vak> that a docent's Klasvakken or the lesgroepen file declares.",
            multi=True,
        ),
        Column(
            "locatie",
            ("Locatie", "Vestiging", "School", "LOCATION", "Administratieve_eenheid.Omschrijving"),
            "Locatie/vestiging: a BRIN6, or a name mapped to a BRIN6 by the locations setting or the "
            "scholen file.",
        ),
        Column(
            "mentor",
            ("Mentor", "Mentorcode", "PMENTORCODE"),
            "Docentcode of the pupil's mentor; that docent becomes mentor of the pupil's klas.",
        ),
    ),
    ignored=(
        *_PERSON_IGNORED,
        "Profiel.Omschrijving", "PROFILEDESC", "PMENTORNAME", "PMENTORMAIL", "CMENTORCODE", "CMENTORNAME",
        "CMENTORMAIL", "ADJUNCSECTOR", "Aanmelddatum", "studiebegindatum", "studieeinddatum", "EXTERNEID",
    ),
)

STAFF = TableSpec(
    name="staff",
    label="docenten",
    columns=(
        Column(
            "number",
            ("Stamnr", "Medewerkernummer", "Personeelsnummer", "stamnr_str", "Nummer"),
            "The staff member's number in the LAS (the LAS key).",
            required=True,
        ),
        Column(
            "code",
            ("Code", "Afkorting", "Docentcode", "doc_code"),
            "Docentcode (afkorting), unique within the school; pupils' Mentor column refers to it.",
        ),
        Column("eckid", ("EckId", "ECK iD", "ECK-id", "Eck_id"), "ECK iD, where the LAS has one for staff."),
        Column(
            "username", ("Login", "Gebruikersnaam", "Loginaccount.Naam", "Username"), "Username in the LAS."
        ),
        Column("email", ("Email", "E-mail", "Emailadres", "E-mailadres", "Mail"), "E-mail address."),
        Column(
            "roepnaam", ("Roepnaam", "Voornaam", "FIRSTNAME"), "Name the docent is called by.", required=True
        ),
        Column(
            "voorvoegsel",
            ("Tussenv", "Tussenvoegsel", "Voorvoegsel", "Tussenvoegsels", "PREFIX"),
            "Voorvoegsel (tussenvoegsel).",
        ),
        Column(
            "achternaam",
            ("Achternaam", "LASTNAME", "Familienaam"),
            "Surname without voorvoegsel.",
            required=True,
        ),
        Column(
            "lesgroepen",
            ("Groepvakken", "Lesgroepen", "Groepen"),
            "Lesgroepen/clusters the docent teaches (multi-value).",
            multi=True,
        ),
        Column(
            "klasvakken",
            ("Klasvakken",),
            "Whole-klas lesgroepen the docent teaches, written <klas>.<vak> (1A.ne) (multi-value).",
            multi=True,
        ),
        Column(
            "mentor_of",
            ("Mentor van", "Mentorgroepen", "Mentorklassen", "Mentor", "Stamgroepen"),
            "Klassen (stamgroepen) the docent is mentor of (multi-value).",
            multi=True,
        ),
        Column(
            "locatie",
            ("Locatie", "Vestiging", "School", "LOCATION", "Administratieve_eenheid.Omschrijving"),
            "Locatie/vestiging, as for leerlingen.",
        ),
    ),
    ignored=(
        *_PERSON_IGNORED,
        "Functie", "Functie.Omschr", "Docentvakken", "Vakken", "datum_in_str", "dVertrek_str",
        "Oude_personeelscode", "Geheim", "Is docent", "is_docent",
    ),
)

GROUPS = TableSpec(
    name="groups",
    label="lesgroepen",
    columns=(
        Column(
            "name",
            ("Lesgroep", "Naam", "Groep", "Groepsnaam"),
            "Name of the lesgroep, as the other files use it.",
            required=True,
        ),
        Column("vak", ("Vak", "Vakcode", "Vakafkorting", "Vak.Vakcode"), "Vak code (nat, wisB)."),
        Column("vaknaam", ("Vakomschrijving", "Vaknaam", "Vak.Omschrijving", "Omschrijving"), "Vak name."),
        Column("leerjaar", ("Leerjaar", "Jaarlaag"), "Leerjaar 1–6."),
        Column("studie", ("Studie", "Onderwijssoort", "Opleiding"), "Onderwijssoort (havo, vwo …)."),
        Column(
            "klas",
            ("Klas", "Stamgroep"),
            "For a whole-klas lesgroep: its klas. Pupils of that klas who take the vak join it.",
        ),
        Column("school_year", ("Lesperiode", "Schooljaar"), "School year of the row."),
        Column("locatie", ("Locatie", "Vestiging", "School"), "Locatie/vestiging, as for leerlingen."),
    ),
)

SCHOOLS = TableSpec(
    name="schools",
    label="scholen",
    columns=(
        Column(
            "brin6",
            ("BRIN6", "BRIN", "Brinnummer", "Brincode"),
            "BRIN6 of the school (12AB00).",
            required=True,
        ),
        Column("naam", ("Naam", "Schoolnaam", "Name"), "The school's name."),
        Column(
            "locatie",
            ("Locatie", "Vestiging", "Vestigingsnaam"),
            "The value the Locatie column of the other files has for this school.",
        ),
    ),
)

NATIVE_SCHOOLS = TableSpec(
    name="schools",
    label="schools",
    columns=(
        Column("brin6", ("brin6",), "BRIN6 of the school.", required=True),
        Column("name", ("name",), "The school's name."),
    ),
)

NATIVE_PERSONS = TableSpec(
    name="persons",
    label="persons",
    columns=(
        Column("id", ("id",), "The person's LAS key: unique across the whole export.", required=True),
        Column("kind", ("kind",), "student, staff or guardian (leerling, medewerker, ouder).", required=True),
        Column(
            "schools", ("schools", "school"), "BRIN6 codes of the person's schools (multi-value).", multi=True
        ),
        Column("eckid", ("eckid",), "ECK iD; the preferred person key where present."),
        Column("roepnaam", ("roepnaam",), "Name the person is called by.", required=True),
        Column("voorvoegsel", ("voorvoegsel",), "Voorvoegsel (tussenvoegsel)."),
        Column("achternaam", ("achternaam",), "Surname without voorvoegsel.", required=True),
        Column("email", ("email",), "E-mail address."),
        Column("leerlingnummer", ("leerlingnummer",), "Leerlingnummer (stamnummer) of a pupil."),
        Column("docentcode", ("docentcode",), "Docentcode (afkorting) of a staff member."),
        Column("username", ("username",), "Username in the LAS."),
        Column("leerjaar", ("leerjaar",), "Leerjaar of a pupil."),
        Column("children", ("children",), "For a guardian: ids of their children (multi-value).", multi=True),
    ),
)

NATIVE_GROUPS = TableSpec(
    name="groups",
    label="groups",
    columns=(
        Column(
            "id", ("id",), "The group's LAS key: unique within its school and school year.", required=True
        ),
        Column(
            "kind", ("kind",), "stamgroep (klas), lesgroep (cluster), vak, jaarlaag or school.", required=True
        ),
        Column("name", ("name",), "Display name; defaults to the id."),
        Column("school", ("school",), "BRIN6 of the group's school (or the school setting)."),
        Column("school_year", ("school_year",), "School year, 2025-2026. Rows of other years are left out."),
        Column("leerjaar", ("leerjaar",), "Leerjaar 1–6."),
        Column("subject", ("subject",), "Vak code."),
        Column("subject_name", ("subject_name",), "Vak name."),
        Column("onderwijssoort", ("onderwijssoort",), "havo, vwo, vmbo-t …"),
        Column("parent", ("parent",), "Id of the parent group in the same school (a lesgroep's klas)."),
    ),
)

NATIVE_MEMBERSHIPS = TableSpec(
    name="memberships",
    label="memberships",
    columns=(
        Column("person", ("person",), "Id of the person.", required=True),
        Column("group", ("group",), "Id of the group.", required=True),
        Column("school", ("school",), "BRIN6 of the group; needed when group ids repeat across schools."),
        Column(
            "role",
            ("role",),
            "student, teacher, mentor or guardian (leerling, docent, mentor, ouder).",
            required=True,
        ),
        Column("start", ("start",), "First day (YYYY-MM-DD), optional."),
        Column("end", ("end",), "Last day (YYYY-MM-DD, inclusive), optional."),
    ),
)

LAS_TABLES: dict[str, TableSpec] = {t.name: t for t in (PUPILS, STAFF, GROUPS, SCHOOLS)}
NATIVE_TABLES: dict[str, TableSpec] = {
    t.name: t for t in (NATIVE_SCHOOLS, NATIVE_PERSONS, NATIVE_GROUPS, NATIVE_MEMBERSHIPS)
}
