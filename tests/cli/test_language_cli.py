"""The command line speaks the user's language (issue 12, point 6): English by default, Dutch with
``LANG=nl_NL.UTF-8`` or ``--lang nl``; one language per screen; plurals, numbers and times through Babel;
JSON output is never translated. Commands run through the ``koppel`` console script."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from koppel.generator import generate, write_layout
from koppel.locale import LOCALE_DIR, choose, language
from koppel.model.roster import SchoolYear

ROOT = Path(__file__).resolve().parents[2]
KOPPEL = Path(sys.executable).parent / "koppel"
YEAR = SchoolYear(2025)
LOCALE_VARS = ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "KOPPEL_LANG")

# Phrases that betray the other language on a screen.
ENGLISH = ("School year", "Data quality", " errors", " warnings", "to create", "Removals", "Changes,",
           "per kind", "succeeded", "Applied:", "new in the LAS", "no runs yet", "error:", " of each ", "last source read",
           "Groups now", ", now ", "why:", "approve:", " persons,", "Safety settings", "Apply these", "no person",
           "nothing to remove", "can work with", "guardian", "staff", "student 3", ": archive;", ": keep;")
# (" van " and " of " are no marks: "of" is Dutch too, and "van" is in Dutch names.)
DUTCH = ("Schooljaar", "Datakwaliteit", "fouten", "waarschuwingen", "aanmaken", "Verwijderingen", "Wijzigingen",
         "per soort", "geslaagd", "Toegepast", "nieuw in het LAS", "fout:", "waarom:", "Groepen nu", "doel ",
         "Veiligheidsinstellingen", "toepassen", "niets te verwijderen", "kan met dit doel")
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _env(lang: str | None, tz: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARS}
    env.update({"TZ": tz, "COLUMNS": "200", "PYTHONPATH": str(ROOT / "src")})
    if lang is not None:
        env["LANG"] = lang
    return env


def koppel(cwd: Path, *args: str, lang: str | None = None, tz: str = "Europe/Amsterdam",
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KOPPEL), *args], cwd=cwd, env=_env(lang, tz), capture_output=True, text=True,
                          timeout=180, input=stdin)


def on_a_terminal(cwd: Path, *args: str, answer: str, lang: str | None = None) -> subprocess.CompletedProcess[str]:
    """``koppel ARGS`` with a terminal as stdin (so that it asks), answering ``answer``."""
    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())
        return subprocess.run([str(KOPPEL), *args], cwd=cwd, env=_env(lang, "Europe/Amsterdam"), stdin=follower,
                              capture_output=True, text=True, timeout=180)
    finally:
        os.close(leader)
        os.close(follower)


def _configured(here: Path, export: Path) -> None:
    made = koppel(here, "init", "--source", str(export), "--layout", "magister", "--target", "fake")
    assert made.returncode == 0, made.stderr
    config = here / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('school_year = "auto"', f'school_year = "{YEAR}"'),
                      encoding="utf-8")


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A school of 80 pupils, synced once (a run, a source read, history), and the leerlingnummer of one pupil;
    in its folder ``fresh`` the same school never synced (a plan of a thousand creates)."""
    here = tmp_path_factory.mktemp("language")
    bestuur = generate(students=80, schools=1, year=YEAR, seed=5)
    write_layout(bestuur, here / "export", "magister")
    _configured(here, here / "export")
    synced = koppel(here, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    (here / "fresh").mkdir()
    _configured(here / "fresh", here / "export")
    return here, bestuur.pupils[0].stamnr


def _screens(here: Path, pupil: str, *, lang: str | None, flag: tuple[str, ...] = ()) -> dict[str, str]:
    """What a systeembeheerder reads daily, as one text per command (stdout and stderr)."""
    runs = {
        "validate": koppel(here, *flag, "validate", lang=lang),
        "plan": koppel(here / "fresh", *flag, "plan", lang=lang),
        "status": koppel(here, *flag, "status", lang=lang),
        "status --run": koppel(here, *flag, "status", "--run", "1", lang=lang),
        "history": koppel(here, *flag, "history", pupil, lang=lang),
        "explain": koppel(here, *flag, "explain", pupil, lang=lang),
        "sync": koppel(here, *flag, "sync", lang=lang),
        "error": koppel(here, *flag, "history", "nobody-like-this", lang=lang),
        "unlock": koppel(here, *flag, "unlock", lang=lang),
        "check": koppel(here, *flag, "check", lang=lang),
        "confirm": on_a_terminal(here / "fresh", *flag, "apply", answer="no\n", lang=lang),
        "no terminal": koppel(here / "fresh", *flag, "apply", lang=lang, stdin="yes\n"),
    }
    for name, done in runs.items():
        assert "Traceback" not in done.stderr, (name, done.stderr)
    return {name: done.stdout + done.stderr for name, done in runs.items()}


def _mixed(screens: dict[str, str], phrases: tuple[str, ...]) -> list[tuple[str, str, str]]:
    return [(name, phrase, line) for name, text in screens.items() for line in text.splitlines()
            for phrase in phrases if phrase in line]


@pytest.mark.parametrize("how", ["LANG", "--lang"])
def test_dutch_screens_have_no_english_labels(school: tuple[Path, str], how: str) -> None:
    here, pupil = school
    if how == "LANG":
        screens = _screens(here, pupil, lang="nl_NL.UTF-8")
    else:
        screens = _screens(here, pupil, lang="en_US.UTF-8", flag=("--lang", "nl"))
    mixed = _mixed(screens, ENGLISH)
    assert mixed == [], "\n".join(map(repr, mixed))
    assert screens["validate"].startswith(f"Schooljaar {YEAR} (school_year in koppel.toml)\nDatakwaliteit: 0 fouten, ")
    assert "Plan: " in screens["plan"] and " aanmaken" in screens["plan"]
    assert "fout: geen persoon gevonden voor 'nobody-like-this'" in screens["error"]
    assert re.search(r"Deze [\d.]+ wijzigingen toepassen\? Alleen 'yes' wordt aanvaard", screens["confirm"])
    assert "Toepassen afgebroken: er is niets toegepast." in screens["confirm"]
    assert "geen terminal" in screens["no terminal"] and "Er is niets toegepast." in screens["no terminal"]
    assert "synchroniseren" in screens["status"] and "geslaagd" in screens["status"]
    assert "Geen run-slot voor tenant school" in screens["unlock"]
    assert "koppel kan met dit doel werken." in screens["check"]


@pytest.mark.parametrize("how", ["default", "LANG", "--lang"])
def test_english_screens_have_no_dutch_labels(school: tuple[Path, str], how: str) -> None:
    here, pupil = school
    if how == "default":
        screens = _screens(here, pupil, lang=None)
    elif how == "LANG":
        screens = _screens(here, pupil, lang="en_GB.UTF-8")
    else:
        screens = _screens(here, pupil, lang="nl_NL.UTF-8", flag=("--lang", "en"))
    mixed = _mixed(screens, DUTCH)
    assert mixed == [], "\n".join(map(repr, mixed))
    assert screens["validate"].startswith(f"School year {YEAR} (koppel.toml)\nData quality: 0 errors, ")
    assert "error: no person matching 'nobody-like-this'" in screens["error"]
    assert re.search(r"Apply these [\d,]+ changes\? Only 'yes' will be accepted", screens["confirm"])
    assert "Apply cancelled: nothing was applied." in screens["confirm"]
    assert "no terminal" in screens["no terminal"] and "Nothing was applied." in screens["no terminal"]


def test_numbers_plurals_and_times_follow_the_language(school: tuple[Path, str]) -> None:
    here, _pupil = school
    dutch = koppel(here / "fresh", "plan", lang="nl_NL.UTF-8").stdout
    english = koppel(here / "fresh", "plan").stdout
    creates_nl = re.search(r"Plan: ([\d.]+) aanmaken", dutch)
    creates_en = re.search(r"Plan: ([\d,]+) to create", english)
    assert creates_nl and creates_en
    n = int(creates_en.group(1).replace(",", ""))
    assert n >= 1000, "the plan is large enough to show a thousands separator"
    assert creates_nl.group(1) == f"{n:,}".replace(",", ".") and creates_en.group(1) == f"{n:,}"
    # Times: local, with the zone, never a UTC "…Z" or ISO "T".
    for lang in ("nl_NL.UTF-8", None):
        status = koppel(here, "status", lang=lang)
        assert status.returncode == 0, status.stderr
        assert not ISO_UTC.search(status.stdout), status.stdout
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T", status.stdout), status.stdout
    utc = koppel(here, "status", tz="UTC").stdout
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", utc), utc
    # Plurals by the language's rule, not "fout(en)".
    nl, en = language("nl"), language("en")
    assert nl.ngettext("{n} error", "{n} errors", 1).format(n=1) == "1 fout"
    assert nl.ngettext("{n} error", "{n} errors", 2).format(n=2) == "2 fouten"
    assert en.ngettext("{n} error", "{n} errors", 1).format(n=1) == "1 error"
    assert (nl.num(18907), en.num(18907)) == ("18.907", "18,907")


def test_json_output_is_never_translated(school: tuple[Path, str]) -> None:
    here, pupil = school
    for command in (("status", "--format", "json"), ("validate", "--format", "json"),
                    ("history", pupil, "--format", "json")):
        dutch = koppel(here, "--lang", "nl", *command)
        english = koppel(here, "--lang", "en", *command)
        assert dutch.returncode == english.returncode, (command, dutch.stderr)
        assert json.loads(dutch.stdout) == json.loads(english.stdout), command


def test_the_locale_is_chosen_with_the_usual_precedence() -> None:
    assert choose(None, {}) == "en"
    assert choose(None, {"LANG": "nl_NL.UTF-8"}) == "nl"
    assert choose(None, {"LANG": "nl_NL.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}) == "en"
    assert choose(None, {"LANG": "en_GB.UTF-8", "LC_ALL": "nl_BE.UTF-8"}) == "nl"
    assert choose(None, {"LC_ALL": "C", "LANGUAGE": "nl"}) == "en", "LANGUAGE is ignored in the C locale"
    assert choose(None, {"LANG": "en_US.UTF-8", "LANGUAGE": "nl:en"}) == "nl"
    assert choose(None, {"LANG": "nl_NL.UTF-8", "KOPPEL_LANG": "en"}) == "en"
    assert choose("nl", {"KOPPEL_LANG": "en"}) == "nl"
    assert choose(None, {"LANG": "de_DE.UTF-8"}) == "en", "a language koppel does not speak falls back to English"


def test_an_unknown_lang_is_a_usage_error(tmp_path: Path) -> None:
    done = koppel(tmp_path, "--lang", "fr", "status")
    assert done.returncode == 2 and "use en or nl" in done.stderr


# -- the catalogue ---------------------------------------------------------------------------------------


def _po() -> dict[str, Any]:
    with (LOCALE_DIR / "nl" / "LC_MESSAGES" / "koppel.po").open("rb") as fh:
        catalog = read_po(fh)
    return {_id(m.id): _text(m.string) for m in catalog if m.id}


def _id(msgid: Any) -> str:
    return msgid if isinstance(msgid, str) else next(iter(msgid))


def _text(string: Any) -> str | tuple[str, ...]:
    return string if isinstance(string, str) else tuple(string)


def test_the_compiled_catalogue_is_the_po_file() -> None:
    """The .mo shipped in the package says what the .po says (`pybabel compile` after every edit)."""
    with (LOCALE_DIR / "nl" / "LC_MESSAGES" / "koppel.mo").open("rb") as fh:
        compiled = read_mo(fh)
    mo = {_id(m.id): _text(m.string) for m in compiled if m.id}
    assert mo == _po()


def test_every_text_in_the_code_is_translated() -> None:
    """Every msgid `pybabel extract` finds with babel.cfg is in the Dutch catalogue, translated (no fuzzy, no
    empty string), and the catalogue holds no msgid the code no longer uses."""
    method_map = [("src/koppel/cli/**.py", "koppel.locale.help_extract.extract_cli"),
                  ("src/koppel/plan/render.py", "python"), ("src/koppel/takeover/render.py", "python")]
    found = {msg if isinstance(msg, str) else msg[0]
             for _file, _line, msg, _comments, _context in extract_from_dir(str(ROOT), method_map)}
    # The connectors' summaries are looked up by their own English text (`koppel connectors`), not extracted.
    from koppel.connectors import SOURCE_KINDS, TARGET_KINDS, load_source_kind, load_target_kind

    found |= {load_source_kind(k).summary for k in SOURCE_KINDS} | {load_target_kind(k).summary for k in TARGET_KINDS}
    po = _po()
    assert found, "the extraction finds the CLI's texts"
    assert sorted(found - po.keys()) == []
    assert sorted(po.keys() - found) == []
    assert [k for k, v in po.items() if not (v if isinstance(v, str) else all(v))] == []
    config = (ROOT / "babel.cfg").read_text(encoding="utf-8")
    assert all(f"[{method}: {pattern}]" in config for pattern, method in method_map)
