"""Build IMS ES response envelopes for scripted test servers, in itslearning's real shape.

Header flavour (ii): ``syncResponseHeaderInfo`` (MessBind as default namespace) then
``o:Security/u:Timestamp``; body elements carry their own default namespaces, as WCF writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"

Status = tuple[str, str] | tuple[str, str, str, str]  # codeMajor, severity[, codeMinor, description]

OK: Status = ("success", "status")


def status_xml(status: Status, message_id: str = "") -> str:
    major, severity = status[0], status[1]
    minor = description = ""
    if len(status) > 2:
        code, text = status[2], status[3]  # type: ignore[misc]
        if code:
            minor = (
                "<codeMinor><codeMinorField><codeMinorName>TargetEndSystem</codeMinorName>"
                f"<codeMinorValue>{escape(code)}</codeMinorValue></codeMinorField></codeMinor>"
            )
        if text:
            description = f"<description><language>en-US</language><text>{escape(text)}</text></description>"
    return (
        f"<statusInfo><codeMajor>{major}</codeMajor><severity>{severity}</severity>{minor}"
        f"<messageIdRef>{escape(message_id)}</messageIdRef>{description}</statusInfo>"
    )


def response(
    statuses: Sequence[Status], body: str = "", *, in_set: bool = True, message_id: str = ""
) -> bytes:
    if in_set:
        block = "<statusInfoSet>" + "".join(status_xml(s, message_id) for s in statuses) + "</statusInfoSet>"
    else:
        (only,) = statuses
        block = status_xml(only, message_id)
    return (
        f'<s:Envelope xmlns:s="{SOAP}" '
        'xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
        "<s:Header>"
        '<h:syncResponseHeaderInfo xmlns:h="http://www.imsglobal.org/services/common/imsMessBindSchema_v1p0" '
        'xmlns="http://www.imsglobal.org/services/common/imsMessBindSchema_v1p0">'
        f"<messageIdentifier>{escape(message_id)}</messageIdentifier>{block}</h:syncResponseHeaderInfo>"
        '<o:Security s:mustUnderstand="1" '
        'xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        '<u:Timestamp u:Id="_0"><u:Created>2026-11-20T10:00:00Z</u:Created>'
        "<u:Expires>2026-11-20T10:05:00Z</u:Expires></u:Timestamp></o:Security>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault(code: str, text: str, *, code_ns: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{code_ns}">a:{code}</faultcode><faultstring xml:lang="en-US">{escape(text)}</faultstring>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
INVALID_SECURITY = fault(
    "InvalidSecurity", "An error occurred when verifying security for the message.", code_ns=WSSE
)

PMS_MESS = "http://www.imsglobal.org/services/pms/xsd/imsPersonManMessSchema_v1p0"
PMS_DATA = "http://www.imsglobal.org/services/pms/xsd/imsPersonManDataSchema_v1p0"
GMS_MESS = "http://www.imsglobal.org/services/gms/xsd/imsGroupManMessSchema_v1p0"
GMS_DATA = "http://www.imsglobal.org/services/gms/xsd/imsGroupManDataSchema_v1p0"
MMS_MESS = "http://www.imsglobal.org/services/mms/xsd/imsMemberManMessSchema_v1p0"
MMS_DATA = "http://www.imsglobal.org/services/mms/xsd/imsMemberManDataSchema_v1p0"
COMMON = "http://www.imsglobal.org/services/common/imsCommonSchema_v1p0"


def person_pair(key: str, given: str, family: str, role: str = "Student") -> str:
    identifier = (
        f'<identifier xmlns="{COMMON}">{escape(key)}</identifier>'
        if key
        else f'<identifier xmlns="{COMMON}"/>'
    )
    return (
        f"<personIdPair><sourcedId>{identifier}</sourcedId><person>"
        f'<name xmlns="{PMS_DATA}"><partName><namePartType>First</namePartType><namePartValue>{escape(given)}</namePartValue></partName>'
        f"<partName><namePartType>Last</namePartType><namePartValue>{escape(family)}</namePartValue></partName></name>"
        f'<institutionRole xmlns="{PMS_DATA}"><institutionRoleType>{role}</institutionRoleType><primaryRoleType>true</primaryRoleType></institutionRole>'
        "</person></personIdPair>"
    )


def all_persons_body(pairs: Sequence[str], virtual_count: int) -> str:
    return (
        f'<readAllPersonsResponse xmlns="{PMS_MESS}"><personIdPairSet>{"".join(pairs)}</personIdPairSet>'
        f"<virtualCount>{virtual_count}</virtualCount></readAllPersonsResponse>"
    )


def group_xml(group_type: str, parent: str, name: str) -> str:
    return (
        f'<group><groupType xmlns="{GMS_DATA}"><scheme>ItslearningOrganisationTypes</scheme><typeValue><type>{group_type}</type></typeValue></groupType>'
        f'<relationship xmlns="{GMS_DATA}"><relation>Parent</relation><sourceId><identifier xmlns="{COMMON}">{escape(parent)}</identifier></sourceId></relationship>'
        f'<description xmlns="{GMS_DATA}"><descShort>{escape(name)}</descShort></description></group>'
    )


def groups_body(groups: Sequence[str]) -> str:
    return (
        f'<readGroupsResponse xmlns="{GMS_MESS}"><groupSet>{"".join(groups)}</groupSet></readGroupsResponse>'
    )


def memberships_body(items: Sequence[tuple[str, str, str, str]]) -> str:
    pairs = "".join(
        f'<membershipIdPair><sourcedId><identifier xmlns="{COMMON}">{escape(mid)}</identifier></sourcedId><membership>'
        f'<groupSourcedId xmlns="{MMS_DATA}"><identifier xmlns="{COMMON}">{escape(group)}</identifier></groupSourcedId>'
        f'<member xmlns="{MMS_DATA}"><memberSourcedId><identifier xmlns="{COMMON}">{escape(person)}</identifier></memberSourcedId>'
        f"<role><roleType>{role}</roleType></role></member></membership></membershipIdPair>"
        for mid, group, person, role in items
    )
    return f'<readMembershipsForGroupResponse xmlns="{MMS_MESS}"><membershipIDPairSet>{pairs}</membershipIDPairSet></readMembershipsForGroupResponse>'
