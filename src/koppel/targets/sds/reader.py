"""``read()`` for the SDS target: what koppel last published, from its mirror (reconciliation).

SDS offers no read-back of an inbound flow's data that koppel could use, and the CSV files may be taken away
once uploaded; the mirror (``<folder>/.koppel/<target>.db``, written after every publication) is what the
published set was made from. Every object in it is returned, suspended and archived ones too, in koppel's
target-neutral attributes.
"""

from __future__ import annotations

from koppel.targets.base import ReadObject, TargetSnapshot
from koppel.targets.files import PublishedRoster

__all__ = ["snapshot_of"]


def snapshot_of(roster: PublishedRoster, *, flow: str | None = None) -> TargetSnapshot:
    objects = tuple(ReadObject(o.kind, o.key, dict(o.attrs), o.target_id or o.key) for o in roster.published.values())
    notes = (f"what koppel last published (publication {roster.publication}"
             + (f", flow {flow}" if flow else "") + "); SDS itself is not read back",)
    return TargetSnapshot(objects, complete=True, notes=notes)
