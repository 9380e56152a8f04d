"""Hardening of the dashboard, each over real HTTP against a running `koppel serve` app: login
throttling that holds against parallel guessing (on SQLite and on PostgreSQL), sessions with an
absolute lifetime, the language cookie's flags, and database URLs masked however they are written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from koppel.config import parse_config, public_view
from koppel.service import Service
from koppel.service import tables as t
from koppel.service.clock import ManualClock

from .conftest import PASSWORD, USER, Running, config_text, csrf_of, login, utc

PARALLEL = 60
LIMIT = 5  # [service.login] max_failures, the default


def _write_config(root: Path, *, state_url: str, service: str = "", secure_cookies: str = "never") -> Path:
    config = root / "koppel.toml"
    config.write_text(config_text(state_url=state_url, service=service, secure_cookies=secure_cookies),
                      encoding="utf-8")
    (root / "export").mkdir(exist_ok=True)
    return config


@pytest.fixture
def served_on(store_url: str, tmp_path: Path) -> Iterator[Running]:
    """`koppel serve` on each state backend, with one user; no history is needed to log in."""
    service = Service.open(_write_config(tmp_path, state_url=store_url), env={})
    try:
        service.accounts.add_user(USER, PASSWORD)
        with Running(service, run_scheduler=False) as running:
            yield running
    finally:
        service.close()


def _failures(running: Running) -> dict[str, int]:
    f = t.login_failures.c
    with running.service.koppel.store.engine.connect() as conn:
        return {r.subject: r.failures for r in conn.execute(select(f.subject, f.failures))}


def _storm(running: Running, attempts: list[tuple[str, str, dict[str, str]]]) -> list[int]:
    """POST every (user, password, headers) to /login at once, each from its own connection."""
    with running.client() as first:
        page = first.get("/login")
        token, cookie = csrf_of(page.text), first.cookies["koppel_login"]

    def attempt(item: tuple[str, str, dict[str, str]]) -> int:
        user, password, headers = item
        with httpx.Client(base_url=running.url, timeout=120, cookies={"koppel_login": cookie},
                          headers=headers) as client:
            return client.post("/login", data={"user": user, "password": password, "csrf": token}).status_code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(attempt, attempts))


def test_parallel_guesses_for_one_user_get_no_more_password_checks_than_the_limit(served_on: Running):
    # Each guess comes through the trusted proxy from its own address: only the user's count can stop them.
    attempts = [(USER, f"gok-{n}", {"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(PARALLEL)]
    codes = _storm(served_on, attempts)
    # The first LIMIT - 1 wrong passwords are answered 401; the LIMIT-th is checked and starts the wait.
    assert codes.count(401) == LIMIT - 1, codes
    assert codes.count(429) == PARALLEL - (LIMIT - 1), codes
    assert _failures(served_on)[f"user:{USER}"] == LIMIT  # exactly LIMIT passwords were checked
    # The right password, now the (LIMIT + 1)-th try or later, is refused while the wait lasts.
    with served_on.client(headers={"X-Forwarded-For": "203.0.113.7"}) as client:
        assert login(client).status_code == 429


def test_parallel_guesses_from_one_address_get_no_more_password_checks_than_the_limit(served_on: Running):
    attempts = [(f"gok{n}", "fout-wachtwoord", {}) for n in range(PARALLEL)]
    codes = _storm(served_on, attempts)
    assert codes.count(401) == LIMIT - 1, codes
    assert codes.count(429) == PARALLEL - (LIMIT - 1), codes
    failures = _failures(served_on)
    assert failures["addr:127.0.0.1"] == LIMIT
    assert sum(n for subject, n in failures.items() if subject.startswith("user:")) == LIMIT
    with served_on.client() as client:  # the right user and password, from the same address
        assert login(client).status_code == 429
    with served_on.client(headers={"X-Forwarded-For": "203.0.113.8"}) as client:  # from another one
        assert login(client).status_code == 303


# -- sessions --------------------------------------------------------------------------------------


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Running, ManualClock]]:
    clock = ManualClock(utc(2026, 3, 2, 7, 0))
    config = _write_config(tmp_path, state_url="sqlite:///koppel-state.db",
                           service="[service.login]\nsession_hours = 1\nsession_max_hours = 10\n")
    service = Service.open(config, env={}, clock=clock)
    try:
        service.accounts.add_user(USER, PASSWORD)
        with Running(service, run_scheduler=False) as running:
            yield running, clock
    finally:
        service.close()


def test_a_session_ends_after_its_absolute_lifetime_however_active(clocked):
    running, clock = clocked
    with running.client() as client:
        assert login(client).status_code == 303
        for _ in range(19):  # a request every half hour keeps the idle limit (1 h) away, for 9.5 hours
            clock.advance(30 * 60)
            assert client.get("/").status_code == 200
        clock.advance(30 * 60 - 1)
        assert client.get("/").status_code == 200  # 10 h minus a second after logging in
        clock.advance(1)
        answer = client.get("/")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        # Logging in again starts a new session with a new lifetime.
        assert login(client).status_code == 303
        assert client.get("/").status_code == 200


def test_an_idle_session_still_ends_after_the_idle_limit(clocked):
    running, clock = clocked
    with running.client() as client:
        assert login(client).status_code == 303
        clock.advance(dt.timedelta(minutes=59).total_seconds())
        assert client.get("/").status_code == 200
        clock.advance(3600)
        assert client.get("/").status_code == 303


def test_the_session_cookie_lives_no_longer_than_the_session(clocked):
    running, _ = clocked
    with running.client() as client:
        cookie = login(client).headers["set-cookie"]
        assert "Max-Age=36000" in cookie  # session_max_hours = 10


@pytest.mark.parametrize("how", ["always", "proxy"])
def test_the_language_cookie_is_secure_like_the_session_cookie(tmp_path: Path, how: str):
    config = _write_config(tmp_path, state_url="sqlite:///koppel-state.db",
                           secure_cookies="always" if how == "always" else "auto")
    service = Service.open(config, env={})
    try:
        service.accounts.add_user(USER, PASSWORD)
        headers = {"X-Forwarded-Proto": "https"} if how == "proxy" else {}
        with Running(service, run_scheduler=False) as running, running.client(headers=headers) as client:
            session_cookie = login(client).headers["set-cookie"]
            language_cookie = client.get("/language/en").headers["set-cookie"]
            for cookie in (session_cookie, language_cookie):
                assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie, cookie
            assert language_cookie.startswith("koppel_lang=en")
        if how == "proxy":  # over plain http, with secure_cookies = "auto", it is not (a browser would drop it)
            with Running(service, run_scheduler=False) as running, running.client() as client:
                assert "Secure" not in client.get("/language/nl").headers["set-cookie"]
    finally:
        service.close()


# -- masking -------------------------------------------------------------------------------------------

SECRET = "Pg-Geheim"
DATABASE_URLS = {
    "slash": f"postgresql://koppel:{SECRET}/x9@db.school.nl/koppel",
    "query": f"postgresql+psycopg://koppel@db.school.nl/koppel?sslmode=require&password={SECRET}",
    "query_words": (f"postgresql://koppel@db.school.nl/koppel?pwd={SECRET}&passwd={SECRET}&credentials={SECRET}"
                    f"&apikey={SECRET}&private_key={SECRET}&sslpassword={SECRET}"),
    "empty_user": f"postgresql://:{SECRET}@db.school.nl/koppel",
    "at_sign": f"postgresql://koppel:{SECRET}@x9@db.school.nl/koppel",
    "unparsable": f"postgresql://koppel:{SECRET}@db.school.nl:vijf/koppel",
    "plain": f"postgresql://koppel:{SECRET}@db.school.nl:5432/koppel",
}


@pytest.mark.parametrize("form", sorted(DATABASE_URLS))
def test_a_database_url_never_shows_its_password(tmp_path: Path, form: str):
    url = DATABASE_URLS[form]
    # The URL is in koppel.toml; KOPPEL_STATE_URL (which wins) points the service at a SQLite file.
    config = _write_config(tmp_path, state_url=url)
    service = Service.open(config, env={"KOPPEL_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}"})
    try:
        service.accounts.add_user(USER, PASSWORD)
        token = service.accounts.create_token("monitoring")
        with Running(service, run_scheduler=False) as running:
            with running.client() as browser:
                login(browser)
                page = browser.get("/config")
            with running.client(headers={"Authorization": f"Bearer {token}"}) as api:
                answer = api.get("/api/config")
    finally:
        service.close()
    assert page.status_code == 200 and answer.status_code == 200
    for body in (page.text, answer.text):
        assert SECRET not in body, form
    shown = answer.json()["config"]["state"]["url"]
    if form in ("unparsable", "at_sign"):  # an '@' in the password leaves the host a guess: all is masked
        assert shown == "********"
    else:
        assert "db.school.nl" in shown and "***" in shown, shown
        assert "db.school.nl" in page.text
    if form == "query":
        assert "sslmode=require" in shown  # what is not secret stays readable


def test_secret_words_are_masked_in_keys_and_in_every_url_query():
    raw = {"source": {"passwd": SECRET, "pwd": SECRET, "credentials": SECRET, "apikey": SECRET,
                      "private_key": SECRET, "credentials_file": "/run/secrets/las",
                      "url": f"https://las.example.nl/api?credentials={SECRET}&private_key={SECRET}&page=2",
                      "mirror": f"https://koppel:{SECRET}@las.example.nl/export",
                      "odd": f"https://koppel:{SECRET}/1@las.example.nl/export"}}
    view = public_view(replace(parse_config(config_text(state_url="sqlite:///s.db")), raw=raw))["source"]
    assert SECRET not in repr(view)
    assert view["credentials_file"] == "/run/secrets/las"
    assert view["url"].startswith("https://las.example.nl/api?") and "page=2" in view["url"]
    assert view["mirror"] == "https://koppel:***@las.example.nl/export"
