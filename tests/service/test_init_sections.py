"""`koppel init` writes the schedule and the notifications commented out (issue 12, item 9): as written they
change nothing; uncommented (and pointed at the school's own mail server and webhook receiver) the service's
own loaders accept them, the schedule runs the target, and a held plan is announced by e-mail and webhook."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from koppel.cli.init_config import NOTIFICATIONS_HEADING, SCHEDULE_HEADING
from koppel.config import load_config
from koppel.service.queue import RequestKind, Trigger
from koppel.service.scheduler import load_schedules
from koppel.service.settings import load_service_settings

from .conftest import TARGET, TENANT, YEAR, Setup, without_half
from .receivers import SmtpReceiver, WebhookReceiver

SRC = Path(__file__).resolve().parents[2] / "src"
SMTP_PASSWORD = "smtp-password-0815"
SECRET = "webhook-signing-secret-4711"


def _init(folder: Path) -> Path:
    """`koppel init` through the console script, for the fake target and the service tests' tenant and year."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "koppel", "init", "--source", "export", "--target", "fake",
                           "--tenant", TENANT, "--out", "koppel.toml", "--force"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    config = folder / "koppel.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('school_year = "auto"', f'school_year = "{YEAR}"'), encoding="utf-8")
    return config


def _uncommented(text: str, heading: str) -> str:
    """The section under ``heading`` as its comment says to use it: one '# ' removed from each line from its
    first [table] line on, up to the blank line that ends it."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("# ["))
    end = next(i for i in range(first, len(lines)) if not lines[i].strip())
    for i in range(first, end):
        assert lines[i].startswith("#"), lines[i]
        lines[i] = lines[i][2:] if lines[i].startswith("# ") else lines[i][1:]
    return "\n".join(lines)


def test_as_written_the_sections_change_nothing(setup: Setup) -> None:
    config = load_config(_init(setup.root))
    settings = load_service_settings(config)
    assert settings.email is None and settings.webhook is None
    assert load_schedules(config) == {}


def test_uncommented_the_schedule_runs_and_a_held_plan_is_announced_by_mail_and_webhook(setup: Setup) -> None:
    path = _init(setup.root)
    text = _uncommented(_uncommented(path.read_text(encoding="utf-8"), SCHEDULE_HEADING), NOTIFICATIONS_HEADING)
    with SmtpReceiver(user="koppel", password=SMTP_PASSWORD) as smtp, WebhookReceiver() as hook:
        # What a school fills in: its own mail server (this one speaks no TLS) and its own receiver.
        text = (text.replace('host = "smtp.school.nl"', 'host = "127.0.0.1"')
                .replace("port = 587 ", f"port = {smtp.port}\nstarttls = false ")
                .replace('url = "https://hooks.school.nl/koppel"', f'url = "{hook.url}"'))
        path.write_text(text, encoding="utf-8")

        config = load_config(path)
        settings = load_service_settings(config)
        assert settings.base_url == "https://koppel.school.nl"
        assert settings.email is not None and settings.email.to == ["ict@school.nl"]
        assert settings.email.password_env == "KOPPEL_SMTP_PASSWORD"
        assert settings.webhook is not None and settings.webhook.secret_env == "KOPPEL_WEBHOOK_SECRET"
        schedule = load_schedules(config)[(TENANT, TARGET)]
        zone = ZoneInfo("Europe/Amsterdam")
        noon = dt.datetime(2026, 3, 10, 12, 0, tzinfo=zone)
        assert schedule.next_due(last=None, now=noon) == noon  # never ran, inside the window: now
        assert schedule.next_due(last=noon, now=noon) == noon + dt.timedelta(hours=2)
        night = dt.datetime(2026, 3, 10, 23, 0, tzinfo=zone)
        assert schedule.next_due(last=None, now=night) == dt.datetime(2026, 3, 11, 6, 0, tzinfo=zone)
        assert not schedule.allowed(dt.datetime(2026, 7, 20, 12, 0, tzinfo=zone))  # the summer freeze

        service = setup.open(env={"KOPPEL_SMTP_PASSWORD": SMTP_PASSWORD, "KOPPEL_WEBHOOK_SECRET": SECRET})
        try:
            _run(service)
            setup.export(without_half(setup.bestuur))
            held = _run(service)
        finally:
            service.close()
    assert held.message == "held"
    assert smtp.logins == ["koppel"]
    [mail] = smtp.messages
    assert mail["To"] == "ict@school.nl" and mail["X-Koppel-Event"] == "plan_held"
    [posted] = hook.received
    body = orjson.loads(posted.body)
    assert body["event"] == "plan_held" and body["link"].startswith("https://koppel.school.nl/plans/")
    assert posted.headers["x-koppel-signature"].startswith("sha256=")


def _run(service):
    request = service.queue.enqueue(TENANT, TARGET, kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by="beheerder")
    assert service.queue.claim(request.id)
    return service.scheduler.worker.execute(service.queue.get(request.id), threading.Event())
