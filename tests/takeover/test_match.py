"""Matching a site another koppeling filled to koppel's desired objects: pure, with plain values.

Every case a real switch brings: sync ids made from LAS numbers, e-mail and user names, course codes and
titles told apart by their school, an ambiguity listed and never guessed, a mapping CSV that decides, a
user name another account holds, the previous koppeling's leavers (stale) and accounts left alone."""

from __future__ import annotations

import pytest

from koppel.model.desired import Desired, DesiredObject, LeanMembership, ObjectKind
from koppel.takeover.facts import LasFacts
from koppel.takeover.mapping_file import parse_mapping
from koppel.takeover.match import StateFacts, match
from koppel.takeover.model import Discovery, FoundGroup, FoundMembership, FoundPerson, TakeoverPlan
from koppel.takeover.record import state_changes
from koppel.takeover.settings import TakeoverSettings
from koppel.targets.itslearning.mapping import MappingConfig, held_attrs

G, P = ObjectKind.GROUP, ObjectKind.PERSON
CONFIG = MappingConfig(site_root="ROOT")
HELD = lambda kind, attrs: held_attrs(kind, attrs, CONFIG)  # noqa: E731


def school(brin6: str, name: str) -> DesiredObject:
    return DesiredObject.make(G, f"school:{brin6}", {"type": "school", "name": name, "code": brin6, "parent": None,
                                                     "school": brin6, "school_year": None}, school=brin6, label=name)


def course(brin6: str, groep: str, name: str, code: str) -> DesiredObject:
    return DesiredObject.make(G, f"las:{brin6}:2025-2026:{groep}", {
        "type": "course", "name": name, "code": code, "parent": f"school:{brin6}", "school": brin6,
        "school_year": "2025-2026"}, school=brin6, label=name)


def klas(brin6: str, name: str) -> DesiredObject:
    return DesiredObject.make(G, f"las:{brin6}:2025-2026:stamgroep:{name}", {
        "type": "klas", "name": name, "code": name, "parent": f"school:{brin6}", "school": brin6,
        "school_year": "2025-2026"}, school=brin6, label=name)


def pupil(number: str, given: str, family: str, brin6: str = "12AB00", email: str | None = None,
          username: str | None = None) -> DesiredObject:
    return DesiredObject.make(P, f"las:{brin6}:{number}", {
        "role": "student", "given": given, "prefix": "", "family": family, "username": username or number,
        "email": email}, school=brin6, label=f"{given} {family}",
        meta={"leerlingnummer": number, "las_key": f"{brin6}:{number}", "schools": [brin6]})


def desired(*objects: DesiredObject, memberships: dict[str, LeanMembership] | None = None) -> Desired:
    table = {o.key: o for o in objects}
    schools = {o.school for o in objects if o.school}
    return Desired.from_table("itslearning", "2025-2026", table, memberships=memberships or {}, schools=schools)


def facts_for(d: Desired) -> LasFacts:
    persons, groups, scopes = {}, {}, {}
    for o in d.objects.values():
        brin6 = o.school or ""
        base = {"brin": brin6[:4], "brin4": brin6[:4], "brin6": brin6}
        if o.kind is P:
            persons[o.key] = ({**base, "leerlingnummer": o.meta["leerlingnummer"]},)
        elif o.attrs["type"] == "school":
            groups[o.key], scopes[o.key] = base, "school"
        else:
            groep = o.key.rsplit(":", 1)[1]
            kind = "klas" if o.attrs["type"] == "klas" else "course"
            groups[o.key] = {**base, "groep": groep, kind if kind == "klas" else "lesgroep": groep, "jaar": "2025"}
            scopes[o.key] = kind
    return LasFacts(persons, groups, scopes)


def run(d: Desired, found: Discovery, settings: TakeoverSettings | None = None, mapping: str | None = None,
        state: StateFacts | None = None) -> TakeoverPlan:
    return match(d, facts_for(d), found, settings or TakeoverSettings(), state=state or StateFacts("L", 0),
                 tenant="school", target="itslearning", today="2025-10-01", held=HELD, person_kinds=("student", "staff"),
                 mapping=parse_mapping(mapping, path="map.csv") if mapping is not None else None)


def site(persons=(), groups=(), memberships=()) -> Discovery:
    return Discovery(tuple(persons), tuple(groups), tuple(memberships), site_root="ROOT")


EC = TakeoverSettings(person_sync_ids=["EC_{brin}_{leerlingnummer}"],
                      group_sync_ids=["EC_{brin}", "EC_{brin}_{lesgroep}_{jaar}", "EC_{brin}_{klas}_{jaar}"])


def adopted(plan: TakeoverPlan) -> dict[str, tuple[str | None, str]]:
    return {a.key: (a.target_id, a.matched_on) for a in plan.adopt}


def test_sync_id_templates_match_persons_groups_and_their_memberships():
    d = desired(school("12AB00", "Het Baken"), course("12AB00", "1A.ne", "Nederlands 1A.ne", "1A.ne"),
                klas("12AB00", "1A"), pupil("100105", "Roos", "Vermeulen"),
                memberships={"las:12AB00:100105|las:12AB00:2025-2026:1A.ne|student": LeanMembership.of(
                    "las:12AB00:100105", "las:12AB00:2025-2026:1A.ne", "student", False, "12AB00")})
    found = site(
        [FoundPerson("EC_12AB_100105", "Roos", "", "Vermeulen", "roos.v", None, "student")],
        [FoundGroup("EC_12AB", "school", "Het Baken"), FoundGroup("EC_12AB_1A.ne_2025", "course",
                                                                   "Nederlands 1A.ne", None, "EC_12AB"),
         FoundGroup("EC_12AB_1A_2025", "folder", "1A", None, "EC_12AB")],
        [FoundMembership("m1", "EC_12AB_100105", "EC_12AB_1A.ne_2025", "student")])
    plan = run(d, found, EC)
    assert adopted(plan) == {
        "las:12AB00:100105": ("EC_12AB_100105", "sync_id"),
        "school:12AB00": ("EC_12AB", "sync_id"),
        "las:12AB00:2025-2026:1A.ne": ("EC_12AB_1A.ne_2025", "sync_id"),
        "las:12AB00:2025-2026:stamgroep:1A": ("EC_12AB_1A_2025", "sync_id"),
        "las:12AB00:100105|las:12AB00:2025-2026:1A.ne|student": ("m1", "person and group"),
    }
    person = next(a for a in plan.adopt if a.kind == "person")
    assert person.attrs["username"] == "roos.v" and "username" not in person.updates, "the account keeps its name"
    uncoded = next(a for a in plan.adopt if a.key.endswith("1A.ne"))
    assert uncoded.updates == ("code",) and uncoded.attrs["code"] is None, "a course without code gets one"
    assert not plan.create and not plan.ambiguous and not plan.blocked
    assert plan.counts()["suspend"] == {"person": 0, "group": 0, "membership": 0}


def test_two_candidates_are_listed_never_guessed_and_the_mapping_decides():
    d = desired(pupil("100105", "Roos", "Vermeulen", email="gezin@example.org"),
                pupil("100106", "Sem", "Vermeulen", email="gezin@example.org"))
    found = site([FoundPerson("A", "Roos", "", "Vermeulen", "rvermeulen", "gezin@example.org", "student"),
                  FoundPerson("B", "Sem", "", "Vermeulen", "svermeulen", "gezin@example.org", "student")])
    plan = run(d, found, TakeoverSettings(match_persons_on=["email"]))
    assert not plan.adopt and len(plan.ambiguous) == 4, plan.ambiguous  # both accounts, both pupils
    assert plan.blocked and "ambiguous" in plan.blocked[0]
    resolved = run(d, found, TakeoverSettings(match_persons_on=["email"]),
                   mapping="sync id,koppel key\nA,las:12AB00:100105\n")
    assert adopted(resolved) == {"las:12AB00:100105": ("A", "mapping map.csv:2"),
                                 "las:12AB00:100106": ("B", "email")}, "one decided pair frees the other"
    assert not resolved.ambiguous and not resolved.blocked


def test_a_user_name_match_needs_the_same_achternaam_and_a_taken_name_is_reported():
    d = desired(pupil("100119", "Roos", "Janssen"))
    test_account = FoundPerson(None, "Test", "", "Leerling", "100119", None, "student", manual=True)
    plan = run(d, site([test_account]))
    assert not plan.adopt, "the same user name alone does not make someone else's account theirs"
    (collision,) = plan.collisions
    assert (collision.key, collision.username, collision.holder) == ("las:12AB00:100119", "100119", "100119")
    (alone,) = plan.foreign
    assert alone.status == "left alone" and alone.record_key == "takeover-manual:100119"
    changes, _ = state_changes(plan)
    assert [c.key for c in changes] == ["takeover-manual:100119"], "recorded so its user name stays taken"
    assert changes[0].fingerprint == "takeover-foreign"


def test_titles_are_told_apart_by_their_school():
    d = desired(school("12AB00", "Het Baken"), school("34CD00", "De Vaart"), klas("12AB00", "1A"), klas("34CD00", "1A"))
    found = site(groups=[FoundGroup("S1", "school", "Het Baken"), FoundGroup("S2", "school", "De Vaart"),
                         FoundGroup("K1", "folder", "1A", None, "S1"), FoundGroup("K2", "folder", "1A", None, "S2")])
    plan = run(d, found)
    assert adopted(plan) == {"school:12AB00": ("S1", "title"), "school:34CD00": ("S2", "title"),
                             "las:12AB00:2025-2026:stamgroep:1A": ("K1", "title"),
                             "las:34CD00:2025-2026:stamgroep:1A": ("K2", "title")}


def test_course_codes_match_within_a_school_and_a_course_is_never_a_klas():
    d = desired(school("12AB00", "Het Baken"), course("12AB00", "1A.ne", "Nederlands 1A.ne", "1A.ne 2526"),
                klas("12AB00", "1A"))
    found = site(groups=[FoundGroup("S", "school", "Het Baken"),
                         FoundGroup("C", "course", "ne 1A", "1A.NE 2526", "S"),
                         FoundGroup("X", "course", "1A", None, "S")])  # a course named like the klas
    plan = run(d, found)
    assert adopted(plan)["las:12AB00:2025-2026:1A.ne"] == ("C", "code")
    assert "las:12AB00:2025-2026:stamgroep:1A" not in adopted(plan), "a course cannot become a klas"
    assert ("X", "1A") in plan.unmatched_groups


def test_leavers_are_stale_in_koppels_schools_and_others_are_left_alone():
    d = desired(school("12AB00", "Het Baken"), pupil("100105", "Roos", "Vermeulen"))
    found = site(
        [FoundPerson("EC_12AB_100105", "Roos", "", "Vermeulen", "100105", None, "student"),
         FoundPerson("EC_12AB_990001", "Sem", "", "Weg", "990001", None, "student"),
         FoundPerson("EC_99ZZ_1", "Ander", "", "School", "ander", None, "student"),
         FoundPerson("EC_12AB_OUDER", "Ouder", "", "Vermeulen", "ouder", None, "guardian"),
         FoundPerson(None, "Beheer", "", "Account", "beheerder", None, "Administrator", manual=True)],
        [FoundGroup("EC_12AB", "school", "Het Baken"), FoundGroup("EC_99ZZ", "school", "Elders")],
        [FoundMembership(f"m{i}", p, "EC_12AB" if p != "EC_99ZZ_1" else "EC_99ZZ", "student")
         for i, p in enumerate(["EC_12AB_100105", "EC_12AB_990001", "EC_99ZZ_1", "EC_12AB_OUDER"])])
    plan = run(d, found, EC.model_copy(update={"group_sync_ids": ["EC_{brin}"]}),
               state=StateFacts("L", 7))
    status = {f.target_id: (f.status, f.school) for f in plan.foreign}
    assert status == {"EC_12AB_990001": ("stale", "12AB00"), "EC_99ZZ_1": ("left alone", None),
                      "EC_12AB_OUDER": ("left alone", "12AB00"), None: ("left alone", None)}
    changes, _ = state_changes(plan)
    stale = next(c for c in changes if c.target_id == "EC_12AB_990001")
    assert stale.key == "takeover:EC_12AB_990001" and stale.fingerprint == "takeover-stale:8"
    assert plan.counts()["suspend"]["person"] == 0, "the takeover itself suspends nobody"


def test_a_membership_with_another_role_is_adopted_and_its_role_updated():
    d = desired(school("12AB00", "Het Baken"), pupil("100105", "Roos", "Vermeulen"),
                memberships={"las:12AB00:100105|school:12AB00|student": LeanMembership.of(
                    "las:12AB00:100105", "school:12AB00", "student", True, "12AB00")})
    found = site([FoundPerson("EC_12AB_100105", "Roos", "", "Vermeulen", "100105", None, "student")],
                 [FoundGroup("EC_12AB", "school", "Het Baken")],
                 [FoundMembership("m", "EC_12AB_100105", "EC_12AB", "Member", home=False)])
    plan = run(d, found, EC)
    m = next(a for a in plan.adopt if a.kind == "membership")
    assert m.target_id == "m" and set(m.updates) == {"home", "role"} and m.fingerprint == "adopted"


def test_mapping_rows_that_cannot_be_used_are_problems_that_block_approval():
    d = desired(pupil("100105", "Roos", "Vermeulen"), pupil("100106", "Sem", "Dekker"), school("12AB00", "Het Baken"))
    found = site([FoundPerson("A", "Roos", "", "Vermeulen", "x", None, "student")], [FoundGroup("S", "school", "X")])
    plan = run(d, found, mapping="NOPE,las:12AB00:100105\nA,las:12AB00:999\nS,las:12AB00:100106\n")
    assert plan.problems == (
        "map.csv:1: 'NOPE': there is no such account or group on the site",
        "map.csv:2: no LAS object with koppel key 'las:12AB00:999' (the takeover's CSV report lists the keys)",
        "map.csv:3: 'las:12AB00:100106' is a person in koppel, 'S' is not",
    )
    assert plan.blocked


@pytest.mark.parametrize("rule", ["email", "username"])
def test_an_account_made_by_hand_is_adopted_by_user_name_once_converted(rule):
    d = desired(pupil("100105", "Roos", "Vermeulen", email="roos@example.org"))
    manual = FoundPerson(None, "Roos", "", "Vermeulen", "100105", "roos@example.org", "student", manual=True)
    plan = run(d, site([manual]), TakeoverSettings(match_persons_on=[rule]))
    (a,) = plan.adopt
    assert a.target_id is None and a.username == "100105"
    assert state_changes(plan)[0] == [], "not recorded without the sync key itslearning gives it"
    (change,), _ = state_changes(plan, {"100105": "itsla-1"})
    assert change.target_id == "itsla-1" and change.key == "las:12AB00:100105"


def test_the_plan_file_round_trips_and_an_altered_one_is_refused():
    d = desired(school("12AB00", "Het Baken"), pupil("100105", "Roos", "Vermeulen"))
    plan = run(d, site([FoundPerson("EC_12AB_100105", "Roos", "", "Vermeulen", "100105", None, "student")],
                       [FoundGroup("EC_12AB", "school", "Het Baken")]), EC)
    raw = plan.to_json_bytes()
    again = TakeoverPlan.from_json_bytes(raw)
    assert again.id == plan.id and again == plan
    with pytest.raises(ValueError, match="altered"):
        TakeoverPlan.from_json_bytes(raw.replace(b"EC_12AB_100105", b"EC_12AB_100106"))
    with pytest.raises(ValueError, match="not a koppel takeover plan"):
        TakeoverPlan.from_json_bytes(b'{"changes": []}')
