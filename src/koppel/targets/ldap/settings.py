"""Settings of an LDAP target: one directory (OpenLDAP or Active Directory) under one base DN.

koppel binds as a service account (``bind_dn`` with its password from ``password_env`` or ``password_file``)
and keeps everything it makes under ``base_dn``: an OU per school, an OU per school year below it for the
groups, OUs per kind of person, and one OU for leavers. ``koppel connectors describe ldap`` prints this
model; every field carries its description. docs/targets/ldap.md explains the layout.
"""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from koppel.connectors import SecretRef
from koppel.http import is_loopback

__all__ = ["Flavour", "LdapSettings", "LockMethod", "PersonOus"]

# An attribute type name (RFC 4512 ``descr``): what may be put in a search filter unquoted.
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


class Flavour(StrEnum):
    """Which directory: the schema and the account switches differ."""

    OPENLDAP = "openldap"
    AD = "ad"


class LockMethod(StrEnum):
    """How OpenLDAP locks a leaver's account (Active Directory always uses userAccountControl)."""

    PPOLICY = "ppolicy"  # pwdAccountLockedTime: 000001010000Z (the ppolicy overlay, a policy with pwdLockout)
    MOVE_ONLY = "move-only"  # only moved to the leavers OU: the services' filters must leave that OU out


class PersonOus(BaseModel):
    """The OU (its ``ou`` value) under the school's OU that holds each kind of person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    student: str = Field("students", min_length=1, description="OU of pupils.")
    staff: str = Field("staff", min_length=1, description="OU of staff (docenten and other medewerkers).")
    guardian: str = Field("guardians", min_length=1, description="OU of guardians (ouders/verzorgers).")


class LdapSettings(BaseModel):
    """An LDAP directory: OpenLDAP (inetOrgPerson, groupOfNames) or Active Directory (user, group)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flavour: Flavour = Field(
        Flavour.OPENLDAP,
        description=(
            "openldap: inetOrgPerson persons and groupOfNames groups, passwords by the Password Modify extended "
            "operation (RFC 3062), leavers locked by ppolicy. ad: Active Directory user (sAMAccountName, "
            "userPrincipalName, userAccountControl) and group objects, passwords as unicodePwd over TLS."
        ),
    )
    url: str = Field(
        description="ldap://host[:389] (with start_tls = true) or ldaps://host[:636]. Plain ldap:// without "
        "StartTLS is allowed to this machine only."
    )
    start_tls: bool = Field(False, description="Upgrade an ldap:// connection with StartTLS before binding.")
    verify_tls: bool = Field(
        True, description="Verify the server's certificate and host name. Turn off only for a local test server."
    )
    ca_file: str | None = Field(
        None, description="PEM file with the CA certificate(s) that signed the server's certificate "
        "(relative to koppel.toml); default: the system's trusted CAs."
    )
    bind_dn: str = Field(min_length=3, description="DN koppel binds as, e.g. cn=koppel,ou=services,dc=school,dc=nl.")
    password_env: str | None = Field(None, description="Name of the environment variable holding the bind password.")
    password_file: str | None = Field(None, description="File holding the bind password (e.g. /run/secrets/ldap).")
    password: SecretStr | None = Field(
        None, description="The bind password itself; prefer password_env or password_file (no secrets in files)."
    )
    base_dn: str = Field(
        min_length=3,
        description="Where koppel keeps everything it makes (it must exist), e.g. ou=koppel,dc=school,dc=nl. "
        "Schools become OUs directly under it.",
    )
    person_ous: PersonOus = Field(default_factory=PersonOus,
                                  description="The OU per kind of person under each school's OU.")
    leavers_ou: str = Field(
        "leavers", min_length=1,
        description="The OU under base_dn that suspended (locked) accounts move into; restore moves them back.",
    )
    person_key_attribute: str = Field(
        "employeeNumber",
        description="Attribute of a person entry that holds koppel's sync key: entries are found by it, never by "
        "name. Choose one nothing else in the directory writes.",
    )
    group_key_attribute: str | None = Field(
        None,
        description="Attribute of a group or OU entry that holds koppel's sync key. Default: businessCategory "
        "(openldap: groupOfNames and organizationalUnit allow it), adminDescription (ad).",
    )
    empty_group_member: str | None = Field(
        None,
        description="openldap: the member DN a groupOfNames holds while it has no real member (the schema "
        "requires one member). Default: base_dn itself, which is no account.",
    )
    lock: LockMethod = Field(
        LockMethod.PPOLICY,
        description="openldap: ppolicy locks a leaver with pwdAccountLockedTime (needs the ppolicy overlay and a "
        "default policy with pwdLockout: TRUE); move-only only moves the entry to the leavers OU.",
    )
    initial_passwords: bool = Field(
        True,
        description="Give every new account a random initial password and list it in the delivery report.",
    )
    password_report_dir: str = Field(
        "password-reports",
        description="Folder (relative to koppel.toml) for the delivery reports: one CSV per run with new "
        "accounts (mode 0600), naming user name and initial password. Never in logs or plans.",
    )
    password_length: int = Field(12, ge=8, le=64, description="Length of the initial passwords.")
    must_change_password: bool = Field(
        True, description="ad: the user must choose a new password at first logon (pwdLastSet = 0)."
    )
    upn_suffix: str | None = Field(
        None, description="ad: the userPrincipalName suffix (user@suffix). Default: the dc= parts of base_dn."
    )
    batch_size: int = Field(50, ge=1, le=500, description="Changes per apply call at most.")
    timeout_s: float = Field(30.0, gt=0, le=600, description="Seconds to wait for connecting and for one answer.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError(f"{value!r} is not an ldap:// or ldaps:// URL")
        if parts.path not in ("", "/"):
            raise ValueError(f"{value!r}: give the server only (ldap://host:port); the base DN is base_dn")
        return value.strip()

    @field_validator("person_key_attribute", "group_key_attribute")
    @classmethod
    def _attribute(cls, value: str | None) -> str | None:
        if value is not None and not _ATTRIBUTE_NAME.match(value):
            raise ValueError(f"{value!r} is not an LDAP attribute name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LdapSettings:
        given = [name for name in ("password_env", "password_file", "password") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of password_env, password_file or password"
                             + (f" (got {', '.join(given)})" if given else ""))
        scheme = urlsplit(self.url).scheme
        if scheme == "ldaps" and self.start_tls:
            raise ValueError("start_tls is for ldap:// URLs; an ldaps:// URL is TLS from the start")
        if scheme == "ldap" and not self.start_tls and not is_loopback(urlsplit(self.url).hostname or ""):
            raise ValueError(f"{self.url}: the bind password and the initial passwords would travel unencrypted; "
                             "use ldaps:// or start_tls = true (plain ldap:// is allowed to this machine only)")
        if self.flavour is Flavour.AD and not (scheme == "ldaps" or self.start_tls):
            raise ValueError("ad: Active Directory sets passwords (unicodePwd) over TLS only: use ldaps:// or "
                             "start_tls = true")
        return self

    def password_ref(self) -> SecretRef:
        """Where the bind password comes from, as a SecretRef that never shows the value."""
        return SecretRef(env=self.password_env, file=self.password_file,
                         value=self.password.get_secret_value() if self.password else None)

