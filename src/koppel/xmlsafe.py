"""Parse untrusted XML safely: no entity expansion, no network, no DTD, no entity left unresolved.

SOAP 1.1 (§3) says a message must not contain a document type declaration, and neither EDEXML nor
IMS ES needs one, so any DOCTYPE is refused outright: that closes external entities (file or network
reads) and entity-expansion bombs in one rule, before libxml2 does any work on them.

The DOCTYPE is looked for in the *decoded* text, not in the raw bytes: a UTF-16 or UTF-32 document
(with or without a byte order mark), or one in EBCDIC, spells ``<!DOCTYPE`` in other bytes. The
encoding is taken as an XML parser takes it (XML 1.0 appendix F: the byte order mark, else the first
four bytes, else the encoding declaration). After parsing, the document lxml built is checked once
more — no DTD, internal or external, and no entity reference node — so that an encoding this module
cannot decode cannot smuggle one past the first check.

An entity reference that is not one of XML's five (``&foo;``) is an error naming the line: libxml2
reports it as not defined, and koppel never leaves such a reference in the tree, where it would
silently read as an empty name.

The parser keeps libxml2's limits (``huge_tree`` off): at most 10,000,000 characters in one text
node, 256 levels of nesting, 50,000 characters in a name. Callers bound the size of the whole
document (``max_file_mb``, ``max_response_mb``) before they call :func:`parse_xml`.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

__all__ = ["UnsafeXML", "XMLParseError", "parse_xml", "secure_parser", "xml_encoding"]

_DECLARATION_TEXT = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION_BYTES = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(
    rb"""^<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._\-]{0,40})["']"""
)
_UNDEFINED_ENTITY = re.compile(r"Entity '([^']{1,80})[^']*' not defined")
_LINE_SUFFIX = re.compile(r", line \d+, column \d+$")
_CHUNK = 1 << 20
_MESSAGE_LIMIT = 200

_BYTE_ORDER_MARKS = (  # the UTF-32 marks first: FF FE 00 00 begins with the UTF-16 LE mark
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FIRST_BYTES = (  # XML 1.0 appendix F, without a byte order mark: "<" (or "<?") in each encoding
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00", "utf-16-be"),
    (b"\x3c\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),  # "<?xm" in EBCDIC
)


class XMLParseError(ValueError):
    """The bytes are not well-formed XML."""


class UnsafeXML(XMLParseError):
    """The document declares a DTD or entities; refused without resolving anything."""


def secure_parser(*, recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=recover,
    )


def xml_encoding(raw: bytes) -> str:
    """The encoding an XML parser reads ``raw`` in: byte order mark, first bytes, declaration, UTF-8."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if raw.startswith(mark):
            return encoding
    for start, encoding in _FIRST_BYTES:
        if raw.startswith(start):
            return encoding
    declared = _DECLARED_ENCODING.match(raw)
    if declared is not None:
        name = declared.group(1).decode("ascii")
        try:
            info = codecs.lookup(name)
        except LookupError:
            return "utf-8"
        if not info.name.startswith(("utf-16", "utf-32")):  # an 8-bit start cannot switch to UTF-16
            return info.name
    return "utf-8"


def _declares_dtd(raw: bytes) -> bool:
    """Whether the text of ``raw``, decoded as an XML parser decodes it, holds ``<!DOCTYPE`` or ``<!ENTITY``."""
    if _DECLARATION_BYTES.search(raw) is not None:  # ASCII-compatible encodings: the bytes are the text
        return True
    encoding = xml_encoding(raw)
    if "<!DOCTYPE".encode(encoding, errors="replace") == b"<!DOCTYPE":
        return False
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    tail = ""
    for start in range(0, len(raw), _CHUNK):
        piece = tail + decoder.decode(raw[start : start + _CHUNK], final=start + _CHUNK >= len(raw))
        if _DECLARATION_TEXT.search(piece):
            return True
        tail = piece[-16:]
    return False


def _refused(what: str) -> UnsafeXML:
    return UnsafeXML(f"{what}: XML with a DOCTYPE or entity declaration is refused (nothing was resolved)")


def _refuse_dtd(root: etree._Element, what: str) -> None:
    """Refuse the document lxml built when it has a DTD: the check after decoding, whatever the bytes were."""
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refused(what)


def _syntax_error(what: str, exc: etree.XMLSyntaxError) -> XMLParseError:
    message = _LINE_SUFFIX.sub("", (exc.msg or "").strip())
    undefined = _UNDEFINED_ENTITY.search(message)
    where = f"{what}, line {exc.lineno}" if exc.lineno else what
    if undefined is not None:
        return XMLParseError(
            f"{where}: the entity reference &{undefined.group(1)}; is not defined (XML knows only &lt; &gt; "
            "&amp; &apos; &quot; and character references); nothing was read"
        )
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "…"
    return XMLParseError(f"{where}: not well-formed XML ({message})")


def parse_xml(data: bytes | str, *, what: str = "document") -> etree._Element:
    """Parse ``data`` and return the root element, or raise XMLParseError / UnsafeXML naming ``what``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _declares_dtd(raw):
        raise _refused(what)
    try:
        root = etree.fromstring(raw, parser=secure_parser())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(what, exc) from None
    if root is None:
        raise XMLParseError(f"{what}: empty XML document")
    _refuse_dtd(root, what)
    for entity in root.iter(etree.Entity):
        raise XMLParseError(
            f"{what}, line {entity.sourceline}: the entity reference {entity.text} cannot be resolved; "
            "nothing was read"
        )
    return root
