"""The UWLR source tested over real sockets: against the UWLR sandbox, and against a canned HTTP server
that answers whatever a test needs a LAS to answer (a 401, an entity bomb …) and records what it got.

A fixed school year (2025-2026, the first year beyond the public schema's schooljaar enumeration)
and a fixed 'today' keep the tests from drifting with the calendar.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pytest

from koppel.connectors import ConnectorContext
from koppel.model.roster import SchoolYear
from koppel.sandbox.uwlr import SandboxConfig, SandboxServer
from koppel.sources.uwlr import UwlrSettings, UwlrSource

YEAR = SchoolYear(2025)
TODAY = dt.date(2025, 10, 1)
SLEUTEL_ENV = "UWLR_SLEUTEL"
SANDBOX = {"students": 160, "schools": 2, "seed": 5, "year": YEAR}


def make_source(
    url: str,
    schools: list[dict[str, Any]] | list[str],
    *,
    year: SchoolYear | None = YEAR,
    env: dict[str, str] | None = None,
    name: str = "las",
    base_dir: Path | None = None,
    **settings: Any,
) -> UwlrSource:
    """A UWLR source for ``url``; schools as BRIN6 strings or setting dicts; sleutel from $UWLR_SLEUTEL."""
    listed = [{"brin6": s} if isinstance(s, str) else s for s in schools]
    settings.setdefault("klantcode", "KOPPEL-TEST")
    settings.setdefault("klantnaam", "koppel")
    if not any(k.startswith("autorisatiesleutel") for k in settings):
        settings["autorisatiesleutel_env"] = SLEUTEL_ENV
    env = {SLEUTEL_ENV: "sandbox", **(env or {})}
    ctx = ConnectorContext(tenant="test", base_dir=base_dir or Path.cwd(), env=env, school_year=year)
    return UwlrSource(name, UwlrSettings(url=url, schools=listed, **settings), ctx, today=lambda: TODAY)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One sandbox for the session (two schools, 160 pupils, 2025-2026); tests must not change it."""
    with SandboxServer(SandboxConfig(**SANDBOX)) as server:
        yield server


@pytest.fixture(scope="session")
def brins(sandbox: SandboxServer) -> list[str]:
    return [school["brin6"] for school in sandbox.schools()]


StartSandbox = Callable[..., AbstractContextManager[SandboxServer]]


@pytest.fixture
def start_sandbox() -> StartSandbox:
    """``with start_sandbox(fail_rate=1) as server:`` — a private sandbox with other settings."""

    @contextmanager
    def start(**settings: Any) -> Iterator[SandboxServer]:
        with SandboxServer(SandboxConfig(**{**SANDBOX, **settings})) as server:
            yield server

    return start


# -- a canned LAS ---------------------------------------------------------------------------------


@dataclass
class Canned:
    """What the canned server answers, and what it received."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)


class CannedServer:
    """A plain HTTP server on a free port that answers every request with ``canned`` and records it."""

    def __init__(self) -> None:
        self.canned = Canned()
        canned = self.canned

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                canned.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length) if length else b"",
                    }
                )
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.content_type)
                self.send_header("Content-Length", str(len(canned.body)))
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(canned.body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def answer(
        self,
        body: bytes | str,
        status: int = 200,
        content_type: str = "text/xml; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.canned.body = body.encode() if isinstance(body, str) else body
        self.canned.status = status
        self.canned.content_type = content_type
        self.canned.headers = dict(headers or {})

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.canned.received

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def canned() -> Iterator[CannedServer]:
    with CannedServer() as server:
        yield server


@pytest.fixture
def bystander() -> Iterator[CannedServer]:
    """A second server that must never be contacted (the target of an external entity)."""
    with CannedServer() as server:
        yield server


# -- a small PKI for the client-certificate mode ---------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_key_encrypted: Path
    key_password: str
    rogue_cert: Path
    rogue_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(folder: Path, name: str) -> None:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.pem",
        "-days",
        "2",
        "-subj",
        f"/CN=koppel test {name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )


def _leaf(folder: Path, name: str, ca: str, extensions: str) -> None:
    (folder / f"{name}.ext").write_text(
        "basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" + extensions,
        encoding="utf-8",
    )
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={name}",
        cwd=folder,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        f"{ca}.pem",
        "-CAkey",
        f"{ca}.key",
        "-CAcreateserial",
        "-out",
        f"{name}.pem",
        "-days",
        "2",
        "-extfile",
        f"{name}.ext",
        cwd=folder,
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    _ca(folder, "ca")
    _ca(folder, "rogue-ca")
    _leaf(folder, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _leaf(folder, "client", "ca", "extendedKeyUsage=clientAuth\n")
    _leaf(folder, "rogue", "rogue-ca", "extendedKeyUsage=clientAuth\n")
    _openssl(
        "pkey",
        "-in",
        "client.key",
        "-out",
        "client-encrypted.key",
        "-aes256",
        "-passout",
        "pass:geheim",
        cwd=folder,
    )
    return Pki(
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "client.pem",
        folder / "client.key",
        folder / "client-encrypted.key",
        "geheim",
        folder / "rogue.pem",
        folder / "rogue.key",
    )
