"""Settings of the EDEXML file source, one documented field each (``koppel connectors describe edexml``).

The settings that say how EDEXML is *interpreted* (key scope, ``rol`` codes, school names) are
the same for the UWLR source, which reads the same model over SOAP; their fields and checks live
here once and are reused there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from koppel.model.roster import BRIN6_RE
from koppel.sources.edexml.mapping import KeyScope, RoleChoice

__all__ = [
    "KEY_SCOPE_DESCRIPTION",
    "ROLLEN_DESCRIPTION",
    "EdexmlSettings",
    "check_brin6_names",
    "normalise_rollen",
]

ROLLEN_DESCRIPTION = (
    "EDEXML rol code → teacher, mentor or skip, for leerkrachten whose group link (or who themselves) "
    "carry a rol: {LRK = 'mentor', STA = 'skip'}. Codes not listed, and links without a rol, make a teacher."
)
KEY_SCOPE_DESCRIPTION = (
    "school: a LAS key (@key) is unique within its school only, so the person's LAS key includes the BRIN6 "
    "(the safe default); source: keys are unique across every school of this source (one LAS instance "
    "for the whole bestuur), so one key in two schools is one person. ECK iDs join persons either way."
)


def normalise_rollen(value: dict[str, RoleChoice]) -> dict[str, RoleChoice]:
    """Rol codes are upper case in EDEXML (``LRK``); accept ``lrk`` too."""
    return {code.strip().upper(): choice for code, choice in value.items()}


def check_brin6_names(value: dict[str, str]) -> dict[str, str]:
    bad = [brin6 for brin6 in value if not BRIN6_RE.match(brin6)]
    if bad:
        raise ValueError(f"keys must be BRIN6 codes (12AB00), not {', '.join(repr(b) for b in bad)}")
    return value


class EdexmlSettings(BaseModel):
    """Read EDEXML 2.1 ``EDEX`` files as ParnasSys and ESIS export them: one file per school."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="An EDEXML file, or a folder whose *.xml files are one school's export each. "
        "'{school_year}' is replaced by the school year being read (2025-2026). Relative to the config file.",
    )
    school_names: dict[str, str] = Field(
        default_factory=dict,
        description="BRIN6 → school name. EDEXML gives a school no name; without an entry the name of the "
        "file's only vestiging is used, else the BRIN6.",
    )
    key_scope: KeyScope = Field(default=KeyScope.SCHOOL, description=KEY_SCOPE_DESCRIPTION)
    rollen: dict[str, RoleChoice] = Field(default_factory=dict, description=ROLLEN_DESCRIPTION)
    max_file_mb: int = Field(
        default=256,
        gt=0,
        description="Refuse files larger than this many megabytes (a wrong path, not an export).",
    )

    _rollen = field_validator("rollen")(normalise_rollen)
    _names = field_validator("school_names")(check_brin6_names)
