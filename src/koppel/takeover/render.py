"""The takeover plan for people: text for the terminal, and a CSV report with one row per object.

The CSV report is what a school works through before approving: every adopted object with the rule that
matched it, everything koppel will create, every account it found without a LAS person, every
ambiguity — and koppel's key for each LAS object, which is what the mapping CSV's second column takes.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable

from koppel.takeover.model import TakeoverPlan

__all__ = ["REPORT_COLUMNS", "render_report", "render_text"]

REPORT_COLUMNS = ("outcome", "kind", "sync id", "site name", "koppel key", "koppel name", "school", "matched on",
                  "note")
_KINDS = ("person", "group", "membership")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(k, 0):,} {k}s" for k in _KINDS)


def _listed(lines: list[str], items: Iterable[str], limit: int | None) -> None:
    items = list(items)
    shown = items if limit is None else items[:limit]
    lines.extend(f"  {item}" for item in shown)
    if len(shown) < len(items):
        lines.append(f"  … and {len(items) - len(shown):,} more (see the CSV report: --report FILE)")


def render_text(plan: TakeoverPlan, *, limit: int | None = 20) -> str:
    d = plan.discovery
    counts = plan.counts()
    lines = [
        f"Takeover of {plan.target} for tenant {plan.tenant}, school year {plan.school_year} (plan {plan.id})",
        f"Found on the site: {d.get('persons', 0):,} accounts ({d.get('manual_accounts', 0):,} made by hand), "
        f"{d.get('groups', 0):,} hierarchies ({d.get('courses', 0):,} courses), {d.get('memberships', 0):,} "
        f"memberships — {d.get('requests', 0):,} requests in {d.get('seconds', 0):.1f} s, nothing written.",
    ]
    if plan.managed:
        lines.append(f"koppel manages {plan.managed:,} of them already.")
    lines += [
        "",
        f"Adopt:  {_counts(counts['adopt'])} — koppel manages them from now on, under the sync ids they have.",
        f"Create: {_counts(counts['create'])} — the LAS has them and the site does not; the first sync makes them.",
        "Suspend and delete: nothing. A takeover never removes anything, and courses are never deleted.",
    ]
    updates = plan.update_counts()
    if updates:
        lines += ["", "The first sync sets these fields of adopted objects to the LAS's value (koppel owns them):",
                  "  " + ", ".join(f"{name} ×{n:,}" for name, n in updates.items())]
    rules = Counter(a.matched_on.split(" ")[0] if a.matched_on.startswith("mapping") else a.matched_on
                    for a in plan.adopt)
    if rules:
        lines.append("Matched on: " + ", ".join(f"{rule} {n:,}" for rule, n in sorted(rules.items())))
    manual = [a for a in plan.adopt if a.kind == "person" and a.target_id is None]
    if manual:
        lines.append(f"{len(manual)} adopted account(s) were made by hand and have no sync key: approving asks "
                     "itslearning to give accounts made by hand one (readAllPersons with ConvertFromManual).")
    _left_on_the_site(lines, plan, limit)
    if plan.problems:
        lines += ["", f"Problems ({len(plan.problems)}):"]
        _listed(lines, plan.problems, None)
    notes = d.get("notes") or []
    if notes:
        lines += ["", "Notes:"]
        _listed(lines, notes, None)
    lines.append("")
    blocked = plan.blocked
    if blocked:
        lines.append("This plan cannot be approved yet: " + "; ".join(blocked) + ".")
    else:
        lines.append("Review it (--report FILE writes every object to a CSV), then approve it with "
                     "`koppel takeover --approve` (or `--approve --plan FILE` for a plan saved with --out).")
    return "\n".join(lines) + "\n"


def _left_on_the_site(lines: list[str], plan: TakeoverPlan, limit: int | None) -> None:
    """Stale and foreign accounts, unmatched hierarchies, user-name collisions and ambiguities."""
    stale = plan.stale
    if stale:
        lines += ["", f"Stale accounts ({len(stale):,}): made by the previous koppeling, no LAS person. They are "
                  "proposed for suspension in a later plan, which waits for approval; then the grace period runs."]
        _listed(lines, (f"{f.target_id}  {f.label} — {f.reason}" for f in stale), limit)
    alone = [f for f in plan.foreign if f.status != "stale"]
    if alone or plan.unmatched_groups or plan.unmatched_memberships:
        lines += ["", f"Left alone (koppel never touches them): {len(alone):,} accounts, {len(plan.unmatched_groups):,} "
                  f"hierarchies, {plan.unmatched_memberships:,} memberships"]
        _listed(lines, (f"{f.target_id or '(no sync id)'}  {f.label} — {f.reason}" for f in alone), limit)
        _listed(lines, (f"{sync_id}  {name}" for sync_id, name in plan.unmatched_groups), limit)
    if plan.collisions:
        lines += ["", f"User names ({len(plan.collisions)}): these LAS persons get the next free user name, because "
                  "another account holds the one koppel's rules give them:"]
        _listed(lines, (f"{c.label} ({c.key}): '{c.username}' is held by {c.holder_label} [{c.holder}]"
                        for c in plan.collisions), limit)
    if plan.ambiguous:
        lines += ["", f"Ambiguous ({len(plan.ambiguous)}), not matched — never guessed. Say which is which in the "
                  "mapping CSV (sync id,koppel key; '-' for no one's):"]
        _listed(lines, (f"{a.kind} {'on the site' if a.side == 'site' else 'in the LAS'} {a.subject} "
                        f"({a.subject_label}) could be: " + "; ".join(f"{c} ({label})" for c, label in a.candidates)
                        + f" [rule {a.rule}]" for a in plan.ambiguous), limit)


def render_report(plan: TakeoverPlan) -> str:
    """One row per object: adopted, to create, stale, left alone, ambiguous, user-name collisions."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for a in plan.adopt:
        writer.writerow(["adopt", a.kind, a.target_id or f"(made by hand: {a.username})", a.site_label, a.key,
                         a.label, a.school or "", a.matched_on,
                         ("first sync updates: " + ", ".join(a.updates)) if a.updates else ""])
    for m in plan.create:
        writer.writerow(["create", m.kind, "", "", m.key, m.label, m.school or "", "", ""])
    for f in plan.foreign:
        writer.writerow([f.status, "person", f.target_id or "", f.label, "", "", f.school or "", "", f.reason])
    for sync_id, name in plan.unmatched_groups:
        writer.writerow(["left alone", "group", sync_id, name, "", "", "", "", "matches no LAS group"])
    for amb in plan.ambiguous:
        for candidate, label in amb.candidates:
            if amb.side == "site":
                row = [amb.subject, amb.subject_label, candidate, label]
            else:
                row = [candidate, label, amb.subject, amb.subject_label]
            writer.writerow(["ambiguous", amb.kind, *row, "", amb.rule, "one of these pairs, or none: never guessed"])
    for c in plan.collisions:
        writer.writerow(["user name taken", "person", c.holder, c.holder_label, c.key, c.label, "", "",
                         f"'{c.username}' is held by another account; koppel gives the next free user name"])
    for problem in plan.problems:
        writer.writerow(["problem", "", "", "", "", "", "", "", problem])
    return buffer.getvalue()
