"""Values Somtoday may send but koppel does not accept, through the sandbox over HTTP: a name of megabytes,
control and bidi characters. The record is left out and named (``field-too-long``, ``bad-character``);
the rest is read."""

from __future__ import annotations

import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from koppel.errors import SourceDataError
from koppel.generator import Bestuur
from koppel.model.roster import PersonKind, Severity
from koppel.sandbox.somtoday import SandboxServer
from koppel.sources.somtoday.protocol import error_detail
from koppel.sources.somtoday.wire import Leerling, parse_records

from .conftest import StartSandbox, make_source


def _with(
    bestuur: Bestuur,
    *,
    pupil: dict[str, str] | None = None,
    teacher: dict[str, str] | None = None,
    lesgroep: dict[str, str] | None = None,
) -> Bestuur:
    pupils, teachers, lesgroepen = list(bestuur.pupils), list(bestuur.teachers), list(bestuur.lesgroepen)
    if pupil:
        pupils[0] = dataclasses.replace(pupils[0], **pupil)
    if teacher:
        teachers[0] = dataclasses.replace(teachers[0], **teacher)
    if lesgroep:
        lesgroepen[0] = dataclasses.replace(lesgroepen[0], **lesgroep)
    return dataclasses.replace(
        bestuur, pupils=tuple(pupils), teachers=tuple(teachers), lesgroepen=tuple(lesgroepen)
    )


def test_a_nine_megabyte_name_leaves_the_pupil_out(
    start_sandbox: StartSandbox, small_bestuur: tuple[Bestuur, Bestuur]
) -> None:
    current = small_bestuur[0]
    hostile = _with(current, pupil={"achternaam": "x" * 9_000_000})
    with start_sandbox(current=hostile, following=None) as sandbox:
        roster = make_source(sandbox).read()
    pupils = [p for p in roster.persons.values() if p.kind is PersonKind.STUDENT]
    assert len(pupils) == len(current.pupils) - 1
    assert current.pupils[0].stamnr not in {p.leerlingnummer for p in pupils}
    (diagnostic,) = [d for d in roster.diagnostics if d.code == "field-too-long"]
    assert (diagnostic.severity, diagnostic.field) == (Severity.ERROR, "achternaam")
    assert diagnostic.object is not None and "/leerling/" in diagnostic.object
    assert "achternaam: is 9,000,000 characters long, more than the 200 koppel accepts for a name" in (
        diagnostic.message
    )
    assert "has a value koppel does not accept" in diagnostic.message


def test_control_and_bidi_characters_leave_their_records_out(
    start_sandbox: StartSandbox, small_bestuur: tuple[Bestuur, Bestuur]
) -> None:
    current = small_bestuur[0]
    hostile = _with(
        current,
        pupil={"roepnaam": "Sem\u202e"},
        teacher={"achternaam": "de Vries\x1b[2J"},
        lesgroep={"name": "4h\u2066ne"},
    )
    with start_sandbox(current=hostile, following=None) as sandbox:
        roster = make_source(sandbox).read()
    bad = sorted(
        (d.field, d.object.split("/")[4] if d.object else None)
        for d in roster.diagnostics
        if d.code == "bad-character"
    )
    assert bad == [("achternaam", "medewerker"), ("naam", "lesgroep"), ("roepnaam", "leerling")]
    names = {p.display_name for p in roster.persons.values()}
    assert not any("\u202e" in n or "\x1b" in n for n in names)
    assert not any("\u2066" in g.name for g in roster.groups.values())


def test_a_bad_uuid_is_not_repeated_in_the_message() -> None:
    records, problems = parse_records(Leerling, [{"uuid": "u" * 300, "achternaam": "Jansen"}, {"uuid": "ok"}])
    assert [r.uuid for r in records] == ["ok"]
    (problem,) = problems
    assert (problem.code, problem.field, problem.uuid) == ("field-too-long", "uuid", None)


def test_an_error_body_is_bounded_and_shown_safely() -> None:
    detail = error_detail(b'{"problem": "\\u001b[31mrood' + b"x" * 10_000 + b'", "code": 400}')
    assert detail is not None and len(detail) < 400 and "\x1b" not in detail


class _BrokenEncoding(BaseHTTPRequestHandler):
    """A token for anyone; then every page says gzip and is not."""

    def do_POST(self) -> None:
        self._send(b'{"access_token": "t", "token_type": "Bearer", "expires_in": 3600}', {})

    def do_GET(self) -> None:
        self._send(b'{"leerlingen": []}', {"Content-Encoding": "gzip"})

    def _send(self, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_a_body_that_does_not_follow_its_content_encoding(small_sandbox: SandboxServer) -> None:
    """httpx raises its own DecodingError for such a body; the source says what it means instead."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BrokenEncoding)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(SourceDataError, match="GET /connect/vestiging: the answer cannot be decoded"):
            make_source(small_sandbox, api_url=f"{url}/rest/v1", token_url=f"{url}/oauth2/token").read()
    finally:
        server.shutdown()
        server.server_close()
