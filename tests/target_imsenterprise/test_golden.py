"""Golden tests against Moodle's own IMS Enterprise examples (shared/specs/ims-enterprise-1.1/).

The data of ``moodle-example.xml`` — four persons with a user name (the fifth has none: Moodle creates no account
for it), the course PHRE1001A2005/06T1/2 "Phrenology" in the category "Inconsequential studies", four learners
and one instructor — is given to koppel as a plan would, and koppel's file must (1) have the example's shape
where Moodle looks, (2) leave a Moodle exactly as the example itself does, and (3) stay byte for byte the golden
file in ``golden/`` (regenerate with ``KOPPEL_REGENERATE_GOLDEN=1`` after a deliberate change, and review it).
"""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.testing.conformance import change
from koppel.xmlsafe import parse_xml

from .moodle import MoodleSite
from .support import make_target

GOLDEN = Path(__file__).parent / "golden"
SPECS = GOLDEN  # copies of shared/specs/ims-enterprise-1.1/moodle-example*.xml (golden/README.md)
COURSE = "PHRE1001A2005/06T1/2"
# (sourcedid, userid, given, family) as in the example, without the padding Moodle trims away
PEOPLE = [("90078058", "IMGBY26", "CHLOE", "PIOTROWSKA"), ("90182274", "IMCAY21", "ALIZA", "YEBOAH"),
          ("90528553", "IMGBX76", "MIRIAM", "RAJAKUMAR"), ("DSTOW61", "CCAADAS", "DAN", "STOWELL")]


def example_changes():
    out = [change(Action.CREATE, ObjectKind.GROUP, "school:XX", {
        "type": "school", "name": "Inconsequential studies", "code": None, "parent": None, "school": "99XX00",
        "school_year": None}),
        change(Action.CREATE, ObjectKind.GROUP, COURSE, {
            "type": "course", "name": "Phrenology", "code": None, "parent": "school:XX", "school": "99XX00",
            "school_year": "2005-2006"})]
    for ident, userid, given, family in PEOPLE:
        out.append(change(Action.CREATE, ObjectKind.PERSON, ident, {
            "role": "staff" if ident == "DSTOW61" else "student", "given": given, "prefix": "", "family": family,
            "username": userid, "email": None}))
    for ident, *_ in PEOPLE:
        role = "teacher" if ident == "DSTOW61" else "student"
        out.append(change(Action.CREATE, ObjectKind.MEMBERSHIP, f"{ident}|{COURSE}|{role}",
                          {"person": ident, "group": COURSE, "role": role, "home": False}))
    return out


def published_example(tmp_path: Path) -> bytes:
    target = make_target(tmp_path, source="sits:vision", lowercase_usernames=False, properties_target="moodle")
    results = target.apply(example_changes())
    assert all(r.ok for r in results), results
    target.publish()
    return target.path_for(1).read_bytes()


def paths(root: etree._Element) -> set[str]:
    out = set()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        ancestors = [a.tag for a in el.iterancestors()][::-1][1:]
        out.add("/".join([*ancestors, el.tag]) + "".join(f"[@{a}]" for a in sorted(el.attrib)))
    return out


def test_the_file_has_the_examples_shape_where_moodle_looks(tmp_path):
    examples = [parse_xml((SPECS / name).read_bytes(), what=name)
                for name in ("moodle-example.xml", "moodle-example-grouped.xml")]
    ours = parse_xml(published_example(tmp_path), what="koppel's file")
    read_by_moodle = {
        "properties/datasource", "properties/datetime", "properties/target",
        "person/sourcedid/source", "person/sourcedid/id", "person/userid", "person/name/fn", "person/name/n/family",
        "person/name/n/given", "group/sourcedid/id", "group/description/short", "group/org/orgunit",
        "membership/sourcedid/id", "membership/member/sourcedid/id", "membership/member/role[@roletype]",
        "membership/member/role/userid", "membership/member/role/status",
    }
    example_paths = paths(examples[0]) | paths(examples[1])
    assert read_by_moodle <= example_paths, "the list names the examples' own elements"
    assert read_by_moodle <= paths(ours)
    # the one deliberate difference: IMS Enterprise 1.1 spells idtype as text; Moodle's example as an attribute
    assert "membership/member/idtype[@idtype]" in example_paths and "membership/member/idtype" in paths(ours)
    assert [el.tag for el in ours] == ["properties", *["person"] * 4, "group", "membership"]


def test_moodle_ends_up_where_the_example_leaves_it(tmp_path):
    by_example, by_koppel = MoodleSite(), MoodleSite()
    by_example.process((SPECS / "moodle-example.xml").read_bytes())
    by_koppel.process(published_example(tmp_path))

    def seen(site: MoodleSite):
        users = sorted((u.idnumber, u.username, u.firstname, u.lastname) for u in site.live_users().values())
        courses = sorted((c.idnumber, c.shortname, c.fullname, tuple(site.category_path(c)), c.visible)
                         for c in site.courses.values())
        return users, courses, sorted((k, tuple(sorted(v))) for k, v in site.enrolled().items())

    assert seen(by_koppel) == seen(by_example)
    users, courses, enrolled = seen(by_koppel)
    assert len(users) == 4 and courses == [(COURSE, COURSE, "Phrenology", ("Inconsequential studies",), True)]
    assert dict(enrolled)[("DSTOW61", COURSE)] == ("editingteacher",)


def test_the_file_is_the_golden_file(tmp_path):
    data = published_example(tmp_path)
    golden = GOLDEN / "moodle-example.koppel.xml"
    if os.environ.get("KOPPEL_REGENERATE_GOLDEN"):
        golden.write_bytes(data)
    assert data == golden.read_bytes(), "the file changed: review it and regenerate the golden file"
