"""Response envelopes from itslearning's IMS Enterprise Services v1.0 into values. Pure.

Responses are read *tolerantly*: by local name inside the SOAP envelope, because real WCF
responses switch default namespaces per element, the published examples use arbitrary prefixes,
and the SOAP namespace sometimes lacks its trailing slash — but the local names never vary.
Unknown header blocks (``Action``, ``Security/Timestamp``, also with ``mustUnderstand="1"``) are
ignored; ``statusInfo`` and ``statusInfoSet`` are both accepted on every operation.

Failures of a whole request raise koppel's target errors (``TargetAuthError`` for a WS-Security
fault, ``TargetConfigError`` for a fault no retry can fix, ``TransientTargetError`` for any other
SOAP fault, ``TargetProtocolError`` for an answer that is not a SOAP envelope or carries the wrong
number of statuses); per-item outcomes are values (:class:`StatusInfo`), classified by
:mod:`koppel.targets.itslearning.mapping`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from lxml import etree

from koppel.errors import (
    TargetAuthError,
    TargetConfigError,
    TargetError,
    TargetProtocolError,
    TransientTargetError,
)
from koppel.targets.itslearning.values import (
    NS,
    CodeMajor,
    ExtensionField,
    GroupType,
    ImsGroup,
    ImsMembership,
    ImsPerson,
    Operation,
    PersonPage,
    Severity,
    SoapResponse,
    StatusInfo,
)
from koppel.xmlsafe import XMLParseError, parse_xml

__all__ = [
    "group_from_xml",
    "item_statuses",
    "overall_status",
    "parse_response",
    "person_from_xml",
    "read_all_persons_result",
    "read_group_result",
    "read_groups_result",
    "read_memberships_result",
    "read_person_result",
    "read_persons_result",
    "soap_fault_error",
]

_T = TypeVar("_T")

# WS-Security 1.0 §12 fault codes (in the wsse namespace). WCF answers a refused UsernameToken
# with ``InvalidSecurity`` ("An error occurred when verifying security for the message.").
_SECURITY_FAULTS = frozenset(
    {
        "UnsupportedSecurityToken",
        "UnsupportedAlgorithm",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "FailedAuthentication",
        "FailedCheck",
        "SecurityTokenUnavailable",
        "MessageExpired",
    }
)
_SOAP_NAMESPACES = frozenset({NS.SOAP, NS.SOAP_WITHOUT_SLASH})


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if element is None:
        return iter(())
    return (child for child in element if isinstance(child.tag, str) and _local(child) == name)


def _child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """Follow ``path`` by local name, taking the first match at each step."""
    for name in path:
        element = next(_children(element, name), None)
        if element is None:
            return None
    return element


def _text(element: etree._Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    if found is None:
        return None
    return (found.text or "").strip()


def _excerpt(raw: bytes, limit: int = 160) -> str:
    text = raw[:limit].decode("utf-8", errors="replace").replace("\n", " ").strip()
    return text + ("…" if len(raw) > limit else "")


def parse_response(raw: bytes) -> SoapResponse:
    """Parse a SOAP 1.1 response from itslearning into statuses and the body element.

    Raises ``TargetProtocolError`` when the bytes are not a SOAP envelope or carry no status,
    ``TargetAuthError`` for a WS-Security fault, ``TransientTargetError`` for any other fault.
    """
    try:
        root = parse_xml(raw, what="itslearning response")
    except XMLParseError as exc:
        raise TargetProtocolError(
            f"itslearning answered with something that is not XML: {exc} — starts with {_excerpt(raw)!r}"
        ) from None
    if _local(root) != "Envelope" or etree.QName(root).namespace not in _SOAP_NAMESPACES:
        raise TargetProtocolError(
            f"itslearning answered with XML that is not a SOAP 1.1 envelope (root {root.tag!s})"
        )
    body = _child(root, "Body")
    if body is None:
        raise TargetProtocolError("itslearning answered with a SOAP envelope without a Body")
    fault = _child(body, "Fault")
    if fault is not None:
        raise _fault_error(fault)
    sync_header = _child(root, "Header", "syncResponseHeaderInfo")
    if sync_header is None:
        raise TargetProtocolError(
            "itslearning answered without syncResponseHeaderInfo: there is no status to read"
        )
    statuses, in_set = _statuses(sync_header)
    operation_body = next((child for child in body if isinstance(child.tag, str)), None)
    return SoapResponse(
        statuses=statuses,
        in_set=in_set,
        message_identifier=_text(sync_header, "messageIdentifier") or None,
        body=operation_body,
    )


def soap_fault_error(raw: bytes) -> TargetError | None:
    """The error a SOAP fault in ``raw`` stands for, or None when ``raw`` holds no SOAP fault.

    Used for non-200 answers, whose bodies may be faults, HTML error pages or nothing at all.
    """
    try:
        root = parse_xml(raw, what="itslearning error response")
    except XMLParseError:
        return None
    fault = _child(root, "Body", "Fault")
    return None if fault is None else _fault_error(fault)


# WCF dispatcher faults that no retry can fix: the request reached a service that cannot route or read
# it. ``ActionNotSupported`` is what WCF answers to a SOAPAction the endpoint does not serve (its text
# speaks of a "ContractFilter mismatch at the EndpointDispatcher"); ``DeserializationFailed`` to a body
# its XmlSerializer cannot read (an enumeration value it does not know, a boolean that is not one);
# ``MustUnderstand`` to a header it does not process.
_CONFIGURATION_FAULTS = frozenset(
    {"ActionNotSupported", "ContractFilter", "DeserializationFailed", "MustUnderstand", "EndpointNotFound",
     "DestinationUnreachable", "InvalidMessage"}
)
# WCF's throttling answers (also reached as HTTP 503): busy, not broken.
_BUSY_FAULTS = frozenset({"ServerTooBusy", "ServiceTooBusy"})


def _fault_error(fault: etree._Element) -> TargetError:
    """Name a SOAP fault by what the caller should do next (see ``koppel.errors``)."""
    code_element = _child(fault, "faultcode")
    code = (code_element.text or "").strip() if code_element is not None else ""
    prefix, _, local = code.rpartition(":")
    namespace = code_element.nsmap.get(prefix or None) if code_element is not None else None
    message = _text(fault, "faultstring") or "(no faultstring)"
    if namespace == NS.WSSE or local in _SECURITY_FAULTS:
        return TargetAuthError(
            f"itslearning refused the WS-Security credentials ({local or code}: {message}); "
            "check the integration's username and password in itslearning's admin UI"
        )
    if local in {"ActionNotSupported", "ContractFilter"} or "ContractFilter mismatch" in message:
        return TargetConfigError(
            f"itslearning's endpoint does not serve this IMS ES operation ({local}: {message}). The URL is "
            "probably not the one itslearning's admin page gives: copy it from Administration › Manage IMS "
            "Enterprise › Web services (it ends in /WCFServiceLibrary/ImsEnterpriseServicesPort.svc)"
        )
    if local == "DeserializationFailed" or "formatter threw an exception" in message:
        return TargetConfigError(
            f"itslearning could not read koppel's request ({local or code}: {message}). Values such as "
            "profiles and roles come from the configuration (profile_map): check that itslearning knows them"
        )
    if local in _CONFIGURATION_FAULTS:
        return TargetConfigError(f"itslearning refused the request as such ({local}: {message})")
    if local in _BUSY_FAULTS:
        return TransientTargetError(f"itslearning is busy ({local}: {message})", overload=True)
    return TransientTargetError(
        f"itslearning answered with a SOAP fault ({code or 'no faultcode'}: {message})"
    )


def _statuses(sync_header: etree._Element) -> tuple[tuple[StatusInfo, ...], bool]:
    status_set = _child(sync_header, "statusInfoSet")
    if status_set is not None:
        return tuple(_status(element) for element in _children(status_set, "statusInfo")), True
    single = _child(sync_header, "statusInfo")
    if single is None:
        raise TargetProtocolError("itslearning answered without statusInfo or statusInfoSet")
    return (_status(single),), False


def _status(element: etree._Element) -> StatusInfo:
    codes = []
    for minor_field in _children(_child(element, "codeMinor"), "codeMinorField"):
        value = _text(minor_field, "codeMinorValue") or _text(minor_field, "codeMinorName")
        if value:
            codes.append(value.lower())
    return StatusInfo(
        code_major=_enum(CodeMajor, _text(element, "codeMajor")),
        severity=_enum(Severity, _text(element, "severity")),
        code_minor=tuple(codes),
        message_id_ref=_text(element, "messageIdRef") or None,
        description=_text(element, "description", "text") or None,
    )


_E = TypeVar("_E", CodeMajor, Severity)


def _enum(enum: type[_E], value: str | None) -> _E:
    """The enum member for ``value``, case-insensitively (itswizard compares "Failure"); else UNKNOWN."""
    try:
        return enum((value or "").lower())
    except ValueError:
        return enum("unknown")


def item_statuses(response: SoapResponse, expected: int, *, operation: Operation) -> tuple[StatusInfo, ...]:
    """The statuses of ``expected`` request items, in request order, or a protocol error.

    One statusInfo per item, in a statusInfoSet or (for one item) on its own. A single
    non-set status answering a batch is a request-level status: ``targetisbusy`` means retry
    the request; anything else cannot be matched to items and is a protocol error.
    """
    statuses = response.statuses
    if len(statuses) == expected:
        return statuses
    if not response.in_set and len(statuses) == 1:
        only = statuses[0]
        if only.has_code("targetisbusy"):
            raise TransientTargetError(
                f"itslearning is busy (targetisbusy) on {operation.value}: {only.description or ''}".rstrip(
                    ": "
                ),
                overload=True,
            )
        raise TargetProtocolError(
            f"{operation.value}: itslearning answered {expected} items with one request-level status "
            f"({only.code_major.value}/{only.severity.value}: {only.description or 'no description'})"
        )
    raise TargetProtocolError(
        f"{operation.value}: itslearning answered {len(statuses)} statusInfo items for {expected} "
        "request items; the answer cannot be matched to the request"
    )


def overall_status(response: SoapResponse, operation: Operation) -> StatusInfo:
    """The status of a one-object read. ``read*For*`` answer with a statusInfoSet; its first
    failure, if any, speaks for the request."""
    if not response.statuses:
        return item_statuses(response, 1, operation=operation)[0]
    return next((s for s in response.statuses if s.code_major is not CodeMajor.SUCCESS), response.statuses[0])


# Body readers --------------------------------------------------------------------------------


def _extension_fields_of(extension: etree._Element | None) -> tuple[ExtensionField, ...]:
    return tuple(
        ExtensionField(
            name=_text(element, "fieldName") or "",
            value=_text(element, "fieldValue") or "",
            type=_text(element, "fieldType") or "String",
        )
        for element in _children(extension, "extensionField")
    )


def person_from_xml(element: etree._Element) -> ImsPerson:
    """An ImsPerson from a ``person`` element (as readPerson(s) and readAllPersons return it)."""
    parts: dict[str, str] = {}
    for part in _children(_child(element, "name"), "partName"):
        part_type = _text(part, "namePartType") or ""
        parts.setdefault(part_type.lower(), _text(part, "namePartValue") or "")
    roles = list(_children(element, "institutionRole"))
    primary = next(
        (r for r in roles if (_text(r, "primaryRoleType") or "").lower() == "true"),
        roles[0] if roles else None,
    )
    extension = _child(element, "extension")
    children = tuple(
        _text(relationship, "sourceId", "identifier") or ""
        for relationship in _children(extension, "relationship")
        if (_text(relationship, "relation") or "").lower() == "child"
    )
    email = _child(element, "email")
    return ImsPerson(
        given=parts.get("first"),
        family=parts.get("last"),
        prefix=parts.get("prefix"),
        email=None if email is None else (email.text or "").strip(),
        user_id=_text(element, "userId", "userIdValue"),
        institution_role=_text(primary, "institutionRoleType") if primary is not None else None,
        children=tuple(c for c in children if c),
        extension_fields=_extension_fields_of(extension),
    )


def group_from_xml(element: etree._Element) -> ImsGroup:
    """An ImsGroup from a ``group`` element (readGroup(s))."""
    type_value = _child(element, "groupType", "typeValue")
    group_type = _text(type_value, "type") or _LEVELS.get(_text(type_value, "level") or "")
    parent = next(
        (
            _text(relationship, "sourceId", "identifier")
            for relationship in _children(element, "relationship")
            if (_text(relationship, "relation") or "").lower() == "parent"
        ),
        None,
    )
    return ImsGroup(
        type=group_type,
        parent=parent,
        name=_text(element, "description", "descShort"),
        extension_fields=_extension_fields_of(_child(element, "extension")),
    )


# groupType/typeValue/level, the numeric alternative to type ("type and level must match"). Only
# School = 1 is documented; other levels are read as unknown (type None).
_LEVELS = {"1": GroupType.SCHOOL.value}


def _successes(statuses: Iterable[StatusInfo]) -> list[int]:
    return [i for i, status in enumerate(statuses) if status.code_major is CodeMajor.SUCCESS]


def read_person_result(response: SoapResponse) -> ImsPerson | None:
    """The person of a readPerson answer, or None when the status is not a success."""
    if not response.statuses or response.statuses[0].code_major is not CodeMajor.SUCCESS:
        return None
    element = _child(response.body, "person")
    if element is None:
        raise TargetProtocolError("readPerson: success without a person in the body")
    return person_from_xml(element)


def read_persons_result(response: SoapResponse, sourced_ids: Sequence[str]) -> dict[str, ImsPerson]:
    """readPersons: ``personSet`` holds the persons of the *successful* items, in request order."""
    statuses = item_statuses(response, len(sourced_ids), operation=Operation.READ_PERSONS)
    elements = list(_children(_child(response.body, "personSet"), "person"))
    return _zip_successes("readPersons", sourced_ids, statuses, elements, person_from_xml)


def read_group_result(response: SoapResponse) -> ImsGroup | None:
    if not response.statuses or response.statuses[0].code_major is not CodeMajor.SUCCESS:
        return None
    element = _child(response.body, "group")
    if element is None:
        raise TargetProtocolError("readGroup: success without a group in the body")
    return group_from_xml(element)


def read_groups_result(response: SoapResponse, sourced_ids: Sequence[str]) -> dict[str, ImsGroup]:
    """readGroups: "only groups whose status is success are returned in groupSet", in request order."""
    statuses = item_statuses(response, len(sourced_ids), operation=Operation.READ_GROUPS)
    elements = list(_children(_child(response.body, "groupSet"), "group"))
    return _zip_successes("readGroups", sourced_ids, statuses, elements, group_from_xml)


def _zip_successes(
    operation: str,
    sourced_ids: Sequence[str],
    statuses: Sequence[StatusInfo],
    elements: Sequence[etree._Element],
    convert: Callable[[etree._Element], _T],
) -> dict[str, _T]:
    successes = _successes(statuses)
    if len(elements) != len(successes):
        raise TargetProtocolError(
            f"{operation}: {len(successes)} items succeeded but the body holds {len(elements)} objects"
        )
    return {sourced_ids[i]: convert(element) for i, element in zip(successes, elements, strict=True)}


def read_all_persons_result(response: SoapResponse) -> PersonPage:
    """One readAllPersons page: ``personIdPairSet/personIdPair*`` and ``virtualCount``.

    Persons made by hand have no sync key; they come back with an empty ``sourcedId``.
    """
    body = response.body
    count_text = _text(body, "virtualCount") or _text(body, "VirtualCount")
    try:
        virtual_count = int(count_text) if count_text else 0
    except ValueError:
        raise TargetProtocolError(f"readAllPersons: virtualCount {count_text!r} is not a number") from None
    pairs = []
    for pair in _children(_child(body, "personIdPairSet"), "personIdPair"):
        key = _text(pair, "sourcedId", "identifier") or _text(pair, "sourceId", "identifier") or None
        person = _child(pair, "person")
        pairs.append((key, person_from_xml(person) if person is not None else ImsPerson()))
    return PersonPage(persons=tuple(pairs), virtual_count=virtual_count)


def read_memberships_result(response: SoapResponse) -> tuple[tuple[str, ImsMembership], ...]:
    """readMembershipsFor{Group,Person}: (membership id, membership) per member.

    The set is ``membershipIDPairSet`` — capital "ID", as in itslearning's WSDL — while the
    pairs are ``membershipIdPair``; the lower-case set name is accepted too.
    """
    body = response.body
    pair_set = _child(body, "membershipIDPairSet")
    if pair_set is None:
        pair_set = _child(body, "membershipIdPairSet")
    out = []
    for pair in _children(pair_set, "membershipIdPair"):
        membership_id = _text(pair, "sourcedId", "identifier") or ""
        membership = _child(pair, "membership")
        group = _text(membership, "groupSourcedId", "identifier") or ""
        for member in _children(membership, "member"):
            role = _child(member, "role")
            out.append(
                (
                    membership_id,
                    ImsMembership(
                        group=group,
                        person=_text(member, "memberSourcedId", "identifier") or "",
                        role_type=_text(role, "roleType") or "",
                        extension_fields=_extension_fields_of(_child(role, "extension")),
                    ),
                )
            )
    return tuple(out)
