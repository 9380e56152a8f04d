"""The pure mapping: koppel's objects as SCIM resources and PATCH messages (RFC 7643/7644), and back."""

from __future__ import annotations

import pytest
from scim2_models import Context, PatchOp, User

from koppel.model.desired import ObjectKind
from koppel.targets.scim import mapping
from koppel.targets.scim.mapping import MappingConfig

CONFIG = MappingConfig()
ZOE = {"role": "student", "given": "Zoë", "prefix": "van der", "family": "Berg", "username": "zberg",
       "email": "zoe@example.org"}


def test_a_person_is_a_user_with_the_sync_key_as_external_id():
    body = mapping.wire(mapping.user_resource("eck-1a2b", ZOE, CONFIG), Context.RESOURCE_CREATION_REQUEST)
    assert body == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "eck-1a2b",
        "userName": "zberg",
        "name": {"formatted": "Zoë van der Berg", "familyName": "van der Berg", "givenName": "Zoë"},
        "displayName": "Zoë van der Berg",
        "userType": "Student",
        "active": True,
        "emails": [{"value": "zoe@example.org", "type": "work", "primary": True}],
    }


def test_user_types_and_email_type_follow_the_configuration():
    config = MappingConfig(user_types={"student": "Leerling", "staff": "Teacher", "guardian": "Parent"},
                           email_type="school")
    body = mapping.wire(mapping.user_resource("k", {**ZOE, "role": "staff", "email": None}, config),
                        Context.RESOURCE_CREATION_REQUEST)
    assert body["userType"] == "Teacher" and "emails" not in body
    assert config.role_of("teacher") == "staff" and config.role_of("Visitor") is None


@pytest.mark.parametrize("attrs, problem", [({**ZOE, "username": ""}, "userName"),
                                             ({**ZOE, "email": "not an address"}, "email")])
def test_a_value_scim_cannot_carry_is_refused_with_a_message(attrs, problem):
    with pytest.raises(ValueError, match=problem):
        mapping.user_resource("k", attrs, CONFIG)


def test_an_update_replaces_only_the_fields_that_changed():
    patch = mapping.user_patch(ZOE, ("email",), CONFIG)
    assert mapping.wire(patch, Context.RESOURCE_PATCH_REQUEST)["Operations"] == [
        {"op": "replace", "path": "emails", "value": [{"value": "zoe@example.org", "type": "work", "primary": True}]}]
    names = mapping.wire(mapping.user_patch(ZOE, ("family",), CONFIG), Context.RESOURCE_PATCH_REQUEST)["Operations"]
    assert [op["path"] for op in names] == ["name", "displayName"]
    assert names[0]["value"]["familyName"] == "van der Berg"


def test_suspend_is_active_false_and_a_restore_sends_everything_with_active_true():
    assert mapping.wire(mapping.user_active_patch(False), Context.RESOURCE_PATCH_REQUEST) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}]}
    restore = mapping.wire(mapping.user_patch(ZOE, tuple(ZOE), CONFIG, active=True), Context.RESOURCE_PATCH_REQUEST)
    assert {op["path"] for op in restore["Operations"]} == {"userName", "name", "displayName", "emails", "userType",
                                                             "active"}
    # What the server does with it: scim2-models applies the PATCH as RFC 7644 §3.5.2 says.
    user = User(user_name="old", active=False)
    PatchOp[User].model_validate(restore, scim_ctx=Context.RESOURCE_PATCH_REQUEST).patch(user)
    assert (user.user_name, user.active, user.name.family_name) == ("zberg", True, "van der Berg")


def test_member_changes_of_a_group_are_one_patch_with_a_value_filter_per_member_gone():
    body = mapping.wire(mapping.members_patch(add=["u1", "u2"], remove=['u"3']), Context.RESOURCE_PATCH_REQUEST)
    assert body["Operations"] == [
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": 'members[value eq "u\\"3"]'},
    ]


def test_without_patch_the_members_are_merged_into_the_group_read():
    current = {"id": "g", "displayName": "3A", "meta": {"version": 'W/"4"'},
               "members": [{"value": "a"}, {"value": "b"}]}
    merged = mapping.merge_members(current, add=["c", "a"], remove=["b"])
    assert merged == {"id": "g", "displayName": "3A", "members": [{"value": "a"}, {"value": "c"}]}
    user = mapping.merge_user({"id": "u", "userName": "x", "emails": [{"value": "old@x.nl"}], "nickName": "Z",
                               "meta": {}}, ZOE, ("email",), CONFIG, active=False)
    assert user == {"id": "u", "userName": "x", "nickName": "Z", "active": False,
                    "emails": [{"value": "zoe@example.org", "type": "work", "primary": True}]}


def test_filters_quote_their_values_as_json_strings():
    assert mapping.external_id_filter(["a", 'b"c']) == 'externalId eq "a" or externalId eq "b\\"c"'
    assert mapping.user_name_filter("zberg") == 'userName eq "zberg"'


@pytest.mark.parametrize("family_name, expected", [
    ("van der Berg", ("van der", "Berg")),
    ("in 't Veld", ("in 't", "Veld")),
    ("El Amrani", ("", "El Amrani")),
    ("Nguyễn", ("", "Nguyễn")),
    ("de", ("", "de")),
    (None, ("", "")),
])
def test_the_voorvoegsel_is_read_back_as_the_lower_case_words_in_front(family_name, expected):
    assert mapping.split_family(family_name) == expected


def test_held_attrs_are_what_read_returns_for_what_was_sent():
    user = mapping.parse_user(mapping.wire(mapping.user_resource("k", ZOE, CONFIG), Context.RESOURCE_CREATION_REQUEST)
                              | {"id": "u1"})
    read = mapping.person_attrs(user, CONFIG)
    held = mapping.held_attrs(ObjectKind.PERSON, ZOE, CONFIG)
    assert {name: read[name] for name in held} == held
    assert mapping.held_attrs(ObjectKind.GROUP, {"type": "klas", "name": "3A", "parent": "x"}, CONFIG) == {"name": "3A"}
    assert mapping.held_attrs(ObjectKind.MEMBERSHIP, {"person": "p", "group": "g", "role": "mentor", "home": False},
                              CONFIG) == {"person": "p", "group": "g"}


def test_an_odd_value_from_the_server_does_not_stop_a_read():
    user = mapping.parse_user({"id": "u", "userName": "x", "emails": [{"value": "not-an-address", "primary": True}],
                               "name": {"familyName": "de Vries"}, "active": False})
    assert (user.email, user.family, user.active) == ("not-an-address", "de Vries", False)


def test_folders_are_not_sent_and_a_group_under_one_needs_its_school():
    klas = {"type": "klas", "name": "3A", "parent": "year:12AB00:2025-2026", "school": "12AB00"}
    assert mapping.anchor_of(klas) == "school:12AB00"
    assert mapping.anchor_of({**klas, "parent": "school:12AB00"}) == "school:12AB00"
    assert mapping.anchor_of({"type": "school", "parent": None}) is None
    assert mapping.is_folder({"type": "folder"}) and not mapping.is_folder(klas)
    assert mapping.archived_name({"name": "3A", "school_year": "2025-2026"}, CONFIG) == "3A (2025-2026)"
