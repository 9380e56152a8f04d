"""Per-run statistics for the dashboard's chart: changes and errors per run, per school.

A run's journal can hold a million rows (the first load of a large bestuur); counting them per
school on every page view would blow the dashboard's time budget. Runs never change once finished,
so the counts are taken once — by the worker right after a run, and in the background for runs made
by the command line — into ``run_stats``, and the chart reads a few hundred small rows.

"Changes" are objects the target confirmed (done or warning); "errors" are objects that failed or
were skipped because something they depend on failed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import orjson
from sqlalchemy import insert, select

from koppel.service import tables as t
from koppel.state.store import StateStore

__all__ = ["RunPoint", "RunStats", "refresh_planner_statistics"]

NO_SCHOOL = "-"
_CHANGED = ("done", "warning")
_ERRORS = ("failed", "skipped")


@dataclass(frozen=True)
class RunPoint:
    """One run on the chart."""

    run_id: int
    started_at: str
    status: str
    changes: int
    errors: int
    schools: dict[str, tuple[int, int]]  # school -> (changes, errors)


class RunStats:
    def __init__(self, store: StateStore):
        self.store = store

    def compute(self, run_id: int) -> bool:
        """Count a finished run's journal per school; False when the run is unknown or still running."""
        run = self.store.run(run_id)
        if run is None or run.status == "running":
            return False
        per_school: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for school, outcome, count in self.store.outcome_counts(run_id):
            slot = per_school[school or NO_SCHOOL]
            if outcome in _CHANGED:
                slot[0] += count
            elif outcome in _ERRORS:
                slot[1] += count
        changes = sum(v[0] for v in per_school.values())
        errors = sum(v[1] for v in per_school.values())
        with self.store.engine.begin() as conn:
            exists = conn.execute(select(t.run_stats.c.run_id).where(t.run_stats.c.run_id == run_id)).first()
            if exists is None:
                conn.execute(insert(t.run_stats).values(
                    run_id=run_id, tenant=run.tenant, target=run.target, started_at=run.started_at,
                    changes=changes, errors=errors,
                    schools=orjson.dumps({k: v for k, v in sorted(per_school.items())}).decode(),
                ))
        return True

    def backfill(self, *, since: str, limit: int = 25) -> int:
        """Count finished runs since ``since`` that have no statistics yet (runs made by the CLI), newest first."""
        counted = self._counted(since)
        ids = [run_id for run_id, _, status in reversed(self.store.run_times(since=since))
               if status != "running" and run_id not in counted][:limit]
        return sum(1 for run_id in ids if self.compute(run_id))

    def _counted(self, since: str, tenant: str | None = None,
                 target: str | None = None) -> dict[int, tuple[int, int, str]]:
        """run id → (changes, errors, schools JSON) of the runs since ``since`` that have statistics."""
        s = t.run_stats.c
        query = select(s.run_id, s.changes, s.errors, s.schools).where(s.started_at >= since)
        if tenant:
            query = query.where(s.tenant == tenant)
        if target:
            query = query.where(s.target == target)
        with self.store.engine.connect() as conn:
            return {int(row.run_id): (int(row.changes), int(row.errors), str(row.schools))
                    for row in conn.execute(query)}

    def points(self, tenant: str, target: str, *, since: str) -> list[RunPoint]:
        """Every run of the target since ``since``, oldest first, with its counts when known."""
        counted = self._counted(since, tenant, target)
        points = []
        for run_id, started_at, status in self.store.run_times(tenant, target, since=since):
            changes, errors, schools = counted.get(run_id, (0, 0, ""))
            points.append(RunPoint(run_id, started_at, status, changes, errors,
                                   {k: (v[0], v[1]) for k, v in orjson.loads(schools).items()} if schools else {}))
        return points


def since_days(now: dt.datetime, days: int) -> str:
    from koppel.service.clock import iso

    return iso(now - dt.timedelta(days=days))


def refresh_planner_statistics(store: StateStore) -> None:
    """ANALYZE, so the database plans the dashboard's queries with real numbers.

    SQLite keeps no statistics until ANALYZE runs; without them a person's history scans every
    journal row of the target (hundreds of milliseconds at 60,000 pupils) instead of using the
    person and key indexes (a millisecond). The service runs this at start and after large runs.
    """
    store.analyze()
