"""The XML namespaces itslearning's IMS Enterprise Services v1.0 speak, and which service owns which.

Every element is matched by namespace URI and local name, never by prefix: the vendor's own examples
use the same prefix for different schemas from page to page (wire-facts, quirk 1). Each IMS ES service
has a *Mess* schema (operation wrappers, ``sourcedId``, sets and pairs) and a *Data* schema (the
object's contents); identifiers and extension fields live in the shared *Common* schema, the sync
header in *MessBind* (wire-facts, quirk 2).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["NS", "PASSWORD_TEXT", "Service"]


class NS:
    """Namespace URIs, named after the schema (itslearning-and-target-formats §1.1)."""

    SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
    WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    XSI = "http://www.w3.org/2001/XMLSchema-instance"
    XSD = "http://www.w3.org/2001/XMLSchema"
    BIND = "http://www.imsglobal.org/services/common/imsMessBindSchema_v1p0"
    COMMON = "http://www.imsglobal.org/services/common/imsCommonSchema_v1p0"
    PMS_MESS = "http://www.imsglobal.org/services/pms/xsd/imsPersonManMessSchema_v1p0"
    PMS_DATA = "http://www.imsglobal.org/services/pms/xsd/imsPersonManDataSchema_v1p0"
    GMS_MESS = "http://www.imsglobal.org/services/gms/xsd/imsGroupManMessSchema_v1p0"
    GMS_DATA = "http://www.imsglobal.org/services/gms/xsd/imsGroupManDataSchema_v1p0"
    MMS_MESS = "http://www.imsglobal.org/services/mms/xsd/imsMemberManMessSchema_v1p0"
    MMS_DATA = "http://www.imsglobal.org/services/mms/xsd/imsMemberManDataSchema_v1p0"
    # WCF's own namespaces: the `Action` response header under basicHttpBinding (AddressingVersion.None)
    # and the dispatcher's fault codes.
    WCF_ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
    WCF_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"


PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
)


class Service(StrEnum):
    """One of the three IMS ES services; the value is the segment in its SOAPAction URIs."""

    PMS = "pms"
    GMS = "gms"
    MMS = "mms"

    @property
    def mess_ns(self) -> str:
        return _MESS[self]

    @property
    def data_ns(self) -> str:
        return _DATA[self]

    def action(self, operation: str) -> str:
        """The SOAPAction of ``operation``: ``http://www.imsglobal.org/soap/{pms|gms|mms}/<operation>``."""
        return f"http://www.imsglobal.org/soap/{self.value}/{operation}"


_MESS = {Service.PMS: NS.PMS_MESS, Service.GMS: NS.GMS_MESS, Service.MMS: NS.MMS_MESS}
_DATA = {Service.PMS: NS.PMS_DATA, Service.GMS: NS.GMS_DATA, Service.MMS: NS.MMS_DATA}
