"""The plan page of a large plan is a review, not 204 pages (issue 12, item 3): removals first, a sample of every
action × kind, counts per school and klas, a search over the whole plan, persons by leerlingnummer, name and klas
(never a sync key), a superseded plan shown as such with a link to the newer one, and an unknown plan id a
Dutch 404."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator

import httpx
import pytest

from koppel.generator import generate
from koppel.service import Service

from .conftest import TARGET, TENANT, YEAR, Running, Setup, csrf_of, login, without_half


def dutch(n: int) -> str:
    """A count as a Dutch page writes it: 4.679."""
    return f"{n:,}".replace(",", ".")


@pytest.fixture
def served(held_setup) -> Iterator[tuple[Running, httpx.Client, Setup, Service, str]]:
    setup, service, plan_id = held_setup
    with Running(service, run_scheduler=False) as running:
        client = running.client()
        login(client)
        yield running, client, setup, service, plan_id


def _text(page: str) -> str:
    """The visible text of a page (tags dropped), for checks on what a person reads."""
    body = page.split("<main", 1)[1]
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


def action_nl(action: str) -> str:
    return {"create": "aanmaken", "update": "bijwerken"}[action]


def kind_nl(kind: str) -> str:
    return {"person": "persoon", "group": "groep", "membership": "lidmaatschap"}[kind]


def _removed_pupil(service: Service, plan_id: str) -> tuple[str, str]:
    """(leerlingnummer, name) of a pupil the held plan suspends: someone who left the LAS export."""
    plan = service.koppel.store.load_plan(plan_id)
    key = next(c.key for c in plan.changes if c.action.value == "suspend" and c.kind.value == "person")
    person = service.koppel.store.person(TENANT, key)
    return person["meta"]["leerlingnummer"], person["label"]


def _mixed_plan(setup: Setup, service: Service) -> str:
    """A held plan that creates, updates and removes: another export of the bestuur, with other pupils (of 300,
    half are new and half of the applied ones are gone)."""
    setup.export(generate(students=300, schools=2, year=YEAR, seed=11))
    outcome = service.koppel.sync(TENANT, TARGET, trigger="schedule")
    summary = outcome.plan.summary()
    assert outcome.held and summary["create"] and summary["suspend"]
    return outcome.plan.id


def test_the_plan_page_reviews_removals_first_with_samples_counts_and_people_by_number(served):
    _, client, setup, service, _ = served
    plan_id = _mixed_plan(setup, service)
    page = client.get(f"/plans/{plan_id}")
    assert page.status_code == 200
    text = _text(page.text)
    # Removals first, then a sample of each other action × kind, then the counts.
    removals, samples, per_school = (text.index(s) for s in ("Verwijderingen en opschortingen eerst",
                                                             "Een steekproef van elke actie en soort", "Per school"))
    assert removals < samples < per_school
    # Each action × kind other than removals has its sample, with how many there are in all.
    plan = service.koppel.store.load_plan(plan_id)
    for kind, action in {(c.kind.value, c.action.value) for c in plan.changes
                         if c.action.value in ("create", "update")}:
        total = sum(1 for c in plan.changes if c.kind.value == kind and c.action.value == action)
        assert re.search(rf"{action_nl(action)} {kind_nl(kind)}: \d van {dutch(total)}", text), (action, kind)
    assert "Per klas (personen en hun lidmaatschappen)" in text
    # A pupil who left is shown by leerlingnummer and name, never by a sync key; no page sequence.
    number, name = _removed_pupil(service, plan_id)
    assert number in text and name in text
    assert "eck-" not in page.text and "Pagina 1 van" not in text
    # The safety settings read as words, not as the plan's JSON.
    assert "Wachttijd voor verwijderen" in text and "leerlingen: 30 dagen" in text
    assert "grace_days" not in page.text and "max_percent" not in page.text
    # Every removal is counted; the list is bounded, and says how many more there are.
    removal_total = sum(1 for c in plan.changes if c.action.value in ("suspend", "archive", "delete"))
    assert f"({dutch(removal_total)})" in text
    listed = page.text.split("Een steekproef")[0].count('<li class="a-')
    # Who loses their account comes first, before the memberships that go with them.
    section = text.split("Verwijderingen en opschortingen eerst")[1].split("Een steekproef")[0]
    kinds = re.findall(r"(?:opschorten|archiveren|verwijderen) (persoon|groep|lidmaatschap)\s+—", section)
    assert kinds[0] == "persoon" and kinds == sorted(kinds, key=["persoon", "groep", "lidmaatschap"].index)
    assert listed == min(removal_total, 200)
    if removal_total > 200:
        assert "verfijn de zoekopdracht" in text
    # The klassen of the counts are real klas names of the plan.
    klas = re.search(r'<a href="\?q=([^"]+)">', page.text.split("Per klas")[1]).group(1)
    assert klas and klas != "(no klas)"


def test_searching_the_plan_finds_a_person_by_number_name_or_klas_and_bounds_the_results(served):
    _, client, _, service, plan_id = served
    number, name = _removed_pupil(service, plan_id)
    by_number = _text(client.get(f"/plans/{plan_id}", params={"q": number}).text)
    assert re.search(r"\d+ wijzigingen gevonden voor “" + re.escape(number), by_number)
    found = by_number.split("wijzigingen gevonden")[1].split("Verwijderingen en opschortingen eerst")[0]
    assert name in found and "opschorten persoon" in found
    by_name = _text(client.get(f"/plans/{plan_id}", params={"q": name.split()[-1]}).text)
    assert number in by_name.split("Verwijderingen en opschortingen eerst")[0]
    nothing = _text(client.get(f"/plans/{plan_id}", params={"q": "zzz-niemand"}).text)
    assert "Geen wijzigingen gevonden voor “zzz-niemand”" in nothing
    # A search that matches much shows 200 and says how many more: refine it.
    plan = service.koppel.store.load_plan(plan_id)
    school = next(c.school for c in plan.changes if c.school)
    wide = client.get(f"/plans/{plan_id}", params={"q": "e"}).text
    total = int(re.search(r"([\d,.]+) wijzigingen gevonden", _text(wide)).group(1).replace(",", "").replace(".", ""))
    assert total > 200 and school
    shown = wide.split("wijzigingen gevonden")[1].split("</section>")[0].count('<li class="a-')
    assert shown == 200 and "verfijn de zoekopdracht" in _text(wide)


def test_a_superseded_plan_links_to_its_successor_and_cannot_be_approved(served):
    _, client, setup, service, plan_id = served
    # A newer export (a quarter of the pupils gone, not half) makes a newer held plan: the older is superseded.
    setup.export(without_half(without_half(setup.bestuur)))
    newer = service.koppel.sync(TENANT, TARGET, trigger="schedule")
    assert newer.held and newer.plan.id != plan_id
    assert service.koppel.store.plan_record(plan_id).status == "superseded"
    page = client.get(f"/plans/{plan_id}")
    text = _text(page.text)
    assert "vervangen" in text and f"Dit plan is vervangen door een nieuwer plan: {newer.plan.id}" in text
    assert f'href="/plans/{newer.plan.id}"' in page.text
    assert "Goedkeuren en uitvoeren" not in text and "TEGENGEHOUDEN" not in text
    listed = client.get("/plans").text
    assert f'<a href="/plans/{newer.plan.id}">door plan {newer.plan.id}</a>' in listed
    csrf = csrf_of(page.text)
    refused = client.post(f"/plans/{plan_id}/approve", data={"csrf": csrf, "confirm": "yes"})
    assert refused.status_code == 409
    assert f"is vervangen door plan {newer.plan.id}" in _text(refused.text)
    assert service.queue.pending() == []
    # The confirm page of a superseded plan refuses too, in the same words.
    assert client.get(f"/plans/{plan_id}/approve").status_code == 409


@pytest.mark.parametrize("plan_id", ["999999", "abc", "not-a-plan", "ffffffffffff"])
def test_an_unknown_plan_id_is_a_dutch_404(served, plan_id):
    _, client, _, _, _ = served
    page = client.get(f"/plans/{plan_id}")
    assert page.status_code == 404
    text = _text(page.text)
    assert f"Plan {plan_id} bestaat niet" in text
    assert "field required" not in text.lower() and "string should match" not in text.lower()
    assert client.get(f"/plans/{plan_id}/approve").status_code == 404
