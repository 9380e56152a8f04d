"""Approving from the dashboard (issue 12, items 5, 7 and 10): the approve button says what it will do and asks
once more; the approval itself checks the plan still waits, and says so in Dutch when not; "Nu synchroniseren"
twice queues one run; a run shows its phase and done/total while it works, and the lock in words; a run approved
on the dashboard is recorded as manual, not as the command line's."""

from __future__ import annotations

import html as htmllib
import re
import threading
from collections.abc import Iterator

import httpx
import pytest

from koppel.model.status import RunKind
from koppel.service import Service
from koppel.service.progress import Phase, ProgressBoard
from koppel.service.queue import RequestKind, RequestStatus, Trigger
from koppel.service.worker import Worker
from tests.conftest import chromium_path, need

from .conftest import PASSWORD, TARGET, TENANT, USER, Running, csrf_of, login


@pytest.fixture
def served(held_setup) -> Iterator[tuple[Running, httpx.Client, Service, str]]:
    """The app without its scheduler: what is queued stays queued until a test runs the worker."""
    _, service, plan_id = held_setup
    with Running(service, run_scheduler=False) as running:
        client = running.client()
        login(client)
        yield running, client, service, plan_id


def _text(page: str) -> str:
    body = page.split("<main", 1)[1]
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_approving_asks_once_more_with_the_counts_and_then_queues_one_approval(served):
    _, client, service, plan_id = served
    page = client.get(f"/plans/{plan_id}")
    # The plan page's button opens the question; it decides nothing itself.
    assert re.search(rf'<form method="get" action="/plans/{plan_id}/approve"', page.text)
    csrf = csrf_of(page.text)
    unconfirmed = client.post(f"/plans/{plan_id}/approve", data={"csrf": csrf})
    assert unconfirmed.status_code == 303 and unconfirmed.headers["location"] == f"/plans/{plan_id}/approve"
    assert service.queue.pending() == []
    question = client.get(f"/plans/{plan_id}/approve")
    assert question.status_code == 200
    text = _text(question.text)
    summary = service.koppel.store.plan_record(plan_id).summary
    assert f"Plan {plan_id} goedkeuren?" in text
    for action, word in (("suspend", "opschorten"), ("delete", "verwijderen")):
        assert summary[action] and re.search(rf"{summary[action]:,}".replace(",", "[.,]") + f" {word}", text)
    assert "aanmaken" not in text  # only what the plan does
    assert re.search(r"Daarvan zijn [\d.,]+ verwijderingen of opschortingen", text)
    form = re.search(r'<form method="post" action="/plans/[0-9a-f]+/approve".*?</form>', question.text, re.DOTALL)
    assert form and 'name="confirm" value="yes"' in form.group(0) and f'value="{csrf}"' in form.group(0)
    assert "Ja, goedkeuren en uitvoeren" in text and "Nee, terug naar het plan" in text
    # Yes: queued once, by this user, as a manual request.
    done = client.post(f"/plans/{plan_id}/approve", data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"/plans/{plan_id}?notice=approved"
    [queued] = service.queue.pending()
    assert (queued.kind, queued.plan_id, queued.requested_by, queued.trigger) == (
        RequestKind.APPROVE, plan_id, USER, Trigger.MANUAL)
    # Approved, the page no longer says the plan is held, and offers no second approval.
    after = _text(client.get(f"/plans/{plan_id}").text)
    assert "tegengehouden" not in after and "TEGENGEHOUDEN" not in after
    assert "goedgekeurd, in uitvoering" in after and "Goedkeuren en uitvoeren" not in after
    # The overview no longer lists it as waiting for approval.
    overview = client.get("/").text
    assert f'href="/plans/{plan_id}" class="held"' not in overview
    last_run = _text(overview).split("Laatste synchronisatie")[1].split("Volgende synchronisatie")[0]
    assert "tegengehouden" not in last_run and "goedgekeurd, in uitvoering" in last_run
    waiting = client.get("/plans").text.split("Wachten op goedkeuring")[1].split("Recente plannen")[0]
    assert plan_id not in waiting
    # Approving again (a second tab, a double click) is refused in Dutch and queues nothing.
    again = client.post(f"/plans/{plan_id}/approve", data={"csrf": csrf, "confirm": "yes"})
    assert again.status_code == 409
    assert f"Plan {plan_id} is al goedgekeurd door {USER} en wordt uitgevoerd" in _text(again.text)
    assert len(service.queue.pending()) == 1


def test_a_discarded_plan_cannot_be_approved_and_says_so_in_dutch(served):
    _, client, service, plan_id = served
    csrf = csrf_of(client.get(f"/plans/{plan_id}").text)
    assert client.post(f"/plans/{plan_id}/discard", data={"csrf": csrf}).status_code == 303
    refused = client.post(f"/plans/{plan_id}/approve", data={"csrf": csrf, "confirm": "yes"})
    assert refused.status_code == 409
    text = _text(refused.text)
    assert f"Plan {plan_id} wacht niet meer op goedkeuring (status: discarded)" in text
    assert "only a held plan" not in text
    assert client.get(f"/plans/{plan_id}/approve").status_code == 409
    assert service.queue.pending() == []


def test_run_now_twice_queues_one_run_and_says_one_is_already_queued(served):
    _, client, service, _ = served
    csrf = csrf_of(client.get("/").text)
    first = client.post(f"/targets/{TENANT}/{TARGET}/run", data={"csrf": csrf})
    assert first.headers["location"].endswith("?notice=enqueued")
    second = client.post(f"/targets/{TENANT}/{TARGET}/run", data={"csrf": csrf})
    assert second.headers["location"].endswith("?notice=already_queued")
    assert len(service.queue.pending(TENANT, TARGET)) == 1
    assert "Er staat al een synchronisatie klaar" in _text(client.get(second.headers["location"]).text)
    # Also while it runs: a third click is that run.
    [request] = service.queue.pending(TENANT, TARGET)
    assert service.queue.claim(request.id)
    third = client.post(f"/targets/{TENANT}/{TARGET}/run", data={"csrf": csrf})
    assert third.headers["location"].endswith("?notice=already_queued")
    assert [r.id for r in service.queue.pending(TENANT, TARGET)] == [request.id]


class RecordingBoard(ProgressBoard):
    """A progress board that also keeps every snapshot the worker made (to see the phases go by)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int, int | None]] = []

    def _move(self, tenant: str, target: str, **changed: object) -> None:
        super()._move(tenant, target, **changed)
        current = self.get(tenant, target)
        if current is not None:
            self.seen.append((current.phase.value, current.done, current.total))


def test_a_dashboard_approval_runs_as_manual_and_reports_its_progress(served):
    _, client, service, plan_id = served
    csrf = csrf_of(client.get(f"/plans/{plan_id}").text)
    client.post(f"/plans/{plan_id}/approve", data={"csrf": csrf, "confirm": "yes"})
    [request] = service.queue.pending()
    board = RecordingBoard()
    worker = Worker(service.koppel, service.queue, settings=service.settings, notifier=None, plans=service.plans,
                    progress=board)
    assert service.queue.claim(request.id)
    result = worker.execute(service.queue.get(request.id), threading.Event())
    assert result.status is RequestStatus.DONE and result.run_id is not None
    run = service.koppel.store.run(result.run_id)
    assert run.trigger == "manual" and run.approved_by == USER
    total = sum(service.koppel.store.plan_record(plan_id).summary.values())
    assert board.seen and board.seen[-1] == (Phase.APPLYING.value, total, total)
    assert all(phase == "applying" for phase, _, _ in board.seen)
    assert board.get(TENANT, TARGET) is None  # done: off the board
    page = _text(client.get(f"/runs/{result.run_id}").text)
    assert "handmatig" in page and "opdrachtregel" not in page
    assert "uitgevoerd" in _text(client.get(f"/plans/{plan_id}").text)


def test_a_sync_reports_planning_then_applying(held_setup):
    _, service, _ = held_setup
    board = RecordingBoard()
    worker = Worker(service.koppel, service.queue, settings=service.settings, notifier=None, progress=board)
    request = service.queue.enqueue(TENANT, TARGET, kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by=USER)
    assert service.queue.claim(request.id)
    # The export still lacks half the pupils: the sync plans, holds, and applies nothing.
    worker.execute(service.queue.get(request.id), threading.Event())
    assert board.seen == [] and board.get(TENANT, TARGET) is None
    # Planning is on the board while the sync reads and plans, applying with the plan's size after it.
    board.start(TENANT, TARGET, 99, Phase.PLANNING)
    assert board.get(TENANT, TARGET).phase is Phase.PLANNING
    board.applying(TENANT, TARGET, total=40, plan_id="abc")
    board.advance(TENANT, TARGET, 10, 40)
    now = board.get(TENANT, TARGET)
    assert (now.phase, now.done, now.total, now.percent, now.plan_id) == (Phase.APPLYING, 10, 40, 25, "abc")
    board.finish(TENANT, TARGET, 98)  # another request's end leaves this one
    assert board.get(TENANT, TARGET) is not None
    board.finish(TENANT, TARGET, 99)
    assert board.get(TENANT, TARGET) is None


def test_a_running_run_shows_phase_done_and_total_live_and_the_lock_in_words(served):
    _, client, service, plan_id = served
    store = service.koppel.store
    csrf = csrf_of(client.get(f"/plans/{plan_id}").text)
    client.post(f"/plans/{plan_id}/approve", data={"csrf": csrf, "confirm": "yes"})
    [request] = service.queue.pending()
    assert service.queue.claim(request.id)
    # The worker's state halfway an apply: the lock taken, the run begun, the board moved.
    with store.lock(TENANT, TARGET, purpose="apply"):
        run_id = service.koppel.runs.begin(TENANT, TARGET, kind=RunKind.APPLY, trigger="manual", plan_id=plan_id,
                                           approved_by=USER)
        service.progress.start(TENANT, TARGET, request.id, Phase.APPLYING, plan_id=plan_id)
        service.progress.advance(TENANT, TARGET, 1000, 2009)
        run_page = client.get(f"/runs/{run_id}").text
        assert '<meta http-equiv="refresh" content="3">' in run_page
        text = _text(run_page)
        assert "Fase: wijzigingen doorvoeren" in text and re.search(r"1[.,]000 van 2[.,]009 wijzigingen \(49%\)", text)
        card = _text(client.get(f"/targets/{TENANT}/{TARGET}").text)
        assert re.search(r"1[.,]000 van 2[.,]009 wijzigingen", card)
        lock = store.current_lock(TENANT, TARGET)
        assert re.search(rf"Bezig sinds [^,]*\d\d:\d\d[^,]*, gestart door {USER} \(handmatig\)", card), card
        assert f"pid {lock.pid}" not in card and lock.acquired_at not in card
        plan = _text(client.get(f"/plans/{plan_id}").text)
        assert "goedgekeurd, in uitvoering" in plan and re.search(r"1[.,]000 van 2[.,]009", plan)
        # A run another process started (the command line) is its lock, in words.
        service.queue.finish(request.id, RequestStatus.DONE)
        service.progress.finish(TENANT, TARGET, request.id)
        other = _text(client.get(f"/targets/{TENANT}/{TARGET}").text)
        assert f"gestart door de opdrachtregel of een andere koppel (koppel apply op {lock.host}, proces {lock.pid})" \
            in other
        assert "wijzigingen doorvoeren" not in other
    assert "Bezig sinds" not in _text(client.get(f"/targets/{TENANT}/{TARGET}").text)


@pytest.mark.browser
@pytest.mark.slow
def test_approving_in_the_browser_asks_once_more_and_the_run_is_manual(held_setup):
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    if executable is None:
        need("Debian's chromium is not installed (apt-get install chromium)")
    _, service, plan_id = held_setup
    with Running(service) as running, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(locale="nl-NL", viewport={"width": 390, "height": 844})
        page.set_default_timeout(15_000)
        page.goto(running.url + f"/plans/{plan_id}")
        page.get_by_label("Gebruikersnaam").fill(USER)
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        expect(page.locator("h1")).to_contain_text("tegengehouden")
        page.get_by_role("button", name="Goedkeuren en uitvoeren…").click()
        expect(page.get_by_role("heading", name=f"Plan {plan_id} goedkeuren?")).to_be_visible()
        expect(page.locator("ul.will")).to_contain_text("opschorten")
        page.get_by_role("button", name="Ja, goedkeuren en uitvoeren").click()
        expect(page.locator("p.notice")).to_contain_text(f"Goedgekeurd door {USER}")
        expect(page.locator("h1")).not_to_contain_text("tegengehouden")
        for _ in range(60):  # the worker applies the plan; the page refreshes itself meanwhile
            if "uitgevoerd" in page.locator("h1").inner_text():
                break
            page.wait_for_timeout(250)
            page.reload()
        expect(page.locator("h1")).to_contain_text("uitgevoerd")
        page.get_by_role("link", name=re.compile(r"Synchronisatie \d+")).first.click()
        expect(page.locator("dl.facts")).to_contain_text("handmatig")
        browser.close()
