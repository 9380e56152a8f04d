"""Status, run and history renderings (pure functions of what the store returns).

Names, labels, reasons and messages come from the LAS or the platform: they are shown through
:func:`koppel.textsafe.printable`, never as terminal controls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from koppel.model.status import JournalOutcome, PlanStatus
from koppel.runs import superseded_by
from koppel.state.store import JournalEntry, RunInfo
from koppel.textsafe import printable

if TYPE_CHECKING:
    from koppel.pipeline import Koppel

SYMBOL = {"create": "+", "update": "~", "suspend": "-", "restore": "^", "archive": ">", "delete": "x", "adopt": "="}


def status_data(app: Koppel, tenant_id: str | None) -> dict[str, Any]:
    """Everything `koppel status` shows, as data (the dashboard's overview reads the same)."""
    tenants = [app.config.tenant(tenant_id)] if tenant_id else list(app.config.tenants.values())
    store = app.store
    out: dict[str, Any] = {"tenants": []}
    for tenant in tenants:
        targets = []
        for name, target in tenant.targets.items():
            app.mark_stale_plans(tenant.id, name)  # a held plan the state moved past
            runs = store.runs(tenant.id, name, limit=5)
            held = store.plans(tenant.id, name, status=[PlanStatus.HELD])
            held_ids = {p.id for p in held}
            superseded = [
                {"id": p.id, "created_at": p.created_at, "superseded_by": newer,
                 "message": app.superseded_message(p.id, newer)}
                for p in store.plans(tenant.id, name, status=[PlanStatus.SUPERSEDED], limit=20)
                if (newer := superseded_by(p)) in held_ids  # what the plan waiting now replaced
            ]
            lock = store.current_lock(tenant.id, name)
            verdict = store.lock_verdict(lock) if lock else None
            targets.append({
                "target": name,
                "kind": target.kind,
                "enabled": target.enabled,
                "objects": store.counts(tenant.id, name),
                "last_runs": [_run_json(r) for r in runs],
                "held_plans": [p.to_json() for p in held],
                "superseded_plans": superseded,
                "lock": {**lock.__dict__, "stale": verdict[0], "why": verdict[1]} if lock and verdict else None,
            })
        latest = store.latest_source_read(tenant.id)
        out["tenants"].append({
            "tenant": tenant.id,
            "name": tenant.name,
            "school_year": app.school_year(tenant).to_json(),
            "targets": targets,
            "last_source_read": None if latest is None else {
                k: latest[k] for k in ("at", "status", "school_year", "counts", "errors", "warnings", "message")
            },
        })
    return out


def _run_json(run: RunInfo) -> dict[str, Any]:
    return {k: v for k, v in run.__dict__.items()}


def render_status(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for t in data["tenants"]:
        lines.append(f"Tenant {t['tenant']} ({t['name']})")
        year = t.get("school_year")
        if year:
            lines.append(f"  school year {year['year']} ({year['why']})")
        read = t.get("last_source_read")
        if read:
            lines.append(f"  last source read {read['at']}: {read['status']}, school year {read['school_year']}, "
                         f"{read['errors']} error(s), {read['warnings']} warning(s)"
                         + (f" — {printable(read['message'])}" if read.get("message") else ""))
        for g in t["targets"]:
            objects = g["objects"]
            managed = ", ".join(
                f"{sum(v.values()):,} {k}s" + (f" ({', '.join(f'{n:,} {s}' for s, n in sorted(v.items()) if s != 'active')})"
                                               if any(s != 'active' for s in v) else "")
                for k, v in sorted(objects.items())
            ) or "nothing yet"
            lines.append(f"  target {g['target']} ({g['kind']}{'' if g['enabled'] else ', disabled'}): {managed}")
            if g["lock"]:
                lk = g["lock"]
                lines.append(f"    busy: {lk['purpose']} by pid {lk['pid']} on {printable(lk['host'])} since {lk['acquired_at']}, "
                             f"last heartbeat {lk['heartbeat_at']}")
                if lk.get("stale"):
                    lines.append(f"      ! stale: {lk['why']}; `koppel unlock` removes it (the next run takes it over)")
            for p in g["held_plans"]:
                summary = ", ".join(f"{v} {k}" for k, v in p["summary"].items() if v)
                lines.append(f"    HELD plan {p['id']} ({p['created_at']}): {summary}")
                for h in p["holds"]:
                    lines.append(f"      ! {printable(h['message'])}")
                lines.append(f"      approve: koppel apply --approve {p['id']}")
            for p in g.get("superseded_plans", ()):
                lines.append(f"    superseded: {printable(p['message'])}")
            if not g["last_runs"]:
                lines.append("    no runs yet")
            for r in g["last_runs"]:
                counts = r["summary"].get("outcomes") or r["summary"].get("plan") or {}
                text = ", ".join(f"{v:,} {k}" for k, v in counts.items() if v) or "no changes"
                lines.append(f"    run {r['id']} {r['kind']} {r['started_at']} {r['status']}: {text}"
                             + (f" (approved by {printable(r['approved_by'])})" if r.get("approved_by") else ""))
        lines.append("")
    return "\n".join(lines)


def render_load(load: dict[str, Any]) -> str:
    """The load a run put on the target, in one line (run summary and `koppel status --run N`)."""
    flight, per_op, limit = load["operations_in_flight"], load["ms_per_operation"], load["limit"]
    budget = (f"adaptive, limit {limit['min']:g}–{limit['max']:g}, ended at {limit['end']:g}" if load["adaptive"]
              else "pinned")
    text = (f"Load: operations in flight p50 {flight['p50']:g}, p95 {flight['p95']:g}, max {flight['max']:g} of a "
            f"ceiling of {load['ceiling']} ({budget}); {per_op['p50']:g} ms per operation (p95 {per_op['p95']:g}); "
            f"the limiter backed off {load['backoffs']} time(s)")
    extras = [f"{load['busy']} busy answer(s)" if load.get("busy") else "",
              f"{load['splits']} batch(es) split to isolate a refused object" if load.get("splits") else "",
              f"paused {load['paused_s']:g} s for Retry-After" if load.get("paused_s") else ""]
    extras = [e for e in extras if e]
    return text + ("; " + ", ".join(extras) if extras else "") + "."


def render_run(run: RunInfo, problems: list[JournalEntry]) -> str:
    lines = [f"Run {run.id} — {run.kind} for {run.tenant} → {run.target}, {run.started_at} … {run.finished_at or ''}: "
             f"{run.status}"]
    if run.message:
        lines.append(f"  {printable(run.message)}")
    for k, v in (run.summary.get("outcomes") or {}).items():
        lines.append(f"  {k}: {v:,}")
    if run.summary.get("load"):
        lines.append(f"  {run.summary.get('requests', 0):,} requests, {run.summary.get('retries', 0):,} retries, "
                     f"{run.summary.get('seconds', 0):.1f} s")
        lines.append("  " + render_load(run.summary["load"]))
    if problems:
        lines.append("Per-object problems:")
        for e in problems:
            lines.append(f"  {e.outcome:<8} {e.action} {e.kind} {printable(e.key)} {printable(e.label or '')}")
            lines.append(f"           {printable(e.message or '')}" + (f" [{printable(e.code)}]" if e.code else ""))
    return "\n".join(lines) + "\n"


def render_history(person: dict[str, Any], entries: list[JournalEntry]) -> str:
    meta = person.get("meta", {})
    ids = ", ".join(f"{k} {printable(v)}" for k, v in meta.items() if k in ("leerlingnummer", "docentcode", "las_key"))
    lines = [f"{printable(person['label'])} — {printable(person['key'])} ({ids}) [{printable(person['school'])}], now {person['status']}"]
    if not entries:
        lines.append("  no changes recorded")
    for e in entries:
        what = "" if e.kind == "person" else f" {printable(e.label or e.key)}"
        lines.append(f"  {e.at}  {SYMBOL.get(e.action, '?')} {e.action} {e.kind}{what}  [{e.outcome}, run {e.run_id}]")
        if e.reason:
            lines.append(f"      why: {printable(e.reason)}")
        if e.message and e.outcome != JournalOutcome.DONE:
            lines.append(f"      {printable(e.message)}")
    return "\n".join(lines) + "\n"


def render_drift(report: Any) -> str:
    lines = ["Reconciliation: " + ("complete" if report.complete else "INCOMPLETE (see notes)")]
    checked = ", ".join(f"{n:,} {k}s" for k, n in report.checked.items())
    lines.append(f"  checked {checked}")
    if report.clean:
        lines.append("  no drift: the platform holds what koppel sent.")
    if report.changed:
        lines.append(f"Changed by hand ({len(report.changed)}):")
        for d in report.changed:
            lines.append(f"  ~ {d.kind} {printable(d.key)} {printable(d.label)}")
            for name, (ours, theirs) in d.fields.items():
                lines.append(f"      {name}: koppel sent {ours!r}, the platform has {theirs!r}")
    if report.missing:
        lines.append(f"Removed by hand ({len(report.missing)}):")
        lines += [f"  - {m['kind']} {printable(m['key'])} {printable(m['label'])}" for m in report.missing]
    if report.unknown:
        lines.append(f"In the platform with a sync key koppel does not manage ({len(report.unknown)}):")
        lines += [f"  ? {u['kind']} {printable(u['key'])}" for u in report.unknown]
    if report.manual:
        lines.append(f"Accounts made by hand: {report.manual}")
    if report.candidates:
        lines.append("Manual accounts that match a LAS person (adopt after review with "
                     "`koppel reconcile --adopt ACCOUNT=PERSON`):")
        for c in report.candidates:
            lines.append(f"  = {printable(c.username or c.target_id)} ({printable(c.platform_name)}) ↔ {printable(c.person_key)} "
                         f"{printable(c.person_label)} "
                         f"[matched on {', '.join(c.matched_on)}]")
    if report.notes:
        lines.append("Notes:")
        lines += [f"  • {printable(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"
