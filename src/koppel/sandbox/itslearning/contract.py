"""itslearning's data contracts, and a reader that reads them the way WCF's XmlSerializer does.

The types below copy the XML schemas inlined in itslearning's 2017 WSDLs (PersonManagement,
ExtendedPersonManagement, MembershipManagement; ``shared/specs/itslearning-wsdl-2017/``): element
names, namespaces, order, repetition, ``nillable`` and every enumeration. A test compares them with
the WSDLs. GroupManagement's schema was never published; its types follow the order itslearning's own
course example and working clients use (facts file §4) and are marked *inferred*.

itslearning's services use XmlSerializer, not the DataContractSerializer (facts file §2). How its
generated readers treat input (dotnet/runtime ``XmlSerializationReader.cs``, ``WriteMemberElementsIf``;
facts file §2.1) is what :class:`ContractReader` does:

* **Sequences** (``Complex(ordered=True)``) are read with a state machine, as for members with an
  explicit ``Order``: an element that does not match the current slot moves the state on without
  being consumed and is tried against the next slot; a repeating slot stays current while it
  matches. An element whose slot has passed — out of order, a second occurrence of a single element —
  and an element that matches no slot at all — unknown, or the right name in the wrong namespace —
  end up past the last slot and are *skipped* (``UnknownNode``). Because an unknown element walks the
  state past every slot, **everything after it in the same parent is dropped too**. Nothing of this
  is a fault. Which of XmlSerializer's two readers itslearning's classes get cannot be seen from the
  WSDL; this is the strict one (the other accepts any order), so a client that passes here passes
  there.
* **Arrays** (the schemas' ``ArrayOf…`` types, ``ordered=False``) skip an unknown element and go on.
* **Values** are converted as XmlSerializer converts them, and a value it cannot convert fails the
  *whole request*: an enumeration value not in the list (exact, case-sensitive, not trimmed), a
  boolean other than ``true``/``false``/``1``/``0``, an int, decimal, date or dateTime that does not
  parse, also when the element is empty. Required elements (``minOccurs="1"``) are never enforced.
* ``xsi:nil="true"`` reads as null only on ``nillable`` elements; elsewhere the element's text is read.

Read values come back as plain dicts keyed by local name (a repeating element: a list), so the
business rules can tell "not sent" (key missing) from "sent empty" (``""``) and "nil" (``None``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from lxml import etree

from .namespaces import NS
from .xmlnodes import qname

__all__ = [
    "GROUP_TYPES_INFERRED",
    "INSTITUTION_ROLE_TYPES",
    "REQUESTS",
    "ROLE_TYPES",
    "Complex",
    "ContractReader",
    "DeserializationError",
    "Element",
    "Leaf",
    "LeafKind",
    "Skipped",
]

_NIL = qname(NS.XSI, "nil")


class DeserializationError(Exception):
    """XmlSerializer could not convert a value: WCF fails the whole request (``a:DeserializationFailed``)."""


class LeafKind(Enum):
    STRING = "string"
    INT = "int"
    BOOLEAN = "boolean"
    DATE = "date"
    DATE_TIME = "dateTime"
    DECIMAL = "decimal"
    ENUM = "enumeration"


@dataclass(frozen=True, slots=True)
class Leaf:
    """A simple type. ``dotnet_name`` is the enum type svcutil names after the parent type and element
    (inference), used in the fault text as XmlSerializer would."""

    kind: LeafKind
    dotnet_name: str = ""
    values: frozenset[str] = frozenset()
    site_extensible: bool = False
    """institutionRoleType: the site's own profile names are accepted too (config ``--profiles``)."""


STRING = Leaf(LeafKind.STRING)
INT = Leaf(LeafKind.INT)
BOOLEAN = Leaf(LeafKind.BOOLEAN)
DATE = Leaf(LeafKind.DATE)
DATE_TIME = Leaf(LeafKind.DATE_TIME)
DECIMAL = Leaf(LeafKind.DECIMAL)


def _enum(dotnet_name: str, values: Iterable[str], *, site_extensible: bool = False) -> Leaf:
    return Leaf(LeafKind.ENUM, dotnet_name, frozenset(values), site_extensible)


@dataclass(frozen=True, slots=True)
class Element:
    """One particle of a complex type. Elements of a ``choice`` share a ``slot``."""

    namespace: str
    name: str
    type: Leaf | Complex
    repeats: bool = False
    nillable: bool = False
    slot: int = -1

    @property
    def tag(self) -> str:
        return qname(self.namespace, self.name)


class Complex:
    """A complex type: its elements in schema order. ``ordered=False`` for the schemas' ``ArrayOf…``."""

    def __init__(self, name: str, elements: Iterable[Element | tuple[Element, ...]], *, ordered: bool = True):
        self.name = name
        self.ordered = ordered
        members: list[Element] = []
        for slot, particle in enumerate(elements):
            for element in particle if isinstance(particle, tuple) else (particle,):
                members.append(
                    Element(
                        element.namespace, element.name, element.type, element.repeats, element.nillable, slot
                    )
                )
        self.elements: tuple[Element, ...] = tuple(members)
        self.slots = len({member.slot for member in members})
        self.by_tag: dict[str, Element] = {member.tag: member for member in members}

    def __repr__(self) -> str:
        return f"Complex({self.name!r})"


def _el(
    namespace: str, name: str, type_: Leaf | Complex, *, repeats: bool = False, nillable: bool = False
) -> Element:
    return Element(namespace, name, type_, repeats, nillable)


C = NS.COMMON
P, PM = NS.PMS_DATA, NS.PMS_MESS
M, MM = NS.MMS_DATA, NS.MMS_MESS
G, GM = NS.GMS_DATA, NS.GMS_MESS

# ---------------------------------------------------------------------------------------------------
# Enumerations of the 2017 WSDLs (facts file §7)

INSTITUTION_ROLE_TYPES = (
    "Student", "Faculty", "Member", "Learner", "Instructor", "Mentor", "Staff", "Alumni",
    "ProspectiveStudent", "Guest", "Other", "Administrator", "Observer", "Carer",
)  # fmt: skip
ROLE_TYPES = (
    "Learner", "Instructor", "ContentDeveloper", "Member", "Manager", "Mentor", "Administrator",
    "TeachingAssistant", "01", "02", "03", "04", "05", "06", "07", "08", "Default", "Guest",
)  # fmt: skip
INSTITUTION_ROLE_TYPE = _enum(
    "InstitutionRoleDTypeInstitutionRoleType", INSTITUTION_ROLE_TYPES, site_extensible=True
)
SYSTEM_ROLE = _enum(
    "personSystemRole", ("SysAdmin", "SysSupport", "Creator", "AccountAdmin", "User", "Administrator", "None")
)
RELATION = _enum("RelationshipDTypeRelation", ("KnownAs", "Parent", "Child", "1", "2", "3"))
TEL_TYPE = _enum("TelDTypeTelType", ("1", "2", "3", "4", "Voice", "Fax", "Mobile", "Pager"))
GENDER = _enum("DemographicsDTypeGender", ("Male", "Female", "Gender"))
ID_TYPE = _enum("MemberDTypeIdType", ("1", "2", "Person", "Group"))
ROLE_TYPE = _enum("RoleDTypeRoleType", ROLE_TYPES)
VALUE_TYPE = _enum("ValuesDTypeValueType", ("0", "1"))

# ---------------------------------------------------------------------------------------------------
# Common (imsCommonSchema_v1p0)

BASE_ID = Complex("BaseId", [_el(C, "identifier", STRING)])
"""Every ``sourcedId``-like wrapper: the wrapper takes its declaring type's namespace, ``identifier``
is always Common (facts file §9)."""
RECORD_META = Complex("RecordMetaDataDType", [_el(C, "comments", STRING)])
USER_ID = Complex(
    "UserIdDType",
    [
        _el(C, name, STRING)
        for name in ("userIdValue", "userIdType", "passWord", "pwEncryptionType", "authenticationType")
    ],
)
EXTENSION_FIELD = Complex(
    "extensionField", [_el(C, name, STRING) for name in ("fieldName", "fieldType", "fieldValue")]
)
RELATIONSHIP = Complex(
    "RelationshipDType", [_el(C, "relation", RELATION), _el(C, "sourceId", BASE_ID), _el(C, "label", STRING)]
)
ARRAY_OF_STRING = Complex("ArrayOfString", [_el(C, "identifier", STRING, repeats=True)], ordered=False)
ARRAY_OF_EXTENSION_FIELD = Complex(
    "ArrayOfExtensionField", [_el(C, "extensionField", EXTENSION_FIELD, repeats=True)], ordered=False
)
RESTRICT_DATE = Complex("RestrictDateDType", [_el(C, "date", DATE), _el(C, "restrict", BOOLEAN)])
TIME_FRAME = Complex(
    "TimeFrameDType",
    [
        _el(C, "begin", RESTRICT_DATE, nillable=True),
        _el(C, "end", RESTRICT_DATE, nillable=True),
        _el(C, "adminPeriod", STRING),
    ],
)

# ---------------------------------------------------------------------------------------------------
# Persons (imsPersonManDataSchema_v1p0, imsPersonManMessSchema_v1p0)

NAME = Complex(
    "NameDType",
    [
        _el(P, "nameType", STRING),
        _el(
            P,
            "partName",
            Complex("NameDTypePartName", [_el(P, "namePartType", STRING), _el(P, "namePartValue", STRING)]),
            repeats=True,
        ),
    ],
)
ADDRESS = Complex(
    "AddressDType",
    [
        *(_el(P, name, STRING) for name in ("pobox", "extadd", "locality", "region", "postcode", "country")),
        _el(P, "street", STRING, repeats=True),
    ],
)
DEMOGRAPHICS = Complex(
    "DemographicsDType",
    [_el(P, "gender", GENDER), _el(P, "disability", STRING, repeats=True), _el(P, "bday", DATE)],
)
INSTITUTION_ROLE = Complex(
    "InstitutionRoleDType",
    [_el(P, "institutionRoleType", INSTITUTION_ROLE_TYPE), _el(P, "primaryRoleType", BOOLEAN)],
)
TEL = Complex("TelDType", [_el(P, "telType", TEL_TYPE), _el(P, "telValue", STRING)])
PHOTO = Complex("PhotoDType", [_el(P, "imgType", STRING), _el(P, "extRef", STRING)])
PERSON_EXTENSION = Complex(
    "extensionType",
    [
        _el(C, "extensionField", EXTENSION_FIELD, repeats=True),
        _el(C, "relationship", RELATIONSHIP, repeats=True),
    ],
)
PERSON = Complex(
    "person",
    [
        _el(P, "formatName", STRING, nillable=True),
        _el(P, "name", NAME),
        _el(P, "recordInfo", RECORD_META),
        _el(C, "email", STRING),
        _el(C, "URL", STRING),
        _el(P, "systemRole", SYSTEM_ROLE),
        _el(P, "userId", USER_ID),
        _el(P, "address", ADDRESS),
        _el(P, "demographics", DEMOGRAPHICS),
        _el(P, "institutionRole", INSTITUTION_ROLE, repeats=True),
        _el(P, "tel", TEL, repeats=True),
        _el(P, "photo", PHOTO),
        _el(C, "dataSource", STRING),
        _el(P, "extension", PERSON_EXTENSION),
    ],
)
PERSON_ID_PAIR = Complex("PersonIdPairDType", [_el(PM, "sourcedId", BASE_ID), _el(PM, "person", PERSON)])
ARRAY_OF_PERSON_ID_PAIR = Complex(
    "ArrayOfPersonIdPairDType", [_el(PM, "personIdPair", PERSON_ID_PAIR, repeats=True)], ordered=False
)

# ---------------------------------------------------------------------------------------------------
# Memberships (imsMemberManDataSchema_v1p0, imsMemberManMessSchema_v1p0)

VALUES = Complex(
    "ValuesDType",
    [
        _el(M, "valueType", VALUE_TYPE),
        (
            _el(M, "list", STRING, repeats=True),
            _el(M, "max", DECIMAL, repeats=True, nillable=True),
            _el(M, "min", DECIMAL, repeats=True, nillable=True),
        ),
    ],
)
RESULT = Complex(
    "ResultDType",
    [
        _el(M, "resultType", STRING),
        _el(M, "recordInfo", RECORD_META),
        _el(M, "values", VALUES),
        _el(M, "mode", STRING),
        _el(M, "result", STRING),
    ],
)
ROLE = Complex(
    "RoleDType",
    [
        _el(M, "roleType", ROLE_TYPE),
        _el(M, "subRole", STRING),
        _el(M, "recordInfo", RECORD_META),
        _el(M, "userId", USER_ID),
        _el(M, "timeFrame", TIME_FRAME),
        _el(M, "status", BOOLEAN),
        _el(M, "dateTime", DATE_TIME),
        _el(C, "email", STRING),
        _el(M, "interimResult", RESULT, repeats=True),
        _el(M, "finalResult", RESULT, repeats=True),
        _el(C, "dataSource", STRING),
        _el(M, "extension", ARRAY_OF_EXTENSION_FIELD),
    ],
)
MEMBER = Complex(
    "MemberDType",
    [_el(M, "memberSourcedId", BASE_ID), _el(M, "idType", ID_TYPE), _el(M, "role", ROLE, repeats=True)],
)
MEMBERSHIP = Complex("membership", [_el(M, "groupSourcedId", BASE_ID), _el(M, "member", MEMBER)])
MEMBERSHIP_ID_PAIR = Complex(
    "MembershipIdPairDType", [_el(MM, "sourcedId", BASE_ID), _el(MM, "membership", MEMBERSHIP)]
)
ARRAY_OF_MEMBERSHIP_ID_PAIR = Complex(
    "ArrayOfMembershipIdPairDType",
    [_el(MM, "membershipIdPair", MEMBERSHIP_ID_PAIR, repeats=True)],
    ordered=False,
)

# ---------------------------------------------------------------------------------------------------
# Groups — INFERRED: no GroupManagement schema is public. Order from the vendor's course example and
# working clients (groupType → relationship → description → extension), all strings (nothing is
# known to be an enumeration), treated as strict sequences like the published types.

GROUP_TYPES_INFERRED = True
GROUP_RELATIONSHIP = Complex(
    "GroupRelationship", [_el(G, "relation", STRING), _el(G, "sourceId", BASE_ID), _el(G, "label", STRING)]
)
GROUP = Complex(
    "group",
    [
        _el(
            G,
            "groupType",
            Complex(
                "GroupTypeDType",
                [
                    _el(G, "scheme", STRING),
                    _el(
                        G,
                        "typeValue",
                        Complex("TypeValueDType", [_el(G, "type", STRING), _el(G, "level", STRING)]),
                    ),
                ],
            ),
        ),
        _el(G, "relationship", GROUP_RELATIONSHIP, repeats=True),
        _el(
            G,
            "description",
            Complex(
                "DescriptionDType", [_el(G, name, STRING) for name in ("descShort", "descLong", "descFull")]
            ),
        ),
        _el(
            G,
            "extension",
            Complex("GroupExtension", [_el(C, "extensionField", EXTENSION_FIELD, repeats=True)]),
        ),
    ],
)
GROUP_ID_PAIR = Complex("GroupIdPairDType", [_el(GM, "sourcedId", BASE_ID), _el(GM, "group", GROUP)])
ARRAY_OF_GROUP_ID_PAIR = Complex(
    "ArrayOfGroupIdPairDType", [_el(GM, "groupIdPair", GROUP_ID_PAIR, repeats=True)], ordered=False
)

# ---------------------------------------------------------------------------------------------------
# Request bodies, by operation name


def _requests() -> dict[str, Complex]:
    requests: dict[str, Complex] = {}
    for noun, mess, payload, pairs in (
        ("Person", PM, PERSON, ARRAY_OF_PERSON_ID_PAIR),
        ("Group", GM, GROUP, ARRAY_OF_GROUP_ID_PAIR),
        ("Membership", MM, MEMBERSHIP, ARRAY_OF_MEMBERSHIP_ID_PAIR),
    ):
        kind = noun[0].lower() + noun[1:]
        for verb in ("create", "update"):
            requests[f"{verb}{noun}"] = Complex(
                f"{verb}{noun}Request", [_el(mess, "sourcedId", BASE_ID), _el(mess, kind, payload)]
            )
            requests[f"{verb}{noun}s"] = Complex(
                f"{verb}{noun}sRequest", [_el(mess, f"{kind}IdPairSet", pairs)]
            )
        for verb in ("delete", "read"):
            requests[f"{verb}{noun}"] = Complex(f"{verb}{noun}Request", [_el(mess, "sourcedId", BASE_ID)])
            requests[f"{verb}{noun}s"] = Complex(
                f"{verb}{noun}sRequest", [_el(mess, "sourcedIdSet", ARRAY_OF_STRING)]
            )
    requests["readPersonsForGroup"] = Complex(
        "readPersonsForGroupRequest", [_el(PM, "groupSourcedId", BASE_ID)]
    )
    requests["readGroupsForPerson"] = Complex(
        "readGroupsForPersonRequest", [_el(GM, "personSourcedId", BASE_ID)]
    )
    requests["readMembershipsForGroup"] = Complex(
        "readMembershipsForGroupRequest", [_el(MM, "groupSourcedId", BASE_ID)]
    )
    requests["readMembershipsForPerson"] = Complex(
        "readMembershipsForPersonRequest", [_el(MM, "personSourcedId", BASE_ID)]
    )
    requests["readAllPersons"] = Complex(
        "readAllPersonsRequest",
        [
            _el(PM, "PageIndex", INT, nillable=True),
            _el(PM, "PageSize", INT, nillable=True),
            _el(PM, "CreatedFrom", DATE_TIME, nillable=True),
            _el(PM, "OnlyManuallyCreatedUsers", BOOLEAN, nillable=True),
            _el(PM, "ConvertFromManual", BOOLEAN, nillable=True),
        ],
    )
    return requests


REQUESTS: dict[str, Complex] = _requests()
"""The request body type of every operation the sandbox serves (group ones inferred)."""


# ---------------------------------------------------------------------------------------------------
# Reading


@dataclass
class Skipped:
    """Elements XmlSerializer passed to ``UnknownNode`` (each counts once; its content is not read)."""

    unknown: int = 0
    """Matched no element of its parent's type: a wrong name, or the right name in the wrong namespace."""
    out_of_order: int = 0
    """A known element whose slot had passed: out of order, repeated, or after an unknown element."""


class ContractReader:
    """Reads one request body. ``extra_institution_roles`` widen institutionRoleType (the site's profiles)."""

    def __init__(self, extra_institution_roles: Iterable[str] = ()):
        self.extra_institution_roles = frozenset(extra_institution_roles)
        self.skipped = Skipped()

    def read(self, node: etree._Element, complex_type: Complex) -> dict[str, Any]:
        """The children of ``node`` as ``complex_type``; raises DeserializationError on a bad value."""
        values: dict[str, Any] = {}
        state = 0
        for child in node:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # processing instructions; comments are gone already (xmlsafe)
            element = complex_type.by_tag.get(tag)
            if complex_type.ordered:
                if element is None or element.slot < state:
                    state = complex_type.slots  # walked past every slot: this and all that follows is skipped
                    self._skip(element)
                    continue
                state = element.slot if element.repeats else element.slot + 1
            elif element is None:
                self.skipped.unknown += 1
                continue
            value = self._value(child, element)
            if element.repeats:
                values.setdefault(element.name, []).append(value)
            else:
                values[element.name] = value
        return values

    def _skip(self, element: Element | None) -> None:
        if element is None:
            self.skipped.unknown += 1
        else:
            self.skipped.out_of_order += 1

    def _value(self, node: etree._Element, element: Element) -> Any:
        if element.nillable and node.get(_NIL, "").strip() in ("true", "1"):
            return None
        if isinstance(element.type, Complex):
            return self.read(node, element.type)
        raw = node.text or ""
        try:
            return _convert(raw, element.type, self.extra_institution_roles)
        except DeserializationError as error:
            raise DeserializationError(
                f"There is an error in XML document (line {node.sourceline}). {error}"
            ) from None


def _convert(raw: str, leaf: Leaf, extra_roles: frozenset[str]) -> Any:
    kind = leaf.kind
    if kind is LeafKind.STRING:
        return raw
    if kind is LeafKind.ENUM:
        # The generated enum reader is an exact string switch: no trimming, no case folding.
        if raw in leaf.values or (leaf.site_extensible and raw in extra_roles):
            return raw
        raise DeserializationError(
            f"Instance validation error: '{raw}' is not a valid value for {leaf.dotnet_name}."
        )
    text = raw.strip()  # XmlConvert trims XML whitespace before converting numbers, booleans, dates
    if kind is LeafKind.BOOLEAN:
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise DeserializationError(f"The string '{raw}' is not a valid Boolean value.")
    if kind is LeafKind.INT:
        if not _is_int(text):
            raise DeserializationError(f"Input string was not in a correct format. ('{raw}': xs:int)")
        return int(text)
    if kind is LeafKind.DECIMAL:
        try:
            return Decimal(text)
        except InvalidOperation:
            raise DeserializationError(
                f"Input string was not in a correct format. ('{raw}': xs:decimal)"
            ) from None
    if kind is LeafKind.DATE:
        parsed = _xs_date(text)
        if parsed is None:
            raise DeserializationError(f"String '{raw}' was not recognized as a valid DateTime. (xs:date)")
        return parsed
    parsed_time = _xs_date_time(text)
    if parsed_time is None:
        raise DeserializationError(f"The string '{raw}' is not a valid AllXsd value.")
    return parsed_time


def _is_int(text: str) -> bool:
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits.isascii() or not digits.isdigit():
        return False
    return -(2**31) <= int(text) < 2**31


def _xs_date(text: str) -> date | None:
    """``YYYY-MM-DD`` with an optional zone (``Z``, ``±hh:mm``); a time part is not a date."""
    body = text
    if body.endswith("Z"):
        body = body[:-1]
    elif len(body) > 10 and body[-6] in "+-" and body[-3] == ":":
        body = body[:-6]
    if len(body) != 10 or "T" in body:
        return None
    try:
        return date.fromisoformat(body)
    except ValueError:
        return None


def _xs_date_time(text: str) -> datetime | None:
    """xs:dateTime (or a date alone, which XmlConvert's AllXsd mode also takes); ``Z`` or an offset."""
    if not text or " " in text:
        return None
    candidate = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None
