"""The backoff after failed syncs, as the dashboard card and the API show it (any engine: SQLite here).

The schedule leaves a (tenant, target) alone for backoff_initial · backoff_factor^(failures − 1), at most
backoff_max (the target's [schedule] in koppel.toml), after its latest failed sync; the card says so in the page's language, the API's overview gives
``backoff: {failures, until}``, and the next run shown is the backoff's end. A done sync ends it.
"""

from __future__ import annotations

import datetime as dt

from koppel.service.clock import ManualClock, iso
from koppel.service.queue import RequestKind, RequestStatus, Trigger
from tests.service.conftest import PASSWORD as WEB_PASSWORD
from tests.service.conftest import TARGET, TENANT, USER, Running, bestuur, config_text, login, setup

__all__ = ["bestuur", "setup"]  # the service tests' fixtures, used here

SCHEDULE = f"""
[tenants.{TENANT}.targets.{TARGET}.schedule]
enabled = true
interval = "5m"
timezone = "UTC"
backoff_initial = "10m"
backoff_max = "30m"
"""


def test_failed_syncs_push_the_schedule_out_and_the_card_and_the_api_say_until_when(setup):
    setup.config.write_text(config_text(state_url="sqlite:///koppel-state.db", schedule=SCHEDULE),
                            encoding="utf-8")
    start = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    clock = ManualClock(start)
    service = setup.open(clock=clock)
    service.accounts.add_user(USER, WEB_PASSWORD)
    try:
        service.scheduler.start()
        for n in range(1, 4):
            [request] = service.scheduler.tick()
            assert service.queue.claim(request.id)
            service.queue.finish(request.id, RequestStatus.FAILED, message="the LAS did not answer")
            held = service.queue.backoff_of(TENANT, TARGET)
            assert held is not None and held.failures == n
            assert held.until == clock() + dt.timedelta(seconds=min(1800, 600 * 2 ** (n - 1)))  # 10, 20, 30 min
            assert service.scheduler.next_run(TENANT, TARGET) == held.until
            clock.set(held.until - dt.timedelta(seconds=1))
            assert service.scheduler.tick() == []  # still backing off (the 5-minute schedule is due)
            clock.set(held.until)
        card = service.dashboard.card(TENANT, TARGET)
        assert card.backoff == {"failures": 3, "until": iso(clock())}
        assert card.next_run == iso(clock())
        with Running(service, run_scheduler=False) as running:
            client = running.client()
            assert login(client, USER, WEB_PASSWORD).status_code == 303
            dutch = client.get(f"/targets/{TENANT}/{TARGET}").text
            assert "Mislukt op rij: 3. Het rooster wacht tot" in dutch
            client.get("/language/en")
            assert "Failed in a row: 3. The schedule waits until" in client.get(f"/targets/{TENANT}/{TARGET}").text
            token = service.accounts.create_token("monitoring")
            overview = running.client().get("/api/overview", headers={"Authorization": f"Bearer {token}"})
            assert overview.status_code == 200, overview.text
            [api_card] = overview.json()["tenants"][0]["targets"]
            assert api_card["backoff"] == {"failures": 3, "until": iso(clock())}
            # "nu synchroniseren" is not held back; a sync that is done ends the backoff
            now = service.queue.enqueue(TENANT, TARGET, kind=RequestKind.SYNC, trigger=Trigger.MANUAL, by=USER)
            assert now.status is RequestStatus.QUEUED
            assert service.queue.claim(now.id)
            service.queue.finish(now.id, RequestStatus.DONE)
            assert service.queue.backoff_of(TENANT, TARGET) is None
            assert "Mislukt op rij" not in client.get(f"/targets/{TENANT}/{TARGET}").text
    finally:
        service.close()
