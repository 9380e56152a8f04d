"""The takeover plan for people: text for the terminal, and a CSV report with one row per object.

The CSV report is what a school works through before approving: every adopted object with the rule that
matched it, everything koppel will create, every account it found without a LAS person, every
ambiguity — and koppel's key for each LAS object, which is what the mapping CSV's second column takes.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable

from koppel.locale import Language, language
from koppel.model.desired import ObjectKind
from koppel.plan.render import kind_word
from koppel.takeover.model import TakeoverPlan

__all__ = ["REPORT_COLUMNS", "render_report", "render_text"]

REPORT_COLUMNS = ("outcome", "kind", "sync id", "site name", "koppel key", "koppel name", "school", "matched on",
                  "note")
_KINDS = ("person", "group", "membership")


def _counts(counts: dict[str, int], t: Language) -> str:
    words = {"person": lambda n: t.ngettext("{n} person", "{n} persons", n),
             "group": lambda n: t.ngettext("{n} group", "{n} groups", n),
             "membership": lambda n: t.ngettext("{n} membership", "{n} memberships", n)}
    return ", ".join(words[k](counts.get(k, 0)).format(n=t.num(counts.get(k, 0))) for k in _KINDS)


def _said(text: str, t: Language) -> str:
    """A reason the matching gave (takeover/adopt.py, TakeoverPlan.blocked), in ``t``'s language where known."""
    suffix = ""
    if text.endswith(" (recorded at an earlier takeover)"):
        text, suffix = text.removesuffix(" (recorded at an earlier takeover)"), " " + t._("(recorded at an earlier "
                                                                                          "takeover)")
    fixed = {"the mapping CSV says it is no one's": t._("the mapping CSV says it is no one's"),
             "made by hand; matches no LAS person": t._("made by hand; matches no LAS person"),
             "in none of the schools koppel covers": t._("in none of the schools koppel covers")}
    if text in fixed:
        return fixed[text] + suffix
    found = re.fullmatch(r"made by the previous koppeling in (?P<schools>.+); no LAS person matches it", text)
    if found:
        return t._("made by the previous koppeling in {schools}; no LAS person matches it").format(
            schools=found["schools"]) + suffix
    found = re.fullmatch(r"a (?P<role>.+): koppel does not provision these", text)
    if found:
        return t._("a {role}: koppel does not provision these").format(role=found["role"]) + suffix
    found = re.fullmatch(r"(?P<n>\d+) ambiguous match\(es\): say which is which in the mapping CSV \(sync id,koppel "
                         r"key\) and run `koppel takeover` again", text)
    if found:
        return t.ngettext("{n} ambiguous match: say which is which in the mapping CSV (sync id,koppel key) and run "
                          "`koppel takeover` again",
                          "{n} ambiguous matches: say which is which in the mapping CSV (sync id,koppel key) and run "
                          "`koppel takeover` again", int(found["n"])).format(n=t.num(int(found["n"])))
    found = re.fullmatch(r"(?P<n>\d+) problem\(s\) with the mapping or the site \(listed with the plan\)", text)
    if found:
        return t.ngettext("{n} problem with the mapping or the site (listed with the plan)",
                          "{n} problems with the mapping or the site (listed with the plan)",
                          int(found["n"])).format(n=t.num(int(found["n"])))
    found = re.fullmatch(r"the site could not be read completely: (?P<notes>.*)", text, re.DOTALL)
    if found:
        return t._("the site could not be read completely: {notes}").format(notes=found["notes"])
    return text + suffix


def _kind(kind: str, t: Language) -> str:
    return kind_word(ObjectKind(kind), t) if kind in ObjectKind.__members__.values() else kind


def _listed(lines: list[str], items: Iterable[str], limit: int | None, t: Language) -> None:
    items = list(items)
    shown = items if limit is None else items[:limit]
    lines.extend(f"  {item}" for item in shown)
    if len(shown) < len(items):
        lines.append("  " + t._("… and {n} more (see the CSV report: --report FILE)").format(
            n=t.num(len(items) - len(shown))))


def render_text(plan: TakeoverPlan, *, limit: int | None = 20, lang: Language | None = None) -> str:
    """The takeover plan for the terminal, in ``lang`` (English by default). What the platform and the matching
    said in their own words (a foreign account's reason, a problem, a note) stays as they wrote it."""
    t = lang if lang is not None else language("en")
    n = t.num
    d = plan.discovery
    counts = plan.counts()
    lines = [
        t._("Takeover of {target} for tenant {tenant}, school year {year} (plan {id})").format(
            target=plan.target, tenant=plan.tenant, year=plan.school_year, id=plan.id),
        t._("Found on the site: {persons} accounts ({manual} made by hand), {groups} hierarchies ({courses} courses), "
            "{memberships} memberships — {requests} requests in {seconds} s, nothing written.").format(
            persons=n(d.get("persons", 0)), manual=n(d.get("manual_accounts", 0)), groups=n(d.get("groups", 0)),
            courses=n(d.get("courses", 0)), memberships=n(d.get("memberships", 0)), requests=n(d.get("requests", 0)),
            seconds=n(round(float(d.get("seconds", 0)), 1))),
    ]
    if plan.managed:
        lines.append(t._("koppel manages {n} of them already.").format(n=n(plan.managed)))
    lines += [
        "",
        t._("Adopt:  {counts} — koppel manages them from now on, under the sync ids they have.").format(
            counts=_counts(counts["adopt"], t)),
        t._("Create: {counts} — the LAS has them and the site does not; the first sync makes them.").format(
            counts=_counts(counts["create"], t)),
        t._("Suspend and delete: nothing. A takeover never removes anything, and courses are never deleted."),
    ]
    updates = plan.update_counts()
    if updates:
        lines += ["", t._("The first sync sets these fields of adopted objects to the LAS's value (koppel owns them):"),
                  "  " + ", ".join(f"{name} ×{n(count)}" for name, count in updates.items())]
    rules = Counter(a.matched_on.split(" ")[0] if a.matched_on.startswith("mapping") else a.matched_on
                    for a in plan.adopt)
    if rules:
        lines.append(t._("Matched on: {rules}").format(
            rules=", ".join(f"{rule} {n(count)}" for rule, count in sorted(rules.items()))))
    manual = [a for a in plan.adopt if a.kind == "person" and a.target_id is None]
    if manual:
        lines.append(t.ngettext(
            "{n} adopted account was made by hand and has no sync key: approving asks itslearning to give accounts "
            "made by hand one (readAllPersons with ConvertFromManual).",
            "{n} adopted accounts were made by hand and have no sync key: approving asks itslearning to give "
            "accounts made by hand one (readAllPersons with ConvertFromManual).", len(manual)).format(n=n(len(manual))))
    _left_on_the_site(lines, plan, limit, t)
    if plan.problems:
        lines += ["", t._("Problems ({n}):").format(n=n(len(plan.problems)))]
        _listed(lines, plan.problems, None, t)
    notes = d.get("notes") or []
    if notes:
        lines += ["", t._("Notes:")]
        _listed(lines, notes, None, t)
    lines.append("")
    blocked = plan.blocked
    if blocked:
        lines.append(t._("This plan cannot be approved yet: {why}.").format(why="; ".join(_said(b, t) for b in blocked)))
    else:
        lines.append(t._("Review it (--report FILE writes every object to a CSV), then approve it with "
                         "`koppel takeover --approve` (or `--approve --plan FILE` for a plan saved with --out)."))
    return "\n".join(lines) + "\n"


def _left_on_the_site(lines: list[str], plan: TakeoverPlan, limit: int | None, t: Language) -> None:
    """Stale and foreign accounts, unmatched hierarchies, user-name collisions and ambiguities."""
    n = t.num
    stale = plan.stale
    if stale:
        lines += ["", t._("Stale accounts ({n}): made by the previous koppeling, no LAS person. They are proposed for "
                          "suspension in a later plan, which waits for approval; then the grace period runs.").format(
            n=n(len(stale)))]
        _listed(lines, (f"{f.target_id}  {f.label} — {_said(f.reason, t)}" for f in stale), limit, t)
    alone = [f for f in plan.foreign if f.status != "stale"]
    if alone or plan.unmatched_groups or plan.unmatched_memberships:
        lines += ["", t._("Left alone (koppel never touches them): {accounts} accounts, {groups} hierarchies, "
                          "{memberships} memberships").format(accounts=n(len(alone)), groups=n(len(plan.unmatched_groups)),
                                                              memberships=n(plan.unmatched_memberships))]
        no_id = t._("(no sync id)")
        _listed(lines, (f"{f.target_id or no_id}  {f.label} — {_said(f.reason, t)}" for f in alone), limit, t)
        _listed(lines, (f"{sync_id}  {name}" for sync_id, name in plan.unmatched_groups), limit, t)
    if plan.collisions:
        lines += ["", t._("User names ({n}): these LAS persons get the next free user name, because another account "
                          "holds the one koppel's rules give them:").format(n=n(len(plan.collisions)))]
        _listed(lines, (t._("{person} ({key}): '{username}' is held by {holder} [{holder_id}]").format(
            person=c.label, key=c.key, username=c.username, holder=c.holder_label, holder_id=c.holder)
            for c in plan.collisions), limit, t)
    if plan.ambiguous:
        lines += ["", t._("Ambiguous ({n}), not matched — never guessed. Say which is which in the mapping CSV (sync "
                          "id,koppel key; '-' for no one's):").format(n=n(len(plan.ambiguous)))]
        _listed(lines, ((t._("{kind} on the site {subject} ({label}) could be: {candidates} [rule {rule}]")
                         if a.side == "site" else
                         t._("{kind} in the LAS {subject} ({label}) could be: {candidates} [rule {rule}]")).format(
            kind=_kind(a.kind, t), subject=a.subject, label=a.subject_label, rule=a.rule,
            candidates="; ".join(f"{c} ({label})" for c, label in a.candidates))
            for a in plan.ambiguous), limit, t)


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
