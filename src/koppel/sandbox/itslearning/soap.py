"""SOAP 1.1 envelopes as itslearning's WCF services read and write them, and the faults they send.

Reading: the envelope must be SOAP 1.1; the header is optional (the vendor's course example sends an
empty ``<soapenv:Header/>``, wire-facts quirk 8); ``wsse:Security/UsernameToken`` carries the
credentials and ``syncRequestHeaderInfo/messageIdentifier`` the message id; other header blocks are
ignored unless they demand ``mustUnderstand``.

Writing: a response header comes in one of two flavours that real itslearning responses show
(wire-facts, itswizard structs): ``WCF_ACTION`` — an ``Action`` header with ``mustUnderstand`` and no
Security, the Envelope declaring only ``s``; or ``WS_TIMESTAMP`` — ``syncResponseHeaderInfo`` followed
by ``o:Security/u:Timestamp``, the Envelope declaring ``s`` and ``u``.

Faults are WCF's defaults under ``basicHttpBinding``. Their codes and texts are an inference from how
WCF behaves, not something itslearning documents; docs/sandbox-itslearning.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from lxml import etree

from koppel.errors import SandboxError
from koppel.xmlsafe import XMLParseError, parse_xml

from .namespaces import NS
from .xmlnodes import child, qname, text

__all__ = [
    "Envelope",
    "FaultCode",
    "HeaderFlavour",
    "ResponseEnvelope",
    "SoapFault",
    "UsernameToken",
    "fault_envelope",
    "read_envelope",
    "response_envelope",
]

UNDERSTOOD_HEADERS = frozenset({qname(NS.WSSE, "Security"), qname(NS.BIND, "syncRequestHeaderInfo")})
_MUST_UNDERSTAND = qname(NS.SOAP, "mustUnderstand")
TIMESTAMP_LIFETIME = timedelta(minutes=5)  # Created/Expires 5 minutes apart (deletePerson response)


class FaultCode(Enum):
    """A SOAP 1.1 faultcode: (namespace, local name, prefix used on the wire)."""

    CLIENT = (NS.SOAP, "Client", "s")
    VERSION_MISMATCH = (NS.SOAP, "VersionMismatch", "s")
    MUST_UNDERSTAND = (NS.SOAP, "MustUnderstand", "s")
    INVALID_SECURITY = (NS.WSSE, "InvalidSecurity", "a")
    ACTION_NOT_SUPPORTED = (NS.WCF_ADDRESSING_NONE, "ActionNotSupported", "a")
    DESERIALIZATION_FAILED = (NS.WCF_DISPATCHER, "DeserializationFailed", "a")
    INTERNAL_SERVICE_FAULT = (NS.WCF_DISPATCHER, "InternalServiceFault", "a")

    @property
    def namespace(self) -> str:
        return self.value[0]

    @property
    def local(self) -> str:
        return self.value[1]

    @property
    def prefix(self) -> str:
        return self.value[2]


class SoapFault(SandboxError):
    """The request is answered with a SOAP Fault instead of a status: nothing was processed (or, for an
    injected ``after`` fault, the result was lost)."""

    def __init__(self, code: FaultCode, text: str, http_status: int = 500):
        self.code = code
        self.text = text
        self.http_status = http_status
        super().__init__(f"{code.local}: {text}")

    @classmethod
    def invalid_security(cls) -> SoapFault:
        return cls(FaultCode.INVALID_SECURITY, "An error occurred when verifying security for the message.")

    @classmethod
    def action_not_supported(cls, action: str) -> SoapFault:
        return cls(
            FaultCode.ACTION_NOT_SUPPORTED,
            f"The message with Action '{action}' cannot be processed at the receiver, due to a "
            "ContractFilter mismatch at the EndpointDispatcher. This may be because of either a contract "
            "mismatch (mismatched Actions between sender and receiver) or a binding/security mismatch "
            "between the sender and the receiver.  Check that sender and receiver have the same contract "
            "and the same binding (including security requirements, e.g. Message, Transport, None).",
        )

    @classmethod
    def deserialization_failed(cls, operation: str, detail: str) -> SoapFault:
        return cls(
            FaultCode.DESERIALIZATION_FAILED,
            f"The formatter threw an exception while trying to deserialize the message: "
            f"Error in deserializing body of request message for operation '{operation}'. {detail}",
        )

    @classmethod
    def internal_error(cls) -> SoapFault:
        return cls(
            FaultCode.INTERNAL_SERVICE_FAULT,
            "The server was unable to process the request due to an internal error.  For more information "
            "about the error, either turn on IncludeExceptionDetailInFaults (either from "
            "ServiceBehaviorAttribute or from the <serviceDebug> configuration behavior) on the server in "
            "order to send the exception information back to the client, or turn on tracing as per the "
            "Microsoft .NET Framework SDK documentation and inspect the server trace logs.",
        )

    @classmethod
    def not_understood(cls, header: str) -> SoapFault:
        namespace, _, local = header[1:].partition("}")
        return cls(
            FaultCode.MUST_UNDERSTAND,
            f"The header '{local}' from the namespace '{namespace}' was not understood by the recipient "
            "of this message, causing the message to not be processed.  This error typically indicates "
            "that the sender of this message has enabled a communication protocol that the receiver "
            "cannot process.  Please ensure that the configuration of the client's binding is consistent "
            "with the service's binding.",
        )


@dataclass(frozen=True, slots=True)
class UsernameToken:
    """``wsse:UsernameToken``; Nonce and Created are accepted and not checked (PasswordText only)."""

    username: str | None
    password: str | None
    password_type: str | None


@dataclass(frozen=True)
class Envelope:
    """What the server needs from a request envelope."""

    body: etree._Element
    message_id: str | None
    token: UsernameToken | None
    unknown_required_headers: tuple[str, ...]


def read_envelope(raw: bytes) -> Envelope:
    """Parse a request envelope, or raise SoapFault (``s:Client`` / ``s:VersionMismatch``)."""
    try:
        root = parse_xml(raw, what="SOAP request")
    except XMLParseError as exc:
        raise SoapFault(FaultCode.CLIENT, str(exc), http_status=400) from None
    if root.tag != qname(NS.SOAP, "Envelope"):
        raise SoapFault(
            FaultCode.VERSION_MISMATCH,
            f"The envelope {root.tag!s} is not a SOAP 1.1 Envelope ({NS.SOAP}).",
        )
    header = child(root, NS.SOAP, "Header")
    payload = _elements(child(root, NS.SOAP, "Body"))
    if not payload:
        raise SoapFault(FaultCode.CLIENT, "The SOAP Body holds no request element.", http_status=400)
    return Envelope(
        body=payload[0],
        message_id=text(child(child(header, NS.BIND, "syncRequestHeaderInfo"), NS.BIND, "messageIdentifier")),
        token=_username_token(header),
        unknown_required_headers=_unknown_required(header),
    )


def _elements(parent: etree._Element | None) -> list[etree._Element]:
    """Element children only: comments are already gone (xmlsafe), text nodes are not children."""
    return [] if parent is None else [node for node in parent if isinstance(node.tag, str)]


def _username_token(header: etree._Element | None) -> UsernameToken | None:
    token = child(child(header, NS.WSSE, "Security"), NS.WSSE, "UsernameToken")
    if token is None:
        return None
    password = child(token, NS.WSSE, "Password")
    return UsernameToken(
        username=text(child(token, NS.WSSE, "Username")),
        password=text(password),
        password_type=None if password is None else password.get("Type"),
    )


def _unknown_required(header: etree._Element | None) -> tuple[str, ...]:
    return tuple(
        str(block.tag)
        for block in _elements(header)
        if block.tag not in UNDERSTOOD_HEADERS and block.get(_MUST_UNDERSTAND, "0").strip() in ("1", "true")
    )


# ---------------------------------------------------------------------------------------------------
# Writing


class HeaderFlavour(Enum):
    WCF_ACTION = "action"
    WS_TIMESTAMP = "timestamp"


# Parsed from text because lxml cannot be told to prefix an element with `h` while its children use
# the (equal) default namespace; declaring the default first makes lxml pick it for the children.
_SYNC_RESPONSE_HEADER = (
    f'<h:syncResponseHeaderInfo xmlns="{NS.BIND}" xmlns:h="{NS.BIND}" '
    f'xmlns:xsi="{NS.XSI}" xmlns:xsd="{NS.XSD}"/>'
).encode()


@dataclass(frozen=True)
class ResponseEnvelope:
    """A response under construction: fill ``sync_header`` and ``body``, then serialise."""

    root: etree._Element
    sync_header: etree._Element
    body: etree._Element

    def to_bytes(self) -> bytes:
        serialized: bytes = etree.tostring(self.root, encoding="utf-8")
        return serialized


def response_envelope(flavour: HeaderFlavour, reply_action: str, now: datetime) -> ResponseEnvelope:
    """An empty response with the header blocks of ``flavour`` around an empty syncResponseHeaderInfo."""
    nsmap = {"s": NS.SOAP} if flavour is HeaderFlavour.WCF_ACTION else {"s": NS.SOAP, "u": NS.WSU}
    root = etree.Element(qname(NS.SOAP, "Envelope"), nsmap=nsmap)
    header = etree.SubElement(root, qname(NS.SOAP, "Header"))
    sync_header = etree.fromstring(_SYNC_RESPONSE_HEADER)
    if flavour is HeaderFlavour.WCF_ACTION:
        action = etree.SubElement(
            header, qname(NS.WCF_ADDRESSING_NONE, "Action"), nsmap={None: NS.WCF_ADDRESSING_NONE}
        )
        action.set(_MUST_UNDERSTAND, "1")
        action.text = reply_action
        header.append(sync_header)
    else:
        header.append(sync_header)
        header.append(_timestamp_security(now))
    body = etree.SubElement(root, qname(NS.SOAP, "Body"), nsmap={"xsi": NS.XSI, "xsd": NS.XSD})
    return ResponseEnvelope(root, sync_header, body)


def _timestamp_security(now: datetime) -> etree._Element:
    security = etree.Element(qname(NS.WSSE, "Security"), nsmap={"o": NS.WSSE})
    security.set(_MUST_UNDERSTAND, "1")
    stamp = etree.SubElement(security, qname(NS.WSU, "Timestamp"))
    stamp.set(qname(NS.WSU, "Id"), "_0")
    etree.SubElement(stamp, qname(NS.WSU, "Created")).text = _wsu_time(now)
    etree.SubElement(stamp, qname(NS.WSU, "Expires")).text = _wsu_time(now + TIMESTAMP_LIFETIME)
    return security


def _wsu_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def fault_envelope(fault: SoapFault) -> bytes:
    """``s:Fault{faultcode, faultstring xml:lang="en-US"}`` as WCF writes it for SOAP 1.1."""
    envelope = etree.Element(qname(NS.SOAP, "Envelope"), nsmap={"s": NS.SOAP})
    body = etree.SubElement(envelope, qname(NS.SOAP, "Body"))
    soap_fault = etree.SubElement(body, qname(NS.SOAP, "Fault"))
    code_nsmap = None if fault.code.namespace == NS.SOAP else {fault.code.prefix: fault.code.namespace}
    code = etree.SubElement(soap_fault, "faultcode", nsmap=code_nsmap)
    code.text = f"{fault.code.prefix}:{fault.code.local}"
    message = etree.SubElement(soap_fault, "faultstring")
    message.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    message.text = fault.text
    serialized: bytes = etree.tostring(envelope, encoding="utf-8")
    return serialized
