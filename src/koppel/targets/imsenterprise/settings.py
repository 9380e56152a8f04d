"""Settings of an IMS Enterprise 1.1 file target: where the file goes, which platform reads it, and how.

Moodle's ``enrol_imsenterprise`` reads *one* fixed path (its ``imsfilelocation`` setting) on its scheduled
task, and only when the file's modification time and MD5 changed since it last read it; it has no snapshot
semantics (people and enrolments missing from a file are left alone) and reads the file with regular
expressions, not an XML parser. itslearning's IMS-E import compares each file with the previous import
(snapshot semantics: new objects are created, missing ones deleted). ``koppel connectors describe
ims-enterprise`` prints this model; every field carries its description (docs/targets/ims-enterprise.md).
"""

from __future__ import annotations

import string
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from koppel.model.roster import PersonKind, Role

__all__ = ["DEFAULT_FILE_NAME", "Categories", "ImsEnterpriseSettings", "Mode", "Profile"]

DEFAULT_FILE_NAME = "imsenterprise-enrol.xml"  # the name Moodle looks for by default (in $CFG->dataroot/1/)


class Mode(StrEnum):
    """What one published file holds."""

    SNAPSHOT = "snapshot"  # everything koppel manages, plus (Moodle) the removals and updates it must be told
    DELTA = "delta"  # only the changes (recstatus 1 add, 2 update, 3 delete)


class Profile(StrEnum):
    """Which platform reads the file."""

    MOODLE = "moodle"  # enrol_imsenterprise: regular expressions, one fixed path, no snapshot semantics
    ITSLEARNING = "itslearning"  # the IMS-E import application: an XML parser, snapshot semantics


class Categories(StrEnum):
    """Moodle: what a course's ``<org><orgunit>`` holds (the course category Moodle files it under)."""

    SCHOOL = "school"  # one orgunit: the school's name
    PATH = "path"  # one orgunit per parent group, top down (school, school year, …): Moodle's nestedcategories
    NONE = "none"  # no org: Moodle's default category


class ImsEnterpriseSettings(BaseModel):
    """An IMS Enterprise 1.1 XML file that Moodle or itslearning picks up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: str = Field(
        min_length=1,
        description=(
            "Folder the file is written to (relative to koppel.toml's folder, or absolute). For Moodle: the "
            "folder of the plugin's 'File location' (imsfilelocation), which the web server must be able to read."
        ),
    )
    file_name: str = Field(
        DEFAULT_FILE_NAME,
        min_length=1,
        description=(
            "Name of the file in the folder. A fixed name is overwritten by every publication (Moodle reads one "
            "fixed path); with {sequence} in it (e.g. 'koppel-{sequence:06d}.xml') every publication is a new "
            "file numbered 1, 2, 3 …, for a consumer that picks up every file in order."
        ),
    )
    mode: Mode = Field(
        Mode.SNAPSHOT,
        description=(
            "snapshot: every file holds everything koppel manages (safe when a file is overwritten before the "
            "platform read it); delta: only the changes, recstatus 1/2/3. A delta to a fixed name repeats each "
            "change for carry_days (Moodle only), so an overwritten file loses nothing that Moodle did not see."
        ),
    )
    profile: Profile = Field(
        Profile.MOODLE,
        description=(
            "moodle: what Moodle's enrol_imsenterprise can read (regular expressions: no entities in names, "
            "explicit recstatus 2 and 3 records); itslearning: the IMS-E import (snapshot semantics, snapshot "
            "mode only)."
        ),
    )
    mirror_path: str | None = Field(
        None,
        description=(
            "Where koppel keeps what it last published (SQLite). Default: <folder>/.koppel/<target name>.db. "
            "Never delete it while the state holds objects: the next snapshot would be empty."
        ),
    )
    carry_days: int = Field(
        7,
        ge=0,
        le=366,
        description=(
            "Moodle, fixed file name: days an update or a removal is repeated in every file published after it, "
            "so that a file overwritten before Moodle's scheduled task read it loses nothing. Repeating them is "
            "harmless to Moodle. 0 writes each change once (safe only if Moodle reads every file)."
        ),
    )
    source: str = Field(
        "koppel",
        min_length=1,
        max_length=64,
        description="The <sourcedid><source> of every record and the <properties><datasource>.",
    )
    properties_target: str | None = Field(
        None,
        max_length=64,
        description=(
            "The <properties><target> to write. Moodle's 'imsrestricttarget' stops reading a file whose target "
            "differs: set both to the same word (e.g. 'moodle'), or leave both empty."
        ),
    )
    auth: str | None = Field(
        None,
        max_length=20,
        description=(
            "Moodle: the authentication plugin of the accounts (<userid authenticationtype=…>, e.g. 'manual', "
            "'oauth2', 'ldap'). Empty: Moodle gives new accounts the first enabled one."
        ),
    )
    suspend_auth: str | None = Field(
        None,
        max_length=20,
        description=(
            "Moodle: the authentication plugin a suspended person's account is switched to ('nologin' blocks the "
            "login; needs Moodle's 'Update user data' (imsupdateusers) and `auth`, which a restore switches "
            "back to). Empty: a suspended person's account is left as it is; their enrolments go with their "
            "memberships."
        ),
    )
    lowercase_usernames: bool = Field(
        True,
        description="Moodle: write user names in lower case (Moodle stores them as written and expects lower case).",
    )
    ampersand: str = Field(
        "en",
        max_length=8,
        description=(
            "Moodle: what an '&' in a name becomes ('en': 'Mens & Natuur' → 'Mens en Natuur'; or '+'). Moodle does "
            "not decode entities: an escaped '&amp;' would be stored and shown as '&amp;'."
        ),
    )
    course_types: list[str] = Field(
        default_factory=lambda: ["course"],
        description=(
            "Moodle: the group types that become Moodle courses ('course', and 'klas' for a course per klas). "
            "Schools and folders (school year, leerjaar) are course categories (see categories), not courses; "
            "memberships of groups that are not courses are not written."
        ),
    )
    categories: Categories = Field(
        Categories.SCHOOL,
        description=(
            "Moodle: a course's category (<org><orgunit>): 'school' (the school's name), 'path' (one orgunit "
            "per parent, top down: turn on Moodle's 'nestedcategories', or categories of the same name in "
            "two schools are taken for one), or 'none' (Moodle's default category)."
        ),
    )
    roles: dict[Role, str] = Field(
        default_factory=dict,
        description=(
            "Membership role → IMS roletype code, overriding the defaults student 01 (Learner), teacher 02 "
            "(Instructor), mentor 06 (Mentor), guardian 04 (Member; Moodle: not written unless set here — "
            "Moodle maps 04 to student)."
        ),
    )
    institution_roles: dict[PersonKind, str] = Field(
        default_factory=dict,
        description=(
            "Person role → <institutionrole institutionroletype>, overriding Student, Staff and Guest (guardian). "
            "itslearning maps these to profiles; Moodle ignores them."
        ),
    )

    @field_validator("file_name")
    @classmethod
    def _file_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", "..") or value.startswith("."):
            raise ValueError(f"{value!r}: a file name only, without a folder (set the folder in `folder`)")
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        if any(name != "sequence" for name in fields):
            raise ValueError(f"{value!r}: the only placeholder is {{sequence}}")
        try:
            value.format(sequence=1)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{value!r}: {exc}") from None
        return value

    @field_validator("course_types")
    @classmethod
    def _course_types(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in ("course", "klas")]
        if bad or not value:
            raise ValueError(f"course types are 'course' and 'klas' (got {value!r})")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: dict[Role, str]) -> dict[Role, str]:
        for role, code in value.items():
            if code not in _ROLE_CODES:
                raise ValueError(f"{role.value}: {code!r} is not an IMS roletype (01 … 08)")
        return value

    @field_validator("ampersand", "source", "properties_target", "auth", "suspend_auth")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "&<>\"'\r\n\t"):
            raise ValueError(f"{value!r}: no &, <, >, quotes or line breaks (Moodle reads them literally)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ImsEnterpriseSettings:
        if self.profile is Profile.ITSLEARNING and self.mode is Mode.DELTA:
            raise ValueError(
                "itslearning's IMS-E import compares every file with the previous import (snapshot semantics): a "
                "delta would read as 'everyone else left'. Use mode = \"snapshot\" with profile = \"itslearning\""
            )
        if self.mode is Mode.DELTA and not self.numbered and self.carry_days == 0:
            raise ValueError(
                "a delta written to one fixed file name is lost when the next publication overwrites it before "
                "Moodle read it: use mode = \"snapshot\", give carry_days > 0, or put {sequence} in file_name for "
                "a consumer that picks up every file"
            )
        if self.suspend_auth and not self.auth:
            raise ValueError(
                "suspend_auth needs auth: restoring a suspended account switches it back to `auth`"
            )
        return self

    @property
    def numbered(self) -> bool:
        """Whether every publication is a file of its own (``{sequence}`` in the name)."""
        return "{sequence" in self.file_name

    @property
    def carries(self) -> bool:
        """Whether updates and removals are repeated for ``carry_days`` (Moodle, one fixed file)."""
        return self.profile is Profile.MOODLE and not self.numbered and self.carry_days > 0

    def file_name_for(self, sequence: int) -> str:
        return self.file_name.format(sequence=sequence) if self.numbered else self.file_name

    def role_codes(self) -> dict[str, str | None]:
        """Membership role → roletype code (None: not written)."""
        defaults: dict[str, str | None] = {"student": "01", "teacher": "02", "mentor": "06",
                                           "guardian": None if self.profile is Profile.MOODLE else "04"}
        return {**defaults, **{role.value: code for role, code in self.roles.items()}}

    def institution_role_types(self) -> dict[str, str]:
        defaults = {"student": "Student", "staff": "Staff", "guardian": "Guest"}
        return {**defaults, **{kind.value: value for kind, value in self.institution_roles.items()}}


_ROLE_CODES = {"01", "02", "03", "04", "05", "06", "07", "08"}
