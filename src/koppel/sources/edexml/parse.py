"""Read an EDEXML element tree into :mod:`.model` values: leniently, by local name, in any order.

The same reader serves the ``EDEX`` file (no namespace) and the UWLR answer (every element in
``http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens``), so elements are matched by their
local name. It is lenient where real LAS output is known to stray from the schema
(shared/reference/las-sources.md §1.7): element order is not checked (Magister demo data has
``roepnaam`` before ``achternaam``), a list with one child is the same as a list, unknown elements
are skipped, and the ``schooljaar`` is *not* checked against the schema's enumeration — the public
``EDEXML.types.variabel.xsd`` stops at 2024-2025, and 2025-2026 is real.

What is missing is not invented: an element without its required ``@key`` is left out and
reported as a :class:`~.model.ReadProblem`; every other judgement (years, BRIN, references) is the
mapping's.

What is there is not trusted either: every value koppel reads (keys, names, codes, e-mail) is checked
with :func:`koppel.textsafe.field_problem` — its length bounded, NUL, control and bidi characters
refused. An element with such a value is left out and reported (``field-too-long`` or
``bad-character``, the codes every source uses) with its line, as an element without its key is; a bad
value in the ``school`` block makes the document unusable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TypeVar

from lxml import etree

from koppel.sources.edexml.model import (
    EdexDocument,
    Groep,
    GroepKoppeling,
    GroepRef,
    Leerkracht,
    Leerling,
    ReadProblem,
    SchoolBlok,
    Vestiging,
)
from koppel.textsafe import FIELD_LIMITS, FieldKind, field_problem

__all__ = ["EdexmlStructureError", "local_name", "read_document"]

_T = TypeVar("_T")

FIELD_KINDS: dict[str, FieldKind] = {
    "key": "id",
    "eckid": "id",
    "achternaam": "name",
    "voorvoegsel": "name",
    "voornamen": "name",
    "voorletters-1": "name",
    "roepnaam": "name",
    "naam": "name",
    "gebruikersnaam": "id",
    "emailadres": "email",
    "jaargroep": "code",
    "instroomdatum": "code",
    "uitstroomdatum": "code",
    "rol": "code",
    "vestiging": "id",
}
"""How each value koppel reads is bounded (:data:`koppel.textsafe.FIELD_LIMITS`); the ``school`` block's
values are codes."""


class EdexmlStructureError(ValueError):
    """The element is not EDEXML leerlinggegevens at all (no ``school`` block, wrong root)."""


@lru_cache(maxsize=512)
def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def local_name(element: etree._Element) -> str:
    """``{ns}leerling`` → ``leerling``; comments and processing instructions → ``""``."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return _local(tag)  # a document has a few dozen distinct tags, repeated thousands of times


def _children(element: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    for child in element.iterchildren(tag=etree.Element):  # elements only: no comments, no PIs
        yield _local(child.tag), child  # type: ignore[arg-type]  # an element's tag is a str


def _text(element: etree._Element) -> str | None:
    text = element.text
    if text is None:
        return None
    text = text.strip()
    return text or None


def _key(element: etree._Element, attribute: str = "key") -> str | None:
    value = element.get(attribute)
    if value is None:
        return None
    value = value.strip()
    return value or None


def problem_code(value: str, kind: FieldKind) -> str:
    """The diagnostic code of a value :func:`field_problem` refuses (the same in every source)."""
    return "field-too-long" if len(value) > FIELD_LIMITS[kind] else "bad-character"


def _first_bad(values: Iterable[tuple[str, str | None]]) -> tuple[str, str, str] | None:
    """The first (name, why, code) among the (name, value) pairs whose value :func:`field_problem` refuses."""
    for name, value in values:
        if value is None:
            continue
        kind = FIELD_KINDS.get(name, "code")
        if value.isprintable() and len(value) <= FIELD_LIMITS[kind]:
            continue  # the common case, quickly: isprintable() is False for every character refused
        problem = field_problem(value, kind)
        if problem is not None:
            return name, problem, problem_code(value, kind)
    return None


def _bad_text(
    problems: list[ReadProblem],
    element: etree._Element,
    what: str,
    bad: tuple[str, str, str],
    ref: str | None,
) -> None:
    name, why, code = bad
    problems.append(ReadProblem(code, f"{what}: {name} {why}; left out", element.sourceline, ref, name))


def _checked_key(
    element: etree._Element, wanted: str, problems: list[ReadProblem], *, reference: bool = False
) -> str | None:
    """The element's ``@key``, or None (reported) when it has none or one koppel cannot accept."""
    key = _key(element)
    what = f"<{wanted}> reference" if reference else f"<{wanted}>"
    if key is None:
        said = "without a key" if reference else "without its required key"
        problems.append(ReadProblem("missing-value", f"{what} {said}; left out", element.sourceline))
        return None
    problem = field_problem(key, "id")
    if problem is not None:
        problems.append(
            ReadProblem(
                problem_code(key, "id"),
                f"{what} whose key {problem}; left out",
                element.sourceline,
                None,
                "key",
            )
        )
        return None
    return key


def read_document(root: etree._Element) -> EdexDocument:
    """The content of ``root``: an ``EDEX`` element or a UWLR ``leerlinggegevens`` element."""
    problems: list[ReadProblem] = []
    school: SchoolBlok | None = None
    vestigingen: list[Vestiging] = []
    groepen: list[Groep] = []
    leerlingen: list[Leerling] = []
    leerkrachten: list[Leerkracht] = []
    for name, section in _children(root):
        if name == "school":
            school = _school(section)
        elif name == "vestigingen":
            vestigingen.extend(_keyed(section, "vestiging", _vestiging, problems))
        elif name == "groepen":
            groepen.extend(_groepen(section, problems))
        elif name == "leerlingen":
            leerlingen.extend(_keyed(section, "leerling", _leerling, problems))
        elif name == "leerkrachten":
            leerkrachten.extend(_keyed(section, "leerkracht", _leerkracht, problems))
    if school is None:
        raise EdexmlStructureError(
            f"<{local_name(root)}> has no <school> block, so it is not EDEXML leerlinggegevens"
        )
    return EdexDocument(
        school, tuple(vestigingen), tuple(groepen), tuple(leerlingen), tuple(leerkrachten), tuple(problems)
    )


def _keyed(
    section: etree._Element,
    wanted: str,
    read: Callable[[etree._Element, str, list[ReadProblem]], _T | None],
    problems: list[ReadProblem],
) -> Iterator[_T]:
    """Each ``wanted`` child of ``section`` read by ``read(element, key, problems)``; one without a key, or
    with a value koppel cannot accept, is reported and left out."""
    for name, element in _children(section):
        if name != wanted:
            continue
        key = _checked_key(element, wanted, problems)
        if key is None:
            continue
        item = read(element, key, problems)
        if item is not None:
            yield item


def _school(element: etree._Element) -> SchoolBlok:
    fields = {name: _text(child) for name, child in _children(element)}
    bad = _first_bad((name, fields.get(name)) for name in _SCHOOL_FIELDS)
    if bad is not None:
        raise EdexmlStructureError(f"the <school> block's {bad[0]} {bad[1]}")
    return SchoolBlok(
        schooljaar=fields.get("schooljaar"),
        peildatum=fields.get("peildatum"),
        brincode=fields.get("brincode"),
        dependancecode=fields.get("dependancecode"),
        schoolkey=fields.get("schoolkey"),
        instellingsnummer=fields.get("instellingsnummer"),
        aanmaakdatum=fields.get("aanmaakdatum"),
        xsdversie=fields.get("xsdversie"),
        line=element.sourceline,
    )


_SCHOOL_FIELDS = (
    "schooljaar",
    "peildatum",
    "brincode",
    "dependancecode",
    "schoolkey",
    "instellingsnummer",
    "aanmaakdatum",
    "xsdversie",
)


def _vestiging(element: etree._Element, key: str, problems: list[ReadProblem]) -> Vestiging | None:
    naam = next((_text(child) for name, child in _children(element) if name == "naam"), None)
    bad = _first_bad([("naam", naam)])
    if bad is not None:
        _bad_text(problems, element, f"vestiging {key!r}", bad, f"vestigingen/vestiging[@key='{key}']")
        return None
    return Vestiging(key, naam, element.sourceline)


def _groepen(section: etree._Element, problems: list[ReadProblem]) -> Iterator[Groep]:
    for name, element in _children(section):
        if name not in ("groep", "samengestelde_groep"):
            continue
        key = _checked_key(element, name, problems)
        if key is None:
            continue
        fields = {child_name: _text(child) for child_name, child in _children(element)}
        bad = _first_bad((name, fields.get(name)) for name in ("naam", "jaargroep"))
        if bad is not None:
            _bad_text(problems, element, f"{name} {key!r}", bad, f"groepen/{name}[@key='{key}']")
            continue
        yield Groep(
            key,
            fields.get("naam"),
            fields.get("jaargroep"),
            name == "samengestelde_groep",
            element.sourceline,
        )


def _ref(element: etree._Element, problems: list[ReadProblem]) -> GroepRef | None:
    key = _checked_key(element, local_name(element), problems, reference=True)
    return None if key is None else GroepRef(key, element.sourceline)


_PERSON_FIELDS = (
    "achternaam",
    "voorvoegsel",
    "voornamen",
    "voorletters-1",
    "roepnaam",
    "gebruikersnaam",
    "emailadres",
)
_LEERLING_FIELDS = (*_PERSON_FIELDS, "jaargroep", "instroomdatum", "uitstroomdatum")


def _leerling(element: etree._Element, key: str, problems: list[ReadProblem]) -> Leerling | None:
    fields: dict[str, str | None] = {}
    groep: GroepRef | None = None
    samengesteld: list[GroepRef] = []
    vestiging: str | None = None
    for name, child in _children(element):
        if name == "groep":
            groep = _ref(child, problems)
        elif name == "samengestelde_groepen":
            refs = (
                _ref(ref, problems) for ref_name, ref in _children(child) if ref_name == "samengestelde_groep"
            )
            samengesteld.extend(ref for ref in refs if ref is not None)
        elif name == "vestiging":
            vestiging = _key(child)
        else:
            fields[name] = _text(child)
    eckid = _key(element, "eckid")
    bad = _first_bad(
        [("eckid", eckid), ("vestiging", vestiging), *((name, fields.get(name)) for name in _LEERLING_FIELDS)]
    )
    if bad is not None:
        _bad_text(problems, element, f"leerling {key!r}", bad, f"leerlingen/leerling[@key='{key}']")
        return None
    return Leerling(
        key=key,
        eckid=eckid,
        achternaam=fields.get("achternaam"),
        voorvoegsel=fields.get("voorvoegsel"),
        voornamen=fields.get("voornamen"),
        voorletters=fields.get("voorletters-1"),
        roepnaam=fields.get("roepnaam"),
        jaargroep=fields.get("jaargroep"),
        groep=groep,
        samengestelde_groepen=tuple(samengesteld),
        vestiging=vestiging,
        gebruikersnaam=fields.get("gebruikersnaam"),
        emailadres=fields.get("emailadres"),
        instroomdatum=fields.get("instroomdatum"),
        uitstroomdatum=fields.get("uitstroomdatum"),
        line=element.sourceline,
    )


def _leerkracht(element: etree._Element, key: str, problems: list[ReadProblem]) -> Leerkracht | None:
    fields: dict[str, str | None] = {}
    rollen: list[str] = []
    groepen: list[GroepKoppeling] = []
    for name, child in _children(element):
        if name == "rol":
            rol = _text(child)
            if rol:
                rollen.append(rol)
        elif name == "groepen":
            groepen.extend(_koppelingen(child, problems))
        else:
            fields[name] = _text(child)
    eckid = _key(element, "eckid")
    bad = _first_bad(
        [
            ("eckid", eckid),
            *((name, fields.get(name)) for name in _PERSON_FIELDS),
            *(("rol", rol) for rol in rollen),
        ]
    )
    if bad is not None:
        _bad_text(problems, element, f"leerkracht {key!r}", bad, f"leerkrachten/leerkracht[@key='{key}']")
        return None
    return Leerkracht(
        key=key,
        eckid=eckid,
        achternaam=fields.get("achternaam"),
        voorvoegsel=fields.get("voorvoegsel"),
        voornamen=fields.get("voornamen"),
        voorletters=fields.get("voorletters-1"),
        roepnaam=fields.get("roepnaam"),
        gebruikersnaam=fields.get("gebruikersnaam"),
        emailadres=fields.get("emailadres"),
        rollen=tuple(rollen),
        groepen=tuple(groepen),
        line=element.sourceline,
    )


def _koppelingen(section: etree._Element, problems: list[ReadProblem]) -> Iterator[GroepKoppeling]:
    for name, element in _children(section):
        if name not in ("groep", "samengestelde_groep"):
            continue
        ref = _ref(element, problems)
        if ref is None:
            continue
        key = ref.key
        rollen = tuple(
            rol for rol_name, child in _children(element) if rol_name == "rol" and (rol := _text(child))
        )
        bad = _first_bad(("rol", rol) for rol in rollen)
        if bad is not None:
            _bad_text(problems, element, f"the link to {name} {key!r}", bad, None)
            continue
        yield GroepKoppeling(key, name == "samengestelde_groep", rollen, element.sourceline)
