"""The source contract: ``read() -> Roster``, completely or raises.

A source never returns half a roster. If a file is truncated, a page fails to load or the LAS says
it is busy, ``read`` raises a ``SourceError`` and the run stops for this tenant before anything is
planned (DESIGN §1, §7). Bad *rows* are not exceptions: they become diagnostics with file and line
on the roster, and the row is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from koppel.model.roster import Roster

__all__ = ["Source", "SourceKind"]


@runtime_checkable
class Source(Protocol):
    name: str

    def read(self) -> Roster: ...


@dataclass(frozen=True)
class SourceKind:
    """A registered kind of source: its settings model (documented per field) and a factory."""

    kind: str
    summary: str
    settings: type[BaseModel]
    factory: Callable[..., Source]  # factory(name: str, settings, *, base_dir: Path, secrets) -> Source
