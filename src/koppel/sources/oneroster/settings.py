"""Settings of the OneRoster CSV source, one documented field each (``koppel connectors describe oneroster``).

A OneRoster export is either *bulk* (every file the full truth) or *delta* (only the rows that
changed, each with a ``status``). koppel keeps a complete snapshot per run, so ``path`` must be a
bulk export; deltas are applied on top of it, in the order listed. A delta alone is never read as
a roster: it cannot say who is *still* there.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from koppel.model.roster import BRIN6_RE, SchoolYear

__all__ = ["OneRosterSettings", "VoorvoegselSource"]


class VoorvoegselSource(StrEnum):
    """Where the Dutch voorvoegsel ("van der") is found: OneRoster has no field for it."""

    SPLIT = "split"
    MIDDLE_NAME = "middle_name"
    NONE = "none"


class OneRosterSettings(BaseModel):
    """Read a roster from a OneRoster 1.1 or 1.2 CSV export (a zip or a folder), bulk plus optional deltas."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="The bulk export: a .zip or a folder holding manifest.csv and the CSV files. Relative to "
        "the config file.",
    )
    deltas: list[str] = Field(
        default_factory=list,
        description="Delta exports (zips or folders) to apply on top of path, oldest first: rows with status "
        "active are added or replaced, rows with status tobedeleted removed.",
    )
    schools: dict[str, str] = Field(
        default_factory=dict,
        description="BRIN6 per org, keyed by the org's sourcedId or name, for orgs whose identifier is not a "
        "BRIN6. An org listed here is read as a school whatever its type.",
    )
    school_year: str | None = Field(
        default=None,
        description="The school year to read (2025-2026). Unset: the year koppel asks for if the export has "
        "it, else the only school year in academicSessions, else the one containing today.",
    )
    voorvoegsel: VoorvoegselSource = Field(
        default=VoorvoegselSource.SPLIT,
        description="split: take a leading voorvoegsel (van, de, van der, 't …) off familyName; middle_name: "
        "the voorvoegsel is in middleName; none: keep familyName whole.",
    )
    max_unpacked_mb: int = Field(
        default=2048,
        gt=0,
        description="Refuse an export whose files together unpack to more than this many megabytes (a zip "
        "bomb, or not an export).",
    )

    @field_validator("schools")
    @classmethod
    def _schools_are_brin6(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{org!r} → {brin6!r}" for org, brin6 in value.items() if not BRIN6_RE.match(brin6)]
        if bad:
            raise ValueError(f"schools must map to BRIN6 codes (12AB00): {', '.join(bad)}")
        return value

    @field_validator("school_year")
    @classmethod
    def _school_year_parses(cls, value: str | None) -> str | None:
        if value is not None:
            SchoolYear.parse(value)
        return value

    @property
    def fixed_school_year(self) -> SchoolYear | None:
        return SchoolYear.parse(self.school_year) if self.school_year else None
