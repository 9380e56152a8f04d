"""The socket handling shared by the sandboxes: a client that connects as soon as the URL is known is
queued until uvicorn serves, not refused."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from koppel.sandbox.serving import BackgroundServer, base_url, bind


def _app() -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])


def test_a_connection_made_before_uvicorn_starts_is_served() -> None:
    listener = bind("127.0.0.1", 0)
    url = base_url("127.0.0.1", listener.getsockname()[1])
    answers: list[int] = []
    client = threading.Thread(target=lambda: answers.append(httpx.get(url + "/", timeout=10).status_code))
    client.start()
    time.sleep(0.2)  # the client connects now; nothing accepts yet
    runner = BackgroundServer("test server")
    runner.start(uvicorn.Config(_app(), log_level="warning"), listener)
    try:
        client.join(10)
        assert answers == [200]
        assert runner.running
    finally:
        runner.stop()
    assert not runner.running


def test_bind_reports_a_port_in_use() -> None:
    first = bind("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(OSError):
            bind("127.0.0.1", port)
    finally:
        first.close()


def test_base_url_brackets_ipv6_and_names_the_scheme() -> None:
    assert base_url("::1", 8470) == "http://[::1]:8470"
    assert base_url("127.0.0.1", 8471, https=True) == "https://127.0.0.1:8471"
