"""Text from a LAS is data, never markup or terminal control: bounds and character rules for every field.

Every source checks every text field it reads with :func:`field_problem` (names, codes, e-mail, ids)
and reports a problem with its file and line (or object). The CLI shows LAS text through
:func:`printable`, so a name can never move the cursor, recolour a terminal or reorder what is shown.

The limits are generous — far above what itslearning stores (64 characters for an id, see
docs/targets/itslearning.md) — because they are there to stop hostile or broken input, not to fit a
target: the target still cuts to its own limits as before.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

__all__ = [
    "FIELD_LIMITS",
    "FieldKind",
    "field_problem",
    "has_mojibake",
    "printable",
]

FieldKind = Literal["name", "code", "email", "id", "text"]

FIELD_LIMITS: dict[str, int] = {
    "name": 200,   # a roepnaam, achternaam, voorvoegsel, a klas or course name
    "code": 100,   # a klas code, vak code, BRIN, leerlingnummer, docentcode
    "email": 320,  # RFC 5321: 64 + 1 + 255
    "id": 256,     # source ids, ECK iD (a URI of ~100), GUIDs
    "text": 1000,  # anything else (descriptions, free fields)
}
"""Characters at most per kind of field (well above every target's own limits)."""

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
"""Embeddings, overrides and isolates (U+202A–E, U+2066–9) and the directional marks: with them a name
shows differently from what it is ("Trojan Source", CVE-2021-42574)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]")

_MOJIBAKE = re.compile(
    "Ã[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    "|Å[\u0080-\u00bf\u2019\u201c\u201d\u02c6\u0178]|â€"
)
"""UTF-8 read as Windows-1252 or Latin-1: "Noëlle" becomes "NoÃ«lle", "é" "Ã©", "’" "â€™"."""


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    return f"{code} {name}" if name else code


def field_problem(value: str, kind: FieldKind = "name") -> str | None:
    """Why ``value`` cannot be accepted as a field of this kind, or None when it can.

    Refused everywhere: NUL and other control characters (C0 except none, DEL, C1), line and paragraph
    separators, and bidi controls. Refused above :data:`FIELD_LIMITS`: the field's length.
    """
    limit = FIELD_LIMITS[kind]
    if len(value) > limit:
        article = "an" if kind[0] in "aeiou" else "a"
        return f"is {len(value):,} characters long, more than the {limit:,} koppel accepts for {article} {kind}"
    match = _CONTROL.search(value)
    if match is not None:
        char = match.group()
        what = "a NUL character" if char == "\x00" else (
            "a bidirectional control character" if char in _BIDI_CONTROLS else "a control character")
        return f"contains {what} ({_describe(char)}) at position {match.start() + 1}"
    return None


def has_mojibake(value: str) -> bool:
    """Whether ``value`` looks like UTF-8 text that was read as Windows-1252 ("NoÃ«lle")."""
    return _MOJIBAKE.search(value) is not None


def printable(value: object) -> str:
    """``value`` as text safe for a terminal: control and bidi characters shown as escapes, never sent."""
    text = str(value)
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
