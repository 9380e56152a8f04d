"""Planning school by school (issue 13): a plan reads and rules only the schools whose files changed, and takes the
other schools' desired objects from what the rules made of the same bytes before.

A bestuur export in a LAS layout is one folder per school (``12AB00/leerlingen.csv`` …) beside a ``scholen.csv``.
Reading, validating and ruling the whole export is most of a plan that changes one pupil; with this, that work is
proportional to the schools that changed.

**What is remembered.** A recording run (``sync``, ``apply`` without a plan file) that read the export cuts what
the rules made into *slices* (table ``desired_slices``, :mod:`koppel.state.slices`): one per school folder, or one
per set of school folders that share a person (a docent at two schools, a pupil at two schools by ECK iD, two
rows that resolve to one sync key). A slice holds the desired groups and persons of its schools, the digest of
each of its groups' desired memberships (:func:`~koppel.plan.state_view.group_digest`), the findings of the read,
the validation and the rules that concern its schools, and its counts. It is stored under the digest of its
folders' bytes and a *context* digest of everything else the rules read: the scholen file (the only other file a
read of the export opens), the resolved configuration but for where the export lies, koppel's version and the
school year. It is a pure cache: what the rules make of those bytes in that context, whatever happened to the
state since.

**When it is used** (a plan with per-group membership digests, so not ``--full``). A slice is taken as the rules
would make it now when

* its folders' digests and the context are those it was stored under;
* every person in it resolves to the same sync key through the state's identities and has, in the state, the user
  name the slice gives them — so the slice holds no new person, and user names stay unique across the bestuur:
  a known person keeps their name whatever else changes, and the new persons of the changed schools are named
  against every name the state knows, as in a full plan;
* every one of its groups' membership digests equals the state's (:mod:`koppel.state.groups`): its memberships
  need not be read, compared or even made — the plan treats those groups as settled.

The other school folders are read (``CsvSource.read(only=...)``), validated and ruled as the full plan would;
the plan then runs on the desired objects of both, against the whole state, as always. Anything that could make
this differ from the full plan means the full plan: a person of a changed school who is also in a school taken
from a slice, a finding that may concern more than one school (``bad-leerjaar`` is reported once per export, the
school year rows…), more errors than the limit, next year's groups being provisioned, drift or anything
unrecorded in the state, an export not laid out as school folders, more than one source. The log says
``planning school by school`` or ``planning in full: <why>``; :attr:`SchoolSlices.counts` counts both.

**Why it is safe.** The plan engine runs as always and sees the whole state, so removals, grace periods, guards
and their whole-bestuur totals are computed as before; what changes is only where the desired objects of
unchanged schools come from, and those are equal to what the rules would make (the tests compare both plans,
JSON for JSON). A source that fails, or a school folder that is empty or truncated, is read — it changed — and
fails or reports as in a full read; a school folder that disappeared changed the scholen file (or the read stops
on its listing), so that plan is made in full.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

import koppel
from koppel.config import TargetConfig, TenantConfig, YearChoice
from koppel.connectors import load_source_kind
from koppel.model.desired import Desired, DesiredObject, ObjectKind
from koppel.model.roster import Diagnostic, PersonKind, Roster, Severity, SourceInfo
from koppel.plan.engine import desired_membership_groups
from koppel.plan.state_view import StateView, group_digest
from koppel.rules.engine import IdentityIndex, build_desired
from koppel.state.slices import SliceRow
from koppel.validation import validate
from koppel.validation.report import ValidationReport

if TYPE_CHECKING:
    from koppel.pipeline import Koppel

__all__ = ["SchoolSlices", "Spliced", "Units"]

log = structlog.get_logger("koppel.run")

FORMAT = 2
"""The slices' format (part of the context digest): a new format never reads an old slice."""

_MAX_HASHED = 4 * 2**30

# Findings that concern the row, file or object they name, within its school folder: what a read of that folder
# alone reports the same. Anything else (``bad-leerjaar`` is reported once per export, the school-year findings
# depend on every file, a duplicate person may span schools) keeps a plan from going school by school.
_LOCAL_CODES = frozenset({
    # the source, per row or file
    "unknown-column", "misspelt-column", "duplicate-column", "short-row", "long-row", "malformed-row",
    "field-too-long", "bad-character", "invalid-utf8", "missing-value", "duplicate-number", "unlisted-school",
    "bad-school-year", "unknown-klas", "bad-klasvak", "unknown-mentor",
    # validation, per object (of one slice: persons of several schools share one)
    "unknown-person", "unknown-group", "duplicate-membership", "duplicate-leerlingnummer", "duplicate-docentcode",
    "missing-name", "invalid-email", "invalid-eckid", "mojibake", "pupil-without-klas", "group-without-teacher",
    "group-without-pupils", "unknown-parent",
    # the rules, per group or person
    "two-roles", "empty-username",
})
_GLOBAL = ""  # a finding of the scholen file: every read, whole or in part, reports it again
_KINDS = {kind.value: kind for kind in ObjectKind}
_COUNTED = ("schools", "persons", "groups", "memberships")
_GROUP_OF = attrgetter("group")


class _Refused(Exception):
    """Why a plan cannot go school by school (or why slices cannot be cut): it plans in full."""


@dataclass
class Units:
    """The export's school folders, each with the digest of its files, and the digest of everything else the
    rules read (``context``)."""

    source: Any  # the source, made for this year: what reads the changed folders
    root: Path
    folders: Mapping[str, Path]
    digests: dict[str, str]
    rest: str  # the digest of the scholen file, part of ``context``
    context: str
    schools_path: Path | None
    schools_file: str | None  # the scholen file as findings name it


@dataclass(frozen=True)
class Spliced:
    """The desired state of a plan school by school: the changed schools' objects and memberships as the rules
    made them now, and the other schools' groups and persons from their slices; ``settled`` are those slices'
    membership groups (equal to the state's); ``schools`` and ``counts`` describe the whole read."""

    desired: Desired
    settled: frozenset[str]
    schools: Mapping[str, str]
    counts: Mapping[str, int]


@dataclass
class _Slice:
    name: str
    units: dict[str, str]
    schools: dict[str, str] = field(default_factory=dict)  # BRIN6 -> name, of the roster
    scope: list[str] = field(default_factory=list)  # the schools the desired state speaks for
    counts: Counter[str] = field(default_factory=Counter)
    roster_persons: list[str] = field(default_factory=list)  # every person the read found here (_person_id)
    objects: dict[str, DesiredObject] = field(default_factory=dict)  # groups and persons
    groups: dict[str, str] = field(default_factory=dict)  # membership group -> digest of its desired members
    findings: list[Diagnostic] = field(default_factory=list)  # of the read and the validation
    rules: list[Diagnostic] = field(default_factory=list)  # of the rules


class SchoolSlices:
    """Cuts a full plan's desired state into slices, and makes a plan's desired state from the slices of the
    schools that did not change and the rules' work on those that did. See the module's documentation.

    ``counts`` tallies the plans made school by school and the reasons others were made in full, for the log and
    the tests."""

    def __init__(self, app: Koppel) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.last_read: tuple[str, ...] = ()  # the school folders the last plan school by school read

    # -- the export's school folders --------------------------------------------------------------------

    def units(self, tenant: TenantConfig, choice: YearChoice, configuration: str) -> Units | str:
        """The export's school folders and their digests, or why it cannot be planned school by school."""
        if len(tenant.sources) != 1:
            return "the tenant has more than one source"
        src = next(iter(tenant.sources.values()))
        app = self.app
        source = load_source_kind(src.kind).factory(src.name, src.settings,
                                                    app.config.context(tenant, env=app.env, school_year=choice.year))
        folders_of = getattr(source, "school_folders", None)
        if folders_of is None:
            return f"source {src.name} ({src.kind}) is not read from school folders"
        try:
            layout = folders_of()
        except Exception as exc:  # the full read says what is wrong, as it always did
            return f"source {src.name}: {exc}"
        if layout is None or len(layout.folders) < 2:
            return f"source {src.name} is not an export of one folder per school"
        try:
            digests, rest = _digests(layout.root, layout.folders, layout.schools_file)
        except OSError as exc:
            return f"source {src.name}: {exc}"
        if digests is None:
            return f"source {src.name}: the export is larger than koppel hashes"
        context = _sha(orjson.dumps({
            "format": FORMAT, "version": koppel.__version__, "configuration": configuration,
            "year": str(choice.year), "source": src.name, "scholen file": rest,
        }, option=orjson.OPT_SORT_KEYS))
        return Units(source, layout.root, layout.folders, digests, rest, context, layout.schools_file,
                     layout.schools_file_shown)

    # -- a plan school by school ------------------------------------------------------------------------

    def splice(self, tenant: TenantConfig, target_cfg: TargetConfig, choice: YearChoice, units: Units,
               view: StateView, drift: Mapping[str, Any], identities: IdentityIndex, *, record: bool,
               lap: Callable[[str], None]) -> Spliced | None:
        """The desired state from the slices that still hold and the rules' work on the other schools, or None
        (the log says why): plan in full."""
        try:
            return self._splice(tenant, target_cfg, choice, units, view, drift, identities, record, lap)
        except _Refused as why:
            self.refused(tenant, target_cfg, str(why))
            return None

    def refused(self, tenant: TenantConfig, target_cfg: TargetConfig, why: str) -> None:
        self.counts[f"full: {why}"] += 1
        log.info("planning in full", reason=why, tenant=tenant.id, target=target_cfg.name)

    def _splice(self, tenant: TenantConfig, target_cfg: TargetConfig, choice: YearChoice, units: Units,
                view: StateView, drift: Mapping[str, Any], identities: IdentityIndex, record: bool,
                lap: Callable[[str], None]) -> Spliced:
        state_digests = view.membership_digests
        if state_digests is None or drift or view.unrecorded:
            raise _Refused("the state's membership digests do not describe it as it is (a change was recorded "
                           "since they were written, or drift or an unrecorded change is waiting)")
        reused, stale = self._reusable(tenant, target_cfg, units, state_digests, identities)
        lap("slices")
        covered = {brin6 for sl in reused for brin6 in sl.units}
        changed = sorted(set(units.digests) - covered)
        roster, report = self._read(tenant, choice, units, changed, reused)
        lap("read and validate")
        counts = _total_counts([roster.counts(), *(sl.counts for sl in reused)])
        if not counts.get(f"persons.{PersonKind.STUDENT.value}"):
            raise _Refused("the export holds no pupils")  # the full read refuses it, saying so
        made = build_desired(roster, target_cfg.rules, target=target_cfg.name, identities=identities)
        lap("rules")
        cut = _cut(roster, made, units, changed, identities) if record else None
        desired = _spliced(made, reused, units, changed)
        schools = dict(sorted({**{b: school.name for b, school in roster.schools.items()},
                               **{b: n for sl in reused for b, n in sl.schools.items()}}.items()))
        if record:
            self._record(tenant, target_cfg, choice, units, roster, report, reused, counts, cut, stale)
            lap("remember the slices")
        self.counts["school by school"] += 1
        self.last_read = tuple(changed)
        log.info("planning school by school", changed=len(changed), schools=len(units.digests),
                 changed_schools=changed[:10], tenant=tenant.id, target=target_cfg.name)
        return Spliced(desired, frozenset(g for sl in reused for g in sl.groups), schools, counts)

    def _read(self, tenant: TenantConfig, choice: YearChoice, units: Units, changed: list[str],
              reused: list[_Slice]) -> tuple[Roster, ValidationReport]:
        """The changed school folders read and validated (the roster carries the validated findings), when nothing
        of them is in a reused slice's schools and the whole export stays within the error limit."""
        log.info("reading source", tenant=tenant.id, source=units.source.name, school_year=str(choice.year),
                 school_folders=f"{len(changed)} of {len(units.digests)}")
        try:
            partial = units.source.read(only=changed)
        except Exception as exc:  # the full read says what is wrong, as it always did
            raise _Refused(f"reading the changed schools failed ({exc})") from None
        if partial.school_year != choice.year:
            raise _Refused(f"the changed schools describe school year {partial.school_year}")
        if any(set(info.counts) - set(_COUNTED) for info in partial.sources):
            raise _Refused("the source counts more than persons, groups and memberships")
        taken = {key for sl in reused for key in sl.roster_persons}
        if any(_person_id(key) in taken for key in partial.persons):
            raise _Refused("a person of a school that changed is also in a school that did not")
        report = validate(partial, tenant.validation)
        errors = len(report.errors) + sum(d.severity is Severity.ERROR for sl in reused for d in sl.findings)
        if errors > tenant.validation.max_errors:
            raise _Refused("more errors than the limit")  # the full read records and says so
        return replace(partial, diagnostics=tuple(report.diagnostics)), report

    def _record(self, tenant: TenantConfig, target_cfg: TargetConfig, choice: YearChoice, units: Units,
                roster: Roster, report: ValidationReport, reused: list[_Slice], counts: Mapping[str, int],
                cut: list[_Slice] | str | None, stale: list[str]) -> None:
        """A recording run: the read of the whole export (the read schools' findings and the slices'), and the
        changed schools' new slices in place of the stale ones."""
        findings = [*report.diagnostics, *(d for sl in reused for d in sl.findings)]
        whole = ValidationReport(diagnostics=(*(d for d in findings if d.severity is Severity.ERROR),
                                              *(d for d in findings if d.severity is not Severity.ERROR)),
                                 max_errors=tenant.validation.max_errors)
        sources = [SourceInfo(info.name, info.kind, info.read_at, info.location, info.school_year,
                              {k: counts[k] for k in _COUNTED}) for info in roster.sources]
        self.app.runs.source_read_of(tenant.id, choice.year, counts, sources, whole)
        if isinstance(cut, str):
            log.debug("slices not remembered", reason=cut, tenant=tenant.id, target=target_cfg.name)
        elif cut is not None:
            self._remember(tenant, target_cfg, units, cut, drop=stale)

    def _reusable(self, tenant: TenantConfig, target_cfg: TargetConfig, units: Units, state_digests: Mapping[str, str],
                  identities: IdentityIndex) -> tuple[list[_Slice], list[str]]:
        """The slices that hold now, and the names of the others (replaced when this run remembers slices)."""
        rows = self.app.store.slices.index(tenant.id, target_cfg.name)
        if not rows:
            raise _Refused("no slices remembered (a recording full run remembers them)")
        fitting = [row for row in rows if _fits(row, units)]
        if not fitting:
            why = "every school's files changed" if any(row.context == units.context for row in rows) else \
                "the configuration, koppel's version, the school year or the scholen file changed"
            raise _Refused(f"no slice holds: {why}")
        stored = self.app.store.slices.payloads(tenant.id, target_cfg.name, [row.name for row in fitting])
        reused: list[_Slice] = []
        for row in stored.values():
            sl = _decode(row) if _fits(row, units) else None  # (as stored with its payload: it may be newer)
            if sl is not None and _settled(sl, state_digests) and _known(sl, identities):
                reused.append(sl)
        if not reused:
            raise _Refused("no slice holds: the state moved away from every unchanged school's slice")
        if sum(len(sl.units) for sl in reused) != len({b for sl in reused for b in sl.units}):
            raise _Refused("slices overlap (written by two runs at once)")
        names = {sl.name for sl in reused}
        return reused, [row.name for row in rows if row.name not in names]

    # -- remembering -------------------------------------------------------------------------------------

    def remember(self, tenant: TenantConfig, target_cfg: TargetConfig, units: Units | None, roster: Roster,
                 desired: Desired, identities: IdentityIndex, lines: Mapping[str, list[str]] | None = None) -> None:
        """After a full read by a recording run: cut ``desired`` into slices and store them in place of every slice
        of the target — or forget them all when the export cannot be cut (the log says why)."""
        store = self.app.store.slices
        if units is None:
            store.forget(tenant.id, target_cfg.name)
            return
        cut = _cut(roster, desired, units, sorted(units.digests), identities, lines)
        if isinstance(cut, str):
            log.debug("slices not remembered", reason=cut, tenant=tenant.id, target=target_cfg.name)
            store.forget(tenant.id, target_cfg.name)
            return
        self._remember(tenant, target_cfg, units, cut, drop=None)

    def _remember(self, tenant: TenantConfig, target_cfg: TargetConfig, units: Units, cut: list[_Slice], *,
                  drop: Iterable[str] | None) -> None:
        """Store ``cut`` — when the export still holds the bytes hashed before the read (an export written while
        koppel read it is remembered by nobody)."""
        try:
            again, rest = _digests(units.root, units.folders, units.schools_path)
        except OSError:
            again, rest = None, ""
        if again != units.digests or rest != units.rest:
            log.info("slices not remembered: the export changed while it was read", tenant=tenant.id,
                     target=target_cfg.name)
            self.app.store.slices.forget(tenant.id, target_cfg.name)
            return
        rows = [SliceRow(sl.name, units.context, sl.units, _encode(sl)) for sl in cut]
        self.app.store.slices.replace(tenant.id, target_cfg.name, rows, drop=drop)


# -- cutting a desired state into slices ------------------------------------------------------------------


def _cut(roster: Roster, desired: Desired, units: Units, read: Collection[str], identities: IdentityIndex,
         lines: Mapping[str, list[str]] | None = None) -> list[_Slice] | str:
    """The slices of what was read from the school folders ``read``: schools linked by a shared person form one
    slice. A string says why the read cannot be cut (nothing is remembered then)."""
    if desired.notes:
        return "the desired state has notes of its own (next year's groups)"
    cutter = _Cutter(set(read))
    try:
        cutter.link(roster, desired, identities)
        return cutter.fill(roster, desired, units, lines)
    except _Refused as why:
        return str(why)


class _Cutter:
    """Which school folders belong together (a union-find over their BRIN6s), and what lies in each slice."""

    def __init__(self, brins: set[str]) -> None:
        self.brins = brins
        self.parent = {b: b for b in brins}
        self.group_school: dict[str, str] = {}
        self.person_school: dict[str, str] = {}
        self.slices: dict[str, _Slice] = {}

    def find(self, brin6: str) -> str:
        parent = self.parent
        while parent[brin6] != brin6:
            parent[brin6] = parent[parent[brin6]]
            brin6 = parent[brin6]
        return brin6

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # a slice is named by its first BRIN6

    def school(self, brin6: str | None, what: str) -> str:
        if brin6 is None or brin6 not in self.brins:
            raise _Refused(f"{what} is in no school folder of the export")
        return brin6

    def link(self, roster: Roster, desired: Desired, identities: IdentityIndex) -> None:
        """Link the schools of every person, of persons resolving to one sync key, of a guardian and their
        children, of a group and its parent, and of a membership's person and group."""
        if not set(roster.schools) <= self.brins:
            raise _Refused("a school of the read is no school folder")
        first: dict[str, str] = {}
        persons = roster.persons
        for key, person in persons.items():
            if not person.schools:
                raise _Refused(f"person {key} is at no school")
            home = self.school(person.schools[0], f"person {key}")
            for other in person.schools[1:]:
                self.union(home, self.school(other, f"person {key}"))
            self.union(first.setdefault(identities.resolve(person), home), home)
            for child in person.children:
                known = persons.get(child)
                if known is not None and known.schools:
                    self.union(home, self.school(known.schools[0], f"person {child}"))
        group_school, person_school = self.group_school, self.person_school
        for key, obj in desired.objects.items():
            school = self.school(obj.school, key)
            if obj.kind is ObjectKind.GROUP:
                group_school[key] = school
            elif obj.kind is ObjectKind.PERSON:
                person_school[key] = school
                for other in obj.meta.get("schools", ()):
                    self.union(school, self.school(other, key))
            else:
                raise _Refused("the desired state holds memberships as objects")
        for key, obj in desired.objects.items():
            if obj.kind is ObjectKind.GROUP and (ref := obj.attrs.get("parent")) is not None:
                if ref not in group_school:
                    raise _Refused(f"the parent of {key} is not in the desired state")
                self.union(group_school[key], group_school[ref])
            elif obj.kind is ObjectKind.PERSON:
                for child in obj.attrs.get("children", ()):
                    if child in person_school:
                        self.union(person_school[key], person_school[child])
        of_group, of_person = group_school.get, person_school.get
        for m in desired.memberships.values():  # a million: the common case costs two lookups
            at = m.school
            if of_group(m.group) != at or of_person(m.person) != at:
                in_group, person_home = of_group(m.group), of_person(m.person)
                if in_group is None or person_home is None or in_group != at:
                    raise _Refused(f"membership {m.person}|{m.group} lies outside its group's and person's schools")
                self.union(person_home, in_group)

    def slice_of(self, brin6: str) -> _Slice:
        root = self.find(brin6)
        sl = self.slices.get(root)
        if sl is None:
            sl = self.slices[root] = _Slice(root, {})
        return sl

    def fill(self, roster: Roster, desired: Desired, units: Units,
             lines: Mapping[str, list[str]] | None) -> list[_Slice]:
        """Each slice: its folders, schools, scope, roster persons, counts, desired objects, membership digests
        and findings."""
        for brin6 in sorted(self.brins):
            self.slice_of(brin6).units[brin6] = units.digests[brin6]
        for brin6, listed in roster.schools.items():
            sl = self.slice_of(brin6)
            sl.schools[brin6] = listed.name
            sl.counts["schools"] += 1
        for brin6 in sorted(desired.schools):
            self.slice_of(self.school(brin6, f"school {brin6} of the desired state")).scope.append(brin6)
        for key, person in roster.persons.items():
            sl = self.slice_of(person.schools[0])
            sl.roster_persons.append(_person_id(key))
            sl.counts["persons"] += 1
            sl.counts[f"persons.{person.kind.value}"] += 1
        roster_group_school: dict[str, str] = {}
        for key, roster_group in roster.groups.items():
            roster_group_school[key] = self.school(roster_group.school, f"group {key}")
            self.slice_of(roster_group.school).counts["groups"] += 1
        tally: Counter[str | None] = Counter(map(roster_group_school.get, map(_GROUP_OF, roster.memberships)))
        if tally.pop(None, 0):  # memberships of an unknown group (reported): counted at their person's school
            for membership in roster.memberships:
                if membership.group not in roster_group_school:
                    member = roster.persons.get(membership.person)
                    if member is None:
                        raise _Refused("a membership names neither a group nor a person of the read")
                    tally[member.schools[0]] += 1
        for counted, n in tally.items():
            self.slice_of(self.school(counted, "a membership")).counts["memberships"] += n
        for key, obj in desired.objects.items():
            self.slice_of(self.school(obj.school, key)).objects[key] = obj
        for group, members in (lines if lines is not None else desired_membership_groups(desired)).items():
            self.slice_of(self.group_school[group]).groups[group] = group_digest(members)
        # Findings: each must lie in one school folder (or be the scholen file's, read again by every read).
        for findings, of_rules in ((roster.diagnostics, False), (desired.diagnostics[len(roster.diagnostics):], True)):
            for d in findings:
                concerns = _school_of(d, units, self.brins, desired.objects)
                if concerns is None:
                    raise _Refused(f"a finding ({d.code}) that cannot be told to concern one school")
                if concerns is _GLOBAL:
                    continue
                if d.code not in _LOCAL_CODES:
                    raise _Refused(f"a finding ({d.code}) that may concern more than one school")
                sl = self.slice_of(concerns)
                (sl.rules if of_rules else sl.findings).append(d)
        return [self.slices[root] for root in sorted(self.slices)]


def _spliced(made: Desired, reused: list[_Slice], units: Units, changed: Collection[str]) -> Desired:
    """The changed schools' desired state (``made``) with the reused slices' groups, persons, findings and scope;
    refused when the two overlap or a finding of the changed schools may concern another school."""
    objects: dict[str, DesiredObject] = {}
    for sl in reused:
        objects.update(sl.objects)
    for key, obj in made.objects.items():
        if key in objects:
            raise _Refused(f"{key} is both in a school that changed and in one that did not")
        objects[key] = obj
    _check_findings(made.diagnostics, units, changed, made)
    return Desired.from_table(
        made.target, made.school_year, objects, memberships=dict(made.memberships),
        diagnostics=[*made.diagnostics, *(d for sl in reused for d in (*sl.findings, *sl.rules))],
        schools=set(made.schools).union(*(sl.scope for sl in reused)), years=made.years, notes=made.notes)


def _school_of(d: Diagnostic, units: Units, brins: Collection[str], objects: Mapping[str, DesiredObject]) -> str | None:
    """The school folder a finding concerns; ``_GLOBAL`` for the scholen file's; None when it cannot be told."""
    if d.file:
        head = d.file.split("/", 1)[0]
        if head in brins:
            return head
        if units.schools_file is not None and d.file == units.schools_file:
            return _GLOBAL
        return None
    if d.code == "two-roles" and d.object:
        group = objects.get(d.object.rpartition("|")[2])
        return group.school if group is not None and group.school in brins else None
    return None


def _check_findings(findings: Iterable[Diagnostic], units: Units, changed: Collection[str], made: Desired) -> None:
    """The findings of a read in part must lie in the schools read (or be the scholen file's)."""
    for d in findings:
        school = _school_of(d, units, changed, made.objects)
        if school is None:
            raise _Refused(f"a finding ({d.code}) that cannot be told to concern one school")
        if school is not _GLOBAL and d.code not in _LOCAL_CODES:
            raise _Refused(f"a finding ({d.code}) that may concern more than one school")


# -- checking a slice against the state -------------------------------------------------------------------


def _settled(sl: _Slice, state_digests: Mapping[str, str]) -> bool:
    """Every membership group of the slice has, in the state, exactly the members the slice wants."""
    return all(state_digests.get(group) == digest for group, digest in sl.groups.items())


def _known(sl: _Slice, identities: IdentityIndex) -> bool:
    """Every person of the slice resolves to the sync key the slice has them under, and the state knows them by
    the user name the slice gives them: the rules would make the same person object now."""
    resolve, usernames = identities.resolve_key, identities.usernames
    person = ObjectKind.PERSON
    for key, obj in sl.objects.items():
        if obj.kind is not person:
            continue
        meta = obj.meta
        if resolve(meta.get("source", ""), meta.get("las_key", ""), meta.get("eckid")) != key \
                or usernames.get(key) != obj.attrs.get("username"):
            return False
    return True


# -- storing a slice ------------------------------------------------------------------------------------


def _encode(sl: _Slice) -> bytes:
    body = {
        "format": FORMAT, "schools": sl.schools, "scope": sl.scope, "counts": dict(sl.counts),
        "roster_persons": sl.roster_persons, "groups": sl.groups,
        "objects": [[o.kind.value, o.key, o.attrs, o.school, o.label, o.meta, o.fingerprint]
                    for o in sl.objects.values()],
        "findings": [d.to_json() for d in sl.findings], "rules": [d.to_json() for d in sl.rules],
    }
    return zlib.compress(orjson.dumps(body), 1)


def _fits(row: SliceRow, units: Units) -> bool:
    """The slice was stored for these bytes in this context."""
    return row.context == units.context and all(units.digests.get(b) == digest for b, digest in row.units.items())


def _decode(row: SliceRow) -> _Slice | None:
    if not row.payload:
        return None
    try:
        body = orjson.loads(zlib.decompress(row.payload))
    except (zlib.error, orjson.JSONDecodeError):
        return None
    if body.get("format") != FORMAT:
        return None
    kinds = _KINDS
    objects: dict[str, DesiredObject] = {}
    for kind, key, attrs, school, label, meta, fp in body["objects"]:
        if "children" in attrs:  # the one attribute that is a tuple (model.attrs); JSON gives a list
            attrs["children"] = tuple(attrs["children"])
        objects[key] = DesiredObject(kinds[kind], key, attrs, school, label, meta, fp)
    return _Slice(row.name, dict(row.units), body["schools"], body["scope"], Counter(body["counts"]),
                  body["roster_persons"], objects, body["groups"],
                  [_diagnostic(d) for d in body["findings"]], [_diagnostic(d) for d in body["rules"]])


def _diagnostic(j: Mapping[str, Any]) -> Diagnostic:
    return Diagnostic(Severity(j["severity"]), j["code"], j["message"], j.get("source"), j.get("file"), j.get("line"),
                      j.get("field"), j.get("object"))


# -- counts and digests -----------------------------------------------------------------------------------


def _total_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counts summed, in the order ``Roster.counts`` gives them."""
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    kinds = sorted(k for k in total if k.startswith("persons."))
    return {"schools": total["schools"], "persons": total["persons"], **{k: total[k] for k in kinds},
            "groups": total["groups"], "memberships": total["memberships"]}


def _digests(root: Path, folders: Mapping[str, Path],
             schools_file: Path | None) -> tuple[dict[str, str] | None, str]:
    """Per school folder, the SHA-256 of its files (names, sizes, bytes, every file in it), and that of the scholen
    file: every file a read of the export reads. None when the export is larger than koppel hashes."""
    files = {brin6: sorted(f for f in folder.rglob("*") if f.is_file()) for brin6, folder in folders.items()}
    listing = [schools_file] if schools_file is not None else []
    if sum(f.stat().st_size for found in (*files.values(), listing) for f in found) > _MAX_HASHED:
        return None, ""
    return {brin6: _hash_files(root, found) for brin6, found in files.items()}, _hash_files(root, listing)


def _hash_files(root: Path, files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(root).as_posix()} {file.stat().st_size}\n".encode())
        with open(file, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _person_id(key: str) -> str:
    """A roster person key, short (an ECK iD key is 140 characters): what tells whether a person read now is in a
    slice's schools. Two keys with one id (2^-64) would only make a plan full."""
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
