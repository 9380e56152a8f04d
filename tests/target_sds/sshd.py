"""A real OpenSSH server for the SDS target's tests: Debian's /usr/sbin/sshd, started by the test on a free
local port with its own configuration, host key and authorised client key; SFTP by ``internal-sftp``.

Nothing of koppel's is imitated: koppel's SFTP upload talks to this server over a TCP socket exactly as it would
to a hosting provider's. The server can be stopped and started again on the same port (a server that is down
for a while), and its host key can be swapped (a server that is not the one koppel knows).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port, stop_process

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def available() -> str | None:
    """Why this machine cannot run the test server, or None when it can."""
    if not os.path.exists(SSHD):
        return f"{SSHD} is missing (apt-get install openssh-server)"
    if not os.path.exists(SSH_KEYGEN):
        return "ssh-keygen is missing (apt-get install openssh-client)"
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        except OSError as exc:
            return f"cannot make /run/sshd for sshd: {exc.strerror}"
    return None



def keygen(path: Path, comment: str = "koppel-test") -> Path:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


def fingerprint(public_key: Path) -> str:
    out = subprocess.run([SSH_KEYGEN, "-l", "-E", "sha256", "-f", str(public_key)], check=True, capture_output=True,
                         text=True).stdout
    return out.split()[1]


@dataclass
class SshServer:
    """One sshd: ``root`` holds its files; ``home`` is the folder SFTP uploads go to."""

    root: Path
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(exist_ok=True)
        self.host_key = keygen(self.root / "host_ed25519", "koppel-test-host")
        self.client_key = keygen(self.root / "client_ed25519", "koppel-test-client")
        self.stranger_key = keygen(self.root / "stranger_ed25519", "not-authorised")
        (self.root / "authorized_keys").write_text((self.root / "client_ed25519.pub").read_text())
        self.write_known_hosts(self.root / "known_hosts")

    @property
    def home(self) -> Path:
        return self.root / "sftp-home"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.root / "host_ed25519.pub")

    def write_known_hosts(self, path: Path) -> Path:
        """known_hosts as `ssh-keyscan -p PORT 127.0.0.1` writes it for this server."""
        key = (self.root / "host_ed25519.pub").read_text().split()
        path.write_text(f"[{self.host}]:{self.port} {key[0]} {key[1]}\n")
        return path

    def new_host_key(self) -> None:
        """The server now presents another host key (what a man in the middle would)."""
        for name in ("host_ed25519", "host_ed25519.pub"):
            (self.root / name).unlink()
        keygen(self.root / "host_ed25519", "koppel-test-other-host")

    def config(self) -> Path:
        path = self.root / "sshd_config"
        path.write_text("\n".join([
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.root / 'host_ed25519'}",
            f"PidFile {self.root / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
            f"AllowUsers {self.user}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "",
        ]))
        return path

    def start(self) -> None:
        config = self.config()
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd refuses the test configuration: {check.stderr.strip()}")
        log = open(self.root / "sshd.log", "ab")  # noqa: SIM115 - kept open for the server's lifetime
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd stopped at start: {(self.root / 'sshd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not answer on {self.host}:{self.port}")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def settings(self, **overrides: object) -> dict[str, object]:
        """The SDS target's ``sftp`` table for this server (key login, known_hosts)."""
        return {"host": self.host, "port": self.port, "username": self.user,
                "private_key_file": str(self.root / "client_ed25519"), "remote_path": str(self.home / "sds"),
                "known_hosts": str(self.root / "known_hosts"), "timeout_s": 10, **overrides}
