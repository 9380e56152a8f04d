"""The sandbox as an ASGI application: the UWLR leerlinggegevens endpoint and a small JSON API.

``POST /uwlr/leerlinggegevens`` answers ``HaalLeerlinggegevens`` as a LAS does: the request is read
and checked (:mod:`.soap`), the klant and the autorisatiesleutel for the school are checked, the
xsdversie, profile and school year must be ones the LAS serves, and then the whole school is
answered (:mod:`.wire`). Trouble can be injected (``latency_ms``, ``fail_rate`` with a ``failure``),
drawn from an RNG seeded with ``seed`` so a run can be repeated.

``/sandbox/api/schools``, ``/sandbox/api/stats`` and ``/sandbox/api/requests`` show what is served
and what was asked; ``POST /sandbox/api/reset`` empties the request log and restarts the fault RNG.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import random
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from koppel.model.roster import SchoolYear

from .config import Failure, SandboxConfig
from .data import LasData, SchoolData
from .soap import FaultType, UwlrFault, Verzoek, check_soap_action, read_request
from .store import RequestLog, RequestRecord
from .wire import answer_envelope, empty_answer_envelope, fault_envelope

__all__ = ["ENDPOINT_PATH", "Sandbox", "create_app"]

ENDPOINT_PATH = "/uwlr/leerlinggegevens"
XSD_VERSIES = frozenset({"2.2", "2.3"})
GEGEVENSSETS = frozenset({"Smalle-set-VO"})
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
_HTML_500 = (
    b"<html><head><title>500 Internal Server Error</title></head>"
    b"<body><h1>Internal Server Error</h1></body></html>"
)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    outcome: str
    media_type: str = SOAP_CONTENT_TYPE


class Sandbox:
    """Everything the endpoint needs: settings, data, request log and the fault RNG."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.data = LasData(
            students=config.students, schools=config.schools, seed=config.seed, current=config.current_year()
        )
        self.log = RequestLog(config.db_path)
        self._rng = random.Random(config.seed)
        self._rng_lock = threading.Lock()

    def reset(self) -> None:
        self.log.clear()
        with self._rng_lock:
            self._rng.seed(self.config.seed)

    def draw_failure(self) -> Failure | None:
        """Whether this request fails on purpose (one draw per request, in arrival order)."""
        with self._rng_lock:
            failed = self._rng.random() < self.config.fail_rate
        return self.config.failure if failed else None

    # -- the checks a LAS makes, then the answer -----------------------------------------------

    def authorise(self, verzoek: Verzoek) -> SchoolData:
        config = self.config
        for name, wanted in (("klantcode", config.klantcode), ("klantnaam", config.klantnaam)):
            if wanted is not None and getattr(verzoek, name) != wanted:
                raise UwlrFault(FaultType.ONGELDIGE_KLANT_IDENTIFICATIE, f"{name} is niet bekend bij dit LAS")
        brin6 = verzoek.brin6
        if brin6 is None:
            raise UwlrFault(FaultType.ONGELDIG_BERICHT, "brincode ontbreekt; dit LAS zoekt scholen op BRIN")
        school = self.data.year(self.data.current).schools.get(brin6)
        sleutel = config.sleutel_for(brin6).encode()
        if school is None or not hmac.compare_digest(sleutel, verzoek.autorisatiesleutel.encode()):
            raise UwlrFault(
                FaultType.AUTORISATIE_ONGELDIG, f"de autorisatiesleutel geeft geen toegang tot school {brin6}"
            )
        return school

    def school_for_year(self, verzoek: Verzoek, brin6: str) -> tuple[SchoolYear, SchoolData]:
        if verzoek.xsdversie is not None and verzoek.xsdversie not in XSD_VERSIES:
            raise UwlrFault(
                FaultType.XSD_VERSIE_ONGELDIG,
                f"xsdversie {verzoek.xsdversie} wordt niet ondersteund ({', '.join(sorted(XSD_VERSIES))})",
            )
        if verzoek.gegevenssetid is not None and verzoek.gegevenssetid not in GEGEVENSSETS:
            raise UwlrFault(FaultType.ONGELDIG_BERICHT, f"gegevensset {verzoek.gegevenssetid!r} is onbekend")
        year = SchoolYear.parse(verzoek.schooljaar)
        if year not in self.data.served_years:
            served = " en ".join(str(y) for y in self.data.served_years)
            raise UwlrFault(
                FaultType.ONGELDIG_BERICHT, f"schooljaar {year} wordt niet geleverd (wel: {served})"
            )
        return year, self.data.year(year).schools[brin6]

    def answer(self, verzoek: Verzoek, failure: Failure | None) -> _Answer:
        """The answer to a request that passed the message checks (run in a worker thread: CPU work)."""
        school = self.authorise(verzoek)
        year, data = self.school_for_year(verzoek, school.school.brin6)
        render = empty_answer_envelope if failure is Failure.EMPTY else answer_envelope
        body = render(data, schooljaar=str(year), xsdversie=verzoek.xsdversie or "2.3", now=dt.datetime.now())
        if failure is Failure.MALFORMED:
            return _Answer(200, body[: len(body) // 2], failure.value)
        return _Answer(200, body, failure.value if failure else "ok")

    def schools_summary(self) -> dict[str, Any]:
        """The years served and the current year's schools with their counts."""
        year = self.data.year(self.data.current)
        listed = [
            {
                "brin6": brin6,
                "name": s.school.name,
                "leerlingen": len(s.pupils),
                "leerkrachten": len(s.teachers),
                "groepen": len(s.klassen),
                "samengestelde_groepen": len(s.lesgroepen),
            }
            for brin6, s in sorted(year.schools.items())
        ]
        return {"years": [str(y) for y in self.data.served_years], "schools": listed}

    def stats(self) -> dict[str, Any]:
        return {"requests": self.log.outcomes(), "years": [str(y) for y in self.data.served_years]}

    def close(self) -> None:
        self.log.close()


def _fault(fault: UwlrFault) -> _Answer:
    return _Answer(500, fault_envelope(fault.fault.value, fault.text), fault.fault.value)


class UwlrEndpoint:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse(
                "UWLR leerlinggegevens: POST a SOAP 1.1 HaalLeerlinggegevens request here.\n",
                status_code=405,
                headers={"Allow": "POST"},
            )
        started = time.monotonic()
        body = await request.body()
        if self.sandbox.config.latency_ms:
            await asyncio.sleep(self.sandbox.config.latency_ms / 1000)
        verzoek: Verzoek | None = None
        try:
            verzoek = read_request(body) if self._content_type_ok(request) else None
            answer = await self._answer(request, verzoek)
        except UwlrFault as fault:
            answer = _fault(fault)
        self.sandbox.log.add(
            RequestRecord(
                brin6=verzoek.brin6 if verzoek else None,
                schooljaar=verzoek.schooljaar if verzoek else None,
                xsdversie=verzoek.xsdversie if verzoek else None,
                gegevenssetid=verzoek.gegevenssetid if verzoek else None,
                klantcode=verzoek.klantcode if verzoek else None,
                outcome=answer.outcome,
                status=answer.status,
                bytes=len(answer.body),
                elapsed_ms=round((time.monotonic() - started) * 1000),
            )
        )
        return Response(answer.body, status_code=answer.status, media_type=answer.media_type)

    @staticmethod
    def _content_type_ok(request: Request) -> bool:
        return request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/xml"

    async def _answer(self, request: Request, verzoek: Verzoek | None) -> _Answer:
        if verzoek is None:
            # What WCF answers a SOAP 1.2 (application/soap+xml) or form post on a SOAP 1.1 binding.
            text = (
                "Cannot process the message because the content type "
                f"'{request.headers.get('content-type')}' "
                f"was not the expected type '{SOAP_CONTENT_TYPE}'."
            ).encode()
            return _Answer(415, text, "http-415", "text/plain; charset=utf-8")
        failure = self.sandbox.draw_failure()
        if failure is Failure.TIJDELIJK_NIET_BESCHIKBAAR:
            raise UwlrFault(
                FaultType.TIJDELIJK_NIET_BESCHIKBAAR, "het LAS is tijdelijk niet beschikbaar (onderhoud)"
            )
        if failure is Failure.HTTP_500:
            return _Answer(500, _HTML_500, failure.value, "text/html; charset=utf-8")
        check_soap_action(request.headers.get("soapaction"))
        return await run_in_threadpool(self.sandbox.answer, verzoek, failure)


def _api_routes(sandbox: Sandbox) -> list[Route]:
    def schools(request: Request) -> JSONResponse:
        return JSONResponse(sandbox.schools_summary())

    def stats(request: Request) -> JSONResponse:
        return JSONResponse(sandbox.stats())

    def requests(request: Request) -> JSONResponse:
        limit = int(request.query_params.get("limit", "100"))
        return JSONResponse({"requests": sandbox.log.recent(limit)})

    def reset(request: Request) -> JSONResponse:
        sandbox.reset()
        return JSONResponse({"reset": True})

    def overview(request: Request) -> PlainTextResponse:
        year = sandbox.data.year(sandbox.data.current)
        lines = [
            "koppel UWLR sandbox (emulates a LAS's UWLR 2.2/2.3 service; not a real LAS)",
            f"endpoint  POST {ENDPOINT_PATH}  (SOAPAction: HaalLeerlinggegevens)",
            f"years     {', '.join(str(y) for y in sandbox.data.served_years)}",
            *(
                f"school    {brin6}  {s.school.name}  ({len(s.pupils)} leerlingen)"
                for brin6, s in sorted(year.schools.items())
            ),
        ]
        return PlainTextResponse("\n".join(lines) + "\n")

    return [
        Route("/", overview),
        Route("/sandbox/api/schools", schools),
        Route("/sandbox/api/stats", stats),
        Route("/sandbox/api/requests", requests),
        Route("/sandbox/api/reset", reset, methods=["POST"]),
    ]


def create_app(config: SandboxConfig) -> Starlette:
    """The ASGI app; the current year's data is generated now, so the schools are known at once."""
    sandbox = Sandbox(config)
    sandbox.data.year(sandbox.data.current)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sandbox.close()

    routes = [
        Route(ENDPOINT_PATH, UwlrEndpoint(sandbox).handle, methods=["GET", "POST"]),
        *_api_routes(sandbox),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
