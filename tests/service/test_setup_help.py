"""Setting up without guesswork, and the small breakages (issue 12, items 9 and 10, the dashboard's part).

A fresh koppel — no runs, no schedule, no LAS read, no notices — says on each empty page what fixes it;
the configuration page shows koppel.toml as the file is, comments and order kept, secrets masked;
"the same data as JSON" opens for the logged-in user; backticks become code, never literal.
"""

from __future__ import annotations

import re

from .conftest import PASSWORD, USER, Running, Setup, config_text, login

SMTP_PASSWORD = "Smtp-Geheim-Q9w8e"
CLIENT_SECRET = "Hook-Geheim-R7t6y"
HOOK_PATH = "HookPath-Geheim-U5i4"


def _fresh(setup: Setup) -> None:
    service_part = f"""
[service.email]  # notices by e-mail
host = "smtp.baken.example"
from = "koppel@baken.example"
to = ["ict@baken.example"]
user = "koppel"
password = "{SMTP_PASSWORD}"  # better: password_env

[service.webhook]
url = "https://hooks.example.nl/services/T0/B0/{HOOK_PATH}"
secret = "{CLIENT_SECRET}"  # signs every POST
"""
    text = "# koppel.toml of Het Baken — kept as the file is\n" + config_text(
        state_url="sqlite:///koppel-state.db", service=service_part)
    setup.config.write_text(text, encoding="utf-8")


def _pages(running: Running) -> dict[str, str]:
    client = running.client()
    assert login(client).status_code == 303
    found = {path: client.get(path).text for path in ("/", "/runs", "/quality", "/config")}
    client.close()
    return found


def test_empty_states_say_what_fixes_them(setup: Setup):
    _fresh(setup)
    service = setup.open()
    service.accounts.add_user(USER, PASSWORD)
    try:
        with Running(service, run_scheduler=False) as running:
            pages = _pages(running)
            with running.client() as anonymous:
                login_page = anonymous.get("/login").text
    finally:
        service.close()
    # no schedule: the koppel.toml section that adds one, on the overview's card and the configuration page
    for path in ("/", "/config"):
        assert "[tenants.NAAM.targets.NAAM.schedule]" in pages[path] and "docs/service.md" in pages[path], path
    # no runs yet: how to start one
    assert "<code>koppel sync</code>" in pages["/runs"]
    # no LAS read yet: how to read one
    assert "<code>koppel validate</code>" in pages["/quality"]
    # no notices sent: where to set them up
    assert "Er zijn nog geen meldingen verstuurd" in pages["/config"]
    # no account: how to make one, as code, not with literal backticks
    assert "<code>koppel user add NAAM --role admin</code>" in login_page
    for text in (*pages.values(), login_page):
        visible = re.sub(r"(?s)<pre.*?</pre>|<[^>]+>", " ", text)
        assert "`" not in visible


def test_the_config_page_shows_the_commented_file_with_secrets_masked(setup: Setup):
    _fresh(setup)
    service = setup.open()
    service.accounts.add_user(USER, PASSWORD)
    try:
        with Running(service, run_scheduler=False) as running:
            page = _pages(running)["/config"]
    finally:
        service.close()
    assert "# koppel.toml of Het Baken — kept as the file is" in page
    assert "# notices by e-mail" in page and "# better: password_env" in page
    assert SMTP_PASSWORD not in page and CLIENT_SECRET not in page and HOOK_PATH not in page
    assert 'password = &#34;********&#34;' in page and 'secret = &#34;********&#34;' in page
    assert "https://hooks.example.nl/********" in page
    # the file's order, not alphabetised JSON: [state] comes before [tenants…], [service] after them
    assert page.index("[state]") < page.index("[tenants.bestuur]") < page.index("[service]")
    assert "3 geheime waarden gemaskeerd" in page


def test_the_same_data_as_json_opens_for_a_logged_in_user(held_setup):
    _, service, plan_id = held_setup
    with Running(service, run_scheduler=False) as running:
        client = running.client()
        login(client)
        links = []
        for path in ("/", "/plans", f"/plans/{plan_id}", "/runs", "/quality", "/config"):
            page = client.get(path).text
            found = re.search(r'<a href="([^"]+)" class="json">', page)
            assert found, path
            links.append(found.group(1).replace("&amp;", "&"))
        answers = {link: client.get(link) for link in links}
        with running.client() as anonymous:
            assert anonymous.get(links[0]).status_code == 401
        client.close()
    assert {link: a.status_code for link, a in answers.items()} == dict.fromkeys(links, 200)
    assert answers[links[2]].json()["record"]["id"] == plan_id
