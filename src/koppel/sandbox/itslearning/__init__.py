"""A faithful local emulator of itslearning's IMS Enterprise Services v1.0 (SOAP 1.1), on SQLite.

koppel's demo and tests run against it, and a school can try koppel on it before production. It
parses and builds the wire format on its own, from itslearning's documentation and real traffic
recorded by public clients (shared/reference/itslearning-*.md) — never from koppel's own itslearning
client — so that a misunderstanding in one shows up as a failure in the other.

::

    with SandboxServer(SandboxConfig(db_path=tmp / "its.db"), port=0) as sandbox:
        sandbox.endpoint("pms")      # http://127.0.0.1:<port>/WCFServiceLibrary/PersonManagementServiceSync.svc
        sandbox.stats()              # {"persons": 0, "groups": 0, "memberships": 0, "requests": {}, ...}

What is emulated, where each rule comes from and what is inference: docs/sandbox-itslearning.md.
"""

from .app import create_app
from .config import DEFAULT_PASSWORD, DEFAULT_USERNAME, FailMode, SandboxConfig
from .server import SandboxServer, main

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "FailMode",
    "SandboxConfig",
    "SandboxServer",
    "create_app",
    "main",
]
