"""A faithful local emulator of a LAS's UWLR 2.2/2.3 leerlinggegevens service (SOAP 1.1), serving generated
Dutch schools (:mod:`koppel.generator`).

koppel's tests and demo read from it, and a school can try the UWLR source on it before its LAS
supplier has issued a sleutel. It parses the request and builds the answer on its own, from the
UWLR 2.2.1 viewer and the EDEXML 2.1 schemas (shared/specs/uwlr/) — it never imports koppel's UWLR
client — so that a misunderstanding in one shows up as a failure in the other.

::

    with SandboxServer(SandboxConfig(students=500, schools=2, seed=1), port=0) as sandbox:
        sandbox.endpoint     # http://127.0.0.1:<port>/uwlr/leerlinggegevens
        sandbox.schools()    # [{"brin6": "38XC00", "name": "…", "leerlingen": 251, …}, …]
        sandbox.requests()   # what was asked and answered, newest first

What is emulated, and what is inference: docs/sources/uwlr.md ("The sandbox").
"""

from .app import ENDPOINT_PATH, create_app
from .config import DEFAULT_SLEUTEL, Failure, SandboxConfig
from .server import SandboxServer, main

__all__ = [
    "DEFAULT_SLEUTEL",
    "ENDPOINT_PATH",
    "Failure",
    "SandboxConfig",
    "SandboxServer",
    "create_app",
    "main",
]
