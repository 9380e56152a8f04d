"""The request bodies are read as itslearning's XmlSerializer reads them (facts file §2.1, §10).

Element errors are silent: unknown, wrong-namespace and out-of-order elements are skipped and counted
(and, in a sequence, everything after an unknown element goes with it). Value errors are loud: a value
the serializer cannot convert fails the whole request with ``a:DeserializationFailed``.
"""

from __future__ import annotations

import httpx
import pytest

from .conftest import StartSandbox
from .envelopes import (
    XSI,
    Body,
    Client,
    by_id,
    group,
    membership,
    person,
    read_all_persons,
    sourced_id,
    write_many,
    write_one,
)

WCF_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
FORMATTER = "The formatter threw an exception while trying to deserialize the message: "

NAME = (
    "<d:name><d:partName><d:namePartType>First</d:namePartType><d:namePartValue>Jan</d:namePartValue>"
    "</d:partName><d:partName><d:namePartType>Last</d:namePartType><d:namePartValue>Jansen</d:namePartValue>"
    "</d:partName></d:name>"
)


def role(value: str = "Student", primary: str = "true") -> str:
    return (
        f"<d:institutionRole><d:institutionRoleType>{value}</d:institutionRoleType>"
        f"<d:primaryRoleType>{primary}</d:primaryRoleType></d:institutionRole>"
    )


def raw_person(*parts: str) -> str:
    return "<m:person>" + "".join(parts) + "</m:person>"


def skipped(its: Client) -> dict[str, int]:
    return its.sandbox.stats()["elements_skipped"]


def assert_deserialization_fault(its: Client, body: Body, *, fragment: str) -> None:
    reply = its.call(body)
    assert reply.http_status == 500, reply.raw
    (code, text) = reply.fault
    assert code == (WCF_DISPATCHER, "DeserializationFailed")
    assert text.startswith(FORMATTER + f"Error in deserializing body of request message for operation '{body.operation}'.")
    assert fragment in text, text


# -- Elements: skipped, never a fault ------------------------------------------------------------


def test_an_unknown_element_at_the_end_is_skipped_and_counted(its: Client) -> None:
    its.ok(write_one("create", "Person", "p1", raw_person(NAME, role(), "<d:nickName>JJ</d:nickName>")))
    assert its.objects()["persons"][0]["first"] == "Jan"
    assert skipped(its) == {"unknown": 1, "out_of_order": 0}


def test_an_unknown_element_drops_everything_after_it_in_a_sequence(its: Client) -> None:
    """The generated reader walks past every slot looking for a match, so what follows is out of order."""
    reply = its.call(
        write_one("create", "Person", "p1", raw_person(NAME, "<d:nickName>JJ</d:nickName>", "<c:email>j@x</c:email>", role()))
    )
    assert (reply.status.major, reply.status.minor) == ("failure", "incompletedata")
    assert "institutionRole" in reply.status.text
    assert skipped(its) == {"unknown": 1, "out_of_order": 2}
    assert its.objects()["persons"] == []


def test_the_right_name_in_the_wrong_namespace_is_unknown(its: Client) -> None:
    """email belongs to Common; in the person Data namespace it matches nothing — and costs the rest."""
    reply = its.call(write_one("create", "Person", "p1", raw_person(NAME, "<d:email>j@x</d:email>", role())))
    assert reply.status.minor == "incompletedata"
    assert skipped(its) == {"unknown": 1, "out_of_order": 1}


def test_an_out_of_order_element_is_dropped(its: Client) -> None:
    """institutionRole before name: name's slot has passed, so name is dropped and First is missing."""
    reply = its.call(write_one("create", "Person", "p1", raw_person(role(), NAME)))
    assert (reply.status.major, reply.status.minor) == ("failure", "incompletedata")
    assert "First" in reply.status.text
    assert skipped(its) == {"unknown": 0, "out_of_order": 1}


def test_a_second_single_element_is_dropped_with_what_follows(its: Client) -> None:
    photo = "<d:photo><d:extRef>a.jpg</d:extRef></d:photo>"
    its.ok(write_one("create", "Person", "p1", raw_person(NAME, role(), photo, photo)))
    assert skipped(its) == {"unknown": 0, "out_of_order": 1}
    second_name = NAME.replace("Jan", "Piet")
    reply = its.call(write_one("create", "Person", "p2", raw_person(NAME, second_name, role())))
    assert reply.status.minor == "incompletedata"  # the second name ended the sequence: no institutionRole
    assert skipped(its) == {"unknown": 0, "out_of_order": 3}
    assert [p["first"] for p in its.objects()["persons"]] == ["Jan"]


def test_repeating_elements_stay_in_their_slot(its: Client) -> None:
    """institutionRole and tel repeat: several in a row are all read."""
    tel = "<d:tel><d:telType>Mobile</d:telType><d:telValue>0612345678</d:telValue></d:tel>"
    its.ok(write_one("create", "Person", "p1", raw_person(NAME, role("Staff"), role("Student", "false"), tel, tel)))
    assert its.objects()["persons"][0]["institution_role"] == "Staff"
    assert skipped(its) == {"unknown": 0, "out_of_order": 0}


def test_the_person_extension_reads_fields_then_relationships(its: Client) -> None:
    """A relationship before an extensionField pushes the field's slot past: the field is dropped."""
    its.ok(write_one("create", "Person", "kid", person("Kim", "Jansen")))
    relationship = (
        "<c:relationship><c:relation>Child</c:relation><c:sourceId><c:identifier>kid</c:identifier>"
        "</c:sourceId></c:relationship>"
    )
    field = (
        "<c:extensionField><c:fieldName>note</c:fieldName><c:fieldType>String</c:fieldType>"
        "<c:fieldValue>x</c:fieldValue></c:extensionField>"
    )
    its.ok(
        write_one("create", "Person", "mum", raw_person(NAME, role("Carer"), f"<d:extension>{relationship}{field}</d:extension>"))
    )
    mum = next(p for p in its.objects()["persons"] if p["sync_key"] == "mum")
    assert mum["children"] == ["kid"] and mum["extension"] == {}
    assert skipped(its) == {"unknown": 0, "out_of_order": 1}


def test_an_unknown_element_in_an_array_costs_nothing_else(its: Client) -> None:
    """The schemas' ArrayOf… types are read item by item: an unknown element between pairs is skipped."""
    pairs = "".join(
        f"<m:personIdPair>{sourced_id(key)}{person()}</m:personIdPair>" + ("<m:junk/>" if key == "a" else "")
        for key in ("a", "b")
    )
    body = Body(
        "pms", "createPersons", f"<m:createPersonsRequest><m:personIdPairSet>{pairs}</m:personIdPairSet></m:createPersonsRequest>"
    )
    reply = its.ok(body)
    assert len(reply.statuses) == 2
    assert skipped(its) == {"unknown": 1, "out_of_order": 0}


def test_group_relationship_after_description_is_dropped(its: Client) -> None:
    """Group order (facts file §4, inferred): groupType, relationship, description, extension."""
    its.ok(write_one("create", "Group", "site", group("Site", "Site")))
    out_of_order = (
        "<m:group><d:groupType><d:scheme>ItslearningOrganisationTypes</d:scheme><d:typeValue><d:type>School"
        "</d:type></d:typeValue></d:groupType><d:description><d:descShort>S</d:descShort></d:description>"
        "<d:relationship><d:relation>Parent</d:relation><d:sourceId><c:identifier>site</c:identifier>"
        "</d:sourceId></d:relationship></m:group>"
    )
    reply = its.call(write_one("create", "Group", "s", out_of_order))
    assert (reply.status.major, reply.status.minor) == ("failure", "incompletedata")
    assert "relationship" in reply.status.text
    assert skipped(its) == {"unknown": 0, "out_of_order": 1}


def test_a_bad_value_in_a_skipped_element_does_not_fault(its: Client) -> None:
    """demographics after institutionRole is out of order: skipped unread, its bad gender never converted."""
    demographics = "<d:demographics><d:gender>X</d:gender></d:demographics>"
    its.ok(write_one("create", "Person", "p1", raw_person(NAME, role(), demographics)))
    assert skipped(its) == {"unknown": 0, "out_of_order": 1}


def test_reset_clears_the_skip_counts(its: Client) -> None:
    its.ok(write_one("create", "Person", "p1", raw_person(NAME, role(), "<d:nickName>JJ</d:nickName>")))
    its.sandbox.reset()
    assert skipped(its) == {"unknown": 0, "out_of_order": 0}


# -- Values: the whole request fails -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("Teacher", "Instance validation error: 'Teacher' is not a valid value for InstitutionRoleDTypeInstitutionRoleType."),
        ("student", "'student' is not a valid value"),
        (" Student", "' Student' is not a valid value"),
        ("", "Instance validation error: '' is not a valid value for InstitutionRoleDTypeInstitutionRoleType."),
        ("System Administrator", "'System Administrator' is not a valid value"),
    ],
)
def test_institution_role_type_outside_the_2017_enumeration_faults(its: Client, value: str, fragment: str) -> None:
    assert_deserialization_fault(its, write_one("create", "Person", "p1", raw_person(NAME, role(value))), fragment=fragment)
    assert its.objects()["persons"] == []


def test_one_bad_item_fails_the_whole_batch(its: Client) -> None:
    items = [("good", person()), ("bad", person(role="Pupil")), ("also-good", person("Piet", "P"))]
    assert_deserialization_fault(its, write_many("create", "Person", items), fragment="'Pupil' is not a valid value")
    assert its.objects()["persons"] == []
    assert its.sandbox.stats()["requests"] == {"createPersons": 1}


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("<d:systemRole>Root</d:systemRole>", "'Root' is not a valid value for personSystemRole."),
        ("<d:demographics><d:gender>M</d:gender></d:demographics>", "'M' is not a valid value for DemographicsDTypeGender."),
        ("<d:demographics><d:gender>Male</d:gender><d:bday>2010-01-01T00:00:00</d:bday></d:demographics>",
         "String '2010-01-01T00:00:00' was not recognized as a valid DateTime."),
        ("<d:demographics><d:gender>Male</d:gender><d:bday></d:bday></d:demographics>", "String '' was not recognized"),
    ],
)
def test_person_values_before_the_role_fault(its: Client, extra: str, fragment: str) -> None:
    """systemRole and demographics come before institutionRole in the sequence."""
    assert_deserialization_fault(its, write_one("create", "Person", "p1", raw_person(NAME, extra, role())), fragment=fragment)


@pytest.mark.parametrize("primary", ["True", "yes", "", "on"])
def test_primary_role_type_must_be_an_xsd_boolean(its: Client, primary: str) -> None:
    assert_deserialization_fault(
        its,
        write_one("create", "Person", "p1", raw_person(NAME, role(primary=primary))),
        fragment=f"The string '{primary}' is not a valid Boolean value.",
    )


@pytest.mark.parametrize("primary", ["1", "0", "false", " true "])
def test_xsd_boolean_forms_are_accepted(its: Client, primary: str) -> None:
    its.ok(write_one("create", "Person", "p1", raw_person(NAME, role(primary=primary))))


def test_tel_type_and_relation_are_enumerations(its: Client) -> None:
    tel = "<d:tel><d:telType>Home</d:telType></d:tel>"
    assert_deserialization_fault(
        its, write_one("create", "Person", "p1", raw_person(NAME, role(), tel)), fragment="'Home' is not a valid value for TelDTypeTelType."
    )
    sibling = (
        "<d:extension><c:relationship><c:relation>Sibling</c:relation><c:sourceId><c:identifier>p2"
        "</c:identifier></c:sourceId></c:relationship></d:extension>"
    )
    assert_deserialization_fault(
        its,
        write_one("create", "Person", "p1", raw_person(NAME, role(), sibling)),
        fragment="'Sibling' is not a valid value for RelationshipDTypeRelation.",
    )


@pytest.fixture
def school(its: Client) -> Client:
    its.ok(write_many("create", "Group", [("site", group("Site", "Site")), ("s", group("S", "School", "site"))]))
    its.ok(write_one("create", "Person", "p1", person()))
    return its


def member(role_xml: str, *, id_type: str = "") -> str:
    return (
        "<m:membership><d:groupSourcedId><c:identifier>s</c:identifier></d:groupSourcedId><d:member>"
        f"<d:memberSourcedId><c:identifier>p1</c:identifier></d:memberSourcedId>{id_type}"
        f"<d:role>{role_xml}</d:role></d:member></m:membership>"
    )


@pytest.mark.parametrize(
    ("role_xml", "fragment"),
    [
        ("<d:roleType>Wizard</d:roleType>", "'Wizard' is not a valid value for RoleDTypeRoleType."),
        ("<d:roleType>learner</d:roleType>", "'learner' is not a valid value for RoleDTypeRoleType."),
        ("<d:roleType>9</d:roleType>", "'9' is not a valid value for RoleDTypeRoleType."),
        ("<d:roleType>01</d:roleType><d:status>Active</d:status>", "The string 'Active' is not a valid Boolean value."),
        ("<d:roleType>01</d:roleType><d:dateTime>tomorrow</d:dateTime>", "The string 'tomorrow' is not a valid AllXsd value."),
        (
            "<d:roleType>01</d:roleType><d:timeFrame><c:begin><c:date>1 Aug 2025</c:date><c:restrict>1</c:restrict>"
            "</c:begin></d:timeFrame>",
            "String '1 Aug 2025' was not recognized as a valid DateTime.",
        ),
    ],
)
def test_membership_values_fault(school: Client, role_xml: str, fragment: str) -> None:
    assert_deserialization_fault(school, write_one("create", "Membership", "m1", member(role_xml)), fragment=fragment)
    assert school.objects()["memberships"] == []


def test_member_id_type_is_an_enumeration(school: Client) -> None:
    assert_deserialization_fault(
        school,
        write_one("create", "Membership", "m1", member("<d:roleType>01</d:roleType>", id_type="<d:idType>Student</d:idType>")),
        fragment="'Student' is not a valid value for MemberDTypeIdType.",
    )


def test_valid_role_details_are_accepted(school: Client) -> None:
    details = (
        "<d:roleType>Instructor</d:roleType><d:timeFrame><c:begin><c:date>2025-08-01</c:date><c:restrict>0"
        f'</c:restrict></c:begin><c:end xmlns:xsi="{XSI}" xsi:nil="true"/></d:timeFrame><d:status>1</d:status>'
        "<d:dateTime>2025-08-01T08:00:00Z</d:dateTime>"
    )
    school.ok(write_one("create", "Membership", "m1", member(details, id_type="<d:idType>Person</d:idType>")))
    assert school.objects()["memberships"][0]["role"] == "Instructor"


def test_a_membership_that_is_valid_in_the_schema_can_still_fail_per_item(school: Client) -> None:
    reply = school.call(write_one("create", "Membership", "m1", membership("s", "p1", "Default")))
    assert (reply.http_status, reply.status.minor) == (200, "unknownvocab")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("PageIndex", "one", "Input string was not in a correct format."),
        ("PageSize", "", "Input string was not in a correct format."),
        ("PageSize", "99999999999", "Input string was not in a correct format."),
        ("CreatedFrom", "yesterday", "The string 'yesterday' is not a valid AllXsd value."),
        ("OnlyManuallyCreatedUsers", "no", "The string 'no' is not a valid Boolean value."),
        ("ConvertFromManual", "False", "The string 'False' is not a valid Boolean value."),
    ],
)
def test_read_all_persons_values_fault(its: Client, field: str, value: str, fragment: str) -> None:
    values = {"PageIndex": "1", "PageSize": "10", "CreatedFrom": "2025-01-01T00:00:00Z",
              "OnlyManuallyCreatedUsers": "false", "ConvertFromManual": "false", field: value}
    xml = "".join(f"<m:{name}>{text}</m:{name}>" for name, text in values.items())
    body = Body("pms", "readAllPersons", f"<m:readAllPersonsRequest>{xml}</m:readAllPersonsRequest>")
    assert_deserialization_fault(its, body, fragment=fragment)


def test_read_all_persons_takes_nil_for_its_nillable_fields(its: Client) -> None:
    nil = f'xmlns:xsi="{XSI}" xsi:nil="true"'
    body = Body(
        "pms",
        "readAllPersons",
        f"<m:readAllPersonsRequest><m:PageIndex>1</m:PageIndex><m:PageSize>10</m:PageSize><m:CreatedFrom {nil}/>"
        f"<m:OnlyManuallyCreatedUsers {nil}/><m:ConvertFromManual {nil}/></m:readAllPersonsRequest>",
    )
    assert its.ok(body).status.ok
    assert its.ok(read_all_persons(1, 10)).status.ok


def test_site_profiles_widen_institution_role_type(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    with start_sandbox(extra_institution_roles=("System Administrator", "AICC")) as server:
        its = Client(server, http)
        its.ok(write_one("create", "Person", "admin", person(role="System Administrator")))
        its.ok(write_one("create", "Person", "aicc", person(role="AICC")))
        profiles = {p["sync_key"]: p["profile"] for p in its.objects()["persons"]}
        assert profiles == {"admin": "System Administrator", "aicc": "AICC"}
        assert_deserialization_fault(
            its, write_one("create", "Person", "x", person(role="Principal")), fragment="'Principal' is not a valid value"
        )


def test_the_fault_names_the_operation_and_changes_nothing_on_delete(its: Client) -> None:
    """A read or delete carries no enumeration; a bad id set is skipped, not faulted."""
    its.ok(write_one("create", "Person", "p1", person()))
    body = Body("pms", "deletePersons", "<m:deletePersonsRequest><m:sourcedIdSet><m:identifier>p1</m:identifier>"
                "</m:sourcedIdSet></m:deletePersonsRequest>")
    reply = its.ok(body)
    assert reply.statuses == []  # the identifier in the wrong namespace was skipped: an empty batch
    assert skipped(its) == {"unknown": 1, "out_of_order": 0}
    its.ok(by_id("readPerson", "Person", "p1"))
