"""Roles per tenant and tenant isolation, over HTTP against a real server (issue 13, "Roles" and the
isolation part of "Tenants").

Two tenants, A and B, each with history and a held mass deletion. Users and tokens have grants on A
only, B only or ``*``. Every route of the app is walked (a new route without a check fails here): a
caller of A gets for B's ids exactly what an unknown id gets (404), never B's names, ids or counts in a
list, and 403 for an action above its role. The CLI refuses unknown roles and tenants, and a database
made before roles (at migration 0005) keeps its users and tokens working, as admins.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from starlette.routing import Mount
from typer.testing import CliRunner

from koppel.cli.main import app as cli
from koppel.generator import generate, write_layout
from koppel.service import Service
from koppel.service.accounts import ALL_TENANTS, Accounts, Grant, Role, SubjectKind
from koppel.service.clock import system_clock
from koppel.state.store import StateStore

from ..conftest import ADMIN_URL, _pg_admin
from .conftest import YEAR, Running, csrf_of, login, without_half

A, B = "bestuur-a", "bestuur-b"
A_NAME, B_NAME = "Stichting Eerste Lijn", "Stichting Tweede Kring"
TARGET = "fake"
PASSWORD = "correct horse battery staple"
UNKNOWN = {"tenant": "bestuur-x", "target": TARGET, "plan_id": "0123456789abcdef0123456789abcdef",
           "run_id": "987654", "request_id": "987654", "key": "no-such-person"}
# Routes that need no login or act on no tenant: the login form, the language switch, the API description,
# and the operations endpoints (/healthz, /readyz, /metrics), which must stay outside any login.
EXEMPT = {"/login", "/logout", "/language/{code}", "/api/openapi.json", "/healthz", "/readyz", "/metrics"}

USERS = {  # name → grants
    "root": [Grant(Role.ADMIN, ALL_TENANTS)],
    "vera": [Grant(Role.VIEWER, A)],
    "otto": [Grant(Role.OPERATOR, A)],
    "anna": [Grant(Role.APPROVER, A)],
    "bert": [Grant(Role.APPROVER, B)],
}
TOKENS = {
    "monitoring": [Grant(Role.VIEWER, ALL_TENANTS)],
    "a-viewer": [Grant(Role.VIEWER, A)],
    "a-operator": [Grant(Role.OPERATOR, A)],
    "a-approver": [Grant(Role.APPROVER, A)],
    "b-viewer": [Grant(Role.VIEWER, B)],
}


def two_tenants(state_url: str) -> str:
    sections = []
    for tid, name in ((A, A_NAME), (B, B_NAME)):
        sections.append(f"""
[tenants.{tid}]
name = "{name}"
school_year = "{YEAR}"

[tenants.{tid}.sources.las]
kind = "csv"
layout = "magister"
path = "{tid}/export"

[tenants.{tid}.targets.{TARGET}]
kind = "fake"
path = "{tid}/fake-target.json"
""")
    return f"""
[state]
url = "{state_url}"
{"".join(sections)}
[service]
secure_cookies = "never"
base_url = "http://koppel.test"
"""


@dataclass
class World:
    running: Running
    service: Service
    root: Path
    held: dict[str, str]  # tenant → its held plan's id
    runs: dict[str, list[int]]  # tenant → its run ids
    persons: dict[str, list[str]]  # tenant → person keys only that tenant has
    requests: dict[str, int]  # tenant → a request of that tenant (B's waits, A's is done)
    tokens: dict[str, str]  # token name → the token

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.running.url, headers={"Authorization": f"Bearer {self.tokens[token]}"},
                            timeout=30, follow_redirects=False)

    def browser(self, user: str) -> httpx.Client:
        client = httpx.Client(base_url=self.running.url, timeout=30, follow_redirects=False)
        assert login(client, user, PASSWORD).status_code == 303
        return client

    def markers(self, tenant: str) -> list[str]:
        """What of a tenant must never show to a caller who may not see it."""
        return [tenant, A_NAME if tenant == A else B_NAME, self.held[tenant], *self.persons[tenant][:5]]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("roles")
    (root / "koppel.toml").write_text(two_tenants("sqlite:///koppel-state.db"), encoding="utf-8")
    exports = {A: generate(students=120, schools=1, year=YEAR, seed=31),
               B: generate(students=120, schools=1, year=YEAR, seed=47)}
    for tid, bestuur in exports.items():
        write_layout(bestuur, root / tid / "export", "magister")
    service = Service.open(root / "koppel.toml", clock=system_clock, env={})
    held = {}
    for tid, bestuur in exports.items():
        first = service.koppel.sync(tid, TARGET, trigger="cli")
        assert first.applied is not None and first.applied.status == "succeeded"
        write_layout(without_half(bestuur), root / tid / "export", "magister")
        outcome = service.koppel.sync(tid, TARGET, trigger="schedule")
        assert outcome.held
        held[tid] = outcome.plan.id
    runs = {tid: [r.id for r in service.koppel.store.runs(tid, TARGET, limit=10)] for tid in (A, B)}
    keys = {tid: {p["key"] for p in service.koppel.store.find_persons(tid, None, "", limit=500)} for tid in (A, B)}
    persons = {A: sorted(keys[A] - keys[B]), B: sorted(keys[B] - keys[A])}
    assert persons[A] and persons[B] and runs[A] and runs[B]
    for name, grants in USERS.items():
        service.accounts.add_user(name, PASSWORD, grants=grants)
    tokens = {name: service.accounts.create_token(name, grants=grants) for name, grants in TOKENS.items()}
    try:
        with Running(service, run_scheduler=False) as running:  # nothing is applied: a queued approval stays
            root_api = httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {tokens['monitoring']}"})
            assert root_api.get("/api/overview").status_code == 200
            requests = {}
            queued = service.queue.enqueue_once(B, TARGET, kind=_sync_kind(), trigger=_manual(), by="test")[0]
            requests[B] = queued.id
            done = service.queue.enqueue_once(A, TARGET, kind=_sync_kind(), trigger=_manual(), by="test")[0]
            assert service.queue.claim(done.id)
            service.queue.finish(done.id, _done())
            requests[A] = done.id
            yield World(running, service, root, held, runs, persons, requests, tokens)
    finally:
        service.close()


def _sync_kind():
    from koppel.service.queue import RequestKind

    return RequestKind.SYNC


def _done():
    from koppel.service.queue import RequestStatus

    return RequestStatus.DONE


def _manual():
    from koppel.service.queue import Trigger

    return Trigger.MANUAL


def _all_routes(routes) -> Iterator:
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _all_routes(route.original_router.routes)
        elif not isinstance(route, Mount) and getattr(route, "methods", None):
            yield route


def _fill(path: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in values, f"route {path} has a parameter {name!r} this test does not know: add its check"
        return values[name]
    return re.sub(r"\{(\w+)(?::path)?\}", one, path)


def _same_answer(b: httpx.Response, unknown: httpx.Response, b_values: dict[str, str]) -> None:
    """B's id is answered as an unknown id is: same status, same body once the ids are blanked out."""
    assert b.status_code == unknown.status_code, (b.request.url, b.status_code, unknown.status_code, b.text[:300])
    blank_b, blank_u = b.text, unknown.text
    for name, value in b_values.items():
        blank_b = blank_b.replace(html.escape(value), "ID").replace(value, "ID")
        blank_u = blank_u.replace(html.escape(UNKNOWN[name]), "ID").replace(UNKNOWN[name], "ID")
    blank_b = re.sub(r'name="csrf" value="[^"]+"', "", blank_b)
    blank_u = re.sub(r'name="csrf" value="[^"]+"', "", blank_u)
    assert blank_b == blank_u, (b.request.url, b.text[:500], unknown.text[:500])


def _no_markers(response: httpx.Response, markers: list[str], *, allowed: tuple[str, ...] = ()) -> None:
    body = html.unescape(response.text)
    for allow in allowed:  # what the caller itself put in the address (the page links to itself)
        body = body.replace(allow, "")
    for marker in markers:
        assert marker not in body, (response.request.method, str(response.request.url), marker)


@pytest.mark.parametrize(("user", "token", "mine", "other"), [("anna", "a-approver", A, B), ("bert", "b-viewer", B, A)])
def test_every_route_keeps_a_tenant_from_a_caller_of_another(world: World, user: str, token: str, mine: str,
                                                            other: str):
    """Walk every route: with the other tenant's ids a caller of one tenant (approver on A; approver and
    viewer on B) gets the unknown-id answer; every list it may read (also asked with ?tenant=other)
    carries nothing of the other tenant."""
    page = world.browser(user)
    api = world.api(token)
    csrf = csrf_of(page.get("/").text)
    b_values = {"tenant": other, "target": TARGET, "plan_id": world.held[other], "run_id": str(world.runs[other][0]),
                "request_id": str(world.requests[other]), "key": world.persons[other][0]}
    walked = 0
    for route in _all_routes(world.running.service_app.routes):
        if route.path in EXEMPT or route.path.startswith("/static"):
            continue
        client = api if route.path.startswith("/api/") else page
        for method in sorted(route.methods - {"HEAD"}):
            params = set(re.findall(r"\{(\w+)", route.path))
            data = {"csrf": csrf, "confirm": "yes"} if method == "POST" and client is page else None
            if params:
                theirs = client.request(method, _fill(route.path, b_values), data=data)
                unknown = client.request(method, _fill(route.path, {k: UNKNOWN[k] for k in params}), data=data)
                assert theirs.status_code == 404, (method, route.path, theirs.status_code, theirs.text[:300])
                _same_answer(theirs, unknown, {k: b_values[k] for k in params})
                # persons[0] is in the address (the page links to itself)
                _no_markers(theirs, [world.markers(other)[1], *world.persons[other][1:5]])
            else:
                assert method == "GET", f"{method} {route.path}: a new action without parameters needs its check here"
                answer = client.get(route.path, params={"q": "a"})
                assert answer.status_code == 200, (route.path, answer.status_code, answer.text[:300])
                _no_markers(answer, world.markers(other))
                assert mine in answer.text or route.path in ("/persons", "/api/persons", "/runs", "/api/runs"), \
                    route.path
                filtered = client.get(route.path, params={"tenant": other, "q": "a"})
                assert filtered.status_code in (200, 404), (route.path, filtered.status_code)
                _no_markers(filtered, [m for m in world.markers(other) if m != other], allowed=(f"tenant={other}",))
            walked += 1
    assert walked >= 25  # every page and API route was asked, not a few


def test_lists_show_only_the_tenants_the_caller_may_see(world: World):
    for token, sees, hidden in (("a-viewer", A, B), ("b-viewer", B, A)):
        api = world.api(token)
        overview = api.get("/api/overview").json()
        assert [t["tenant"] for t in overview["tenants"]] == [sees]
        plans = api.get("/api/plans").json()
        assert {p["tenant"] for p in plans["held"] + plans["recent"]} == {sees}
        runs = api.get("/api/runs").json()["runs"]
        assert {r["id"] for r in runs} == set(world.runs[sees])
        persons = api.get("/api/persons", params={"q": "a"}).json()["matches"]
        assert persons and {m["tenant"] for m in persons} == {sees}
        assert api.get("/api/quality").json()["tenant"] == sees
        assert api.get("/api/quality", params={"tenant": hidden}).status_code == 404
        config = api.get("/api/config").json()
        assert set(config["config"]["tenants"]) == {sees} and not config["whole"]
        assert all(name.startswith(f"{sees}/") for name in config["schedules"])
    everything = world.api("monitoring")
    assert {t["tenant"] for t in everything.get("/api/overview").json()["tenants"]} == {A, B}
    assert everything.get("/api/config").json()["whole"]


def test_the_config_page_shows_only_the_callers_tenants(world: World):
    vera = world.browser("vera").get("/config")
    assert vera.status_code == 200 and A_NAME in html.unescape(vera.text)
    _no_markers(vera, [B, B_NAME])
    assert "alleen de besturen waarop u een rol heeft" in vera.text
    whole = world.browser("root").get("/config")
    assert B_NAME in html.unescape(whole.text) and A_NAME in html.unescape(whole.text)


def _monitoring_cannot_approve(world: World):
    api = world.api("monitoring")
    plan_id = world.held[A]
    refused = api.post(f"/api/plans/{plan_id}/approve")
    assert refused.status_code == 403
    assert "approver" in refused.json()["detail"] and A in refused.json()["detail"]
    assert api.post(f"/api/plans/{plan_id}/discard").status_code == 403
    assert api.post(f"/api/targets/{A}/{TARGET}/run").status_code == 403
    plan = api.get(f"/api/plans/{plan_id}").json()
    assert plan["record"]["status"] == "held" and not plan["pending"] and plan["can_decide"]
    assert not [r for r in world.service.queue.pending(A, TARGET) if r.plan_id == plan_id]


def _operator_runs_but_does_not_approve(world: World):
    viewer, operator, approver = world.api("a-viewer"), world.api("a-operator"), world.api("a-approver")
    assert viewer.post(f"/api/targets/{A}/{TARGET}/run").status_code == 403
    ran = operator.post(f"/api/targets/{A}/{TARGET}/run")
    assert ran.status_code == 202 and ran.json()["request"]["requested_by"] == "api:a-operator"
    assert operator.post(f"/api/plans/{world.held[A]}/approve").status_code == 403
    assert operator.post(f"/api/targets/{B}/{TARGET}/run").status_code == 404
    assert approver.post(f"/api/plans/{world.held[B]}/approve").status_code == 404
    # A plan id's prefix is for callers who see every tenant: its uniqueness depends on the other tenants.
    assert world.api("a-viewer").get(f"/api/plans/{world.held[A][:6]}").status_code == 404
    assert world.api("monitoring").get(f"/api/plans/{world.held[A][:6]}").json()["record"]["id"] == world.held[A]
    b_plan = world.api("b-viewer").get(f"/api/plans/{world.held[B]}").json()
    assert b_plan["record"]["status"] == "held" and not b_plan["pending"]


def _pages_refuse_and_hide(world: World):
    vera = world.browser("vera")  # viewer on A
    plan_page = vera.get(f"/plans/{world.held[A]}")
    assert plan_page.status_code == 200 and f"/plans/{world.held[A]}/approve" not in plan_page.text
    assert f"/plans/{world.held[A]}/discard" not in plan_page.text
    assert f"/targets/{A}/{TARGET}/run" not in vera.get(f"/targets/{A}/{TARGET}").text
    csrf = csrf_of(vera.get("/").text)
    run = vera.post(f"/targets/{A}/{TARGET}/run", data={"csrf": csrf})
    assert run.status_code == 403 and "de rol operator" in run.text
    confirm = vera.get(f"/plans/{world.held[A]}/approve")
    assert confirm.status_code == 403 and "de rol goedkeurder" in confirm.text
    discard = vera.post(f"/plans/{world.held[A]}/discard", data={"csrf": csrf})
    assert discard.status_code == 403
    vera.cookies.set("koppel_lang", "en")
    english = vera.get(f"/plans/{world.held[A]}/approve")
    assert english.status_code == 403 and "the role approver" in english.text

    otto = world.browser("otto")  # operator on A: runs now, does not approve
    assert f"/targets/{A}/{TARGET}/run" in otto.get(f"/targets/{A}/{TARGET}").text
    assert f"/plans/{world.held[A]}/approve" not in otto.get(f"/plans/{world.held[A]}").text
    queued = otto.post(f"/targets/{A}/{TARGET}/run", data={"csrf": csrf_of(otto.get("/").text)})
    assert queued.status_code == 303


def _approver_approves_on_the_page(world: World):
    """Last: it queues the approval of A's held plan."""
    anna = world.browser("anna")  # approver on A
    plan_page = anna.get(f"/plans/{world.held[A]}")
    assert f"/plans/{world.held[A]}/approve" in plan_page.text
    assert anna.get(f"/plans/{world.held[A]}/approve").status_code == 200
    csrf = csrf_of(anna.get("/").text)
    done = anna.post(f"/plans/{world.held[A]}/approve", data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 303 and "notice=approved" in done.headers["location"]
    pending = [r for r in world.service.queue.pending(A, TARGET) if r.plan_id == world.held[A]]
    assert pending and pending[0].requested_by == "anna"
    bert = world.browser("bert")  # approver on B only: A's plan does not exist for him
    assert bert.get(f"/plans/{world.held[A]}").status_code == 404


def test_who_may_act_on_a_held_mass_deletion(world: World):
    """In this order (xdist may run the module's tests anywhere; the approval at the end changes the plan):
    a monitoring token (viewer on *) cannot approve, discard or run, and the plan stays held; an operator
    runs now but does not approve; the pages refuse with 403 and hide the buttons; an approver approves."""
    _monitoring_cannot_approve(world)
    _operator_runs_but_does_not_approve(world)
    _pages_refuse_and_hide(world)
    _approver_approves_on_the_page(world)


# -- the CLI ------------------------------------------------------------------------------------------


def test_the_cli_refuses_unknown_roles_and_tenants_and_stores_nothing(tmp_path: Path, monkeypatch):
    (tmp_path / "koppel.toml").write_text(two_tenants("sqlite:///koppel-state.db"), encoding="utf-8")
    config = str(tmp_path / "koppel.toml")
    monkeypatch.setenv("NEW_PASSWORD", PASSWORD)
    runner = CliRunner()
    add = ["user", "add", "anna", "-c", config, "--password-env", "NEW_PASSWORD"]
    for extra, says in ((["--role", "approver", "--tenant", "bestuur-z"], "no tenant 'bestuur-z'"),
                        (["--role", "boss", "--tenant", A], "unknown role 'boss'"),
                        (["--role", "viewer"], "--tenant")):  # two tenants: which one must be said
        result = runner.invoke(cli, [*add, *extra])
        assert result.exit_code == 1 and says in result.output, (extra, result.output)
        token = runner.invoke(cli, ["token", "create", "t", "-c", config, *extra])
        assert token.exit_code == 1 and says in token.output and "kpl_" not in token.output
    missing = runner.invoke(cli, add)
    assert missing.exit_code != 0 and "--role" in missing.output
    accounts = Accounts(StateStore.open(f"sqlite:///{tmp_path / 'koppel-state.db'}"), clock=system_clock)
    assert accounts.users() == [] and accounts.tokens() == []

    added = runner.invoke(cli, [*add, "--role", "approver", "--tenant", A, "--tenant", B])
    assert added.exit_code == 0, added.output
    assert "approver on bestuur-a" in added.output
    listed = runner.invoke(cli, ["user", "list", "-c", config, "--format", "json"])
    assert '"role": "approver"' in listed.output and f'"tenant": "{B}"' in listed.output
    changed = runner.invoke(cli, ["user", "grant", "anna", "--role", "viewer", "--tenant", B, "-c", config])
    assert changed.exit_code == 0, changed.output
    assert accounts.access(SubjectKind.USER, "anna").role(B) is Role.VIEWER
    refused = runner.invoke(cli, ["user", "grant", "anna", "--role", "admin", "--tenant", "nope", "-c", config])
    assert refused.exit_code == 1 and accounts.access(SubjectKind.USER, "anna").role("nope") is None
    dropped = runner.invoke(cli, ["user", "ungrant", "anna", "--tenant", B, "-c", config])
    assert dropped.exit_code == 0 and accounts.access(SubjectKind.USER, "anna").role(B) is None
    created = runner.invoke(cli, ["token", "create", "monitoring", "--role", "viewer", "--tenant", "*", "-c", config])
    assert created.exit_code == 0, created.output
    assert accounts.access(SubjectKind.TOKEN, "monitoring").everywhere(Role.VIEWER)
    assert "viewer on *" in runner.invoke(cli, ["token", "list", "-c", config]).output


# -- upgrading a database made before roles --------------------------------------------------------------


def _at_0005(url: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    engine = create_engine(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("koppel.state") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    from argon2 import PasswordHasher

    token = "kpl_" + uuid.uuid4().hex * 2
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (name, password_hash, created_at) VALUES ('oud', :h, '2026-01-01T00:00:00Z')"),
                     {"h": PasswordHasher().hash(PASSWORD)})
        conn.execute(text("INSERT INTO api_tokens (name, token_hash, prefix, created_at) "
                          "VALUES ('oud-token', :h, :p, '2026-01-01T00:00:00Z')"),
                     {"h": hashlib.sha256(token.encode()).hexdigest(), "p": token[:10]})
        assert "grants" not in {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='table'" if url.startswith("sqlite")
            else "SELECT tablename FROM pg_tables WHERE schemaname='public'"))}
    engine.dispose()
    _OLD_TOKEN[url] = token


_OLD_TOKEN: dict[str, str] = {}  # database URL → the token made in it before the upgrade


@pytest.fixture(params=["sqlite", "postgres"])
def old_database(request, tmp_path: Path) -> Iterator[str]:
    """A state database made by the version before roles (migration 0005), with a user and a token."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old-state.db'}"
        _at_0005(url)
        yield url
        return
    admin = _pg_admin()
    name = f"koppel_test_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://")
    try:
        _at_0005(url)
        yield url
    finally:
        admin = _pg_admin()
        with admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_upgraded_database_keeps_its_users_and_tokens_as_admins(old_database: str, tmp_path: Path):
    token = _OLD_TOKEN[old_database]
    config = tmp_path / "koppel.toml"
    config.write_text(two_tenants(old_database), encoding="utf-8")
    for tid in (A, B):
        write_layout(generate(students=20, schools=1, year=YEAR, seed=5), tmp_path / tid / "export", "magister")
    service = Service.open(config, clock=system_clock, env={})  # migrates 0005 → now
    try:
        assert service.accounts.users()[0].grants == (Grant(Role.ADMIN, ALL_TENANTS),)
        assert service.accounts.tokens()[0].grants == (Grant(Role.ADMIN, ALL_TENANTS),)
        with Running(service, run_scheduler=False) as running:
            browser = httpx.Client(base_url=running.url, timeout=30)
            assert login(browser, "oud", PASSWORD).status_code == 303
            overview = browser.get("/api/overview").json()
            assert {t["tenant"] for t in overview["tenants"]} == {A, B}
            api = httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            ran = api.post(f"/api/targets/{B}/{TARGET}/run")
            assert ran.status_code == 202, ran.text
    finally:
        service.close()


def test_an_account_without_a_grant_sees_nothing(world: World):
    """A user whose every grant was taken away can log in, and sees no tenant at all."""
    world.service.accounts.add_user("leeg", PASSWORD, grants=[Grant(Role.VIEWER, A)])
    world.service.accounts.revoke(SubjectKind.USER, "leeg", [A])
    browser = world.browser("leeg")
    overview = browser.get("/api/overview").json()
    assert overview["tenants"] == []
    assert browser.get("/api/plans").json() == {"held": [], "recent": []}
    assert browser.get("/api/runs").json()["runs"] == []
    assert browser.get(f"/plans/{world.held[A]}").status_code == 404
    assert browser.get("/quality").status_code == 404
    _no_markers(browser.get("/"), [*world.markers(A), *world.markers(B)])
