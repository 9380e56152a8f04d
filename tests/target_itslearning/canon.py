"""Compare XML by meaning, the way a namespace-aware receiver reads it (STYLE §10).

Two documents are equal when their elements have the same namespace URI and local name, the same
attributes (by namespace URI), the same text, and equal children in the same order. Prefixes,
where namespaces are declared, comments and whitespace between elements do not count — itslearning's
own examples use ``ims``, ``ims1``, ``ims2`` for different namespaces on different pages, so a
comparison by prefix would be wrong on both sides.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from lxml import etree

Node = tuple[str, tuple[tuple[str, str], ...], str, tuple["Node", ...]]
XmlLike = bytes | str | Path | etree._Element

_PARSER = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False, no_network=True)


def _root(xml: XmlLike) -> etree._Element:
    if isinstance(xml, etree._Element):
        return xml
    if isinstance(xml, Path):
        xml = xml.read_bytes()
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    return etree.fromstring(xml, parser=_PARSER)


def canonical(xml: XmlLike) -> Node:
    """The (Clark name, attributes, text, children) tree of ``xml``."""
    return _node(_root(xml))


def _node(element: etree._Element) -> Node:
    children = tuple(_node(child) for child in element if isinstance(child.tag, str))
    text = element.text or ""
    if children or not text.strip():
        # Inter-element whitespace is layout; text among child elements would be mixed content,
        # which IMS ES does not have — keep it, stripped, so a stray value still shows up.
        text = text.strip()
    tails = "".join((child.tail or "").strip() for child in element if isinstance(child.tag, str))
    attributes = tuple(sorted((str(name), str(value)) for name, value in element.attrib.items()))
    return (element.tag, attributes, text + tails, children)


def render(node: Node, depth: int = 0) -> list[str]:
    """One line per element, in Clark notation, for readable diffs."""
    tag, attributes, text, children = node
    pad = "  " * depth
    attrs = "".join(f" {name}={value!r}" for name, value in attributes)
    lines = [f"{pad}{tag}{attrs}" + (f" = {text!r}" if text else "")]
    for child in children:
        lines.extend(render(child, depth + 1))
    return lines


def xml_equal(left: XmlLike, right: XmlLike) -> bool:
    return canonical(left) == canonical(right)


def assert_xml_equal(actual: XmlLike, expected: XmlLike, *, label: str = "expected") -> None:
    """Assert equality by namespace URI; on failure show a diff of both trees in Clark notation."""
    got, want = canonical(actual), canonical(expected)
    if got != want:
        diff = "\n".join(
            difflib.unified_diff(render(want), render(got), fromfile=label, tofile="actual", lineterm="")
        )
        raise AssertionError(f"XML differs from {label} (compared by namespace URI, not prefix):\n{diff}")
