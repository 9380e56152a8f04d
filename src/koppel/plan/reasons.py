"""The reasons a plan gives that its later passes recognise (a move is told by two plain reasons; the takeover
hold counts one), so each is spelled in one place."""

from __future__ import annotations

__all__ = ["R_GONE", "R_NEW", "R_STALE"]

R_NEW = "new in the LAS"
R_GONE = "no longer in the LAS"
R_STALE = "found on the platform when koppel took it over, with no LAS person"
