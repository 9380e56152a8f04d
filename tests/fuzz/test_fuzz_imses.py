"""Fuzzing what koppel reads from itslearning: IMS Enterprise Services SOAP responses.

Arbitrary bytes, and itslearning's known response shapes mutated byte by byte, go through the same
functions the target uses — :func:`parse_response`, then the per-item statuses and their results,
and the readers of persons, groups and memberships — and through :class:`ImsClient` over an HTTP
transport with any status, ``Retry-After`` and ``Content-Encoding``. The outcome is a value or one of
koppel's own errors (:class:`KoppelError`): no other exception, no hang (the deadline), no memory
blow-up (libxml2's limits stay on, inputs are bounded). Parsing is pure: the request sent is the
request built, and nothing is kept between answers.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from koppel.errors import KoppelError, TransientTargetError
from koppel.http import retry_after_seconds
from koppel.model.change import ItemOutcome
from koppel.retry import RetryPolicy
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.requests import build_request
from koppel.targets.itslearning.responses import (
    item_statuses,
    parse_response,
    read_all_persons_result,
    read_group_result,
    read_groups_result,
    read_memberships_result,
    read_person_result,
    read_persons_result,
)
from koppel.targets.itslearning.values import (
    ImsGroup,
    ImsPerson,
    Operation,
    PersonPage,
    RequestHeader,
    Service,
)

RESPONSES = Path(__file__).resolve().parents[1] / "target_itslearning" / "responses"
SEEDS = [path.read_bytes() for path in sorted(RESPONSES.iterdir()) if path.is_file()]
EXAMPLES = int(os.environ.get("KOPPEL_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=dt.timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INSERTS = [
    b"<!DOCTYPE Envelope>",
    b'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b"&x;",
    b"&#0;",
    b"\xe2\x80\xae",
    b"<statusInfo><codeMajor>Failure</codeMajor></statusInfo>",
    b"<statusInfoSet/>",
    b"<codeMajor>success</codeMajor>",
    b"<codeMajor>processing</codeMajor>",
    b"<codeMinorValue>targetisbusy</codeMinorValue>",
    b"<virtualCount>99999999999999999999999999</virtualCount>",
    b"<virtualCount>-1</virtualCount>",
    b"<virtualCount>" + b"9" * 5000 + b"</virtualCount>",
    b"<s:Fault><faultcode>s:Client</faultcode></s:Fault>",
    b"<faultcode>wsse:FailedAuthentication</faultcode>",
    b"<faultcode>a:b:c:</faultcode>",
    b"<person/>",
    b"<personIdPair><person/></personIdPair>",
    b"<membershipIdPair><membership><member/></membership></membershipIdPair>",
    b"<relationship><relation>Parent</relation></relationship>",
    b"<a>" * 300,
    b"<",
    b"x" * 3000,
    b'xmlns="urn:x"',
    b"xmlns:s=''",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 5))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "insert", "flip", "delete", "truncate"]))
        if operation == "insert":
            data[position:position] = draw(st.sampled_from(INSERTS) | st.binary(max_size=12))
        elif operation == "flip" and data:
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        else:
            del data[position:]
    if draw(st.integers(0, 6)) == 0:
        return bytes(data).decode("utf-8", "replace").encode("utf-16")
    return bytes(data)


ANSWERS = st.one_of(mutated(), st.binary(max_size=1500))
CONFIG = mapping.MappingConfig(site_root="site")


def _results(raw: bytes, expected: int) -> None:
    """Everything the target derives from one answer; koppel's errors are fine, nothing else is."""
    try:
        response = parse_response(raw)
    except KoppelError:
        return
    ids = [f"id-{n}" for n in range(expected)]
    prepared = mapping.Prepared(key="person:1", wire_id="1")
    for operation in (Operation.CREATE_PERSONS, Operation.DELETE_PERSONS):
        try:
            statuses = item_statuses(response, expected, operation=operation)
        except KoppelError:
            continue
        assert len(statuses) == expected
        for status in statuses:
            result = mapping.item_result(prepared, status, deleting=operation is Operation.DELETE_PERSONS)
            assert result.outcome in ItemOutcome
    readers = (
        lambda: read_person_result(response),
        lambda: read_persons_result(response, ids),
        lambda: read_group_result(response),
        lambda: read_groups_result(response, ids),
        lambda: read_all_persons_result(response),
        lambda: read_memberships_result(response),
    )
    for read in readers:
        try:
            found = read()
        except KoppelError:
            continue
        _to_attrs(found)


def _to_attrs(found: object) -> None:
    """Read objects as reconcile and takeover read them."""
    resolve = str
    if isinstance(found, ImsPerson):
        mapping.person_attrs(found, resolve, CONFIG)
    elif isinstance(found, ImsGroup):
        mapping.group_attrs(found, resolve, CONFIG)
    elif isinstance(found, dict):
        for value in found.values():
            _to_attrs(value)
    elif isinstance(found, PersonPage):
        for _, person in found.persons:
            mapping.person_attrs(person, resolve, CONFIG)
    elif isinstance(found, tuple):
        for _, membership in found:
            mapping.membership_attrs(membership, resolve, CONFIG)


@FUZZ
@given(raw=ANSWERS, expected=st.integers(1, 4))
def test_responses_become_results_or_koppel_errors(raw: bytes, expected: int) -> None:
    _results(raw, expected)


HEADER_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
    st.sampled_from(
        ["5", "0", "-1", "²", "9" * 400, "1e9", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999"]
    ),
)


@FUZZ
@given(
    raw=ANSWERS,
    status=st.sampled_from([200, 200, 200, 400, 401, 404, 408, 413, 429, 500, 503, 302]),
    retry_after=st.none() | HEADER_VALUES,
    encoding=st.sampled_from([None, None, "gzip", "deflate", "identity", "x-unknown"]),
)
@example(raw=SEEDS[0], status=200, retry_after=None, encoding="gzip")  # was an httpx.DecodingError
@example(raw=b"", status=503, retry_after="\xb2", encoding=None)  # "²".isdigit(): was a ValueError
@example(raw=b"", status=429, retry_after="9" * 400, encoding=None)  # was inf: a budget paused for ever
def test_the_client_turns_every_answer_into_a_response_or_a_koppel_error(
    raw: bytes, status: int, retry_after: str | None, encoding: str | None
) -> None:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(
            status, headers=[(k, v.encode("latin-1")) for k, v in headers.items()], content=raw
        )

    request = build_request(
        Operation.DELETE_PERSONS, ["p1", "p2"], header=RequestHeader(message_id="m-1", credentials=None)
    )
    endpoints = dict.fromkeys(Service, "https://itslearning.example/ims")
    once = RetryPolicy(max_attempts=1)
    with ImsClient(
        endpoints, transport=httpx.MockTransport(answer), read_retry=once, sleep=lambda s: None
    ) as client:
        try:
            response = client.send(request)
        except TransientTargetError as exc:
            assert exc.retry_after is None or 0 <= exc.retry_after <= 3600
            response = None
        except KoppelError:
            response = None
    assert sent == [request.envelope]
    if response is not None:
        _results(raw, 2)


@FUZZ
@given(value=HEADER_VALUES)
@example(value="²")
@example(value="9" * 400)
@example(value="Fri, 31 Dec 9999 23:59:59 GMT")
def test_retry_after_is_a_bounded_number_of_seconds_or_none(value: str) -> None:
    seconds = retry_after_seconds(value, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert seconds is None or 0 <= seconds <= 3600
