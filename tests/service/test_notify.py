"""Notifications reach a real SMTP server and a real webhook receiver, signed, once per plan."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from koppel.errors import ConfigError
from koppel.service.notify import EventKind, Notice
from koppel.service.queue import RequestKind, Trigger

from .conftest import TARGET, TENANT, Setup, config_text, without_half
from .receivers import SmtpReceiver, WebhookReceiver

SECRET = "webhook-signing-secret-4711"


def _configure(setup: Setup, service_toml: str) -> None:
    setup.config.write_text(config_text(state_url="sqlite:///koppel-state.db", service=service_toml),
                            encoding="utf-8")


def _run(service, kind=RequestKind.SYNC, plan_id=None):
    import threading

    request = service.queue.enqueue(TENANT, TARGET, kind=kind, trigger=Trigger.MANUAL, by="beheerder",
                                    plan_id=plan_id)
    assert service.queue.claim(request.id)
    return service.scheduler.worker.execute(service.queue.get(request.id), threading.Event())


def test_a_held_plan_is_posted_to_the_webhook_once_signed_with_a_link(setup: Setup):
    with WebhookReceiver() as hook:
        _configure(setup, f'[service.webhook]\nurl = "{hook.url}"\nsecret_env = "HOOK_SECRET"\n')
        service = setup.open(env={"HOOK_SECRET": SECRET})
        try:
            _run(service)
            setup.export(without_half(setup.bestuur))
            _run(service)
            _run(service)  # the same plan held again: not announced again
        finally:
            service.close()
    assert len(hook.received) == 1
    notice = hook.received[0]
    body = orjson.loads(notice.body)
    assert body["event"] == "plan_held" and body["tenant"] == TENANT and body["target"] == TARGET
    assert body["link"] == f"http://koppel.test/plans/{body['plan_id']}"
    expected = hmac.new(SECRET.encode(), notice.headers["x-koppel-timestamp"].encode() + b"." + notice.body,
                        hashlib.sha256).hexdigest()
    assert notice.headers["x-koppel-signature"] == f"sha256={expected}"
    assert notice.headers["x-koppel-event"] == "plan_held"


def test_a_failed_run_is_mailed_over_smtp_with_a_link(setup: Setup):
    with SmtpReceiver(user="koppel", password="smtp-password-0815") as smtp:
        _configure(setup, f"""[service.email]
host = "127.0.0.1"
port = {smtp.port}
from = "koppel@baken.example"
to = ["ict@baken.example"]
user = "koppel"
password_env = "SMTP_PASSWORD"
starttls = false
""")
        service = setup.open(env={"SMTP_PASSWORD": "smtp-password-0815"})
        try:
            for path in (setup.root / "export").rglob("*.csv"):
                path.write_text("", encoding="utf-8")  # the LAS export arrived empty
            result = _run(service)
        finally:
            service.close()
    assert result.status.value == "failed" and result.run_id is not None
    assert smtp.logins == ["koppel"]
    [message] = smtp.messages
    assert message["To"] == "ict@baken.example" and message["X-Koppel-Event"] == "run_failed"
    assert "synchronisatie mislukt" in message["Subject"]
    text = message.get_payload(decode=True).decode()
    assert f"http://koppel.test/runs/{result.run_id}" in text


def test_a_receiver_that_fails_is_logged_and_does_not_stop_the_run(setup: Setup):
    with WebhookReceiver(status=500) as hook:
        _configure(setup, f'[service.webhook]\nurl = "{hook.url}"\n')
        service = setup.open()
        try:
            _run(service)
            setup.export(without_half(setup.bestuur))
            result = _run(service)
            notices = service.notifier.recent()
        finally:
            service.close()
    assert result.message == "held"
    assert notices[0]["status"] == "failed" and "HTTP 500" in notices[0]["detail"]
    assert "x-koppel-signature" not in hook.received[0].headers  # no secret configured: unsigned


def test_notice_texts_in_both_languages():
    from koppel.service.i18n import Translator

    notice = Notice(EventKind.PLAN_HELD, "t", "Het Baken", "itslearning", "12 van 40 leerlingen weg",
                    "https://k/plans/abc", plan_id="abc")
    assert "goedkeuring" in notice.subject(Translator("nl"))
    assert "approval" in notice.subject(Translator("en"))
    assert "https://k/plans/abc" in notice.body(Translator("en"))


def test_service_settings_problems_are_listed_with_their_lines(setup: Setup):
    _configure(setup, """language = "fr"
poll_s = 0
[service.email]
host = "smtp.example"
to = ["not-an-address"]
[service.webhook]
url = "ftp://example"
secret = "a"
secret_env = "B"
""")
    with pytest.raises(ConfigError) as info:
        setup.open()
    problems = {p.setting: p for p in info.value.problems}
    lines = setup.config.read_text().splitlines()
    assert {"service.language", "service.poll_s", "service.email.from", "service.email.to",
            "service.webhook.url"} <= set(problems)
    assert lines[problems["service.language"].line - 1].startswith("language")
    assert lines[problems["service.email.to"].line - 1].startswith("to =")
