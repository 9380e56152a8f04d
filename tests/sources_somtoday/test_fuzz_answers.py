"""Fuzzing the Somtoday source: token, vestiging and page answers of any JSON (or none), over HTTP.

Every answer goes through the source as it reads Somtoday — the client, the protocol's parsers, the
record models and the mapping — by an httpx transport that answers in Somtoday's place. The outcome
is a Roster or one of koppel's own errors (:class:`KoppelError`): no other exception, no hang (the
deadline), no memory blow-up (inputs are bounded), and a roster that is read carries no name that
:func:`koppel.textsafe.field_problem` refuses. ``KOPPEL_FUZZ_EXAMPLES`` sets the examples per test.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from koppel.connectors import ConnectorContext
from koppel.errors import KoppelError
from koppel.model.roster import SchoolYear
from koppel.sources.somtoday import SomtodaySettings, SomtodaySource
from koppel.sources.somtoday.protocol import WireError, error_detail, parse_page, parse_token
from koppel.textsafe import field_problem

YEAR = SchoolYear(2025)
TODAY = dt.date(2025, 10, 1)
API = "https://somtoday.example/rest/v1"
TOKEN = "https://somtoday.example/oauth2/token"
INSTELLING = "11111111-2222-3333-4444-555555555555"
EXAMPLES = int(os.environ.get("KOPPEL_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=dt.timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VESTIGING = {"uuid": "v1", "naam": "De School", "brins": ["99ZZ00"]}
PAGES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "leerling": (
        "leerlingen",
        [
            {
                "uuid": "l1",
                "roepnaam": "Sem",
                "achternaam": "Jansen",
                "leerlingnummer": 1,
                "plaatsingen": [
                    {
                        "schooljaar": "2025/2026",
                        "startdatum": "2025-08-01",
                        "leerjaar": 1,
                        "stamgroep": {"uuid": "s1", "naam": "1A"},
                        "mentoren": [{"medewerker_uuid": "m1", "toewijzing": "EersteMentorStamgroep"}],
                    }
                ],
                "lesgroepen": [{"uuid": "g1", "naam": "1a-ne"}],
            },
            {"uuid": "l2", "roepnaam": "Noëlle", "achternaam": "de Vries", "lesgroepen": [{"uuid": "g1"}]},
        ],
    ),
    "medewerker": (
        "medewerkers",
        [{"uuid": "m1", "achternaam": "Smit", "afkorting": "SMI", "lesgroepen": [{"uuid": "g1"}]}],
    ),
    "lesgroep": (
        "lesgroepen",
        [
            {
                "uuid": "g1",
                "naam": "1a-ne",
                "schooljaar": "2025/2026",
                "vak": "ne",
                "leerlingen": [{"uuid": "l1"}],
                "docenten": ["m1"],
            }
        ],
    ),
    "stamgroep": (
        "stamgroepen",
        [
            {
                "uuid": "s1",
                "naam": "1A",
                "leerlingen": [{"uuid": "l2"}],
                "mentoren": [{"medewerker_uuid": "m1"}],
            }
        ],
    ),
}

TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "\u202e", "\x00", "\x1b[2J", "Ã«", "2025/2026", "2025-08-01", "v1", "g1", "m1"]
    ),
    st.integers(150, 400).map(lambda n: "x" * n),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def record(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """``base`` with a few fields replaced by any JSON (or a whole other value, now and then)."""
    if draw(st.integers(0, 30)) == 0:
        return draw(JSON)
    edited = dict(base)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        edited[draw(st.sampled_from([*base, "uuid", "naam", "extra"]))] = draw(JSON)
    return edited


@st.composite
def answer(draw: st.DrawFn, key: str, records: list[dict[str, Any]], broken: bool) -> tuple[int, bytes]:
    """(status, body) of one page: the records with a few values replaced by any JSON; when ``broken``,
    also another status, a cut-off body, bytes that are not JSON or JSON of another shape."""
    items = [draw(record(r)) for r in records] + draw(st.lists(JSON, max_size=1) if broken else st.just([]))
    body = orjson.dumps({key: items}, option=orjson.OPT_NON_STR_KEYS)
    if not broken:
        return 200, body
    shape = draw(st.integers(0, 4))
    if shape == 0:
        body = body[: draw(st.integers(0, len(body)))]
    elif shape == 1:
        body = draw(st.binary(max_size=60))
    elif shape == 2:
        body = orjson.dumps(draw(JSON), option=orjson.OPT_NON_STR_KEYS)
    return draw(st.sampled_from([200, 200, 200, 400, 401, 403, 404, 500, 503, 302])), body


@st.composite
def somtoday(draw: st.DrawFn) -> dict[str, tuple[int, bytes]]:
    """Every answer of one read; at most one of them broken beyond its values."""
    broken = draw(st.sampled_from([None, None, None, "token", "vestiging", *PAGES]))
    token = b'{"access_token": "t", "token_type": "Bearer", "expires_in": 3600}'
    answers = {
        "token": (200, token),
        "vestiging": draw(answer("vestigingen", [VESTIGING], broken == "vestiging")),
    }
    if broken == "token":
        answers["token"] = (
            draw(st.sampled_from([200, 200, 400, 401, 500])),
            orjson.dumps(draw(JSON), option=orjson.OPT_NON_STR_KEYS),
        )
    for path, (key, records) in PAGES.items():
        answers[path] = draw(answer(key, records, broken == path))
    return answers


def _transport(answers: dict[str, tuple[int, bytes]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/oauth2/token"):
            status, body = answers["token"]
        elif path.endswith("/connect/vestiging"):
            status, body = answers["vestiging"]
        else:
            entity = path.rstrip("/").rsplit("/", 1)[1]
            status, body = answers[entity]
            if request.url.params.get("offset", "0") != "0":
                body = b"{}"  # one page only: the next is empty
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handle)


@FUZZ
@given(answers=somtoday())
def test_any_answers_become_a_roster_or_a_koppel_error(answers: dict[str, tuple[int, bytes]]) -> None:
    settings_ = SomtodaySettings(
        instelling=INSTELLING,
        client_id="koppel",
        client_secret_env="SECRET",
        api_url=API,
        token_url=TOKEN,
        max_attempts=1,
        retry_backoff_s=0,
    )
    ctx = ConnectorContext(tenant="fuzz", env={"SECRET": "s"}, school_year=YEAR)
    source = SomtodaySource("som", settings_, ctx, today=lambda: TODAY, transport=_transport(answers))
    try:
        roster = source.read()
    except KoppelError as exc:
        event(type(exc).__name__)
        return
    event("roster")
    for person in roster.persons.values():
        for value in (person.roepnaam, person.voorvoegsel, person.achternaam):
            assert field_problem(value, "name") is None, (person.key, value[:80])
    for group in roster.groups.values():
        assert field_problem(group.name, "name") is None or group.name == group.las_key


@FUZZ
@given(
    body=st.binary(max_size=300) | st.builds(lambda v: orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS), JSON)
)
def test_the_protocol_parsers_answer_values_or_wire_errors(body: bytes) -> None:
    """The pure parsers the client relies on: a value or a WireError (which the client turns into koppel's)."""
    for parse in (lambda: parse_token(body, 0.0), lambda: parse_page(body, "leerlingen", "GET /x")):
        try:
            parse()
        except WireError:
            pass
    detail = error_detail(body)
    assert detail is None or len(detail) <= 301
