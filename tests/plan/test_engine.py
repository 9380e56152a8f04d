"""The pure plan: lifecycle, ordering, guards and determinism, with plain values (no I/O)."""

from __future__ import annotations

import datetime as dt
import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from koppel.model.change import Action
from koppel.model.desired import Desired, DesiredObject, ObjectKind
from koppel.model.keys import membership_fingerprint, membership_key
from koppel.plan.engine import make_plan
from koppel.plan.model import Plan
from koppel.plan.policy import AbsentGroupAction, ArchivedMemberships, GuardPolicy, PlanPolicy
from koppel.plan.render import render_summary_line, render_text
from koppel.plan.state_view import ObjectStatus, StateRecord, StateView

TODAY = dt.date(2026, 3, 2)
G, P, M = ObjectKind.GROUP, ObjectKind.PERSON, ObjectKind.MEMBERSHIP


def group(key, name, parent=None, type_="course", school="12AB00", year="2025-2026"):
    return DesiredObject.make(G, key, {"type": type_, "name": name, "code": None, "parent": parent, "school": school,
                                       "school_year": year}, school=school, label=name)


def person(key, given="Jan", family="Jansen", role="student", school="12AB00", email=None):
    return DesiredObject.make(P, key, {"role": role, "given": given, "prefix": "", "family": family,
                                       "username": key, "email": email}, school=school, label=f"{given} {family}")


def member(p, g, role="student", school="12AB00", home=False):
    key = membership_key(p, g, role)
    return DesiredObject(M, key, {"person": p, "group": g, "role": role, "home": home}, school, f"{p} → {g}", {},
                         membership_fingerprint(home))


def bestuur(pupils=20, year="2025-2026"):
    objs = [group("school:12AB00", "Het Baken", type_="school", year=None),
            group("y", year, "school:12AB00", "folder", year=year),
            group("k3a", "3A", "y", "klas", year=year), group("k3b", "3B", "y", "klas", year=year),
            group("c-ne", "Nederlands 3A", "y", year=year)]
    for i in range(pupils):
        objs.append(person(f"p{i}", given=f"Pupil{i}"))
        objs.append(member(f"p{i}", "k3a" if i % 2 == 0 else "k3b"))
        objs.append(member(f"p{i}", "c-ne"))
    objs.append(person("t1", "Tom", "Docent", role="staff"))
    objs.append(member("t1", "c-ne", "teacher"))
    return objs


def desired(objs, year="2025-2026", schools=("12AB00",)):
    return Desired.build("itslearning", year, objs, schools=schools)


def state_from(objs, *, status=None, serial=7):
    """A state that holds exactly these objects, as the store would after applying them."""
    records, attrs = {}, {}
    for o in objs:
        st_ = (status or {}).get(o.key, ObjectStatus.ACTIVE)
        records[o.key] = StateRecord(o.kind, o.key, st_, o.fingerprint, o.school, o.label,
                                     parent=o.attrs.get("parent") if o.kind is G else None,
                                     group_type=o.attrs.get("type") if o.kind is G else None)
        attrs[o.key] = orjson.dumps(dict(o.attrs))
    return StateView("t", "itslearning", "lineage-1", serial, records, attrs)


def plan(objs, state=None, policy=None, today=TODAY, **kw) -> Plan:
    return make_plan(desired(objs, **kw), state or StateView.empty("t", "itslearning", "lineage-1"),
                     policy or PlanPolicy(), tenant="t", today=today)


def test_first_plan_creates_everything_parents_first():
    p = plan(bestuur())
    assert p.summary() == {"create": 67, "update": 0, "suspend": 0, "restore": 0, "archive": 0, "delete": 0}
    order = [c.key for c in p.changes]
    assert order.index("school:12AB00") < order.index("y") < order.index("k3a")
    first_person = min(i for i, c in enumerate(p.changes) if c.kind is P)
    last_group = max(i for i, c in enumerate(p.changes) if c.kind is G)
    first_membership = min(i for i, c in enumerate(p.changes) if c.kind is M)
    assert last_group < first_person < first_membership
    assert render_summary_line(p) == "Plan: 67 to create, 0 to update, 0 to suspend, 0 to delete."


def test_no_changes_when_state_matches():
    objs = bestuur()
    p = plan(objs, state_from(objs))
    assert p.empty and not p.held
    assert "No changes" in render_text(p)


def test_update_names_changed_fields_and_keeps_protected_ones():
    objs = bestuur()
    state = state_from(objs)
    changed = [person("p1", given="Johan", email="johan@school.nl") if o.key == "p1" else o for o in objs]
    p = plan(changed, state, PlanPolicy(protected={P: frozenset({"email"})}))
    (c,) = p.changes
    assert c.action is Action.UPDATE and c.fields == ("given",) and c.kept == ("email",)
    assert "email" not in c.after, "a field koppel does not own is never sent on update"
    assert c.before == {"email": None, "given": "Pupil1"}
    assert "given 'Pupil1' → 'Johan'" in c.reason and "kept" in c.reason


def test_only_protected_changes_plan_nothing():
    objs = bestuur()
    changed = [person("p1", given="Pupil1", email="x@y.nl") if o.key == "p1" else o for o in objs]
    p = plan(changed, state_from(objs), PlanPolicy(protected={P: frozenset({"email"})}))
    assert p.empty


def test_leaver_is_suspended_with_dates_then_deleted_after_grace():
    objs = bestuur()
    gone = [o for o in objs if "p3" not in o.key]
    p = plan(gone, state_from(objs), PlanPolicy(guards=GuardPolicy(max_percent=50)))
    kinds = {(c.kind, c.action) for c in p.changes}
    assert kinds == {(P, Action.SUSPEND), (M, Action.DELETE)}
    (s,) = [c for c in p.changes if c.kind is P]
    assert s.dates == {"absent_since": "2026-03-02", "delete_after": "2026-04-01"}
    assert "absent from the LAS since 2026-03-02; delete after 2026-04-01" in s.reason
    # Later runs: suspended, inside the grace period -> nothing; after it -> delete.
    state = state_from(objs, status={"p3": ObjectStatus.SUSPENDED})
    rec = state.records["p3"]
    state.records["p3"] = StateRecord(P, "p3", ObjectStatus.SUSPENDED, rec.fingerprint, rec.school, rec.label,
                                      absent_since="2026-03-02", delete_after="2026-04-01")
    still = [o for o in gone]
    assert not [c for c in plan(still, state, today=dt.date(2026, 3, 20)).changes if c.kind is P]
    later = plan(still, state, today=dt.date(2026, 4, 1))
    (d,) = [c for c in later.changes if c.kind is P]
    assert d.action is Action.DELETE and "grace period ended on 2026-04-01" in d.reason


def test_staff_grace_differs_from_pupils():
    objs = bestuur()
    gone = [o for o in objs if "t1" not in o.key]
    p = plan(gone, state_from(objs), PlanPolicy(grace_days={"student": 30, "staff": 90}))
    (s,) = [c for c in p.changes if c.kind is P]
    assert s.dates["delete_after"] == "2026-05-31"


def test_returning_pupil_is_restored_not_recreated():
    objs = bestuur()
    state = state_from(objs, status={"p3": ObjectStatus.SUSPENDED})
    p = plan(objs, state)
    (r,) = p.changes
    assert r.action is Action.RESTORE and r.key == "p3" and r.after["given"] == "Pupil3"


def test_move_between_klassen_is_explained():
    objs = bestuur()
    moved = [member("p2", "k3b") if o.key == "p2|k3a|student" else o for o in objs]
    p = plan(moved, state_from(objs))
    assert {(c.action, c.key) for c in p.changes} == {(Action.CREATE, "p2|k3b|student"),
                                                       (Action.DELETE, "p2|k3a|student")}
    assert all(c.reason == "moved from 3A to 3B" for c in p.changes)


def test_jaarovergang_archives_last_year_and_keeps_memberships_by_default():
    old = bestuur(year="2025-2026")
    new = [group("school:12AB00", "Het Baken", type_="school", year=None),
           group("y2", "2026-2027", "school:12AB00", "folder", year="2026-2027"),
           group("k4a", "4A", "y2", "klas", year="2026-2027")]
    new += [o for o in old if o.kind is P]
    new += [member(f"p{i}", "k4a") for i in range(20)]
    p = plan(new, state_from(old), PlanPolicy(guards=GuardPolicy(max_percent=100, max_count=10**6)),
             year="2026-2027")
    archived = {c.key for c in p.changes if c.action is Action.ARCHIVE}
    assert archived == {"y", "k3a", "k3b", "c-ne"}
    assert not [c for c in p.changes if c.action is Action.DELETE], "keep: last year's memberships stay"
    assert all(c.reason == "school year 2025-2026 ended (jaarovergang)" for c in p.changes
               if c.action is Action.ARCHIVE)
    assert [h.guard for h in p.holds] == ["jaarovergang"], "the transition is one held plan"
    assert "jaarovergang 2025-2026 → 2026-2027: 4 group(s)" in p.holds[0].message
    order = [c.key for c in p.changes if c.action is Action.ARCHIVE]
    assert order.index("c-ne") < order.index("y") and order.index("k3a") < order.index("y"), "children first"
    removing = plan(new, state_from(old), PlanPolicy(archived_memberships=ArchivedMemberships.REMOVE,
                                                     guards=GuardPolicy(max_percent=100, max_count=10**6)),
                    year="2026-2027")
    assert sum(1 for c in removing.changes if c.kind is M and c.action is Action.DELETE) == 41
    teachers = plan(new, state_from(old), PlanPolicy(archived_memberships=ArchivedMemberships.KEEP_TEACHERS,
                                                     guards=GuardPolicy(max_percent=100, max_count=10**6)),
                    year="2026-2027")
    deleted = {c.key for c in teachers.changes if c.kind is M and c.action is Action.DELETE}
    assert "t1|c-ne|teacher" not in deleted and "p0|c-ne|student" in deleted


def test_absent_group_delete_policy():
    objs = bestuur()
    gone = [o for o in objs if o.key != "c-ne" and "|c-ne|" not in o.key]
    p = plan(gone, state_from(objs), PlanPolicy(absent_groups=AbsentGroupAction.DELETE,
                                                archived_memberships=ArchivedMemberships.REMOVE,
                                                guards=GuardPolicy(max_percent=100, max_count=10**6)))
    assert {(c.kind, c.action) for c in p.changes} == {(G, Action.DELETE), (M, Action.DELETE)}


def test_objects_of_schools_out_of_scope_are_left_alone():
    objs = bestuur() + [group("school:99ZZ00", "Elders", type_="school", school="99ZZ00", year=None),
                        person("x1", school="99ZZ00")]
    p = plan(bestuur(), state_from(objs))
    assert p.empty
    assert any("outside this run's scope" in n for n in p.notes)


def test_guard_holds_when_half_the_pupils_vanish():
    objs = bestuur(pupils=40)
    half = [o for o in objs if not (o.key.startswith("p") and int(o.key[1:].split("|")[0]) % 2)]
    p = plan(half, state_from(objs))
    assert p.held
    kinds = {(h.kind, h.school) for h in p.holds}
    assert ("person", "12AB00") in kinds
    hold = next(h for h in p.holds if h.kind == "person")
    assert hold.count == 20 and hold.total == 41
    assert "HELD" in render_text(p)


def test_small_changes_are_not_held():
    objs = bestuur(pupils=200)
    gone = [o for o in objs if not o.key.startswith(("p1|", "p2|")) and o.key not in ("p1", "p2")]
    assert not plan(gone, state_from(objs)).held


def test_absolute_limit_holds_too():
    objs = bestuur(pupils=40)
    gone = [o for o in objs if not (o.kind is P and o.key.startswith("p"))]
    gone = [o for o in gone if not (o.kind is M and o.attrs["role"] == "student")]
    p = plan(gone, state_from(objs), PlanPolicy(guards=GuardPolicy(max_percent=100, max_count=5)))
    assert p.held and {h.kind for h in p.holds} >= {"person", "membership"}


def test_unsupported_actions_are_left_out_with_a_note():
    objs = bestuur()
    gone = [o for o in objs if o.key != "c-ne" and "|c-ne|" not in o.key]
    supported = frozenset((k, a) for k in ObjectKind for a in Action if not (k is G and a is Action.ARCHIVE))
    p = plan(gone, state_from(objs), PlanPolicy(supported=supported, guards=GuardPolicy(max_percent=100)))
    assert not [c for c in p.changes if c.kind is G]
    assert any("cannot archive a group" in n for n in p.notes)


def test_plan_json_is_deterministic_and_round_trips():
    objs = bestuur()
    a = plan(objs)
    shuffled = list(objs)
    random.Random(3).shuffle(shuffled)
    b = plan(shuffled)
    assert a.to_json_bytes() == b.to_json_bytes()
    again = Plan.from_json_bytes(a.to_json_bytes())
    assert again.id == a.id and again.to_json_bytes() == a.to_json_bytes()
    data = orjson.loads(a.to_json_bytes())
    assert data["summary"]["create"] == 67 and len(data["changes"]) == 67


def test_altered_plan_file_is_refused():
    raw = plan(bestuur()).to_json_bytes().replace(b'"Pupil1"', b'"Mallory"')
    try:
        Plan.from_json_bytes(raw)
    except ValueError as exc:
        assert "altered" in str(exc)
    else:
        raise AssertionError("an altered plan must be refused")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["create", "keep", "change", "drop"]), min_size=1, max_size=30), st.randoms())
def test_plan_is_a_function_of_its_inputs(ops, rnd):
    """Whatever mix of changes, the same inputs in any order give the same bytes, and every object is
    accounted for exactly once."""
    old, new = [], []
    for i, op in enumerate(ops):
        p_old = person(f"p{i}", given=f"Old{i}")
        if op in ("keep", "change", "drop"):
            old.append(p_old)
        if op == "create" or op == "keep":
            new.append(person(f"p{i}", given=f"Old{i}"))
        elif op == "change":
            new.append(person(f"p{i}", given=f"New{i}"))
    state = state_from(old)
    shuffled = list(new)
    rnd.shuffle(shuffled)
    policy = PlanPolicy(guards=GuardPolicy(max_percent=100, max_count=10**6))
    a = make_plan(Desired.build("x", "2025-2026", new), state, policy, tenant="t", today=TODAY)
    b = make_plan(Desired.build("x", "2025-2026", shuffled), state, policy, tenant="t", today=TODAY)
    assert a.to_json_bytes() == b.to_json_bytes()
    expect = {"create": ops.count("create"), "update": ops.count("change"), "suspend": ops.count("drop")}
    got = a.summary()
    assert {k: got[k] for k in expect} == expect


def test_jaarovergang_hold_can_be_switched_off():
    old = bestuur(year="2025-2026")
    new = [group("school:12AB00", "Het Baken", type_="school", year=None)] + [o for o in old if o.kind is P]
    policy = PlanPolicy(guards=GuardPolicy(max_percent=100, max_count=10**6, hold_jaarovergang=False))
    assert not plan(new, state_from(old), policy, year="2026-2027").held


def test_archive_names_the_school_group_and_adopted_ids_travel_with_references():
    objs = bestuur()
    state = state_from(objs)
    state.records["p1"] = StateRecord(P, "p1", ObjectStatus.ACTIVE, "stale", "12AB00", "Pupil1 Jansen",
                                      target_id="itsla-0001")
    gone = [o for o in objs if o.key != "c-ne" and "|c-ne|" not in o.key]
    p = plan(gone + [member("p1", "k3a")], state, PlanPolicy(guards=GuardPolicy(max_percent=100, max_count=10**6)))
    archive = next(c for c in p.changes if c.action is Action.ARCHIVE)
    assert archive.meta["school_group"] == "school:12AB00"
    added = next(c for c in p.changes if c.key == "p1|k3a|student")
    assert added.meta == {"target_ids": {"p1": "itsla-0001"}}


def test_groups_of_a_later_year_not_read_this_run_are_left_alone():
    objs = bestuur()
    provisioned = [group("y27", "2026-2027", "school:12AB00", "folder", year="2026-2027"),
                   group("c27", "Nederlands 4A", "y27", year="2026-2027"), member("t1", "c27", "teacher")]
    state = state_from(objs + provisioned)
    p = plan(objs, state)  # this run read 2025-2026 only: next year's data was not available
    assert p.empty
    assert any("later school year" in n for n in p.notes)
    both = Desired.build("itslearning", "2025-2026", objs, schools=("12AB00",))
    both = Desired(both.target, both.school_year, both.objects, schools=both.schools,
                   years=frozenset({"2025-2026", "2026-2027"}))
    archived = make_plan(both, state, PlanPolicy(), tenant="t", today=TODAY)
    assert {c.key for c in archived.changes if c.action is Action.ARCHIVE} == {"y27", "c27"}, \
        "when next year was read and the groups are gone from it, they are archived"


def test_changes_made_by_hand_are_set_back_or_kept_and_said_so():
    objs = bestuur()
    state = state_from(objs)
    from dataclasses import replace as dc_replace

    state = dc_replace(state, drift={"p1": {"given": "Handmatig"}, "p2": {"email": "eigen@school.nl"}})
    p = plan(objs, state, PlanPolicy(protected={P: frozenset({"email"})}))
    (c,) = p.changes
    assert c.key == "p1" and c.action is Action.UPDATE and c.fields == ("given",)
    assert c.before == {"given": "Handmatig"} and c.after["given"] == "Pupil1"
    assert "changed by hand in the platform, set back to the LAS's value" in c.reason
    assert any(n.startswith("kept: Pupil2 Jansen — email changed in the platform") for n in p.notes)


def test_an_altered_create_in_a_plan_file_is_refused():
    raw = plan(bestuur()).to_json_bytes(indent=True)
    tampered = raw.replace(b'"family": "Jansen"', b'"family": "Janssen"', 1)
    assert tampered != raw
    try:
        Plan.from_json_bytes(tampered)
    except ValueError as exc:
        assert "altered" in str(exc)
    else:
        raise AssertionError("a create whose attributes do not match its fingerprint must be refused")


def test_the_streamed_plan_file_is_the_plan_json():
    import io

    p = plan(bestuur(pupils=30))
    buffer = io.BytesIO()
    p.write_json(buffer)
    assert buffer.getvalue() == p.to_json_bytes()
    assert Plan.from_json_bytes(buffer.getvalue()).id == p.id
