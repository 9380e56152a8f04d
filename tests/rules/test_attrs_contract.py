"""Every object the rules make carries exactly the attributes its kind's contract (koppel.model.attrs) names,
with values of the kinds it names: the plan, the applier, the state and the targets read them by that contract."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from koppel.model.attrs import GroupAttrs, GroupType, MembershipAttrs, MembershipRole, PersonAttrs, PersonRole
from koppel.model.desired import ObjectKind
from koppel.model.roster import Person, PersonKind
from koppel.rules.engine import build_desired
from koppel.rules.settings import RulesSettings

from .test_rules import roster

CONTRACT: dict[ObjectKind, Any] = {ObjectKind.GROUP: GroupAttrs, ObjectKind.PERSON: PersonAttrs,
                                   ObjectKind.MEMBERSHIP: MembershipAttrs}
LITERALS = {(ObjectKind.GROUP, "type"): GroupType, (ObjectKind.PERSON, "role"): PersonRole,
            (ObjectKind.MEMBERSHIP, "role"): MembershipRole}


def guardian() -> Person:
    return Person(key="las:G1", kind=PersonKind.GUARDIAN, source="las", las_key="G1", roepnaam="Els",
                  voorvoegsel="", achternaam="Jansen", schools=("12AB00",), children=("las:1", "las:2"))


@pytest.mark.parametrize("strategy", ["lesgroep", "klas-vak", "vak-jaarlaag"])
def test_every_object_fits_its_contract(strategy: str) -> None:
    rules = RulesSettings(course_strategy=strategy, hierarchy={"leerjaar": True},
                          filters={"person_kinds": ["student", "staff", "guardian"]})
    desired = build_desired(roster(extra_persons=[guardian()]), rules, target="x")
    seen = set()
    for kind in ObjectKind:
        for obj in desired.of_kind(kind):
            contract = CONTRACT[kind]
            keys = set(obj.attrs)
            assert contract.__required_keys__ <= keys <= contract.__required_keys__ | contract.__optional_keys__, \
                (obj.key, keys)
            for (k, name), literal in LITERALS.items():
                if k is kind:
                    assert obj.attrs[name] in get_args(literal), (obj.key, name, obj.attrs[name])
            seen.add((kind, obj.attrs.get("type") or obj.attrs.get("role")))
    children = [o.attrs["children"] for o in desired.of_kind(ObjectKind.PERSON) if o.attrs["role"] == "guardian"]
    assert children and all(isinstance(c, tuple) and c for c in children)
    assert {(ObjectKind.GROUP, t) for t in ("school", "folder", "klas", "course")} <= seen
