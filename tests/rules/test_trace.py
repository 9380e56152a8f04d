"""The rules' trace for one person (koppel explain's "why") agrees with build_desired, which decides: for every
membership the LAS holds in a generated school, under each course strategy and with scope filters, the trace lets
it through exactly when build_desired makes it, and names the klas node or course it goes to."""

from __future__ import annotations

import pytest

from koppel.connectors import ConnectorContext
from koppel.generator import generate, write_layout
from koppel.model.keys import membership_key
from koppel.model.roster import SchoolYear
from koppel.rules.engine import IdentityIndex, build_desired
from koppel.rules.settings import RulesSettings
from koppel.rules.trace import trace_person
from koppel.sources.csv import CsvSource, CsvSourceSettings


@pytest.fixture(scope="module")
def roster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace")
    write_layout(generate(students=120, schools=1, year=SchoolYear(2025), seed=3), folder, "magister")
    ctx = ConnectorContext(tenant="t", base_dir=folder, env={}, school_year=SchoolYear(2025))
    return CsvSource("las", CsvSourceSettings(path=str(folder), layout="magister"), ctx).read()


@pytest.mark.parametrize("rules", [
    {},
    {"course_strategy": "klas-vak"},
    {"course_strategy": "vak-jaarlaag", "hierarchy": {"klassen": False}},
    {"filters": {"leerjaren": [1, 2]}},
    {"filters": {"klassen": ["1*", "4*"], "person_kinds": ["student"]}},
])
def test_the_trace_agrees_with_build_desired(roster, rules):
    settings = RulesSettings(**rules)
    desired = build_desired(roster, settings, target="x")
    resolve = IdentityIndex().resolve
    checked = passed = 0
    for key, person in roster.persons.items():
        for trace in trace_person(roster, settings, key):
            role = trace.role
            if trace.passed and trace.target_group is None:
                continue  # a teacher of derived courses: each course its pupils are in
            checked += 1
            if role is None:
                assert not trace.passed
                continue
            made = membership_key(resolve(person), trace.target_group or "", role) in desired
            assert made == trace.passed, (key, trace.group, trace.failed)
            passed += trace.passed
    assert checked and (passed or rules.get("filters"))
