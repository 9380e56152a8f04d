"""What koppel's network clients share (itslearning IMS ES, SCIM, Somtoday Connect, UWLR, LDAP): reading a
``Retry-After`` header, telling a refused certificate from other connection failures, and whether a host is this
machine."""

from __future__ import annotations

import email.utils
import ipaddress
import ssl
from datetime import UTC, datetime

__all__ = ["MAX_RETRY_AFTER_S", "certificate_failed", "is_loopback", "retry_after_seconds"]

MAX_RETRY_AFTER_S = 3600.0
"""A platform's ``Retry-After`` is honoured up to an hour; a longer one is read as an hour."""


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """An HTTP ``Retry-After`` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) in seconds, or None.

    At most :data:`MAX_RETRY_AFTER_S`; anything that is neither form (``²``, ``1e9``, ``-1``) is None.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(MAX_RETRY_AFTER_S, max(0.0, (when - (now or datetime.now(UTC))).total_seconds()))


def certificate_failed(exc: BaseException) -> bool:
    """Whether a connection failed on the server's certificate (somewhere in its chain of causes)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``): the one place where a setting may
    allow plain http or an unencrypted LDAP bind, for a local sandbox or test server."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
