"""The LAS values a sync-id template can name, per desired object (pure).

The desired state speaks in koppel's keys and attributes; a previous koppeling named its objects after
the LAS's own numbers and names. This module collects those numbers and names — a pupil's
leerlingnummer, a teacher's docentcode, a lesgroep's name, the school's BRIN — for every desired person
and group, so that matching can fill in the templates of :mod:`koppel.takeover.settings`.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from koppel.model.desired import Desired, ObjectKind
from koppel.model.roster import GroupKind, Roster

__all__ = ["LasFacts", "applies", "expected_group_ids", "las_facts", "render", "render_all"]


@dataclass(frozen=True)
class LasFacts:
    """Per desired person: one set of values per school they are in. Per desired group: its values and
    its scope (school, year, klas or course), which decides the templates that apply to it."""

    persons: Mapping[str, tuple[Mapping[str, str], ...]]
    groups: Mapping[str, Mapping[str, str]]
    scopes: Mapping[str, str]


def _school_values(brin6: str, name: str) -> dict[str, str]:
    return {"brin": brin6[:4], "brin4": brin6[:4], "brin6": brin6, "school_name": name}


def las_facts(roster: Roster, desired: Desired) -> LasFacts:
    persons: dict[str, tuple[Mapping[str, str], ...]] = {}
    for obj in desired.of_kind(ObjectKind.PERSON):
        meta = obj.meta or {}
        base = {name: str(meta[name]) for name in ("leerlingnummer", "docentcode", "las_key", "eckid") if meta.get(name)}
        schools = list(meta.get("schools") or ([obj.school] if obj.school else []))
        persons[obj.key] = tuple({**base, **{k: v for k, v in _school_values(b, "").items() if k != "school_name"}}
                                 for b in schools) or (base,)
    groups: dict[str, Mapping[str, str]] = {}
    scopes: dict[str, str] = {}
    names = {b: s.name for b, s in roster.schools.items()}
    for obj in desired.of_kind(ObjectKind.GROUP):
        attrs = obj.attrs
        brin6 = str(attrs.get("school") or obj.school or "")
        values = _school_values(brin6, names.get(brin6, "")) if brin6 else {}
        year = attrs.get("school_year")
        if year:
            start = str(year)[:4]
            values |= {"jaar": start, "school_year": str(year), "school_year_short": f"{start[2:]}{str(year)[7:9]}"}
        source = roster.groups.get(obj.key)
        kind = attrs.get("type")
        if kind == "school":
            scope = "school"
        elif source is not None:
            values |= {"groep": source.name, "las_key": source.las_key}
            if attrs.get("code"):
                values["code"] = str(attrs["code"])
            if source.subject:
                values["vak"] = source.subject
            if source.kind is GroupKind.STAMGROEP:
                scope, values["klas"] = "klas", source.name
            else:
                scope, values["lesgroep"] = "course", source.name
        elif kind == "course":  # a course koppel derives (klas × vak, vak × jaarlaag): no LAS group of its own
            scope = "derived"
            if attrs.get("code"):
                values["code"] = str(attrs["code"])
        elif obj.key.startswith("year:"):
            scope = "year"
        else:
            scope = "folder"
        groups[obj.key] = values
        scopes[obj.key] = scope
    return LasFacts(persons, groups, scopes)


_APPLIES = {
    "school": {"school"},
    "year": {"year"},
    "klas": {"klas"},
    "course": {"course"},
    "group": {"klas", "course"},
}


def applies(template_scope: str, group_scope: str) -> bool:
    return group_scope in _APPLIES.get(template_scope, ())


def render(template: str, values: Mapping[str, str]) -> str | None:
    """``template`` filled in with ``values``; None when it names a value this object does not have."""
    try:
        return string.Formatter().vformat(template, (), values)
    except (KeyError, IndexError, ValueError):
        return None


def render_all(templates: Iterable[str], value_sets: Iterable[Mapping[str, str]]) -> set[str]:
    out = set()
    sets = list(value_sets)
    for template in templates:
        for values in sets:
            rendered = render(template, values)
            if rendered:
                out.add(rendered)
    return out


def expected_group_ids(facts: LasFacts, templates: Iterable[str]) -> set[str]:
    """The sync ids the group templates give the desired groups: discovery reads them as well, so that a
    course nobody is a member of any more is found too."""
    from koppel.takeover.settings import template_scope

    scoped = [(t, template_scope(t)) for t in templates]
    out: set[str] = set()
    for key, values in facts.groups.items():
        scope = facts.scopes.get(key, "")
        out |= render_all([t for t, s in scoped if applies(s, scope)], [values])
    return out
