"""The connector registry and what a connector gets to work with.

Sources and targets are registered by kind name; the module behind a kind is imported only when
the kind is used, so ``koppel --help`` stays fast and an optional dependency of one connector never
breaks another. ``koppel connectors list|describe`` reads the same registry and settings models.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from koppel.errors import ConfigError, ConfigProblem
from koppel.model.roster import SchoolYear
from koppel.retry import RetryPolicy

__all__ = [
    "SOURCE_KINDS",
    "TARGET_KINDS",
    "ConnectorContext",
    "SecretRef",
    "TargetKind",
    "load_source_kind",
    "load_target_kind",
]

# kind -> "module:attribute" of its SourceKind / TargetKind
SOURCE_KINDS: dict[str, str] = {
    "csv": "koppel.sources.csv:KIND",
    "uwlr": "koppel.sources.uwlr:KIND",
    "edexml": "koppel.sources.edexml:KIND",
    "somtoday": "koppel.sources.somtoday:KIND",
    "oneroster": "koppel.sources.oneroster:KIND",
}
TARGET_KINDS: dict[str, str] = {
    "fake": "koppel.testing.fake:KIND",
    "itslearning": "koppel.targets.itslearning:KIND",
    "ims-enterprise": "koppel.targets.imsenterprise:KIND",
    "oneroster-csv": "koppel.targets.onerostercsv:KIND",
    "sds": "koppel.targets.sds:KIND",
    "scim": "koppel.targets.scim:KIND",
    "ldap": "koppel.targets.ldap:KIND",
}


class SecretRef(BaseModel):
    """Where a secret lives. Prefer ``env`` or ``file``; ``value`` in the file is allowed but warned about.

    In TOML: ``password_env = "ITSL_PASSWORD"`` or ``password_file = "/run/secrets/itsl"``; connectors
    declare such pairs with :func:`secret_fields`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: str | None = None
    value: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _one_of(self) -> SecretRef:
        given = [n for n in ("env", "file", "value") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError(f"give only one of env, file or value (got {', '.join(given)})")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.env or self.file or self.value)

    def describe(self) -> str:
        """How to show this secret on a page or in a log: where it comes from, never what it is."""
        if self.env:
            return f"env:{self.env}"
        if self.file:
            return f"file:{self.file}"
        if self.value:
            return "********"
        return "(not set)"

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    __str__ = describe


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector factory receives besides its own settings."""

    tenant: str
    base_dir: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # The school year to read; None means the source's current year.
    school_year: SchoolYear | None = None
    # How a connector repeats a read that failed transiently (the target's [retry] settings).
    retry: RetryPolicy | None = None

    def path(self, value: str | os.PathLike[str]) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def secret(self, ref: SecretRef | None, *, setting: str) -> str:
        """Resolve a secret or raise a ConfigError naming the setting (never the value)."""
        if ref is None or not ref.configured:
            raise ConfigError([ConfigProblem("a secret is required here", setting=setting)])
        if ref.value:
            return ref.value
        if ref.env:
            value = self.env.get(ref.env)
            if not value:
                raise ConfigError([ConfigProblem(f"environment variable {ref.env} is not set", setting=setting)])
            return value
        assert ref.file is not None
        path = self.path(ref.file)
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([ConfigProblem(f"cannot read secret file {path}: {exc.strerror}", setting=setting)]) from None


@dataclass(frozen=True)
class TargetKind:
    """A registered kind of target."""

    kind: str
    summary: str
    settings: type[BaseModel]
    factory: Callable[..., Any]  # factory(name, settings, ctx: ConnectorContext) -> Target
    # Fields of the target-neutral attribute vocabulary that the platform requires on every
    # update and that therefore may not be marked as protected (not owned).
    mandatory_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The (kind, action) pairs the target supports, known without connecting: planning needs no
    # credentials. None = ask a constructed target's capabilities.
    actions: frozenset | None = None
    # preview(settings, changes) -> the payloads (koppel.targets.base.Payload) apply would send for one
    # batch, built from the settings alone — no secret, no connection — for `koppel plan --show-payloads`.
    # None = the target cannot show them.
    preview: Callable[..., Any] | None = None


def _load(table: Mapping[str, str], kind: str, what: str) -> Any:
    spec = table.get(kind)
    if spec is None:
        known = ", ".join(sorted(table))
        raise ConfigError([ConfigProblem(f"unknown {what} kind {kind!r} (known: {known})")])
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def load_source_kind(kind: str):  # -> SourceKind
    return _load(SOURCE_KINDS, kind, "source")


def load_target_kind(kind: str) -> TargetKind:
    return _load(TARGET_KINDS, kind, "target")
