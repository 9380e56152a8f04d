"""Natural-key views of a generated bestuur and of a roster, to compare them across layouts.

Keys differ per layout by design (a Magister klas is ``stamgroep:1A``, a koppel-native one just
``1A``); what must not differ is *who* is *where* in *which role*, and the names and attributes
that travel with them. Both sides are projected onto the LAS's own words: (school, stamnr) for
pupils, (school, docentcode) for staff, (school, kind, name) for groups.
"""

from __future__ import annotations

from koppel.generator import Bestuur
from koppel.model import GroupKind, PersonKind, Roster

PersonId = tuple[str, str, str]  # (kind, school, stamnr or docentcode)
GroupId = tuple[str, str, str]  # (school, kind, name)


def expected_view(bestuur: Bestuur) -> tuple[dict, dict, set]:
    persons: dict[PersonId, tuple] = {}
    for p in bestuur.pupils:
        persons[("student", p.brin6, p.stamnr)] = (
            p.roepnaam,
            p.voorvoegsel,
            p.achternaam,
            p.email,
            p.eckid,
            p.login,
            p.leerjaar,
        )
    for t in bestuur.teachers:
        persons[("staff", t.brin6, t.docentcode)] = (
            t.roepnaam,
            t.voorvoegsel,
            t.achternaam,
            t.email,
            None,
            t.login,
            None,
        )
    groups: dict[GroupId, tuple] = {}
    for k in bestuur.klassen:
        groups[(k.brin6, "stamgroep", k.name)] = (None, None, k.leerjaar, k.onderwijssoort, None)
    for g in bestuur.lesgroepen:
        parent = (g.brin6, "stamgroep", g.klas) if g.klas else None
        groups[(g.brin6, "lesgroep", g.name)] = (g.vak, g.vaknaam, g.leerjaar, g.onderwijssoort, parent)
    memberships: set[tuple[PersonId, GroupId, str]] = set()
    for p in bestuur.pupils:
        memberships.add((("student", p.brin6, p.stamnr), (p.brin6, "stamgroep", p.klas), "student"))
    for k in bestuur.klassen:
        if k.mentor:
            memberships.add((("staff", k.brin6, k.mentor), (k.brin6, "stamgroep", k.name), "mentor"))
    for g in bestuur.lesgroepen:
        group = (g.brin6, "lesgroep", g.name)
        memberships.update((("student", g.brin6, s), group, "student") for s in g.pupils)
        memberships.update((("staff", g.brin6, c), group, "teacher") for c in g.teachers)
    return persons, groups, memberships


def roster_view(roster: Roster) -> tuple[dict, dict, set]:
    def person_id(key: str) -> PersonId:
        p = roster.persons[key]
        number = p.leerlingnummer if p.kind is PersonKind.STUDENT else p.docentcode
        return (p.kind.value, p.schools[0], number or "")

    def group_id(key: str) -> GroupId:
        g = roster.groups[key]
        return (g.school, g.kind.value, g.name)

    persons = {
        person_id(key): (
            p.roepnaam,
            p.voorvoegsel,
            p.achternaam,
            p.email,
            p.eckid,
            p.las_username,
            p.leerjaar,
        )
        for key, p in roster.persons.items()
    }
    groups = {
        group_id(key): (
            g.subject,
            g.subject_name,
            g.leerjaar,
            g.onderwijssoort,
            group_id(g.parent) if g.parent else None,
        )
        for key, g in roster.groups.items()
        if g.kind in (GroupKind.STAMGROEP, GroupKind.LESGROEP)
    }
    memberships = {(person_id(m.person), group_id(m.group), m.role.value) for m in roster.memberships}
    return persons, groups, memberships
