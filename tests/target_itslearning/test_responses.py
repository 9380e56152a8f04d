"""The response parser accepts every response shape itslearning is known to send (wire-facts page).

Fixtures under ``responses/`` are hand-written and named after what they show: the dBildungs
template with full declarations, the two header flavours from itswizard's structs, an empty
``messageIdRef``, WCF's default-namespace switching, the SOAP namespace without its trailing slash,
``statusInfoSet`` on a single-object operation, ``membershipIDPairSet`` with a capital "ID" — and
the shapes that must fail cleanly: the published examples that are not namespace-well-formed,
HTML, SOAP faults, and status counts that do not match the request.
"""

from __future__ import annotations

import pytest
from lxml import etree

from koppel.errors import TargetAuthError, TargetProtocolError, TransientTargetError
from koppel.model.change import Action, Change, ItemOutcome
from koppel.model.desired import ObjectKind
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.responses import (
    item_statuses,
    parse_response,
    read_all_persons_result,
    read_group_result,
    read_groups_result,
    read_memberships_result,
    read_person_result,
    read_persons_result,
    soap_fault_error,
)
from koppel.targets.itslearning.values import (
    CodeMajor,
    ExtensionField,
    ImsMembership,
    ImsPerson,
    Operation,
    Severity,
    SoapResponse,
)

from .conftest import RESPONSES


def parse(name: str) -> SoapResponse:
    return parse_response((RESPONSES / name).read_bytes())


def test_full_declarations_with_empty_message_ids():
    response = parse("dbildungs-base-action-spec__full-declarations-success.xml")
    (status,) = item_statuses(response, 1, operation=Operation.CREATE_PERSON)
    assert (status.code_major, status.severity) == (CodeMajor.SUCCESS, Severity.STATUS)
    assert status.message_id_ref is None and response.message_identifier is None
    assert not response.in_set
    assert etree.QName(response.body).localname == "createPersonResponse"


def test_failure_carries_code_minor_and_description():
    (status,) = parse("dbildungs-base-action-spec__full-declarations-failure.xml").statuses
    assert (status.code_major, status.severity) == (CodeMajor.FAILURE, Severity.ERROR)
    assert status.code_minor == ("invaliddata",) and status.code == "invaliddata"
    assert status.description == "The parent hierarchy 'NOPE' does not exist."


def test_declared_version_of_the_published_delete_person_response():
    response = parse("deletePerson.html__example-response-declared.xml")
    assert response.message_identifier == "1"
    assert response.statuses[0].message_id_ref == "1"
    assert response.statuses[0].code_major is CodeMajor.SUCCESS


def test_published_examples_that_are_not_namespace_well_formed_fail_clearly():
    with pytest.raises(TargetProtocolError, match="not XML.*[Nn]amespace prefix h"):
        parse("deletePerson.html__example-response-as-published.xml")
    with pytest.raises(TargetProtocolError, match="not XML"):
        parse("readGroup.html__example-response-unterminated-attribute.xml")


def test_soap_namespace_without_trailing_slash_is_tolerated():
    response = parse("deleteMembership.html__soap-namespace-without-trailing-slash.xml")
    assert (
        item_statuses(response, 1, operation=Operation.DELETE_MEMBERSHIP)[0].code_major
        is CodeMajor.SUCCESS
    )


def test_status_info_set_answers_a_single_object_operation():
    response = parse("readGroupsForPerson.html__statusinfoset-for-one-object.xml")
    assert response.in_set
    assert (
        item_statuses(response, 1, operation=Operation.DELETE_PERSON)[0].code_major is CodeMajor.SUCCESS
    )


def test_header_flavour_i_action_must_understand_and_default_namespace_switching():
    response = parse("itswizard-readPerson__header-flavour-i-action-mustunderstand.xml")
    assert response.message_identifier == "5b1f0c1e-7d9a-4d3e-9a52-3f3c2b8e1a01"
    person = read_person_result(response)
    assert person == ImsPerson(
        given="Jan",
        family="Berg",
        prefix="van der",
        email="jan.vanderberg@school.example",
        user_id="jberg",
        institution_role="Student",
        extension_fields=(ExtensionField("IsExternalUser", "False", "Boolean"),),
    )


def test_header_flavour_ii_timestamp_and_group_body():
    group = read_group_result(parse("itswizard-readGroup__header-flavour-ii-timestamp.xml"))
    assert group is not None
    assert (group.type, group.parent, group.name) == ("Course", "SchoolA", "AAA")
    assert group.extension("course") == "AAA course" and group.extension("course/code") == "AAA-1"


def test_membership_id_pair_set_with_capital_id():
    pairs = read_memberships_result(parse("itswizard-readMembershipsForGroup__membershipIDPairSet.xml"))
    assert pairs == (
        ("99998888|G2", ImsMembership(group="G2", person="99998888", role_type="Learner")),
        ("T7|G2", ImsMembership(group="G2", person="T7", role_type="02")),
    )
    config = mapping.MappingConfig(site_root="ROOT")
    assert mapping.membership_attrs(pairs[1][1], lambda key: key, config)["role"] == "teacher"


def test_memberships_for_person_with_home_organisation():
    ((membership_id, membership),) = read_memberships_result(
        parse("itswizard-readMembershipsForPerson__home-organisation.xml")
    )
    assert membership_id == "99998888|SchoolA"
    assert membership.extension("HomeOrganisation") == "1"
    attrs = mapping.membership_attrs(membership, lambda key: key, mapping.MappingConfig(site_root="ROOT"))
    assert attrs == {"person": "99998888", "group": "SchoolA", "role": "student", "home": True}


def test_read_all_persons_page_with_manual_users():
    page = read_all_persons_result(parse("itswizard-readAllPersons__page-with-manual-users.xml"))
    assert page.virtual_count == 3
    keys = [key for key, _ in page.persons]
    assert keys == ["csv:1001", None, "itsla-0f8fad5b-d9cb-469f-a165-70867728950e"]
    assert page.persons[0][1].email == ""
    assert page.persons[1][1].user_id == "admin"


def test_read_groups_zips_group_set_with_successes():
    response = parse("readGroups.html__groupSet-successes-only.xml")
    found = read_groups_result(response, ["HHH", "III"])
    assert list(found) == ["HHH"]
    assert found["HHH"].parent == "AAA"


def test_read_persons_zips_person_set_with_successes():
    found = read_persons_result(parse("readPersons.html__personSet-mixed.xml"), ["333222", "999"])
    assert list(found) == ["333222"] and found["333222"].family == "Puk"


def test_read_groups_with_fewer_groups_than_successes_is_a_protocol_error():
    answered = parse("readGroups.html__groupSet-successes-only.xml")
    without_body = SoapResponse(
        statuses=answered.statuses, in_set=True, message_identifier=None, body=None
    )
    with pytest.raises(TargetProtocolError, match="1 items succeeded but the body holds 0"):
        read_groups_result(without_body, ["HHH", "III"])


# -- statuses → item outcomes ------------------------------------------------------------------


def _prepared(key: str) -> mapping.Prepared:
    return mapping.Prepared(key=key, wire_id=key)


def test_delete_of_an_already_deleted_person_is_done():
    statuses = item_statuses(
        parse("deletePersons.html__third-already-deleted.xml"), 3, operation=Operation.DELETE_PERSONS
    )
    results = [
        mapping.item_result(_prepared(k), s, deleting=True)
        for k, s in zip(["66666", "33333", "999"], statuses, strict=True)
    ]
    assert [r.outcome for r in results] == [ItemOutcome.DONE] * 3
    assert "already gone" in results[2].message
    # The same status on a write is a failure.
    assert mapping.item_result(_prepared("999"), statuses[2], deleting=False).outcome is ItemOutcome.FAILED


def test_warning_and_data_error_items():
    statuses = item_statuses(
        parse("createPersons__warning-and-invaliddata.xml"), 3, operation=Operation.CREATE_PERSONS
    )
    results = [mapping.item_result(_prepared(k), s, deleting=False) for k, s in zip("abc", statuses, strict=True)]
    assert [r.outcome for r in results] == [ItemOutcome.DONE, ItemOutcome.WARNING, ItemOutcome.FAILED]
    assert results[1].message == "The e-mail address was not imported: the site generates e-mail addresses."
    assert (results[2].message, results[2].code) == ("First name is required.", "invaliddata")
    assert all(r.target_id == k for r, k in zip(results, "abc", strict=True))


def test_target_is_busy_item_is_retried():
    statuses = item_statuses(
        parse("createMemberships__targetisbusy-item.xml"), 2, operation=Operation.CREATE_MEMBERSHIPS
    )
    results = [mapping.item_result(_prepared(k), s, deleting=False) for k, s in zip("ab", statuses, strict=True)]
    assert [r.outcome for r in results] == [ItemOutcome.DONE, ItemOutcome.RETRY]
    assert results[1].code == "targetisbusy"


def test_cut_values_turn_success_into_a_warning():
    change = Change(
        action=Action.CREATE,
        kind=ObjectKind.PERSON,
        key="p",
        reason="t",
        phase=1,
        after={"role": "student", "given": "G" * 70, "family": "F"},
    )
    prepared = mapping.prepare(change, mapping.MappingConfig(site_root="ROOT"))
    (status,) = parse("dbildungs-base-action-spec__full-declarations-success.xml").statuses
    result = mapping.item_result(prepared, status, deleting=False)
    assert result.outcome is ItemOutcome.WARNING
    assert result.message == "first name cut to itslearning's maximum of 64 characters (was 70)"


# -- whole-request failures --------------------------------------------------------------------


def test_wrong_number_of_statuses_is_a_protocol_error():
    response = parse("createGroups__wrong-count.xml")
    with pytest.raises(TargetProtocolError, match="1 statusInfo items for 2 request items"):
        item_statuses(response, 2, operation=Operation.CREATE_GROUPS)


def test_request_level_target_is_busy_is_transient():
    response = parse("createPersons__request-level-targetisbusy.xml")
    with pytest.raises(TransientTargetError, match="targetisbusy"):
        item_statuses(response, 3, operation=Operation.CREATE_PERSONS)


def test_request_level_failure_for_a_batch_is_a_protocol_error():
    response = parse("dbildungs-base-action-spec__full-declarations-failure.xml")
    with pytest.raises(TargetProtocolError, match="one request-level status"):
        item_statuses(response, 2, operation=Operation.CREATE_GROUPS)


def test_ws_security_fault_is_an_auth_error():
    with pytest.raises(TargetAuthError, match="InvalidSecurity"):
        parse("soap-fault__wcf-invalid-security.xml")
    assert isinstance(
        soap_fault_error((RESPONSES / "soap-fault__wcf-invalid-security.xml").read_bytes()),
        TargetAuthError,
    )


def test_other_soap_fault_is_transient():
    with pytest.raises(TransientTargetError, match="InternalServiceFault"):
        parse("soap-fault__server-error.xml")


def test_html_is_not_xml():
    with pytest.raises(TargetProtocolError, match=r"not XML.*starts with '<!DOCTYPE html>"):
        parse("not-xml__html-error-page.html")
    assert soap_fault_error((RESPONSES / "not-xml__html-error-page.html").read_bytes()) is None


def test_xml_that_is_not_soap():
    with pytest.raises(TargetProtocolError, match="not a SOAP 1.1 envelope"):
        parse("not-soap__plain-xml.xml")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "not XML"),
        (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>', "without a Body"),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
            "without syncResponseHeaderInfo",
        ),
        (
            (
                b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h xmlns="urn:x"/>'
                b'<syncResponseHeaderInfo xmlns="http://www.imsglobal.org/services/common/imsMessBindSchema_v1p0"/>'
                b"</s:Header><s:Body/></s:Envelope>"
            ),
            "without statusInfo",
        ),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
    ],
)
def test_malformed_answers(raw: bytes, message: str):
    with pytest.raises(TargetProtocolError, match=message):
        parse_response(raw)


def test_unknown_code_major_is_a_failure():
    raw = (RESPONSES / "dbildungs-base-action-spec__full-declarations-success.xml").read_bytes()
    (status,) = parse_response(raw.replace(b">success<", b">maybe<")).statuses
    assert status.code_major is CodeMajor.UNKNOWN
    assert mapping.item_result(_prepared("x"), status, deleting=False).outcome is ItemOutcome.FAILED
