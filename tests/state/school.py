"""A small school on the FakeTarget for the state-hardening tests, and ways to make a state store fail for
real: a full disk (a small tmpfs filled up, as root), a read-only file system, a PostgreSQL database that
turns read-only (as after a fail-over to a standby). Nothing of koppel is patched."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from koppel.cli.init_config import render_config
from koppel.config import load_config
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel

SRC = Path(__file__).resolve().parents[2] / "src"
TENANT = "school"
TARGET = "fake"


def make_school(root: Path, *, state: str = "sqlite:///koppel-state.db", students: int = 24, seed: int = 11,
                fake: dict | None = None) -> Path:
    """A Magister export and a koppel.toml for the FakeTarget (its contents kept in ``fake-target.json``)."""
    root.mkdir(parents=True, exist_ok=True)
    write_layout(generate(students=students, schools=1, year=SchoolYear(2025), seed=seed), root / "export", "magister")
    text = render_config(source="export", layout="magister", target_kind="fake", url=None, username=None,
                         password_env=None, tenant=TENANT, school_year="2025-2026", state=state)
    for key, value in (fake or {}).items():
        text = text.replace('path = "fake-target.json"', f'path = "fake-target.json"\n{key} = {value}')
    (root / "koppel.toml").write_text(text, encoding="utf-8")
    return root


def app(root: Path) -> Koppel:
    return Koppel.open(load_config(root / "koppel.toml"), env={})


def pupils(root: Path) -> tuple[Path, list[str], list[list[str]]]:
    path = next((root / "export").rglob("leerlingen.csv"))
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))
    return path, rows[0], rows[1:]


def write_pupils(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    path.write_text("\ufeff" + buffer.getvalue(), encoding="utf-8")


def set_field(root: Path, stamnr: str, column: str, value: str) -> str:
    """Change one pupil's field in the LAS export; returns what it was."""
    path, header, rows = pupils(root)
    row = next(r for r in rows if r[0] == stamnr)
    old, row[header.index(column)] = row[header.index(column)], value
    write_pupils(path, header, rows)
    return old


def koppel(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m koppel`` as a real process."""
    full = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p),
            **(env or {})}
    return subprocess.run([sys.executable, "-m", "koppel", *args], cwd=cwd, env=full, capture_output=True, text=True, check=False,
                          timeout=timeout)


def popen(cwd: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.Popen([sys.executable, "-m", "koppel", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# -- a disk that fills up, a file system that turns read-only -----------------------------------------------


class Disk:
    """A small tmpfs mounted for one test (root only): ``fill()`` takes every free byte, ``free()`` gives
    them back, ``read_only()`` remounts it read-only."""

    def __init__(self, path: Path):
        self.path = path
        self._filler = path / ".filler"

    def fill(self) -> None:
        """Take every free byte (unbuffered writes, ever smaller, until the disk refuses even one)."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 20, 65536, 4096, 512, 1):
                block = b"\0" * size
                while True:
                    try:
                        os.write(fd, block)
                    except OSError:
                        break
        finally:
            os.close(fd)

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True, capture_output=True)


@contextmanager
def small_disk(where: Path, size: str = "16m") -> Iterator[Disk]:
    """A tmpfs of ``size`` at ``where``; skips the test when it cannot be mounted (not root, no privilege)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small disk to fill needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield Disk(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


# -- PostgreSQL that turns read-only --------------------------------------------------------------------------


class ReadOnlyPostgres:
    """A database of its own on the test PostgreSQL that can be made read-only under a running koppel: new
    transactions refuse writes and koppel's open connections are cut (its pool reconnects and finds the
    database read-only), as after a fail-over to a standby."""

    def __init__(self, admin_url: str):
        import psycopg

        self.psycopg = psycopg
        self.admin_url = admin_url.replace("postgresql+psycopg://", "postgresql://")
        self.name = f"koppel_ro_{uuid.uuid4().hex[:10]}"
        self.url = f"{self.admin_url.rsplit('/', 1)[0]}/{self.name}"
        self._sql(f'CREATE DATABASE "{self.name}"')

    def _sql(self, *statements: str) -> None:
        with self.psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            for statement in statements:
                conn.execute(statement)

    def read_only(self) -> None:
        self._sql(f'ALTER DATABASE "{self.name}" SET default_transaction_read_only = on',
                  f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}' "
                  "AND pid <> pg_backend_pid()")

    def writable(self) -> None:
        self._sql(f'ALTER DATABASE "{self.name}" RESET default_transaction_read_only',
                  f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}' "
                  "AND pid <> pg_backend_pid()")

    def drop(self) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def person_key_of(db: Path, stamnr: str) -> str:
    """The sync key of the pupil with this leerlingnummer, from a SQLite state file."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT key, meta FROM objects WHERE kind = 'person'").fetchall()
    finally:
        con.close()
    (key,) = [k for k, meta in rows if json.loads(meta or "{}").get("leerlingnummer") == stamnr]
    return key
