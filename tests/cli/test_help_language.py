"""``--help`` speaks the user's language (issue 12, point 6): with ``--lang nl`` or a Dutch locale every command's
help page — its description, its options' help, the sub-commands' summaries and the page's frame (Usage,
Options, [default: …]) — is Dutch; no line of English help text appears unchanged, only option names, metavars,
defaults and examples. English stays the default. Through the ``koppel`` console script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from koppel.cli.main import app

from .test_language_cli import koppel

BOX = re.compile(r"[│╭╮╰╯─]+")
# What help pages share between languages: options, metavars, defaults and examples, not prose.
NOT_PROSE = re.compile(r"^(-|<|\[|\{|\*|`)|[._=/:'\"()0-9]|^[A-Z_]+[.,;]?$")


def _paths() -> list[tuple[str, ...]]:
    """Every command and group, as the words that call it (`connectors describe` …)."""
    found: list[tuple[str, ...]] = [()]

    def walk(group: object, prefix: tuple[str, ...]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            if getattr(command, "hidden", False):
                continue
            found.append((*prefix, name))
            walk(command, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return found


def _prose(text: str) -> set[str]:
    """The help page's lines with their option names, metavars and examples taken out: what is left is prose."""
    lines = set()
    for raw in text.splitlines():
        if raw.strip().startswith(("Usage:", "Gebruik:")):
            continue  # the usage line is names and metavars; its label is checked apart
        words = [w for w in BOX.sub(" ", raw).split() if not NOT_PROSE.search(w)]
        if sum(1 for w in words if re.fullmatch(r"[^\W\d_]{3,}[.,;:]?", w)) >= 2:
            lines.add(" ".join(words))
    return lines


def _help(tmp: Path, path: tuple[str, ...], *, lang: str | None = None, flag: tuple[str, ...] = ()) -> str:
    done = koppel(tmp, *flag, *path, "--help", lang=lang)
    assert done.returncode == 0 and "Traceback" not in done.stderr, (path, done.stderr)
    return done.stdout


@pytest.mark.parametrize("path", _paths(), ids=lambda p: " ".join(p) or "koppel")
def test_every_help_page_is_dutch_with_lang_nl(tmp_path: Path, path: tuple[str, ...]) -> None:
    english = _help(tmp_path, path, lang="en_GB.UTF-8")
    dutch = _help(tmp_path, path, lang="en_GB.UTF-8", flag=("--lang", "nl"))
    assert "Usage:" in english and "Options" in english
    assert "Gebruik:" in dutch and "Opties" in dutch and "Usage:" not in dutch
    assert _prose(english), "the English page has prose to compare"
    unchanged = sorted(_prose(english) & _prose(dutch))
    assert unchanged == [], "\n".join(unchanged)


def test_a_dutch_locale_gives_dutch_help_and_english_stays_the_default(tmp_path: Path) -> None:
    dutch = _help(tmp_path, ("plan",), lang="nl_NL.UTF-8")
    assert "Toon wat er in het doel zou veranderen" in dutch and "Toon deze hulp en stop." in dutch
    assert "[standaard: text]" in dutch and "[omgevingsvariabele: KOPPEL_CONFIG]" in dutch
    english = _help(tmp_path, ("plan",))
    assert "Show what would change in the target" in english and "Show this message and exit." in english
    assert "[default: text]" in english and "Toon" not in english
    # --lang counts wherever it stands among koppel's own options, also after --help.
    assert "Opdrachten" in _help(tmp_path, (), flag=("--help", "--lang", "nl"))
    assert "Opdrachten" in _help(tmp_path, (), flag=("--lang=nl",))
    assert "Commands" in _help(tmp_path, (), lang="nl_NL.UTF-8", flag=("--lang", "en"))


def test_usage_errors_are_said_in_the_chosen_language(tmp_path: Path) -> None:
    """click's own errors — an unknown option or command, a missing argument, a value of the wrong type — with
    the panel's title and the hint to -h, in Dutch; exit code 2 as in English."""
    cases = {
        ("plan", "--bogus"): "Onbekende optie: --bogus",
        ("plann",): "Onbekende opdracht 'plann'. Bedoelt u 'plan'",
        ("history",): "Het argument 'person' ontbreekt.",
        ("validate", "--limit", "x"): "Ongeldige waarde voor '--limit': geen geheel getal.",
        ("plan", "-f", "xml"): "'xml' is niet een van 'text', 'json'.",
        ("status", "extra"): "Onverwachte extra argumenten (extra)",
    }
    for args, expected in cases.items():
        dutch = koppel(tmp_path, "--lang", "nl", *args)
        assert dutch.returncode == 2, (args, dutch.stderr)
        assert expected in dutch.stderr and "Fout" in dutch.stderr and "voor hulp." in dutch.stderr, dutch.stderr
        for english in ("Error", "Try ", "No such", "Missing", "Invalid value", "unexpected", "is not one of"):
            assert english not in dutch.stderr, (args, english, dutch.stderr)
    english = koppel(tmp_path, "plan", "--bogus", lang="en_GB.UTF-8")
    assert english.returncode == 2 and "No such option: --bogus" in english.stderr and "Error" in english.stderr
    assert "Try 'koppel plan -h' for help." in english.stderr
