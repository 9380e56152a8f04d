"""The EDEXML → Roster mapping as a pure function: the jaargroep table, and integrity on any document."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koppel.model.roster import SchoolYear
from koppel.sources.edexml.mapping import (
    JAARGROEPEN,
    KeyScope,
    MappingOptions,
    Origin,
    RosterAssembler,
    leerjaar_of,
)
from koppel.sources.edexml.model import (
    EdexDocument,
    Groep,
    GroepKoppeling,
    GroepRef,
    Leerkracht,
    Leerling,
    SchoolBlok,
)
from koppel.sources.edexml.parse import EdexmlStructureError


@pytest.mark.parametrize(
    ("jaargroep", "leerjaar"),
    [
        *((str(10 + n), n) for n in range(1, 7)),  # VO leerjaar 1-6
        *((str(n), n) for n in range(9)),  # PO groepen kept as they are
        *((code, None) for code in "SVCNHBD"),
        ("h", None),
        (" 12 ", 2),
        ("17", None),
        ("7B", None),
        (None, None),
    ],
)
def test_jaargroep_to_leerjaar(jaargroep: str | None, leerjaar: int | None) -> None:
    assert leerjaar_of(jaargroep) == leerjaar


def test_the_table_covers_the_schema_enumeration() -> None:
    schema = {"B", "D", *map(str, range(9)), *map(str, range(11, 17)), "S", "V", "C", "N", "H"}
    assert set(JAARGROEPEN) == schema


SCHOOL = SchoolBlok("2025-2026", None, "99ZZ", "00", None, None, None, None, 1)
keys = st.sampled_from(["a", "b", "c", "d"])
jaargroepen = st.one_of(st.none(), st.sampled_from(["11", "3", "C", "x"]))
names = st.one_of(st.none(), st.text(min_size=1, max_size=5))


@st.composite
def documents(draw: st.DrawFn) -> EdexDocument:
    groepen = tuple(
        Groep(k, draw(names), draw(jaargroepen), draw(st.booleans()), i)
        for i, k in enumerate(draw(st.lists(keys, max_size=5)))
    )
    refs = st.builds(GroepRef, keys, st.none())
    leerlingen = tuple(
        Leerling(
            k,
            draw(st.one_of(st.none(), st.sampled_from(["E1", "E2"]))),
            draw(names),
            None,
            None,
            None,
            draw(names),
            draw(jaargroepen),
            draw(st.one_of(st.none(), refs)),
            tuple(draw(st.lists(refs, max_size=3))),
            None,
            None,
            None,
            None,
            draw(st.one_of(st.none(), st.sampled_from(["2020-01-01", "2030-01-01"]))),
            i,
        )
        for i, k in enumerate(draw(st.lists(keys, min_size=1, max_size=6)))
    )
    koppelingen = st.builds(
        GroepKoppeling,
        keys,
        st.booleans(),
        st.lists(st.sampled_from(["LRK", "STA", "??"]), max_size=2).map(tuple),
        st.none(),
    )
    leerkrachten = tuple(
        Leerkracht(
            k,
            None,
            draw(names),
            None,
            None,
            None,
            None,
            None,
            None,
            (),
            tuple(draw(st.lists(koppelingen, max_size=3))),
            i,
        )
        for i, k in enumerate(draw(st.lists(keys, max_size=3)))
    )
    return EdexDocument(SCHOOL, (), groepen, leerlingen, leerkrachten, ())


@settings(max_examples=100, deadline=None)
@given(documents(), st.sampled_from(list(KeyScope)))
def test_any_document_maps_to_a_roster_with_integrity(document: EdexDocument, scope: KeyScope) -> None:
    assembler = RosterAssembler(MappingOptions("las", scope, {"STA": "skip"}), SchoolYear(2025))
    pupils = assembler.add(document, Origin("99ZZ00"))
    roster = assembler.build(kind="edexml", location=None)
    assert pupils == sum(p.kind.value == "student" for p in roster.persons.values())
    for membership in roster.memberships:
        assert membership.person in roster.persons and membership.group in roster.groups
    assert len({m.key for m in roster.memberships}) == len(roster.memberships)
    assert all(p.schools == ("99ZZ00",) for p in roster.persons.values())


def test_the_same_school_twice_is_refused() -> None:
    document = EdexDocument(SCHOOL, (), (), (), (), ())
    assembler = RosterAssembler(MappingOptions("las"), SchoolYear(2025))
    assembler.add(document, Origin("99ZZ00"))
    with pytest.raises(EdexmlStructureError, match="school 99ZZ00 is delivered twice"):
        assembler.add(document, Origin("99ZZ00"))
