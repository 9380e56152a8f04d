"""The message catalogue: both languages for every key, and every key the templates use exists."""

from __future__ import annotations

import re
from importlib import resources

from koppel.service.i18n import CATALOGUE, Translator


def test_every_key_has_dutch_and_english():
    for key, (nl, en) in CATALOGUE.items():
        assert nl and en, key
        assert set(re.findall(r"\{(\w+)\}", nl)) == set(re.findall(r"\{(\w+)\}", en)), key


def test_every_key_used_in_a_template_exists():
    folder = resources.files("koppel.service") / "templates"
    used = set()
    for template in folder.iterdir():
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", template.read_text(encoding="utf-8")))
    assert used and not used - set(CATALOGUE), used - set(CATALOGUE)


def test_words_from_the_store_translate_and_unknown_words_pass_through():
    nl, en = Translator("nl"), Translator("en")
    assert nl.word("status", "held") == "tegengehouden" and en.word("status", "held") == "held"
    assert nl.word("action", "suspend") == "opschorten"
    assert nl.word("status", "something-new") == "something-new"
