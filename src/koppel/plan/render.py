"""Plan renderings for people: the one-line summary, the breakdown, the changes with their reasons.

Pure: returns strings. The CLI prints them; the dashboard shows the same content in HTML. Labels,
reasons, notes and school names come from the LAS: they are shown through ``textsafe.printable``, so a
name can never move the cursor, recolour a terminal or reorder what is shown.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from koppel.locale import Language, language
from koppel.model.change import ACTION_ORDER, Action, Change
from koppel.model.desired import Desired, ObjectKind
from koppel.plan.model import Plan
from koppel.textsafe import printable

__all__ = ["REMOVALS", "SYMBOL", "PersonLabel", "action_word", "count_by_kind", "kind_word", "people_from_desired",
           "people_from_plan", "people_from_state", "per_klas", "render_search", "render_summary_line", "render_text", "samples",
           "search_changes"]

SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.SUSPEND: "-",
    Action.RESTORE: "^",
    Action.ARCHIVE: ">",
    Action.DELETE: "x",
}


REMOVALS = (Action.SUSPEND, Action.ARCHIVE, Action.DELETE)
SAMPLE = 3  # changes shown of each action × kind by default


@dataclass(frozen=True, slots=True)
class PersonLabel:
    """How a person is shown: leerlingnummer or docentcode, name and klas — never a bare sync key."""

    number: str | None
    name: str
    klas: str | None = None

    def __str__(self) -> str:
        klas = f" ({self.klas})" if self.klas else ""
        return f"{self.number + ' ' if self.number else ''}{self.name}{klas}"


def _person_of(change: Change) -> str | None:
    """The sync key of the person a change is about (a membership's person: the first part of its key,
    ``<person>|<group>|<role>``); None for a group."""
    kind = change.kind
    if kind is _PERSON:
        return change.key
    if kind is _MEMBERSHIP:
        return change.key.partition("|")[0]
    return None


_PERSON, _MEMBERSHIP, _GROUP = ObjectKind.PERSON, ObjectKind.MEMBERSHIP, ObjectKind.GROUP
_ACTION_KIND = operator.attrgetter("action", "kind")


def people_from_plan(plan: Plan) -> dict[str, PersonLabel]:
    """What the plan itself says of its persons: a person change carries the LAS numbers (``meta``) and the
    name; a pupil's membership of a klas the plan also changes gives the klas."""
    klassen: dict[str, str] = {}
    numbers: dict[str, tuple[str | None, str]] = {}
    for c in plan.changes:
        kind = c.kind
        if kind is _PERSON:
            meta = c.meta or {}
            numbers[c.key] = (meta.get("leerlingnummer") or meta.get("docentcode"), c.label)
        elif kind is _GROUP:
            attrs = c.after or c.before or {}
            if attrs.get("type") == "klas":
                klassen[c.key] = str(attrs.get("name") or c.label)
    klas_of: dict[str, str] = {}
    if klassen:
        delete = Action.DELETE
        for c in plan.changes:
            if c.kind is _MEMBERSHIP and c.action is not delete and c.key.endswith("|student"):
                person, _, rest = c.key.partition("|")
                klas = klassen.get(rest.rpartition("|")[0])
                if klas is not None:
                    klas_of[person] = klas
    out = {}
    for key in numbers.keys() | klas_of.keys():
        number, name = numbers.get(key, (None, ""))
        out[key] = PersonLabel(number, name, klas_of.get(key))
    return out


def people_from_desired(desired: Desired) -> dict[str, PersonLabel]:
    """Every person of a :class:`~koppel.model.desired.Desired` with their numbers and klas (a caller that still
    holds the desired state passes this to :func:`render_text`, so that persons the plan only names through a
    membership are shown by leerlingnummer and klas too)."""
    klassen = {k: o.label for k, o in desired.objects.items() if o.kind is ObjectKind.GROUP
               and o.attrs.get("type") == "klas"}
    klas_of: dict[str, str] = {}
    if klassen:
        for m in desired.memberships.values():
            if m.group in klassen and m.role == "student":
                klas_of[m.person] = klassen[m.group]
    return {k: PersonLabel(o.meta.get("leerlingnummer") or o.meta.get("docentcode"), o.label, klas_of.get(k))
            for k, o in desired.objects.items() if o.kind is ObjectKind.PERSON}


def people_from_state(rows: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any], str]]) -> dict[str, PersonLabel]:
    """The persons of the state's identity rows — (sync key, attrs, meta, status), as
    ``StateStore.identity_rows`` gives them — by number and name: what a removal of a person who left the LAS
    is shown by (the plan's suspend and delete carry no LAS numbers)."""
    out = {}
    for key, attrs, meta, _status in rows:
        name = " ".join(p for p in (attrs.get("given"), attrs.get("prefix"), attrs.get("family")) if p)
        out[key] = PersonLabel(meta.get("leerlingnummer") or meta.get("docentcode"), name)
    return out


def _english(lang: Language | None) -> Language:
    return lang if lang is not None else language("en")


def action_word(action: Action, lang: Language | None = None) -> str:
    """``create`` … ``delete`` in the language of the reader."""
    t = _english(lang)
    words = {Action.CREATE: t._("create"), Action.UPDATE: t._("update"), Action.SUSPEND: t._("suspend"),
             Action.RESTORE: t._("restore"), Action.ARCHIVE: t._("archive"), Action.DELETE: t._("delete")}
    return words[action]


def kind_word(kind: ObjectKind, lang: Language | None = None) -> str:
    """``person``, ``group``, ``membership`` in the language of the reader."""
    t = _english(lang)
    words = {ObjectKind.PERSON: t._("person"), ObjectKind.GROUP: t._("group"), ObjectKind.MEMBERSHIP: t._("membership")}
    return words.get(kind, kind.value)


def render_summary_line(plan: Plan, lang: Language | None = None) -> str:
    """``Plan: 1,204 to create, 3 to update, 2 to suspend, 0 to delete.`` (restore/archive when present)."""
    t = _english(lang)
    s = plan.summary()
    phrases = {"create": t._("{n} to create"), "update": t._("{n} to update"), "suspend": t._("{n} to suspend"),
               "restore": t._("{n} to restore"), "archive": t._("{n} to archive"), "delete": t._("{n} to delete")}
    shown = [a for a in ("create", "update", "suspend", "restore", "archive", "delete")
             if s[a] or a not in ("restore", "archive")]
    return t._("Plan: {parts}.").format(parts=", ".join(phrases[a].format(n=t.num(s[a])) for a in shown))


def _table(title: str, rows: dict[str, dict[str, int]], t: Language) -> list[str]:
    actions = [a.value for a in ACTION_ORDER]
    headers = [action_word(a, t) for a in ACTION_ORDER]
    column = max(9, *(len(h) + 2 for h in headers))
    width = max([len(title)] + [len(k) for k in rows]) + 2
    lines = [title.ljust(width) + "".join(h.rjust(column) for h in headers)]
    rows = {printable(name): counts for name, counts in rows.items()}
    for name, counts in rows.items():
        lines.append(name.ljust(width) + "".join(t.num(counts.get(a, 0)).rjust(column) for a in actions))
    return lines


def render_text(plan: Plan, *, limit: int | None = 50, school_names: dict[str, str] | None = None,
                people: Mapping[str, PersonLabel] | None = None, lang: Language | None = None) -> str:
    """The full text rendering. By default (``limit`` set): every removal first (up to a cap, with their
    number), then a sample of each action × kind, with counts per school and per klas; ``limit=None`` lists
    every change, removals first. ``people`` (sync key → label) adds what the plan does not carry itself;
    ``lang`` is the reader's language (English when not given)."""
    t = _english(lang)
    known = {**people_from_plan(plan), **(people or {})}
    lines = _header(plan, t)
    if plan.changes:
        lines += _breakdown(plan, known, t, limit=limit, school_names=school_names)
    lines += _safety(plan, t)
    if not plan.changes:
        lines += ["", t._("No changes. The target is in step with the LAS.")]
    elif limit is None:
        lines += _every_change(plan, known, t)
    else:
        lines += _review(plan, known, t, limit)
    return "\n".join(lines) + "\n"


def _header(plan: Plan, t: Language) -> list[str]:
    """The plan's identity and its one-line summary."""
    return [
        t._("Plan {id} for tenant {tenant} → target {target} (school year {year}, {today}, state serial {serial})")
        .format(id=plan.id, tenant=plan.tenant, target=plan.target, year=plan.school_year, today=plan.today,
                serial=plan.serial),
        "",
        render_summary_line(plan, t),
    ]


def _breakdown(plan: Plan, known: Mapping[str, PersonLabel], t: Language, *, limit: int | None,
               school_names: dict[str, str] | None) -> list[str]:
    """The counts per kind, per school and per klas (the klassen capped unless ``limit`` is None)."""
    breakdown = plan.breakdown()
    kinds = {kind_word(ObjectKind(k), t) if k in ObjectKind._value2member_map_ else k: v
             for k, v in breakdown["kind"].items()}
    lines = ["", *_table(t._("per kind"), kinds, t), ""]
    schools = {
        (f"{k} {school_names[k]}" if school_names and k in school_names else k): v
        for k, v in breakdown["school"].items()
    }
    lines += _table(t._("per school"), schools, t)
    klassen = per_klas(plan, known, no_klas=t._("(no klas)"))
    if klassen:
        cap = None if limit is None else max(limit, 20)
        shown = dict(list(klassen.items())[:cap] if cap is not None else klassen.items())
        lines += ["", *_table(t._("per klas (persons and their memberships)"), shown, t)]
        if len(shown) < len(klassen):
            lines.append(t._("… and {n} more klassen (use --all)").format(n=t.num(len(klassen) - len(shown))))
    return lines


def _safety(plan: Plan, t: Language) -> list[str]:
    """Holds, notes, the data-quality count and the safety settings the plan was made with."""
    lines: list[str] = []
    if plan.holds:
        lines += ["", t._("HELD — this plan applies only with approval (`koppel apply --approve {id}`):")
                  .format(id=plan.id)]
        lines += [f"  ! {printable(t.say(h.message))}" for h in plan.holds]
    if plan.notes:
        lines += ["", t._("Notes:")] + [f"  • {printable(t.say(n))}" for n in plan.notes]
    if plan.diagnostics:
        words = {"error": lambda n: t.ngettext("{n} error", "{n} errors", n),
                 "warning": lambda n: t.ngettext("{n} warning", "{n} warnings", n)}
        counts = ", ".join(words[k](v).format(n=t.num(v)) if k in words else f"{v} {k}{'s' if v != 1 else ''}"
                           for k, v in plan.diagnostics.items())
        lines += ["", t._("Data quality: {counts} in the source data (`koppel validate` shows them).")
                  .format(counts=counts)]
    if plan.policy:
        lines += ["", t._("Safety settings: {settings}").format(settings=_policy_line(plan.policy, t))]
    return lines


def _every_change(plan: Plan, known: Mapping[str, PersonLabel], t: Language) -> list[str]:
    """``--all``: every change, removals first."""
    removals = [c for c in plan.changes if c.action in REMOVALS]
    others = [c for c in plan.changes if c.action not in REMOVALS]
    lines: list[str] = []
    if removals:
        lines += ["", t._("Removals ({n}):").format(n=t.num(len(removals)))]
        lines += list(_change_lines(removals, None, known, lang=t))
    lines += ["", t._("Other changes ({n}):").format(n=t.num(len(others))) if removals else t._("Changes:")]
    lines += list(_change_lines(others, None, known, lang=t))
    return lines


def _review(plan: Plan, known: Mapping[str, PersonLabel], t: Language, limit: int) -> list[str]:
    """The default: the removals (up to a cap), then a sample of each action × kind."""
    cap = max(limit * 10, 200)
    summary = plan.summary()
    n_removals = sum(summary[a.value] for a in REMOVALS)
    lines: list[str] = []
    if n_removals:
        listed = (c for c in plan.changes if c.action in REMOVALS)
        title = (t._("Removals ({n}, the first {cap} shown):") if n_removals > cap else t._("Removals ({n}):"))
        lines += ["", title.format(n=t.num(n_removals), cap=t.num(cap))]
        lines += list(_change_lines(listed, cap, known, more=t._("--all, --search TEXT or --format json"), lang=t))
    sampled = samples(plan.changes, SAMPLE)
    if sampled:
        lines += ["", t._("Changes, a sample of each kind ({k} of each action × kind):").format(k=SAMPLE)]
        for (action, kind), (chosen, total) in sampled.items():
            lines.append(t._("  {action} {kind}: {shown} of {total}").format(
                action=action_word(action, t), kind=kind_word(kind, t), shown=t.num(len(chosen)), total=t.num(total)))
            lines += ["  " + line for line in _change_lines(chosen, None, known, lang=t)]
        hidden = len(plan.changes) - n_removals - sum(len(chosen) for chosen, _ in sampled.values())
        if hidden:
            lines.append("  " + t._("… and {n} more (use --all, --search TEXT, or --format json)")
                         .format(n=t.num(hidden)))
    return lines


def samples(changes: Sequence[Change], k: int) -> dict[tuple[Action, ObjectKind], tuple[list[Change], int]]:
    """Per action × kind other than removals (in the order of actions and kinds), ``k`` changes spread evenly
    over the plan's order: deterministic, and not only the first school's first klas. Two passes over the
    changes, holding no list of them (a first plan of a bestuur has a million)."""
    totals: Counter[tuple[Action, ObjectKind]] = Counter(map(_ACTION_KIND, changes))  # counted in C
    for key in [key for key in totals if key[0] in REMOVALS]:
        del totals[key]
    wanted = {key: {(i * n) // k for i in range(min(k, n))} for key, n in totals.items()}
    seen: Counter[tuple[Action, ObjectKind]] = Counter()
    chosen: dict[tuple[Action, ObjectKind], list[Change]] = {key: [] for key in totals}
    for c in changes:
        key = (c.action, c.kind)
        picks = wanted.get(key)
        if picks is None:
            continue
        if seen[key] in picks:
            chosen[key].append(c)
        seen[key] += 1
    kinds = list(ObjectKind)
    order = sorted(totals, key=lambda ak: (ACTION_ORDER.index(ak[0]), kinds.index(ak[1])))
    return {key: (chosen[key], totals[key]) for key in order}


def per_klas(plan: Plan, people: Mapping[str, PersonLabel], *, no_klas: str = "(no klas)") -> dict[str, dict[str, int]]:
    """Changes to persons and memberships per (school, klas) of the person — ``no_klas`` when the klas is not
    known."""
    counts: Counter[tuple[str, str, Action]] = Counter()
    klas_of = {k: v.klas for k, v in people.items() if v.klas}
    if not klas_of:
        return {}
    get = klas_of.get
    person_kind, membership_kind = _PERSON, _MEMBERSHIP
    for c in plan.changes:
        kind = c.kind
        if kind is membership_kind:
            klas = get(c.key.partition("|")[0])
        elif kind is person_kind:
            klas = get(c.key)
        else:
            continue
        counts[(c.school or "-", klas or no_klas, c.action)] += 1
    out: dict[str, dict[str, int]] = {}
    for (school, klas, action), n in sorted(counts.items()):
        out.setdefault(f"{school} {klas}", {})[action.value] = n
    return out


def _what(change: Change, people: Mapping[str, PersonLabel]) -> str:
    """How a change's object is shown: a person by number, name and klas; a membership as "person → group"."""
    kind = change.kind
    if kind is ObjectKind.GROUP:
        return f"{change.label} ({change.key})" if change.label else change.key
    person = _person_of(change) or ""
    label = people.get(person)
    if kind is ObjectKind.MEMBERSHIP:
        name, arrow, group = change.label.partition(" → ")
        if not arrow:
            return change.label or change.key
    else:
        name, group = change.label, ""
    name = name or (label.name if label is not None else "")
    if label is not None and (label.number or label.klas):
        who = str(PersonLabel(label.number, name, label.klas))
    elif not name:
        who = person
    else:
        # No LAS number known (a person who left, when the caller passed no ``people``): the key tells them apart.
        who = name if kind is ObjectKind.MEMBERSHIP else f"{name} ({person})"
    return f"{who} → {group}" if kind is ObjectKind.MEMBERSHIP else who


def search_changes(plan: Plan, text: str, people: Mapping[str, PersonLabel] | None = None) -> list[Change]:
    """The changes whose person (name, leerlingnummer, docentcode, klas), group or course matches ``text``,
    case-insensitively."""
    needle = text.strip().casefold()
    if not needle:
        return []
    known = {**people_from_plan(plan), **(people or {})}
    found = []
    for c in plan.changes:
        person = _person_of(c)
        label = known.get(person) if person is not None else None
        if c.key.casefold() == needle:
            found.append(c)
            continue
        hay = [c.label]  # not the key: an ECK iD digest is hex, and "7b" would find it
        if label is not None:
            hay += [label.name, label.number or "", label.klas or ""]
        for attrs in (c.after, c.before):
            if attrs:
                hay += [str(attrs.get("name") or ""), str(attrs.get("code") or "")]
        if any(needle in h.casefold() for h in hay if h):
            found.append(c)
    return found


def render_search(plan: Plan, text: str, *, limit: int | None = 200,
                  people: Mapping[str, PersonLabel] | None = None, lang: Language | None = None) -> str:
    """``koppel plan --search TEXT``: the changes that match, removals first."""
    t = _english(lang)
    known = {**people_from_plan(plan), **(people or {})}
    found = search_changes(plan, text, known)
    found.sort(key=lambda c: c.action not in REMOVALS)  # stable: plan order within each part
    head = t.ngettext("Plan {id}: {found} of {total} change matches {text}",
                      "Plan {id}: {found} of {total} changes match {text}", len(plan.changes))
    lines = [head.format(id=plan.id, found=t.num(len(found)), total=t.num(len(plan.changes)),
                         text=repr(printable(text))) + (":" if found else ".")]
    lines += list(_change_lines(found, limit, known, lang=t))
    return "\n".join(lines) + "\n"


def _policy_word(value: str, t: Language) -> str:
    """A setting's value in the safety line (a person role, what happens to a group or its members)."""
    words = {"student": t._("student"), "staff": t._("staff"), "guardian": t._("guardian"),
             "archive": t._("archive"), "delete": t._("delete"), "keep": t._("keep"), "remove": t._("remove"),
             "keep-teachers": t._("keep-teachers")}
    return words.get(value, value)


def _policy_line(policy: Mapping[str, Any], t: Language) -> str:
    parts = []
    grace = policy.get("grace_days")
    if grace:
        parts.append(t._("grace {days}").format(days=", ".join(
            t._("{kind} {n}d").format(kind=_policy_word(k, t), n=v) for k, v in grace.items())))
    if "absent_groups" in policy:
        parts.append(t._("absent groups: {how}").format(how=_policy_word(policy["absent_groups"], t)))
    if "archived_memberships" in policy:
        parts.append(t._("memberships of archived groups: {how}").format(
            how=_policy_word(policy["archived_memberships"], t)))
    guards = policy.get("guards")
    if guards:
        parts.append(t._("hold above {percent}% or {count} removals").format(
            percent=t.num(guards["max_percent"]), count=guards["max_count"]))
    protected = policy.get("protected")
    if protected:
        parts.append(t._("not owned: {fields}").format(
            fields="; ".join(f"{k}: {', '.join(v)}" for k, v in protected.items())))
    return "; ".join(parts)


def _change_lines(changes: Iterable[Change], limit: int | None, people: Mapping[str, PersonLabel] | None = None,
                  *, more: str | None = None, lang: Language | None = None) -> Iterable[str]:
    t = _english(lang)
    more = more or t._("use --all, or --format json")
    known = people or {}
    width = max(7, *(len(action_word(a, t)) for a in Action))
    kind_width = max(10, *(len(kind_word(k, t)) for k in ObjectKind))
    shown = 0
    total = 0
    for change in changes:
        total += 1
        if limit is not None and shown >= limit:
            continue
        shown += 1
        school = f" [{printable(change.school)}]" if change.school else ""
        what = _what(change, known)
        yield (f"  {SYMBOL[change.action]} {action_word(change.action, t):<{width}} "
               f"{kind_word(change.kind, t):<{kind_width}} {printable(what)}{school}")
        yield f"      {printable(t.say(change.reason))}"
        if change.action is Action.UPDATE and change.before is not None and change.after is not None:
            for field in change.fields:
                yield f"      {field}: {change.before.get(field)!r} → {change.after.get(field)!r}"
    if limit is not None and total > shown:
        yield "  " + t._("… and {n} more ({how})").format(n=t.num(total - shown), how=more)


def count_by_kind(plan: Plan, kind: ObjectKind) -> dict[str, int]:
    out = {a.value: 0 for a in ACTION_ORDER}
    for c in plan.changes:
        if c.kind is kind:
            out[c.action.value] += 1
    return out
