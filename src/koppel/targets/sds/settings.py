"""Settings of an SDS target: where the SDS v2.1 CSV set is written, and optionally the SFTP server it goes to.

School Data Sync reads a *set* of CSV files per inbound flow (docs/targets/sds.md). koppel writes that set
into a folder of its own per school year (``folder`` / ``flow_folder``) and, when ``sftp`` is given, uploads
the same set to an SFTP server (where Power Automate's SDS template or the school's own job picks it up).
``koppel connectors describe sds`` prints this model; every field carries its description.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from koppel.connectors import SecretRef

__all__ = ["FINGERPRINT", "OrgSettings", "SdsSettings", "SftpSettings"]

FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")
"""OpenSSH's fingerprint notation (``ssh-keygen -lf``, ``ssh -v``): SHA256 and the base64 digest unpadded."""


class OrgSettings(BaseModel):
    """The bestuur as the parent org of every school in ``orgs.csv``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sourced_id: str = Field(min_length=1, max_length=256,
                            description="sourcedId of the bestuur's org row, e.g. its bestuursnummer ('41234').")
    name: str = Field(min_length=1, max_length=256, description="Name of the bestuur, e.g. 'Stichting Voortgezet Onderwijs Zwolle'.")
    type: Literal["district", "academicTrust", "localAuthority", "local", "municipality"] = Field(
        "district", description="SDS organization type (the default list of values); a bestuur is closest to 'district'.")


class SftpSettings(BaseModel):
    """The SFTP server the CSV set is uploaded to after it is written to the folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, description="Host name or address of the SFTP server.")
    port: int = Field(22, ge=1, le=65535, description="SSH port.")
    username: str = Field(min_length=1, description="SSH user name.")
    private_key_file: str | None = Field(
        None, description="OpenSSH private key file for public-key authentication (readable by koppel only).")
    passphrase_env: str | None = Field(None, description="Environment variable holding the private key's passphrase.")
    passphrase_file: str | None = Field(None, description="File holding the private key's passphrase.")
    password_env: str | None = Field(None, description="Environment variable holding the SSH password (instead of a key).")
    password_file: str | None = Field(None, description="File holding the SSH password (instead of a key).")
    password: SecretStr | None = Field(None, description="The SSH password itself; prefer password_env or password_file.")
    remote_path: str = Field(
        ".", min_length=1,
        description="Folder on the server under which each school year's flow folder is made ('.' is the login folder).")
    known_hosts: str | None = Field(
        None, description="OpenSSH known_hosts file holding the server's host key (e.g. from `ssh-keyscan -p PORT HOST`).")
    host_key_fingerprint: str | None = Field(
        None, description="The server's host key fingerprint as `ssh-keygen -lf` shows it: 'SHA256:…' (43 characters).")
    verify_host_key: bool = Field(
        True, description="Refuse a server whose host key is not the one configured. Turn off only for a throw-away test server.")
    timeout_s: float = Field(30.0, gt=0, le=600, description="Seconds to wait for the connection and each SFTP reply.")

    @field_validator("host_key_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not FINGERPRINT.fullmatch(value):
            raise ValueError(f"{value!r} is not an OpenSSH SHA256 fingerprint ('SHA256:' and 43 base64 characters, as "
                             "`ssh-keyscan HOST | ssh-keygen -lf -` prints it)")
        return value.rstrip("=")

    @model_validator(mode="after")
    def _auth_and_host_key(self) -> SftpSettings:
        passwords = [n for n in ("password_env", "password_file", "password") if getattr(self, n)]
        if len(passwords) > 1:
            raise ValueError(f"give only one of password_env, password_file or password (got {', '.join(passwords)})")
        if bool(self.private_key_file) == bool(passwords):
            raise ValueError("give exactly one way to log in: private_key_file, or one of password_env, password_file, "
                             "password")
        if (self.passphrase_env or self.passphrase_file) and not self.private_key_file:
            raise ValueError("passphrase_env/passphrase_file belong to private_key_file")
        if self.passphrase_env and self.passphrase_file:
            raise ValueError("give only one of passphrase_env or passphrase_file")
        if self.verify_host_key and not (self.known_hosts or self.host_key_fingerprint):
            raise ValueError("the server's host key must be known: give known_hosts (a file, e.g. from `ssh-keyscan`) or "
                             "host_key_fingerprint ('SHA256:…'); verify_host_key = false only for a throw-away test server")
        return self

    def password_ref(self) -> SecretRef | None:
        if not (self.password_env or self.password_file or self.password):
            return None
        return SecretRef(env=self.password_env, file=self.password_file,
                         value=self.password.get_secret_value() if self.password else None)

    def passphrase_ref(self) -> SecretRef | None:
        if not (self.passphrase_env or self.passphrase_file):
            return None
        return SecretRef(env=self.passphrase_env, file=self.passphrase_file)

    @property
    def address(self) -> str:
        return f"sftp://{self.username}@{self.host}:{self.port}/{self.remote_path.lstrip('/') if self.remote_path != '.' else ''}"


class SdsSettings(BaseModel):
    """A School Data Sync v2.1 CSV set, written to a folder and optionally uploaded over SFTP."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: str = Field(
        description="Folder the CSV sets are written to (one sub-folder per school year) and where koppel keeps what "
                    "it last published (.koppel/<target>.db). Relative to the tenant's configuration file.")
    flow_folder: str = Field(
        "{school_year}", min_length=1, max_length=100,
        description="Name of a school year's folder (locally and on the SFTP server): one SDS inbound flow per "
                    "academic year. Placeholders: school_year ('2025-2026'), academic_year (SDS's year value: the "
                    "ending year, '2026').")
    username_domain: str | None = Field(
        None, description="Domain appended to koppel's user names that have no '@' to make the Microsoft 365 sign-in "
                          "name (username, UPN) SDS matches accounts by, e.g. 'leerling.school.nl'.")
    staff_role: Literal["teacher", "staff", "administrator", "aide"] = Field(
        "teacher", description="roles.csv role of staff at their school (SDS's organization user roles).")
    klassen: bool = Field(
        True, description="Also make a class (a Team) of every klas (stamgroep) with its pupils and mentors, besides the "
                          "courses.")
    match_existing_accounts: bool = Field(
        False, description="Fill activeDirectoryMatchId with the user name, so SDS matches accounts that already exist in "
                           "Microsoft Entra ID instead of creating them.")
    emails: Literal["guardians", "all"] = Field(
        "guardians", description="Whose e-mail goes into users.csv: guardians only (SDS needs it for parent contacts), or "
                                 "every person that has one.")
    guardian_role: Literal["guardian", "parent", "relative", "other"] = Field(
        "guardian", description="relationships.csv relationshipRole of a guardian (SDS's contact relationship roles).")
    bestuur: OrgSettings | None = Field(
        None, description="The bestuur as parent org of the schools in orgs.csv; left out when not given.")
    sftp: SftpSettings | None = Field(None, description="Upload every published set to this SFTP server too.")

    @field_validator("flow_folder")
    @classmethod
    def _flow_folder(cls, value: str) -> str:
        try:
            sample = value.format(school_year="2025-2026", academic_year="2026")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r}: unknown placeholder or stray brace ({exc}); use {{school_year}} or "
                             "{{academic_year}}") from None
        if sample == value:
            raise ValueError(f"{value!r} must contain {{school_year}} or {{academic_year}}: every school year is a new "
                             "SDS inbound flow and gets a folder of its own")
        if "/" in sample or "\\" in sample or sample.startswith(".") or not sample.strip():
            raise ValueError(f"{value!r} must be one folder name (no '/', not starting with '.')")
        return value

    @field_validator("username_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lstrip("@")
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+",
                            value):
            raise ValueError(f"{value!r} is not a domain name like 'leerling.school.nl'")
        return value.lower()
