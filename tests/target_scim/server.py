"""A real SCIM server for the tests: the ``scim2-server`` command (python-scim's in-memory SCIM 2.0 server, which
nobody here wrote), started as its own process on a free port with a bearer token; and a small counting proxy
in front of it that the tests use to count write requests and, for the edges the server does not have
(``Retry-After`` on 429/503, a resource changed between a GET and a PUT), to make them happen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port

TOKEN = "scim-test-token-0123456789"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})



def server_command() -> list[str]:
    """The ``scim2-server`` console script of this environment (or its module, where the script is not on PATH)."""
    script = shutil.which("scim2-server") or str(Path(sys.executable).with_name("scim2-server"))
    if Path(script).exists():
        return [script]
    return [sys.executable, "-c", "from scim2_server.testserver.cli import main; main()"]


@dataclass
class ScimServer:
    """A ``scim2-server`` process serving a fresh tenant (its own Users and Groups) under ``/<tenant>/v2``."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def tenant(self, name: str) -> Tenant:
        return Tenant(f"http://127.0.0.1:{self.port}/{name}/v2")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass(frozen=True)
class Tenant:
    """One tenant of the server: a SCIM base URL and what it holds."""

    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/", headers={"Authorization": f"Bearer {TOKEN}",
                                                               "Content-Type": "application/scim+json"}, timeout=10)

    def all(self, endpoint: str) -> list[dict[str, Any]]:
        """Every resource of ``Users`` or ``Groups``, read page by page."""
        out: list[dict[str, Any]] = []
        with self.client() as c:
            start = 1
            while True:
                body = c.get(endpoint, params={"startIndex": start, "count": 500}).raise_for_status().json()
                out += body.get("Resources") or []
                start += len(body.get("Resources") or [])
                if not body.get("Resources") or start > body["totalResults"]:
                    return out

    def create(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.client() as c:
            return dict(c.post(endpoint, json=body).raise_for_status().json())


def start_server(tmp: Path, *, service_provider_config: dict[str, Any] | None = None) -> ScimServer:
    """Start ``scim2-server`` on a free port and wait until it answers."""
    args = [*server_command(), "--hostname", "127.0.0.1", "--bearer-token", TOKEN, "--dynamic-tenants"]
    if service_provider_config is not None:
        spc = tmp / "service-provider-config.json"
        spc.write_text(json.dumps(service_provider_config), encoding="utf-8")
        args += ["--service-provider-config", str(spc)]
    for _ in range(5):
        port = free_port()
        log_path = tmp / f"scim2-server-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen([*args, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
        server = ScimServer(port, process, log_path)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/ping/v2/ServiceProviderConfig", timeout=1)
                return server
            except httpx.TransportError:
                time.sleep(0.05)
        server.stop()
    raise RuntimeError(f"scim2-server did not start: {log_path.read_text(errors='replace')[-2000:]}")


# -- a proxy that counts, and makes the edges happen --------------------------------------------------


@dataclass
class Proxy:
    """Forwards every request to the real server and counts them per method. ``fault`` may answer a request
    itself (a status, headers and a body) instead of forwarding it; ``before_forward`` runs just before a
    request is forwarded (to change the resource behind the client's back)."""

    upstream: str  # http://127.0.0.1:PORT of the server
    tenant: str
    port: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    fault: Callable[[str, str], tuple[int, dict[str, str], bytes] | None] | None = None
    before_forward: Callable[[str, str], None] | None = None
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.tenant}/v2"

    def writes(self) -> int:
        with self._lock:
            return sum(n for method, n in self.counts.items() if method in WRITES)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def start(self) -> Proxy:
        proxy = self
        # One connection per request: the server (wsgiref) closes each one after its answer.
        upstream = httpx.Client(base_url=self.upstream, timeout=30,
                                limits=httpx.Limits(max_keepalive_connections=0))

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.counts[self.command] += 1
                answer = proxy.fault(self.command, self.path) if proxy.fault else None
                if answer is None:
                    if proxy.before_forward:
                        proxy.before_forward(self.command, self.path)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                    response = proxy._forward(upstream, self.command, self.path, body, headers)
                    answer = (response.status_code, {k: v for k, v in response.headers.items()
                                                     if k.lower() in ("content-type", "etag", "location")},
                              response.content)
                status, headers, content = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @staticmethod
    def _forward(upstream: httpx.Client, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """Forward once; a connection the busy server reset before it read the request is tried again (the
        server's listen queue is short), so the tests count what the client sent, not the proxy's luck."""
        for attempt in range(3):
            try:
                return upstream.request(method, path, content=body, headers=headers)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # A write is sent again only when it never reached the server.
                if attempt == 2 or (method != "GET" and not isinstance(exc, httpx.ConnectError)):
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def proxy_for(server: ScimServer, tenant: str) -> Iterator[Proxy]:
    proxy = Proxy(f"http://127.0.0.1:{server.port}", tenant).start()
    try:
        yield proxy
    finally:
        proxy.stop()
