"""Every request body koppel builds is valid against itslearning's own schemas.

The XML schemas come from the WSDLs itslearning's test environment published in August 2017
(``tests/data/specs/itslearning-wsdl-2017/``, copied from ``shared/specs/``): the ``xs:schema``
elements are taken out of each WSDL, each ``xs:import`` is pointed at the extracted file of its
namespace (nothing is fetched), and lxml validates the body's first child — order, occurrence,
namespaces and enumerations exactly as the WSDL declares them. The items come from koppel's mapping
(pupils, staff, a guardian with children, memberships with HomeOrganisation), so what is checked is
what koppel would send.

GroupManagement's schema was never published: group requests are checked against the order
itslearning's own course example and working clients use (groupType → relationship → description →
extension; facts file §4).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.targets.itslearning import mapping
from koppel.targets.itslearning.requests import (
    build_request,
    read_all_persons,
    read_memberships_for_group,
    read_memberships_for_person,
    read_person,
)
from koppel.targets.itslearning.values import NS, ImsPerson, Operation, PageRequest, Service, SoapRequest

from .builders import (
    create_group,
    create_groups,
    create_membership,
    create_memberships,
    create_person,
    create_persons,
    delete_membership,
    delete_memberships,
    delete_person,
    delete_persons,
    read_persons,
    update_group,
    update_groups,
    update_membership,
    update_memberships,
    update_person,
    update_persons,
)
from .conftest import header

WSDLS = Path(__file__).resolve().parents[1] / "data" / "specs" / "itslearning-wsdl-2017"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_OF_SERVICE = {
    Service.PERSON: "PersonManagementServiceSync.svc.xml",
    Service.EXTENDED_PERSON: "ExtendedPersonManagementServiceSync.xml",
    Service.MEMBERSHIP: "MembershipManagementServiceSync.xml",
}


def _extract(wsdl: Path, target: Path) -> Path:
    """Write each ``xs:schema`` of ``wsdl`` to ``target``; return the file of the service's Mess schema."""
    target.mkdir(parents=True, exist_ok=True)
    schemas = list(etree.parse(str(wsdl)).iter(f"{{{XS}}}schema"))
    files = {schema.get("targetNamespace"): f"schema{index}.xsd" for index, schema in enumerate(schemas)}
    for schema in schemas:
        standalone = copy.deepcopy(schema)
        for xs_import in standalone.findall(f"{{{XS}}}import"):
            xs_import.set("schemaLocation", files[xs_import.get("namespace")])
        etree.ElementTree(standalone).write(str(target / files[schema.get("targetNamespace")]))
    (mess,) = [namespace for namespace in files if "ManMessSchema" in namespace]
    return target / files[mess]


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[Service, etree.XMLSchema]:
    root = tmp_path_factory.mktemp("wsdl")
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return {
        service: etree.XMLSchema(etree.parse(str(_extract(WSDLS / name, root / service.value)), parser))
        for service, name in WSDL_OF_SERVICE.items()
    }


def body_of(request: SoapRequest) -> etree._Element:
    envelope = etree.fromstring(request.envelope)
    (body,) = [node for node in envelope.find(f"{{{SOAP}}}Body") if isinstance(node.tag, str)]
    return body


def assert_valid(schemas: dict[Service, etree.XMLSchema], request: SoapRequest) -> None:
    schema = schemas[request.service]
    body = body_of(request)
    assert body.tag == f"{{{request.service.mess_ns}}}{request.operation.request_tag}"
    if not schema.validate(body):
        errors = "\n".join(str(error) for error in schema.error_log)
        pytest.fail(f"{request.operation.value} does not match itslearning's 2017 schema:\n{errors}")


# -- Realistic items, through koppel's mapping -----------------------------------------------------

CONFIG = mapping.MappingConfig(site_root="ROOT", send_guardian_relationships=True)


def _change(kind: ObjectKind, action: Action, key: str, after: dict) -> Change:
    return Change(action=action, kind=kind, key=key, reason="test", phase=1, after=after, before=None)


def _prepared(change: Change) -> mapping.Prepared:
    prepared = mapping.prepare(change, CONFIG)
    assert isinstance(prepared, mapping.Prepared), prepared
    return prepared


PERSON_CHANGES = [
    _change(ObjectKind.PERSON, Action.CREATE, "csv:1001", {
        "role": "student", "given": "Jan", "prefix": "van der", "family": "Berg", "username": "jberg",
        "email": "jan.vanderberg@school.example",
    }),
    _change(ObjectKind.PERSON, Action.CREATE, "csv:1002", {
        "role": "student", "given": "Fatima", "prefix": "", "family": "El Amrani", "username": "felamrani",
        "email": None,
    }),
    _change(ObjectKind.PERSON, Action.CREATE, "csv:T042", {
        "role": "staff", "given": "Kees", "prefix": "de", "family": "Vries", "username": "kdevries",
        "email": "k.devries@school.example",
    }),
    _change(ObjectKind.PERSON, Action.CREATE, "csv:G77", {
        "role": "guardian", "given": "Mieke", "family": "Berg", "children": ("csv:1001", "csv:1003"),
    }),
]  # fmt: skip
MEMBERSHIP_CHANGES = [
    _change(ObjectKind.MEMBERSHIP, Action.CREATE, "csv:1001|school:12AB00|student", {
        "person": "csv:1001", "group": "school:12AB00", "role": "student", "home": True,
    }),
    _change(ObjectKind.MEMBERSHIP, Action.UPDATE, "csv:T042|school:12AB01|teacher", {
        "person": "csv:T042", "group": "school:12AB01", "role": "teacher", "home": False,
    }),
    _change(ObjectKind.MEMBERSHIP, Action.CREATE, "csv:1001|csv:12AB00:2025-2026:3A|student", {
        "person": "csv:1001", "group": "csv:12AB00:2025-2026:3A", "role": "student",
    }),
]  # fmt: skip
GROUP_CHANGES = [
    _change(ObjectKind.GROUP, Action.CREATE, "school:12AB00", {
        "type": "school", "name": "Het Baken", "code": "12AB00", "parent": None, "school": "12AB00",
    }),
    _change(ObjectKind.GROUP, Action.CREATE, "csv:12AB00:2025-2026:3A", {
        "type": "klas", "name": "3A", "code": "3A", "parent": "school:12AB00", "school_year": "2025-2026",
    }),
    _change(ObjectKind.GROUP, Action.CREATE, "csv:12AB00:2025-2026:3A-wi", {
        "type": "course", "name": "3A wiskunde", "code": "3A-wi", "parent": "csv:12AB00:2025-2026:3A",
    }),
]  # fmt: skip


def _pairs(changes: list[Change]) -> list[tuple[str, object]]:
    return [(p.wire_id, p.payload) for p in map(_prepared, changes)]


PERSONS = _pairs(PERSON_CHANGES)
MEMBERSHIPS = _pairs(MEMBERSHIP_CHANGES)
GROUPS = _pairs(GROUP_CHANGES)
H = header


def _requests() -> Iterator[tuple[str, Callable[[], SoapRequest]]]:
    """(label, builder) for every person, extended-person and membership request koppel builds."""
    for key, person in PERSONS:
        yield f"createPerson-{key}", lambda key=key, person=person: create_person(key, person, header=H())
        yield f"updatePerson-{key}", lambda key=key, person=person: update_person(key, person, header=H())
    yield "createPersons", lambda: create_persons(PERSONS, header=H())
    yield "updatePersons", lambda: update_persons(PERSONS, header=H())
    yield "deletePerson", lambda: delete_person("csv:1001", header=H())
    yield "deletePersons", lambda: delete_persons([key for key, _ in PERSONS], header=H())
    yield "readPerson", lambda: read_person("csv:1001", header=H())
    yield "readPersons", lambda: read_persons([key for key, _ in PERSONS], header=H())
    yield "readAllPersons-first-page", lambda: read_all_persons(PageRequest(index=1), header=H())
    yield "readAllPersons-since", lambda: read_all_persons(
        PageRequest(index=3, size=50, created_from="2025-08-01T00:00:00Z"), header=H()
    )
    yield "readAllPersons-adopt", lambda: read_all_persons(
        PageRequest(index=1, only_manually_created=True, convert_from_manual=True), header=H()
    )
    for key, membership in MEMBERSHIPS:
        yield f"createMembership-{key}", lambda key=key, m=membership: create_membership(key, m, header=H())
        yield f"updateMembership-{key}", lambda key=key, m=membership: update_membership(key, m, header=H())
    yield "createMemberships", lambda: create_memberships(MEMBERSHIPS, header=H())
    yield "updateMemberships", lambda: update_memberships(MEMBERSHIPS, header=H())
    yield "deleteMembership", lambda: delete_membership(MEMBERSHIPS[0][0], header=H())
    yield "deleteMemberships", lambda: delete_memberships([key for key, _ in MEMBERSHIPS], header=H())
    yield "readMembershipsForGroup", lambda: read_memberships_for_group("school:12AB00", header=H())
    yield "readMembershipsForPerson", lambda: read_memberships_for_person("csv:1001", header=H())
    for operation in (Operation.CREATE_PERSONS, Operation.UPDATE_PERSONS, Operation.CREATE_MEMBERSHIPS,
                      Operation.UPDATE_MEMBERSHIPS):
        items = PERSONS if "Person" in operation.value else MEMBERSHIPS
        yield f"build_request-{operation.value}", lambda op=operation, items=items: build_request(
            op, items, header=H()
        )
    for operation in (Operation.DELETE_PERSONS, Operation.READ_PERSONS, Operation.DELETE_MEMBERSHIPS):
        yield f"build_request-{operation.value}", lambda op=operation: build_request(op, ["a", "b"], header=H())


REQUESTS = dict(_requests())


@pytest.mark.parametrize("label", sorted(REQUESTS))
def test_request_body_matches_itslearnings_schema(schemas, label: str) -> None:
    assert_valid(schemas, REQUESTS[label]())


def test_every_person_and_membership_operation_is_checked() -> None:
    checked = {REQUESTS[label]().operation for label in REQUESTS}
    schema_services = set(WSDL_OF_SERVICE)
    assert checked == {operation for operation in Operation if operation.service in schema_services}


def test_the_items_are_the_interesting_ones() -> None:
    """A guardian with children, a pupil with e-mail and one without, HomeOrganisation both ways."""
    persons = dict(PERSONS)
    assert persons["csv:G77"].children == ("csv:1001", "csv:1003")
    assert persons["csv:G77"].institution_role == "Carer"
    assert persons["csv:1002"].email is None
    homes = [membership.extension("HomeOrganisation") for _, membership in MEMBERSHIPS]
    assert homes[:2] == ["1", "0"]


def test_the_schemas_do_refuse(schemas) -> None:
    """The validator is not a rubber stamp: readAllPersons without CreatedFrom (what koppel sent before)
    and a person whose role comes before its name are refused."""
    request = read_all_persons(PageRequest(index=1), header=H())
    body = body_of(request)
    body.remove(body.find(f"{{{NS.PMS_MESS}}}CreatedFrom"))
    assert not schemas[Service.EXTENDED_PERSON].validate(body)

    body = body_of(create_person(*PERSONS[0], header=H()))
    person = body.find(f"{{{NS.PMS_MESS}}}person")
    name = person.find(f"{{{NS.PMS_DATA}}}name")
    person.remove(name)
    person.append(name)
    assert not schemas[Service.PERSON].validate(body)

    teacher = ImsPerson(given="A", family="B", institution_role="Teacher")
    body = body_of(create_person("x", teacher, header=H()))
    assert not schemas[Service.PERSON].validate(body)


# -- Groups: no schema, the facts-file order -------------------------------------------------------

GROUP_ORDER = {
    "group": ["groupType", "relationship", "description", "extension"],
    "groupType": ["scheme", "typeValue"],
    "typeValue": ["type", "level"],
    "relationship": ["relation", "sourceId", "label"],
    "description": ["descShort", "descLong", "descFull"],
}
REPEATING = {"relationship"}


def _assert_in_order(element: etree._Element) -> None:
    local = etree.QName(element).localname
    order = GROUP_ORDER.get(local)
    if order is None:
        return
    positions = []
    for child in element:
        child_name = etree.QName(child)
        assert child_name.namespace == NS.GMS_DATA or child_name.localname == "identifier", child.tag
        assert child_name.localname in order or local == "relationship", f"{child_name.localname} in {local}"
        if child_name.localname in order:
            positions.append(order.index(child_name.localname))
        _assert_in_order(child)
    assert positions == sorted(positions), f"{local}: {[etree.QName(c).localname for c in element]}"
    singles = [p for p in positions if order[p] not in REPEATING]
    assert len(singles) == len(set(singles)), f"{local} repeats a single element"


def _group_requests() -> Iterator[tuple[str, SoapRequest]]:
    for key, group in GROUPS:
        yield f"createGroup-{key}", create_group(key, group, header=H())
        yield f"updateGroup-{key}", update_group(key, group, header=H())
    yield "createGroups", create_groups(GROUPS, header=H())
    yield "updateGroups", update_groups(GROUPS, header=H())


@pytest.mark.parametrize(
    ("label", "request_"), list(_group_requests()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_group_requests_follow_the_known_order(label: str, request_: SoapRequest) -> None:
    body = body_of(request_)
    groups = list(body.iter(f"{{{NS.GMS_MESS}}}group"))
    assert groups, label
    for group in groups:
        _assert_in_order(group)
        extension = group.find(f"{{{NS.GMS_DATA}}}extension")
        if extension is not None:
            assert {etree.QName(c).namespace for c in extension} == {NS.COMMON}
    for identifier in body.iter("{*}identifier"):
        assert etree.QName(identifier).namespace == NS.COMMON
    for sourced_id in body.iter(f"{{{NS.GMS_MESS}}}sourcedId"):
        assert sourced_id.getparent().tag in (
            f"{{{NS.GMS_MESS}}}groupIdPair", f"{{{NS.GMS_MESS}}}{request_.operation.request_tag}"
        )
