"""Rule settings per target profile: course strategy, hierarchy, names, accounts, filters.

Every field carries a description: ``koppel connectors describe`` and the docs print them.
"""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "TEMPLATE_FIELDS",
    "AccountSettings",
    "CourseStrategy",
    "FilterSettings",
    "HierarchySettings",
    "NameTemplates",
    "RulesSettings",
]


class CourseStrategy(StrEnum):
    LESGROEP = "lesgroep"  # one course per lesgroep/cluster (default)
    KLAS_VAK = "klas-vak"  # one course per klas × vak
    VAK_JAARLAAG = "vak-jaarlaag"  # one course per vak × leerjaar (jaarlaag)


_PERSON_FIELDS = {"roepnaam", "voorvoegsel", "achternaam", "initial", "leerlingnummer", "docentcode", "las_key",
                  "brin6", "school_name"}
TEMPLATE_FIELDS: dict[str, set[str]] = {
    "school": {"school_name", "brin6", "brin4"},
    "year": {"school_year", "school_year_short", "school_name", "brin6"},
    "leerjaar": {"leerjaar", "school_year", "school_year_short"},
    "klas": {"klas", "leerjaar", "onderwijssoort", "school_year", "school_year_short", "brin6"},
    "course": {"groep", "vak", "vak_naam", "klas", "leerjaar", "school_year", "school_year_short", "school_name", "brin6"},
    "course_code": {"groep", "vak", "vak_naam", "klas", "leerjaar", "school_year", "school_year_short", "brin6"},
    "username": _PERSON_FIELDS,
    "email": _PERSON_FIELDS | {"username", "domain"},
}


def check_template(template: str, kind: str) -> str:
    allowed = TEMPLATE_FIELDS[kind]
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"template {template!r} is not valid: {exc}") from None
    for f in fields:
        base = f.split("[", 1)[0].split(".", 1)[0]
        if not base:
            raise ValueError(f"template {template!r}: empty placeholder {{}}; name one of {', '.join(sorted(allowed))}")
        if base not in allowed:
            raise ValueError(f"template {template!r}: unknown placeholder {{{base}}}; use {', '.join(sorted(allowed))}")
    return template


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HierarchySettings(_Strict):
    """Where groups go: site root › school › school year › [leerjaar] › klas; courses under the year."""

    year: bool = Field(True, description="Put a school-year level under each school (itslearning's advice, so "
                                         "last year's courses stay where they were).")
    leerjaar: bool = Field(False, description="Put a 'Leerjaar N' level under the school year.")
    klassen: bool = Field(True, description="Create a hierarchy node per klas (stamgroep) with its pupils and mentors.")
    course_parent: Literal["year", "leerjaar", "school"] = Field(
        "year", description="Where courses hang: under the school year, the leerjaar level or the school.")


class NameTemplates(_Strict):
    """Names of what koppel creates, as Python format strings; unknown placeholders are refused at start."""

    school: str = Field("{school_name}", description="School node name. Placeholders: school_name, brin6, brin4.")
    year: str = Field("{school_year}", description="School-year node name, e.g. '2025-2026'.")
    leerjaar: str = Field("Leerjaar {leerjaar}", description="Leerjaar node name.")
    klas: str = Field("{klas}", description="Klas node name. Placeholders: klas, leerjaar, onderwijssoort, school_year.")
    course: str = Field("{vak_naam} {groep}", description="Course title. Placeholders: groep, vak, vak_naam, klas, "
                                                         "leerjaar, school_year, school_year_short, school_name.")
    course_code: str = Field("{groep} {school_year_short}", description="Course code.")

    @field_validator("school", "year", "leerjaar", "klas", "course", "course_code")
    @classmethod
    def _check(cls, value: str, info: ValidationInfo) -> str:
        return check_template(value, info.field_name or "")


class AccountSettings(_Strict):
    """User names and e-mail addresses. An existing account is never renamed; collisions get 2, 3, …"""

    username_student: str = Field("{leerlingnummer}", description="Pupil user name template. Placeholders: "
                                  "roepnaam, voorvoegsel, achternaam, initial, leerlingnummer, las_key, brin6.")
    username_staff: str = Field("{docentcode}", description="Staff user name template (docentcode by default).")
    username_guardian: str = Field("{initial}{voorvoegsel}{achternaam}", description="Guardian user name template.")
    lowercase: bool = Field(True, description="Lower-case user names.")
    ascii_only: bool = Field(True, description="Strip diacritics and keep only a-z, 0-9, '.', '-' and '_'.")
    email: Literal["las", "template", "las-or-template", "none"] = Field(
        "las-or-template", description="Where e-mail comes from: the LAS, the template, the LAS with the template "
                                       "as fallback, or not at all.")
    email_template: str = Field("{username}@{domain}", description="E-mail template. Placeholders: username, "
                                "roepnaam, voorvoegsel, achternaam, initial, leerlingnummer, docentcode, domain.")
    domain: str | None = Field(None, description="Mail domain for the e-mail template, e.g. 'leerling.school.nl'.")
    username_from: str | None = Field(
        None, description="Another target of the tenant whose user names this target takes: a person with an "
        "account there gets the same user name here (e.g. the directory's accounts, which itslearning and Teams log "
        "in with). An account here is never renamed; a name another person here already has is not taken over.")

    @field_validator("username_student", "username_staff", "username_guardian")
    @classmethod
    def _check_username(cls, value: str) -> str:
        return check_template(value, "username")

    @field_validator("email_template")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return check_template(value, "email")

    @model_validator(mode="after")
    def _domain_needed(self) -> AccountSettings:
        if self.email == "template" and "{domain}" in self.email_template and not self.domain:
            raise ValueError("email = 'template' uses {domain}: set accounts.domain")
        return self


def _pupils_and_staff() -> list[Literal["student", "staff", "guardian"]]:
    return ["student", "staff"]


class FilterSettings(_Strict):
    """What is in scope. Empty lists mean everything. Patterns use shell-style wildcards (fnmatch)."""

    schools: list[str] = Field(default_factory=list, description="BRIN6 codes (or patterns) to include.")
    exclude_schools: list[str] = Field(default_factory=list, description="BRIN6 codes (or patterns) to leave out.")
    leerjaren: list[int] = Field(default_factory=list, description="Leerjaren to include (pupils and their groups).")
    klassen: list[str] = Field(default_factory=list, description="Klas names (or patterns, e.g. '4*') to include.")
    person_kinds: list[Literal["student", "staff", "guardian"]] = Field(
        default_factory=_pupils_and_staff, description="Kinds of person to provision.")


class RulesSettings(_Strict):
    course_strategy: CourseStrategy = Field(CourseStrategy.LESGROEP, description="How lesgroepen become courses.")
    hierarchy: HierarchySettings = Field(default_factory=HierarchySettings)
    names: NameTemplates = Field(default_factory=NameTemplates)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    guardians: bool = Field(False, description="Provision guardians (ouders/verzorgers) with links to their children.")
