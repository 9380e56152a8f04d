"""The Somtoday Connect source: choose the year and the vestigingen, read each completely, or raise.

``read()`` is all-or-nothing (DESIGN §1, §7): one token per instelling, then for every vestiging its
leerlingen, medewerkers, lesgroepen and stamgroepen, page by page. Any request that fails for good
raises, and a vestiging that delivers no leerlingen at all raises too — an empty answer never
means "everyone left" (it means the school closed the breedtepermissies, or next year is not set
up yet). Bad *records* become diagnostics, as bad rows do in a file export.

Which year: Somtoday serves the current school year (``peilschooljaar=HUIDIG``) and the next one
(``VOLGEND``, the jaarovergang), never an earlier one. koppel asks for a year through the connector
context; without one, the current year is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from koppel.connectors import ConnectorContext
from koppel.errors import SourceAuthError, SourceDataError, SourceError
from koppel.model.roster import BRIN6_RE, Roster, SchoolYear
from koppel.sources.somtoday.client import ClientOptions, ConnectClient, Where
from koppel.sources.somtoday.mapping import RosterAssembler, VestigingRecords
from koppel.sources.somtoday.protocol import Endpoint
from koppel.sources.somtoday.settings import Peilschooljaar, SomtodaySettings
from koppel.sources.somtoday.wire import Leerling, Lesgroep, Medewerker, Stamgroep, Vestiging, parse_records

__all__ = ["ReadYear", "SelectedVestiging", "SomtodaySource", "read_year", "select_vestigingen"]


@dataclass(frozen=True, slots=True)
class ReadYear:
    """The school year to read, the peilschooljaar that gives it, and the day the snapshot describes."""

    year: SchoolYear
    peilschooljaar: Peilschooljaar
    reference: dt.date


def read_year(requested: SchoolYear | None, setting: Peilschooljaar, today: dt.date) -> ReadYear:
    """Map the year koppel asks for onto HUIDIG or VOLGEND, or refuse a year Somtoday cannot give."""
    current = SchoolYear.containing(today)
    if setting is Peilschooljaar.HUIDIG:
        wanted = current
    elif setting is Peilschooljaar.VOLGEND:
        wanted = current.next()
    else:
        wanted = requested or current
    if requested is not None and requested != wanted:
        raise SourceError(f"peilschooljaar = {setting.value} reads {wanted}, but koppel asks for {requested}")
    if wanted == current:
        return ReadYear(current, Peilschooljaar.HUIDIG, today)
    if wanted == current.next():
        return ReadYear(wanted, Peilschooljaar.VOLGEND, wanted.start)
    raise SourceError(
        f"Somtoday Connect serves the current school year ({current}) and the next ({current.next()}) "
        f'only; it cannot deliver {wanted} ("Het is niet mogelijk om historische informatie op te '
        'vragen")'
    )


@dataclass(frozen=True, slots=True)
class SelectedVestiging:
    uuid: str
    naam: str
    brin6: str

    @property
    def where(self) -> Where:
        return Where(self.uuid, f"{self.naam} ({self.brin6}, {self.uuid})")


def _codes(vestiging: Vestiging) -> list[str]:
    """The vestiging's BRIN6 codes, from brins then externalidentifiers, in order and once each."""
    codes = [b.strip().upper() for b in vestiging.brins if b]
    codes += [e.brinnr.strip().upper() for e in vestiging.externalidentifiers if e.brinnr]
    return [c for c in dict.fromkeys(codes) if BRIN6_RE.match(c)]


def _brin6_of(vestiging: Vestiging, settings: SomtodaySettings) -> str | None:
    assert vestiging.uuid is not None
    mapped = settings.vestiging_brin6.get(vestiging.uuid.lower())
    if mapped:
        return mapped
    codes = _codes(vestiging)
    wanted = [c for c in codes if c in settings.brins]
    chosen = wanted or codes
    return chosen[0] if chosen else None


def select_vestigingen(
    available: list[Vestiging], settings: SomtodaySettings, source: str
) -> list[SelectedVestiging]:
    """The vestigingen to read, each with its BRIN6; refuses a configured one the school did not open."""
    by_uuid = {v.uuid.lower(): v for v in available if v.uuid}
    opened = ", ".join(f"{v.naam or '?'} {v.uuid}" for v in by_uuid.values()) or "none"
    if not by_uuid:
        raise SourceAuthError(
            "the school has opened no vestiging for this client (GET /connect/vestiging is empty); ask the "
            "school to activate the koppeling",
            source=source,
        )
    if settings.vestigingen:
        missing = [u for u in settings.vestigingen if u not in by_uuid]
        if missing:
            raise SourceAuthError(
                f"vestiging(en) {', '.join(missing)} not opened for this client (opened: {opened})",
                source=source,
            )
        chosen = [by_uuid[u] for u in settings.vestigingen]
    else:
        chosen = list(by_uuid.values())
    if settings.brins:
        chosen = [v for v in chosen if set(settings.brins) & ({*_codes(v)} | {_brin6_of(v, settings)})]
        found = {_brin6_of(v, settings) for v in chosen}
        missing = [b for b in settings.brins if b not in found]
        if missing:
            raise SourceAuthError(
                f"no vestiging with BRIN6 {', '.join(missing)} among those opened for this client (opened: "
                f"{opened})",
                source=source,
            )
    selected = []
    for vestiging in chosen:
        brin6 = _brin6_of(vestiging, settings)
        assert vestiging.uuid is not None
        if brin6 is None:
            raise SourceDataError(
                f"vestiging {vestiging.naam or '?'} ({vestiging.uuid}) has no BRIN6 in brins or "
                "externalidentifiers; set vestiging_brin6 for it",
                source=source,
            )
        selected.append(SelectedVestiging(vestiging.uuid.lower(), vestiging.naam or brin6, brin6))
    return sorted(selected, key=lambda v: (v.brin6, v.uuid))


class SomtodaySource:
    """A source reading Somtoday Connect for one instelling (see :class:`SomtodaySettings`)."""

    def __init__(
        self,
        name: str,
        settings: SomtodaySettings,
        ctx: ConnectorContext,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self._today = today
        self._transport = transport

    def read(self) -> Roster:
        when = read_year(self.ctx.school_year, self.settings.peilschooljaar, self._today())
        secret = self.ctx.secret(self.settings.client_secret_ref(), setting="client_secret_env")
        with ConnectClient(self._options(secret)) as client:
            available, problems = parse_records(Vestiging, client.vestigingen())
            if problems:
                raise SourceDataError(
                    f"GET /connect/vestiging: vestiging record {problems[0].index + 1} breaks the spec "
                    f"({problems[0].reason})",
                    source=self.name,
                )
            assembler = RosterAssembler(self.name, when.year, when.reference)
            for vestiging in select_vestigingen(available, self.settings, self.name):
                assembler.add(self._read_vestiging(client, vestiging, when.peilschooljaar))
            assembler.out.counts.update({"http.requests": client.requests, "http.tokens": client.token_renewals})
        return assembler.roster(
            location=f"{self.settings.api_url} (instelling {self.settings.instelling}, peilschooljaar "
            f"{when.peilschooljaar.value})"
        )

    def _options(self, secret: str) -> ClientOptions:
        s = self.settings
        return ClientOptions(
            source=self.name,
            api_url=s.api_url,
            token_url=s.token_url,
            instelling=s.instelling,
            client_id=s.client_id,
            client_secret=secret,
            page_size=s.page_size,
            timeout_s=s.timeout_s,
            max_attempts=s.max_attempts,
            retry_backoff_s=s.retry_backoff_s,
            verify_tls=s.verify_tls,
            transport=self._transport,
        )

    def _read_vestiging(
        self, client: ConnectClient, vestiging: SelectedVestiging, peil: Peilschooljaar
    ) -> VestigingRecords:
        where = vestiging.where

        def fetch(endpoint: Endpoint) -> list[object]:
            return client.fetch_all(endpoint, where, peil.value)

        raw_leerlingen = fetch(Endpoint.LEERLING)
        if not raw_leerlingen:
            raise SourceDataError(
                f"vestiging {where.label} delivered no leerlingen for peilschooljaar {peil.value}; an empty "
                "vestiging is never taken as 'everyone left' (are the breedtepermissies closed, or is next "
                "year not set up yet?)",
                source=self.name,
            )
        leerlingen, leerling_problems = parse_records(Leerling, raw_leerlingen)
        if not leerlingen:
            raise SourceDataError(
                f"vestiging {where.label}: none of its {len(raw_leerlingen)} leerling records can be read "
                f"(the first: {leerling_problems[0].reason})",
                source=self.name,
            )
        medewerkers, medewerker_problems = parse_records(Medewerker, fetch(Endpoint.MEDEWERKER))
        lesgroepen, lesgroep_problems = parse_records(Lesgroep, fetch(Endpoint.LESGROEP))
        stamgroepen, stamgroep_problems = parse_records(Stamgroep, fetch(Endpoint.STAMGROEP))
        problems = {
            Endpoint.LEERLING: leerling_problems,
            Endpoint.MEDEWERKER: medewerker_problems,
            Endpoint.LESGROEP: lesgroep_problems,
            Endpoint.STAMGROEP: stamgroep_problems,
        }
        return VestigingRecords(
            vestiging.uuid,
            vestiging.brin6,
            vestiging.naam,
            leerlingen,
            medewerkers,
            lesgroepen,
            stamgroepen,
            {e: p for e, p in problems.items() if p},
        )
