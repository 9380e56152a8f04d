"""Reading the sandbox: everything the generator made comes back, for this year and the next.

The sandbox builds Somtoday's JSON from the generator on its own; the source reads that JSON on
its own. Agreement between the two (projected onto the LAS's words: stamnummer, docentcode, klas
and lesgroep names) is the evidence that both read the spec the same way.
"""

from __future__ import annotations

from koppel.generator import Bestuur
from koppel.model import GroupKind, PersonKind, Role, Roster
from koppel.sandbox.somtoday import SandboxServer

from .conftest import TODAY, YEAR, StartSandbox, make_source


def expected_view(bestuur: Bestuur) -> tuple[dict, dict, set]:
    persons: dict = {}
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
    groups: dict = {}
    for k in bestuur.klassen:
        groups[(k.brin6, "stamgroep", k.name)] = (None, None, k.leerjaar, k.onderwijssoort.upper())
    for g in bestuur.lesgroepen:
        groups[(g.brin6, "lesgroep", g.name)] = (g.vak, g.vaknaam, g.leerjaar, g.onderwijssoort.upper())
    memberships: set = set()
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
    def person_id(key: str) -> tuple:
        p = roster.persons[key]
        number = p.leerlingnummer if p.kind is PersonKind.STUDENT else p.docentcode
        return (p.kind.value, p.schools[0], number)

    def group_id(key: str) -> tuple:
        g = roster.groups[key]
        return (g.school, g.kind.value, g.name)

    persons = {
        person_id(k): (p.roepnaam, p.voorvoegsel, p.achternaam, p.email, p.eckid, p.las_username, p.leerjaar)
        for k, p in roster.persons.items()
    }
    groups = {
        group_id(k): (g.subject, g.subject_name, g.leerjaar, g.onderwijssoort)
        for k, g in roster.groups.items()
    }
    memberships = {(person_id(m.person), group_id(m.group), m.role.value) for m in roster.memberships}
    return persons, groups, memberships


def test_the_current_year_reads_back_what_was_generated(sandbox: SandboxServer, bestuur: Bestuur) -> None:
    roster = make_source(sandbox).read()
    assert roster.school_year == YEAR
    assert roster.diagnostics == ()
    assert {s.brin6: s.name for s in roster.schools.values()} == {s.brin6: s.name for s in bestuur.schools}
    persons, groups, memberships = roster_view(roster)
    expected = expected_view(bestuur)
    assert persons == expected[0]
    assert groups == expected[1]
    assert memberships == expected[2]
    assert len(roster.memberships) == len(memberships)


def test_keys_follow_the_identity_rules(sandbox: SandboxServer, bestuur: Bestuur) -> None:
    roster = make_source(sandbox).read()
    pupil = next(p for p in bestuur.pupils if p.eckid)
    (person,) = [p for p in roster.persons.values() if p.leerlingnummer == pupil.stamnr]
    assert person.key == f"eck:{pupil.eckid}"
    assert person.provenance is not None and person.provenance.ref == (
        f"/connect/vestiging/{sandbox.vestiging(pupil.brin6)}/leerling/{person.las_key}"
    )
    without = next(p for p in bestuur.pupils if not p.eckid)
    (person,) = [p for p in roster.persons.values() if p.leerlingnummer == without.stamnr]
    assert person.key == f"som:{person.las_key}"
    klas = next(g for g in roster.groups.values() if g.kind is GroupKind.STAMGROEP)
    assert klas.key == f"som:{klas.school}:{YEAR}:{klas.las_key}"


def test_the_stamgroep_membership_carries_the_plaatsing_dates(sandbox: SandboxServer) -> None:
    roster = make_source(sandbox).read()
    stamgroepen = {k for k, g in roster.groups.items() if g.kind is GroupKind.STAMGROEP}
    dated = [m for m in roster.memberships if m.group in stamgroepen and m.role is Role.STUDENT]
    assert dated and all((m.start, m.end) == (YEAR.start, YEAR.end) for m in dated)


def test_volgend_reads_next_year_for_the_jaarovergang(sandbox: SandboxServer, next_bestuur: Bestuur) -> None:
    roster = make_source(sandbox, requested=YEAR.next()).read()
    assert roster.school_year == YEAR.next()
    assert "peilschooljaar VOLGEND" in (roster.sources[0].location or "")
    persons, groups, memberships = roster_view(roster)
    expected = expected_view(next_bestuur)
    # pupils who stay carry this year's plaatsing too; the source picks next year's
    assert persons == expected[0]
    assert (groups, memberships) == expected[1:]


def test_brins_narrow_the_vestigingen(sandbox: SandboxServer, bestuur: Bestuur) -> None:
    brin6 = bestuur.schools[1].brin6
    roster = make_source(sandbox, brins=[brin6]).read()
    assert list(roster.schools) == [brin6]
    assert all(p.schools == (brin6,) for p in roster.persons.values())


def test_vestigingen_by_uuid_and_brin6_override(sandbox: SandboxServer, bestuur: Bestuur) -> None:
    uuid = sandbox.vestiging(bestuur.schools[0].brin6)
    roster = make_source(sandbox, vestigingen=[uuid], vestiging_brin6={uuid: "99ZZ01"}).read()
    assert list(roster.schools) == ["99ZZ01"]
    assert all(g.school == "99ZZ01" for g in roster.groups.values())


def test_withheld_fields_leave_the_rest_readable(
    start_sandbox: StartSandbox, small_sandbox: SandboxServer
) -> None:
    hidden = {
        "leerling": frozenset({"eckid", "emailadres", "lesgroepen"}),
        "plaatsing": frozenset({"stamgroep", "schooljaar", "startdatum", "einddatum"}),
        "lesgroep": frozenset({"vak", "schooljaar"}),
        "medewerker": frozenset({"roepnaam", "lesgroepen"}),
    }
    with start_sandbox(hidden_fields=hidden) as narrow:
        partial = make_source(narrow).read()
    full = make_source(small_sandbox).read()
    assert partial.diagnostics == ()
    assert all(
        p.eckid is None and p.email is None for p in partial.persons.values() if p.kind is PersonKind.STUDENT
    )
    assert all(k.startswith("som:") for k in partial.persons)
    assert all(
        len(p.roepnaam) == 1 for p in partial.persons.values() if p.kind is PersonKind.STAFF
    )  # voorletters
    assert all(g.subject is None for g in partial.groups.values())
    # who is in which group still comes through the other side of each relation
    assert roster_view(partial)[2] == roster_view(full)[2]


def test_staff_who_left_before_today_are_not_read(sandbox: SandboxServer) -> None:
    roster = make_source(sandbox, today=TODAY).read()
    assert roster.sources[0].counts.get("medewerkers.uit_dienst", 0) == 0  # the generator has no leavers
    assert any(p.kind is PersonKind.STAFF for p in roster.persons.values())
