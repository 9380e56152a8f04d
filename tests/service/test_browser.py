"""The dashboard in a real browser: Playwright driving Debian's chromium, headless, against a real
`koppel serve` app (scheduler included) on a free port, over a generated bestuur whose second
export lost half its pupils — so a plan is held and waits for the systeembeheerder."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import chromium_path, need

from .conftest import PASSWORD, TARGET, TENANT, USER, Running

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    executable = chromium_path()
    if executable is None:
        need("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        yield browser
        browser.close()


def test_log_in_approve_the_held_plan_read_a_timeline_and_log_out(browser, held_setup, tmp_path):
    from playwright.sync_api import expect

    _, service, plan_id = held_setup
    pupil = next(p for p in service.dashboard.persons("a").matches if p.leerlingnummer)
    with Running(service) as running:
        page = browser.new_page(locale="nl-NL")
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

        page.goto(running.url + "/")
        expect(page).to_have_url(re.compile(r"/login\?next=/$"))
        page.get_by_label("Gebruikersnaam").fill(USER)
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        page.get_by_role("button", name="Inloggen").click()

        expect(page.get_by_role("heading", name="Overzicht")).to_be_visible()
        card = page.locator("section.card").first
        expect(card).to_contain_text("Laatste synchronisatie")
        expect(card).to_contain_text("tegengehouden")
        expect(card.locator("svg.chart rect.bar-changes")).to_have_count(1)
        page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

        page.get_by_role("link", name=plan_id).first.click()
        expect(page.get_by_role("heading", name=f"Plan {plan_id}")).to_contain_text("tegengehouden")
        expect(page.locator(".holds")).to_contain_text("TEGENGEHOUDEN")
        expect(page.locator("ul.plan-changes").first).to_contain_text("opschorten")
        page.get_by_role("button", name="Goedkeuren en uitvoeren").click()
        page.get_by_role("button", name="Ja, goedkeuren en uitvoeren").click()  # the confirm page asks once more
        expect(page.locator("p.notice")).to_contain_text(f"Goedgekeurd door {USER}")
        for _ in range(60):  # the worker applies the plan; the page refreshes itself meanwhile
            if "uitgevoerd" in page.locator("h1").inner_text():
                break
            page.wait_for_timeout(250)
            page.reload()
        expect(page.locator("h1")).to_contain_text("uitgevoerd")
        expect(page.locator("main")).to_contain_text(f"Goedgekeurd door {USER}")
        record = service.koppel.store.plan_record(plan_id)
        assert record.status == "applied" and record.approved_by == USER

        page.get_by_role("link", name="Personen").click()
        page.get_by_label("Naam, leerlingnummer of docentcode").fill(pupil.leerlingnummer)
        page.get_by_role("button", name="Zoeken").click()
        page.get_by_role("link", name=pupil.label).click()
        expect(page.get_by_role("heading", name=f"Tijdlijn van {pupil.label}")).to_be_visible()
        timeline = page.locator("ol.timeline")
        expect(timeline).to_contain_text("persoon aangemaakt")
        expect(timeline).to_contain_text("Waarom")
        page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)

        page.get_by_role("link", name="EN", exact=True).click()
        expect(page.get_by_role("heading", name=f"Timeline of {pupil.label}")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login\?bye=1$"))
        expect(page.locator("p.notice")).to_contain_text("You are logged out")
        page.goto(running.url + f"/targets/{TENANT}/{TARGET}")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        assert errors == []  # no CSP violations or other console errors
