"""The read model: what each dashboard page shows, gathered from the state store and the queue.

Every page of the dashboard and its JSON twin call the same method here and get the same model
(``koppel.service.models``). Nothing here writes, and nothing here is slow on a 60,000-pupil
bestuur: per-run counts come from ``run_stats``, large plans from the plan cache, object counts
are cached per state serial (they only change when the state does), and every list is paged.

Every method takes the caller's ``viewer`` access (None: everything, for the CLI and the service
itself): a tenant the caller may not see is answered exactly like one that does not exist — a 404 for
its pages and ids, absent from every list — so nothing tells a caller of tenant A what B has.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from koppel.config import public_view
from koppel.errors import KoppelError, PlanNotFound
from koppel.explain import explain
from koppel.model.change import Change
from koppel.model.desired import ObjectKind
from koppel.model.status import RunStatus
from koppel.pipeline import Koppel
from koppel.plan.render import REMOVALS, PersonLabel, search_changes
from koppel.runs import superseded_by
from koppel.service.accounts import Access, Role
from koppel.service.clock import Clock, iso
from koppel.service.models import (
    ChartPoint,
    ConfigPage,
    Diagnostic,
    ExplainPage,
    JournalItem,
    KlasCount,
    LockModel,
    Overview,
    PersonMatch,
    PersonRef,
    PersonSearch,
    PlanChange,
    PlanGroup,
    PlanList,
    PlanPage,
    PlanRecordModel,
    PlanSample,
    ProgressModel,
    QualityPage,
    RequestModel,
    RunList,
    RunModel,
    RunPage,
    SchoolTotal,
    TargetCard,
    TargetPage,
    TenantCard,
    Timeline,
)
from koppel.service.notify import Notifier
from koppel.service.plancache import PlanCache, SlimChange
from koppel.service.progress import ProgressBoard, RunProgress
from koppel.service.queue import RequestKind, RequestStatus, RunQueue, TargetBackoff
from koppel.service.schedule import Schedule
from koppel.service.stats import RunStats, since_days
from koppel.state.store import JournalEntry, LockInfo, PlanRecord, RunInfo

__all__ = ["Dashboard", "NotFound"]

CHART_DAYS = 90
PLAN_PAGE = 100
SEARCH_LIMIT = 200  # changes a plan search shows; more: refine the search
KLAS_LIMIT = 100  # klassen in the plan page's counts
RUN_PAGE = 50
PROBLEM_PAGE = 200
QUALITY_PAGE = 200
TENANT_PAGE = 25
_PROBLEMS = ("failed", "skipped", "warning")


class NotFound(LookupError):
    """The page's subject does not exist (404)."""


def run_model(run: RunInfo) -> RunModel:
    return RunModel(id=run.id, tenant=run.tenant, target=run.target, kind=run.kind, trigger=run.trigger,
                    status=run.status, started_at=run.started_at, finished_at=run.finished_at, plan_id=run.plan_id,
                    approved_by=run.approved_by, message=run.message, summary=run.summary)


def plan_model(record: PlanRecord) -> PlanRecordModel:
    return PlanRecordModel(**{k: v for k, v in record.to_json().items() if k != "lineage"})


def journal_item(entry: JournalEntry) -> JournalItem:
    return JournalItem(id=entry.id, run_id=entry.run_id, at=entry.at, key=entry.key, kind=entry.kind,
                       action=entry.action, outcome=entry.outcome, school=entry.school, label=entry.label,
                       reason=entry.reason, code=entry.code, message=entry.message, before=entry.before,
                       after=entry.after)


def _backoff(held: TargetBackoff | None) -> dict[str, Any] | None:
    return {"failures": held.failures, "until": iso(held.until)} if held is not None else None


def _lock_model(lock: LockInfo, pending: list[Any]) -> LockModel:
    """The lock, and who started its run when this service runs it (a running request of the target)."""
    running = next((r for r in pending if r.status is RequestStatus.RUNNING), None)
    return LockModel(since=lock.acquired_at, purpose=lock.purpose, host=lock.host, pid=lock.pid,
                     by=running.requested_by if running else None,
                     trigger=running.trigger.value if running else None)


def _progress_model(p: RunProgress) -> ProgressModel:
    return ProgressModel(phase=p.phase.value, done=p.done, total=p.total, percent=p.percent, plan_id=p.plan_id,
                         request_id=p.request_id)


def _who(kind: str, key: str, label: str, people: Mapping[str, PersonLabel]) -> tuple[PersonRef | None, str | None]:
    """A change's person by number, name and klas (never a bare sync key), and a membership's group."""
    if kind == ObjectKind.GROUP.value:
        return None, None
    person_key = key.partition("|")[0] if kind == ObjectKind.MEMBERSHIP.value else key
    name, _arrow, group = label.partition(" → ") if kind == ObjectKind.MEMBERSHIP.value else (label, "", "")
    known = people.get(person_key)
    if known is None:
        return PersonRef(name=name or label or person_key), group or None
    return PersonRef(number=known.number, name=name or known.name, klas=known.klas), group or None


def _change(c: Change, people: Mapping[str, PersonLabel]) -> PlanChange:
    person, group = _who(c.kind.value, c.key, c.label, people)
    fields = []
    if c.action.value == "update" and c.before is not None and c.after is not None:
        fields = [{"field": f, "before": c.before.get(f), "after": c.after.get(f)} for f in c.fields]
    return PlanChange(action=c.action.value, kind=c.kind.value, key=c.key, label=c.label, school=c.school,
                      reason=c.reason, fields=fields, person=person, group=group)


def _slim_change(data: dict[str, Any], people: Mapping[str, PersonLabel]) -> PlanChange:
    person, group = _who(data["kind"], data["key"], data["label"], people)
    return PlanChange(**data, person=person, group=group)


def _pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def sees(viewer: Access | None, tenant: str) -> bool:
    """Whether ``viewer`` may see ``tenant`` (None: the service itself, which sees everything)."""
    return viewer is None or viewer.may(Role.VIEWER, tenant)


def _everything(viewer: Access | None) -> bool:
    return viewer is None or viewer.everywhere(Role.VIEWER)


class Dashboard:
    def __init__(self, koppel: Koppel, queue: RunQueue, plans: PlanCache, *, clock: Clock,
                 schedules: dict[tuple[str, str], Schedule], next_run: Callable[[str, str], dt.datetime | None],
                 notifier: Notifier | None = None, progress: ProgressBoard | None = None):
        self.koppel = koppel
        self.progress = progress if progress is not None else ProgressBoard()
        self.store = koppel.store
        self.config = koppel.config
        self.queue = queue
        self.plans_cache = plans
        self.clock = clock
        self.schedules = schedules
        self.next_run = next_run
        self.notifier = notifier
        self.stats = RunStats(self.store)
        self._by_serial: dict[tuple[str, str, str], tuple[int, Any]] = {}
        self._lock = threading.Lock()

    # -- caches keyed by the state serial ------------------------------------------------------

    def _per_serial(self, what: str, tenant: str, target: str, compute: Callable[[], Any]) -> Any:
        serial = self.store.serial(tenant, target)
        current = serial[1] if serial else -1
        key = (what, tenant, target)
        with self._lock:
            cached = self._by_serial.get(key)
        if cached is not None and cached[0] == current:
            return cached[1]
        value = compute()
        with self._lock:
            self._by_serial[key] = (current, value)
        return value

    def counts(self, tenant: str, target: str) -> dict[str, dict[str, int]]:
        return self._per_serial("counts", tenant, target, lambda: self.store.counts(tenant, target))

    def school_names(self, tenant: str, target: str) -> dict[str, str]:
        """BRIN6 → school name, from the school groups koppel manages."""
        def compute() -> dict[str, str]:
            return self.store.school_names(tenant, target)
        return self._per_serial("schools", tenant, target, compute)

    # -- overview and target ---------------------------------------------------------------------

    def visible(self, viewer: Access | None) -> list[str]:
        """The configured tenants ``viewer`` may see, in the configuration's order."""
        return [tid for tid in self.config.tenants if sees(viewer, tid)]

    def overview(self, tenant: str | None = None, *, page: int = 1, viewer: Access | None = None) -> Overview:
        """Every tenant's targets, 25 tenants a page (a service provider runs hundreds)."""
        tenants = [self._tenant(tenant, viewer)] if tenant else \
            [self.config.tenants[tid] for tid in self.visible(viewer)]
        pages = _pages(len(tenants), TENANT_PAGE)
        page = min(max(1, page), pages)
        shown = tenants[(page - 1) * TENANT_PAGE: page * TENANT_PAGE]
        return Overview(tenants=[self._tenant_card(ten) for ten in shown], page=page, pages=pages)

    def _tenant(self, tenant_id: str, viewer: Access | None = None):
        tenant = self.config.tenants.get(tenant_id)
        if tenant is None or not sees(viewer, tenant_id):
            raise NotFound(f"no tenant {tenant_id!r}")
        return tenant

    def _tenant_card(self, tenant) -> TenantCard:
        latest = self.store.latest_source_read(tenant.id)
        read = None if latest is None else {k: latest[k] for k in ("at", "status", "school_year", "errors",
                                                                   "warnings", "message")}
        return TenantCard(tenant=tenant.id, name=tenant.name, last_read=read,
                          targets=[self.card(tenant.id, name) for name in tenant.targets])

    def card(self, tenant_id: str, target_name: str, *, school: str | None = None,
             viewer: Access | None = None) -> TargetCard:
        tenant = self._tenant(tenant_id, viewer)
        target = tenant.targets.get(target_name)
        if target is None:
            raise NotFound(f"no target {target_name!r} in tenant {tenant_id!r}")
        runs = self.store.runs(tenant.id, target.name, limit=1)
        lock = self.store.current_lock(tenant.id, target.name)
        schedule = self.schedules.get((tenant.id, target.name))
        next_run = self.next_run(tenant.id, target.name)
        pending = self.queue.pending(tenant.id, target.name)
        approving = {r.plan_id for r in pending if r.kind is RequestKind.APPROVE}
        return TargetCard(
            tenant=tenant.id, target=target.name, kind=target.kind, enabled=target.enabled,
            schedule=schedule.describe() if schedule else None,
            next_run=next_run.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if next_run else None,
            last_run=run_model(runs[0]) if runs else None,
            held_plans=[plan_model(p) for p in self.store.plans(tenant.id, target.name, status=["held"], limit=20)
                        if p.id not in approving],
            objects=self.counts(tenant.id, target.name),
            pending=[RequestModel(**r.to_json()) for r in pending],
            busy=_lock_model(lock, pending) if lock else None,
            progress=self._progress(tenant.id, target.name),
            backoff=_backoff(self.queue.backoff_of(tenant.id, target.name)),
            chart=self._chart(tenant.id, target.name, school),
        )

    def _chart(self, tenant: str, target: str, school: str | None) -> list[ChartPoint]:
        points = self.stats.points(tenant, target, since=since_days(self.clock(), CHART_DAYS))
        out = []
        for p in points:
            changes, errors = (p.schools.get(school, (0, 0)) if school else (p.changes, p.errors))
            out.append(ChartPoint(run_id=p.run_id, started_at=p.started_at, status=p.status, changes=changes,
                                  errors=errors))
        return out

    def target(self, tenant: str, target: str, *, school: str | None = None,
               viewer: Access | None = None) -> TargetPage:
        card = self.card(tenant, target, school=school, viewer=viewer)
        totals: dict[str, list[int]] = {}
        for p in self.stats.points(tenant, target, since=since_days(self.clock(), CHART_DAYS)):
            for name, (changes, errors) in p.schools.items():
                slot = totals.setdefault(name, [0, 0])
                slot[0] += changes
                slot[1] += errors
        names = self.school_names(tenant, target)
        schools = [SchoolTotal(school=s, name=names.get(s), changes=c, errors=e)
                   for s, (c, e) in sorted(totals.items())]
        return TargetPage(card=card, school=school, schools=schools,
                          runs=[run_model(r) for r in self.store.runs(tenant, target, limit=20)],
                          requests=[RequestModel(**r.to_json()) for r in self.queue.recent(tenant, target, limit=20)])

    # -- plans -------------------------------------------------------------------------------------

    def _scope(self, tenant: str | None, viewer: Access | None) -> list[str | None]:
        """The tenants a list asks the store about: ``[None]`` for all of them (one query), else each
        tenant the caller may see (none: an empty list)."""
        if tenant:
            return [tenant] if sees(viewer, tenant) else []
        if _everything(viewer):
            return [None]
        return list(self.visible(viewer))

    def _plans(self, scope: list[str | None], *, status: list[str] | None, limit: int) -> list[PlanRecord]:
        found = [p for tid in scope for p in self.store.plans(tid, status=status, limit=limit)]
        if len(scope) > 1:
            found.sort(key=lambda p: p.created_at, reverse=True)
        return found[:limit]

    def plans(self, tenant: str | None = None, *, viewer: Access | None = None) -> PlanList:
        """Held plans still waiting (an approved one being applied waits no more), and the recent ones."""
        scope = self._scope(tenant, viewer)
        approving = {r.plan_id for r in self.queue.pending(tenant) if r.kind is RequestKind.APPROVE} if scope else set()
        return PlanList(held=[plan_model(p) for p in self._plans(scope, status=["held"], limit=100)
                              if p.id not in approving],
                        recent=[plan_model(p) for p in self._plans(scope, status=None, limit=50)])

    def plan_record(self, plan_id: str, *, viewer: Access | None = None) -> PlanRecord:
        """The plan (an id, or a unique prefix of one), or NotFound — also when the caller may not see its tenant.

        A caller who may not see every tenant must give the whole id: whether a prefix is unique depends on
        the plans of every tenant, so answering prefixes would tell it that another tenant has a plan that
        starts the same way."""
        try:
            record = self.store.plan_record(plan_id)
        except PlanNotFound:
            raise NotFound(f"no plan {plan_id!r}") from None
        if not sees(viewer, record.tenant) or (not _everything(viewer) and record.id != plan_id):
            raise NotFound(f"no plan {plan_id!r}")
        return record

    def plan(self, plan_id: str, *, action: str | None = None, school: str | None = None, page: int = 1,
             q: str = "", viewer: Access | None = None, changes: bool = False) -> PlanPage:
        """The plan's review page. ``changes`` pages through every change even without a filter (the API's
        answer); the page itself lists changes only for a filter and shows a review otherwise."""
        record = self.plan_record(plan_id, viewer=viewer)
        digest = self.plans_cache.get(record.id)
        review = digest.review
        assert review is not None, "the plan cache reviews every plan it keeps"
        people = review.people
        found: list[Change] = []
        if q.strip():
            found = search_changes(review.plan, q, people)
            found.sort(key=lambda c: c.action not in REMOVALS)  # removals first, plan order within
        total, _ = digest.page(action=action, school=school, offset=0, size=0)
        pages = _pages(total, PLAN_PAGE)
        page = min(max(1, page), pages)
        # Without a filter the page is a review (removals, samples, counts, search), not a list of every change:
        # ``changes`` lists a filter's matches only.
        shown: list[SlimChange] = []
        if action or school or changes:
            _, shown = digest.page(action=action, school=school, offset=(page - 1) * PLAN_PAGE, size=PLAN_PAGE)
        pending = [RequestModel(**r.to_json()) for r in self.queue.pending(record.tenant, record.target)
                   if r.kind is RequestKind.APPROVE and r.plan_id == record.id]
        return PlanPage(
            record=plan_model(record), today=digest.today, school_year=digest.school_year, summary=digest.summary,
            breakdown=digest.breakdown, school_names=self.school_names(record.tenant, record.target),
            notes=digest.notes, diagnostics=digest.diagnostics, policy=digest.policy,
            groups=[PlanGroup(action=a, school=s, count=n) for a, s, n in digest.group_counts()],
            action=action, school=school, page=page, pages=pages,
            changes=[_slim_change(c.to_json(), people) for c in shown], pending=pending,
            can_decide=record.status == "held" and not pending, total=total, superseded_by=superseded_by(record),
            removals=[_change(c, people) for c in review.removals], removal_total=review.removal_total,
            samples=[PlanSample(action=a, kind=k, total=n, changes=[_change(c, people) for c in chosen])
                     for (a, k), (chosen, n) in review.samples.items()],
            klassen=[KlasCount(school=name.partition(" ")[0], klas=name.partition(" ")[2], counts=counts)
                     for name, counts in list(review.klassen.items())[:KLAS_LIMIT]],
            klas_total=len(review.klassen), q=q.strip(),
            found=[_change(c, people) for c in found[:SEARCH_LIMIT]], found_total=len(found),
            progress=self._progress(record.tenant, record.target, plan_id=record.id),
        )

    def _progress(self, tenant: str, target: str, *, plan_id: str | None = None) -> ProgressModel | None:
        current = self.progress.get(tenant, target)
        if current is None or (plan_id is not None and current.plan_id != plan_id):
            return None
        return _progress_model(current)

    # -- runs ---------------------------------------------------------------------------------------

    def runs(self, tenant: str | None = None, target: str | None = None, *, page: int = 1,
             viewer: Access | None = None) -> RunList:
        page = max(1, page)
        scope = self._scope(tenant, viewer)
        offset = (page - 1) * RUN_PAGE
        if len(scope) == 1:
            found = self.store.runs(scope[0], target, limit=RUN_PAGE + 1, offset=offset)
        else:  # several tenants the caller may see (or none): the newest of each, merged
            merged = [r for tid in scope for r in self.store.runs(tid, target, limit=offset + RUN_PAGE + 1)]
            merged.sort(key=lambda r: r.id, reverse=True)
            found = merged[offset: offset + RUN_PAGE + 1]
        runs = [run_model(r) for r in found[:RUN_PAGE]]
        return RunList(runs=runs, page=page, has_more=len(found) > RUN_PAGE)

    def run(self, run_id: int, *, page: int = 1, viewer: Access | None = None) -> RunPage:
        run = self.store.run(run_id)
        if run is None or not sees(viewer, run.tenant):
            raise NotFound(f"no run {run_id}")
        page = max(1, page)
        progress = None
        if run.status == RunStatus.RUNNING:
            progress = self._progress(run.tenant, run.target, plan_id=run.plan_id)
        outcomes = run.summary.get("outcomes")
        if isinstance(outcomes, dict) and not any(outcomes.get(o) for o in _PROBLEMS):
            return RunPage(run=run_model(run), problems=[], page=page, has_more=False, progress=progress)
        # Ordered by outcome first so the (run_id, outcome) index serves the query (migration 0002).
        rows = self.store.run_journal_by_outcome(run_id, _PROBLEMS, limit=PROBLEM_PAGE + 1,
                                                 offset=(page - 1) * PROBLEM_PAGE)
        items = [journal_item(entry) for entry in rows[:PROBLEM_PAGE]]
        return RunPage(run=run_model(run), problems=items, page=page, has_more=len(rows) > PROBLEM_PAGE,
                       progress=progress)

    # -- persons -------------------------------------------------------------------------------------

    def persons(self, q: str, *, tenant: str | None = None, viewer: Access | None = None) -> PersonSearch:
        q = q.strip()
        if tenant:
            self._tenant(tenant, viewer)
        if not q:
            return PersonSearch(q=q, tenant=tenant, matches=[])
        tenants = [tenant] if tenant else self.visible(viewer)
        matches = []
        for tenant_id in tenants:
            matches += [_person(tenant_id, m) for m in self.store.find_persons(tenant_id, None, q, limit=50)]
        return PersonSearch(q=q, tenant=tenant, matches=matches[:100])

    def timeline(self, tenant: str, key: str, *, explain: bool = False, group: str | None = None,
                 viewer: Access | None = None) -> Timeline:
        """The person's history; with ``explain`` also ``koppel explain``'s answer (it reads the LAS: only
        when asked), for ``group`` when given."""
        self._tenant(tenant, viewer)
        person = self.store.person(tenant, key)
        if person is None:
            raise NotFound(f"no person {key!r} in tenant {tenant!r}")
        entries = self.store.history(tenant, None, key)
        answer = self.explain(tenant, person, group) if explain or group else None
        return Timeline(person=_person(tenant, person), entries=[journal_item(e) for e in entries], explain=answer)

    def explain(self, tenant: str, person: dict[str, Any], group: str | None) -> ExplainPage:
        asked = group.strip() if group and group.strip() else None
        try:
            found = explain(self.koppel, tenant, person.get("target"), person["key"], asked)
        except KoppelError as exc:
            return ExplainPage(asked=asked, error=str(exc))
        return ExplainPage(asked=asked, explanation=found.to_json())

    # -- data quality and configuration -------------------------------------------------------------

    def quality(self, tenant: str | None = None, *, severity: str | None = None, page: int = 1,
                viewer: Access | None = None) -> QualityPage:
        if tenant:
            tenant_cfg = self._tenant(tenant, viewer)
        else:
            shown = self.visible(viewer)
            if not shown:
                raise NotFound("no tenant you may see")
            tenant_cfg = self.config.tenants[shown[0]]
        latest = self.store.latest_source_read(tenant_cfg.id)
        if latest is None:
            return QualityPage(tenant=tenant_cfg.id)
        diagnostics = latest.pop("diagnostics")
        counts: dict[str, dict[str, int]] = {}
        for d in diagnostics:
            bucket = counts.setdefault(d.get("severity", "error"), {})
            bucket[d.get("code", "?")] = bucket.get(d.get("code", "?"), 0) + 1
        if severity:
            diagnostics = [d for d in diagnostics if d.get("severity") == severity]
        pages = _pages(len(diagnostics), QUALITY_PAGE)
        page = min(max(1, page), pages)
        shown = diagnostics[(page - 1) * QUALITY_PAGE: page * QUALITY_PAGE]
        read = {k: latest[k] for k in ("at", "status", "school_year", "counts", "sources", "errors", "warnings",
                                       "message")}
        return QualityPage(tenant=tenant_cfg.id, read=read, counts=counts, severity=severity, page=page, pages=pages,
                           diagnostics=[Diagnostic(**{k: d.get(k) for k in Diagnostic.model_fields}) for d in shown])

    def configuration(self, *, viewer: Access | None = None) -> ConfigPage:
        """The configuration, secrets masked. A caller who may not see every tenant gets only the tenants
        it may see (and not the file as written, which has them all)."""
        view = public_view(self.config)
        webhook = view.get("service", {}).get("webhook") if isinstance(view.get("service"), dict) else None
        if isinstance(webhook, dict) and isinstance(webhook.get("url"), str):
            webhook["url"] = _mask_url_path(webhook["url"])
        whole = _everything(viewer)
        if not whole and isinstance(view.get("tenants"), dict):
            view["tenants"] = {tid: section for tid, section in view["tenants"].items() if sees(viewer, tid)}
        schedules = {
            f"{ten.id}/{tgt.name}": (self.schedules[(ten.id, tgt.name)].describe()
                                     if (ten.id, tgt.name) in self.schedules else None)
            for ten in self.config.tenants.values() if sees(viewer, ten.id) for tgt in ten.targets.values()
        }
        notices = self.notifier.recent(limit=20 if whole else 200) if self.notifier else []
        notices = [n for n in notices if sees(viewer, str(n.get("tenant")))][:20]
        return ConfigPage(file=str(self.config.path) if self.config.path else None, config=view,
                          schedules=schedules, notifications=notices, whole=whole)


def _person(tenant: str, match: dict[str, Any]) -> PersonMatch:
    meta = match.get("meta") or {}
    return PersonMatch(tenant=tenant, target=match["target"], key=match["key"], label=match.get("label"),
                       status=match["status"], school=match.get("school"),
                       leerlingnummer=meta.get("leerlingnummer"), docentcode=meta.get("docentcode"))


def _mask_url_path(url: str) -> str:
    """A webhook URL often carries its secret in the path (chat services do): show only where it goes."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "********"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}/********"
