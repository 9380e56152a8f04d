"""Plan renderings for people: the one-line summary, the breakdown, the changes with their reasons.

Pure: returns strings. The CLI prints them; the dashboard shows the same content in HTML. Labels,
reasons, notes and school names come from the LAS: they are shown through ``textsafe.printable``, so a
name can never move the cursor, recolour a terminal or reorder what is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from koppel.model.change import ACTION_ORDER, Action, Change
from koppel.model.desired import ObjectKind
from koppel.plan.model import Plan
from koppel.textsafe import printable

__all__ = ["SYMBOL", "render_summary_line", "render_text"]

SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.SUSPEND: "-",
    Action.RESTORE: "^",
    Action.ARCHIVE: ">",
    Action.DELETE: "x",
}


def render_summary_line(plan: Plan) -> str:
    """``Plan: 1,204 to create, 3 to update, 2 to suspend, 0 to delete.`` (restore/archive when present)."""
    s = plan.summary()
    parts = [f"{s['create']:,} to create", f"{s['update']:,} to update", f"{s['suspend']:,} to suspend"]
    if s["restore"]:
        parts.append(f"{s['restore']:,} to restore")
    if s["archive"]:
        parts.append(f"{s['archive']:,} to archive")
    parts.append(f"{s['delete']:,} to delete")
    return "Plan: " + ", ".join(parts) + "."


def _table(title: str, rows: dict[str, dict[str, int]]) -> list[str]:
    actions = [a.value for a in ACTION_ORDER]
    width = max([len(title)] + [len(k) for k in rows]) + 2
    lines = [title.ljust(width) + "".join(a.rjust(9) for a in actions)]
    rows = {printable(name): counts for name, counts in rows.items()}
    for name, counts in rows.items():
        lines.append(name.ljust(width) + "".join(f"{counts.get(a, 0):,}".rjust(9) for a in actions))
    return lines


def render_text(plan: Plan, *, limit: int | None = 50, school_names: dict[str, str] | None = None) -> str:
    """The full text rendering. ``limit`` caps the listed changes (None = all)."""
    lines = [
        f"Plan {plan.id} for tenant {plan.tenant} → target {plan.target} "
        f"(school year {plan.school_year}, {plan.today}, state serial {plan.serial})",
        "",
        render_summary_line(plan),
    ]
    if plan.changes:
        breakdown = plan.breakdown()
        lines.append("")
        lines.extend(_table("per kind", breakdown["kind"]))
        lines.append("")
        schools = {
            (f"{k} {school_names[k]}" if school_names and k in school_names else k): v
            for k, v in breakdown["school"].items()
        }
        lines.extend(_table("per school", schools))
    if plan.holds:
        lines += ["", "HELD — this plan applies only with approval (`koppel apply --approve " + plan.id + "`):"]
        lines += [f"  ! {printable(h.message)}" for h in plan.holds]
    if plan.notes:
        lines += ["", "Notes:"] + [f"  • {printable(n)}" for n in plan.notes]
    if plan.diagnostics:
        counts = ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in plan.diagnostics.items())
        lines += ["", f"Data quality: {counts} in the source data (`koppel validate` shows them)."]
    policy = plan.policy
    if policy:
        lines += ["", "Safety settings: " + _policy_line(policy)]
    if plan.changes:
        lines += ["", "Changes:"]
        lines += list(_change_lines(plan.changes, limit))
    else:
        lines += ["", "No changes. The target is in step with the LAS."]
    return "\n".join(lines) + "\n"


def _policy_line(policy: Mapping[str, Any]) -> str:
    parts = []
    grace = policy.get("grace_days")
    if grace:
        parts.append("grace " + ", ".join(f"{k} {v}d" for k, v in grace.items()))
    if "absent_groups" in policy:
        parts.append(f"absent groups: {policy['absent_groups']}")
    if "archived_memberships" in policy:
        parts.append(f"memberships of archived groups: {policy['archived_memberships']}")
    guards = policy.get("guards")
    if guards:
        parts.append(f"hold above {guards['max_percent']:g}% or {guards['max_count']} removals")
    protected = policy.get("protected")
    if protected:
        parts.append("not owned: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in protected.items()))
    return "; ".join(parts)


def _change_lines(changes: Iterable[Change], limit: int | None) -> Iterable[str]:
    shown = 0
    total = 0
    for change in changes:
        total += 1
        if limit is not None and shown >= limit:
            continue
        shown += 1
        school = f" [{printable(change.school)}]" if change.school else ""
        if change.kind is ObjectKind.MEMBERSHIP and change.label:
            what = change.label  # "Jan Jansen → Nederlands 3A"; the key is in the JSON
        else:
            what = f"{change.label} ({change.key})" if change.label else change.key
        yield f"  {SYMBOL[change.action]} {change.action.value:<7} {change.kind.value:<10} {printable(what)}{school}"
        yield f"      {printable(change.reason)}"
        if change.action is Action.UPDATE and change.before is not None and change.after is not None:
            for field in change.fields:
                yield f"      {field}: {change.before.get(field)!r} → {change.after.get(field)!r}"
    if limit is not None and total > shown:
        yield f"  … and {total - shown:,} more (use --all, or --format json)"


def count_by_kind(plan: Plan, kind: ObjectKind) -> dict[str, int]:
    out = {a.value: 0 for a in ACTION_ORDER}
    for c in plan.changes:
        if c.kind is kind:
            out[c.action.value] += 1
    return out
