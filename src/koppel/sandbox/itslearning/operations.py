"""The operations the sandbox serves, the endpoints that serve them, and how each one answers.

One table drives everything: for every operation its service, object kind and verb (which fix the
request and response element names), whether it answers with ``statusInfo`` or ``statusInfoSet`` and
which response-header flavour it uses. Both answer shapes follow what real responses show, not a
"single vs batch" rule: ``readGroupsForPerson``, ``readPersonsForGroup`` and ``readMemberships
For{Group,Person}`` take one id and answer with a ``statusInfoSet``; ``readAllPersons`` returns many
persons under one ``statusInfo`` (wire-facts, quirk 7).

``replace*`` and ``change*Identifier`` exist at itslearning but are not emulated: they answer with
WCF's ActionNotSupported fault, so a client that starts to use them notices here first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from .model import ObjectKind
from .namespaces import Service
from .soap import HeaderFlavour
from .xmlnodes import qname

__all__ = ["OPERATIONS", "Access", "Endpoint", "Operation", "StatusShape", "Verb", "operation_for_action"]


class Verb(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"
    READ_FOR = "read-for"
    READ_ALL = "read-all"

    @property
    def writes(self) -> bool:
        return self in (Verb.CREATE, Verb.UPDATE, Verb.DELETE)

    @property
    def upserts(self) -> bool:
        """create and update are the same upsert at itslearning (§1.3)."""
        return self in (Verb.CREATE, Verb.UPDATE)


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


class StatusShape(Enum):
    SINGLE = "statusInfo"
    SET = "statusInfoSet"


@dataclass(frozen=True)
class Operation:
    """One SOAP operation: ``name`` is exactly what follows the service in its SOAPAction."""

    name: str
    kind: ObjectKind
    """The kind of object the request carries or the response returns."""
    verb: Verb
    many: bool
    shape: StatusShape
    header: HeaderFlavour
    subject: ObjectKind | None = None
    """For read-for operations: the kind the request's single id names (``personSourcedId`` …)."""

    @property
    def service(self) -> Service:
        return self.kind.service

    @property
    def action(self) -> str:
        return self.service.action(self.name)

    @property
    def reply_action(self) -> str:
        """WCF's default output action: the input action plus ``Response`` (an inference)."""
        return self.action + "Response"

    @property
    def request_tag(self) -> str:
        return qname(self.service.mess_ns, self.name + "Request")

    @property
    def response_local(self) -> str:
        return self.name + "Response"

    @property
    def access(self) -> Access:
        return Access.WRITE if self.verb.writes else Access.READ


# Operations whose real responses carry the WCF `Action` header instead of a wsu:Timestamp
# (itswizard readPerson.go, readPersons.go, readMembershipsForPerson.go).
_ACTION_HEADER_OPERATIONS = frozenset({"readPerson", "readPersons", "readMembershipsForPerson"})


def _operation(
    name: str,
    kind: ObjectKind,
    verb: Verb,
    *,
    many: bool,
    shape: StatusShape,
    subject: ObjectKind | None = None,
) -> Operation:
    header = HeaderFlavour.WCF_ACTION if name in _ACTION_HEADER_OPERATIONS else HeaderFlavour.WS_TIMESTAMP
    return Operation(name, kind, verb, many, shape, header, subject)


def _crud(kind: ObjectKind) -> list[Operation]:
    operations = []
    for verb in (Verb.CREATE, Verb.UPDATE, Verb.DELETE, Verb.READ):
        operations.append(_operation(f"{verb}{kind.noun}", kind, verb, many=False, shape=StatusShape.SINGLE))
        operations.append(_operation(f"{verb}{kind.noun}s", kind, verb, many=True, shape=StatusShape.SET))
    return operations


def _all_operations() -> list[Operation]:
    person, group, membership = ObjectKind.PERSON, ObjectKind.GROUP, ObjectKind.MEMBERSHIP
    return [
        *_crud(person),
        *_crud(group),
        *_crud(membership),
        _operation("readAllPersons", person, Verb.READ_ALL, many=True, shape=StatusShape.SINGLE),
        _operation(
            "readPersonsForGroup", person, Verb.READ_FOR, many=True, shape=StatusShape.SET, subject=group
        ),
        _operation(
            "readGroupsForPerson", group, Verb.READ_FOR, many=True, shape=StatusShape.SET, subject=person
        ),
        _operation(
            "readMembershipsForGroup",
            membership,
            Verb.READ_FOR,
            many=True,
            shape=StatusShape.SET,
            subject=group,
        ),
        _operation(
            "readMembershipsForPerson",
            membership,
            Verb.READ_FOR,
            many=True,
            shape=StatusShape.SET,
            subject=person,
        ),
    ]


OPERATIONS: dict[str, Operation] = {operation.action: operation for operation in _all_operations()}


def operation_for_action(soap_action: str | None) -> Operation | None:
    """The operation a SOAPAction header names; quotes around the URI are optional."""
    if soap_action is None:
        return None
    return OPERATIONS.get(soap_action.strip().strip('"'))


class Endpoint(Enum):
    """The WCF ``.svc`` endpoints (itslearning-and-target-formats §1.1); value = (name, file)."""

    PMS = ("pms", "PersonManagementServiceSync.svc")
    EPMS = ("epms", "ExtendedPersonManagementServiceSync.svc")
    GMS = ("gms", "GroupManagementServiceSync.svc")
    MMS = ("mms", "MembershipManagementServiceSync.svc")
    COMBINED = ("combined", "ImsEnterpriseServicesPort.svc")

    @property
    def short_name(self) -> str:
        return self.value[0]

    @property
    def path(self) -> str:
        return f"/WCFServiceLibrary/{self.value[1]}"

    def serves(self, operation: Operation) -> bool:
        """readAllPersons is the proprietary Extended service's only operation; the combined port
        serves everything (an operation at the wrong endpoint gets ActionNotSupported)."""
        if self is Endpoint.COMBINED:
            return True
        if operation.verb is Verb.READ_ALL:
            return self is Endpoint.EPMS
        return self.short_name == operation.service.value

    @classmethod
    def named(cls, short_name: str) -> Endpoint:
        for endpoint in cls:
            if endpoint.short_name == short_name:
                return endpoint
        raise KeyError(f"no endpoint {short_name!r}; known: {', '.join(e.short_name for e in cls)}")
