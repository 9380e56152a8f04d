"""Local receivers for notifications: an HTTP server for webhooks and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from .conftest import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Answers every POST with ``status`` and keeps what it received."""

    status: int = 204
    received: list[Received] = field(default_factory=list)

    def __enter__(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                   self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/koppel"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """A real SMTP server on a free local port that accepts one login and keeps every message."""

    def __init__(self, *, user: str, password: str):
        self.user = user
        self.password = password
        self.messages: list[Message] = []
        self.logins: list[str] = []
        self.port = free_port()

    def __enter__(self) -> Self:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.messages.append(message_from_bytes(envelope.original_content))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == receiver.user
                  and auth_data.password.decode() == receiver.password)
            if ok:
                receiver.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticator,
                                     auth_require_tls=False)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
