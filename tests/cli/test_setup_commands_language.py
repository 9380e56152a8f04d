"""The rarer commands speak the user's language too (issue 12, point 6): generate, init, connectors, purge,
reconcile and takeover, and the bad-input errors of tests/cli/test_bad_input_cli.py (an empty, headerless or
binary export, a wrong delimiter, a missing column, a configuration with three mistakes, duplicate and unknown
references in the report) — in Dutch with ``--lang nl`` from the first word to the last, plurals and numbers
through the catalogue and Babel; English unchanged by default. Through the ``koppel`` console script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from koppel.generator import generate, write_layout

from .test_language_cli import YEAR, _configured, koppel

ENGLISH = ("Wrote ", "file(s)", "pupils", "teachers", "school year", ", layout ", "Next:", "exists", "use --force",
           "source kind", "default:", "Reconciliation", "checked", "no drift", "person(s)", "deleted before",
           "retention", "would be purged", "cannot be taken over", "configuration has", "problems", "should be",
           "is empty", "without rows", "has a header", "the header", "separated by", "binary file", "required column",
           "is missing", "also accepted", "single column", "is also on line", "left out", "no pupil", "has no docent",
           "not a school year", "unknown layout", "error:")


def _english(text: str) -> list[str]:
    return [phrase for phrase in ENGLISH if phrase in text]


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A school of 40 pupils on the fake target, synced once."""
    here = tmp_path_factory.mktemp("setup-language")
    write_layout(generate(students=40, schools=1, year=YEAR, seed=7), here / "export", "magister")
    _configured(here, here / "export")
    synced = koppel(here, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    return here


def _nl(here: Path, *args: str) -> tuple[int, str]:
    done = koppel(here, "--lang", "nl", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout + done.stderr


def test_generate_and_init_speak_dutch(tmp_path: Path) -> None:
    code, said = _nl(tmp_path, "generate", "-o", "export", "-n", "1200", "--year", str(YEAR))
    assert code == 0
    assert re.search(r"^4 bestanden geschreven in export: 1 school, 1\.\d{3} leerlingen, [\d.]+ docenten, "
                     rf"schooljaar {YEAR}, indeling magister\.$", said.strip()), said
    code, said = _nl(tmp_path, "init", "--source", "export", "--target", "fake")
    assert code == 0 and said.startswith("koppel.toml geschreven. Volgende stap: `koppel validate"), said
    assert "[tenants." in (tmp_path / "koppel.toml").read_text(encoding="utf-8"), "the file itself stays English"
    code, again = _nl(tmp_path, "init", "--source", "export", "--target", "fake")
    assert code == 1 and "fout: koppel.toml bestaat al; gebruik --force om het te overschrijven" in again
    code, bad_year = _nl(tmp_path, "generate", "-o", "x", "--year", "2025")
    assert code == 1 and "geen schooljaar" in bad_year
    code, bad_layout = _nl(tmp_path, "generate", "-o", "x", "--layout", "foo")
    assert code == 1 and "onbekende indeling 'foo'" in bad_layout
    for text in (said, again, bad_year, bad_layout):
        assert _english(text) == [], text
    english = koppel(tmp_path, "generate", "-o", "other", "-n", "50", "--year", str(YEAR)).stdout
    assert english.startswith("Wrote 4 files to other: 1 school, ") and "pupils" in english


def test_connectors_name_roles_and_defaults_in_dutch(tmp_path: Path) -> None:
    code, listed = _nl(tmp_path, "connectors", "list")
    assert code == 0 and re.search(r"^bron +csv ", listed, re.M) and re.search(r"^doel +itslearning ", listed, re.M)
    # Every connector's summary is in the catalogue (by its English text): a changed summary fails here.
    from koppel.connectors import SOURCE_KINDS, TARGET_KINDS, load_source_kind, load_target_kind
    from koppel.locale import language

    nl = language("nl")
    summaries = [load_source_kind(k).summary for k in SOURCE_KINDS] + [load_target_kind(k).summary for k in TARGET_KINDS]
    untranslated = [s for s in summaries if nl._(s) == s and "UWLR" not in s]  # UWLR's summary is names only
    assert untranslated == [], untranslated
    assert all(nl._(s) in listed for s in summaries) and "In-memory target" not in listed
    code, described = _nl(tmp_path, "connectors", "describe", "csv")
    assert code == 0 and described.startswith("soort bron csv: CSV/Excel-exports: Magister, Somtoday, koppels eigen ")
    assert "(standaard: magister)" in described
    code, unknown = _nl(tmp_path, "connectors", "describe", "nope")
    assert code != 0 and "onbekende soort connector 'nope'" in unknown and _english(unknown) == [], unknown


def test_reconcile_purge_and_takeover_speak_dutch(school: Path) -> None:
    code, drift = _nl(school, "reconcile")
    assert code == 0, drift
    assert drift.startswith("Vergelijking met het platform: volledig\n  gecontroleerd: ")
    assert re.search(r"\d+ groepen, \d+ personen, \d+ lidmaatschappen", drift)
    assert "geen afwijkingen: het platform bevat wat koppel stuurde." in drift
    code, purge = _nl(school, "purge", "--dry-run")
    assert code == 0 and re.search(r"^fake: 0 personen verwijderd vóór \d{4}-\d\d-\d\d \d\d:\d\d \S+ "
                                   r"\(bewaartermijn 365 dagen\) zouden worden gewist\.$", purge.strip()), purge
    code, takeover = _nl(school, "takeover")
    assert code == 1 and "fout: de configuratie heeft 1 probleem:" in takeover
    assert "kan niet worden overgenomen: koppel kan niet lezen wat het bevat" in takeover
    code, takeover_plan = _nl(school, "takeover", "--plan", "x.json")
    assert code == 1 and "--plan FILE hoort bij --approve" in takeover_plan
    for text in (drift, purge, takeover, takeover_plan):
        assert _english(text) == [], text
    english = koppel(school, "reconcile").stdout
    assert english.startswith("Reconciliation: complete") and "persons" in english


def _pupils(here: Path) -> Path:
    return next((here / "export").rglob("leerlingen.csv"))


def _broken(tmp_path: Path, name: str) -> Path:
    here = tmp_path / name
    here.mkdir()
    write_layout(generate(students=30, schools=1, year=YEAR, seed=3), here / "export", "magister")
    _configured(here, here / "export")
    return here


def test_the_bad_input_errors_are_dutch(tmp_path: Path) -> None:
    cases = {}
    here = _broken(tmp_path, "empty")
    _pupils(here).write_bytes(b"")
    cases["empty"] = (here, "leerlingen.csv: is leeg: een export zonder regels wordt geweigerd")
    here = _broken(tmp_path, "headers")
    path = _pupils(here)
    path.write_text(path.read_text(encoding="utf-8-sig").splitlines()[0] + "\n", encoding="utf-8")
    cases["headers"] = (here, "leerlingen.csv: heeft een kopregel maar geen regels")
    here = _broken(tmp_path, "delimiter")
    config = here / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(f'path = "{here / "export"}"',
                                                                 f'path = "{here / "export"}"\ndelimiter = ";"'),
                      encoding="utf-8")
    path = _pupils(here)
    path.write_text(path.read_text(encoding="utf-8-sig").replace(";", "\t"), encoding="utf-8")
    cases["delimiter"] = (here, "leerlingen.csv:1: de kopregel heeft geen ';' maar wel tab")
    here = _broken(tmp_path, "spaces")
    path = _pupils(here)
    path.write_text(path.read_text(encoding="utf-8-sig").replace(";", " "), encoding="utf-8")
    cases["spaces"] = (here, "de verplichte kolom 'Stamnr' ontbreekt (ook aanvaard: ")
    here = _broken(tmp_path, "binary")
    _pupils(here).write_bytes(bytes(range(256)) * 64)
    cases["binary"] = (here, "leerlingen.csv: is een binair bestand, geen CSV-tekst")
    here = _broken(tmp_path, "config")
    config = here / "koppel.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('course_strategy = "lesgroep"',
                                                                 'course_strategy = "per-vak"')
                      .replace("max_percent = 10.0", "max_percent = 250")
                      .replace('layout = "magister"', 'layout = "magistr"'), encoding="utf-8")
    cases["config"] = (here, "fout: de configuratie heeft 3 problemen:")
    for name, (here, expected) in cases.items():
        code, said = _nl(here, "sync")
        assert code != 0, (name, said)
        assert expected in said, (name, said)
        assert _english(said) == [], (name, said)
    _code, config_said = _nl(cases["config"][0], "sync")
    assert "moet 'magister', 'somtoday', 'koppel' of 'custom' zijn" in config_said
    assert "mag hoogstens 100 zijn" in config_said and len(re.findall(r"koppel\.toml:\d+", config_said)) == 3
    english = koppel(cases["config"][0], "sync", lang="en_GB.UTF-8").stderr
    assert "configuration has 3 problems" in english and "Input should be" in english


def test_the_reports_findings_are_dutch(tmp_path: Path) -> None:
    here = _broken(tmp_path, "findings")
    path = _pupils(here)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    teachers = next((here / "export").rglob("docenten.csv"))
    rows = teachers.read_text(encoding="utf-8-sig").splitlines()
    head, first = rows[0].split(";"), rows[1].split(";")
    first[head.index("Klasvakken")] = "9Z.ne"
    rows[1] = ";".join(first)
    teachers.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, report = _nl(here, "validate")
    assert code == 1
    assert re.search(rf"leerlingen\.csv:{len(lines) + 1}: Stamnr \d+ staat ook op regel 2; deze regel wordt "
                     "weggelaten", report), report
    assert "docenten.csv:2: Klasvakken '9Z.ne': geen leerling zit in klas '9Z'; weggelaten" in report
    assert _english(report) == [], report
    code, refused = _nl(here, "sync")
    assert code == 1 and "1 datafout overschrijdt de grens van 0" in refused and _english(refused) == [], refused


def test_the_demo_walks_through_in_dutch(tmp_path: Path) -> None:
    code, said = _nl(tmp_path, "demo", "--dir", str(tmp_path / "demo"), "--students", "40")
    assert code == 0, said
    for heading in ("1. De LAS-export van een school", "2. Het eerste plan: alles is nieuw", "3. Het LAS verandert",
                    "4. Het plan voor de wijzigingen", "5. Niets meer te doen", "Probeer het zelf"):
        assert f"== {heading}" in said, heading
    assert re.search(r"Toegepast: [\d.]+ aanmaken, .* bevestigd door itslearning, 0 niet, in \d+ verzoeken", said)
    english = ("A school's", "The first plan", "The LAS changes", "Nothing left", "Try it yourself", "Generated ",
               "Written as", "confirmed by", "holds", "moves from", "stops ", "joins", "Write requests", "stopped with")
    assert [phrase for phrase in english if phrase in said] == [], said


def test_users_and_tokens_in_dutch(tmp_path: Path) -> None:
    """`koppel user …` and `koppel token …` (issue 13's roles) say what they did, and what they refuse, in Dutch."""
    import subprocess

    from .test_language_cli import KOPPEL, _env

    write_layout(generate(students=10, schools=1, year=YEAR, seed=3), tmp_path / "export", "magister")
    _configured(tmp_path, tmp_path / "export")
    env = {**_env(None, "Europe/Amsterdam"), "KOPPEL_TEST_PW": "een lang wachtwoord 42"}
    everything: list[str] = []

    def nl(*args: str) -> tuple[int, str]:
        done = subprocess.run([str(KOPPEL), "--lang", "nl", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        everything.append(done.stdout + done.stderr)
        return done.returncode, done.stdout + done.stderr

    assert nl("user", "list") == (0, "Geen gebruikers. Maak er een met `koppel user add NAAM --role ROL`.\n")
    code, said = nl("user", "add", "anna", "--role", "baas", "--password-env", "KOPPEL_TEST_PW")
    assert code == 1 and "onbekende rol 'baas'" in said, said
    code, said = nl("user", "add", "anna", "--role", "approver", "--password-env", "NOT_SET_HERE")
    assert code == 1 and "omgevingsvariabele NOT_SET_HERE is niet gezet" in said, said
    code, said = nl("user", "add", "anna", "--role", "approver", "--password-env", "KOPPEL_TEST_PW")
    assert code == 0 and said.startswith("Gebruiker anna toegevoegd: approver"), said
    code, said = nl("user", "add", "anna", "--role", "approver", "--password-env", "KOPPEL_TEST_PW")
    assert code == 1 and "gebruiker 'anna' bestaat" in said, said
    code, said = nl("user", "grant", "anna", "--role", "admin")
    assert code == 0 and said.startswith("Gebruiker anna heeft nu: admin"), said
    code, said = nl("user", "remove", "anna")
    assert (code, said) == (0, "Gebruiker anna verwijderd.\n")
    code, said = nl("user", "remove", "anna")
    assert code == 1 and "geen gebruiker 'anna'" in said, said
    code, said = nl("token", "create", "monitoring", "--role", "viewer")
    assert code == 0 and "Token monitoring aangemaakt (viewer" in said and "niet nog eens getoond" in said, said
    code, said = nl("token", "revoke", "monitoring")
    assert (code, said) == (0, "Token monitoring ingetrokken.\n")
    for english in ("added", "removed", "now has", "created", "revoked", "Keep it safe", "No users", "not set",
                    "unknown role", "exists", "no user"):
        assert not any(english in said for said in everything), english
