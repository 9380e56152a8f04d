"""When a target runs: an interval or a cron expression, inside allowed windows, outside pauses.

Pure: no clock and no I/O — the scheduler passes ``now`` and the start of the last run, so every rule
here is tested with plain datetimes. All local times (cron fields, windows, pause dates) are read in
the schedule's time zone, so "22:00-06:00" stays 22:00 across the change to and from summer time.

The rules, as `docs/service.md` states them for the systeembeheerder:

* **interval** (``15m``, ``2h``, ``1d``): a run starts that long after the previous one started; a
  target that never ran runs at the first allowed moment;
* **cron** (``0 23 * * 1-5``): a run starts at each cron moment that falls inside the windows and
  outside the pauses; moments outside them are skipped, not postponed;
* **windows** (``22:00-06:00``, may cross midnight): when runs may start; empty means any time;
* **pauses** (``07-10..08-15``, inclusive, may cross new year): dates on which nothing starts;
* **catch-up**: when runs were missed while koppel was down (or busy), they are made up by *one*
  run at the first moment the schedule allows — now, or when the next window opens — unless a
  regular run comes first. Never a pile of runs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]  # croniter ships no type hints, and types-croniter is not a lint dependency

from koppel.config import ScheduleSettings

__all__ = ["Pause", "Schedule", "ScheduleError", "Window", "parse_interval"]

_SECOND = dt.timedelta(seconds=1)
_SEARCH_DAYS = 400  # a schedule that allows nothing within a year (and a bit) never fires
_MAX_CRON_STEPS = 5000


class ScheduleError(ValueError):
    """A schedule setting that cannot be read; the message says which and why."""

    def __init__(self, message: str, *, setting: str):
        self.setting = setting
        super().__init__(message)


_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_interval(text: str) -> dt.timedelta:
    """``15m``, ``2h``, ``1d``, ``1w`` → a timedelta of at least one minute."""
    match = _INTERVAL.match(text)
    if not match:
        raise ScheduleError(f"{text!r} is not an interval like '15m', '2h' or '1d'", setting="interval")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 60:
        raise ScheduleError(f"{text!r} is shorter than the shortest interval, one minute", setting="interval")
    return dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Window:
    """Runs may start from ``start`` up to (not including) ``end``; ``end`` before ``start`` crosses midnight."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> Window:
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
        if not match:
            raise ScheduleError(f"{text!r} is not a time window like '22:00-06:00'", setting="windows")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
            raise ScheduleError(f"{text!r} has a time that does not exist", setting="windows")
        start, end = _clock_time(h1, m1), _clock_time(h2, m2)
        if start == end:
            raise ScheduleError(f"{text!r} starts and ends at the same time; leave windows empty for any time",
                                setting="windows")
        return cls(start, end)

    def contains(self, moment: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _clock_time(hour: int, minute: int) -> dt.time:
    return dt.time(0, 0) if (hour, minute) == (24, 0) else dt.time(hour, minute)


@dataclass(frozen=True)
class Pause:
    """No run starts from ``start`` to ``end`` (month, day), both included."""

    start: tuple[int, int]
    end: tuple[int, int]

    @classmethod
    def parse(cls, text: str) -> Pause:
        match = re.fullmatch(r"\s*(\d{2})-(\d{2})\s*\.\.\s*(\d{2})-(\d{2})\s*", text)
        if not match:
            raise ScheduleError(f"{text!r} is not a pause like '07-10..08-15'", setting="pauses")
        m1, d1, m2, d2 = (int(g) for g in match.groups())
        for month, day in ((m1, d1), (m2, d2)):
            try:
                dt.date(2024, month, day)  # a leap year: 02-29 is a valid pause date
            except ValueError:
                raise ScheduleError(f"{text!r} has a date that does not exist", setting="pauses") from None
        return cls((m1, d1), (m2, d2))

    def contains(self, day: dt.date) -> bool:
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end

    def __str__(self) -> str:
        return f"{self.start[0]:02d}-{self.start[1]:02d}..{self.end[0]:02d}-{self.end[1]:02d}"


@dataclass(frozen=True)
class Schedule:
    """A target's schedule, parsed. Build it with :meth:`from_settings`."""

    zone: ZoneInfo
    interval: dt.timedelta | None = None
    cron: str | None = None
    windows: tuple[Window, ...] = ()
    pauses: tuple[Pause, ...] = ()

    @classmethod
    def from_settings(cls, settings: ScheduleSettings) -> Schedule:
        """Parse the settings; raise ScheduleError naming the first setting that cannot be read."""
        try:
            zone = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"unknown time zone {settings.timezone!r} (e.g. 'Europe/Amsterdam')",
                                setting="timezone") from None
        if bool(settings.interval) == bool(settings.cron):
            raise ScheduleError("give either interval or cron", setting="cron" if settings.cron else "interval")
        interval = parse_interval(settings.interval) if settings.interval else None
        if settings.cron and not croniter.is_valid(settings.cron):
            raise ScheduleError(f"{settings.cron!r} is not a cron expression (minute hour day month weekday)",
                                setting="cron")
        return cls(
            zone=zone,
            interval=interval,
            cron=settings.cron,
            windows=tuple(Window.parse(w) for w in settings.windows),
            pauses=tuple(Pause.parse(p) for p in settings.pauses),
        )

    # -- where runs may start --------------------------------------------------------------

    def allowed(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.zone)
        if any(p.contains(local.date()) for p in self.pauses):
            return False
        return not self.windows or any(w.contains(local.time()) for w in self.windows)

    def next_allowed(self, moment: dt.datetime) -> dt.datetime | None:
        """The first moment at or after ``moment`` at which a run may start (None: never)."""
        if self.allowed(moment):
            return moment
        local_day = moment.astimezone(self.zone).date()
        for offset in range(_SEARCH_DAYS):
            for boundary in self._boundaries(local_day + dt.timedelta(days=offset)):
                if boundary > moment and self.allowed(boundary):
                    return boundary
        return None

    def _boundaries(self, day: dt.date) -> list[dt.datetime]:
        """The local moments of ``day`` at which being allowed can change: midnight and window edges."""
        times = {dt.time(0, 0)} | {w.start for w in self.windows} | {w.end for w in self.windows}
        return sorted(_at(day, t, self.zone) for t in times)

    # -- when the next run is due -------------------------------------------------------------

    def next_due(self, *, last: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        """When the next scheduled run should start, given when the last run started (None: never)."""
        if self.interval is not None:
            candidate = now if last is None else max(last + self.interval, now)
            return self.next_allowed(candidate)
        start = now - _SECOND if last is None or last < now - _SECOND else last
        regular = self._next_cron(start)
        if last is not None:
            first_after_last = self._next_cron(last)
            if first_after_last is not None and first_after_last < now:
                catch_up = self.next_allowed(now)
                if catch_up is not None and (regular is None or catch_up < regular):
                    return catch_up
        return regular

    def _next_cron(self, after: dt.datetime) -> dt.datetime | None:
        """The first cron moment strictly after ``after`` that the windows and pauses allow."""
        assert self.cron is not None
        start = after
        for _ in range(_MAX_CRON_STEPS):
            fire = croniter(self.cron, start.astimezone(self.zone)).get_next(dt.datetime)
            if self.allowed(fire):
                return fire
            opening = self.next_allowed(fire)
            if opening is None:
                return None
            start = max(opening - _SECOND, fire)
        return None

    def describe(self) -> str:
        """A short, language-neutral description: ``cron 0 23 * * * · 22:00-06:00 · ⏸ 07-10..08-15``."""
        parts = [f"cron {self.cron}" if self.cron else f"interval {_interval_text(self.interval)}"]
        parts += [str(w) for w in self.windows]
        parts += [f"⏸ {p}" for p in self.pauses]
        return " · ".join(parts) + f" ({self.zone.key})"


def _interval_text(interval: dt.timedelta | None) -> str:
    seconds = int(interval.total_seconds()) if interval else 0
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _at(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime:
    """``day`` at local ``clock`` in ``zone``; a time skipped by summer time moves to the real moment."""
    naive = dt.datetime.combine(day, clock)
    return naive.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone)
