"""Settings of a OneRoster CSV target: one zip in one folder, one OneRoster version, bulk or delta.

``koppel connectors describe oneroster-csv`` prints this model; every field carries its description. There
is no secret: the target writes files. Who may read the folder (the platform's SFTP drop, a share) is the
folder's business; the zip holds names, user names and e-mail addresses, never a password.
"""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ArchivedClasses", "Mode", "OneRosterCsvSettings", "SuspendedUsers", "Voorvoegsel"]

DEFAULT_BULK_NAME = "oneroster.zip"
DEFAULT_DELTA_NAME = "oneroster-{sequence:06d}-{timestamp}.zip"
_PLACEHOLDERS = frozenset({"sequence", "timestamp", "mode"})


class Mode(StrEnum):
    """``bulk``: every zip is the whole roster (manifest ``bulk``; status and dateLastModified empty).
    ``delta``: every zip after the first holds only the rows that changed (manifest ``delta``; status
    ``active`` or ``tobedeleted``, dateLastModified the publication time); the first is a bulk."""

    BULK = "bulk"
    DELTA = "delta"


class Voorvoegsel(StrEnum):
    """Where the Dutch voorvoegsel goes: OneRoster has no field for it."""

    FAMILY_NAME = "family_name"  # familyName "van der Berg" (what the platform shows as the surname)
    MIDDLE_NAME = "middle_name"  # middleName "van der", familyName "Berg" (sorts by Berg)


class SuspendedUsers(StrEnum):
    """What a suspended person (left the LAS, within the grace period) is in users.csv."""

    DISABLE = "disable"  # kept, enabledUser=FALSE: the platform keeps the account and its work, no login
    OMIT = "omit"  # left out (bulk) / tobedeleted (delta), as if deleted


class ArchivedClasses(StrEnum):
    """What an archived group (last school year's, after the jaarovergang) is in classes.csv and courses.csv."""

    KEEP = "keep"  # kept, with last year's academicSession as its term
    OMIT = "omit"  # left out (bulk) / tobedeleted (delta)


class OneRosterCsvSettings(BaseModel):
    """A OneRoster 1.1 or 1.2 CSV zip, published atomically in a folder that a platform (Brightspace IPSIS,
    Schoology, a rostering service) picks up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: str = Field(
        min_length=1,
        description="Folder the zip is published in (made if missing). Relative to the config file. The zip "
        "appears whole or not at all: it is written beside its final name and renamed.",
    )
    version: Literal["1.1", "1.2"] = Field(
        "1.1",
        description="OneRoster version: 1.1 (Brightspace and most consumers read only this) or 1.2 (roles.csv "
        "instead of users.role and users.orgSourcedIds).",
    )
    mode: Mode = Field(
        Mode.BULK,
        description="bulk: every zip is the whole roster, under one fixed name; delta: after a first bulk zip, "
        "each zip holds only what changed (status active/tobedeleted), under a new name with a sequence number. "
        "Use delta only where the platform applies deltas in order.",
    )
    file_name: str | None = Field(
        None,
        description=f"Name of the zip. Placeholders: {{sequence}} (1 for the first publication), {{timestamp}} "
        f"(UTC, 20250901T020000Z), {{mode}} (bulk or delta). Default: {DEFAULT_BULK_NAME!r} in bulk mode, "
        f"{DEFAULT_DELTA_NAME!r} in delta mode (a delta needs {{sequence}} or {{timestamp}}: each zip a new name).",
    )
    mirror: str | None = Field(
        None,
        description="Where koppel keeps what it last published (JSON, mode 0600). Default: "
        "<folder>/.koppel/<target name>.db. Keep it with the folder: a delta is computed against it.",
    )
    voorvoegsel: Voorvoegsel = Field(
        Voorvoegsel.FAMILY_NAME,
        description="family_name: familyName 'van der Berg'; middle_name: middleName 'van der' and familyName "
        "'Berg'.",
    )
    suspended_users: SuspendedUsers = Field(
        SuspendedUsers.DISABLE,
        description="disable: a suspended person stays in users.csv with enabledUser FALSE until deleted after the "
        "grace period; omit: left out at once (most platforms then delete the account).",
    )
    archived_classes: ArchivedClasses = Field(
        ArchivedClasses.KEEP,
        description="keep: last year's groups stay in classes.csv/courses.csv with last year's term after the "
        "jaarovergang (the platform keeps the course and its work); omit: they are left out / tobedeleted.",
    )
    system_name: str = Field(
        "koppel", min_length=1, max_length=100,
        description="manifest.csv's source.systemName and source.systemCode.",
    )
    batch_size: int = Field(
        1000, ge=1, le=100_000, description="Changes staged per apply call (nothing is sent until the zip is written)."
    )

    @field_validator("file_name")
    @classmethod
    def _file_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"{value!r}: a file name, not a path (set folder for the folder)")
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"{value!r}: {exc}") from None
        unknown = fields - _PLACEHOLDERS
        if unknown:
            raise ValueError(f"{value!r}: unknown placeholder(s) {', '.join(sorted(unknown))} (known: "
                             f"{', '.join(sorted(_PLACEHOLDERS))})")
        if not value.lower().endswith(".zip"):
            raise ValueError(f"{value!r}: the name of a zip ends in .zip")
        return value

    @model_validator(mode="after")
    def _delta_names_differ(self) -> OneRosterCsvSettings:
        if self.mode is Mode.DELTA and self.file_name is not None and not (
                "{sequence" in self.file_name or "{timestamp" in self.file_name):
            raise ValueError(f"file_name {self.file_name!r}: in delta mode every zip needs a new name; put "
                             "{sequence} or {timestamp} in it")
        return self

    @property
    def name_template(self) -> str:
        if self.file_name is not None:
            return self.file_name
        return DEFAULT_DELTA_NAME if self.mode is Mode.DELTA else DEFAULT_BULK_NAME
