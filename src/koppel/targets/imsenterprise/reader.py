"""Reading back: koppel's mirror as a TargetSnapshot (``read()``), and an IMS Enterprise file as records.

Neither Moodle nor itslearning can be read back through an IMS Enterprise file, so reconciliation compares the
state with what koppel last published. :func:`parse_file` reads an IMS Enterprise 1.1 file with an XML parser
(entities and network off, no DTD: :mod:`koppel.xmlsafe`) — for the tests, and for anyone checking what a file
holds; Moodle itself does not parse XML (see ``tests/target_imsenterprise/moodle_reader.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from koppel.model.desired import ObjectKind
from koppel.targets.base import ReadObject, TargetSnapshot
from koppel.targets.files import MirrorObject
from koppel.xmlsafe import parse_xml

__all__ = ["ParsedFile", "ParsedMember", "ParsedRecord", "parse_file", "snapshot_of"]


def snapshot_of(objects: Iterable[MirrorObject], mirror_path: Path) -> TargetSnapshot:
    """The active objects of the mirror; suspended persons and archived groups are counted in the notes."""
    active: list[ReadObject] = []
    inactive: Counter[str] = Counter()
    for obj in objects:
        if obj.status != "active":
            inactive[f"{obj.status} {obj.kind.value}s"] += 1
            continue
        active.append(ReadObject(obj.kind, obj.key, dict(obj.attrs), target_id=obj.target_id or obj.key))
    notes = [f"read from what koppel last published ({mirror_path}); the platform itself cannot be read back"]
    notes += [f"{n:,} {what} are in the file as inactive or left out" for what, n in sorted(inactive.items())]
    return TargetSnapshot(tuple(active), complete=True, notes=tuple(notes))


@dataclass
class ParsedRecord:
    kind: ObjectKind
    id: str
    recstatus: int | None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedMember:
    group: str
    person: str
    roletype: str
    status: str
    recstatus: int | None


@dataclass
class ParsedFile:
    properties: dict[str, str]
    persons: list[ParsedRecord]
    groups: list[ParsedRecord]
    members: list[ParsedMember]
    order: list[str]  # the record element names in document order


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path)
    return None if found is None else (found.text or "")


def _recstatus(el: etree._Element) -> int | None:
    value = el.get("recstatus")
    return int(value) if value else None


def parse_file(data: bytes, *, what: str = "IMS Enterprise file") -> ParsedFile:
    """The records of an IMS Enterprise 1.1 file (unprefixed elements)."""
    root = parse_xml(data, what=what)
    if root.tag != "enterprise":
        raise ValueError(f"{what}: the root is <{root.tag!s}>, not <enterprise>")
    props = root.find("properties")
    properties = {str(child.tag): (child.text or "") for child in props} if props is not None else {}
    persons: list[ParsedRecord] = []
    groups: list[ParsedRecord] = []
    members: list[ParsedMember] = []
    order: list[str] = []
    for el in root:
        order.append(str(el.tag))
        if el.tag == "person":
            fields = {name: value for name, path in (("username", "userid"), ("fn", "name/fn"),
                                                     ("family", "name/n/family"), ("given", "name/n/given"),
                                                     ("prefix", "name/n/partname"), ("email", "email"))
                      if (value := _text(el, path)) is not None}
            role = el.find("institutionrole")
            if role is not None:
                fields["institutionrole"] = role.get("institutionroletype", "")
            userid = el.find("userid")
            if userid is not None and userid.get("authenticationtype"):
                fields["auth"] = userid.get("authenticationtype", "")
            persons.append(ParsedRecord(ObjectKind.PERSON, _text(el, "sourcedid/id") or "", _recstatus(el), fields))
        elif el.tag == "group":
            fields = {name: value for name, path in (("short", "description/short"), ("long", "description/long"),
                                                     ("full", "description/full"), ("type", "grouptype/typevalue"),
                                                     ("parent", "relationship/sourcedid/id"))
                      if (value := _text(el, path)) is not None}
            units = [u.text or "" for u in el.findall("org/orgunit")]
            if units:
                fields["org"] = " / ".join(units)
            groups.append(ParsedRecord(ObjectKind.GROUP, _text(el, "sourcedid/id") or "", _recstatus(el), fields))
        elif el.tag == "membership":
            group = _text(el, "sourcedid/id") or ""
            for member in el.findall("member"):
                role = member.find("role")
                members.append(ParsedMember(
                    group, (_text(member, "sourcedid/id") or "").strip(),
                    role.get("roletype", "") if role is not None else "",
                    (_text(role, "status") or "") if role is not None else "",
                    _recstatus(role) if role is not None else None))
    return ParsedFile(properties, persons, groups, members, order)
