"""Security: login everywhere, CSRF on every form, no secret in any answer, throttled guessing,
security headers, cookies, sessions that end."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.routing import Mount

from koppel.service.accounts import Accounts, LoginOutcome
from koppel.service.clock import ManualClock
from koppel.service.queue import RequestKind, Trigger
from koppel.service.settings import LoginSettings

from .conftest import (
    PASSWORD,
    TARGET,
    TENANT,
    USER,
    Running,
    Setup,
    config_text,
    csrf_of,
    login,
    make_history,
    utc,
)

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/language/{code}"), ("GET", "/api/openapi.json")}
# A monitoring system has no session: these three are outside the login by design. /healthz and /readyz
# say only "ok" or why not; who may read /metrics is [service.metrics] access (tests/service/test_ops_endpoints.py).
OPERATIONS = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}


@pytest.fixture
def served(held_setup) -> Iterator[tuple[Running, str, str]]:
    _, service, plan_id = held_setup
    token = service.accounts.create_token("monitoring")
    with Running(service, run_scheduler=False) as running:
        yield running, plan_id, token


def _routes(running: Running, plan_id: str, person: str) -> list[tuple[str, str]]:
    values = {"tenant": TENANT, "target": TARGET, "plan_id": plan_id, "run_id": "1", "request_id": "1",
              "key": person, "code": "en"}
    out = []
    for route in _all_routes(running.service_app.routes):
        path = re.sub(r"\{(\w+)(:path)?\}", lambda m: values[m.group(1)], route.path)
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, route.path, path))
    return out


def _all_routes(routes) -> Iterator:
    """Every route with a path, including those of included routers."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _all_routes(route.original_router.routes)
        elif not isinstance(route, Mount) and getattr(route, "methods", None):
            yield route


def _person_key(running: Running) -> str:
    return running.service.dashboard.persons("a").matches[0].key


def test_every_page_and_api_route_needs_a_login(served):
    running, plan_id, token = served
    routes = _routes(running, plan_id, _person_key(running))
    assert len(routes) >= 30
    anonymous = running.client()
    for method, template, path in routes:
        if (method, template) in PUBLIC - {("GET", "/api/openapi.json")}:
            continue
        if (method, template) in OPERATIONS:
            assert anonymous.request(method, path).status_code in (200, 503), (method, path)
            continue
        answer = anonymous.request(method, path)
        if template.startswith("/api/"):
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.headers["www-authenticate"].startswith("Bearer")
        else:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login?next="), (method, path)
    # A session cookie opens the API for reading (the pages' "the same data as JSON" links), never for
    # writing: an API write with only the cookie would be a cross-site request without a CSRF token.
    browser = running.client()
    login(browser)
    assert browser.get("/api/overview").status_code == 200
    for method, template, path in routes:
        if template.startswith("/api/") and method == "POST":
            assert browser.request(method, path).status_code == 401, (method, path)
    # A token does not open the pages.
    bearer = running.client(headers={"Authorization": f"Bearer {token}"})
    assert bearer.get("/").status_code == 303
    assert bearer.get("/api/overview").status_code == 200
    # An unknown page is a login redirect before it is a 404.
    assert anonymous.get("/nothing/here").status_code == 303


def test_a_form_post_without_a_valid_csrf_token_is_refused(served):
    running, plan_id, _ = served
    client = running.client()
    login(client)
    token = csrf_of(client.get("/").text)
    forms = [f"/targets/{TENANT}/{TARGET}/run", f"/plans/{plan_id}/approve", f"/plans/{plan_id}/discard", "/logout"]
    for path in forms:
        assert client.post(path).status_code == 403, path
        assert client.post(path, data={"csrf": token[:-2] + "xx"}).status_code == 403, path
    other = running.client()
    login(other)
    assert client.post(forms[0], data={"csrf": csrf_of(other.get("/").text)}).status_code == 403
    assert running.service.queue.pending() == []
    assert running.service.koppel.store.plan_record(plan_id).status == "held"
    # The same form with the token does what it says.
    done = client.post(forms[0], data={"csrf": token})
    assert done.status_code == 303 and len(running.service.queue.pending()) == 1
    # The login form has its own token, tied to a cookie.
    fresh = running.client()
    assert fresh.post("/login", data={"user": USER, "password": PASSWORD, "csrf": "made-up"}).status_code == 403
    # Every form on every page carries the session's token.
    for path in ("/", f"/targets/{TENANT}/{TARGET}", f"/plans/{plan_id}", "/plans", "/runs", "/config"):
        html = client.get(path).text
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", html, flags=re.DOTALL):
            assert f'name="csrf" value="{token}"' in form, (path, form[:80])


SECRETS = {
    "smtp": "Smtp-Geheim-7Q2x9",
    "hook": "Hook-Geheim-K8m3p",
    "hook_path": "HookPath-Geheim-Z1v6",
    "itsl": "Itsl-Geheim-W4r8t",
    "env_value": "Env-Geheim-P0o9i",
    "state": "Pg-Geheim-L5k4j",
}


def _secret_config(setup: Setup) -> None:
    target = f"""
[tenants.{TENANT}.targets.its]
kind = "itslearning"
enabled = false
url = "https://enterprise.itslearning.com"
username = "koppel"
password = "{SECRETS['itsl']}"
site_root = "root"
"""
    service = f"""
[service.email]
host = "smtp.baken.example"
from = "koppel@baken.example"
to = ["ict@baken.example"]
user = "koppel"
password = "{SECRETS['smtp']}"
[service.webhook]
url = "https://hooks.example.nl/services/T0/B0/{SECRETS['hook_path']}"
secret = "{SECRETS['hook']}"
"""
    text = config_text(state_url="sqlite:///koppel-state.db", service=service) + target
    text = text.replace('path = "fake-target.json"',
                        f'path = "fake-target.json"\n# postgresql://koppel:{SECRETS["state"]}@db/koppel')
    setup.config.write_text(text, encoding="utf-8")


def test_no_secret_from_the_configuration_appears_in_any_page_or_api_answer(setup: Setup):
    _secret_config(setup)
    service = setup.open(env={"KOPPEL_ITSL_PW": SECRETS["env_value"]})
    try:
        plan_id = make_history(service, setup)
        service.accounts.add_user(USER, PASSWORD)
        token = service.accounts.create_token("monitoring")
        service.queue.enqueue(TENANT, TARGET, kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by=USER)
        assert SECRETS["smtp"] in setup.config.read_text()
        with Running(service, run_scheduler=False) as running:
            routes = [(m, p) for m, tpl, p in _routes(running, plan_id, _person_key(running)) if m == "GET"]
            browser = running.client()
            login(browser)
            api = running.client(headers={"Authorization": f"Bearer {token}"})
            answers = []
            for method, path in routes:
                client = api if path.startswith("/api/") else browser
                answer = client.request(method, path)
                assert answer.status_code in (200, 303), (path, answer.status_code)
                answers.append((path, answer.text + str(answer.headers)))
            answers.append(("/config", browser.get("/config").text))
        for path, text in answers:
            for name, secret in SECRETS.items():
                assert secret not in text, f"{name} secret visible in {path}"
        config_page = dict(answers)["/config"]
        assert "********" in config_page and "hooks.example.nl" in config_page
    finally:
        service.close()


def test_five_wrong_passwords_slow_down_further_attempts(sqlite_store):
    clock = ManualClock(utc(2026, 3, 2, 12, 0))
    accounts = Accounts(sqlite_store, clock=clock, login=LoginSettings(max_failures=5, lockout_s=30, lockout_max_s=600))
    accounts.add_user("anna", "een lang en goed wachtwoord")
    for _ in range(4):
        assert accounts.login("anna", "fout", client="10.0.0.1").outcome is LoginOutcome.WRONG
    fifth = accounts.login("anna", "fout", client="10.0.0.1")
    assert (fifth.outcome, fifth.wait_s) == (LoginOutcome.THROTTLED, 30)
    # Even the right password is not looked at while the wait lasts, from any address.
    assert accounts.login("anna", "een lang en goed wachtwoord", client="10.0.0.2").outcome is LoginOutcome.THROTTLED
    clock.advance(29)
    assert accounts.login("anna", "een lang en goed wachtwoord", client="10.0.0.2").wait_s == 1
    clock.advance(1)
    # The wait grows: the next wrong one locks for 60 s, then 120 s.
    assert accounts.login("anna", "fout", client="10.0.0.3").wait_s == 60
    clock.advance(60)
    assert accounts.login("anna", "fout", client="10.0.0.3").wait_s == 120
    clock.advance(120)
    assert accounts.login("anna", "een lang en goed wachtwoord", client="10.0.0.3").outcome is LoginOutcome.OK
    # A success clears the count.
    assert accounts.login("anna", "fout", client="10.0.0.3").outcome is LoginOutcome.WRONG


def test_guessing_from_one_address_is_slowed_down_across_user_names(sqlite_store):
    clock = ManualClock(utc(2026, 3, 2, 12, 0))
    accounts = Accounts(sqlite_store, clock=clock)
    accounts.add_user("bert", "een lang en goed wachtwoord")
    for n in range(5):
        accounts.login(f"gok{n}", "fout", client="192.0.2.9")
    assert accounts.login("bert", "een lang en goed wachtwoord", client="192.0.2.9").outcome is LoginOutcome.THROTTLED
    assert accounts.login("bert", "een lang en goed wachtwoord", client="192.0.2.10").outcome is LoginOutcome.OK


def test_the_login_page_answers_429_with_retry_after(served):
    running, _, _ = served
    client = running.client()
    for _ in range(4):
        page = client.get("/login")
        assert client.post("/login", data={"user": USER, "password": "fout", "csrf": csrf_of(page.text)}).status_code == 401
    page = client.get("/login")
    answer = client.post("/login", data={"user": USER, "password": "fout", "csrf": csrf_of(page.text)})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "30"
    assert "30 seconden" in answer.text
    assert login(client).status_code == 429


def test_security_headers_and_no_script(served):
    running, plan_id, token = served
    client = running.client()
    login(client)
    answers = [client.get(p) for p in ("/", "/login", f"/plans/{plan_id}", "/static/koppel.css")]
    answers.append(running.client(headers={"Authorization": f"Bearer {token}"}).get("/api/overview"))
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["x-content-type-options"] == "nosniff"
    for answer in answers[:3]:
        assert "<script" not in answer.text and not re.search(r"\son\w+=", answer.text)
        assert " style=" not in answer.text
        assert answer.headers["cache-control"] == "no-store"


def test_session_cookie_flags_and_logout(served):
    running, _, _ = served
    client = running.client()
    answer = login(client)
    cookie = answer.headers["set-cookie"]
    assert "koppel_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # secure_cookies = "never" in the test set-up (plain http)
    old = client.cookies.get("koppel_session")
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    stale = running.client(cookies={"koppel_session": old})
    assert stale.get("/").status_code == 303


def test_cookie_is_secure_over_https_and_behind_a_tls_proxy(setup: Setup):
    setup.config.write_text(config_text(state_url="sqlite:///koppel-state.db", secure_cookies="auto"),
                            encoding="utf-8")
    service = setup.open()
    service.accounts.add_user(USER, PASSWORD)
    try:
        with Running(service, run_scheduler=False) as running:
            assert "Secure" not in login(running.client()).headers["set-cookie"]
            proxied = running.client(headers={"X-Forwarded-Proto": "https"})  # the peer 127.0.0.1 is trusted
            assert "Secure" in login(proxied).headers["set-cookie"]
    finally:
        service.close()


def test_login_never_redirects_off_site(served):
    running, _, _ = served
    client = running.client()
    page = client.get("/login")
    answer = client.post("/login", data={"user": USER, "password": PASSWORD, "csrf": csrf_of(page.text),
                                         "next": "//evil.example/"})
    assert answer.headers["location"] == "/"
    assert client.get("/language/en", params={"next": "https://evil.example"}).headers["location"] == "/"
