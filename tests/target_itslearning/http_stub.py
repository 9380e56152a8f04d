"""A tiny scripted HTTP server on a real socket, for transport edge cases the sandbox does not stage.

Each test gives it a function from the recorded request to (status, body[, headers]); the server
records every request so tests can assert what went over the wire. No koppel code is patched.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from lxml import etree


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def soap_action(self) -> str:
        return self.headers.get("soapaction", "").strip('"')

    @property
    def operation(self) -> str:
        return self.soap_action.rsplit("/", 1)[-1]

    def xml(self) -> etree._Element:
        return etree.fromstring(self.body)


Reply = tuple[int, bytes] | tuple[int, bytes, dict[str, str]]


@dataclass
class StubServer:
    respond: Callable[[Recorded], Reply]
    requests: list[Recorded] = field(default_factory=list)
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context (certificate tests)

    def __enter__(self) -> Self:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                recorded = Recorded(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                with lock:
                    stub.requests.append(recorded)
                reply = stub.respond(recorded)
                status, body = reply[0], reply[1]
                extra = reply[2] if len(reply) > 2 else {}
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", extra.pop("Content-Type", "text/xml; charset=utf-8"))
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="http-stub", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{port}/WCFServiceLibrary"
