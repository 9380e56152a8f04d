""""Waarom zit leerling X niet in vak Y?" on the person page (issue 12, item 4): koppel explain's answer — the
person's groups now, the pending changes in held plans, and for a group they are not in the rule that decided it,
with the source file and line — in Dutch."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator

import httpx
import pytest

from koppel.explain import Verdict, explain
from koppel.service import Service

from .conftest import TARGET, TENANT, Running, Setup, login, without_half


@pytest.fixture
def served(held_setup) -> Iterator[tuple[httpx.Client, Setup, Service, str]]:
    setup, service, plan_id = held_setup
    with Running(service, run_scheduler=False) as running:
        client = running.client()
        login(client)
        yield client, setup, service, plan_id


def _text(page: str) -> str:
    body = page.split("<main", 1)[1]
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", body)))


def _key(service: Service, number: str) -> str:
    [match] = [m for m in service.dashboard.persons(number).matches if m.leerlingnummer == number]
    return match.key


def test_the_page_explains_a_pupil_who_left_groups_now_and_the_held_plan_that_suspends_them(served):
    client, setup, service, plan_id = served
    gone = next(p for i, p in enumerate(setup.bestuur.pupils) if i % 2 == 1)
    key = _key(service, gone.stamnr)
    plain = client.get(f"/persons/{TENANT}/{key}")
    assert plain.status_code == 200 and "Groepen nu" not in plain.text  # the LAS is read only when asked
    page = client.get(f"/persons/{TENANT}/{key}", params={"explain": "1"})
    text = _text(page.text)
    assert "Groepen nu" in text and gone.klas in text.split("Groepen nu")[1]
    pending = text.split("Wachtende wijzigingen in plannen")[1]
    assert "opschorten persoon" in pending and f"Plan {plan_id}" in pending and "tegengehouden" in pending
    assert f'href="/plans/{plan_id}"' in page.text
    assert "Geen uitleg mogelijk" not in text


def test_why_not_in_a_group_gives_the_rule_and_its_source_file_and_line(served):
    client, setup, service, _ = served
    setup.export(without_half(setup.bestuur))  # what the LAS says now (the held plan's export)
    pupil = next(p for i, p in enumerate(setup.bestuur.pupils) if i % 2 == 0)
    other = next(g.name for g in setup.bestuur.lesgroepen
                 if g.brin6 == pupil.brin6 and not g.name.startswith(pupil.klas + ".") and pupil.stamnr not in g.pupils)
    # koppel explain itself says why the pupil is not in another klas's lesgroep, and where that comes from.
    [answer] = explain(service.koppel, TENANT, TARGET, pupil.stamnr, other).answers
    assert answer.verdict in (Verdict.NOT_IN_VAKKEN, Verdict.NOT_PLACED) and answer.where
    key = _key(service, pupil.stamnr)
    page = client.get(f"/persons/{TENANT}/{key}", params={"explain": "1", "group": answer.group})
    assert page.status_code == 200
    text = _text(page.text)
    why = text.split("Waarom (niet)")[-1]
    dutch = {Verdict.NOT_IN_VAKKEN: "Het vak van deze lesgroep staat niet in de Vakken van de leerling.",
             Verdict.NOT_PLACED: "Het LAS plaatst de persoon niet in deze groep."}[answer.verdict]
    assert answer.group in why and dutch in why
    for where in answer.where:
        assert where.partition(": ")[2] in why  # the file and line the answer rests on
        assert re.search(r":\d+$", where)
    assert answer.message not in text  # the CLI's English sentence stays out of the Dutch page
    # In English the page gives koppel explain's own sentence too.
    client.cookies.set("koppel_lang", "en")
    english = _text(client.get(f"/persons/{TENANT}/{key}", params={"explain": "1", "group": answer.group}).text)
    assert answer.message in english


def test_a_group_the_las_does_not_know_is_said_to_be_undeclared(served):
    client, setup, service, _ = served
    pupil = setup.bestuur.pupils[0]
    key = _key(service, pupil.stamnr)
    page = client.get(f"/persons/{TENANT}/{key}", params={"explain": "1", "group": "sterrenkunde"})
    text = _text(page.text)
    assert "sterrenkunde" in text and "Zo'n lesgroep of klas staat niet in het LAS-bestand." in text
    assert 'value="sterrenkunde"' in page.text  # the question stays in its field
