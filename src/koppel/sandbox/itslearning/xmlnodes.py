"""Small lxml helpers: find by (namespace, local name), and write the way WCF writes.

Reading never looks at prefixes. Writing imitates WCF's serializer as seen on the wire (wire-facts,
"Related facts from public client code"): no prefixes in bodies, and every element whose namespace
differs from its parent's default namespace declares its own default ``xmlns``. A client that matched
on prefixes, or assumed one declaration at the top, fails against this — as it would in production.
"""

from __future__ import annotations

from lxml import etree

from .namespaces import NS

__all__ = ["child", "children", "element", "qname", "sub", "text"]

_NIL = f"{{{NS.XSI}}}nil"


def qname(namespace: str, local: str) -> str:
    """lxml's Clark notation, ``{namespace}local``."""
    return f"{{{namespace}}}{local}"


def child(parent: etree._Element | None, namespace: str, local: str) -> etree._Element | None:
    """The first child called ``local`` in ``namespace``, or None (also when ``parent`` is None)."""
    if parent is None:
        return None
    return parent.find(qname(namespace, local))


def children(parent: etree._Element | None, namespace: str, local: str) -> list[etree._Element]:
    if parent is None:
        return []
    return list(parent.findall(qname(namespace, local)))


def text(node: etree._Element | None) -> str | None:
    """The element's text: None when absent or ``xsi:nil="true"``, "" when present but empty."""
    if node is None or node.get(_NIL) in ("true", "1"):
        return None
    return node.text or ""


def element(namespace: str, local: str, nsmap: dict[str | None, str] | None = None) -> etree._Element:
    """A new root element in ``namespace`` as the default namespace, plus any extra declarations."""
    return etree.Element(qname(namespace, local), nsmap={None: namespace, **(nsmap or {})})


def sub(parent: etree._Element, namespace: str, local: str, value: str | None = None) -> etree._Element:
    """Append ``local`` in ``namespace``, declaring ``xmlns`` only where the default namespace changes."""
    nsmap = None if parent.nsmap.get(None) == namespace else {None: namespace}
    node = etree.SubElement(parent, qname(namespace, local), nsmap=nsmap)
    if value is not None:
        node.text = value
    return node
