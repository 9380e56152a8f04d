"""The sandbox's data contracts (``koppel.sandbox.itslearning.contract``) are the 2017 WSDLs' schemas.

The sandbox reads requests from hand-written type tables; this test walks the XML schemas inlined in
itslearning's WSDLs (``tests/data/specs/itslearning-wsdl-2017/``) and compares, for every request the
person, extended-person and membership services take: element names, namespaces, order, repetition,
``nillable``, the simple type of every leaf and every enumeration value. GroupManagement has no
published schema; its tables are marked inferred in the module and are not compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from koppel.sandbox.itslearning import contract
from koppel.sandbox.itslearning.operations import OPERATIONS

WSDLS = Path(__file__).resolve().parents[1] / "data" / "specs" / "itslearning-wsdl-2017"
XS = "http://www.w3.org/2001/XMLSchema"
LEAVES = {
    "string": contract.LeafKind.STRING,
    "int": contract.LeafKind.INT,
    "boolean": contract.LeafKind.BOOLEAN,
    "date": contract.LeafKind.DATE,
    "dateTime": contract.LeafKind.DATE_TIME,
    "decimal": contract.LeafKind.DECIMAL,
}


class Schemas:
    """The schemas inlined in one WSDL, with global elements and types by (namespace, name)."""

    def __init__(self, wsdl: Path):
        self.elements: dict[tuple[str, str], etree._Element] = {}
        self.types: dict[tuple[str, str], etree._Element] = {}
        for schema in etree.parse(str(wsdl)).iter(f"{{{XS}}}schema"):
            namespace = schema.get("targetNamespace")
            for node in schema:
                if node.tag == f"{{{XS}}}element":
                    self.elements[(namespace, node.get("name"))] = node
                elif node.tag == f"{{{XS}}}complexType":
                    self.types[(namespace, node.get("name"))] = node

    @staticmethod
    def _target(node: etree._Element) -> str:
        while node.tag != f"{{{XS}}}schema":
            node = node.getparent()
        return node.get("targetNamespace")

    @staticmethod
    def _resolve(node: etree._Element, qualified: str) -> tuple[str, str]:
        prefix, _, local = qualified.rpartition(":")
        return node.nsmap[prefix or None], local

    def element(self, node: etree._Element) -> tuple[str, str, bool, bool, Any]:
        """(namespace, name, repeats, nillable, type) of an ``xs:element`` particle."""
        repeats = node.get("maxOccurs", "1") == "unbounded"
        if node.get("ref"):
            namespace, name = self._resolve(node, node.get("ref"))
            declaration = self.elements[(namespace, name)]
        else:
            namespace, name, declaration = self._target(node), node.get("name"), node
        nillable = (node.get("nillable") or declaration.get("nillable")) == "true"
        return namespace, name, repeats, nillable, self.type_of(declaration)

    def type_of(self, declaration: etree._Element) -> Any:
        if declaration.get("type"):
            namespace, local = self._resolve(declaration, declaration.get("type"))
            if namespace == XS:
                return LEAVES[local]
            return self.complex(self.types[(namespace, local)])
        simple = declaration.find(f"{{{XS}}}simpleType")
        if simple is not None:
            return frozenset(e.get("value") for e in simple.iter(f"{{{XS}}}enumeration"))
        return self.complex(declaration.find(f"{{{XS}}}complexType"))

    def complex(self, node: etree._Element) -> list[Any]:
        extension = node.find(f"{{{XS}}}complexContent/{{{XS}}}extension")
        if extension is not None:
            namespace, local = self._resolve(extension, extension.get("base"))
            return self.complex(self.types[(namespace, local)]) + self.complex(extension)
        sequence = node.find(f"{{{XS}}}sequence")
        if sequence is None:
            return []
        particles: list[Any] = []
        for particle in sequence:
            if particle.tag == f"{{{XS}}}element":
                particles.append(self.element(particle))
            elif particle.tag == f"{{{XS}}}choice":
                repeats = particle.get("maxOccurs") == "unbounded"
                particles.append(
                    tuple(
                        (ns, name, repeats, nillable, kind)
                        for ns, name, _, nillable, kind in map(self.element, particle)
                    )
                )
        return particles


def from_contract(complex_type: contract.Complex) -> list[Any]:
    def element(element: contract.Element) -> tuple[str, str, bool, bool, Any]:
        kind = element.type
        if isinstance(kind, contract.Complex):
            described: Any = from_contract(kind)
        elif kind.kind is contract.LeafKind.ENUM:
            described = kind.values
        else:
            described = kind.kind
        return element.namespace, element.name, element.repeats, element.nillable, described

    particles: list[Any] = []
    for slot in range(complex_type.slots):
        members = [element(e) for e in complex_type.elements if e.slot == slot]
        particles.append(members[0] if len(members) == 1 else tuple(members))
    return particles


WSDL_OF_SERVICE = {
    "pms": "PersonManagementServiceSync.svc.xml",
    "mms": "MembershipManagementServiceSync.xml",
}
COMPARED = sorted(
    operation.name for operation in OPERATIONS.values() if operation.service.value in WSDL_OF_SERVICE
)


@pytest.fixture(scope="module")
def wsdl_schemas() -> dict[str, Schemas]:
    loaded = {service: Schemas(WSDLS / name) for service, name in WSDL_OF_SERVICE.items()}
    loaded["epms"] = Schemas(WSDLS / "ExtendedPersonManagementServiceSync.xml")
    return loaded


@pytest.mark.parametrize("operation", COMPARED)
def test_request_types_match_the_wsdl(wsdl_schemas: dict[str, Schemas], operation: str) -> None:
    sandbox_operation = next(op for op in OPERATIONS.values() if op.name == operation)
    schemas = wsdl_schemas["epms" if operation == "readAllPersons" else sandbox_operation.service.value]
    declaration = schemas.elements[(sandbox_operation.service.mess_ns, f"{operation}Request")]
    assert from_contract(contract.REQUESTS[operation]) == schemas.type_of(declaration)


def test_array_types_are_the_schemas_array_of_types() -> None:
    """Only the WSDL's ``ArrayOf…`` types are read as arrays (no state machine)."""
    seen: dict[str, bool] = {}

    def walk(complex_type: contract.Complex) -> None:
        seen[complex_type.name] = complex_type.ordered
        for element in complex_type.elements:
            if isinstance(element.type, contract.Complex):
                walk(element.type)

    for complex_type in contract.REQUESTS.values():
        walk(complex_type)
    assert {name for name, ordered in seen.items() if not ordered} == {
        name for name in seen if name.startswith("ArrayOf")
    }


def test_every_operation_has_a_request_type() -> None:
    assert set(contract.REQUESTS) == {operation.name for operation in OPERATIONS.values()}
