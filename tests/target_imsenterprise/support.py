"""Helpers of the IMS Enterprise target tests: a target in a folder with a clock the test moves."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from koppel.targets.imsenterprise import ImsEnterpriseSettings, ImsEnterpriseTarget
from koppel.targets.imsenterprise.reader import ParsedFile, parse_file

START = dt.datetime(2025, 10, 1, 8, 0, tzinfo=dt.UTC)


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def make_target(folder: Path, clock: Clock | None = None, *, name: str = "moodle", **settings: Any) -> ImsEnterpriseTarget:
    return ImsEnterpriseTarget(name, ImsEnterpriseSettings(folder=str(folder), **settings), folder=folder,
                               clock=clock or Clock())


def published(target: ImsEnterpriseTarget, sequence: int = 1) -> ParsedFile:
    return parse_file(target.path_for(sequence).read_bytes())
