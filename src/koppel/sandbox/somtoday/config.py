"""The Somtoday sandbox's settings: one frozen value, validated when it is made.

The defaults give a working Connect API out of the box: a generated bestuur of two schools for the
current school year, client ``koppel`` / ``sandbox``, tokens that live an hour, every field granted
and no injected trouble. Each kind of bad day a koppeling must survive is one setting: latency,
HTTP 500, a 401 for a token that should still be good, a truncated JSON answer, tokens that die
sooner than Somtoday said, and fields the school did not grant (veldpermissies).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from koppel.errors import ConfigError, ConfigProblem
from koppel.model.roster import SchoolYear

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "HIDEABLE_FIELDS", "SandboxConfig", "parse_hidden"]

DEFAULT_CLIENT_ID = "koppel"
DEFAULT_CLIENT_SECRET = "sandbox"
MAX_AMOUNT = 200

# The fields the sandbox emits per record type; any of them can be withheld as a veldpermissie would.
# ``plaatsing`` fields are withheld inside every leerling's plaatsingen.
HIDEABLE_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "leerling": frozenset(
            {
                "uuid",
                "eckid",
                "leerlingnummer",
                "roepnaam",
                "voorvoegsel",
                "achternaam",
                "emailadres",
                "gebruikersnaam",
                "vestiging",
                "plaatsingen",
                "lesgroepen",
                "vakkeuzes",
                "isActief",
            }
        ),
        "plaatsing": frozenset(
            {
                "uuid",
                "schooljaar",
                "startdatum",
                "einddatum",
                "leerjaar",
                "opleiding",
                "stamgroep",
                "mentoren",
            }
        ),
        "medewerker": frozenset(
            {
                "uuid",
                "eckid",
                "roepnaam",
                "voorletters",
                "voorvoegsel",
                "achternaam",
                "emailadres",
                "medewerkernummer",
                "afkorting",
                "lesgroepen",
                "vestiging",
                "hoofdvestiging",
                "is_docent",
                "functie",
                "gebruikersnaam",
            }
        ),
        "lesgroep": frozenset(
            {
                "uuid",
                "naam",
                "leerlingen",
                "docenten",
                "vak",
                "vaknaam",
                "vakuuid",
                "leerjaar",
                "schooljaar",
                "onderwijssoort",
                "vestiging",
            }
        ),
        "stamgroep": frozenset(
            {"uuid", "naam", "omschrijving", "leerjaar", "onderwijssoort", "leerlingen", "mentoren"}
        ),
    }
)


def parse_hidden(specs: Iterable[str]) -> dict[str, frozenset[str]]:
    """``["leerling.emailadres", "plaatsing.stamgroep"]`` → ``{"leerling": {...}, "plaatsing": {...}}``."""
    hidden: dict[str, set[str]] = {}
    for spec in specs:
        entity, _, name = spec.partition(".")
        hidden.setdefault(entity, set()).add(name)
    return {entity: frozenset(names) for entity, names in hidden.items()}


@dataclass(frozen=True)
class SandboxConfig:
    students: int = 400
    """Pupils of the generated bestuur (in its origin year; later years stay close)."""
    schools: int = 2
    """Schools (vestigingen) of the generated bestuur."""
    seed: int = 0
    """Seeds the generator, every UUID and the fault injection: same seed, same sandbox."""
    year: SchoolYear | None = None
    """The sandbox's current school year (HUIDIG); VOLGEND serves the generator's next year. None: today's."""
    db_path: Path | None = None
    """SQLite file holding the served records and tokens; None keeps them in memory. Rebuilt at start."""
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = field(default=DEFAULT_CLIENT_SECRET, repr=False)
    token_ttl_s: float = 3600.0
    """How long an issued token really works."""
    advertised_ttl_s: float | None = None
    """The ``expires_in`` the token response claims; None tells the truth. Larger than ``token_ttl_s``
    makes tokens die while the client still trusts them: the 401-mid-paging case."""
    latency_ms: float = 0.0
    """Added to every API and token request (``asyncio.sleep``: concurrent requests overlap)."""
    fail_rate: float = 0.0
    """Fraction of API requests answered HTTP 500 with an ``Error`` body."""
    unauthorized_rate: float = 0.0
    """Fraction of API requests answered HTTP 401 although the token is valid (revoked access)."""
    malformed_rate: float = 0.0
    """Fraction of API requests answered HTTP 200 with a JSON body cut off halfway."""
    hidden_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Veldpermissies not granted: record type → field names left out of every record."""
    max_amount: int = MAX_AMOUNT
    """The largest ``amount`` accepted (Somtoday: 200)."""

    def __post_init__(self) -> None:
        if self.year is None:
            object.__setattr__(self, "year", SchoolYear.containing(dt.date.today()))
        if self.db_path is not None:
            object.__setattr__(self, "db_path", Path(self.db_path))
        object.__setattr__(
            self,
            "hidden_fields",
            MappingProxyType({entity: frozenset(names) for entity, names in self.hidden_fields.items()}),
        )
        problems = [*self._range_problems(), *self._hidden_problems()]
        if not self.client_id or not self.client_secret:
            problems.append(ConfigProblem("client id and secret must not be empty", "client_id"))
        if problems:
            raise ConfigError(problems)

    @property
    def current_year(self) -> SchoolYear:
        assert self.year is not None
        return self.year

    def _range_problems(self) -> list[ConfigProblem]:
        problems = []
        for name in ("fail_rate", "unauthorized_rate", "malformed_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(ConfigProblem("must be between 0 and 1", name))
        if self.fail_rate + self.unauthorized_rate + self.malformed_rate > 1.0:
            problems.append(ConfigProblem("the fault rates together must not exceed 1", "fail_rate"))
        for name in ("students", "schools", "max_amount"):
            if getattr(self, name) < 1:
                problems.append(ConfigProblem("must be 1 or more", name))
        if self.token_ttl_s <= 0:
            problems.append(ConfigProblem("must be more than 0", "token_ttl_s"))
        if self.advertised_ttl_s is not None and self.advertised_ttl_s <= 0:
            problems.append(ConfigProblem("must be more than 0", "advertised_ttl_s"))
        if self.latency_ms < 0:
            problems.append(ConfigProblem("must not be negative", "latency_ms"))
        return problems

    def _hidden_problems(self) -> list[ConfigProblem]:
        problems = []
        for entity, names in self.hidden_fields.items():
            known = HIDEABLE_FIELDS.get(entity)
            if known is None:
                problems.append(
                    ConfigProblem(
                        f"unknown record type {entity!r} (known: {', '.join(sorted(HIDEABLE_FIELDS))})",
                        "hidden_fields",
                    )
                )
                continue
            unknown = sorted(names - known)
            if unknown:
                problems.append(
                    ConfigProblem(
                        f"{entity} has no field {', '.join(unknown)} (known: {', '.join(sorted(known))})",
                        "hidden_fields",
                    )
                )
        return problems
