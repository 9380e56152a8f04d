"""EDEXML files for the tests: the official samples, small hand-written files, and whole generated schools.

Generated schools are written as EDEX files from the UWLR sandbox's own EDEXML writer (its answer
without the SOAP envelope and namespace is exactly an EDEX file), so the file source is checked
against a writer it shares no code with.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from koppel.connectors import ConnectorContext
from koppel.model.roster import Roster, SchoolYear
from koppel.sandbox.uwlr.data import LasData
from koppel.sandbox.uwlr.wire import answer_envelope
from koppel.sources.edexml import EdexmlSettings, EdexmlSource

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "specs" / "uwlr" / "edexml-2.1" / "samples"
SAMPLE = SAMPLES / "EDEXML.Voorbeeld.2.1.xml"
FLEMISH = SAMPLES / "EDEXML.Voorbeeld.2.1-Vla.xml"
TODAY = dt.date(2025, 10, 1)
YEAR = SchoolYear(2025)


def make_source(
    path: Path | str, *, requested: SchoolYear | None = None, name: str = "po", **settings: Any
) -> EdexmlSource:
    ctx = ConnectorContext(tenant="test", base_dir=Path.cwd(), env={}, school_year=requested)
    return EdexmlSource(name, EdexmlSettings(path=str(path), **settings), ctx, today=lambda: TODAY)


def read(path: Path | str, **kwargs: Any) -> Roster:
    return make_source(path, **kwargs).read()


def edex(
    *,
    brincode: str = "99ZZ",
    dependance: str | None = "00",
    schooljaar: str = "2025-2026",
    extra_school: str = "",
    groepen: str = '<groep key="g1"><naam>1A</naam><jaargroep>11</jaargroep></groep>',
    leerlingen: str = '<leerling key="1"><achternaam>Jansen</achternaam><roepnaam>Sem</roepnaam>'
    '<groep key="g1"/></leerling>',
    leerkrachten: str = "",
    vestigingen: str = "",
) -> str:
    """An EDEX file's text; pass parts to change them (an empty ``leerlingen`` leaves the element out)."""
    dependancecode = f"<dependancecode>{dependance}</dependancecode>" if dependance else ""
    brin = f"<brincode>{brincode}</brincode>{dependancecode}" if brincode else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<EDEX>\n'
        f"<school><schooljaar>{schooljaar}</schooljaar>{brin}{extra_school}</school>\n"
        + (f"<vestigingen>{vestigingen}</vestigingen>\n" if vestigingen else "")
        + (f"<groepen>{groepen}</groepen>\n" if groepen else "")
        + (f"<leerlingen>\n{leerlingen}\n</leerlingen>\n" if leerlingen else "")
        + (f"<leerkrachten>{leerkrachten}</leerkrachten>\n" if leerkrachten else "")
        + "</EDEX>\n"
    )


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def write_generated(folder: Path, *, students: int = 120, schools: int = 2, seed: int = 3) -> list[str]:
    """One EDEX file per generated school; returns the BRIN6 codes."""
    data = LasData(students=students, schools=schools, seed=seed, current=YEAR).year(YEAR)
    folder.mkdir(parents=True, exist_ok=True)
    for brin6, school in sorted(data.schools.items()):
        envelope = etree.fromstring(
            answer_envelope(school, schooljaar=str(YEAR), xsdversie="2.1", now=dt.datetime(2025, 10, 1, 2, 0))
        )
        content = next(envelope.iter("{*}leerlinggegevens"))
        for element in content.iter():
            element.tag = etree.QName(element).localname
        content.tag = "EDEX"
        etree.cleanup_namespaces(content)
        (folder / f"EDEX-{brin6}.xml").write_bytes(
            etree.tostring(content, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )
    return sorted(data.schools)


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Path, list[str]]:
    folder = tmp_path / "export"
    return folder, write_generated(folder)
