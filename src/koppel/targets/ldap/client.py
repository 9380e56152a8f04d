"""The one module of the LDAP target that talks to the directory (ldap3 over one connection).

It connects (LDAPS, or LDAP with StartTLS; certificate and host name verified unless ``verify_tls`` is
off), binds as ``bind_dn``, sends :mod:`.mapping`'s operations and answers with :class:`Answer`: the LDAP
result code and the server's message. Whole-connection failures become koppel's errors here — an
unreachable server or a busy one is :class:`~koppel.errors.TransientTargetError` (the applier retries),
refused credentials :class:`~koppel.errors.TargetAuthError`, an unverifiable certificate or missing rights
:class:`~koppel.errors.TargetConfigError` (the run stops). Per-entry results (an entry that is already
there, a missing parent) are answers, for the target to decide.

One connection serves the target; a lock makes it safe for the applier's threads. ``writes`` counts the
write requests sent (add, modify, modify DN, delete, password changes), for ``koppel``'s "no change,
no write" promise and the bench.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import structlog
from ldap3 import (
    BASE,
    LEVEL,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NONE,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.core.exceptions import LDAPException

from koppel.errors import TargetAuthError, TargetConfigError, TransientTargetError
from koppel.targets.ldap.mapping import AddEntry, DeleteEntry, ModifyEntry, MoveEntry, Operation, SetPassword
from koppel.targets.ldap.settings import Flavour, LdapSettings

__all__ = ["Answer", "Code", "Found", "LdapClient"]

log = structlog.get_logger(__name__)

PERMISSIVE_MODIFY = ("1.2.840.113556.1.4.1413", False, None)
PAGE_SIZE = 500
_MODIFY = {"add": MODIFY_ADD, "delete": MODIFY_DELETE, "replace": MODIFY_REPLACE}
_SCOPES: dict[str, Literal["BASE", "LEVEL", "SUBTREE"]] = {"base": BASE, "one": LEVEL, "sub": SUBTREE}


class Code:
    """LDAP result codes (RFC 4511 §4.1.9) the target tells apart."""

    SUCCESS = 0
    TIME_LIMIT = 3
    STRONGER_AUTH = 8
    ADMIN_LIMIT = 11
    CONSTRAINT = 19
    VALUE_EXISTS = 20
    NO_SUCH_ATTRIBUTE = 16
    UNDEFINED_TYPE = 17
    NO_SUCH_OBJECT = 32
    INVALID_DN = 34
    INVALID_CREDENTIALS = 49
    INSUFFICIENT_RIGHTS = 50
    BUSY = 51
    UNAVAILABLE = 52
    UNWILLING = 53
    NAMING_VIOLATION = 64
    OBJECT_CLASS_VIOLATION = 65
    NOT_ALLOWED_ON_NON_LEAF = 66
    ALREADY_EXISTS = 68
    OTHER = 80


@dataclass(frozen=True, slots=True)
class Answer:
    code: int
    description: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    def __str__(self) -> str:
        return f"{self.description} ({self.code})" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True, slots=True)
class Found:
    """An entry a search returned: its DN and the attributes asked for (lists of strings)."""

    dn: str
    attributes: Mapping[str, Sequence[str]]


class LdapClient:
    def __init__(self, settings: LdapSettings, password: str, *, ca_file: Path | None = None):
        self.settings = settings
        self._password = password
        self._ca_file = ca_file
        self._lock = threading.RLock()
        self._conn: Connection | None = None
        self.writes = 0
        self.requests = 0
        parts = urlsplit(settings.url)
        self.host = parts.hostname or ""
        self.use_ssl = parts.scheme == "ldaps"
        self.port = parts.port or (636 if self.use_ssl else 389)

    def __repr__(self) -> str:
        return f"LdapClient({self.settings.url!r}, bind_dn={self.settings.bind_dn!r})"

    # -- connection ---------------------------------------------------------------------------------

    def _tls(self) -> Tls | None:
        if not (self.use_ssl or self.settings.start_tls):
            return None
        if not self.settings.verify_tls:
            return Tls(validate=ssl.CERT_NONE)
        return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self._ca_file) if self._ca_file else None)

    def connection(self) -> Connection:
        """The bound connection, opened on first use (and again after it was lost)."""
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                return self._conn
            self._conn = self._connect()
            return self._conn

    def _connect(self) -> Connection:
        where = f"{self.settings.url}"
        try:
            tls = self._tls()
        except LDAPException as exc:  # a CA file that is not there or not PEM
            raise TargetConfigError(f"ca_file {self._ca_file}: {exc}") from None
        server = Server(self.host, port=self.port, use_ssl=self.use_ssl, tls=tls, get_info=NONE,
                        connect_timeout=math.ceil(self.settings.timeout_s))
        conn = Connection(server, user=self.settings.bind_dn, password=self._password, raise_exceptions=False,
                          receive_timeout=math.ceil(self.settings.timeout_s), auto_referrals=False, read_only=False)
        try:
            conn.open()
            if self.settings.start_tls and not conn.start_tls():
                answer = _answer(conn.result)
                raise TargetConfigError(f"{where}: StartTLS was refused: {answer}")
            if not conn.bind():
                answer = _answer(conn.result)
                conn.unbind()
                if answer.code == Code.INVALID_CREDENTIALS:
                    raise TargetAuthError(f"{where}: the directory refused the bind DN {self.settings.bind_dn!r} with "
                                          "this password (invalidCredentials)")
                if answer.code in (Code.BUSY, Code.UNAVAILABLE):
                    raise TransientTargetError(f"{where}: bind: {answer}", overload=True)
                raise TargetConfigError(f"{where}: bind as {self.settings.bind_dn!r} failed: {answer}")
        except LDAPException as exc:
            raise _connection_error(where, exc) from None
        log.debug("ldap.connected", url=where, tls="ldaps" if self.use_ssl else
                  ("starttls" if self.settings.start_tls else "none"))
        return conn

    def tls_in_use(self) -> bool:
        conn = self.connection()
        return bool(self.use_ssl or conn.tls_started)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(LDAPException):  # closing a connection the server already dropped
                    self._conn.unbind()
                self._conn = None

    # -- operations ---------------------------------------------------------------------------------

    def send(self, op: Operation, *, password: str | None = None) -> Answer:
        """Send one operation; the answer is the server's (an LDAP error for this entry is not raised)."""
        with self._lock:
            conn = self.connection()
            self.requests += 1
            self.writes += 1
            try:
                if isinstance(op, AddEntry):
                    attributes = {k: list(v) for k, v in op.attributes.items() if k != "objectClass"}
                    conn.add(op.dn, list(op.attributes["objectClass"]), attributes)
                elif isinstance(op, ModifyEntry):
                    changes: dict[str, list[tuple[Any, list[str]]]] = {}
                    for kind, name, values in op.changes:
                        changes.setdefault(name, []).append((_MODIFY[kind], list(values)))
                    conn.modify(op.dn, changes, controls=[PERMISSIVE_MODIFY] if op.permissive else None)
                elif isinstance(op, MoveEntry):
                    conn.modify_dn(op.dn, op.new_rdn, delete_old_dn=True, new_superior=op.new_superior)
                elif isinstance(op, DeleteEntry):
                    conn.delete(op.dn)
                elif isinstance(op, SetPassword):
                    assert password is not None, "SetPassword needs the password the target made"
                    if self.settings.flavour is Flavour.AD:
                        conn.extend.microsoft.modify_password(op.dn, password)
                    else:
                        conn.extend.standard.modify_password(op.dn, new_password=password)
                else:  # pragma: no cover - the union is closed
                    raise TypeError(op)
            except LDAPException as exc:
                self._conn = None
                raise _connection_error(self.settings.url, exc) from None
            return self._checked(_answer(conn.result))

    def search(self, base: str, search_filter: str, attributes: Sequence[str], *, scope: str = "sub") -> list[Found]:
        """Every entry that matches (paged); a base that does not exist gives no entries."""
        return list(self.iter_search(base, search_filter, attributes, scope=scope))

    def iter_search(self, base: str, search_filter: str, attributes: Sequence[str], *,
                    scope: str = "sub") -> Iterator[Found]:
        cookie: bytes | None = None
        while True:
            with self._lock:
                conn = self.connection()
                self.requests += 1
                try:
                    conn.search(base, search_filter, _SCOPES[scope], attributes=list(attributes) or ["1.1"],
                                paged_size=PAGE_SIZE, paged_cookie=cookie)
                except LDAPException as exc:
                    self._conn = None
                    raise _connection_error(self.settings.url, exc) from None
                answer = _answer(conn.result)
                if answer.code == Code.NO_SUCH_OBJECT:
                    return
                self._checked(answer, reading=True)
                page = [Found(e["dn"], dict(e.get("attributes") or {})) for e in conn.response or []
                        if e.get("type") == "searchResEntry"]
                controls = (conn.result or {}).get("controls") or {}
                cookie = (controls.get("1.2.840.113556.1.4.319") or {}).get("value", {}).get("cookie") or None
            yield from page
            if not cookie:
                return

    def read(self, dn: str, attributes: Sequence[str]) -> Found | None:
        found = self.search(dn, "(objectClass=*)", attributes, scope="base")
        return found[0] if found else None

    def _checked(self, answer: Answer, *, reading: bool = False) -> Answer:
        """Whole-connection problems raise; everything else is the caller's to judge."""
        if answer.code in (Code.BUSY, Code.UNAVAILABLE, Code.TIME_LIMIT, Code.ADMIN_LIMIT):
            raise TransientTargetError(f"{self.settings.url}: the directory is busy: {answer}", overload=True)
        if answer.code in (Code.STRONGER_AUTH,):
            raise TargetConfigError(f"{self.settings.url}: the directory wants a stronger connection: {answer}; "
                                    "use ldaps:// or start_tls = true")
        if answer.code == Code.INSUFFICIENT_RIGHTS:
            raise TargetConfigError(f"{self.settings.url}: {self.settings.bind_dn!r} may not "
                                    f"{'read' if reading else 'write'} here: {answer}; give it write access to "
                                    f"{self.settings.base_dn}")
        if reading and not answer.ok:
            raise TransientTargetError(f"{self.settings.url}: search failed: {answer}")
        return answer


def _answer(result: Mapping[str, Any] | None) -> Answer:
    result = result or {}
    return Answer(int(result.get("result", Code.OTHER)), str(result.get("description", "")),
                  str(result.get("message", "") or ""))


def _connection_error(where: str, exc: LDAPException) -> Exception:
    text = str(exc)
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return TargetConfigError(f"{where}: TLS failed: {text}. Give the CA that signed the server's certificate "
                                 "as ca_file (verification stays on), or check that the URL's host name is in the "
                                 "certificate")
    return TransientTargetError(f"{where}: cannot reach the directory: {text}", unanswered="timed out" in lowered)
