"""OneRoster CSV target: a OneRoster 1.1 or 1.2 CSV zip, bulk or delta, published in a folder
(docs/targets/oneroster-csv.md).

Layout, pure first: :mod:`.settings` is the documented settings model; :mod:`.mapping` turns objects into the
rows of each file per version; :mod:`.tables` makes a publication's rows (every row, or what changed);
:mod:`.package` writes the zip; :mod:`.preview` shows a change's rows for ``koppel plan --show-payloads``.
Then :mod:`.target` — staging on the published mirror and publishing atomically — and :mod:`.reader`, which
reads published zips back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from koppel.connectors import ConnectorContext, TargetKind
from koppel.targets.onerostercsv.preview import preview
from koppel.targets.onerostercsv.settings import OneRosterCsvSettings
from koppel.targets.onerostercsv.target import ACTIONS, OneRosterCsvTarget

__all__ = ["KIND", "OneRosterCsvSettings", "OneRosterCsvTarget", "factory"]


def factory(name: str, settings: OneRosterCsvSettings | Mapping[str, Any], ctx: ConnectorContext, *,
            clock: Callable[[], dt.datetime] | None = None) -> OneRosterCsvTarget:
    """Build the target ``name``: the folder relative to the config file, the mirror beside it."""
    if not isinstance(settings, OneRosterCsvSettings):
        settings = OneRosterCsvSettings.model_validate(dict(settings))
    folder = ctx.path(settings.folder)
    mirror = ctx.path(settings.mirror) if settings.mirror else folder / ".koppel" / f"{name}.db"
    extra = {"clock": clock} if clock is not None else {}
    return OneRosterCsvTarget(name, settings, folder=folder, mirror=mirror, **extra)


KIND = TargetKind(
    kind="oneroster-csv",
    summary="OneRoster 1.1/1.2 CSV zip (bulk or delta) in a folder, for Brightspace, Schoology and other consumers",
    settings=OneRosterCsvSettings,
    factory=factory,
    mandatory_fields={},
    actions=ACTIONS,
    preview=preview,
)
