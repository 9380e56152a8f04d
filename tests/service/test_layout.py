"""The dashboard fits a phone (390 px) and a laptop (1366 px) (issue 12, item 8).

Playwright drives Debian's chromium over every page of a dashboard with real history and long names
(a tenant name of a hundred characters, a target name of 63, a held plan of thousands of changes) and
asserts that no page scrolls sideways, that the header spans the page, and that the phone gets the
chart drawn for its width, with labels a person can read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import chromium_path, need

from .conftest import PASSWORD, USER, Running
from .test_language import Rich, pages_of, rich  # noqa: F401  (the module's fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SIZES = {"phone": (390, 844), "laptop": (1366, 768)}


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


def _log_in(page, url: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Gebruikersnaam").fill(USER)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(url + "/")


WIDTHS = """() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    header: document.querySelector('header.top').getBoundingClientRect().width,
    wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)),
})"""


@pytest.mark.parametrize("size", SIZES)
def test_no_page_scrolls_sideways(browser, rich: Rich, size: str):  # noqa: F811
    width, height = SIZES[size]
    with Running(rich.service, run_scheduler=False) as running:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="nl-NL")
        page = context.new_page()
        page.set_default_timeout(15_000)
        too_wide = {}
        page.goto(running.url + "/login")
        login_page = page.evaluate(WIDTHS)
        if login_page["scroll"] > login_page["inner"]:
            too_wide["login"] = login_page
        _log_in(page, running.url)
        for name, path in pages_of(rich).items():
            page.goto(running.url + path)
            found = page.evaluate(WIDTHS)
            if found["scroll"] > found["inner"] or found["header"] < found["inner"] - 1:
                too_wide[name] = found
        context.close()
    assert not too_wide, too_wide


def test_the_phone_gets_a_chart_it_can_read(browser, rich: Rich):  # noqa: F811
    with Running(rich.service, run_scheduler=False) as running:
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-NL")
        page = context.new_page()
        _log_in(page, running.url)
        card = page.locator("section.card").first
        assert not card.locator("svg.chart").is_visible()
        narrow = card.locator("svg.chart-narrow")
        assert narrow.is_visible() and narrow.locator("g title").count() >= 1
        heights = narrow.locator("text.axis").evaluate_all("(ts) => ts.map(t => t.getBoundingClientRect().height)")
        assert heights and min(heights) >= 10, heights  # px on the screen: readable, not 4.6 px
        page.set_viewport_size({"width": 1366, "height": 768})
        assert card.locator("svg.chart").is_visible() and not narrow.is_visible()
        context.close()
