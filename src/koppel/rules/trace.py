"""How the membership rules evaluate for one person: each rule's verdict, step by step.

``build_desired`` decides for a whole school at once and keeps no trace (it is the hot path of a bestuur's
plan). This module evaluates the same rules for one person and one group and says which rule let the
membership through or stopped it — as HelloID shows how each rule evaluated for one person. It is read by
``koppel explain``; ``build_desired`` stays the truth (a test keeps the two in agreement on a generated
school), this only says why.

Pure: roster and settings in, a :class:`MembershipTrace` out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from koppel.model.keys import klas_vak_key, vak_jaarlaag_key
from koppel.model.roster import Group, GroupKind, Membership, Person, PersonKind, Provenance, Role, Roster
from koppel.rules.engine import _klas_in_scope, _school_in_scope
from koppel.rules.settings import CourseStrategy, FilterSettings, RulesSettings

__all__ = ["MembershipTrace", "Step", "klas_of", "trace_membership", "trace_person"]

# What each step is called (the keys ``koppel explain --format json`` shows).
SCHOOL_FILTER = "school filter"
PERSON_KIND_FILTER = "person kind filter"
KLAS_FILTER = "klas filter"
GROUP_FILTER = "group filter"
LAS_MEMBERSHIP = "LAS membership"
ROUTE = "where members go"


@dataclass(frozen=True, slots=True)
class Step:
    """One rule and its verdict for this person and group."""

    rule: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class MembershipTrace:
    """The rules, evaluated for one person in one roster group, in the order ``build_desired`` applies them.

    ``target_group`` is the sync key of the klas node or course the membership goes to (when every step
    passed), ``role`` the role it has there, ``provenance`` where the LAS placed the person in the group."""

    person: str  # roster keys
    group: str
    steps: tuple[Step, ...]
    role: str | None = None
    target_group: str | None = None
    provenance: Provenance | None = None

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps)

    @property
    def failed(self) -> Step | None:
        """The first rule that stopped the membership; None when all passed."""
        return next((s for s in self.steps if not s.passed), None)

    def to_json(self) -> dict[str, object]:
        return {"person": self.person, "group": self.group, "passed": self.passed, "role": self.role,
                "target_group": self.target_group, "steps": [s.to_json() for s in self.steps],
                "provenance": self.provenance.to_json() if self.provenance else None}


def klas_of(roster: Roster, person: str) -> Group | None:
    """The person's klas (stamgroep) in the roster: the last one the roster places them in as a pupil, as the
    rules take it."""
    klas = None
    for m in roster.memberships:
        if m.person == person and m.role is Role.STUDENT:
            g = roster.groups.get(m.group)
            if g is not None and g.kind is GroupKind.STAMGROEP:
                klas = g
    return klas


def trace_person(roster: Roster, settings: RulesSettings, person: str,
                 groups: Iterable[str] | None = None) -> list[MembershipTrace]:
    """The trace of each roster group in ``groups`` (default: every group the LAS places the person in)."""
    placed = [m for m in roster.memberships if m.person == person]
    klas = klas_of(roster, person)
    wanted = list(dict.fromkeys(groups if groups is not None else (m.group for m in placed)))
    return [_trace(roster, settings, person, g, [m for m in placed if m.group == g], klas) for g in wanted]


def trace_membership(roster: Roster, settings: RulesSettings, person: str, group: str) -> MembershipTrace:
    """How the rules evaluate for ``person`` in ``group`` (roster keys)."""
    return trace_person(roster, settings, person, [group])[0]


@dataclass(frozen=True, slots=True)
class _Case:
    """One person and one roster group, with what the rules read of them."""

    roster: Roster
    filters: FilterSettings
    person: Person
    group: Group
    placed: list[Membership]  # the LAS's memberships of the person in the group
    klas: Group | None  # the person's klas


def _trace(roster: Roster, s: RulesSettings, person_key: str, group_key: str, placed: list[Membership],
           klas: Group | None) -> MembershipTrace:
    """The steps in ``build_desired``'s order, up to the first that stops the membership; when none does,
    the route: where the membership goes and with which role."""
    provenance = placed[0].provenance if placed else None
    person, group = roster.persons.get(person_key), roster.groups.get(group_key)
    if person is None or group is None:
        return MembershipTrace(person_key, group_key, (Step(LAS_MEMBERSHIP, False, "not in the LAS export"),),
                               provenance=provenance)
    case = _Case(roster, s.filters, person, group, placed, klas)
    steps: list[Step] = []
    for rule in _FILTER_STEPS:
        step = rule(case)
        if step is None:  # the rule does not apply to this person
            continue
        steps.append(step)
        if not step.passed:
            return MembershipTrace(person_key, group_key, tuple(steps), provenance=provenance)
    role = _strongest(placed)
    route, target_group = _route(s, group, klas, role)
    steps.append(route)
    return MembershipTrace(person_key, group_key, tuple(steps), role=role, target_group=target_group,
                           provenance=provenance)


def _school_step(c: _Case) -> Step:
    """1. schools (filters.schools, filters.exclude_schools)"""
    f, person, group = c.filters, c.person, c.group
    if not _school_in_scope(f, group.school):
        return Step(SCHOOL_FILTER, False, f"school {group.school} is left out by filters.schools / "
                                          "filters.exclude_schools")
    if not any(b in c.roster.schools and _school_in_scope(f, b) for b in person.schools):
        return Step(SCHOOL_FILTER, False, f"none of the person's schools ({', '.join(person.schools)}) is in "
                                          "filters.schools")
    return Step(SCHOOL_FILTER, True, f"school {group.school} is in scope")


def _person_kind_step(c: _Case) -> Step:
    """2. kinds of person (filters.person_kinds)"""
    kind = c.person.kind.value
    if kind not in c.filters.person_kinds:
        return Step(PERSON_KIND_FILTER, False, f"{kind} is not in filters.person_kinds "
                                               f"({', '.join(c.filters.person_kinds)})")
    return Step(PERSON_KIND_FILTER, True, f"{kind} is provisioned")


def _klas_step(c: _Case) -> Step | None:
    """3. pupils by klas and leerjaar (filters.klassen, filters.leerjaren); None for others, or without them"""
    f, klas = c.filters, c.klas
    if c.person.kind is not PersonKind.STUDENT or not (f.leerjaren or f.klassen):
        return None
    if klas is None:
        return Step(KLAS_FILTER, False, "the pupil has no klas, and filters.klassen / filters.leerjaren "
                                        "select pupils by klas")
    if not _klas_in_scope(f, klas):
        return Step(KLAS_FILTER, False, f"klas {klas.name} (leerjaar {klas.leerjaar}) is left out by "
                                        "filters.klassen / filters.leerjaren")
    return Step(KLAS_FILTER, True, f"klas {klas.name} is in scope")


def _group_step(c: _Case) -> Step:
    """4. the group (klas filters for a klas, leerjaren for other groups)"""
    f, group = c.filters, c.group
    if group.kind is GroupKind.STAMGROEP and (f.leerjaren or f.klassen) and not _klas_in_scope(f, group):
        return Step(GROUP_FILTER, False, f"klas {group.name} is left out by filters.klassen / filters.leerjaren")
    if (group.kind is not GroupKind.STAMGROEP and f.leerjaren and group.leerjaar is not None
            and group.leerjaar not in f.leerjaren):
        return Step(GROUP_FILTER, False, f"{group.name} is of leerjaar {group.leerjaar}, not in filters.leerjaren")
    return Step(GROUP_FILTER, True, f"{group.kind.value} {group.name} is in scope")


def _placed_step(c: _Case) -> Step:
    """5. does the LAS place the person in the group?"""
    group, placed = c.group, c.placed
    if not placed:
        return Step(LAS_MEMBERSHIP, False, f"the LAS does not place {c.person.display_name} in "
                                           f"{group.kind.value} {group.name}")
    roles = sorted({m.role.value for m in placed})
    where = f" ({placed[0].provenance})" if placed[0].provenance else ""
    return Step(LAS_MEMBERSHIP, True, f"the LAS places the person in {group.name} as {', '.join(roles)}{where}")


_FILTER_STEPS: tuple[Callable[[_Case], Step | None], ...] = (
    _school_step, _person_kind_step, _klas_step, _group_step, _placed_step)


def _route(s: RulesSettings, group: Group, klas: Group | None, role: str) -> tuple[Step, str | None]:
    """6. where the members of this group go: the step, and the sync key of the klas node or course (None when
    the membership goes nowhere, or to each course of the group's pupils)."""
    if group.kind is GroupKind.STAMGROEP:
        if not s.hierarchy.klassen:
            return Step(ROUTE, False, "hierarchy.klassen is off: klassen get no node, so no members"), None
        if role not in ("student", "mentor"):
            return Step(ROUTE, False, f"a klas node takes pupils and mentors, not a {role}"), None
        return Step(ROUTE, True, f"klas node {group.name}"), group.key
    if s.course_strategy is CourseStrategy.LESGROEP or not group.subject:
        return Step(ROUTE, True, f"course of lesgroep {group.name}"), group.key
    vak = group.subject or group.name
    if role != "student":
        return Step(ROUTE, True, f"a {role} of {group.name} teaches each {s.course_strategy.value} course "
                                 "its pupils are in"), None
    if s.course_strategy is CourseStrategy.KLAS_VAK and klas is not None:
        return (Step(ROUTE, True, f"course of klas {klas.name} × vak {vak} (course_strategy klas-vak)"),
                klas_vak_key(klas.key, vak))
    leerjaar = group.leerjaar if group.leerjaar is not None else (klas.leerjaar if klas else None)
    return (Step(ROUTE, True, f"course of vak {vak} × leerjaar {leerjaar} (course_strategy "
                              f"{s.course_strategy.value})"),
            vak_jaarlaag_key(group.school, str(group.school_year), leerjaar, vak))


_RANK = {Role.TEACHER: 0, Role.MENTOR: 1, Role.STUDENT: 2, Role.GUARDIAN: 3}


def _strongest(placed: list[Membership]) -> str:
    return min((m.role for m in placed), key=_RANK.__getitem__).value
