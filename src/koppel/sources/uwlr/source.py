"""The UWLR source: one ``HaalLeerlinggegevens`` per school, one Roster for all of them, or an error.

``read()`` is all-or-nothing (DESIGN §1, §7). Every secret is resolved before the first request,
so a missing sleutel is a configuration error, not a half-done read. Then each school is fetched
in turn; the first school that fails — a fault, an HTTP error, a timeout, an answer that is not
well-formed or declares entities, an answer for another school or school year, an answer
without pupils — stops the read with the error that says what to do, naming the school. Only when
every school has answered completely are the answers mapped (:mod:`koppel.sources.edexml.mapping`)
into one Roster.

The school year asked for is the one koppel asks for (``ConnectorContext.school_year``), else the
``school_year`` setting, else the year containing today. The answer's ``schooljaar`` is read as
any ``YYYY-YYYY`` — never checked against the public schema's enumeration, which ends at 2024-2025.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog
from lxml import etree

from koppel.connectors import ConnectorContext
from koppel.errors import SourceDataError
from koppel.model.roster import Roster, SchoolYear
from koppel.sources.builder import gc_paused
from koppel.sources.edexml.mapping import (
    MappingOptions,
    Origin,
    RosterAssembler,
    document_school_year,
    school_brin6,
)
from koppel.sources.edexml.model import EdexDocument
from koppel.sources.edexml.parse import EdexmlStructureError, read_document
from koppel.sources.uwlr.client import TlsFiles, UwlrClient
from koppel.sources.uwlr.messages import (
    Autorisatie,
    LeerlinggegevensVerzoek,
    SoapRequest,
    build_request,
    read_answer,
)
from koppel.sources.uwlr.settings import UwlrSchool, UwlrSettings

__all__ = ["UwlrSource"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _SchoolRequest:
    school: UwlrSchool
    request: SoapRequest


class UwlrSource:
    """A source reading one or more schools from a LAS's UWLR service (see :class:`UwlrSettings`)."""

    def __init__(
        self,
        name: str,
        settings: UwlrSettings,
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

    @property
    def school_year(self) -> SchoolYear:
        """The school year requested: koppel's, else the setting, else the year containing today."""
        return self.ctx.school_year or self.settings.fixed_school_year or SchoolYear.containing(self._today())

    def read(self) -> Roster:
        year = self.school_year
        planned = self._requests(year)
        with self._client() as client, gc_paused():
            documents = [(item.school, self._fetch(client, item, year)) for item in planned]
            return self._assemble(documents, year)

    # -- requests ------------------------------------------------------------------------------

    def _requests(self, year: SchoolYear) -> list[_SchoolRequest]:
        settings = self.settings
        planned = []
        for school in settings.schools:
            sleutel = self.ctx.secret(settings.sleutel_ref(school), setting=settings.sleutel_setting(school))
            autorisatie = Autorisatie(sleutel, settings.klantcode, settings.klantnaam)
            verzoek = LeerlinggegevensVerzoek.for_school(
                school.brin6,
                year,
                schoolkey=school.schoolkey,
                xsdversie=settings.effective_xsdversie,
                gegevenssetid=settings.effective_gegevenssetid,
            )
            planned.append(_SchoolRequest(school, build_request(autorisatie, verzoek)))
        return planned

    def _client(self) -> UwlrClient:
        settings = self.settings
        password = None
        if settings.key_password_ref is not None:
            password = self.ctx.secret(settings.key_password_ref, setting="client_key_password")
        tls = TlsFiles(
            ca_file=self._file(settings.ca_file),
            client_cert_file=self._file(settings.client_cert_file),
            client_key_file=self._file(settings.client_key_file),
            client_key_password=password,
        )
        return UwlrClient(
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            tls=tls,
            max_bytes=settings.max_response_mb * 2**20,
            transport=self._transport,
        )

    def _file(self, value: str | None) -> str | None:
        return str(self.ctx.path(value)) if value else None

    # -- one school ----------------------------------------------------------------------------

    def _fetch(self, client: UwlrClient, item: _SchoolRequest, year: SchoolYear) -> EdexDocument:
        brin6 = item.school.brin6
        answer = client.post(self.settings.url, item.request, school=brin6, source=self.name)
        content = read_answer(answer.status, answer.body, school=brin6, source=self.name)
        document = self._document(content, brin6, year)
        log.info(
            "uwlr.school",
            source=self.name,
            school=brin6,
            school_year=str(year),
            bytes=len(answer.body),
            leerlingen=len(document.leerlingen),
            leerkrachten=len(document.leerkrachten),
            groepen=len(document.groepen),
        )
        return document

    def _document(self, content: etree._Element, brin6: str, year: SchoolYear) -> EdexDocument:
        """The answer read and checked: for this school, for this year, with pupils."""
        try:
            document = read_document(content)
            answered_year = document_school_year(document.school)
            answered_school = school_brin6(document.school) if document.school.brincode else brin6
        except EdexmlStructureError as exc:
            raise SourceDataError(f"school {brin6}: {exc}", source=self.name) from None
        if answered_school != brin6:
            raise SourceDataError(
                f"asked for school {brin6}, the LAS answered for {answered_school}; check the "
                "school list and its autorisatiesleutels",
                source=self.name,
            )
        if answered_year is not None and answered_year != year:
            raise SourceDataError(
                f"school {brin6}: asked for school year {year}, the LAS answered for "
                f"{answered_year} (it may not serve {year} yet)",
                source=self.name,
            )
        if not document.leerlingen and not document.problems:
            raise SourceDataError(
                f"school {brin6}: the LAS answered without any leerling for {year}; an empty "
                "answer is never read as 'everyone left'",
                source=self.name,
            )
        return document

    # -- the roster ----------------------------------------------------------------------------

    def _assemble(self, documents: list[tuple[UwlrSchool, EdexDocument]], year: SchoolYear) -> Roster:
        options = MappingOptions(self.name, self.settings.key_scope, self.settings.rollen)
        assembler = RosterAssembler(options, year)
        for school, document in documents:
            if not assembler.add(document, Origin(school.brin6, None, school.name)):
                raise SourceDataError(
                    f"school {school.brin6}: no leerling in the answer could be read "
                    f"({assembler.last_problems()}); an empty answer is never read as "
                    "'everyone left'",
                    source=self.name,
                )
        return assembler.build(kind="uwlr", location=self.settings.url)
