"""The sans-I/O parts, with bytes and values only: requests, answers, records, plaatsing and year choice."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from koppel.connectors import ConnectorContext, load_source_kind
from koppel.errors import SourceAuthError, SourceDataError, SourceError
from koppel.model import SchoolYear
from koppel.sources.base import Source
from koppel.sources.somtoday import KIND
from koppel.sources.somtoday.mapping import choose_plaatsing
from koppel.sources.somtoday.protocol import (
    Endpoint,
    Token,
    WireError,
    error_detail,
    page_request,
    parse_page,
    parse_token,
    token_request,
)
from koppel.sources.somtoday.settings import Peilschooljaar, SomtodaySettings
from koppel.sources.somtoday.source import read_year, select_vestigingen
from koppel.sources.somtoday.wire import Leerling, Plaatsing, Vestiging, parse_records

INSTELLING = "1349fac3-259a-44fd-a1f1-6fe5f8a2f39e"  # the organisation in the spec's own token URLs


def test_the_token_request_is_client_credentials_for_one_organisation() -> None:
    request = token_request("https://inloggen.somtoday.nl/oauth2/token", INSTELLING, "id", "s3cret")
    assert (request.method, request.url) == ("POST", "https://inloggen.somtoday.nl/oauth2/token")
    assert request.params == (("organisation", INSTELLING),)
    assert dict(request.form or ()) == {
        "grant_type": "client_credentials",
        "client_id": "id",
        "client_secret": "s3cret",
    }
    assert "s3cret" not in request.what


def test_a_page_request_carries_offset_amount_and_peilschooljaar() -> None:
    request = page_request(
        "https://api.somtoday.nl/rest/v1", Endpoint.LESGROEP, "v-uuid", "VOLGEND", 400, 200
    )
    assert request.url == "https://api.somtoday.nl/rest/v1/connect/vestiging/v-uuid/lesgroep/"
    assert dict(request.params) == {"offset": "400", "amount": "200", "peilschooljaar": "VOLGEND"}


def test_token_responses() -> None:
    token = parse_token(b'{"access_token":"abc","token_type":"Bearer","expires_in":3600}', now=100.0)
    assert token == Token("abc", 3700.0, 3600.0)
    assert token.fresh(3669.0) and not token.fresh(3671.0)  # renewed 30 s before the end
    assert parse_token(b'{"access_token":"abc"}', now=0).expires_at is None  # expires_in is optional
    short = parse_token(b'{"access_token":"abc","expires_in":"10"}', now=0)
    assert short.fresh(8.9) and not short.fresh(9.1)  # a tenth of a short lifetime
    for body in (b'{"token_type":"Bearer"}', b"[]", b"<html>", b'{"access_token":"x","token_type":"mac"}'):
        with pytest.raises(WireError):
            parse_token(body, now=0)


def test_pages() -> None:
    assert parse_page(b'{"leerlingen":[{"uuid":"a"}],"veldpermissies":{}}', "leerlingen", "x") == [
        {"uuid": "a"}
    ]
    assert parse_page(b"{}", "leerlingen", "x") == []  # null lists are left out of the JSON
    assert parse_page(b'{"leerlingen":null}', "leerlingen", "x") == []
    with pytest.raises(WireError, match="not valid JSON"):
        parse_page(b'{"leerlingen":[{"uu', "leerlingen", "x")
    with pytest.raises(WireError, match="not a list"):
        parse_page(b'{"leerlingen":{}}', "leerlingen", "x")
    with pytest.raises(WireError, match="not a Response object"):
        parse_page(b"[]", "leerlingen", "x")


def test_error_bodies() -> None:
    assert error_detail(b'{"code":400,"problem":"Ongeldig","clarification":"amount > 200"}') == (
        "Ongeldig: amount > 200 (code 400)"
    )
    assert error_detail(b'{"errors":[{"code":12,"problem":"Fout"}]}') == "Fout (code 12)"
    assert error_detail(b'{"error":"invalid_client","error_description":"nope"}') == "invalid_client - nope"
    assert error_detail(b"Service Unavailable") == "Service Unavailable"
    assert error_detail(b"") is None


def test_records_treat_every_field_as_optional() -> None:
    records, problems = parse_records(
        Leerling,
        [
            {"uuid": "a"},
            {"uuid": "b", "plaatsingen": None, "lesgroepen": [], "roepnaam": "  ", "leerlingnummer": "12"},
            {"uuid": "c", "leerlingnummer": "twaalf"},
            "not an object",
            {"uuid": "d", "plaatsingen": [{"startdatum": "2025-13-01"}]},
        ],
    )
    assert [r.uuid for r in records] == ["a", "b"]
    assert records[1].plaatsingen == [] and records[1].roepnaam is None and records[1].leerlingnummer == 12
    assert [(p.index, p.uuid) for p in problems] == [(2, "c"), (3, None), (4, "d")]
    assert "leerlingnummer" in problems[0].reason and "plaatsingen.0.startdatum" in problems[2].reason


def _plaatsing(year: str | None, start: str | None, end: str | None) -> Plaatsing:
    return Plaatsing.model_validate({"schooljaar": year, "startdatum": start, "einddatum": end})


def test_the_plaatsing_of_the_year_that_runs_on_the_reference_day_is_chosen() -> None:
    year = SchoolYear(2025)
    before = _plaatsing("2025/2026", "2025-08-01", "2025-12-31")
    after = _plaatsing("2025/2026", "2026-01-01", "2026-07-31")
    next_year = _plaatsing("2026/2027", "2026-08-01", "2027-07-31")
    both = [next_year, after, before]
    assert choose_plaatsing(both, year, dt.date(2025, 10, 1)) is before
    assert choose_plaatsing(both, year, dt.date(2026, 2, 1)) is after
    assert choose_plaatsing(both, year.next(), year.next().start) is next_year
    assert choose_plaatsing([after], year, dt.date(2025, 10, 1)) is after  # starts later this year
    assert choose_plaatsing([next_year], year, dt.date(2025, 10, 1)) is None
    undated = _plaatsing(None, None, None)
    assert choose_plaatsing([undated], year, dt.date(2025, 10, 1)) is undated  # veldpermissies hid the dates
    assert choose_plaatsing([], year, dt.date(2025, 10, 1)) is None


def test_the_year_koppel_asks_for_maps_onto_huidig_or_volgend() -> None:
    today = dt.date(2025, 10, 1)
    auto = Peilschooljaar.AUTO
    assert read_year(None, auto, today).peilschooljaar is Peilschooljaar.HUIDIG
    volgend = read_year(SchoolYear(2026), auto, today)
    assert (volgend.peilschooljaar, volgend.reference) == (Peilschooljaar.VOLGEND, dt.date(2026, 8, 1))
    assert read_year(None, Peilschooljaar.VOLGEND, today).year == SchoolYear(2026)
    with pytest.raises(SourceError, match="cannot deliver 2024-2025"):
        read_year(SchoolYear(2024), auto, today)
    with pytest.raises(
        SourceError, match="peilschooljaar = HUIDIG reads 2025-2026, but koppel asks for 2026-2027"
    ):
        read_year(SchoolYear(2026), Peilschooljaar.HUIDIG, today)


def _settings(**values: object) -> SomtodaySettings:
    return SomtodaySettings(instelling=INSTELLING, client_id="c", client_secret_env="X", **values)


def test_vestigingen_are_chosen_with_their_brin6() -> None:
    available = [
        Vestiging.model_validate(v)
        for v in (
            {"uuid": "11111111-1111-1111-1111-111111111111", "naam": "Noord", "brins": ["12AB00", "12AB01"]},
            {
                "uuid": "22222222-2222-2222-2222-222222222222",
                "naam": "Zuid",
                "externalidentifiers": [{"brinnr": "34CD00"}],
            },
            {"uuid": "33333333-3333-3333-3333-333333333333", "naam": "Leeg"},
        )
    ]
    chosen = select_vestigingen(available, _settings(brins=["12AB01", "34CD00"]), "som")
    assert [(v.naam, v.brin6) for v in chosen] == [("Noord", "12AB01"), ("Zuid", "34CD00")]
    with pytest.raises(SourceDataError, match=r"Leeg \(3333.*\) has no BRIN6 .*; set vestiging_brin6"):
        select_vestigingen(available, _settings(), "som")
    mapped = _settings(
        vestigingen=["33333333-3333-3333-3333-333333333333"],
        vestiging_brin6={"33333333-3333-3333-3333-333333333333": "56EF00"},
    )
    assert [v.brin6 for v in select_vestigingen(available, mapped, "som")] == ["56EF00"]
    with pytest.raises(SourceAuthError, match="opened no vestiging"):
        select_vestigingen([], _settings(), "som")


def test_settings_are_checked_when_loaded() -> None:
    with pytest.raises(ValidationError, match="exactly one of client_secret_env or client_secret_file"):
        SomtodaySettings(instelling=INSTELLING, client_id="c")
    with pytest.raises(ValidationError, match="not a UUID"):
        _settings(vestigingen=["vestiging-noord"])
    with pytest.raises(ValidationError, match="not BRIN6"):
        _settings(brins=["12AB"])
    with pytest.raises(ValidationError, match="less than or equal to 200"):
        _settings(page_size=500)
    with pytest.raises(ValidationError, match="without query string"):
        _settings(token_url=f"https://inloggen.somtoday.nl/oauth2/token?organisation={INSTELLING}")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        _settings(client_secret="inline")
    assert _settings().client_secret_ref().describe() == "env:X"
    assert all(f.description for f in SomtodaySettings.model_fields.values())


def test_registered_as_somtoday() -> None:
    kind = load_source_kind("somtoday")
    assert kind is KIND and kind.settings is SomtodaySettings
    source = kind.factory("som", _settings(), ConnectorContext(tenant="t"))
    assert isinstance(source, Source) and source.name == "som"
