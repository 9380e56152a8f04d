"""``koppel check`` for a directory: can koppel work with it? Reads only, never writes.

1. **connection** — connect (TLS verified), StartTLS where asked, bind as ``bind_dn``: each failure names
   its fix;
2. **TLS** — a warning when verification is off or the connection is not encrypted (this machine only);
3. **base DN** — the entry exists (koppel makes everything below it, never the base itself);
4. **schema** — the subschema lists the object classes and attributes koppel writes (inetOrgPerson,
   groupOfNames, organizationalUnit; ad: user, group), the key attributes, and for ppolicy locking
   ``pwdAccountLockedTime`` (the ppolicy overlay is loaded);
5. (full) **accounts** — the persons under the base: made by hand (left alone; ``koppel reconcile`` matches
   them) and with a sync key (koppel finds those again by key: no second account);
6. (full) **writes** — not checked: a directory has no harmless write.
"""

from __future__ import annotations

from koppel.errors import KoppelError, TargetAuthError
from koppel.targets.base import Check, CheckStatus
from koppel.targets.ldap.client import LdapClient
from koppel.targets.ldap.mapping import MappingConfig, first_value
from koppel.targets.ldap.settings import LdapSettings, LockMethod

__all__ = ["run_checks"]


def run_checks(client: LdapClient, settings: LdapSettings, cfg: MappingConfig, *, full: bool = True) -> list[Check]:
    try:
        client.connection()
    except TargetAuthError as exc:
        return [Check("credentials", CheckStatus.FAILED, str(exc),
                      "check bind_dn and the password in " + settings.password_ref().describe())]
    except KoppelError as exc:
        return [Check("connection", CheckStatus.FAILED, str(exc),
                      "check url (ldap://host:389 with start_tls, or ldaps://host:636), the firewall and ca_file")]
    checks = [Check("connection", CheckStatus.OK, f"bound to {settings.url} as {settings.bind_dn}"), _tls(client, settings)]
    try:
        base = client.read(settings.base_dn, ["objectClass"])
        if base is None:
            return checks + [Check("base DN", CheckStatus.FAILED, f"{settings.base_dn} does not exist (or "
                                   f"{settings.bind_dn} may not see it)",
                                   "create it (e.g. an organizationalUnit) and give the bind DN write access below it")]
        checks.append(Check("base DN", CheckStatus.OK, f"{settings.base_dn} exists"))
        checks.append(_schema(client, settings, cfg))
        if full:
            checks.append(_accounts(client, cfg))
            checks.append(Check("writes", CheckStatus.SKIPPED, "not checked: a directory has no harmless write; the "
                                "first sync shows whether the bind DN may write below the base DN"))
    except KoppelError as exc:
        checks.append(Check("read", CheckStatus.FAILED, str(exc), "give the bind DN read access to the base DN"))
    return checks


def _tls(client: LdapClient, settings: LdapSettings) -> Check:
    if not client.tls_in_use():
        return Check("TLS", CheckStatus.WARNING, "the connection is not encrypted (allowed to this machine only)",
                     "use ldaps:// or start_tls = true")
    if not settings.verify_tls:
        return Check("TLS", CheckStatus.WARNING, "TLS without verifying the server's certificate",
                     "set verify_tls = true and give ca_file")
    how = "LDAPS" if client.use_ssl else "StartTLS"
    return Check("TLS", CheckStatus.OK, f"{how}, certificate and host name verified"
                 + (f" against {settings.ca_file}" if settings.ca_file else ""))


def _schema(client: LdapClient, settings: LdapSettings, cfg: MappingConfig) -> Check:
    root = client.read("", ["subschemaSubentry"])
    where = (first_value(root.attributes, "subschemaSubentry") if root else None) or "cn=Subschema"
    schema = client.read(where, ["objectClasses", "attributeTypes"])
    if schema is None:
        return Check("schema", CheckStatus.WARNING, f"could not read the schema at {where}; not checked")
    classes = _names(schema.attributes.get("objectClasses", ()))
    types = _names(schema.attributes.get("attributeTypes", ()))
    need_classes = {"organizationalunit", cfg.person_class.lower(), cfg.group_class.lower()}
    need_types = {cfg.person_key.lower(), cfg.group_key.lower(), cfg.username_attr.lower(), "member"}
    if not cfg.ad and settings.lock is LockMethod.PPOLICY:
        need_types.add("pwdaccountlockedtime")
    missing = sorted((need_classes - classes) | (need_types - types))
    if missing:
        fix = "load the schema that defines them"
        if "pwdaccountlockedtime" in missing:
            fix = ("load the ppolicy overlay (with a default policy that has pwdLockout: TRUE), or set "
                   "lock = \"move-only\"")
        return Check("schema", CheckStatus.FAILED, "the directory's schema lacks " + ", ".join(missing), fix)
    return Check("schema", CheckStatus.OK, f"{cfg.person_class}, {cfg.group_class}, organizationalUnit, "
                 f"{cfg.person_key} and {cfg.group_key} are in the schema")


def _names(definitions: object) -> set[str]:
    """The NAMEs of schema definitions (``( 2.5.6.6 NAME 'person' ...``, or ``NAME ( 'cn' 'commonName' )``)."""
    names: set[str] = set()
    for text in definitions if isinstance(definitions, list | tuple) else ():
        rest = str(text).split(" NAME ", 1)
        if len(rest) < 2:
            continue
        part = rest[1].strip()
        if part.startswith("("):
            part = part[1:part.index(")")]
        else:
            part = part.split(" ", 1)[0]
        names |= {n.strip("'").lower() for n in part.split() if n.strip("'")}
    return names


def _accounts(client: LdapClient, cfg: MappingConfig) -> Check:
    accounts = client.search(cfg.base_dn, f"(objectClass={cfg.person_class})", [cfg.person_key])
    keyed = sum(1 for a in accounts if first_value(a.attributes, cfg.person_key))
    manual = len(accounts) - keyed
    message = f"{len(accounts):,} account(s) under {cfg.base_dn}"
    if keyed:
        message += f"; {keyed:,} with a sync key in {cfg.person_key} (found again by key, never made twice)"
    # ``accounts`` counts what another koppeling or a person made by hand: koppel finds its own entries by key.
    return Check("accounts", CheckStatus.OK, message, data={"accounts": manual, "with_sync_id": 0, "keyed": keyed})
