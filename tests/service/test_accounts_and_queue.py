"""Accounts, sessions, tokens and the run queue on SQLite and PostgreSQL (migration 0002)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from koppel.service import tables as t
from koppel.service.accounts import AccountError, Accounts, LoginOutcome
from koppel.service.clock import ManualClock
from koppel.service.queue import RequestKind, RequestStatus, RunQueue, Trigger
from koppel.service.settings import LoginSettings

from .conftest import utc


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(utc(2026, 3, 2, 12, 0))


def test_users_are_stored_with_argon2_and_never_in_clear(store, clock):
    accounts = Accounts(store, clock=clock)
    accounts.add_user("anna", "een lang en goed wachtwoord")
    with store.engine.connect() as conn:
        stored = conn.execute(t.users.select()).mappings().one()
    assert stored["password_hash"].startswith("$argon2id$")
    assert "wachtwoord" not in stored["password_hash"]
    with pytest.raises(AccountError):
        accounts.add_user("anna", "nog een lang wachtwoord")
    with pytest.raises(AccountError):
        accounts.add_user("bert", "kort")
    assert accounts.login("anna", "een lang en goed wachtwoord", client="a").outcome is LoginOutcome.OK
    assert accounts.login("nobody", "een lang en goed wachtwoord", client="a").outcome is LoginOutcome.WRONG
    assert [u.name for u in accounts.users()] == ["anna"] and accounts.users()[0].last_login_at
    accounts.remove_user("anna")
    assert accounts.users() == []


def test_an_old_hash_is_upgraded_at_login(store, clock):
    weak = Accounts(store, clock=clock, hasher=PasswordHasher(time_cost=1, memory_cost=8192))
    weak.add_user("anna", "een lang en goed wachtwoord")
    strong = Accounts(store, clock=clock)
    assert strong.login("anna", "een lang en goed wachtwoord", client="a").outcome is LoginOutcome.OK
    with store.engine.connect() as conn:
        assert "m=65536" in conn.execute(t.users.select()).mappings().one()["password_hash"]


def test_sessions_expire_slide_and_end(store, clock):
    accounts = Accounts(store, clock=clock, login=LoginSettings(session_hours=1))
    cookie, _ = accounts.start_session("anna", client="a")
    with store.engine.connect() as conn:
        assert conn.execute(t.sessions.select()).mappings().one()["id"] != cookie  # only its hash is kept
    clock.advance(minutes=50)
    assert accounts.session(cookie).user == "anna"  # and the expiry moves on
    clock.advance(minutes=50)
    assert accounts.session(cookie) is not None
    clock.advance(minutes=61)
    assert accounts.session(cookie) is None
    cookie, _ = accounts.start_session("anna", client="a")
    accounts.end_session(cookie)
    assert accounts.session(cookie) is None and accounts.session("made-up") is None


def test_tokens_are_shown_once_and_stored_hashed(store, clock):
    accounts = Accounts(store, clock=clock)
    token = accounts.create_token("monitoring")
    assert token.startswith("kpl_") and len(token) > 40
    with store.engine.connect() as conn:
        row = conn.execute(t.api_tokens.select()).mappings().one()
    assert token not in row.values() and row["prefix"] == token[:10]
    assert accounts.token_name(token) == "monitoring"
    assert accounts.token_name(token + "x") is None and accounts.token_name(None) is None
    assert accounts.tokens()[0].last_used_at
    accounts.revoke_token("monitoring")
    assert accounts.token_name(token) is None


def test_the_queue_claims_once_and_keeps_one_waiting_sync_per_target(store, clock):
    queue = RunQueue(store, clock=clock)
    first = queue.enqueue("t", "itsl", kind=RequestKind.SYNC, trigger=Trigger.SCHEDULE, by=None)
    assert queue.enqueue("t", "itsl", kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="anna").id == first.id
    other = queue.enqueue("t", "fake", kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="anna")
    approval = queue.enqueue("t", "itsl", kind=RequestKind.APPROVE, trigger=Trigger.MANUAL, by="anna", plan_id="abc")
    assert [r.id for r in queue.queued()] == [first.id, other.id, approval.id]
    assert queue.claim(first.id) and not queue.claim(first.id)
    assert queue.get(first.id).status is RequestStatus.RUNNING
    # A sync asked for while one runs is that run ("Nu synchroniseren" twice is one run, not two).
    again, new = queue.enqueue_once("t", "itsl", kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="b")
    assert again.id == first.id and not new
    queue.finish(first.id, RequestStatus.DONE, run_id=7)
    assert queue.get(first.id).run_id == 7
    # Once it is done, a new one is queued.
    later, new = queue.enqueue_once("t", "itsl", kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="b")
    assert later.id != first.id and new
    assert queue.claim(other.id)
    assert queue.recover() == 1 and queue.get(other.id).status is RequestStatus.FAILED
