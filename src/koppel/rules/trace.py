"""How the membership rules evaluate for one person: each rule's verdict, step by step.

``build_desired`` decides for a whole school at once and keeps no trace (it is the hot path of a bestuur's
plan). This module evaluates the same rules for one person and one group and says which rule let the
membership through or stopped it — as HelloID shows how each rule evaluated for one person. It is read by
``koppel explain``; ``build_desired`` stays the truth (a test keeps the two in agreement on a generated
school), this only says why.

Pure: roster and settings in, a :class:`MembershipTrace` out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from koppel.model.keys import klas_vak_key, vak_jaarlaag_key
from koppel.model.roster import Group, GroupKind, Membership, Person, PersonKind, Provenance, Role, Roster
from koppel.rules.engine import _klas_in_scope, _school_in_scope
from koppel.rules.settings import CourseStrategy, RulesSettings

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


def _trace(roster: Roster, s: RulesSettings, person_key: str, group_key: str, placed: list[Membership],
           klas: Group | None) -> MembershipTrace:
    f = s.filters
    person: Person | None = roster.persons.get(person_key)
    group: Group | None = roster.groups.get(group_key)
    steps: list[Step] = []

    def done(**extra: object) -> MembershipTrace:
        provenance = placed[0].provenance if placed else None
        return MembershipTrace(person_key, group_key, tuple(steps), provenance=provenance, **extra)  # type: ignore[arg-type]

    if person is None or group is None:
        steps.append(Step(LAS_MEMBERSHIP, False, "not in the LAS export"))
        return done()
    # 1. schools (filters.schools, filters.exclude_schools)
    schools = [b for b in person.schools if b in roster.schools and _school_in_scope(f, b)]
    if not _school_in_scope(f, group.school):
        steps.append(Step(SCHOOL_FILTER, False, f"school {group.school} is left out by filters.schools / "
                                                "filters.exclude_schools"))
        return done()
    if not schools:
        steps.append(Step(SCHOOL_FILTER, False, f"none of the person's schools ({', '.join(person.schools)}) is in "
                                                "filters.schools"))
        return done()
    steps.append(Step(SCHOOL_FILTER, True, f"school {group.school} is in scope"))
    # 2. kinds of person (filters.person_kinds)
    if person.kind.value not in f.person_kinds:
        steps.append(Step(PERSON_KIND_FILTER, False, f"{person.kind.value} is not in filters.person_kinds "
                                                     f"({', '.join(f.person_kinds)})"))
        return done()
    steps.append(Step(PERSON_KIND_FILTER, True, f"{person.kind.value} is provisioned"))
    # 3. pupils by klas and leerjaar (filters.klassen, filters.leerjaren)
    if person.kind is PersonKind.STUDENT and (f.leerjaren or f.klassen):
        if klas is None:
            steps.append(Step(KLAS_FILTER, False, "the pupil has no klas, and filters.klassen / filters.leerjaren "
                                                  "select pupils by klas"))
            return done()
        if not _klas_in_scope(f, klas):
            steps.append(Step(KLAS_FILTER, False, f"klas {klas.name} (leerjaar {klas.leerjaar}) is left out by "
                                                  "filters.klassen / filters.leerjaren"))
            return done()
        steps.append(Step(KLAS_FILTER, True, f"klas {klas.name} is in scope"))
    # 4. the group (klas filters for a klas, leerjaren for other groups)
    if group.kind is GroupKind.STAMGROEP and (f.leerjaren or f.klassen) and not _klas_in_scope(f, group):
        steps.append(Step(GROUP_FILTER, False, f"klas {group.name} is left out by filters.klassen / "
                                               "filters.leerjaren"))
        return done()
    if (group.kind is not GroupKind.STAMGROEP and f.leerjaren and group.leerjaar is not None
            and group.leerjaar not in f.leerjaren):
        steps.append(Step(GROUP_FILTER, False, f"{group.name} is of leerjaar {group.leerjaar}, not in "
                                               "filters.leerjaren"))
        return done()
    steps.append(Step(GROUP_FILTER, True, f"{group.kind.value} {group.name} is in scope"))
    # 5. does the LAS place the person in the group?
    if not placed:
        steps.append(Step(LAS_MEMBERSHIP, False, f"the LAS does not place {person.display_name} in "
                                                 f"{group.kind.value} {group.name}"))
        return done()
    roles = sorted({m.role.value for m in placed})
    where = f" ({placed[0].provenance})" if placed[0].provenance else ""
    steps.append(Step(LAS_MEMBERSHIP, True, f"the LAS places the person in {group.name} as {', '.join(roles)}{where}"))
    # 6. where the members of this group go
    role = _strongest(placed)
    if group.kind is GroupKind.STAMGROEP:
        if not s.hierarchy.klassen:
            steps.append(Step(ROUTE, False, "hierarchy.klassen is off: klassen get no node, so no members"))
            return done(role=role)
        if role not in ("student", "mentor"):
            steps.append(Step(ROUTE, False, f"a klas node takes pupils and mentors, not a {role}"))
            return done(role=role)
        steps.append(Step(ROUTE, True, f"klas node {group.name}"))
        return done(role=role, target_group=group.key)
    if s.course_strategy is CourseStrategy.LESGROEP or not group.subject:
        steps.append(Step(ROUTE, True, f"course of lesgroep {group.name}"))
        return done(role=role, target_group=group.key)
    vak = group.subject or group.name
    if role != "student":
        steps.append(Step(ROUTE, True, f"a {role} of {group.name} teaches each {s.course_strategy.value} course "
                                       "its pupils are in"))
        return done(role=role)
    if s.course_strategy is CourseStrategy.KLAS_VAK and klas is not None:
        course = klas_vak_key(klas.key, vak)
        steps.append(Step(ROUTE, True, f"course of klas {klas.name} × vak {vak} (course_strategy klas-vak)"))
    else:
        leerjaar = group.leerjaar if group.leerjaar is not None else (klas.leerjaar if klas else None)
        course = vak_jaarlaag_key(group.school, str(group.school_year), leerjaar, vak)
        steps.append(Step(ROUTE, True, f"course of vak {vak} × leerjaar {leerjaar} (course_strategy "
                                       f"{s.course_strategy.value})"))
    return done(role=role, target_group=course)


_RANK = {Role.TEACHER: 0, Role.MENTOR: 1, Role.STUDENT: 2, Role.GUARDIAN: 3}


def _strongest(placed: list[Membership]) -> str:
    return min((m.role for m in placed), key=_RANK.__getitem__).value
