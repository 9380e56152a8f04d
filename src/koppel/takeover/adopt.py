"""From matched pairs to the takeover plan's parts: what is adopted (with the attributes to record and the
fields the first sync will set), and what is left on the site (foreign accounts, stale ones, user-name
collisions). Split from :mod:`.match`, which decides the pairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from koppel.model.desired import ObjectKind, fingerprint
from koppel.model.keys import ADOPTED, membership_fingerprint
from koppel.takeover.model import Adoption, Collision, Foreign, FoundPerson, Missing

if TYPE_CHECKING:
    from koppel.takeover.match import _Matching


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    return None if value == "" else value

# -- adoptions -------------------------------------------------------------------------------

def merge(m: _Matching, kind: ObjectKind, wanted: Mapping[str, Any], found: Mapping[str, Any]
           ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What to record — the desired attributes, with the site's values where the site holds another —
    and the fields the first sync will set to the LAS's value."""
    expected = m.held(kind, wanted)
    recorded = dict(wanted)
    updates = []
    for name, value in expected.items():
        theirs = found.get(name)
        if _norm(theirs) == _norm(value):
            continue
        recorded[name] = theirs
        if name == "username" and theirs:
            continue  # an account keeps its user name: the rules read it back from the state
        updates.append(name)
    return recorded, tuple(sorted(updates))

def marker_key(m: _Matching, person: FoundPerson) -> str | None:
    if person.target_id:
        return f"takeover:{person.target_id}"
    if person.username:
        return f"takeover-manual:{person.username.casefold()}"
    return None

def adopt_persons(m: _Matching) -> list[Adoption]:
    out = []
    for i, key in sorted(m.people.f2d.items(), key=lambda kv: kv[1]):
        found, wanted = m.persons_f[i], m.persons_d[key]
        recorded, updates = merge(m, ObjectKind.PERSON, wanted.attrs, found.attrs())
        marker = marker_key(m, found)
        out.append(Adoption(
            kind="person", key=key, target_id=found.target_id, label=wanted.label, matched_on=m.people.how[i],
            attrs=recorded, fingerprint=fingerprint(recorded), school=wanted.school, meta=dict(wanted.meta or {}),
            updates=updates, site_label=found.label, username=None if found.target_id else found.username,
            replaces=marker if marker in m.state.markers else None,
        ))
    return out

def adopt_groups(m: _Matching) -> list[Adoption]:
    out = []
    for j, key in sorted(m.groups.f2d.items(), key=lambda kv: kv[1]):
        found, wanted = m.groups_f[j], m.groups_d[key]
        theirs: dict[str, Any] = {"type": found.type, "name": found.name, "parent": m._parent_key(found.parent)}
        if found.type == "course":
            theirs["code"] = found.code
        recorded, updates = merge(m, ObjectKind.GROUP, wanted.attrs, theirs)
        out.append(Adoption(
            kind="group", key=key, target_id=found.target_id, label=wanted.label, matched_on=m.groups.how[j],
            attrs=recorded, fingerprint=fingerprint(recorded), school=wanted.school, meta=dict(wanted.meta or {}),
            updates=updates, site_label=found.name,
        ))
    return out

def person_key(m: _Matching, target_id: str) -> str | None:
    for p_index, p in persons_by_target_id(m).get(target_id, ()):
        if p.managed_key:
            return p.managed_key
        if p_index is not None and p_index in m.people.f2d:
            return m.people.f2d[p_index]
    return None

def persons_by_target_id(m: _Matching) -> dict[str, list[tuple[int | None, FoundPerson]]]:
    cached = m.by_target_id
    if cached is None:
        free = {id(p): i for i, p in enumerate(m.persons_f)}
        cached = defaultdict(list)
        for p in m.discovery.persons:
            if p.target_id:
                cached[p.target_id].append((free.get(id(p)), p))
        m.by_target_id = cached
    return cached

def adopt_memberships(m: _Matching) -> tuple[list[Adoption], int, int]:
    wanted: dict[tuple[str, str], tuple[str, str, str | None, bool]] = {}  # (person, group) -> key, role, school, home
    for key, lean in m.desired.memberships.items():
        wanted[(lean.person, lean.group)] = (key, lean.role, lean.school, lean.home)
    for obj in m.desired.of_kind(ObjectKind.MEMBERSHIP):
        if obj.key not in m.desired.memberships:
            a = obj.attrs
            wanted[(a["person"], a["group"])] = (obj.key, a["role"], obj.school, bool(a.get("home")))
    out: list[Adoption] = []
    taken: set[str] = set()
    left = managed = 0
    for fm in sorted(m.discovery.memberships, key=lambda found: found.target_id):
        person, group = person_key(m, fm.person), m._group_key(fm.group)
        hit = wanted.get((person, group)) if person and group else None
        if hit is None or person is None or group is None:
            left += 1
            continue
        key, role, school, home = hit
        if key in m.state.managed:
            managed += 1
            continue
        if key in taken:  # a second membership of the same person in the same group: left alone
            left += 1
            continue
        taken.add(key)
        recorded = {"person": person, "group": group, "role": fm.role or role, "home": fm.home}
        updates = tuple(name for name, value in (("home", home), ("role", role)) if recorded[name] != value)
        same_role = recorded["role"] == role
        out.append(Adoption(
            kind="membership", key=key, target_id=fm.target_id, label=membership_label(m, person, group),
            matched_on="person and group", attrs=recorded,
            fingerprint=(membership_fingerprint(fm.home) if same_role else ADOPTED), school=school, updates=updates,
            site_label=fm.target_id,
        ))
    return out, left, managed

def membership_label(m: _Matching, person: str, group: str) -> str:
    p, g = m.desired.objects.get(person), m.desired.objects.get(group)
    return f"{p.label if p else person} → {g.label if g else group}"

# -- what is left on the site ------------------------------------------------------------------

def find_foreign(m: _Matching) -> list[Foreign]:
    groups_of: dict[str, set[str]] = defaultdict(set)
    for fm in m.discovery.memberships:
        groups_of[fm.person].add(fm.group)
    scope = set(m.desired.schools)
    out = []
    for i, p in enumerate(m.persons_f):
        if i in m.people.f2d:
            continue
        record_key = marker_key(m, p)
        schools = sorted({s for g in groups_of.get(p.target_id or "", ())
                          if (found := m.all_groups.get(g)) is not None
                          and (s := m._school_of(found)) is not None} & scope) if p.target_id else []
        if i in m.people.blocked:
            status, reason = "left alone", "the mapping CSV says it is no one's"
        elif p.manual:
            status, reason = "left alone", "made by hand; matches no LAS person"
        elif p.role not in m.person_kinds:
            status, reason = "left alone", f"a {p.role or 'person without profile'}: koppel does not provision these"
        elif schools:
            status, reason = "stale", (f"made by the previous koppeling in {', '.join(schools)}; no LAS person "
                                       "matches it")
        else:
            status, reason = "left alone", "in none of the schools koppel covers"
        if record_key in m.state.markers:
            reason += " (recorded at an earlier takeover)"
            record_key = None
        out.append(Foreign(p.target_id, p.label, status, reason, record_key, p.attrs(),
                           schools[0] if schools else None))
    return out

def find_collisions(m: _Matching, create: list[Missing]) -> list[Collision]:
    holders: dict[str, FoundPerson] = {}
    for p in m.discovery.persons:
        if p.username:
            holders.setdefault(p.username.casefold(), p)
    out = []
    for missing in create:
        if missing.kind != "person":
            continue
        username = m.persons_d[missing.key].attrs.get("username") if missing.key in m.persons_d else None
        holder = holders.get(str(username).casefold()) if username else None
        if holder is not None:
            out.append(Collision(missing.key, missing.label, str(username), holder.target_id or holder.username or "",
                                 holder.label))
    return out
