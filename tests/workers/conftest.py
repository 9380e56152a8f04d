"""A private PostgreSQL server for the tests that stop and start one (never the shared one on 5432).

:func:`private_postgres` runs ``initdb`` into a fresh directory and starts the server with ``pg_ctl``
on a free port (its socket in that directory too); the test stops and starts it as it likes, and
the server and its files are removed afterwards. ``initdb`` refuses root, so as root (CI) the
server runs as the ``postgres`` user (``runuser``). Without PostgreSQL's binaries the test is
skipped with the reason, or fails under KOPPEL_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port as _free_port
from tests.conftest import need


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None



@dataclass
class PrivatePostgres:
    """One PostgreSQL server of our own: stop it and start it again mid-test."""

    bin: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``koppel`` database (created at start)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/koppel"

    def _run(self, *args: str, timeout: float = 60) -> None:
        answer = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=timeout)
        if answer.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({answer.returncode}): {answer.stdout}{answer.stderr}"
                               f"{self.log()}")

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        answer = subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
                                capture_output=True, text=True, timeout=30)
        return answer.returncode == 0


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    binaries = _binaries()
    if binaries is None:
        need("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="koppel-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            need("running as root and there is no postgres user to run a private PostgreSQL as")
            raise AssertionError("unreachable") from None
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    server = PrivatePostgres(binaries, root, _free_port(), as_user)
    try:
        server._run(str(binaries / "initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-sync", timeout=120)
        server.start()
        server._run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
                    "koppel")
        yield server
    finally:
        if server.running():
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
