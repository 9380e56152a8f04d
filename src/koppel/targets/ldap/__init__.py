"""LDAP target: OpenLDAP and Active Directory over LDAPv3 with ldap3 (docs/targets/ldap.md).

Layout (sans-I/O, STYLE §3): :mod:`.settings` is the documented settings model; :mod:`.mapping` turns
changes into LDAP operations and entries back into koppel's attributes (pure, also the previews);
:mod:`.client` is the one module that talks to the directory; :mod:`.index` finds entries by sync key;
:mod:`.target` applies changes (persons and groups; :mod:`.members` the member values), :mod:`.report`
writes the initial passwords' delivery report, :mod:`.reader` reads back and :mod:`.preflight` is
``koppel check``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from koppel.connectors import ConnectorContext, TargetKind
from koppel.model.change import Change
from koppel.targets.base import Payload
from koppel.targets.ldap.client import LdapClient
from koppel.targets.ldap.mapping import MappingConfig, ldif, preview_operations
from koppel.targets.ldap.report import PasswordReport
from koppel.targets.ldap.settings import LdapSettings
from koppel.targets.ldap.target import ACTIONS, LdapTarget

__all__ = ["KIND", "LdapSettings", "LdapTarget", "factory", "preview"]


def factory(name: str, settings: LdapSettings | Mapping[str, Any], ctx: ConnectorContext) -> LdapTarget:
    """Build the target ``name``; the bind password is resolved here, once."""
    if not isinstance(settings, LdapSettings):
        settings = LdapSettings.model_validate(dict(settings))
    password = ctx.secret(settings.password_ref(), setting=f"targets.{name}.password")
    client = LdapClient(settings, password, ca_file=ctx.path(settings.ca_file) if settings.ca_file else None)
    report = PasswordReport(ctx.path(settings.password_report_dir), name) if settings.initial_passwords else None
    return LdapTarget(name, settings, client=client, report=report)


def preview(settings: Any, changes: Sequence[Change]) -> list[Payload]:
    """``TargetKind.preview``: the LDIF of one batch, from the settings alone (no password, no connection).
    Entries the target finds by their sync key are shown as ``<employeeNumber=KEY>``."""
    if not isinstance(settings, LdapSettings):
        settings = LdapSettings.model_validate(dict(settings))
    cfg = MappingConfig.from_settings(settings)
    payloads = []
    for change in changes:
        ops = preview_operations(change, cfg, passwords=settings.initial_passwords)
        if ops:
            title = f"{change.action.value} {change.kind.value} {change.key}"
            payloads.append(Payload(title, "\n\n".join(ldif(op) for op in ops)))
    return payloads


KIND = TargetKind(
    kind="ldap",
    summary="LDAP directory (OpenLDAP or Active Directory): accounts, klas and lesgroep groups, OUs per school",
    settings=LdapSettings,
    factory=factory,
    actions=ACTIONS,
    preview=preview,
)
