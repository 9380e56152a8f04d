"""One bestuur, two LAS: Magister (a CSV export) at one school, Somtoday Connect at the other.

Read through the pipeline with a real configuration, the two sources give one Roster; a pupil who
is placed at both schools (the same ECK iD in both LAS) is one person with both schools.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from koppel.config import parse_config
from koppel.generator import Bestuur, generate, write_layout
from koppel.model import PersonKind, Roster, SchoolYear
from koppel.pipeline import Koppel
from koppel.sandbox.somtoday import DEFAULT_CLIENT_SECRET, SandboxConfig, SandboxServer
from koppel.state.store import StateStore

# Somtoday serves only the current and the next school year, so the test lives in today's.
YEAR = SchoolYear.containing(dt.date.today())
SECRET_ENV = "KOPPEL_TEST_SOMTODAY_SECRET"


@pytest.fixture(scope="module")
def bestuur() -> Bestuur:
    return generate(students=300, schools=2, year=YEAR, seed=8)


def magister_school(bestuur: Bestuur) -> tuple[Bestuur, str]:
    """School A as its Magister export holds it, plus one pupil of school B who also follows lessons at A."""
    a, b = bestuur.schools
    shared = next(p for p in bestuur.pupils if p.brin6 == b.brin6 and p.eckid)
    klas = next(k for k in bestuur.klassen if k.brin6 == a.brin6)
    guest = dataclasses.replace(
        shared,
        brin6=a.brin6,
        stamnr="990001",
        klas=klas.name,
        leerjaar=klas.leerjaar,
        onderwijssoort=klas.onderwijssoort,
        email=None,
        login="990001",
    )
    only_a = dataclasses.replace(
        bestuur,
        schools=(a,),
        pupils=(*(p for p in bestuur.pupils if p.brin6 == a.brin6), guest),
        teachers=tuple(t for t in bestuur.teachers if t.brin6 == a.brin6),
        klassen=tuple(k for k in bestuur.klassen if k.brin6 == a.brin6),
        lesgroepen=tuple(g for g in bestuur.lesgroepen if g.brin6 == a.brin6),
    )
    assert shared.eckid is not None
    return only_a, shared.eckid


@pytest.fixture(scope="module")
def somtoday(bestuur: Bestuur) -> Iterator[SandboxServer]:
    config = SandboxConfig(seed=8, year=YEAR)
    with SandboxServer(config, current=bestuur, following=None) as server:
        yield server


CONFIG = """\
[state]
url = "sqlite:///state.db"

[tenants.stichting]
name = "Stichting Twee Systemen"

[tenants.stichting.sources.magister]
kind = "csv"
layout = "magister"
path = "magister-export"

[tenants.stichting.sources.somtoday]
kind = "somtoday"
instelling = "{instelling}"
client_id = "koppel"
client_secret_env = "{secret_env}"
api_url = "{api_url}"
token_url = "{token_url}"
brins = ["{brin6}"]
max_attempts = 1

[tenants.stichting.targets.platform]
kind = "fake"
"""


@pytest.fixture(scope="module")
def roster_and_facts(
    bestuur: Bestuur, somtoday: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Roster, str]:
    folder = tmp_path_factory.mktemp("tenant")
    export, eckid = magister_school(bestuur)
    write_layout(export, folder / "magister-export", "magister")
    text = CONFIG.format(
        instelling=somtoday.instelling,
        secret_env=SECRET_ENV,
        api_url=somtoday.api_url,
        token_url=somtoday.token_url,
        brin6=bestuur.schools[1].brin6,
    )
    config = parse_config(text, path=folder / "koppel.toml")
    store = StateStore.open(f"sqlite:///{folder / 'state.db'}", base_dir=folder)
    app = Koppel.open(config, env={SECRET_ENV: DEFAULT_CLIENT_SECRET}, store=store)
    roster = app.read_roster(config.tenant("stichting"), YEAR)
    return roster, eckid


def test_two_sources_give_one_roster(roster_and_facts: tuple[Roster, str], bestuur: Bestuur) -> None:
    roster, _ = roster_and_facts
    a, b = (s.brin6 for s in bestuur.schools)
    assert roster.school_year == YEAR
    assert sorted(roster.schools) == sorted([a, b])
    assert [s.name for s in roster.sources] == ["magister", "somtoday"]
    assert [s.kind for s in roster.sources] == ["csv", "somtoday"]
    by_source = (
        {g.source for g in roster.groups.values() if g.school == a},
        {g.source for g in roster.groups.values() if g.school == b},
    )
    assert by_source == ({"magister"}, {"somtoday"})
    pupils = [p for p in roster.persons.values() if p.kind is PersonKind.STUDENT]
    assert len(pupils) == len(bestuur.pupils)  # the guest pupil is nobody new
    assert all(m.person in roster.persons and m.group in roster.groups for m in roster.memberships)
    assert roster.diagnostics == ()


def test_the_same_pupil_at_both_schools_is_one_person(
    roster_and_facts: tuple[Roster, str], bestuur: Bestuur
) -> None:
    roster, eckid = roster_and_facts
    a, b = (s.brin6 for s in bestuur.schools)
    person = roster.persons[f"eck:{eckid}"]
    assert set(person.schools) == {a, b}
    schools_of_groups = {roster.groups[m.group].school for m in roster.memberships if m.person == person.key}
    assert schools_of_groups == {a, b}
    assert not [d for d in roster.diagnostics if d.code == "name-conflict"]
