"""Hand-written IMS ES v1.0 SOAP envelopes for the sandbox tests, and a reader for the answers.

Written from shared/reference/itslearning-wire-facts.md, not from the sandbox's code: the tests would
otherwise only prove that the sandbox agrees with itself. Body fragments are written with the
placeholder prefixes ``m:`` (the service's Mess schema), ``d:`` (its Data schema) and ``c:`` (Common);
``envelope()`` renames them to the prefixes of a ``Style``. The styles copy the vendor's own
inconsistency (wire-facts, quirk 1) — ``ims`` is MessBind on one page and the Mess schema on the next —
so every test that picks a style also shows that the sandbox matches by namespace, not by prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from koppel.sandbox.itslearning import SandboxServer

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
)
BIND = "http://www.imsglobal.org/services/common/imsMessBindSchema_v1p0"
COMMON = "http://www.imsglobal.org/services/common/imsCommonSchema_v1p0"
MESS = {
    "pms": "http://www.imsglobal.org/services/pms/xsd/imsPersonManMessSchema_v1p0",
    "gms": "http://www.imsglobal.org/services/gms/xsd/imsGroupManMessSchema_v1p0",
    "mms": "http://www.imsglobal.org/services/mms/xsd/imsMemberManMessSchema_v1p0",
}
DATA = {
    "pms": "http://www.imsglobal.org/services/pms/xsd/imsPersonManDataSchema_v1p0",
    "gms": "http://www.imsglobal.org/services/gms/xsd/imsGroupManDataSchema_v1p0",
    "mms": "http://www.imsglobal.org/services/mms/xsd/imsMemberManDataSchema_v1p0",
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class Style:
    """Which prefix each namespace gets in an envelope."""

    name: str
    env: str
    bind: str
    mess: str
    common: str
    data: str
    wsse: str


# deletePerson.html: ims = MessBind, ims1 = PersonManMess, ims2 = Common.
VENDOR_A = Style("vendor-a", env="soapenv", bind="ims", mess="ims1", common="ims2", data="ims3", wsse="wsse")
# deletePersons.html: ims = PersonManMess, ims1 = Common, ims2 = MessBind.
VENDOR_B = Style("vendor-b", env="soapenv", bind="ims2", mess="ims", common="ims1", data="ims4", wsse="wsse")
# dBildungs-like short prefixes and an unusual SOAP prefix.
SHORT = Style("short", env="S", bind="b", mess="m", common="c", data="d", wsse="o")
STYLES = (VENDOR_A, VENDOR_B, SHORT)

_PLACEHOLDER = re.compile(r"(</?)([mcd]):")


@dataclass(frozen=True)
class Body:
    """One request: the service segment of its SOAPAction, the operation, the body XML (placeholders)."""

    service: str
    operation: str
    xml: str

    @property
    def action(self) -> str:
        return f"http://www.imsglobal.org/soap/{self.service}/{self.operation}"


def envelope(
    body: Body,
    style: Style = VENDOR_A,
    *,
    username: str | None = "koppel",
    password: str = "sandbox",
    message_id: str | None = "msg-1",
    extra_header: str = "",
    nonce: bool = False,
) -> bytes:
    """The whole request, every namespace declared on the Envelope as the vendor's examples do."""
    prefixes = {"m": style.mess, "c": style.common, "d": style.data}
    inner = _PLACEHOLDER.sub(lambda match: f"{match.group(1)}{prefixes[match.group(2)]}:", body.xml)
    env, wsse = style.env, style.wsse
    sync = (
        ""
        if message_id is None
        else f"<{style.bind}:syncRequestHeaderInfo><{style.bind}:messageIdentifier>{escape(message_id)}"
        f"</{style.bind}:messageIdentifier></{style.bind}:syncRequestHeaderInfo>"
    )
    extras = (
        f'<{wsse}:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-'
        f'security-1.0#Base64Binary">bm9uY2U=</{wsse}:Nonce><wsu:Created>2026-01-01T00:00:00Z</wsu:Created>'
        if nonce
        else ""
    )
    security = (
        ""
        if username is None
        else f'<{wsse}:Security {env}:mustUnderstand="1"><{wsse}:UsernameToken>'
        f"<{wsse}:Username>{escape(username)}</{wsse}:Username>"
        f'<{wsse}:Password Type="{PASSWORD_TEXT}">{escape(password)}</{wsse}:Password>{extras}'
        f"</{wsse}:UsernameToken></{wsse}:Security>"
    )
    return (
        f'<{env}:Envelope xmlns:{env}="{SOAP}" xmlns:{style.bind}="{BIND}" '
        f'xmlns:{style.mess}="{MESS[body.service]}" xmlns:{style.common}="{COMMON}" '
        f'xmlns:{style.data}="{DATA[body.service]}" xmlns:{wsse}="{WSSE}" xmlns:wsu="{WSU}">'
        f"<{env}:Header>{sync}{security}{extra_header}</{env}:Header>"
        f"<{env}:Body>{inner}</{env}:Body></{env}:Envelope>"
    ).encode()


# ---------------------------------------------------------------------------------------------------
# Objects


def sourced_id(key: str) -> str:
    return f"<m:sourcedId><c:identifier>{escape(key)}</c:identifier></m:sourcedId>"


def person(
    first: str | None = "Jan",
    last: str | None = "Jansen",
    *,
    role: str | None = "Student",
    email: str | None = None,
    username: str | None = None,
    prefix: str | None = None,
    children: tuple[str, ...] = (),
    fields: dict[str, str] | None = None,
) -> str:
    """``m:person`` in the order of createPerson.html: formatName (nil), name, email, userId, role."""
    parts = "".join(
        f"<d:partName><d:namePartType>{kind}</d:namePartType><d:namePartValue>{escape(value)}</d:namePartValue>"
        "</d:partName>"
        for kind, value in (("Prefix", prefix), ("First", first), ("Last", last))
        if value is not None
    )
    xml = f'<m:person><d:formatName xmlns:xsi="{XSI}" xsi:nil="true"/><d:name>{parts}</d:name>'
    if email is not None:
        xml += f"<c:email>{escape(email)}</c:email>"
    if username is not None:
        xml += f"<d:userId><c:userIdValue>{escape(username)}</c:userIdValue></d:userId>"
    if role is not None:
        xml += (
            f"<d:institutionRole><d:institutionRoleType>{escape(role)}</d:institutionRoleType>"
            "<d:primaryRoleType>true</d:primaryRoleType></d:institutionRole>"
        )
    if children or fields:
        xml += "<d:extension>" + extension_fields(fields or {})
        xml += "".join(
            f"<c:relationship><c:relation>Child</c:relation><c:sourceId><c:identifier>{escape(child)}"
            "</c:identifier></c:sourceId></c:relationship>"
            for child in children
        )
        xml += "</d:extension>"
    return xml + "</m:person>"


def extension_fields(fields: dict[str, str], field_type: str = "String") -> str:
    return "".join(
        f"<c:extensionField><c:fieldName>{escape(name)}</c:fieldName><c:fieldType>{field_type}</c:fieldType>"
        f"<c:fieldValue>{escape(value)}</c:fieldValue></c:extensionField>"
        for name, value in fields.items()
    )


def group(
    name: str | None,
    group_type: str | None = "Unspecified",
    parent: str | None = None,
    *,
    course: str | None = None,
    code: str | None = None,
    level: str | None = None,
) -> str:
    """``m:group`` in the vendor course example's order: groupType, relationship, description, extension."""
    xml = "<m:group>"
    if group_type is not None or level is not None:
        type_xml = "" if group_type is None else f"<d:type>{group_type}</d:type>"
        level_xml = "" if level is None else f"<d:level>{level}</d:level>"
        xml += (
            "<d:groupType><d:scheme>ItslearningOrganisationTypes</d:scheme>"
            f"<d:typeValue>{type_xml}{level_xml}</d:typeValue></d:groupType>"
        )
    if parent is not None:
        xml += (
            f"<d:relationship><d:relation>Parent</d:relation><d:sourceId><c:identifier>{escape(parent)}"
            "</c:identifier></d:sourceId><d:label>Parent</d:label></d:relationship>"
        )
    if name is not None:
        xml += f"<d:description><d:descShort>{escape(name)}</d:descShort></d:description>"
    fields = {key: value for key, value in (("course", course), ("course/code", code)) if value is not None}
    if fields:
        xml += "<d:extension>" + extension_fields(fields) + "</d:extension>"
    return xml + "</m:group>"


def membership(group_key: str, person_key: str, role: str = "Learner", *, home: str | None = None) -> str:
    extension = (
        ""
        if home is None
        else "<d:extension>"
        + extension_fields({"HomeOrganisation": home}, field_type="bool")
        + "</d:extension>"
    )
    return (
        f"<m:membership><d:groupSourcedId><c:identifier>{escape(group_key)}</c:identifier></d:groupSourcedId>"
        f"<d:member><d:memberSourcedId><c:identifier>{escape(person_key)}</c:identifier></d:memberSourcedId>"
        f"<d:role><d:roleType>{escape(role)}</d:roleType>{extension}</d:role></d:member></m:membership>"
    )


# ---------------------------------------------------------------------------------------------------
# Requests

_SERVICE = {"Person": "pms", "Group": "gms", "Membership": "mms"}


def write_one(verb: str, noun: str, key: str, payload: str) -> Body:
    """createPerson / updateGroup / … with ``{sourcedId, <object>}``."""
    operation = f"{verb}{noun}"
    return Body(
        _SERVICE[noun], operation, f"<m:{operation}Request>{sourced_id(key)}{payload}</m:{operation}Request>"
    )


def write_many(verb: str, noun: str, items: list[tuple[str, str]]) -> Body:
    """createPersons / updateMemberships / … with ``<kind>IdPairSet/<kind>IdPair/{sourcedId, <object>}``."""
    kind = noun[0].lower() + noun[1:]
    operation = f"{verb}{noun}s"
    pairs = "".join(f"<m:{kind}IdPair>{sourced_id(key)}{payload}</m:{kind}IdPair>" for key, payload in items)
    return Body(
        _SERVICE[noun],
        operation,
        f"<m:{operation}Request><m:{kind}IdPairSet>{pairs}</m:{kind}IdPairSet></m:{operation}Request>",
    )


def by_id(operation: str, noun: str, key: str) -> Body:
    """deletePerson / readGroup / … with a single ``sourcedId``."""
    return Body(_SERVICE[noun], operation, f"<m:{operation}Request>{sourced_id(key)}</m:{operation}Request>")


def by_ids(operation: str, noun: str, keys: list[str]) -> Body:
    """deletePersons / readGroups / … with ``sourcedIdSet/identifier*``."""
    ids = "".join(f"<c:identifier>{escape(key)}</c:identifier>" for key in keys)
    return Body(
        _SERVICE[noun],
        operation,
        f"<m:{operation}Request><m:sourcedIdSet>{ids}</m:sourcedIdSet></m:{operation}Request>",
    )


def read_for(operation: str, service: str, id_element: str, key: str) -> Body:
    """readMembershipsForGroup / readGroupsForPerson / …: ``<id_element>/identifier``."""
    return Body(
        service,
        operation,
        f"<m:{operation}Request><m:{id_element}><c:identifier>{escape(key)}</c:identifier></m:{id_element}>"
        f"</m:{operation}Request>",
    )


def read_all_persons(
    page_index: int,
    page_size: int,
    *,
    created_from: str | None = None,
    only_manual: bool = False,
    convert: bool = False,
) -> Body:
    """readAllPersons, PascalCase children in the Mess namespace (itswizard readAllPersons.go)."""
    created = "" if created_from is None else f"<m:CreatedFrom>{created_from}</m:CreatedFrom>"
    return Body(
        "pms",
        "readAllPersons",
        f"<m:readAllPersonsRequest><m:PageIndex>{page_index}</m:PageIndex><m:PageSize>{page_size}</m:PageSize>"
        f"{created}<m:OnlyManuallyCreatedUsers>{str(only_manual).lower()}</m:OnlyManuallyCreatedUsers>"
        f"<m:ConvertFromManual>{str(convert).lower()}</m:ConvertFromManual></m:readAllPersonsRequest>",
    )


# ---------------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True)
class StatusInfo:
    major: str
    severity: str
    minor: str | None
    text: str
    """``description/text``; "" when the status has no description."""
    message_id_ref: str | None

    @property
    def ok(self) -> bool:
        return self.major == "success"


class Reply:
    """An answer, read by namespace URI only."""

    def __init__(self, response: httpx.Response):
        self.http_status = response.status_code
        self.raw = response.content
        self.root = etree.fromstring(response.content)

    def xpath(self, path: str, **namespaces: str) -> list:
        return self.root.xpath(path, namespaces={"s": SOAP, "b": BIND, "c": COMMON, **namespaces})

    @property
    def sync_header(self) -> etree._Element:
        (header,) = self.xpath("/s:Envelope/s:Header/b:syncResponseHeaderInfo")
        return header

    @property
    def statuses(self) -> list[StatusInfo]:
        return [
            _status(node)
            for node in self.xpath("/s:Envelope/s:Header/b:syncResponseHeaderInfo//b:statusInfo")
        ]

    @property
    def status(self) -> StatusInfo:
        (status,) = self.statuses
        return status

    @property
    def body(self) -> etree._Element:
        (element,) = self.xpath("/s:Envelope/s:Body/*")
        return element

    @property
    def fault(self) -> tuple[tuple[str, str], str]:
        """((namespace, local name) of faultcode, faultstring)."""
        (code,) = self.xpath("/s:Envelope/s:Body/s:Fault/faultcode")
        (string,) = self.xpath("/s:Envelope/s:Body/s:Fault/faultstring")
        prefix, _, local = code.text.partition(":")
        return (code.nsmap[prefix], local), string.text


def _status(node: etree._Element) -> StatusInfo:
    def first(path: str) -> str | None:
        found = node.xpath(path, namespaces={"b": BIND})
        return found[0].text if found else None

    return StatusInfo(
        major=first("b:codeMajor") or "",
        severity=first("b:severity") or "",
        minor=first("b:codeMinor/b:codeMinorField/b:codeMinorValue"),
        text=first("b:description/b:text") or "",
        message_id_ref=first("b:messageIdRef"),
    )


class Client:
    """Posts envelopes to a sandbox; picks the per-service endpoint unless told otherwise."""

    def __init__(self, sandbox: SandboxServer, http: httpx.Client, style: Style = VENDOR_A):
        self.sandbox = sandbox
        self.http = http
        self.style = style

    def url(self, endpoint: str) -> str:
        return self.sandbox.endpoint(endpoint)

    def objects(self) -> dict:
        return self.sandbox.objects()

    def call(
        self,
        body: Body,
        *,
        endpoint: str | None = None,
        action: str | None = None,
        content: bytes | None = None,
        style: Style | None = None,
        **envelope_options,
    ) -> Reply:
        if endpoint is None:
            endpoint = "epms" if body.operation == "readAllPersons" else body.service
        response = self.http.post(
            self.url(endpoint),
            content=content
            if content is not None
            else envelope(body, style or self.style, **envelope_options),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action or body.action}"'},
        )
        return Reply(response)

    def ok(self, body: Body, **options) -> Reply:
        """Call and insist every item succeeded."""
        reply = self.call(body, **options)
        assert reply.http_status == 200, reply.raw
        assert all(status.ok for status in reply.statuses), reply.statuses
        return reply
