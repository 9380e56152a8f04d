"""Telling the systeembeheerder when something needs them: a run failed, or a plan waits for approval.

Two channels, both optional, configured in ``[service.email]`` and ``[service.webhook]``:

* **e-mail** over SMTP (STARTTLS or TLS, certificate verified; login when a user is set);
* **webhook**: a JSON POST. With a secret, the body is signed like GitHub and Stripe sign theirs:
  ``X-Koppel-Timestamp: <unix seconds>`` and ``X-Koppel-Signature: sha256=<hex HMAC-SHA256 of
  "<timestamp>.<body>">``, so the receiver can check origin and freshness.

Every notice carries a link to the plan or the run on the dashboard. Each notice is sent once per
channel (a held plan that the next scheduled run holds again is not announced again), and every
attempt is logged in the ``notifications`` table. A channel that fails is logged and never stops a
run: notifying is a courtesy, the dashboard is the record.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from enum import StrEnum
from typing import Any, Protocol

import httpx
import orjson
import structlog
from sqlalchemy import insert, select

from koppel.config import Config
from koppel.service import tables as t
from koppel.service.clock import Clock, iso
from koppel.service.i18n import Translator
from koppel.service.settings import EmailSettings, ServiceSettings, WebhookSettings, resolve_secret
from koppel.state.store import StateStore

__all__ = ["ChannelKind", "EmailChannel", "EventKind", "Notice", "NotificationFailed", "Notifier", "WebhookChannel",
           "sign"]

log = structlog.get_logger("koppel.notify")


class EventKind(StrEnum):
    RUN_FAILED = "run_failed"
    PLAN_HELD = "plan_held"


class ChannelKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class Notice:
    event: EventKind
    tenant: str
    tenant_name: str
    target: str
    message: str
    link: str
    run_id: int | None = None
    plan_id: str | None = None

    @property
    def dedupe(self) -> str:
        """One notice per held plan, and per failed run."""
        if self.event is EventKind.PLAN_HELD:
            return f"{self.event.value}:{self.plan_id}"
        return f"{self.event.value}:{self.run_id}"

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event.value, "tenant": self.tenant, "tenant_name": self.tenant_name,
                "target": self.target, "message": self.message, "link": self.link, "run_id": self.run_id,
                "plan_id": self.plan_id}

    def subject(self, tr: Translator) -> str:
        return tr(f"notice.subject.{self.event.value}", tenant=self.tenant_name, target=self.target)

    def body(self, tr: Translator) -> str:
        lines = [tr(f"notice.intro.{self.event.value}", tenant=self.tenant_name, target=self.target), "",
                 tr.say(self.message), "", tr("notice.link", link=self.link), "", tr("notice.footer")]
        return "\n".join(lines) + "\n"


class Channel(Protocol):
    kind: ChannelKind

    def send(self, notice: Notice) -> None:
        """Deliver or raise NotificationFailed."""


class NotificationFailed(Exception):
    """A channel could not deliver a notice (logged; never stops a run)."""


class EmailChannel:
    kind = ChannelKind.EMAIL

    def __init__(self, settings: EmailSettings, *, password: str | None, tr: Translator):
        self.settings = settings
        self.password = password
        self.tr = tr

    def message(self, notice: Notice) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = notice.subject(self.tr)
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(self.settings.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.settings.sender.rsplit("@", 1)[-1])
        msg["X-Koppel-Event"] = notice.event.value
        msg.set_content(notice.body(self.tr))
        return msg

    def send(self, notice: Notice) -> None:
        s = self.settings
        context = ssl.create_default_context()
        try:
            if s.ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                if s.use_starttls:
                    smtp.starttls(context=context)
                if s.user and self.password:
                    smtp.login(s.user, self.password)
                smtp.send_message(self.message(notice))
        except (smtplib.SMTPException, OSError) as exc:
            raise NotificationFailed(f"SMTP {s.host}:{s.port}: {exc}") from None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel:
    kind = ChannelKind.WEBHOOK

    def __init__(self, settings: WebhookSettings, *, secret: str | None, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.secret = secret
        self.transport = transport

    def request(self, notice: Notice, *, now: float | None = None) -> tuple[bytes, dict[str, str]]:
        body = orjson.dumps(notice.to_json(), option=orjson.OPT_SORT_KEYS)
        timestamp = str(int(now if now is not None else time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "koppel", "X-Koppel-Event": notice.event.value,
                   "X-Koppel-Timestamp": timestamp}
        if self.secret:
            headers["X-Koppel-Signature"] = sign(self.secret, timestamp, body)
        return body, headers

    def send(self, notice: Notice) -> None:
        body, headers = self.request(notice)
        try:
            with httpx.Client(timeout=self.settings.timeout_s, transport=self.transport) as client:
                response = client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NotificationFailed(f"webhook: {exc}") from None
        if response.status_code >= 300:
            raise NotificationFailed(f"webhook answered HTTP {response.status_code}")


class Notifier:
    """Sends a notice over every configured channel, once, and logs each attempt."""

    def __init__(self, store: StateStore, channels: Sequence[Channel], *, clock: Clock):
        self.store = store
        self.channels = list(channels)
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: ServiceSettings, *, config: Config, env: Mapping[str, str], store: StateStore,
                      clock: Clock) -> Notifier:
        """Build the channels; a secret that cannot be read is a ConfigError at start-up, not at 3 a.m."""
        tr = Translator(settings.language, settings.timezone)
        channels: list[Channel] = []
        if settings.email is not None:
            password = None
            if settings.email.password_ref.configured:
                password = resolve_secret(settings.email.password_ref, config=config, env=env,
                                          setting="service.email.password")
            channels.append(EmailChannel(settings.email, password=password, tr=tr))
        if settings.webhook is not None:
            ref = settings.webhook.secret_ref
            secret = resolve_secret(ref, config=config, env=env, setting="service.webhook.secret") if ref else None
            channels.append(WebhookChannel(settings.webhook, secret=secret))
        return cls(store, channels, clock=clock)

    def notify(self, notice: Notice) -> dict[str, str]:
        """Send on each channel that has not sent this notice yet; returns channel → sent | failed | already."""
        outcome: dict[str, str] = {}
        for channel in self.channels:
            if self._already_sent(notice, channel.kind):
                outcome[channel.kind.value] = "already"
                continue
            try:
                channel.send(notice)
            except NotificationFailed as exc:
                log.warning("notification failed", channel=channel.kind.value, notice=notice.event.value,
                            error=str(exc))
                self._log(notice, channel.kind, "failed", str(exc))
                outcome[channel.kind.value] = "failed"
                continue
            self._log(notice, channel.kind, "sent", None)
            outcome[channel.kind.value] = "sent"
        return outcome

    def _already_sent(self, notice: Notice, channel: ChannelKind) -> bool:
        n = t.notifications.c
        with self.store.engine.connect() as conn:
            return conn.execute(select(n.id).where(n.dedupe == notice.dedupe, n.channel == channel.value,
                                                   n.status == "sent").limit(1)).first() is not None

    def _log(self, notice: Notice, channel: ChannelKind, status: str, detail: str | None) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(insert(t.notifications).values(
                at=iso(self.clock()), event=notice.event.value, dedupe=notice.dedupe, tenant=notice.tenant,
                target=notice.target, plan_id=notice.plan_id, run_id=notice.run_id, channel=channel.value,
                status=status, detail=detail,
            ))

    def recent(self, *, limit: int = 20) -> list[dict[str, Any]]:
        n = t.notifications.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(n.at, n.event, n.tenant, n.target, n.plan_id, n.run_id, n.channel, n.status,
                                       n.detail).order_by(n.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

