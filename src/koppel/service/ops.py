"""Operating the service: ``/metrics`` (Prometheus text), ``/healthz`` (alive) and ``/readyz`` (ready).

None of the three needs a login: a monitoring system has no session. ``/healthz`` and ``/readyz`` say
nothing but "ok" or why not, never a tenant, a host name or a secret. ``/metrics`` names tenants and
targets in its labels, so who may read it is a setting (``[service.metrics] access``):

* ``local`` (the default): only a client on this machine that did not come through a proxy — a request
  with ``X-Forwarded-For``, ``Forwarded`` or ``X-Real-IP`` came from further away, whatever its socket
  says; so a dashboard published through a reverse proxy does not publish its tenants' names too;
* ``token``: ``Authorization: Bearer <token>``, the token from ``token_env`` or ``token_file``
  (Prometheus: ``authorization: {credentials_file: …}``);
* ``open``: anyone who reaches the port (a metrics network behind a firewall);
* ``off``: ``/metrics`` answers 404.

The numbers come from the state database at scrape time, not from counters in this process: runs are
made by `koppel worker` processes on other machines too, and a restart must not reset a count. A
scrape costs a few grouped queries whatever the number of tenants (see :class:`StateCollector`): the
first one after a start adds the run history up in the database, later ones read only the runs that
are new or were still running.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import ipaddress
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, PlainTextResponse, Response

from koppel.errors import KoppelError
from koppel.service import tables as st
from koppel.service.clock import parse_iso
from koppel.service.queue import PENDING
from koppel.service.runtime import Service
from koppel.service.settings import MetricsSettings, resolve_secret
from koppel.state import schema as t

__all__ = ["DURATION_BUCKETS", "StateCollector", "ops_router", "readiness"]

log = structlog.get_logger("koppel.service")

DURATION_BUCKETS = (5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0)
"""Seconds: a no-change run takes seconds, a first load of a large bestuur hours. Few buckets, because
every one is a series per target: at 200 targets two histograms are already 4,400 lines a scrape."""

_TIMED_KINDS = ("sync", "apply")  # runs that move data; their duration and apply phase are measured
_SUCCESS = "succeeded"
_CONFIRMED = ("done", "warning")  # objects the target confirmed (as the chart counts them)
_READY_TIMEOUT_S = 5.0
_LAG = 1000  # run ids read again at every scrape, in case a lower id became visible late
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")


# -- the run history, tallied incrementally ------------------------------------------------------------


class _Histogram:
    """Cumulative bucket counts and a sum, as Prometheus histograms want them."""

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(DURATION_BUCKETS):
            if value <= bound:
                self.counts[i] += 1
        self.counts[-1] += 1
        self.total += value

    def merge(self, counts: list[int], total: float) -> None:
        """Add observations already counted per bucket (cumulative, +Inf last) with their sum."""
        self.counts = [a + int(b) for a, b in zip(self.counts, counts, strict=True)]
        self.total += total

    def buckets(self) -> list[tuple[str, float]]:
        bounds = [*(str(b) for b in DURATION_BUCKETS), "+Inf"]
        return [(b, float(c)) for b, c in zip(bounds, self.counts, strict=True)]


@dataclass
class _Tally:
    """What the finished runs add up to, and which runs were still running at the last look."""

    watermark: int = 0  # the highest run id seen
    counted: set[int] = field(default_factory=set)  # ids counted within _LAG of the watermark
    running: dict[int, tuple[str, str]] = field(default_factory=dict)
    runs: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # tenant, target, kind, status
    duration: dict[tuple[str, str], _Histogram] = field(default_factory=lambda: defaultdict(_Histogram))
    phase: dict[tuple[str, str, str], _Histogram] = field(default_factory=lambda: defaultdict(_Histogram))
    changed: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # tenant, target, action, kind
    failed: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_success: dict[tuple[str, str], float] = field(default_factory=dict)
    last_finished: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, row: Any) -> None:
        key = (str(row.tenant), str(row.target))
        self.runs[(*key, str(row.kind), str(row.status))] += 1
        finished = _seconds(row.finished_at)
        if finished is not None:
            self.last_finished[key] = max(finished, self.last_finished.get(key, 0.0))
        if row.kind not in _TIMED_KINDS or row.status == "held":
            return
        started = _seconds(row.started_at)
        if started is not None and finished is not None:
            self.duration[key].observe(max(0.0, finished - started))
        if row.status == _SUCCESS and finished is not None:
            self.last_success[key] = max(finished, self.last_success.get(key, 0.0))
        summary = _json(row.summary)
        seconds = summary.get("seconds")
        if isinstance(seconds, int | float):
            self.phase[(*key, "apply")].observe(float(seconds))
        for name, outcomes in (summary.get("by_action") or {}).items():
            action, _, kind = str(name).partition(" ")
            if not isinstance(outcomes, dict):
                continue
            done = sum(int(n) for o, n in outcomes.items() if o in _CONFIRMED)
            failed = sum(int(n) for o, n in outcomes.items() if o not in _CONFIRMED)
            if done:
                self.changed[(*key, action, kind or "-")] += done
            if failed:
                self.failed[key] += failed


def _seconds(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return parse_iso(stamp).timestamp()
    except ValueError:
        return None


def _json(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        loaded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _bulk(conn: Any, tally: _Tally, *, upto: int, running: list[int]) -> None:
    """Add the finished runs with ids up to ``upto`` to ``tally`` with grouped queries: the same numbers
    :meth:`_Tally.add` makes of them one by one (tests/service/test_ops_endpoints.py compares the two)."""
    postgres = conn.dialect.name == "postgresql"
    params: dict[str, Any] = {"upto": upto, "k1": _TIMED_KINDS[0], "k2": _TIMED_KINDS[1]}

    def finished_runs(r: str = "") -> str:
        """The runs to add (``r``: the table's alias with its dot)."""
        where = f"{r}id <= :upto AND {r}status <> 'running'"
        if running:
            where += f" AND {r}id NOT IN (" + ", ".join(str(int(i)) for i in running) + ")"
        return where

    def timed_runs(r: str = "") -> str:
        return f"{finished_runs(r)} AND {r}kind IN (:k1, :k2) AND {r}status <> 'held'"

    finished, timed = finished_runs(), timed_runs()
    for row in conn.execute(text(
            "SELECT tenant, target, kind, status, count(*) AS n, max(finished_at) AS last_finished "
            f"FROM runs WHERE {finished} GROUP BY tenant, target, kind, status"), params):
        key = (str(row.tenant), str(row.target))
        tally.runs[(*key, str(row.kind), str(row.status))] += int(row.n)
        for stamps, wanted in ((tally.last_finished, True),
                               (tally.last_success, row.status == _SUCCESS and row.kind in _TIMED_KINDS)):
            at = _seconds(row.last_finished)
            if wanted and at is not None:
                stamps[key] = max(at, stamps.get(key, 0.0))
    if postgres:
        duration = "extract(epoch FROM (finished_at::timestamptz - started_at::timestamptz))"
        seconds = ("(SELECT CASE WHEN jsonb_typeof(j -> 'seconds') = 'number' THEN (j ->> 'seconds')::float8 END "
                   "FROM (SELECT summary::jsonb AS j) AS parsed)")
    else:
        duration = "round((julianday(finished_at) - julianday(started_at)) * 86400.0)"
        seconds = ("CASE WHEN json_valid(summary) AND json_type(summary, '$.seconds') IN ('integer', 'real') "
                   "THEN json_extract(summary, '$.seconds') END")
    for value, where, into in ((f"max(0, {duration})" if not postgres else f"greatest(0, {duration})",
                                f"{timed} AND finished_at IS NOT NULL", tally.duration),
                               (seconds, timed, None)):
        buckets = ", ".join(f"sum(CASE WHEN v <= {b} THEN 1 ELSE 0 END) AS b{i}"
                            for i, b in enumerate(DURATION_BUCKETS))
        rows = conn.execute(text(
            f"SELECT tenant, target, count(v) AS n, coalesce(sum(v), 0) AS total, {buckets} "
            # OFFSET 0 keeps PostgreSQL from folding the subquery in and computing v once per bucket
            f"FROM (SELECT tenant, target, {value} AS v FROM runs WHERE {where}{' OFFSET 0' if postgres else ''}) AS x "
            "WHERE v IS NOT NULL GROUP BY tenant, target"), params)
        for row in rows:
            counts = [int(getattr(row, f"b{i}") or 0) for i in range(len(DURATION_BUCKETS))] + [int(row.n)]
            key = (str(row.tenant), str(row.target))
            hist = into[key] if into is not None else tally.phase[(*key, "apply")]
            hist.merge(counts, float(row.total))
    if postgres:
        actions = ("SELECT r.tenant, r.target, a.key AS action, o.key AS outcome, "
                   "sum((o.value #>> '{}')::numeric) AS n FROM runs r "
                   "CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(r.summary::jsonb -> 'by_action') = 'object' "
                   "THEN r.summary::jsonb -> 'by_action' ELSE '{}'::jsonb END) a "
                   "CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(a.value) = 'object' THEN a.value "
                   "ELSE '{}'::jsonb END) o "
                   f"WHERE {timed_runs('r.')} "
                   "AND jsonb_typeof(o.value) = 'number' GROUP BY 1, 2, 3, 4")
    else:
        actions = ("SELECT r.tenant, r.target, a.key AS action, o.key AS outcome, sum(o.value) AS n "
                   "FROM runs r, json_each(CASE WHEN json_valid(r.summary) AND json_type(r.summary, '$.by_action') "
                   "= 'object' THEN json_extract(r.summary, '$.by_action') ELSE '{}' END) a, "
                   "json_each(CASE WHEN a.type = 'object' THEN a.value ELSE '{}' END) o "
                   f"WHERE {timed_runs('r.')} "
                   "AND o.type IN ('integer', 'real') GROUP BY 1, 2, 3, 4")
    for row in conn.execute(text(actions), params):
        key = (str(row.tenant), str(row.target))
        action, _, kind = str(row.action).partition(" ")
        n = int(row.n or 0)
        if row.outcome in _CONFIRMED:
            if n:
                tally.changed[(*key, action, kind or "-")] += n
        elif n:
            tally.failed[key] += n


class StateCollector(Collector):
    """Reads the state database at scrape time and yields koppel's metric families.

    Queries per scrape, whatever the number of tenants: the newest run id; the runs that are new since
    the last scrape or were running then (the first scrape after a start adds the older history up with
    four grouped queries more);
    held plans, grouped; queued and running requests, grouped; with procrastinate, its jobs, grouped.
    """

    def __init__(self, service: Service):
        self.service = service
        self._tally = _Tally()
        self._lock = threading.Lock()
        self.procrastinate = service.settings.engine == "procrastinate"

    def describe(self) -> Iterable[Metric]:
        return []  # no eager collection at registration: the database is read per scrape

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("koppel_state_up", "1 when the state database answered this scrape, else 0.")
        try:
            with self._lock:
                families = list(self._families())
        except (SQLAlchemyError, KoppelError) as exc:
            log.warning("metrics: the state database did not answer", error=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    # -- the families ----------------------------------------------------------------------------

    def _families(self) -> Iterator[Metric]:
        now = self.service.clock().timestamp()
        tally = self._update()
        yield from self._run_families(tally)
        yield from self._plan_families(now)
        yield from self._queue_families(now)
        yield from self._schedule_families()

    def _update(self) -> _Tally:
        """Add the runs finished since the last scrape to the tally (see :meth:`_Tally.add`).

        A run that is running is remembered and looked at again next time; a run not running when the
        running ones were listed is finished for good, so it is counted now and never again. The last
        :data:`_LAG` ids are read again (and skipped when counted): on PostgreSQL a run's id is taken when
        its row is inserted, so a run may become visible after a higher id did. The first scrape fills a new
        tally that replaces the empty one only when complete: a database failing half-way leaves nothing
        counted twice (later scrapes are safe through ``counted``)."""
        tally = self._tally if self._tally.watermark else _Tally()
        r = t.runs.c
        cols = (r.id, r.tenant, r.target, r.kind, r.status, r.started_at, r.finished_at, r.summary)
        with self.service.koppel.store.engine.connect() as conn:
            top = conn.execute(select(func.max(r.id))).scalar()
            top = int(top) if top is not None else tally.watermark
            window = (r.id > max(0, tally.watermark - _LAG)) & (r.id <= top)
            if tally.running:
                window = window | r.id.in_(list(tally.running))
            running = {int(row.id): (str(row.tenant), str(row.target)) for row in conn.execute(
                select(r.id, r.tenant, r.target).where(window, r.status == "running"))}
            if tally.watermark == 0 and top > _LAG:
                # The first scrape: the history up to the lag window is added up by the database (a year
                # of runs at 200 targets is millions of rows), only the newest runs one by one.
                _bulk(conn, tally, upto=top - _LAG, running=list(running))
                window = window & (r.id > top - _LAG)
            query = select(*cols).where(window, r.status != "running")
            if running:
                query = query.where(r.id.not_in(list(running)))
            for row in conn.execute(query):
                if int(row.id) not in tally.counted:
                    tally.add(row)
                    tally.counted.add(int(row.id))
        tally.running = running
        tally.watermark = top
        tally.counted = {i for i in tally.counted if i > top - _LAG}
        self._tally = tally
        return tally

    def _run_families(self, tally: _Tally) -> Iterator[Metric]:
        runs = CounterMetricFamily("koppel_runs", "Finished runs by kind and result (status), from the state.",
                                   labels=["tenant", "target", "kind", "result"])
        for (tenant, target, kind, status), n in sorted(tally.runs.items()):
            runs.add_metric([tenant, target, kind, status], n)
        yield runs
        running = GaugeMetricFamily("koppel_runs_running", "Runs recorded as running now.", labels=["tenant", "target"])
        for key, n in sorted(Counter(tally.running.values()).items()):
            running.add_metric(list(key), n)
        yield running
        duration = HistogramMetricFamily(
            "koppel_run_duration_seconds", "Duration of finished sync and apply runs (not held ones), from "
            "their recorded start and end (whole seconds).", labels=["tenant", "target"])
        for key, hist in sorted(tally.duration.items()):
            duration.add_metric(list(key), hist.buckets(), hist.total)
        yield duration
        phase = HistogramMetricFamily(
            "koppel_run_phase_seconds", "Duration of the phases of sync and apply runs that the state records "
            "(apply: sending the plan and recording the answers).", labels=["tenant", "target", "phase"])
        for pkey, hist in sorted(tally.phase.items()):
            phase.add_metric(list(pkey), hist.buckets(), hist.total)
        yield phase
        changed = CounterMetricFamily("koppel_objects_changed", "Objects the target confirmed changed, by action "
                                      "and object kind.", labels=["tenant", "target", "action", "kind"])
        for key4, n in sorted(tally.changed.items()):
            changed.add_metric(list(key4), n)
        yield changed
        failed = CounterMetricFamily("koppel_objects_failed", "Objects that failed or were skipped in runs.",
                                     labels=["tenant", "target"])
        for key, n in sorted(tally.failed.items()):
            failed.add_metric(list(key), n)
        yield failed
        success = GaugeMetricFamily("koppel_last_success_timestamp_seconds", "When the last successful sync or "
                                    "apply run finished (Unix time).", labels=["tenant", "target"])
        for key, stamp in sorted(tally.last_success.items()):
            success.add_metric(list(key), stamp)
        yield success
        finished = GaugeMetricFamily("koppel_last_run_timestamp_seconds", "When the last run of any kind and "
                                     "result finished (Unix time).", labels=["tenant", "target"])
        for key, stamp in sorted(tally.last_finished.items()):
            finished.add_metric(list(key), stamp)
        yield finished

    def _plan_families(self, now: float) -> Iterator[Metric]:
        p = t.plans.c
        with self.service.koppel.store.engine.connect() as conn:
            rows = conn.execute(select(p.tenant, p.target, func.count().label("n"),
                                       func.min(p.created_at).label("oldest"))
                                .where(p.status == "held").group_by(p.tenant, p.target)).all()
        held = GaugeMetricFamily("koppel_plans_held", "Plans a guard held, waiting for approval.",
                                 labels=["tenant", "target"])
        age = GaugeMetricFamily("koppel_plan_held_oldest_age_seconds", "How long the oldest held plan has "
                                "waited.", labels=["tenant", "target"])
        for row in sorted(rows, key=lambda r: (r.tenant, r.target)):
            held.add_metric([row.tenant, row.target], int(row.n))
            created = _seconds(row.oldest)
            if created is not None:
                age.add_metric([row.tenant, row.target], max(0.0, now - created))
        yield held
        yield age

    def _queue_families(self, now: float) -> Iterator[Metric]:
        q = st.run_requests.c
        with self.service.koppel.store.engine.connect() as conn:
            rows = conn.execute(select(q.tenant, q.target, q.status, func.count().label("n"),
                                       func.min(q.requested_at).label("oldest"))
                                .where(q.status.in_(PENDING)).group_by(q.tenant, q.target, q.status)).all()
            jobs = self._jobs(conn) if self.procrastinate else []
        depth = GaugeMetricFamily("koppel_queue_requests", "Run requests queued or running (run_requests).",
                                  labels=["tenant", "target", "status"])
        oldest: float | None = None
        for row in sorted(rows, key=lambda r: (r.tenant, r.target, r.status)):
            depth.add_metric([row.tenant, row.target, row.status], int(row.n))
            if row.status == "queued":
                at = _seconds(row.oldest)
                if at is not None:
                    oldest = at if oldest is None else min(oldest, at)
        yield depth
        age = GaugeMetricFamily("koppel_queue_oldest_age_seconds", "How long the oldest queued request (source "
                                "run_requests) or waiting job (source procrastinate) has waited; 0 when none "
                                "waits.", labels=["source"])
        age.add_metric(["run_requests"], max(0.0, now - oldest) if oldest is not None else 0.0)
        if self.procrastinate:
            job_depth = GaugeMetricFamily("koppel_jobs", "procrastinate jobs of koppel's queue by status (todo: "
                                          "waiting, doing: running).", labels=["status"])
            waited = 0.0
            for status in ("todo", "doing"):
                job = next((j for j in jobs if j[0] == status), None)
                job_depth.add_metric([status], job[1] if job else 0)
                if status == "todo" and job is not None and job[2] is not None:
                    waited = max(0.0, job[2])
            age.add_metric(["procrastinate"], waited)
            yield job_depth
        yield age

    @staticmethod
    def _jobs(conn: Any) -> list[tuple[str, int, float | None]]:
        """(status, jobs, seconds the oldest has waited) of koppel's procrastinate jobs, one grouped query."""
        from koppel.service.jobs import QUEUE

        rows = conn.execute(text(
            "SELECT j.status::text AS status, count(*) AS n, "
            "extract(epoch FROM now() - min(e.at)) AS waited "
            "FROM procrastinate_jobs j LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred' "
            "WHERE j.queue_name = :queue AND j.status IN ('todo', 'doing') GROUP BY j.status"), {"queue": QUEUE}).all()
        return [(str(r.status), int(r.n), None if r.waited is None else float(r.waited)) for r in rows]

    def _schedule_families(self) -> Iterator[Metric]:
        period = GaugeMetricFamily("koppel_schedule_period_seconds", "The schedule's period: its interval, or the "
                                   "gap between the next two cron moments (windows and pauses not counted).",
                                   labels=["tenant", "target"])
        due = GaugeMetricFamily("koppel_schedule_next_run_timestamp_seconds", "When the scheduler queues the "
                                "target's next run (Unix time).", labels=["tenant", "target"])
        now = self.service.clock()
        for (tenant, target), job in sorted(self.service.scheduler.jobs.items()):
            seconds = _period(job.schedule, now)
            if seconds is not None:
                period.add_metric([tenant, target], seconds)
            if job.next_due is not None:
                due.add_metric([tenant, target], job.next_due.timestamp())
        yield period
        yield due


def _period(schedule: Any, now: dt.datetime) -> float | None:
    if schedule.interval is not None:
        return float(schedule.interval.total_seconds())
    if not schedule.cron:
        return None
    from croniter import croniter  # type: ignore[import-untyped]  # no type hints shipped

    moments = croniter(schedule.cron, now.astimezone(schedule.zone))
    first = moments.get_next(dt.datetime)
    return float((moments.get_next(dt.datetime) - first).total_seconds())


# -- readiness -----------------------------------------------------------------------------------------


def readiness(service: Service) -> str | None:
    """None when the service can do its work, else why not (words without names, hosts or secrets)."""
    try:
        with service.koppel.store.engine.connect() as conn:
            conn.execute(select(t.targets_state.c.id).limit(1)).first()  # answers, and has koppel's tables
            if service.settings.engine == "procrastinate":
                found = conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
                if found is None:
                    return "the job queue's tables (procrastinate) are missing"
    except SQLAlchemyError as exc:
        log.warning("not ready: the state database did not answer", error=" ".join(str(getattr(exc, "orig", None) or exc).split()))
        if "procrastinate" in str(exc):
            return "the job queue's tables (procrastinate) are missing"
        return "the state database does not answer"
    return None


# -- the routes ----------------------------------------------------------------------------------------


def _is_local(request: Request) -> bool:
    if any(h in request.headers for h in _PROXY_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return bool((mapped or address).is_loopback)


def ops_router(service: Service) -> APIRouter:
    """``/healthz``, ``/readyz`` and ``/metrics``: outside the login, the roles and the OpenAPI description."""
    settings: MetricsSettings = service.settings.metrics
    token = None
    if settings.access == "token":  # read at start: a missing variable or file stops `koppel serve` here
        token = resolve_secret(settings.token_ref, config=service.config, env=service.koppel.env,
                               setting="service.metrics.token_env" if settings.token_env else
                               "service.metrics.token_file").encode()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(service))
    ProcessCollector(registry=registry)  # this process's memory, CPU and open files
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            reason = await asyncio.wait_for(asyncio.to_thread(readiness, service), _READY_TIMEOUT_S)
        except TimeoutError:
            reason = f"the state database did not answer within {_READY_TIMEOUT_S:g} s"
        if reason is not None:
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get("/metrics")
    def metrics(request: Request) -> Response:
        if settings.access == "off":
            return PlainTextResponse("not found\n", status_code=404)
        if settings.access == "local" and not _is_local(request):
            return PlainTextResponse('metrics are served to local clients only ([service.metrics] access = "local")\n',
                                     status_code=403)
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token):
                return PlainTextResponse("a bearer token is required\n", status_code=401,
                                         headers={"www-authenticate": 'Bearer realm="koppel metrics"'})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
