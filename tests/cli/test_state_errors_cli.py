"""A state store that cannot be used gets one clear message and exit code 1 — never a traceback, never the
URL's password (issue 10): PostgreSQL on a closed port, an unsupported or malformed URL, a full disk, a
read-only file system, and a plan file that does not fit on the disk. Each through `python -m koppel`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.state.school import koppel, make_school, small_disk

SECRET = "s3cret-Pw"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free now, and nothing listens on it once closed


def refused(result, *, code: int = 1, says: tuple[str, ...]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    assert SECRET not in output, "the password is never shown"
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1, result.stderr
    for text in says:
        assert text in output, f"{text!r} not in {output}"


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    return make_school(tmp_path_factory.mktemp("state-errors") / "school")


@pytest.mark.parametrize("command", [("plan",), ("sync",), ("status",), ("unlock",)])
def test_postgresql_that_does_not_answer(school: Path, command):
    url = f"postgresql://koppel:{SECRET}@127.0.0.1:{closed_port()}/koppel"
    refused(koppel(school, *command, env={"KOPPEL_STATE_URL": url}),
            says=("could not open the state store postgresql://koppel:***@127.0.0.1", "does not answer"))


@pytest.mark.parametrize("url,says", [
    (f"mysql://koppel:{SECRET}@db.example/koppel", "unsupported state store URL 'mysql://koppel:***@db.example/koppel'"),
    ("garbage", "unsupported state store URL"),
    (f"postgresql://koppel:{SECRET}@[::1/koppel", "is not a valid URL"),
    (f"sqlite+pysqlcipher://:{SECRET}@/state.db", "unsupported state store URL"),
])
def test_an_unsupported_or_malformed_url(school: Path, url: str, says: str):
    refused(koppel(school, "plan", env={"KOPPEL_STATE_URL": url}), says=(says, "state.url"))


def test_a_full_disk(tmp_path: Path):
    with small_disk(tmp_path / "disk", size="2m") as disk:
        root = make_school(tmp_path / "school", state=f"sqlite:///{disk.path / 'state.db'}")
        disk.fill()
        refused(koppel(root, "plan"), says=("database or disk is full", "the disk is full"))
        refused(koppel(root, "sync"), says=("the disk is full",))


def test_a_read_only_file_system(tmp_path: Path):
    with small_disk(tmp_path / "disk") as disk:
        root = make_school(tmp_path / "school", state=f"sqlite:///{disk.path / 'state.db'}")
        assert koppel(root, "sync").returncode == 0
        disk.read_only()
        refused(koppel(root, "sync"), says=("could not open the state store", "read-only"))
        refused(koppel(root, "plan"), says=("read-only",))


def test_a_plan_file_that_does_not_fit(tmp_path: Path):
    with small_disk(tmp_path / "disk", size="1m") as disk:
        root = make_school(tmp_path / "school")
        disk.fill()
        refused(koppel(root, "plan", "--out", str(disk.path / "plan.json")),
                says=("plan.json", "No space left on device"))
