"""Reading OneRoster exports the way koppel does, with a fixed 'today', plus the golden-file helper."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from koppel.connectors import ConnectorContext
from koppel.model import Roster, SchoolYear
from koppel.sources.oneroster import OneRosterSettings, OneRosterSource

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs" / "oneroster"
GOLDEN = Path(__file__).parent / "golden"
TODAY = dt.date(2025, 10, 1)


def make_source(
    path: Path | str,
    *,
    requested: SchoolYear | None = None,
    name: str = "or",
    base_dir: Path | None = None,
    **settings: Any,
) -> OneRosterSource:
    ctx = ConnectorContext(tenant="test", base_dir=base_dir or Path.cwd(), env={}, school_year=requested)
    return OneRosterSource(name, OneRosterSettings(path=str(path), **settings), ctx, today=lambda: TODAY)


def read(path: Path | str, **kwargs: Any) -> Roster:
    return make_source(path, **kwargs).read()


def codes(roster: Roster) -> list[str]:
    return sorted(d.code for d in roster.diagnostics)


def _origin(obj: Any) -> str | None:
    return f"{obj.provenance.file}:{obj.provenance.line}" if obj.provenance else None


def roster_document(roster: Roster) -> dict[str, Any]:
    """Everything a roster says, as sorted plain JSON (file names in provenance are export-relative)."""
    return {
        "school_year": str(roster.school_year),
        "schools": sorted([s.brin6, s.name] for s in roster.schools.values()),
        "persons": sorted(
            (
                {
                    "key": p.key,
                    "kind": p.kind.value,
                    "name": [p.roepnaam, p.voorvoegsel, p.achternaam],
                    "email": p.email,
                    "eckid": p.eckid,
                    "leerlingnummer": p.leerlingnummer,
                    "username": p.las_username,
                    "schools": list(p.schools),
                    "leerjaar": p.leerjaar,
                    "children": list(p.children),
                    "from": _origin(p),
                }
                for p in roster.persons.values()
            ),
            key=lambda p: p["key"],
        ),
        "groups": sorted(
            (
                {
                    "key": g.key,
                    "kind": g.kind.value,
                    "name": g.name,
                    "school": g.school,
                    "subject": g.subject,
                    "subject_name": g.subject_name,
                    "leerjaar": g.leerjaar,
                    "from": _origin(g),
                }
                for g in roster.groups.values()
            ),
            key=lambda g: g["key"],
        ),
        "memberships": sorted(
            [
                m.person,
                m.group,
                m.role.value,
                str(m.start) if m.start else None,
                str(m.end) if m.end else None,
            ]
            for m in roster.memberships
        ),
        "diagnostics": sorted(
            ([d.severity.value, d.code, d.file, d.line, d.message] for d in roster.diagnostics),
            key=lambda d: [str(x) for x in d],
        ),
    }


def assert_golden(name: str, document: dict[str, Any]) -> None:
    """Compare with ``golden/<name>.json``; KOPPEL_UPDATE_GOLDEN=1 writes it instead (review the diff!)."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("KOPPEL_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; run once with KOPPEL_UPDATE_GOLDEN=1 and review it"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)
