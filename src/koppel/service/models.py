"""The data of every dashboard page, as typed models: the JSON API returns them, the HTML renders them.

One model per page keeps the two twins identical by construction — a page cannot show what its JSON
does not carry — and gives the OpenAPI description its schemas. Field names follow the state store;
timestamps are the store's ISO-8601 UTC strings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ActionResult",
    "ChartPoint",
    "ConfigPage",
    "Diagnostic",
    "ExplainPage",
    "HoldModel",
    "JournalItem",
    "KlasCount",
    "LockModel",
    "Overview",
    "PersonMatch",
    "PersonRef",
    "PersonSearch",
    "PlanChange",
    "PlanGroup",
    "PlanList",
    "PlanPage",
    "PlanRecordModel",
    "PlanSample",
    "ProgressModel",
    "QualityPage",
    "RequestModel",
    "RunList",
    "RunModel",
    "RunPage",
    "SchoolTotal",
    "TargetCard",
    "TargetPage",
    "TenantCard",
    "Timeline",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProgressModel(_Model):
    """How far a run of this service is, while it works."""

    phase: str = Field(description="planning | applying")
    done: int
    total: int | None = None
    percent: int | None = None
    plan_id: str | None = None
    request_id: int


class LockModel(_Model):
    """Who holds a target's run lock: since when, and who or what started the run."""

    since: str
    purpose: str | None = None
    host: str
    pid: int
    by: str | None = Field(None, description="The person or token whose request runs, when this service runs it.")
    trigger: str | None = Field(None, description="schedule | manual | api, when this service runs it.")


class RunModel(_Model):
    id: int
    tenant: str
    target: str
    kind: str = Field(description="sync | apply | plan | reconcile")
    trigger: str = Field(description="schedule | manual | api | cli | demo")
    status: str = Field(description="running | succeeded | partial | failed | held | stopped")
    started_at: str
    finished_at: str | None = None
    plan_id: str | None = None
    approved_by: str | None = None
    message: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict, description="Counts per action and outcome.")


class HoldModel(_Model):
    guard: str
    kind: str
    school: str | None = None
    count: int
    total: int
    limit: str
    message: str


class PlanRecordModel(_Model):
    id: str
    tenant: str
    target: str
    created_at: str
    status: str = Field(description="saved | held | applied | discarded | stale")
    serial: int
    held: bool
    holds: list[HoldModel]
    summary: dict[str, int]
    approved_by: str | None = None
    approved_at: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    run_id: int | None = None


class RequestModel(_Model):
    """A queued run: "nu synchroniseren", an approval or a scheduled moment."""

    id: int
    tenant: str
    target: str
    kind: str = Field(description="sync | approve")
    plan_id: str | None = None
    trigger: str = Field(description="schedule | manual | api")
    requested_by: str | None = None
    requested_at: str
    status: str = Field(description="queued | running | done | skipped | failed")
    started_at: str | None = None
    finished_at: str | None = None
    run_id: int | None = None
    message: str | None = None
    job_status: str | None = Field(None, description="With engine = procrastinate, the job in its queue: waiting "
                                   "(for a worker) | running | retrying | failed | missing (the request's job "
                                   "vanished from the queue); null with the in-process engine.")
    job_id: int | None = Field(None, description="procrastinate's job id.")
    job_worker: int | None = Field(None, description="procrastinate's id of the worker running the job.")
    job_since: str | None = Field(None, description="running: when the worker started the job; retrying: when "
                                  "it is tried again.")
    job_attempts: int = Field(0, description="Attempts of the job so far (a retried job has more than 0).")


class ChartPoint(_Model):
    run_id: int
    started_at: str
    status: str
    changes: int = Field(description="Objects the target confirmed in this run (for the school, when filtered).")
    errors: int = Field(description="Objects that failed or were skipped.")


class SchoolTotal(_Model):
    school: str
    name: str | None = None
    changes: int
    errors: int


class TargetCard(_Model):
    tenant: str
    target: str
    kind: str
    enabled: bool
    schedule: str | None = Field(None, description="The schedule, or null for manual runs only.")
    next_run: str | None = None
    last_run: RunModel | None = None
    held_plans: list[PlanRecordModel]
    objects: dict[str, dict[str, int]] = Field(description="Objects managed, per kind and status.")
    pending: list[RequestModel] = Field(description="Queued and running requests.")
    busy: LockModel | None = Field(None, description="Who holds the run lock, when someone does.")
    progress: ProgressModel | None = Field(None, description="How far this service's run of the target is.")
    backoff: dict[str, Any] | None = Field(None, description="After failed syncs in a row: {failures, until}; "
                                           "the schedule leaves the target alone until then (see docs/workers.md).")
    chart: list[ChartPoint]


class TenantCard(_Model):
    tenant: str
    name: str
    last_read: dict[str, Any] | None = None
    targets: list[TargetCard]


class Overview(_Model):
    tenants: list[TenantCard]
    page: int = 1
    pages: int = 1


class TargetPage(_Model):
    card: TargetCard
    school: str | None = Field(None, description="The school the chart is filtered on.")
    schools: list[SchoolTotal] = Field(description="Changes and errors per school over the chart's period.")
    runs: list[RunModel]
    requests: list[RequestModel]


class PlanList(_Model):
    held: list[PlanRecordModel]
    recent: list[PlanRecordModel]


class PersonRef(_Model):
    """A person as a school knows them: leerlingnummer or docentcode, name and klas."""

    number: str | None = None
    name: str
    klas: str | None = None


class PlanChange(_Model):
    action: str
    kind: str
    key: str
    label: str
    school: str | None = None
    reason: str
    fields: list[dict[str, Any]] = Field(default_factory=list, description="Changed fields of an update.")
    person: PersonRef | None = Field(None, description="The person of a person or membership change.")
    group: str | None = Field(None, description="The group of a membership change, by name.")


class PlanSample(_Model):
    action: str
    kind: str
    total: int
    changes: list[PlanChange]


class KlasCount(_Model):
    school: str
    klas: str
    counts: dict[str, int]


class PlanGroup(_Model):
    action: str
    school: str
    count: int


class PlanPage(_Model):
    record: PlanRecordModel
    today: str
    school_year: str
    summary: dict[str, int]
    breakdown: dict[str, dict[str, dict[str, int]]] = Field(description="Counts per kind and per school.")
    school_names: dict[str, str]
    notes: list[str]
    diagnostics: dict[str, int]
    policy: dict[str, Any]
    groups: list[PlanGroup] = Field(description="Changes per action and school, in plan order.")
    action: str | None = None
    school: str | None = None
    page: int
    pages: int
    changes: list[PlanChange] = Field(description="This page of the changes matching the action or school filter "
                                                  "(empty without a filter: see removals, samples and search).")
    pending: list[RequestModel] = Field(description="An approval being applied.")
    can_decide: bool = Field(description="Held and not yet being applied: approve or discard are possible.")
    total: int = Field(0, description="How many changes match the action and school filters.")
    superseded_by: str | None = Field(None, description="The newer plan that replaced this one.")
    removals: list[PlanChange] = Field(default_factory=list, description="The first removals: persons, then groups, then memberships.")
    removal_total: int = 0
    samples: list[PlanSample] = Field(default_factory=list, description="A sample of every other action × kind.")
    klassen: list[KlasCount] = Field(default_factory=list, description="Person and membership changes per klas.")
    klas_total: int = 0
    q: str = ""
    found: list[PlanChange] = Field(default_factory=list, description="The first changes matching q.")
    found_total: int = 0
    progress: ProgressModel | None = None


class RunList(_Model):
    runs: list[RunModel]
    page: int
    has_more: bool


class JournalItem(_Model):
    id: int
    run_id: int
    at: str
    key: str
    kind: str
    action: str
    outcome: str
    school: str | None = None
    label: str | None = None
    reason: str | None = None
    code: str | None = None
    message: str | None = Field(None, description="The target's own description (itslearning: its message).")
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class RunPage(_Model):
    run: RunModel
    problems: list[JournalItem]
    page: int
    has_more: bool
    progress: ProgressModel | None = Field(None, description="Phase and changes done while the run works.")


class PersonMatch(_Model):
    tenant: str
    target: str
    key: str
    label: str | None = None
    status: str
    school: str | None = None
    leerlingnummer: str | None = None
    docentcode: str | None = None


class PersonSearch(_Model):
    q: str
    tenant: str | None = None
    matches: list[PersonMatch]


class ExplainPage(_Model):
    """``koppel explain`` on the person page: groups now, pending changes, and why (not) in a group."""

    asked: str | None = None
    explanation: dict[str, Any] | None = Field(None, description="koppel.explain's Explanation.to_json().")
    error: str | None = Field(None, description="Why there is no explanation (the LAS could not be read, …).")


class Timeline(_Model):
    person: PersonMatch
    entries: list[JournalItem]
    explain: ExplainPage | None = Field(None, description="The explain answer, when asked for.")


class Diagnostic(_Model):
    severity: str
    code: str
    message: str
    source: str | None = None
    file: str | None = None
    line: int | None = None
    field: str | None = None
    object: str | None = None


class QualityPage(_Model):
    tenant: str
    read: dict[str, Any] | None = Field(None, description="When, status, school year, counts, sources.")
    counts: dict[str, dict[str, int]] = Field(default_factory=dict, description="Findings per severity and check.")
    severity: str | None = None
    page: int = 1
    pages: int = 1
    diagnostics: list[Diagnostic] = Field(default_factory=list)


class ConfigPage(_Model):
    file: str | None = None
    config: dict[str, Any] = Field(description="koppel.toml with every secret masked.")
    schedules: dict[str, str | None] = Field(description="tenant/target → schedule description.")
    notifications: list[dict[str, Any]] = Field(description="The last notices sent.")
    whole: bool = Field(True, description="Whether this is the whole configuration; false when the caller may not "
                                          "see every tenant (then only its tenants are shown, not the file).")


class ActionResult(_Model):
    """What a POST did: the request it queued, or the plan it decided."""

    ok: bool
    message: str
    request: RequestModel | None = None
    plan: PlanRecordModel | None = None

