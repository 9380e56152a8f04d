"""Settings of the UWLR source, one documented field each (``koppel connectors describe uwlr``).

A UWLR connection is the LAS's endpoint, the koppeling's ``klantcode``/``klantnaam`` (given to it
by the LAS supplier) and, per school, an ``autorisatiesleutel`` (requested by the school from its
LAS supplier and linked there to that school). ESIS issues one key per BRIN; other LAS may issue
one key for several schools, so a key set on the source holds for every school without its own.
The sleutel and the password of a client key are secrets: they come from the environment or a
file, and only where they come from is ever shown.

Presets fill in what public client code shows each LAS wants (shared/reference/las-sources.md
§1.6): Magister's UWLR-L "Smalle set" (xsdversie 2.3, gegevenssetid ``Smalle-set-VO``), Somtoday
(2.2) and ESIS (2.2 and a client certificate). Every preset value can still be set explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from koppel.connectors import SecretRef
from koppel.http import is_loopback
from koppel.model.roster import SchoolYear
from koppel.sources.edexml.mapping import KeyScope, RoleChoice
from koppel.sources.edexml.settings import KEY_SCOPE_DESCRIPTION, ROLLEN_DESCRIPTION, normalise_rollen

__all__ = ["PRESETS", "Preset", "PresetDefaults", "UwlrSchool", "UwlrSettings", "normalise_brin6"]

_BRIN_RE = re.compile(r"^(\d\d[A-Z][A-Z])[.\s-]?(\d\d)?$")


class Preset(StrEnum):
    """Which LAS serves the UWLR endpoint; it chooses defaults, nothing more."""

    GENERIC = "generic"
    MAGISTER = "magister"
    SOMTODAY = "somtoday"
    ESIS = "esis"


@dataclass(frozen=True)
class PresetDefaults:
    xsdversie: Literal["2.2", "2.3"]
    gegevenssetid: str | None
    client_certificate: bool


PRESETS: dict[Preset, PresetDefaults] = {
    Preset.GENERIC: PresetDefaults("2.3", None, client_certificate=False),
    # UWLR-L "Smalle set": services.magister.net/uwlr-l/leerlinggegevens-smalle-set.svc (Test-Correct).
    Preset.MAGISTER: PresetDefaults("2.3", "Smalle-set-VO", client_certificate=False),
    # oop.test.somtoday.nl/services/v2/leerlinggegevens (Test-Correct client): xsdversie 2.2.
    Preset.SOMTODAY: PresetDefaults("2.2", None, client_certificate=False),
    # <klant>.rovictonline.nl/uwlr2.2.svc, client certificate (.p12) required (HelloID ESIS connector).
    Preset.ESIS: PresetDefaults("2.2", None, client_certificate=True),
}


def normalise_brin6(value: str) -> str:
    """``99ZZ``, ``99ZZ00``, ``99zz.00`` (ESIS notation) or ``99ZZ 00`` → ``99ZZ00``."""
    match = _BRIN_RE.match(value.strip().upper())
    if match is None:
        raise ValueError(
            f"{value!r} is not a BRIN: two digits and two capitals, optionally with a two-digit "
            "dependancecode (99ZZ, 99ZZ00, 99ZZ.00)"
        )
    return match.group(1) + (match.group(2) or "00")


def _one_secret(owner: BaseModel, stem: str) -> SecretRef | None:
    """The SecretRef of ``<stem>_env`` / ``_file`` / ``<stem>``; None when none is set; more is an error."""
    env, file, value = (getattr(owner, f"{stem}_env"), getattr(owner, f"{stem}_file"), getattr(owner, stem))
    given = [name for name, v in ((f"{stem}_env", env), (f"{stem}_file", file), (stem, value)) if v]
    if len(given) > 1:
        raise ValueError(f"give only one of {stem}_env, {stem}_file or {stem} (got {', '.join(given)})")
    if not given:
        return None
    return SecretRef(env=env, file=file, value=value.get_secret_value() if value else None)



class UwlrSchool(BaseModel):
    """One school (BRIN6) to fetch, with its own autorisatiesleutel where the LAS issues one per school."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brin6: str = Field(
        description="BRIN + dependancecode: 99ZZ00 (99ZZ and the ESIS notation 99ZZ.00 are accepted). "
        "Sent as brincode 99ZZ and dependancecode 00."
    )
    name: str | None = Field(
        default=None,
        description="The school's name; UWLR does not send one (default: the "
        "name of its only vestiging, else the BRIN6).",
    )
    schoolkey: str | None = Field(
        default=None,
        description="The LAS's own key for the school, sent as schoolkey where the LAS asks for it.",
    )
    autorisatiesleutel_env: str | None = Field(
        default=None, description="Environment variable holding this school's autorisatiesleutel."
    )
    autorisatiesleutel_file: str | None = Field(
        default=None,
        description="File holding this school's autorisatiesleutel (e.g. /run/secrets/uwlr-99ZZ00).",
    )
    autorisatiesleutel: SecretStr | None = Field(
        default=None,
        description="The sleutel itself; prefer autorisatiesleutel_env or _file (no secrets in files).",
    )

    @field_validator("brin6")
    @classmethod
    def _brin6(cls, value: str) -> str:
        return normalise_brin6(value)

    @model_validator(mode="after")
    def _one_sleutel(self) -> UwlrSchool:
        _one_secret(self, "autorisatiesleutel")
        return self

    @property
    def sleutel_ref(self) -> SecretRef | None:
        return _one_secret(self, "autorisatiesleutel")


class UwlrSettings(BaseModel):
    """Fetch pupils, groups and teachers from a LAS's UWLR 2.2/2.3 service (HaalLeerlinggegevens)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        description="The LAS's UWLR leerlinggegevens endpoint, e.g. "
        "https://services.magister.net/uwlr-l/leerlinggegevens-smalle-set.svc or "
        "https://<klant>.rovictonline.nl/uwlr2.2.svc. HTTPS; plain http only to localhost (the sandbox)."
    )
    preset: Preset = Field(
        default=Preset.GENERIC,
        description="magister (UWLR-L Smalle set, 2.3), somtoday (2.2), "
        "esis (2.2 with client certificate) or generic (2.3). Chooses the defaults of xsdversie "
        "and gegevenssetid.",
    )
    klantcode: str = Field(min_length=1, description="The koppeling's klantcode, given by the LAS supplier.")
    klantnaam: str = Field(min_length=1, description="The koppeling's klantnaam, given by the LAS supplier.")
    schools: list[UwlrSchool] = Field(
        min_length=1,
        description="The schools to fetch, one request each: "
        "[{brin6 = '99ZZ00', autorisatiesleutel_env = 'UWLR_KEY_99ZZ00'}, …].",
    )
    autorisatiesleutel_env: str | None = Field(
        default=None,
        description="Environment variable holding the autorisatiesleutel of every school without its "
        "own (a LAS may link one sleutel to several schools).",
    )
    autorisatiesleutel_file: str | None = Field(
        default=None, description="File holding the autorisatiesleutel of every school without its own."
    )
    autorisatiesleutel: SecretStr | None = Field(
        default=None, description="The shared sleutel itself; prefer autorisatiesleutel_env or _file."
    )
    xsdversie: Literal["2.2", "2.3"] | None = Field(
        default=None, description="xsdversie sent in the request (default: the preset's)."
    )
    gegevenssetid: str | None = Field(
        default=None,
        description="gegevenssetid (profile) sent in the request (default: the preset's, "
        "Smalle-set-VO for magister); an empty string sends none.",
    )
    school_year: str | None = Field(
        default=None,
        description="The school year to request (2025-2026) when koppel does not ask for one; "
        "default the year containing today.",
    )
    timeout_s: float = Field(
        default=120.0, gt=0, le=900, description="Seconds to wait for one school's answer."
    )
    connect_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to wait for a connection."
    )
    ca_file: str | None = Field(
        default=None,
        description="PEM file of the CA(s) to trust instead of the public ones (a LAS test server). "
        "Certificates are always verified.",
    )
    client_cert_file: str | None = Field(
        default=None,
        description="PEM client certificate (chain) presented to the LAS; required by ESIS. Convert "
        "a .p12 with: openssl pkcs12 -in esis.p12 -out esis.pem",
    )
    client_key_file: str | None = Field(
        default=None, description="PEM private key of the client certificate, if not in client_cert_file."
    )
    client_key_password_env: str | None = Field(
        default=None, description="Environment variable holding the password of an encrypted client key."
    )
    client_key_password_file: str | None = Field(
        default=None, description="File holding the password of an encrypted client key."
    )
    client_key_password: SecretStr | None = Field(
        default=None, description="The key password itself; prefer client_key_password_env or _file."
    )
    key_scope: KeyScope = Field(default=KeyScope.SCHOOL, description=KEY_SCOPE_DESCRIPTION)
    rollen: dict[str, RoleChoice] = Field(default_factory=dict, description=ROLLEN_DESCRIPTION)
    max_response_mb: int = Field(
        default=256, gt=0, description="Refuse an answer larger than this many megabytes."
    )

    _rollen = field_validator("rollen")(normalise_rollen)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError(
                f"{value!r}: pupil data travels over HTTPS only; plain http is allowed for localhost alone"
            )
        return value.strip()

    @field_validator("school_year")
    @classmethod
    def _school_year(cls, value: str | None) -> str | None:
        if value is not None:
            SchoolYear.parse(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> UwlrSettings:
        problems = []
        try:
            shared = _one_secret(self, "autorisatiesleutel")
            _one_secret(self, "client_key_password")
        except ValueError as exc:
            problems.append(str(exc))
            shared = None
        seen: set[str] = set()
        for school in self.schools:
            if school.brin6 in seen:
                problems.append(f"school {school.brin6} is listed twice")
            seen.add(school.brin6)
            if school.sleutel_ref is None and shared is None:
                problems.append(
                    f"school {school.brin6} has no autorisatiesleutel (set autorisatiesleutel_env or "
                    "_file on the school, or on the source for all schools)"
                )
        if PRESETS[self.preset].client_certificate and not self.client_cert_file:
            problems.append(f"the {self.preset} preset needs a client certificate: set client_cert_file")
        if self.client_key_file and not self.client_cert_file:
            problems.append("client_key_file is set without client_cert_file")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def effective_xsdversie(self) -> str:
        return self.xsdversie or PRESETS[self.preset].xsdversie

    @property
    def effective_gegevenssetid(self) -> str | None:
        if self.gegevenssetid is not None:
            return self.gegevenssetid or None
        return PRESETS[self.preset].gegevenssetid

    @property
    def fixed_school_year(self) -> SchoolYear | None:
        return SchoolYear.parse(self.school_year) if self.school_year else None

    def sleutel_ref(self, school: UwlrSchool) -> SecretRef:
        """Where this school's autorisatiesleutel comes from: its own, else the source's (checked: set)."""
        ref = school.sleutel_ref or _one_secret(self, "autorisatiesleutel")
        assert ref is not None  # _consistent
        return ref

    def sleutel_setting(self, school: UwlrSchool) -> str:
        """The setting that names this school's sleutel, for configuration errors."""
        if school.sleutel_ref is not None:
            index = self.schools.index(school)
            return f"schools[{index}].autorisatiesleutel ({school.brin6})"
        return f"autorisatiesleutel (shared, for {school.brin6})"

    @property
    def key_password_ref(self) -> SecretRef | None:
        return _one_secret(self, "client_key_password")
