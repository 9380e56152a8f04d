"""When runs fire: the pure schedule rules, and the scheduler driven by an injected clock.

Times are Europe/Amsterdam unless said otherwise; 2026-03-02 is a Monday (winter time, UTC+1).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from koppel.config import ScheduleSettings
from koppel.service.clock import ManualClock
from koppel.service.queue import RequestKind, Trigger
from koppel.service.schedule import Pause, Schedule, ScheduleError, Window, parse_interval

from .conftest import TARGET, TENANT, Setup, config_text

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=AMS)


def schedule(**settings) -> Schedule:
    return Schedule.from_settings(ScheduleSettings(enabled=True, **settings))


# -- the pure rules -------------------------------------------------------------------------------


def test_windows_cross_midnight():
    night = Window.parse("22:00-06:00")
    assert night.contains(dt.time(23, 59)) and night.contains(dt.time(0, 0)) and night.contains(dt.time(5, 59))
    assert not night.contains(dt.time(6, 0)) and not night.contains(dt.time(21, 59))
    day = Window.parse("08:30-17:00")
    assert day.contains(dt.time(8, 30)) and not day.contains(dt.time(17, 0))


def test_pauses_are_inclusive_and_may_cross_new_year():
    summer = Pause.parse("07-10..08-15")
    assert summer.contains(dt.date(2026, 7, 10)) and summer.contains(dt.date(2026, 8, 15))
    assert not summer.contains(dt.date(2026, 8, 16)) and not summer.contains(dt.date(2026, 7, 9))
    christmas = Pause.parse("12-20..01-04")
    assert christmas.contains(dt.date(2026, 12, 31)) and christmas.contains(dt.date(2027, 1, 4))
    assert not christmas.contains(dt.date(2027, 1, 5))


@pytest.mark.parametrize("text,seconds", [("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 604800)])
def test_intervals(text, seconds):
    assert parse_interval(text).total_seconds() == seconds


@pytest.mark.parametrize("settings,setting", [
    ({"interval": "soms"}, "interval"),
    ({"interval": "30s"}, "interval"),
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "0 * * * *", "interval": "1h"}, "cron"),
    ({}, "interval"),
    ({"cron": "0 * * * *", "windows": ["22:00-22:00"]}, "windows"),
    ({"cron": "0 * * * *", "windows": ["25:00-06:00"]}, "windows"),
    ({"cron": "0 * * * *", "pauses": ["07-10-08-15"]}, "pauses"),
    ({"cron": "0 * * * *", "pauses": ["02-30..03-01"]}, "pauses"),
    ({"cron": "0 * * * *", "timezone": "Europe/Utrecht"}, "timezone"),
])
def test_unreadable_settings_name_the_setting(settings, setting):
    with pytest.raises(ScheduleError) as info:
        schedule(**settings)
    assert info.value.setting == setting


def test_cron_inside_a_night_window_fires_at_the_window_opening_and_hourly_after():
    s = schedule(cron="0 * * * *", windows=["22:00-06:00"])
    noon = at(2026, 3, 2, 12, 0)
    assert s.next_due(last=None, now=noon) == at(2026, 3, 2, 22, 0)
    assert s.next_due(last=at(2026, 3, 2, 22, 0), now=at(2026, 3, 2, 22, 0, 3)) == at(2026, 3, 2, 23, 0)
    # 05:00 is the last moment inside the window; 06:00 is outside: the next is 22:00.
    assert s.next_due(last=at(2026, 3, 3, 5, 0), now=at(2026, 3, 3, 5, 0, 1)) == at(2026, 3, 3, 22, 0)


def test_a_cron_moment_exactly_now_is_due_now():
    s = schedule(cron="30 23 * * 1-5")
    assert s.next_due(last=None, now=at(2026, 3, 2, 23, 30)) == at(2026, 3, 2, 23, 30)


def test_weekday_cron_skips_the_weekend():
    s = schedule(cron="0 6 * * 1-5")
    friday = at(2026, 3, 6, 6, 0)
    assert s.next_due(last=friday, now=friday) == at(2026, 3, 9, 6, 0)


def test_pause_skips_the_summer_freeze():
    s = schedule(cron="0 * * * *", windows=["22:00-06:00"], pauses=["07-10..08-15"])
    last = at(2026, 7, 9, 23, 0)
    assert s.next_due(last=last, now=last) == at(2026, 8, 16, 0, 0)


def test_interval_runs_that_long_after_the_last_start_but_only_inside_the_window():
    s = schedule(interval="2h", windows=["22:00-06:00"])
    assert s.next_due(last=at(2026, 3, 2, 22, 0), now=at(2026, 3, 2, 22, 30)) == at(2026, 3, 3, 0, 0)
    assert s.next_due(last=at(2026, 3, 3, 5, 0), now=at(2026, 3, 3, 5, 1)) == at(2026, 3, 3, 22, 0)
    assert s.next_due(last=None, now=at(2026, 3, 3, 23, 17)) == at(2026, 3, 3, 23, 17)


def test_missed_cron_runs_are_made_up_by_one_run_at_the_first_allowed_moment():
    s = schedule(cron="0 23 * * *")
    last = at(2026, 3, 1, 23, 0)
    back = at(2026, 3, 4, 9, 15)  # three runs missed
    assert s.next_due(last=last, now=back) == back
    # ... and after that one run, the regular moment again (not the other missed ones).
    assert s.next_due(last=back, now=back) == at(2026, 3, 4, 23, 0)


def test_catch_up_waits_for_the_window_to_open():
    s = schedule(cron="30 23 * * *", windows=["22:00-06:00"])
    missed_since = at(2026, 3, 1, 23, 30)
    assert s.next_due(last=missed_since, now=at(2026, 3, 3, 9, 0)) == at(2026, 3, 3, 22, 0)
    # When a regular run comes at the opening anyway, that run is the catch-up: one run, not two.
    hourly = schedule(cron="0 * * * *", windows=["22:00-06:00"])
    assert hourly.next_due(last=at(2026, 3, 1, 23, 0), now=at(2026, 3, 3, 21, 50)) == at(2026, 3, 3, 22, 0)
    assert hourly.next_due(last=at(2026, 3, 3, 22, 0), now=at(2026, 3, 3, 22, 0)) == at(2026, 3, 3, 23, 0)


def test_summer_time_keeps_local_hours():
    s = schedule(cron="0 23 * * *")
    before = at(2026, 3, 28, 23, 0)  # the clocks go forward in the night of 28 to 29 March
    after = s.next_due(last=before, now=before)
    assert after == at(2026, 3, 29, 23, 0)
    assert after.utcoffset() == dt.timedelta(hours=2)


# -- the scheduler with an injected clock ---------------------------------------------------------


def scheduled(setup: Setup, schedule_toml: str):
    setup.config.write_text(config_text(state_url="sqlite:///koppel-state.db", schedule=schedule_toml),
                            encoding="utf-8")


CRON_AT_NIGHT = f"""
[tenants.{TENANT}.targets.{TARGET}.schedule]
enabled = true
cron = "0 * * * *"
windows = ["22:00-06:00"]
pauses = ["07-10..08-15"]
timezone = "Europe/Amsterdam"
"""


def test_scheduler_fires_a_cron_schedule_exactly_at_the_window_opening(setup: Setup):
    scheduled(setup, CRON_AT_NIGHT)
    clock = ManualClock(at(2026, 3, 2, 12, 0))
    service = setup.open(clock=clock)
    try:
        scheduler = service.scheduler
        scheduler.start()
        assert scheduler.next_run(TENANT, TARGET) == at(2026, 3, 2, 22, 0)
        clock.set(at(2026, 3, 2, 21, 59, 59))
        assert scheduler.tick() == []
        clock.set(at(2026, 3, 2, 22, 0))
        [request] = scheduler.tick()
        assert (request.tenant, request.target, request.kind, request.trigger) == (
            TENANT, TARGET, RequestKind.SYNC, Trigger.SCHEDULE)
        assert request.requested_at == "2026-03-02T21:00:00Z"
        assert scheduler.tick() == []
        assert scheduler.next_run(TENANT, TARGET) == at(2026, 3, 2, 23, 0)
    finally:
        service.close()


def test_scheduler_makes_one_catch_up_run_after_downtime(setup: Setup):
    scheduled(setup, CRON_AT_NIGHT)
    clock = ManualClock(at(2026, 3, 2, 23, 0))
    service = setup.open(clock=clock)
    store = service.koppel.store
    run = store.begin_run(TENANT, TARGET, kind="sync", trigger="schedule")
    store.finish_run(run, status="succeeded")
    service.close()

    clock.set(at(2026, 3, 5, 1, 20))  # down for two days: dozens of hourly runs missed
    service = setup.open(clock=clock)
    try:
        scheduler = service.scheduler
        scheduler.start()
        assert scheduler.next_run(TENANT, TARGET) == at(2026, 3, 5, 1, 20)
        assert len(scheduler.tick()) == 1
        for minute in range(21, 60):
            clock.set(at(2026, 3, 5, 1, minute))
            assert scheduler.tick() == []
        assert len(service.queue.queued()) == 1
        assert scheduler.next_run(TENANT, TARGET) == at(2026, 3, 5, 2, 0)
    finally:
        service.close()


def test_scheduler_does_not_queue_a_target_twice(setup: Setup):
    scheduled(setup, f"""
[tenants.{TENANT}.targets.{TARGET}.schedule]
enabled = true
interval = "15m"
""")
    clock = ManualClock(at(2026, 3, 2, 12, 0))
    service = setup.open(clock=clock)
    try:
        scheduler = service.scheduler
        scheduler.start()
        first = scheduler.tick()
        clock.advance(minutes=15)
        second = scheduler.tick()  # the first is still waiting (no worker runs in this test)
        assert [r.id for r in first] == [r.id for r in second]
        assert len(service.queue.queued()) == 1
    finally:
        service.close()


def test_a_bad_schedule_is_reported_with_its_line(setup: Setup):
    from koppel.errors import ConfigError

    scheduled(setup, f"""
[tenants.{TENANT}.targets.{TARGET}.schedule]
enabled = true
cron = "0 25 * * *"
windows = ["22:00-06:00"]
""")
    with pytest.raises(ConfigError) as info:
        setup.open()
    [problem] = info.value.problems
    assert problem.setting == f"tenants.{TENANT}.targets.{TARGET}.schedule.cron"
    lines = setup.config.read_text().splitlines()
    assert lines[problem.line - 1].startswith("cron =")
