"""The errors a systeembeheerder meets day to day, in the user's language: a Dutch screen reads Dutch from the
``fout:`` label to the last word of the message (school-year mismatch, missing export, data-error limit,
stale and held plans, a busy lock); English stays exactly the core's message."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from koppel.cli.error_text import describe
from koppel.errors import LockHeld, PlanHeldError, StalePlanError, ValidationFailed
from koppel.generator import generate, write_layout
from koppel.locale import language
from koppel.model.roster import SchoolYear
from koppel.pipeline import SchoolYearMismatch
from koppel.sources.csv.files import ExportNotFound

from .test_language_cli import YEAR, _configured, koppel

ENGLISH_WORDS = ("the export", "describes", "koppel works on", "Likely cause", "not found", "Nothing was",
                 "stale", "held by", "is busy", "data errors", "exceed")


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("errors")
    bestuur = generate(students=20, schools=1, year=YEAR, seed=3)
    write_layout(bestuur, here / "export", "magister")
    _configured(here, here / "export")
    return here


def _english_in(text: str) -> list[str]:
    return [w for w in ENGLISH_WORDS if w in text]


def test_a_stale_export_is_said_in_dutch(school: Path) -> None:
    next_year = SchoolYear(YEAR.start_year + 1)
    done = koppel(school, "--lang", "nl", "plan", "--year", str(next_year))
    assert done.returncode == 1, done.stderr
    assert f"beschrijft schooljaar {YEAR}, maar koppel werkt met {next_year}" in done.stderr
    assert f"--year {YEAR}" in done.stderr and "Er is niets vastgelegd en niets gepland." in done.stderr
    assert _english_in(done.stderr) == [], done.stderr
    english = koppel(school, "plan", "--year", str(next_year), lang="en_US.UTF-8")
    assert f"describes school year {YEAR}, but koppel works on {next_year}" in english.stderr


def test_a_missing_export_is_said_in_dutch_with_its_path_and_config_line(school: Path, tmp_path: Path) -> None:
    config = (school / "koppel.toml").read_text(encoding="utf-8")
    here = tmp_path / "elsewhere"
    here.mkdir()
    (here / "koppel.toml").write_text(config.replace(str(school / "export"), str(tmp_path / "exprt")),
                                      encoding="utf-8")
    done = koppel(here, "validate", lang="nl_NL.UTF-8")
    assert done.returncode != 0
    assert f"export niet gevonden: {tmp_path / 'exprt'}" in done.stderr, done.stderr
    assert "koppel.toml:" in done.stderr
    assert _english_in(done.stderr) == [], done.stderr


def test_the_core_errors_in_dutch_with_plurals_and_numbers() -> None:
    nl, en = language("nl"), language("en")
    held = PlanHeldError("plan p1 is held by a guard (1 hold); …", plan_id="p1", holds=1)
    assert "1 reden)" in describe(held, nl) and "koppel apply --approve p1" in describe(held, nl)
    assert "2 redenen)" in describe(PlanHeldError("…", plan_id="p1", holds=2), nl)
    assert describe(held, en) == str(held)
    limit = ValidationFailed(1234, 50)
    assert describe(limit, nl).startswith("1.234 datafouten overschrijden de grens van 50")
    assert describe(limit, en) == str(limit)
    stale = StalePlanError("plan p2 is stale …", plan_id="p2", made_at=4, now_at=7)
    assert "plan p2 is verouderd" in describe(stale, nl) and "toestandsnummer 4" in describe(stale, nl)
    lock = LockHeld("another run …", tenant="school", target="itslearning", purpose="apply", host="vm", pid=9042,
                    since="2026-12-05T18:42:00+00:00")
    said = describe(lock, nl.in_zone(ZoneInfo("Europe/Amsterdam")))
    assert "bezig" in said and "sinds" in said and "19:42" in said
    mismatch = SchoolYearMismatch("las", "leerlingen.csv", SchoolYear(2025), SchoolYear(2026))
    assert "bron las: de export (leerlingen.csv) beschrijft schooljaar 2025-2026" in describe(mismatch, nl)
    missing = ExportNotFound(Path("/nowhere/exprt"))
    assert describe(missing, nl) == "export niet gevonden: /nowhere/exprt"
    for exc in (held, limit, stale, lock, mismatch, missing):
        assert _english_in(describe(exc, nl)) == [], describe(exc, nl)
