"""Several sources, one roster: a bestuur with Magister at one school and Somtoday at another.

The same human in two schools (same ECK iD, hence the same person key) becomes one person whose
``schools`` is the union; their memberships simply add up. Conflicting names are resolved in
favour of the first source listed in the configuration, with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from koppel.model.roster import Diagnostic, Group, Membership, Person, Roster, School, Severity, SourceInfo


def merge_rosters(rosters: Sequence[Roster]) -> Roster:
    """Merge complete rosters of one tenant into one. All must describe the same school year."""
    if not rosters:
        raise ValueError("merge_rosters needs at least one roster")
    if len(rosters) == 1:
        return rosters[0]
    years = {r.school_year for r in rosters}
    if len(years) != 1:
        listed = ", ".join(sorted(str(y) for y in years))
        raise ValueError(f"sources describe different school years ({listed}); read them for one year")
    schools: dict[str, School] = {}
    persons: dict[str, Person] = {}
    groups: dict[str, Group] = {}
    memberships: list[Membership] = []
    diagnostics: list[Diagnostic] = []
    sources: list[SourceInfo] = []
    for roster in rosters:
        for brin6, school in roster.schools.items():
            schools.setdefault(brin6, school)
        for key, person in roster.persons.items():
            known = persons.get(key)
            if known is None:
                persons[key] = person
                continue
            merged_schools = tuple(dict.fromkeys(known.schools + person.schools))
            if (known.roepnaam, known.voorvoegsel, known.achternaam) != (
                person.roepnaam, person.voorvoegsel, person.achternaam
            ):
                diagnostics.append(Diagnostic(
                    Severity.WARNING, "name-conflict",
                    f"{known.display_name!r} and {person.display_name!r} share person key {key}; "
                    f"keeping the name from {known.source}",
                    source=person.source, object=key,
                    file=person.provenance.file if person.provenance else None,
                    line=person.provenance.line if person.provenance else None,
                ))
            persons[key] = replace(
                known,
                schools=merged_schools,
                email=known.email or person.email,
                children=tuple(dict.fromkeys(known.children + person.children)),
            )
        for key, group in roster.groups.items():
            groups.setdefault(key, group)
        memberships.extend(roster.memberships)
        diagnostics.extend(roster.diagnostics)
        sources.extend(roster.sources)
    return Roster.build(
        school_year=rosters[0].school_year,
        schools=schools.values(),
        persons=persons.values(),
        groups=groups.values(),
        memberships=memberships,
        diagnostics=diagnostics,
        sources=sources,
    )
