"""Status, run and history renderings (pure functions of what the store returns).

Names, labels, reasons and messages come from the LAS or the platform: they are shown through
:func:`koppel.textsafe.printable`, never as terminal controls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from koppel.cli.summaries import run_status
from koppel.locale import Language, language
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


def render_status(data: dict[str, Any], lang: Language | None = None) -> str:
    t = lang or language("en")
    lines: list[str] = []
    for tenant in data["tenants"]:
        lines += _tenant_lines(tenant, t)
        for g in tenant["targets"]:
            lines += _target_lines(g, t)
        lines.append("")
    return "\n".join(lines)


def _tenant_lines(tenant: dict[str, Any], t: Language) -> list[str]:
    lines = [t._("Tenant {id} ({name})").format(id=tenant["tenant"], name=tenant["name"])]
    year = tenant.get("school_year")
    if year:
        lines.append("  " + t._("school year {year} ({why})").format(year=year["year"], why=_why(year, t)))
    read = tenant.get("last_source_read")
    if read:
        counts = ", ".join((t.ngettext("{n} error", "{n} errors", read["errors"]).format(n=t.num(read["errors"])),
                            t.ngettext("{n} warning", "{n} warnings", read["warnings"])
                            .format(n=t.num(read["warnings"]))))
        lines.append("  " + t._("last source read {at}: {status}, school year {year}, {counts}").format(
            at=t.time(read["at"]), status=run_status(t, read["status"]), year=read["school_year"], counts=counts)
            + (f" — {printable(read['message'])}" if read.get("message") else ""))
    return lines


def _why(year: dict[str, Any], t: Language) -> str:
    """Where the school year came from (``year["origin"]``), in words."""
    if t.code == "en":
        return str(year["why"])
    if year.get("origin") == "--year":
        return t._("chosen with --year")
    if year.get("origin") == "koppel.toml":
        return t._("school_year in koppel.toml")
    if year.get("origin") != "auto":
        return str(year["why"])
    _, _, rest = str(year["why"]).partition("today ")
    today, _, start = rest.partition(", year starts ")
    return t._("auto: today {today}, the year starts {start}").format(today=today, start=start)


def _objects(objects: dict[str, dict[str, int]], t: Language) -> str:
    """``1,204 persons (3 suspended), 88 groups`` — or ``nothing yet``."""
    plural = {"person": lambda n: t.ngettext("{n} person", "{n} persons", n),
              "group": lambda n: t.ngettext("{n} group", "{n} groups", n),
              "membership": lambda n: t.ngettext("{n} membership", "{n} memberships", n)}
    parts = []
    for kind, by_status in sorted(objects.items()):
        total = sum(by_status.values())
        text = plural[kind](total).format(n=t.num(total)) if kind in plural else f"{t.num(total)} {kind}s"
        others = [f"{t.num(n)} {run_status(t, s)}" for s, n in sorted(by_status.items()) if s != "active"]
        parts.append(text + (f" ({', '.join(others)})" if others else ""))
    return ", ".join(parts) or t._("nothing yet")


def _target_lines(g: dict[str, Any], t: Language) -> list[str]:
    disabled = "" if g["enabled"] else ", " + t._("disabled")
    lines = ["  " + t._("target {name} ({kind}{disabled}): {objects}").format(
        name=g["target"], kind=g["kind"], disabled=disabled, objects=_objects(g["objects"], t))]
    if g["lock"]:
        lk = g["lock"]
        lines.append("    " + t._("busy: {purpose} by pid {pid} on {host} since {since}, last heartbeat {beat}").format(
            purpose=lk["purpose"], pid=lk["pid"], host=printable(lk["host"]), since=t.time(lk["acquired_at"]),
            beat=t.time(lk["heartbeat_at"])))
        if lk.get("stale"):
            lines.append("      " + t._("! stale: {why}; `koppel unlock` removes it (the next run takes it over)")
                         .format(why=lk["why"]))
    for p in g["held_plans"]:
        summary = ", ".join(f"{t.num(v)} {_action(k, t)}" for k, v in p["summary"].items() if v)
        lines.append("    " + t._("HELD plan {id} ({at}): {summary}").format(id=p["id"], at=t.time(p["created_at"]),
                                                                          summary=summary))
        lines += [f"      ! {printable(t.say(h['message']))}" for h in p["holds"]]
        lines.append("      " + t._("approve: koppel apply --approve {id}").format(id=p["id"]))
    for p in g.get("superseded_plans", ()):
        lines.append("    " + t._("superseded: {message}").format(message=printable(t.say(p["message"]))))
    if not g["last_runs"]:
        lines.append("    " + t._("no runs yet"))
    for r in g["last_runs"]:
        counts = r["summary"].get("outcomes") or r["summary"].get("plan") or {}
        text = ", ".join(f"{t.num(v)} {_action(k, t)}" for k, v in counts.items() if v) or t._("no changes")
        approved = (" " + t._("(approved by {who})").format(who=printable(r["approved_by"]))
                    if r.get("approved_by") else "")
        lines.append("    " + t._("run {id} {kind} {at} {status}: {counts}").format(
            id=r["id"], kind=_run_kind(r["kind"], t), at=t.time(r["started_at"]), status=run_status(t, r["status"]),
            counts=text) + approved)
    return lines


def _action(word: str, t: Language) -> str:
    """A plan summary's or a run's count label (an action or an outcome) in words."""
    from koppel.model.change import Action
    from koppel.plan.render import action_word

    if word in Action._value2member_map_:
        return action_word(Action(word), t)
    return run_status(t, word)


def _run_kind(kind: str, t: Language) -> str:
    words = {"apply": t._("apply"), "sync": t._("sync"), "approve": t._("approve"), "reconcile": t._("reconcile"),
             "takeover": t._("takeover"), "purge": t._("purge")}
    return words.get(kind, kind)


def render_load(load: dict[str, Any], lang: Language | None = None) -> str:
    """The load a run put on the target, in one line (run summary and `koppel status --run N`)."""
    t = lang or language("en")
    flight, per_op, limit = load["operations_in_flight"], load["ms_per_operation"], load["limit"]
    budget = (t._("adaptive, limit {low}–{high}, ended at {end}").format(
        low=t.num(limit["min"]), high=t.num(limit["max"]), end=t.num(limit["end"])) if load["adaptive"]
        else t._("pinned"))
    text = t._("Load: operations in flight p50 {p50}, p95 {p95}, max {max} of a ceiling of {ceiling} ({budget}); "
               "{ms} ms per operation (p95 {ms95}); the limiter backed off {backoffs}").format(
        p50=t.num(flight["p50"]), p95=t.num(flight["p95"]), max=t.num(flight["max"]), ceiling=load["ceiling"],
        budget=budget, ms=t.num(per_op["p50"]), ms95=t.num(per_op["p95"]),
        backoffs=t.ngettext("{n} time", "{n} times", load["backoffs"]).format(n=t.num(load["backoffs"])))
    extras = [t.ngettext("{n} busy answer", "{n} busy answers", load["busy"]).format(n=t.num(load["busy"]))
              if load.get("busy") else "",
              t.ngettext("{n} batch split to isolate a refused object", "{n} batches split to isolate a refused object",
                         load["splits"]).format(n=t.num(load["splits"])) if load.get("splits") else "",
              t._("paused {s} s for Retry-After").format(s=t.num(load["paused_s"])) if load.get("paused_s") else ""]
    extras = [e for e in extras if e]
    return text + ("; " + ", ".join(extras) if extras else "") + "."


def render_run(run: RunInfo, problems: list[JournalEntry], lang: Language | None = None) -> str:
    t = lang or language("en")
    lines = [t._("Run {id} — {kind} for {tenant} → {target}, {started} … {finished}: {status}").format(
        id=run.id, kind=_run_kind(run.kind, t), tenant=run.tenant, target=run.target, started=t.time(run.started_at),
        finished=t.time(run.finished_at) if run.finished_at else "", status=run_status(t, run.status))]
    if run.message:
        lines.append(f"  {printable(t.say(run.message))}")
    for k, v in (run.summary.get("outcomes") or {}).items():
        lines.append(f"  {run_status(t, k)}: {t.num(v)}")
    if run.summary.get("load"):
        requests, retries = run.summary.get("requests", 0), run.summary.get("retries", 0)
        lines.append("  " + ", ".join((
            t.ngettext("{n} request", "{n} requests", requests).format(n=t.num(requests)),
            t.ngettext("{n} retry", "{n} retries", retries).format(n=t.num(retries)),
            f"{t.num(round(run.summary.get('seconds', 0), 1))} s")))
        lines.append("  " + render_load(run.summary["load"], t))
    if problems:
        lines.append(t._("Per-object problems:"))
        for e in problems:
            lines.append(f"  {run_status(t, e.outcome):<8} {_action(e.action, t)} {_kind(e.kind, t)} "
                         f"{printable(e.key)} {printable(e.label or '')}")
            lines.append(f"           {printable(e.message or '')}" + (f" [{printable(e.code)}]" if e.code else ""))
    return "\n".join(lines) + "\n"


def _kind(kind: str, t: Language) -> str:
    from koppel.model.desired import ObjectKind
    from koppel.plan.render import kind_word

    return kind_word(ObjectKind(kind), t) if kind in ObjectKind._value2member_map_ else kind


def render_history(person: dict[str, Any], entries: list[JournalEntry], lang: Language | None = None) -> str:
    t = lang or language("en")
    meta = person.get("meta", {})
    ids = ", ".join(f"{k} {printable(v)}" for k, v in meta.items() if k in ("leerlingnummer", "docentcode", "las_key"))
    lines = [t._("{name} — {key} ({ids}) [{school}], now {status}").format(
        name=printable(person["label"]), key=printable(person["key"]), ids=ids, school=printable(person["school"]),
        status=run_status(t, person["status"]))]
    if not entries:
        lines.append("  " + t._("no changes recorded"))
    for e in entries:
        what = "" if e.kind == "person" else f" {printable(e.label or e.key)}"
        lines.append(f"  {t.time(e.at)}  {SYMBOL.get(e.action, '?')} {_action(e.action, t)} {_kind(e.kind, t)}{what}  "
                     + t._("[{outcome}, run {run}]").format(outcome=run_status(t, e.outcome), run=e.run_id))
        if e.reason:
            lines.append("      " + t._("why: {reason}").format(reason=printable(t.say(e.reason))))
        if e.message and e.outcome != JournalOutcome.DONE:
            lines.append(f"      {printable(e.message)}")
    return "\n".join(lines) + "\n"


def render_unlock(found: dict[str, Any], lang: Language | None = None) -> str:
    """`koppel unlock`: whose the run lock is, when it last beat, and what became of it."""
    t = lang or language("en")
    lock = found["lock"]
    if lock is None:
        return t._("No run lock for tenant {tenant}, target {target}: nothing to remove.").format(
            tenant=found["tenant"], target=found["target"]) + "\n"
    run = found["run"]
    run_text = (t._("run {id} ({kind}, {status}), started {at}").format(
        id=run["id"], kind=_run_kind(run["kind"], t), status=run_status(t, run["status"]), at=t.time(run["started_at"]))
        if run else t._("no run recorded for it"))
    lines = [t._("Run lock of tenant {tenant}, target {target}:").format(tenant=found["tenant"], target=found["target"]),
             "  " + t._("{purpose} by pid {pid} on host {host}; {run}").format(
                 purpose=lock["purpose"] or "run", pid=lock["pid"], host=printable(lock["host"]), run=run_text),
             "  " + t._("taken {taken}, last heartbeat {beat}").format(taken=t.time(lock["acquired_at"]),
                                                                     beat=t.time(lock["heartbeat_at"]))]
    if found["removed"] and found["forced"]:
        lines.append(t._("Removed (--force), although {why}.").format(why=found["why"]))
    elif found["removed"]:
        lines.append(t._("Removed: stale — {why}.").format(why=found["why"]))
    elif found["stale"]:
        lines.append(t._("Already gone: another run removed or took it over meanwhile."))
    else:
        lines.append(t._("Kept: {why}. Stop that run first (SIGTERM lets it record what is in flight), or, when you "
                         "are sure it is gone, run `koppel unlock --force`.").format(why=found["why"]))
    return "\n".join(lines) + "\n"


def render_drift(report: Any, t: Language) -> str:
    """What `koppel reconcile` found, in ``t``'s language (the objects' kinds, keys and labels as stored)."""
    lines = [t._("Reconciliation: complete") if report.complete else t._("Reconciliation: INCOMPLETE (see notes)")]
    checked = ", ".join(_counted(t, k, n) for k, n in report.checked.items())
    lines.append("  " + t._("checked {what}").format(what=checked))
    if report.clean:
        lines.append("  " + t._("no drift: the platform holds what koppel sent."))
    if report.changed:
        lines.append(t._("Changed by hand ({n}):").format(n=t.num(len(report.changed))))
        for d in report.changed:
            lines.append(f"  ~ {d.kind} {printable(d.key)} {printable(d.label)}")
            for name, (ours, theirs) in d.fields.items():
                lines.append("      " + t._("{field}: koppel sent {ours}, the platform has {theirs}").format(
                    field=name, ours=repr(ours), theirs=repr(theirs)))
    if report.missing:
        lines.append(t._("Removed by hand ({n}):").format(n=t.num(len(report.missing))))
        lines += [f"  - {m['kind']} {printable(m['key'])} {printable(m['label'])}" for m in report.missing]
    if report.unknown:
        lines.append(t._("In the platform with a sync key koppel does not manage ({n}):").format(
            n=t.num(len(report.unknown))))
        lines += [f"  ? {u['kind']} {printable(u['key'])}" for u in report.unknown]
    if report.manual:
        lines.append(t._("Accounts made by hand: {n}").format(n=t.num(report.manual)))
    if report.candidates:
        lines.append(t._("Manual accounts that match a LAS person (adopt after review with "
                         "`koppel reconcile --adopt ACCOUNT=PERSON`):"))
        for c in report.candidates:
            lines.append(f"  = {printable(c.username or c.target_id)} ({printable(c.platform_name)}) ↔ "
                         f"{printable(c.person_key)} {printable(c.person_label)} ["
                         + t._("matched on {fields}").format(fields=", ".join(c.matched_on)) + "]")
    if report.notes:
        lines.append(t._("Notes:"))
        lines += [f"  • {printable(t.say(n))}" for n in report.notes]
    return "\n".join(lines) + "\n"


def _counted(t: Language, kind: str, n: int) -> str:
    """Objects of one kind counted: ``3 persons`` / ``3 personen``."""
    forms = {"person": t.ngettext("{n} person", "{n} persons", n), "group": t.ngettext("{n} group", "{n} groups", n),
             "membership": t.ngettext("{n} membership", "{n} memberships", n)}
    return forms.get(kind, "{n} " + kind).format(n=t.num(n))
