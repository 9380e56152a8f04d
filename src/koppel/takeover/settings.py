"""How a takeover recognises what another koppeling (or a CSV import) put on the platform.

The settings live in the target's own table, ``[tenants.<id>.targets.<name>.takeover]``, because the
sync ids to recognise are those of the platform's previous integration. Every field carries its
description: ``koppel connectors describe itslearning`` prints them.

A *sync-id template* is a Python format string whose placeholders are LAS values; koppel fills it in for
every LAS person or group and looks the result up among the sync ids it found on the site (compared
without regard to case). ``EC_{brin}_{leerlingnummer}`` finds pupil 100105 of 38XC00 as
``EC_38XC_100105``. Which groups a group template is filled in for follows from its placeholders:

* ``{lesgroep}`` — courses made from a lesgroep; ``{klas}`` — klassen (stamgroepen);
* ``{groep}``, ``{las_key}``, ``{vak}`` or ``{code}`` — courses and klassen;
* otherwise ``{jaar}``, ``{school_year}`` or ``{school_year_short}`` — the school-year folders;
* otherwise (only ``{brin}``, ``{brin4}``, ``{brin6}``, ``{school_name}``) — the schools.
"""

from __future__ import annotations

import string
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "GROUP_PLACEHOLDERS",
    "PERSON_PLACEHOLDERS",
    "GroupRule",
    "PersonRule",
    "TakeoverSettings",
    "placeholders",
    "template_scope",
]

PERSON_PLACEHOLDERS: dict[str, str] = {
    "leerlingnummer": "the pupil's leerlingnummer (stamnummer)",
    "docentcode": "the teacher's docentcode (afkorting), as the LAS writes it",
    "las_key": "the person's key in the LAS export",
    "eckid": "the ECK iD",
    "brin": "BRIN (four characters, 38XC) of a school the person is in",
    "brin4": "the same as brin",
    "brin6": "BRIN and vestiging (38XC00)",
}
GROUP_PLACEHOLDERS: dict[str, str] = {
    "lesgroep": "the lesgroep's name in the LAS (1A.ne, 4H.wisB1); courses only",
    "klas": "the klas (stamgroep) name (1A); klassen only",
    "groep": "the LAS group's name: a lesgroep or a klas",
    "las_key": "the group's key in the LAS export",
    "vak": "the vak code of a lesgroep (ne)",
    "code": "the code koppel's rules give the group (names.course_code)",
    "jaar": "the first calendar year of the school year (2025)",
    "school_year": "the school year (2025-2026)",
    "school_year_short": "the short school year (2526)",
    "brin": "BRIN (four characters) of the group's school",
    "brin4": "the same as brin",
    "brin6": "BRIN and vestiging of the group's school",
    "school_name": "the school's name",
}
_COURSE_ONLY = {"lesgroep"}
_KLAS_ONLY = {"klas"}
_LAS_GROUP = {"groep", "las_key", "vak", "code"}
_YEAR = {"jaar", "school_year", "school_year_short"}


class PersonRule(StrEnum):
    """Ways to recognise a person's existing account, tried in the configured order."""

    SYNC_ID = "sync_id"  # the account's sync id is a person_sync_ids template filled in for them
    ECKID = "eckid"  # the account's sync id or one of its extension fields is their ECK iD
    EMAIL = "email"  # the same e-mail address
    USERNAME = "username"  # the user name koppel's rules would give them, with the same achternaam


class GroupRule(StrEnum):
    """Ways to recognise an existing hierarchy or course, tried in the configured order."""

    SYNC_ID = "sync_id"  # its sync id is a group_sync_ids template filled in for the group
    CODE = "code"  # a course with the same course code, in the same school
    TITLE = "title"  # the same name and kind, in the same school, under the same parent where known
    PARENT = "parent"  # the only school on each side; the only folder named after the school year in a school


def placeholders(template: str) -> list[str]:
    """The placeholder names in ``template``; ValueError when it is not a valid format string."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r} is not valid: {exc}") from None
    names = []
    for _, name, _, _ in parsed:
        if name is None:
            continue
        base = name.split("[", 1)[0].split(".", 1)[0]
        if not base:
            raise ValueError(f"template {template!r}: empty placeholder {{}}; name one of the placeholders")
        names.append(base)
    return names


def template_scope(template: str) -> str:
    """Which desired groups a group template is filled in for: course, klas, group, year or school."""
    names = set(placeholders(template))
    if names & _COURSE_ONLY and names & _KLAS_ONLY:
        return "none"
    if names & _COURSE_ONLY:
        return "course"
    if names & _KLAS_ONLY:
        return "klas"
    if names & _LAS_GROUP:
        return "group"
    if names & _YEAR:
        return "year"
    return "school"


def _check_templates(templates: list[str], allowed: dict[str, str]) -> list[str]:
    for template in templates:
        names = placeholders(template)
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise ValueError(
                f"template {template!r}: unknown placeholder {{{unknown[0]}}}; use {', '.join(sorted(allowed))}"
            )
        if not names:
            raise ValueError(f"template {template!r} has no placeholder, so it would name one id for everyone")
    return templates


class TakeoverSettings(BaseModel):
    """How `koppel takeover` recognises what another koppeling or an import left on the platform.

    Nothing here is used by a normal plan or sync: only by the takeover's matching (docs/takeover.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_sync_ids: list[str] = Field(
        default_factory=list,
        description=(
            "Sync-id templates of the previous koppeling's persons, e.g. \"EC_{brin}_{leerlingnummer}\" and "
            "\"EC_{brin}_{docentcode}\". Placeholders: " + ", ".join(sorted(PERSON_PLACEHOLDERS)) + "."
        ),
    )
    group_sync_ids: list[str] = Field(
        default_factory=list,
        description=(
            "Sync-id templates of its hierarchies and courses, e.g. \"EC_{brin}_{lesgroep}_{jaar}\". "
            "Placeholders: " + ", ".join(sorted(GROUP_PLACEHOLDERS)) + "; {lesgroep} fills in for courses, "
            "{klas} for klassen, a year placeholder alone for school-year folders, BRIN alone for schools."
        ),
    )
    match_persons_on: list[PersonRule] = Field(
        default_factory=lambda: ["sync_id", "eckid", "email", "username"],
        validate_default=True,
        description=(
            "Rules that recognise a person's account, strongest first: sync_id, eckid, email, username. "
            "A match must be one to one; two candidates on either side are listed, never guessed."
        ),
    )
    match_groups_on: list[GroupRule] = Field(
        default_factory=lambda: ["sync_id", "code", "title", "parent"],
        validate_default=True,
        description=(
            "Rules that recognise a hierarchy or course, strongest first: sync_id, code, title, parent (the "
            "only school on each side; the only folder of a school named after the school year)."
        ),
    )
    mapping: str | None = Field(
        None,
        description=(
            "A CSV file (columns: sync id, koppel key) with the matches rules cannot make; relative to the "
            "configuration file. `koppel takeover --mapping FILE` overrides it."
        ),
    )

    @field_validator("person_sync_ids")
    @classmethod
    def _person_templates(cls, value: list[str]) -> list[str]:
        return _check_templates(value, PERSON_PLACEHOLDERS)

    @field_validator("group_sync_ids")
    @classmethod
    def _group_templates(cls, value: list[str]) -> list[str]:
        _check_templates(value, GROUP_PLACEHOLDERS)
        for template in value:
            if template_scope(template) == "none":
                raise ValueError(f"template {template!r} names both {{lesgroep}} and {{klas}}; a group is one or "
                                 "the other")
        return value

    @field_validator("match_persons_on", "match_groups_on")
    @classmethod
    def _no_repeats(cls, value: list[StrEnum]) -> list[StrEnum]:
        if len(set(value)) != len(value):
            raise ValueError("name each rule once")
        return value
