"""SOAP 1.1 transport: WS-Security, routing by SOAPAction and endpoint, header flavours, namespaces."""

from __future__ import annotations

import httpx
import pytest

from .envelopes import (
    BIND,
    COMMON,
    DATA,
    MESS,
    SOAP,
    STYLES,
    WSSE,
    WSU,
    XSI,
    Body,
    Client,
    Reply,
    Style,
    by_id,
    envelope,
    person,
    write_one,
)

WCF_ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
WCF_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"


def create_jan(key: str = "p1") -> Body:
    return write_one("create", "Person", key, person("Jan", "Jansen", username="jjansen"))


def test_wrong_password_is_an_invalid_security_fault(its: Client) -> None:
    reply = its.call(create_jan(), password="wrong")
    assert reply.http_status == 500
    assert reply.fault == (
        (WSSE, "InvalidSecurity"),
        "An error occurred when verifying security for the message.",
    )
    assert its.objects()["persons"] == []


def test_missing_security_header_is_the_same_fault(its: Client) -> None:
    reply = its.call(create_jan(), username=None)
    assert reply.http_status == 500
    assert reply.fault[0] == (WSSE, "InvalidSecurity")


def test_nonce_and_created_are_accepted(its: Client) -> None:
    its.ok(create_jan(), nonce=True)


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
def test_prefixes_do_not_matter(its: Client, style: Style) -> None:
    its.ok(create_jan(), style=style)
    reply = its.ok(by_id("readPerson", "Person", "p1"), style=style)
    (first,) = reply.xpath("//d:partName[d:namePartType='First']/d:namePartValue/text()", d=DATA["pms"])
    assert first == "Jan"


def test_wcf_style_default_namespaces_are_read(its: Client) -> None:
    """No prefixes in the body at all: every element switches the default namespace, as WCF writes."""
    content = f"""<s:Envelope xmlns:s="{SOAP}"><s:Header>
      <o:Security xmlns:o="{WSSE}" s:mustUnderstand="1"><o:UsernameToken><o:Username>koppel</o:Username>
        <o:Password>sandbox</o:Password></o:UsernameToken></o:Security></s:Header>
      <s:Body><createPersonRequest xmlns="{MESS["pms"]}">
        <sourcedId><identifier xmlns="{COMMON}">wcf-1</identifier></sourcedId>
        <person><name xmlns="{DATA["pms"]}"><partName><namePartType>First</namePartType>
          <namePartValue>Wim</namePartValue></partName><partName><namePartType>Last</namePartType>
          <namePartValue>Wever</namePartValue></partName></name>
          <institutionRole xmlns="{DATA["pms"]}"><institutionRoleType>Staff</institutionRoleType>
          </institutionRole>
        </person></createPersonRequest></s:Body></s:Envelope>""".encode()
    reply = its.ok(create_jan(), content=content)
    assert reply.status.message_id_ref is None  # no syncRequestHeaderInfo: empty <messageIdRef/>
    (created,) = its.objects()["persons"]
    assert (created["sync_key"], created["first"], created["profile"]) == ("wcf-1", "Wim", "Staff")


def test_right_name_in_wrong_namespace_is_not_seen(its: Client) -> None:
    """identifier in the Mess namespace instead of Common: the serializer skips it, the id is missing."""
    body = Body(
        "pms",
        "deletePerson",
        "<m:deletePersonRequest><m:sourcedId><m:identifier>p1</m:identifier>"
        "</m:sourcedId></m:deletePersonRequest>",
    )
    its.ok(create_jan())
    reply = its.call(body)
    assert reply.http_status == 200
    assert (reply.status.major, reply.status.minor) == ("failure", "unknownobject")


def test_operation_at_the_wrong_endpoint_is_action_not_supported(its: Client) -> None:
    reply = its.call(create_jan(), endpoint="gms")
    assert reply.http_status == 500
    (code, text) = reply.fault
    assert code == (WCF_ADDRESSING_NONE, "ActionNotSupported")
    assert "http://www.imsglobal.org/soap/pms/createPerson" in text and "ContractFilter mismatch" in text


def test_read_all_persons_lives_only_on_the_extended_endpoint(its: Client) -> None:
    from .envelopes import read_all_persons

    assert its.call(read_all_persons(1, 10), endpoint="pms").fault[0] == (
        WCF_ADDRESSING_NONE,
        "ActionNotSupported",
    )
    assert its.call(read_all_persons(1, 10), endpoint="epms").http_status == 200
    assert its.call(create_jan(), endpoint="epms").http_status == 500


def test_combined_port_serves_every_service(its: Client) -> None:
    from .envelopes import group

    its.ok(create_jan(), endpoint="combined")
    its.ok(write_one("create", "Group", "site", group("Site", "Site")), endpoint="combined")
    its.ok(by_id("readGroup", "Group", "site"), endpoint="combined")


@pytest.mark.parametrize(
    "soap_action",
    ["http://www.imsglobal.org/soap/pms/createPerson", '"http://www.imsglobal.org/soap/pms/createPerson"'],
)
def test_soap_action_may_be_quoted_or_not(its: Client, soap_action: str) -> None:
    response = its.http.post(
        its.url("pms"),
        content=envelope(create_jan()),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": soap_action},
    )
    assert Reply(response).status.ok


def test_soap_action_must_match_the_body(its: Client) -> None:
    reply = its.call(create_jan(), action="http://www.imsglobal.org/soap/pms/deletePerson")
    assert reply.http_status == 500
    (code, text) = reply.fault
    assert code == (WCF_DISPATCHER, "DeserializationFailed")
    assert text.startswith(
        "The formatter threw an exception while trying to deserialize the message: Error in deserializing body "
        "of request message for operation 'deletePerson'. OperationFormatter encountered an invalid Message "
        "body. Expected to find node type 'Element' with name 'deletePersonRequest' and namespace "
        f"'{MESS['pms']}'. Found node type 'Element' with name 'createPersonRequest'"
    )
    assert its.objects()["persons"] == []


def test_the_request_wrapper_in_the_wrong_namespace_is_not_the_request(its: Client) -> None:
    body = create_jan()
    wrong = Body("pms", "createPerson", body.xml.replace("<m:createPersonRequest>", "<d:createPersonRequest>")
                 .replace("</m:createPersonRequest>", "</d:createPersonRequest>"))
    reply = its.call(wrong)
    assert reply.http_status == 500 and reply.fault[0] == (WCF_DISPATCHER, "DeserializationFailed")


@pytest.mark.parametrize("path", ["/", "/WCFServiceLibrary/", "/WCFServiceLibrary/PersonManagementServiceSync"])
def test_a_post_to_a_path_that_is_not_a_service_is_404(its: Client, http: httpx.Client, path: str) -> None:
    """A client whose endpoint URL lost its ``.svc`` path meets IIS, not WCF: HTTP 404, no SOAP fault."""
    response = http.post(
        its.sandbox.url + path,
        content=envelope(create_jan()),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": create_jan().action},
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html") and "404" in response.text
    assert its.sandbox.stats()["requests_total"] == 0
    assert http.get(its.sandbox.url + "/", follow_redirects=False).headers["location"] == "/sandbox/"


def test_unknown_or_missing_soap_action(its: Client, http: httpx.Client) -> None:
    assert its.call(create_jan(), action="http://www.imsglobal.org/soap/pms/replacePerson").http_status == 500
    response = http.post(
        its.url("pms"), content=envelope(create_jan()), headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    assert Reply(response).fault[0] == (WCF_ADDRESSING_NONE, "ActionNotSupported")


def test_extra_header_blocks_are_ignored_unless_they_must_be_understood(its: Client) -> None:
    its.ok(create_jan(), extra_header='<x:Trace xmlns:x="urn:example">42</x:Trace>')
    reply = its.call(
        create_jan(), extra_header='<x:Route xmlns:x="urn:example" soapenv:mustUnderstand="1">here</x:Route>'
    )
    assert reply.http_status == 500
    assert reply.fault[0] == (SOAP, "MustUnderstand")


def test_message_identifier_is_echoed_or_left_empty(its: Client) -> None:
    reply = its.ok(create_jan(), message_id="id1")
    (echo,) = reply.xpath("/s:Envelope/s:Header/b:syncResponseHeaderInfo/b:messageIdentifier")
    assert echo.text == "id1" and reply.status.message_id_ref == "id1"
    reply = its.ok(create_jan(), message_id=None)
    (echo,) = reply.xpath("/s:Envelope/s:Header/b:syncResponseHeaderInfo/b:messageIdentifier")
    assert echo.text is None and reply.status.message_id_ref is None


def test_response_header_flavours_vary_per_operation(its: Client) -> None:
    write = its.ok(create_jan())
    assert write.xpath("/s:Envelope/s:Header/o:Security/u:Timestamp/u:Created", o=WSSE, u=WSU)
    assert not write.xpath("/s:Envelope/s:Header/a:Action", a=WCF_ADDRESSING_NONE)
    assert write.sync_header.getnext() is not None  # syncResponseHeaderInfo first, then Security

    read = its.ok(by_id("readPerson", "Person", "p1"))
    (action,) = read.xpath("/s:Envelope/s:Header/a:Action", a=WCF_ADDRESSING_NONE)
    assert action.get(f"{{{SOAP}}}mustUnderstand") == "1"
    assert not read.xpath("/s:Envelope/s:Header/o:Security", o=WSSE)


def test_response_uses_wcf_default_namespace_switching(its: Client) -> None:
    its.ok(create_jan())
    reply = its.ok(by_id("readPerson", "Person", "p1"))
    assert reply.sync_header.prefix == "h" and reply.sync_header.nsmap[None] == BIND
    assert reply.body.tag == f"{{{MESS['pms']}}}readPersonResponse"
    body_prefixes = {node.prefix for node in reply.body.iter() if isinstance(node.tag, str)}
    assert body_prefixes == {None}
    (format_name,) = reply.xpath("//d:formatName", d=DATA["pms"])
    assert format_name.nsmap[None] == DATA["pms"] and format_name.get(f"{{{XSI}}}nil") == "true"
    (username,) = reply.xpath("//d:userId/c:userIdValue", d=DATA["pms"])
    assert username.text == "jjansen" and username.nsmap[None] == COMMON


def test_only_text_xml_is_accepted(its: Client, http: httpx.Client) -> None:
    response = http.post(
        its.url("pms"),
        content=envelope(create_jan()),
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )
    assert response.status_code == 415


def test_malformed_and_dtd_requests_are_refused(its: Client, http: httpx.Client) -> None:
    headers = {"Content-Type": "text/xml", "SOAPAction": create_jan().action}
    assert http.post(its.url("pms"), content=b"<not-xml", headers=headers).status_code == 400
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    assert http.post(its.url("pms"), content=bomb, headers=headers).status_code == 400


def test_service_page_on_get(its: Client, http: httpx.Client) -> None:
    response = http.get(its.url("mms"))
    assert response.status_code == 200 and "MembershipManagementServiceSync.svc" in response.text
