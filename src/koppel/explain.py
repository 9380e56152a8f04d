"""``koppel explain PERSON [GROUP]``: who a person is, their groups now, what is pending, and why they are
not in a group.

It reads what a plan reads — the LAS (without recording the read: explaining changes nothing anyone else
sees), the state, the held plans and the journal — and asks the rules (``rules.build_desired`` decides,
``rules.trace`` says why) for each group the person is not in. Every answer names where the LAS data came
from: the source file and line of the person's row and of the group's declaration.

The answer is a value (:class:`Explanation`); the CLI renders it as text or JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from koppel.errors import KoppelError
from koppel.model.keys import membership_key
from koppel.model.roster import Group, GroupKind, Person, PersonKind, Provenance, Role, Roster
from koppel.model.status import PENDING_PLANS, JournalOutcome
from koppel.pipeline import target_config
from koppel.rules.engine import build_desired
from koppel.rules.trace import LAS_MEMBERSHIP, MembershipTrace, klas_of, trace_person

if TYPE_CHECKING:
    from koppel.config import TargetConfig
    from koppel.model.desired import Desired
    from koppel.pipeline import Koppel
    from koppel.plan.model import Plan
    from koppel.plan.state_view import StateView
    from koppel.state.store import JournalEntry

__all__ = [
    "AmbiguousPerson",
    "Answer",
    "Candidate",
    "Explanation",
    "GroupNow",
    "Pending",
    "PersonInfo",
    "PersonNotFound",
    "Verdict",
    "explain",
]


class PersonNotFound(KoppelError):
    exit_code = 1


class AmbiguousPerson(KoppelError):
    """More than one person matches; ``candidates`` lists them."""

    exit_code = 1

    def __init__(self, query: str, candidates: Sequence[Candidate]):
        self.query = query
        self.candidates = tuple(candidates)
        super().__init__(f"{len(candidates)} persons match {query!r}; be more precise (a leerlingnummer or "
                         "docentcode)")


class Verdict:
    """Why a person is (not) in a group: the codes of :attr:`Answer.verdict`."""

    MEMBER = "member"  # in the group per the state, and the LAS wants it so
    PLANNED = "planned"  # the LAS wants it; the next sync adds it
    HELD = "held"  # the LAS wants it; a held plan holds it until approved
    REFUSED = "refused"  # the LAS wants it; the platform refused it last time
    REMOVAL_PLANNED = "removal-planned"  # in the state; the LAS no longer wants it: the next sync removes it
    NOT_IN_VAKKEN = "not-in-vakken"  # a klas lesgroep of their klas, for a vak not in their Vakken
    NOT_PLACED = "not-placed"  # the LAS does not place the person in the group
    NO_LESGROEP = "no-lesgroep"  # no such lesgroep is declared in the LAS
    FILTERED = "filtered"  # a scope filter of the target's rules leaves it out
    RULE = "rule"  # another rule (hierarchy, role) stops it
    ONE_ROLE = "one-role"  # the person has a stronger role in the same group


@dataclass(frozen=True)
class Candidate:
    key: str  # sync key (or the LAS key when koppel has none yet)
    name: str
    number: str | None  # leerlingnummer or docentcode
    klas: str | None
    school: str | None
    in_las: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        bits = [b for b in (self.number, self.name, self.klas and f"klas {self.klas}",
                            self.school and f"[{self.school}]") if b]
        return f"{' '.join(bits)}  ({self.key}{'' if self.in_las else ', not in the LAS'})"


@dataclass(frozen=True)
class PersonInfo:
    """Who the person is in the LAS and in the state."""

    name: str
    kind: str | None
    leerlingnummer: str | None
    docentcode: str | None
    klas: str | None
    schools: tuple[str, ...]
    school_names: Mapping[str, str]
    source: Provenance | None  # the person's row in the LAS; None when the LAS no longer has them
    sync_key: str
    state_status: str | None  # None: koppel does not manage them (yet)
    in_las: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "leerlingnummer": self.leerlingnummer,
                "docentcode": self.docentcode, "klas": self.klas, "schools": list(self.schools),
                "school_names": dict(self.school_names), "source": self.source.to_json() if self.source else None,
                "sync_key": self.sync_key, "state_status": self.state_status, "in_las": self.in_las}


@dataclass(frozen=True)
class GroupNow:
    """A group the person is in per the state."""

    key: str
    name: str
    type: str | None  # school | folder | klas | course
    role: str
    status: str
    school: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Pending:
    """A change for the person (or one of their memberships) in a plan waiting for approval."""

    plan: str
    plan_status: str
    holds: tuple[str, ...]
    action: str
    kind: str
    key: str
    label: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["holds"] = list(self.holds)
        return data


@dataclass(frozen=True)
class Answer:
    """For one group: is the person in it, and if not, which rule decided that."""

    group: str  # as the LAS names it
    group_key: str | None  # the roster's key
    target_group: str | None  # the sync key of the klas node or course in the target
    verdict: str  # a Verdict code
    message: str
    where: tuple[str, ...] = ()  # source files and lines the answer rests on
    steps: tuple[dict[str, Any], ...] = ()  # the rules' trace
    plan: str | None = None  # the held plan that holds it
    platform_message: str | None = None  # what the platform said when it refused

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["where"] = list(self.where)
        data["steps"] = list(self.steps)
        return data


@dataclass(frozen=True)
class Explanation:
    tenant: str
    target: str
    school_year: str
    person: PersonInfo
    groups: tuple[GroupNow, ...]
    pending: tuple[Pending, ...]
    answers: tuple[Answer, ...]
    asked: str | None = None  # the GROUP asked about, if any
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "target": self.target, "school_year": self.school_year,
                "person": self.person.to_json(), "groups": [g.to_json() for g in self.groups],
                "pending": [p.to_json() for p in self.pending], "asked": self.asked,
                "answers": [a.to_json() for a in self.answers], "notes": list(self.notes)}


_WANTED = (Verdict.MEMBER, Verdict.PLANNED, Verdict.HELD, Verdict.REFUSED)


# -- the entry point ------------------------------------------------------------------------------


def explain(app: Koppel, tenant_id: str | None, target_name: str | None, person: str, group: str | None = None,
            *, year: str | None = None) -> Explanation:
    """Explain ``person`` (leerlingnummer, docentcode, ECK iD, sync key or name) — in ``group`` when given,
    otherwise in the groups of their klas and lesgroepen they are not in."""
    tenant = app.config.tenant(tenant_id)
    target_cfg = target_config(tenant, target_name)
    school_year = tenant.resolve_year(app.today(), year)
    roster, _report = app.sources.read_and_validate(tenant, school_year, record=False)
    view, _drift, identities = app.read_state(tenant.id, target_cfg.name)
    found = _find(app, tenant.id, target_cfg.name, roster, identities.resolve, person)
    desired = build_desired(roster, target_cfg.rules, target=target_cfg.name, identities=identities)
    ctx = _Context(app, tenant.id, target_cfg, roster, view, desired)
    if isinstance(found, Person):
        return ctx.explain_las_person(found, identities.resolve(found), group, str(school_year))
    return ctx.explain_state_person(found, group, str(school_year))


# -- finding the person -----------------------------------------------------------------------------


def _find(app: Koppel, tenant: str, target: str, roster: Roster, resolve: Any, query: str) -> Person | dict[str, Any]:
    """The LAS person ``query`` names, or the state's row of a person the LAS no longer has."""
    q = query.strip()
    low = q.casefold()
    persons = list(roster.persons.values())
    exact = [p for p in persons
             if low in {(v or "").casefold() for v in (p.leerlingnummer, p.docentcode, p.eckid, p.las_key, p.key,
                                                         p.las_username)}
             or resolve(p) == q]
    matches = exact or [p for p in persons if low and (low in p.display_name.casefold()
                                                       or low in p.sort_name.casefold())]
    if len(matches) == 1:
        return matches[0]
    klassen = _klassen(roster)
    if len(matches) > 1:
        raise AmbiguousPerson(query, [Candidate(resolve(p), p.display_name, p.leerlingnummer or p.docentcode,
                                                klassen.get(p.key), p.schools[0] if p.schools else None, True)
                                      for p in sorted(matches, key=lambda p: (p.sort_name, p.key))])
    rows = app.store.find_persons(tenant, target, q)
    exact_rows = [r for r in rows if r["key"] == q or q in (r["meta"].get("leerlingnummer"), r["meta"].get("docentcode"))]
    rows = exact_rows or rows
    if len(rows) == 1:
        return rows[0]
    if len(rows) > 1:
        raise AmbiguousPerson(query, [Candidate(r["key"], r["label"] or "", r["meta"].get("leerlingnummer")
                                                or r["meta"].get("docentcode"), None, r["school"], False)
                                      for r in rows])
    raise PersonNotFound(f"no person matching {query!r} in the LAS export or in koppel's state of tenant {tenant} "
                         "(try a leerlingnummer, a docentcode or part of the name)")


def _klassen(roster: Roster) -> dict[str, str]:
    """Person key -> the name of their klas (stamgroep)."""
    out: dict[str, str] = {}
    for m in roster.memberships:
        if m.role is Role.STUDENT:
            g = roster.groups.get(m.group)
            if g is not None and g.kind is GroupKind.STAMGROEP:
                out[m.person] = g.name
    return out


# -- the answers ------------------------------------------------------------------------------------


class _Context:
    def __init__(self, app: Koppel, tenant: str, target_cfg: TargetConfig, roster: Roster, view: StateView,
                 desired: Desired):
        self.app = app
        self.tenant = tenant
        self.target = target_cfg.name
        self.settings = target_cfg.rules
        self.roster = roster
        self.view = view
        self.desired = desired

    # -- the person's groups now, pending changes, refusals ------------------------------------

    def groups_now(self, sync: str) -> list[GroupNow]:
        prefix = sync + "|"
        out = []
        keys = [(k, "active") for k in self.view.memberships if k.startswith(prefix)]
        keys += [(k, r.status.value) for k, r in self.view.records.items()
                 if k.startswith(prefix) and r.kind.value == "membership"]
        for key, status in keys:
            group, _, role = key[len(prefix):].rpartition("|")
            rec = self.view.records.get(group)
            out.append(GroupNow(group, (rec.label if rec is not None else None) or group,
                                rec.group_type if rec is not None else None, role, status,
                                rec.school if rec is not None else None))
        order = {"school": 0, "folder": 1, "klas": 2, "course": 3}
        return sorted(out, key=lambda g: (order.get(g.type or "", 4), g.name.casefold(), g.role))

    def pending(self, sync: str) -> tuple[list[Pending], dict[str, Pending]]:
        """Changes for the person in held (and saved) plans; and by key."""
        out: list[Pending] = []
        prefix = sync + "|"
        for record in self.app.store.plans(self.tenant, self.target, status=list(PENDING_PLANS)):
            plan: Plan = self.app.store.load_plan(record.id)
            holds = tuple(h.message for h in plan.holds)
            for c in plan.changes:
                if c.key == sync or c.key.startswith(prefix):
                    out.append(Pending(plan.id, record.status, holds, c.action.value, c.kind.value, c.key, c.label,
                                       c.reason))
        return out, {p.key: p for p in out}

    def refusals(self, sync: str) -> dict[str, JournalEntry]:
        """Per object key, the last journal entry when the platform refused it (the latest outcome counts)."""
        last: dict[str, JournalEntry] = {}
        for e in self.app.store.history(self.tenant, self.target, sync, limit=5000):
            last[e.key] = e
        return {k: e for k, e in last.items() if e.outcome == JournalOutcome.FAILED}

    # -- a LAS person ---------------------------------------------------------------------------

    def explain_las_person(self, person: Person, sync: str, asked: str | None, year: str) -> Explanation:
        roster = self.roster
        klas = klas_of(roster, person.key)
        rec = self.view.record(sync)
        info = PersonInfo(
            person.display_name, person.kind.value, person.leerlingnummer, person.docentcode,
            klas.name if klas else None, person.schools,
            {b: roster.schools[b].name for b in person.schools if b in roster.schools}, person.provenance, sync,
            rec.status.value if rec is not None else None, True)
        groups = self.groups_now(sync)
        pending, pending_by_key = self.pending(sync)
        refused = self.refusals(sync)
        notes: list[str] = []
        if asked is not None:
            group_keys = self._match_groups(person, klas, asked)
            if not group_keys:
                answers = [self._no_such_group(person, klas, asked)]
            else:
                answers = self._answers(person, sync, klas, group_keys, pending_by_key, refused, only_missing=False)
        else:
            answers = self._answers(person, sync, klas, self._relevant_groups(person, klas), pending_by_key, refused,
                                    only_missing=True)
            answers += self._removals(sync, groups, pending_by_key,
                                      [a.group_key for a in answers] + [a.target_group for a in answers])
        if rec is None:
            notes.append("koppel does not manage this person yet: the next sync creates their account")
        return Explanation(self.tenant, self.target, year, info, tuple(groups), tuple(pending), tuple(answers), asked,
                           tuple(notes))

    def _relevant_groups(self, person: Person, klas: Group | None) -> list[str]:
        """What a systeembeheerder asks about: the groups the LAS places the person in, and the lesgroepen
        of their klas (its klasvakken)."""
        keys = [m.group for m in self.roster.memberships if m.person == person.key]
        if klas is not None:
            keys += sorted((g.key for g in self.roster.groups.values() if g.parent == klas.key),
                           key=lambda k: self.roster.groups[k].name)
        return list(dict.fromkeys(keys))

    def _match_groups(self, person: Person, klas: Group | None, asked: str) -> list[str]:
        """Roster groups named ``asked`` (name, LAS key, or the course's name in the target), the person's
        schools first."""
        low = asked.strip().casefold()
        groups = self.roster.groups.values()
        named = [g for g in groups if low in (g.name.casefold(), g.las_key.casefold(), g.key.casefold())]
        if not named:
            titles = {k for k, o in self.desired.objects.items() if o.kind.value == "group" and o.label.casefold() == low}
            named = [g for g in groups if g.key in titles]
        if not named:
            named = [g for g in groups if low in g.name.casefold()
                     and (g.parent == (klas.key if klas else None) or g.school in person.schools)]
        own = [g for g in named if g.school in person.schools]
        return [g.key for g in (own or named)]

    def _no_such_group(self, person: Person, klas: Group | None, asked: str) -> Answer:
        klas_part, dot, vak = asked.strip().rpartition(".")
        where = (str(person.provenance),) if person.provenance else ()
        if dot and klas is not None and klas_part.casefold() == klas.name.casefold():
            message = (f"no lesgroep {asked} is declared in the LAS: no docent's Klasvakken and no lesgroepen-file "
                       f"row declares vak {vak} for klas {klas.name}, so there is no group to place "
                       f"{person.display_name} in")
        else:
            message = (f"no lesgroep or klas named {asked!r} is declared in the LAS export for "
                       f"{', '.join(person.schools) or 'the person’s school'}")
        return Answer(asked, None, None, Verdict.NO_LESGROEP, message, where)

    def _answers(self, person: Person, sync: str, klas: Group | None, group_keys: Iterable[str],
                 pending: Mapping[str, Pending], refused: Mapping[str, JournalEntry], *,
                 only_missing: bool) -> list[Answer]:
        traces = trace_person(self.roster, self.settings, person.key, group_keys)
        out = []
        for trace in traces:
            answer = self._answer(person, sync, klas, trace, pending, refused)
            if answer.verdict not in _WANTED:
                answer = self._still_in(answer, sync, trace.group, pending)
            if only_missing and answer.verdict == Verdict.MEMBER:
                continue
            out.append(answer)
        return out

    def _answer(self, person: Person, sync: str, klas: Group | None, trace: MembershipTrace,
                pending: Mapping[str, Pending], refused: Mapping[str, JournalEntry]) -> Answer:
        group = self.roster.groups[trace.group]
        steps = tuple(s.to_json() for s in trace.steps)
        person_at = str(person.provenance) if person.provenance else None
        group_at = str(group.provenance) if group.provenance else None
        failed = trace.failed
        name = group.name
        if failed is not None:
            if failed.rule == LAS_MEMBERSHIP:
                if (klas is not None and group.parent == klas.key and group.subject
                        and person.kind is PersonKind.STUDENT):
                    where = tuple(w for w in (person_at and f"pupil: {person_at}",
                                              group_at and f"lesgroep declared: {group_at}") if w)
                    return Answer(name, group.key, None, Verdict.NOT_IN_VAKKEN,
                                  f"vak {group.subject} is not in {person.display_name}'s Vakken, so the LAS does not "
                                  f"place them in {name}, the {group.subject} lesgroep of klas {klas.name}", where, steps)
                where = tuple(w for w in (person_at and f"person: {person_at}", group_at and f"group: {group_at}") if w)
                return Answer(name, group.key, None, Verdict.NOT_PLACED, failed.detail, where, steps)
            verdict = Verdict.FILTERED if "filter" in failed.rule else Verdict.RULE
            where = tuple(w for w in (trace.provenance and f"membership: {trace.provenance}",) if w)
            return Answer(name, group.key, trace.target_group, verdict, f"{failed.rule}: {failed.detail}", where,
                          steps)
        where = tuple(w for w in (trace.provenance and f"membership: {trace.provenance}",) if w)
        target_group = trace.target_group
        role = trace.role or "student"
        if target_group is None:  # a teacher of derived courses: any of them
            keys = [k for k in self.desired.memberships if k.startswith(sync + "|") and k.endswith("|" + role)]
            return Answer(name, group.key, None, Verdict.MEMBER if keys else Verdict.PLANNED,
                          "; ".join(s.detail for s in trace.steps[-1:]), where, steps)
        key = membership_key(sync, target_group, role)
        course = self.desired.objects.get(target_group)
        shown = f"{name} ({course.label})" if course is not None and course.label and course.label != name else name
        if key not in self.desired:
            stronger = [k for k in self.desired.memberships if k.startswith(f"{sync}|{target_group}|")]
            if stronger:
                other = stronger[0].rpartition("|")[2]
                return Answer(shown, group.key, target_group, Verdict.ONE_ROLE,
                              f"a platform holds one role per person per group: {person.display_name} is {other} "
                              f"there, which is kept over {role}", where, steps)
            return Answer(shown, group.key, target_group, Verdict.RULE, "the rules do not make this membership", where,
                          steps)
        in_state = key in self.view.memberships
        if in_state:
            return Answer(shown, group.key, target_group, Verdict.MEMBER, f"in {shown} as {role}", where, steps)
        held = pending.get(key)
        held_text = None
        if held is not None and held.plan_status == "held":
            held_text = f"plan {held.plan} adds it, and that plan is held for approval: {'; '.join(held.holds) or 'a guard'}"
        refusal = refused.get(key)
        if refusal is not None:
            again = held_text.replace("adds it", "tries again") if held_text else "the next sync tries again"
            return Answer(shown, group.key, target_group, Verdict.REFUSED,
                          f"the platform refused it on {refusal.at} (run {refusal.run_id}); {again}", where, steps,
                          plan=held.plan if held_text and held else None, platform_message=refusal.message)
        if held_text is not None and held is not None:
            return Answer(shown, group.key, target_group, Verdict.HELD, held_text, where, steps, plan=held.plan)
        return Answer(shown, group.key, target_group, Verdict.PLANNED,
                      f"it is planned: the next sync adds {person.display_name} to {shown} as {role}", where, steps)

    def _still_in(self, answer: Answer, sync: str, group: str, pending: Mapping[str, Pending]) -> Answer:
        """An answer why not, for a group the state still has the person in: the next sync removes them."""
        prefix = f"{sync}|{group}|"
        key = next((k for k in self.view.memberships if k.startswith(prefix)), None)
        if key is None or key in self.desired:
            return answer
        held = pending.get(key)
        then = (f"plan {held.plan} removes them, and that plan is held for approval" if held is not None
                and held.plan_status == "held" else "the next sync removes them")
        return replace(answer, message=f"{answer.message}; koppel's state still has them in it: {then}",
                       plan=held.plan if held is not None else None)

    def _removals(self, sync: str, groups: Sequence[GroupNow], pending: Mapping[str, Pending],
                  answered: Iterable[str | None]) -> list[Answer]:
        """Groups the person is in per the state that the LAS no longer wants them in (and no answer covers)."""
        out = []
        done = set(answered)
        for g in groups:
            key = membership_key(sync, g.key, g.role)
            if g.status != "active" or key in self.desired or g.key in done:
                continue
            held = pending.get(key)
            if g.school is not None and self.desired.schools and g.school not in self.desired.schools:
                continue  # another school's: left alone
            message = (f"plan {held.plan} removes it, and that plan is held for approval" if held is not None
                       and held.plan_status == "held" else "the LAS no longer places the person here: the next sync "
                       "removes it")
            out.append(Answer(g.name, None, g.key, Verdict.REMOVAL_PLANNED, message, plan=held.plan if held else None))
        return out

    # -- a person the LAS no longer has ------------------------------------------------------------

    def explain_state_person(self, row: Mapping[str, Any], asked: str | None, year: str) -> Explanation:
        sync = row["key"]
        meta = row.get("meta") or {}
        info = PersonInfo(row.get("label") or sync, None, meta.get("leerlingnummer"), meta.get("docentcode"), None,
                          tuple(meta.get("schools") or ([row["school"]] if row.get("school") else [])), {}, None, sync,
                          row.get("status"), False)
        groups = self.groups_now(sync)
        pending, _ = self.pending(sync)
        note = (f"{info.name} is not in the LAS export of {year}: koppel suspends the account and deletes it after "
                "the grace period (see the pending changes)")
        return Explanation(self.tenant, self.target, year, info, tuple(groups), tuple(pending), (), asked, (note,))


# -- persons as a systeembeheerder knows them (koppel history's search results) ----------------------------


def person_lines(app: Koppel, tenant: str, matches: Sequence[Mapping[str, Any]]) -> list[str]:
    """``StateStore.find_persons`` rows as "leerlingnummer/docentcode name (klas) [school] status — sync key",
    the klas from the state's klas memberships."""
    views: dict[str, StateView] = {}
    out = []
    for m in matches:
        target = m.get("target") or ""
        if target not in views:
            views[target] = app.read_state(tenant, target)[0]
        view = views[target]
        prefix = m["key"] + "|"
        klassen = sorted({view.label(k[len(prefix):].rpartition("|")[0]) for k in view.memberships
                          if k.startswith(prefix) and k.endswith("|student")
                          and (view.records.get(k[len(prefix):].rpartition("|")[0]) or _NO_RECORD).group_type == "klas"})
        meta = m.get("meta") or {}
        number = meta.get("leerlingnummer") or meta.get("docentcode")
        bits = [b for b in (number, m.get("label"), klassen and f"({', '.join(klassen)})") if b]
        out.append(f"{' '.join(bits)} [{m.get('school') or '-'}] {m.get('status')} — {m['key']}")
    return out


class _NoRecord:
    group_type = None


_NO_RECORD = _NoRecord()
