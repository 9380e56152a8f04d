"""Take the dashboard screenshots in docs/img/: the overview, a held plan and a person's page, each at
phone width (390 px) and laptop width (1366 px), in Dutch.

A generated bestuur (three schools, 600 pupils) is loaded into the fake target, then half its pupils
vanish from the export, so the guards hold the next plan — the page a systeembeheerder reviews.
Needs Playwright and Debian's chromium::

    python docs/screenshots.py            # writes docs/img/{overview,plan,person}-{390,1366}.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import uvicorn

from koppel.generator import Bestuur, generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.service import Service, create_app

USER, PASSWORD = "beheerder", "screenshots-only-password"
SIZES = {390: 844, 1366: 768}
CONFIG = """# koppel.toml of the screenshot demo
[state]
url = "sqlite:///koppel-state.db"

[tenants.baken]
name = "Stichting Het Baken"
school_year = "{year}"

[tenants.baken.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.baken.targets.itslearning]
kind = "fake"
path = "fake-target.json"

[tenants.baken.targets.itslearning.schedule]
enabled = true
cron = "0 * * * *"
windows = ["06:00-22:00"]

[service]
secure_cookies = "never"
"""


def _without_half(bestuur: Bestuur) -> Bestuur:
    kept = tuple(p for i, p in enumerate(bestuur.pupils) if i % 2 == 0)
    keep = {p.stamnr for p in kept}
    groups = tuple(replace(g, pupils=tuple(s for s in g.pupils if s in keep)) for g in bestuur.lesgroepen)
    return replace(bestuur, pupils=kept, lesgroepen=groups)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("chromium is not installed (apt-get install chromium)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    year = SchoolYear.containing(dt.date.today())
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "koppel.toml").write_text(CONFIG.format(year=year), encoding="utf-8")
        bestuur = generate(students=600, schools=3, year=year, seed=7)
        write_layout(bestuur, root / "export", "magister")
        service = Service.open(root / "koppel.toml", env={})
        try:
            service.koppel.sync("baken", "itslearning", trigger="cli")
            write_layout(_without_half(bestuur), root / "export", "magister")
            held = service.koppel.sync("baken", "itslearning", trigger="schedule")
            service.accounts.add_user(USER, PASSWORD)
            service.dashboard.stats.backfill(since="2000-01-01T00:00:00Z")  # the scheduler does this when it runs
            pupil = next(p for p in service.dashboard.persons("a").matches if p.leerlingnummer)
            port = _free_port()
            server = uvicorn.Server(uvicorn.Config(create_app(service, run_scheduler=False), host="127.0.0.1",
                                                   port=port, log_level="warning", access_log=False))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port}"
            pages = {"overview": "/", "plan": f"/plans/{held.plan.id}",
                     "person": f"/persons/baken/{quote(pupil.key, safe='')}"}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=_chromium(), headless=True,
                                                     args=["--no-sandbox", "--disable-gpu"])
                for width, height in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height}, locale="nl-NL")
                    page = context.new_page()
                    page.goto(url + "/login")
                    page.get_by_label("Gebruikersnaam").fill(USER)
                    page.get_by_label("Wachtwoord").fill(PASSWORD)
                    page.get_by_role("button", name="Inloggen").click()
                    page.wait_for_url(re.compile(r".*/$"))
                    for name, path in pages.items():
                        page.goto(url + path)
                        target = args.out / f"{name}-{width}.png"
                        # the whole page, up to a few screens: a plan of thousands of changes is long
                        tall = min(page.evaluate("document.documentElement.scrollHeight"), 4 * height)
                        page.screenshot(path=str(target), full_page=True,
                                        clip={"x": 0, "y": 0, "width": width, "height": tall})
                        print(target)
                    context.close()
                browser.close()
            server.should_exit = True
            thread.join(timeout=30)
        finally:
            service.close()


if __name__ == "__main__":
    main()
