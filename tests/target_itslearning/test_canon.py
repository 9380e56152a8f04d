"""The canonicaliser compares by namespace URI, never by prefix (STYLE §10)."""

from __future__ import annotations

import pytest

from .canon import assert_xml_equal, canonical, xml_equal

DOC_STYLE = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:ims="http://www.imsglobal.org/services/pms/xsd/imsPersonManMessSchema_v1p0"
    xmlns:ims1="http://www.imsglobal.org/services/common/imsCommonSchema_v1p0">
  <soapenv:Body>
    <ims:deletePersonRequest>
      <ims:sourcedId><ims1:identifier>876</ims1:identifier></ims:sourcedId>
    </ims:deletePersonRequest>
  </soapenv:Body>
</soapenv:Envelope>"""

# The same message: other prefixes, declarations moved, a default namespace, no layout.
OTHER_PREFIXES = (
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    b'<deletePersonRequest xmlns="http://www.imsglobal.org/services/pms/xsd/imsPersonManMessSchema_v1p0">'
    b'<sourcedId><c:identifier xmlns:c="http://www.imsglobal.org/services/common/imsCommonSchema_v1p0">876'
    b"</c:identifier></sourcedId></deletePersonRequest></s:Body></s:Envelope>"
)

# Same prefixes and names as DOC_STYLE, but ``identifier`` in the *Data* namespace: a different message.
OTHER_NAMESPACE = DOC_STYLE.replace(
    b"http://www.imsglobal.org/services/common/imsCommonSchema_v1p0",
    b"http://www.imsglobal.org/services/pms/xsd/imsPersonManDataSchema_v1p0",
)


def test_same_envelope_with_other_prefixes_is_equal():
    assert xml_equal(DOC_STYLE, OTHER_PREFIXES)
    assert_xml_equal(OTHER_PREFIXES, DOC_STYLE)


def test_same_prefix_in_another_namespace_is_not_equal():
    assert not xml_equal(DOC_STYLE, OTHER_NAMESPACE)
    with pytest.raises(AssertionError, match="imsPersonManDataSchema_v1p0"):
        assert_xml_equal(OTHER_NAMESPACE, DOC_STYLE)


def test_text_order_and_attributes_count():
    assert not xml_equal(DOC_STYLE, DOC_STYLE.replace(b">876<", b">877<"))
    swapped = b'<a xmlns="urn:x"><b/><c/></a>', b'<a xmlns="urn:x"><c/><b/></a>'
    assert not xml_equal(*swapped)
    assert not xml_equal(b'<a xmlns="urn:x" k="1"/>', b'<a xmlns="urn:x" k="2"/>')
    # An attribute in a namespace is compared by that namespace, not by its prefix.
    assert xml_equal(
        b'<a xmlns:p="urn:n" p:k="1"/>',
        b'<a xmlns:q="urn:n" q:k="1"/>',
    )
    assert not xml_equal(b'<a xmlns:p="urn:n" p:k="1"/>', b'<a xmlns:p="urn:m" p:k="1"/>')


def test_comments_and_layout_do_not_count():
    assert canonical(b"<!-- note --><a xmlns='urn:x'>\n  <b>v</b>\n</a>") == canonical(
        b"<a xmlns='urn:x'><b>v</b></a>"
    )
    # Leaf text is significant, spaces included.
    assert not xml_equal(b"<a><b>v </b></a>", b"<a><b>v</b></a>")
