"""Initial passwords and their delivery report.

A new account gets a random password (``secrets``, from an alphabet without look-alikes: no 0/O, 1/l/I).
The only place it is written is the run's delivery report: a CSV file in ``password_report_dir``,
created with mode 0600 on the first new account of the run, one row per account, flushed row by row (a
run that stops half-way keeps the rows of the accounts it made). Never in a log, a plan or a preview.

Columns: ``username``, ``initial_password``, ``name``, ``role``, ``school``, ``dn``. The school's ICT
distributes the passwords (e.g. a mail merge per klas) and then deletes the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import secrets
import threading
from pathlib import Path
from typing import TextIO

__all__ = ["PasswordReport", "new_password"]

_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_DIGITS = "23456789"
_COLUMNS = ("username", "initial_password", "name", "role", "school", "dn")


def new_password(length: int) -> str:
    """Random, with at least one lower-case letter, one capital and one digit (what directory password
    policies and Active Directory's complexity rule ask)."""
    while True:
        password = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if (any(c.islower() for c in password) and any(c.isupper() for c in password)
                and any(c in _DIGITS for c in password)):
            return password


class PasswordReport:
    """The delivery report of one run of one target; the file is made on the first row."""

    def __init__(self, folder: Path, target: str, *, clock: dt.datetime | None = None):
        self.folder = folder
        self.target = target
        self._stamp = (clock or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        self.path: Path | None = None
        self.rows = 0

    def add(self, *, username: str, password: str, name: str, role: str, school: str | None, dn: str) -> None:
        with self._lock:
            writer = self._writer or self._open()
            writer.writerow({"username": username, "initial_password": password, "name": name, "role": role,
                             "school": school or "", "dn": dn})
            assert self._file is not None
            self._file.flush()
            self.rows += 1

    def _open(self) -> csv.DictWriter[str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.target)
        path = self.folder / f"initial-passwords-{safe}-{self._stamp}.csv"
        n = 1
        while path.exists():
            n += 1
            path = self.folder / f"initial-passwords-{safe}-{self._stamp}-{n}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)  # whatever the umask
        self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.path = path
        self._writer = csv.DictWriter(self._file, fieldnames=_COLUMNS)
        self._writer.writeheader()
        return self._writer

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
                self._writer = None
