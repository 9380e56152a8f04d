"""The round trip's machinery: a koppel.toml whose source is koppel's OneRoster source and whose target is this
one, a sync through the pipeline, and the published zips read back with the same OneRoster source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit

from koppel.config import load_config
from koppel.connectors import ConnectorContext
from koppel.model.roster import Roster, SchoolYear
from koppel.pipeline import Koppel
from koppel.sources.oneroster import OneRosterSource
from koppel.sources.oneroster.settings import OneRosterSettings

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs" / "oneroster"  # the sample sets, copied from shared/specs


def write_config(root: Path, *, year: str, source: Mapping[str, Any], target: Mapping[str, Any],
                 rules: Mapping[str, Any] | None = None, policy: Mapping[str, Any] | None = None) -> Path:
    doc: dict[str, Any] = {
        "state": {"url": "sqlite:///state.db"},
        "tenants": {"t": {
            "name": "Round trip", "school_year": year,
            "sources": {"las": dict(source)},
            "targets": {"oneroster": {"kind": "oneroster-csv", "folder": "out", **target,
                                      "rules": dict(rules or {}), "policy": dict(policy or {})}},
        }},
    }
    path = root / "koppel.toml"
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return path


def open_app(config: Path, today: dt.date) -> Koppel:
    return Koppel.open(load_config(config), env={}, today=lambda: today)


def read_back(zips: Sequence[Path], year: SchoolYear, today: dt.date, **settings: Any) -> Roster:
    """The published zips (a bulk, then deltas) read by koppel's OneRoster source."""
    source = OneRosterSource("back", OneRosterSettings(path=str(zips[0]), deltas=[str(z) for z in zips[1:]],
                                                       **settings),
                             ConnectorContext("t", base_dir=zips[0].parent, school_year=year), today=lambda: today)
    return source.read()


def persons_of(roster: Roster, key_of: Any = lambda p: p.key) -> dict[str, tuple[Any, ...]]:
    """Persons as (kind, roepnaam, voorvoegsel, achternaam, email, schools), by ``key_of(person)``."""
    return {key_of(p): (p.kind, p.roepnaam, p.voorvoegsel, p.achternaam, p.email, tuple(sorted(p.schools)))
            for p in roster.persons.values()}


def memberships_of(roster: Roster, person_key: Any = lambda p: p.key, group_key: Any = lambda g: g.key
                   ) -> set[tuple[str, str, str]]:
    persons = {p.key: person_key(p) for p in roster.persons.values()}
    groups = {g.key: group_key(g) for g in roster.groups.values()}
    return {(persons[m.person], groups[m.group], m.role.value) for m in roster.memberships
            if m.person in persons and m.group in groups}
