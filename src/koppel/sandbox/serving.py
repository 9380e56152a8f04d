"""Serving a sandbox on a real socket, shared by the three sandboxes.

The listening socket is bound and put in listening state here, before uvicorn starts: port 0 ("any
free port") then works, the URL is known before the first request, and a client that connects as
soon as the URL is printed is queued in the backlog, not refused.

``BackgroundServer`` runs uvicorn in a daemon thread (tests, the demo, benchmarks);
``serve_in_foreground`` runs it in the calling thread until SIGINT or SIGTERM (the command lines).
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from koppel.errors import SandboxError

__all__ = ["BackgroundServer", "base_url", "bind", "serve_in_foreground"]

BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening. Raises ``OSError`` when it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted connections. Without it, uvicorn's separate writes of response head and
        # body meet the client's delayed ACK on keep-alive connections: ~40 ms a request instead of ~1 ms.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((host, port))
        listener.listen(BACKLOG)
    except OSError:
        listener.close()
        raise
    return listener


def base_url(host: str, port: int, *, https: bool = False) -> str:
    scheme = "https" if https else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class BackgroundServer:
    """One uvicorn server in a daemon thread, on a socket from :func:`bind`."""

    def __init__(self, name: str, *, startup_timeout_s: float = 15.0, shutdown_timeout_s: float = 15.0):
        self.name = name
        self.startup_timeout_s = startup_timeout_s
        self.shutdown_timeout_s = shutdown_timeout_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, config: uvicorn.Config, listener: socket.socket) -> None:
        """Serve ``config``'s app on ``listener``; returns once uvicorn accepts connections."""
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name=self.name.lower().replace(" ", "-"),
            daemon=True,
        )
        thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                listener.close()
                raise SandboxError(f"the {self.name} did not start (see the log above)")
            time.sleep(0.005)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Graceful shutdown; forced when requests are still open after the shutdown timeout."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(self.shutdown_timeout_s)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(self.shutdown_timeout_s)
        self._server = self._thread = None


def serve_in_foreground(config: uvicorn.Config, listener: socket.socket) -> None:
    """Serve until SIGINT or SIGTERM, then return normally (so the command exits 0)."""
    server = uvicorn.Server(config)
    with _signals_end_cleanly():
        server.run(sockets=[listener])


@contextmanager
def _signals_end_cleanly() -> Iterator[None]:
    """uvicorn handles SIGINT/SIGTERM while it runs, then re-raises the signal it caught; these no-op
    handlers take that re-raise, so Ctrl-C and SIGTERM end the process with exit code 0."""

    def ignore(signum: int, frame: FrameType | None) -> None:
        return None

    previous = {signum: signal.signal(signum, ignore) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
