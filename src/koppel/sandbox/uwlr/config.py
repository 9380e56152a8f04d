"""The UWLR sandbox's settings: one frozen value, validated when it is made.

The defaults give a small VO bestuur (one school, 300 pupils) for the school year containing today,
one autorisatiesleutel for every school (``sandbox``: a local emulator, and a fixed key makes the
demo work out of the box) and no injected trouble. A sleutel per school (``sleutels``) makes the
sandbox behave like ESIS, which links one sleutel to one BRIN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from koppel.errors import ConfigError, ConfigProblem
from koppel.model.roster import BRIN6_RE, SchoolYear

__all__ = ["DEFAULT_SLEUTEL", "Failure", "SandboxConfig"]

DEFAULT_SLEUTEL = "sandbox"


class Failure(StrEnum):
    """What an injected failure (``fail_rate``) looks like to the client."""

    TIJDELIJK_NIET_BESCHIKBAAR = "tijdelijk-niet-beschikbaar"
    """HTTP 500 with SOAP fault ``Server.TijdelijkNietBeschikbaar``: the LAS is in maintenance."""
    HTTP_500 = "http-500"
    """HTTP 500 with an HTML error page and no SOAP: a proxy or web server in front of the LAS failed."""
    MALFORMED = "malformed"
    """HTTP 200 with an answer cut off halfway: the connection broke or the LAS crashed mid-answer."""
    EMPTY = "empty"
    """HTTP 200 with a well-formed answer without leerlingen: the LAS lost its data (or the school's link)."""


@dataclass(frozen=True)
class SandboxConfig:
    students: int = 300
    """Pupils of the generated bestuur in its origin year (koppel.generator); the years after stay close."""
    schools: int = 1
    """Schools (BRIN6) of the generated bestuur."""
    seed: int = 0
    """Seeds the generated data and the fault RNG: same seed, same schools, pupils and faults."""
    year: SchoolYear | None = None
    """The LAS's current school year (default: the one containing today); it serves this one and the next."""
    sleutel: str = field(default=DEFAULT_SLEUTEL, repr=False)
    """The autorisatiesleutel accepted for every school without its own."""
    sleutels: Mapping[str, str] = field(default_factory=dict, repr=False)
    """BRIN6 → autorisatiesleutel for that school only (ESIS-style: one sleutel per BRIN)."""
    klantcode: str | None = None
    """The klantcode the LAS gave the koppeling; None accepts any non-empty one."""
    klantnaam: str | None = None
    """The klantnaam the LAS gave the koppeling; None accepts any non-empty one."""
    latency_ms: float = 0
    """Added to every request before it is answered (``asyncio.sleep``); past a client's timeout: timeout."""
    fail_rate: float = 0.0
    """Fraction of requests answered with the injected ``failure`` instead of the data (seeded RNG)."""
    failure: Failure = Failure.TIJDELIJK_NIET_BESCHIKBAAR
    db_path: Path | None = None
    """SQLite file of the request log; None keeps it in memory."""
    tls_cert_file: Path | None = None
    """PEM server certificate: serve HTTPS instead of HTTP."""
    tls_key_file: Path | None = None
    """PEM key of ``tls_cert_file``."""
    client_ca_file: Path | None = None
    """PEM CA: with HTTPS, require a client certificate signed by it (as ESIS does)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sleutels", MappingProxyType(dict(self.sleutels)))
        for name in ("db_path", "tls_cert_file", "tls_key_file", "client_ca_file"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        problems = []
        try:
            object.__setattr__(self, "failure", Failure(self.failure))
        except ValueError:
            allowed = ", ".join(f.value for f in Failure)
            problems.append(ConfigProblem(f"must be one of {allowed}, not {self.failure!r}", "failure"))
        if self.students < 1:
            problems.append(ConfigProblem("must be 1 or more", "students"))
        if self.schools < 1:
            problems.append(ConfigProblem("must be 1 or more", "schools"))
        if not 0.0 <= self.fail_rate <= 1.0:
            problems.append(ConfigProblem("must be between 0 and 1", "fail_rate"))
        if self.latency_ms < 0:
            problems.append(ConfigProblem("must not be negative", "latency_ms"))
        if not self.sleutel or not all(self.sleutels.values()):
            problems.append(ConfigProblem("an autorisatiesleutel must not be empty", "sleutel"))
        bad = [brin6 for brin6 in self.sleutels if not BRIN6_RE.match(brin6)]
        if bad:
            problems.append(ConfigProblem(f"keys must be BRIN6 codes, not {', '.join(bad)}", "sleutels"))
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            problems.append(
                ConfigProblem("give both tls_cert_file and tls_key_file, or neither", "tls_cert_file")
            )
        if self.client_ca_file is not None and self.tls_cert_file is None:
            problems.append(
                ConfigProblem("a client certificate needs HTTPS: set tls_cert_file", "client_ca_file")
            )
        if problems:
            raise ConfigError(problems)

    def current_year(self, today: dt.date | None = None) -> SchoolYear:
        return self.year or SchoolYear.containing(today or dt.date.today())

    def sleutel_for(self, brin6: str) -> str:
        return self.sleutels.get(brin6, self.sleutel)

    @property
    def https(self) -> bool:
        return self.tls_cert_file is not None
