"""`koppel serve` says where it listens and what to do next, and a busy port is one clear message with exit 6
(issue 12, points 9 and 10). Run through the console script, as a real process on a real port."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear
from tests.conftest import free_port as _free_port

KOPPEL = Path(sys.executable).parent / "koppel"
ROOT = Path(__file__).resolve().parents[2]
PORT_IN_USE = 6  # docs/cli.md


def _env(lang: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "KOPPEL_LANG")}
    env["PYTHONPATH"] = str(ROOT / "src")
    if lang:
        env["LANG"] = lang
    return env


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    write_layout(generate(students=20, schools=1, year=SchoolYear(2025), seed=2), tmp_path / "export", "magister")
    made = subprocess.run([str(KOPPEL), "init", "--source", "export", "--target", "fake"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return tmp_path



def _read_until(proc: subprocess.Popen[bytes], marker: bytes, seconds: float = 60) -> bytes:
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.parametrize("lang", [None, "nl_NL.UTF-8"])
def test_serve_prints_its_url_and_next_steps(configured: Path, lang: str | None) -> None:
    port = _free_port()
    proc = subprocess.Popen([str(KOPPEL), "serve", "--port", str(port)], cwd=configured, env=_env(lang),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        text = _read_until(proc, b"SIGTERM").decode()
        url = f"http://127.0.0.1:{port}/"
        assert url in text, text
        assert "koppel user add" in text and str(configured / "koppel.toml") in text and "Ctrl+C" in text
        if lang:
            assert "het dashboard luistert op" in text and "Nog geen dashboardgebruikers" in text
        else:
            assert "the dashboard listens on" in text and "No dashboard users yet" in text
        for _ in range(100):  # the URL it printed answers
            try:
                answer = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the printed URL does not answer")
        assert answer.status_code in (200, 303, 307)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert proc.stderr is not None and proc.stdout is not None
        proc.stderr.close()
        proc.stdout.close()


def test_serve_names_its_users(configured: Path) -> None:
    env = {**_env(), "KOPPEL_TEST_PASSWORD": "een lang wachtwoord 42"}
    added = subprocess.run([str(KOPPEL), "user", "add", "beheerder", "--role", "admin", "--password-env",
                            "KOPPEL_TEST_PASSWORD"],
                           cwd=configured, env=env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    port = _free_port()
    proc = subprocess.Popen([str(KOPPEL), "serve", "--port", str(port)], cwd=configured, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        text = _read_until(proc, b"SIGTERM").decode()
        assert "Log in as beheerder" in text, text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert proc.stderr is not None and proc.stdout is not None
        proc.stderr.close()
        proc.stdout.close()


@pytest.mark.parametrize(("lang", "message"), [
    (None, "error: port {port} is in use; pick another with --port"),
    ("nl_NL.UTF-8", "fout: poort {port} is in gebruik; kies een andere met --port"),
])
def test_a_busy_port_is_one_clear_message_and_exit_6(configured: Path, lang: str | None, message: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        done = subprocess.run([str(KOPPEL), "serve", "--port", str(port)], cwd=configured, env=_env(lang),
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == PORT_IN_USE
    assert done.stderr.strip() == message.format(port=port)
    assert "uvicorn" not in done.stderr + done.stdout and "Errno" not in done.stderr
    assert done.stdout == "", "nothing claims to listen"
