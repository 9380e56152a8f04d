"""The source conformance suite: what every source must do, whatever it reads.

Subclass in a pytest module and provide two fixtures::

    class TestMySource(SourceConformance):
        @pytest.fixture
        def source(self, tmp_path):          # a source that reads a valid, non-trivial data set
            ...
        @pytest.fixture
        def broken_source(self, tmp_path):   # the same source, made to fail (server down, file cut short …)
            ...

The suite checks: ``read`` returns a complete Roster with schools, pupils, groups and memberships;
every object carries provenance (the source name and a file/line or a record reference); keys follow
the identity rules (ECK iD first, else source and LAS key; groups per source, BRIN6 and school year);
memberships point at persons and groups that exist; two reads of the same data give the same roster;
a failing read raises ``SourceError`` instead of returning part of the data.
"""

from __future__ import annotations

import pytest

from koppel.errors import SourceError
from koppel.model.roster import Group, Membership, Person, PersonKind, Roster
from koppel.sources.base import Source

__all__ = ["SourceConformance", "roster_fingerprint"]


def roster_fingerprint(roster: Roster) -> tuple:
    """Everything a roster says, as comparable plain values (diagnostics included)."""
    return (
        str(roster.school_year),
        sorted((s.brin6, s.name) for s in roster.schools.values()),
        sorted((p.key, p.kind.value, p.roepnaam, p.voorvoegsel, p.achternaam, p.email, p.eckid, p.leerlingnummer,
                p.docentcode, p.schools) for p in roster.persons.values()),
        sorted((g.key, g.kind.value, g.name, g.school, str(g.school_year), g.leerjaar, g.subject, g.parent)
               for g in roster.groups.values()),
        sorted((m.person, m.group, m.role.value, str(m.start), str(m.end)) for m in roster.memberships),
        sorted((d.severity.value, d.code, d.message) for d in roster.diagnostics),
    )


class SourceConformance:
    """Base class of the suite (its name does not start with Test, so it is not collected itself)."""

    def test_reads_a_complete_roster(self, source: Source) -> None:
        roster = source.read()
        assert isinstance(roster, Roster)
        assert roster.schools, "a roster names its schools"
        assert any(p.kind is PersonKind.STUDENT for p in roster.persons.values()), "a roster has pupils"
        assert roster.groups and roster.memberships

    def test_provenance_on_every_object(self, source: Source) -> None:
        roster = source.read()
        objects: list[Person | Group | Membership] = [
            *roster.persons.values(), *roster.groups.values(), *roster.memberships]
        for obj in objects:
            prov = obj.provenance
            assert prov is not None, f"{obj!r} has no provenance"
            assert prov.source == source.name, f"{obj!r}: provenance names {prov.source!r}, not {source.name!r}"
            assert prov.file or prov.ref, f"{obj!r}: provenance says neither file nor record"

    def test_keys_follow_the_identity_rules(self, source: Source) -> None:
        roster = source.read()
        for key, person in roster.persons.items():
            assert key == person.key
            if person.eckid:
                assert key == f"eck:{person.eckid}", "the ECK iD is the preferred person key"
            else:
                assert key == f"{person.source}:{person.las_key}", "else (source, LAS key)"
            assert person.schools and all(s in roster.schools for s in person.schools)
        for key, group in roster.groups.items():
            assert key == group.key
            assert group.school in roster.schools
            assert key.startswith(f"{group.source}:{group.school}:{group.school_year}:"), \
                "groups are keyed by (source, BRIN6, school year, LAS key)"

    def test_memberships_point_at_known_objects(self, source: Source) -> None:
        roster = source.read()
        for m in roster.memberships:
            assert m.person in roster.persons, f"membership of unknown person {m.person}"
            assert m.group in roster.groups, f"membership of unknown group {m.group}"

    def test_deterministic(self, source: Source) -> None:
        assert roster_fingerprint(source.read()) == roster_fingerprint(source.read())

    def test_failure_raises_instead_of_returning_part(self, broken_source: Source) -> None:
        with pytest.raises(SourceError):
            broken_source.read()
