"""Sync keys and fingerprint markers: the formats koppel sends to targets and keeps in its state, in one place.

A sync key never changes for the same object — to a platform a changed key is a new account, a new course —
so these formats are part of every state store and every target koppel has written to: change one only
with a migration of both. The rules make keys, the plan and the targets read them, and nobody else spells
them out.

* persons: ``eck-<20 hex>`` (a digest of the ECK iD, the preferred identity) or ``<source>:<LAS key>``;
* groups: ``school:<BRIN6>``, ``year:<BRIN6>:<school year>``, ``leerjaar:<BRIN6>:<school year>:<leerjaar>``
  (the hierarchy), the roster's group key for a klas or a lesgroep course, ``<klas key>:<vak>`` for a
  klas × vak course and ``vj:<BRIN6>:<school year>:<leerjaar or ->:<vak>`` for a vak × jaarlaag course;
* memberships: ``<person>|<group>|<role>``. Person, group and role are the key, so the only attribute
  that can change for the same key is ``home``, and a membership's fingerprint is ``m1:1`` (home) or
  ``m1:0`` instead of a digest of its attributes.

These are plain functions and constants: the rules build a million membership keys for a bestuur.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from koppel.model.roster import Person

__all__ = [
    "ADOPTED",
    "MEMBERSHIP_AWAY",
    "MEMBERSHIP_HOME",
    "TAKEOVER_FOREIGN",
    "TAKEOVER_STALE",
    "UNRECORDED",
    "eck_sync_key",
    "klas_vak_key",
    "leerjaar_key",
    "membership_fingerprint",
    "membership_key",
    "person_sync_key",
    "school_key",
    "stale_serial",
    "vak_jaarlaag_key",
    "year_key",
]

# -- persons ---------------------------------------------------------------------------------------


def eck_sync_key(eckid: str) -> str:
    """``eck-<20 hex>``: the ECK iD itself is long and a pseudonym koppel does not spread further."""
    return "eck-" + hashlib.blake2b(eckid.encode(), digest_size=10).hexdigest()


def person_sync_key(person: Person) -> str:
    """A new person's sync key: ``eck-<20 hex>`` with an ECK iD, otherwise ``<source>:<LAS key>``. (A person
    koppel already manages keeps the key it has: see ``rules.engine.IdentityIndex``.)"""
    if person.eckid:
        return eck_sync_key(person.eckid)
    return f"{person.source}:{person.las_key}"


# -- groups ----------------------------------------------------------------------------------------


def school_key(brin6: str) -> str:
    return f"school:{brin6}"


def year_key(brin6: str, school_year: str) -> str:
    return f"year:{brin6}:{school_year}"


def leerjaar_key(brin6: str, school_year: str, leerjaar: int) -> str:
    return f"leerjaar:{brin6}:{school_year}:{leerjaar}"


def klas_vak_key(klas_key: str, vak: str) -> str:
    """The course of one vak for one klas (course strategy ``klas-vak``)."""
    return f"{klas_key}:{vak}"


def vak_jaarlaag_key(brin6: str, school_year: str, leerjaar: int | None, vak: str) -> str:
    """The course of one vak for one leerjaar of a school (course strategy ``vak-jaarlaag``)."""
    return f"vj:{brin6}:{school_year}:{leerjaar if leerjaar is not None else '-'}:{vak}"


# -- memberships -----------------------------------------------------------------------------------


def membership_key(person: str, group: str, role: str) -> str:
    """``<person>|<group>|<role>``, of the person's and the group's sync keys."""
    return f"{person}|{group}|{role}"


MEMBERSHIP_HOME = "m1:1"  # the fingerprint of a membership with ``home`` (itslearning's HomeOrganisation)
MEMBERSHIP_AWAY = "m1:0"  # ... and without


def membership_fingerprint(home: bool) -> str:
    return MEMBERSHIP_HOME if home else MEMBERSHIP_AWAY


# -- fingerprint markers ---------------------------------------------------------------------------
# A fingerprint is a digest of the attributes koppel sent (or ``m1:…`` for a membership). These values are
# never a digest, so the plan recognises the objects they mark.

# An existing account (or a membership, with a role other than the LAS's) that koppel adopted and has not sent
# its own attributes to yet: the next plan updates what koppel owns.
ADOPTED = "adopted"

# Accounts a takeover (`koppel takeover --approve`) found on the platform without a LAS person. A stale one —
# made by the previous koppeling in a school koppel covers — is proposed for suspension by a later plan, always
# held for approval; the number after the colon is the state's serial the takeover left, so that the
# takeover's first sync does not carry them. A foreign one (made by hand, outside koppel's schools) is never
# planned: it is recorded only so that its user name stays taken.
TAKEOVER_STALE = "takeover-stale:"
TAKEOVER_FOREIGN = "takeover-foreign"

# An object whose last change was sent to the target without its outcome being recorded (the state could not
# be written after the platform answered, or the process died with the request in flight). It never equals a
# real fingerprint, so the plan looks at the object again; ``StateView.unrecorded`` says what was sent.
UNRECORDED = "unrecorded"


def stale_serial(fingerprint: str) -> int | None:
    """The serial in a stale account's fingerprint; None for any other fingerprint."""
    if not fingerprint.startswith(TAKEOVER_STALE):
        return None
    try:
        return int(fingerprint[len(TAKEOVER_STALE):])
    except ValueError:
        return 0
