"""The message catalogue: both languages for every key, and every key the templates use exists."""

from __future__ import annotations

import re
from importlib import resources

from koppel.service.i18n import CATALOGUE, CHECKS_NL, PLURALS, Translator


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


def test_plurals_numbers_and_times_come_from_babel():
    nl, en = Translator("nl", "Europe/Amsterdam"), Translator("en", "Europe/Amsterdam")
    assert nl.num(18907) == "18.907" and en.num(18907) == "18,907"
    assert nl.plural("n.errors", 1) == "1 fout" and nl.plural("n.errors", 2) == "2 fouten"
    assert nl.plural("n.group", 885) == "885 groepen" and en.plural("n.group", 1) == "1 group"
    assert nl.plural("n.membership", 18907) == "18.907 lidmaatschappen"
    assert nl.when("2026-12-05T13:02:00Z") == "5 dec 2026 14:02 CET"
    assert en.when("2026-07-05T13:02:00+00:00") == "5 Jul 2026 15:02 CEST"


def test_every_plural_key_a_template_uses_exists_with_one_and_other():
    folder = resources.files("koppel.service") / "templates"
    used = set()
    for template in folder.iterdir():
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bplural\(\s*["']([a-z_.]+)["']\s*,""", text))
    assert used and not used - set(PLURALS), used - set(PLURALS)
    for key, (nl, en) in PLURALS.items():
        assert {"one", "other"} <= set(nl) and {"one", "other"} <= set(en), key


def test_the_cores_reasons_and_holds_read_in_dutch():
    nl = Translator("nl")
    assert nl.say("new in the LAS") == "nieuw in het LAS"
    assert nl.say("absent from the LAS since 2026-12-05; delete after 2027-01-04 (30 days' grace)") == (
        "afwezig in het LAS sinds 5 dec 2026; verwijderen na 4 jan 2027 (30 dagen uitsteltermijn)")
    assert nl.say("1200 of 2400 persons (50.0%) in school 01AB00 would be suspended, archived or deleted; "
                  "the limit is 10% or 500 objects") == (
        "1.200 van 2.400 personen (50%) in school 01AB00 zouden worden opgeschort, gearchiveerd of verwijderd; "
        "de grens is 10% of 500 objecten")
    assert nl.say("partial") == "deels geslaagd"
    assert nl.say("something koppel never said") == "something koppel never said"
    assert Translator("en").say("new in the LAS") == "new in the LAS"


def test_every_data_quality_check_has_its_dutch_meaning():
    from koppel.validation.checks import CHECKS

    assert set(CHECKS) <= set(CHECKS_NL), set(CHECKS) - set(CHECKS_NL)


def test_a_text_with_backticks_is_rendered_as_code_wherever_a_template_shows_it():
    """`koppel user add NAME` shows as code, never with literal backticks (issue 12, item 10)."""
    with_backticks = [k for k, (nl, en) in CATALOGUE.items() if "`" in nl or "`" in en]
    assert with_backticks
    folder = resources.files("koppel.service") / "templates"
    bare = []
    for template in folder.iterdir():
        text = template.read_text(encoding="utf-8")
        for key in with_backticks:
            for use in re.finditer(r't\(\s*["\']' + re.escape(key) + r'["\'][^}]*\}\}', text):
                if "|code" not in use.group(0):
                    bare.append((template.name, use.group(0)))
    assert not bare, bare


def test_code_spans_escape_and_mark_up():
    from koppel.service.web import code_spans

    assert str(code_spans("run `koppel sync` <now>")) == "run <code>koppel sync</code> &lt;now&gt;"
    assert str(code_spans("a ` alone")) == "a ` alone"


def test_a_busy_target_reads_in_dutch_with_its_time_in_the_zone():
    nl = Translator("nl", "Europe/Amsterdam")
    said = nl.say("another run for tenant 'bestuur', target 'fake' is busy (apply by pid 9042 on vm since "
                  "2026-12-05T19:42:00Z): its last heartbeat was 12 s ago, within its lease of 2 min, and process "
                  "9042 still runs on this host. `koppel unlock` shows the lock and removes it once stale.")
    assert said.startswith("een andere synchronisatie van bestuur → fake is bezig (apply, proces 9042 op vm, "
                           "sinds 5 dec 2026 20:42 CET): het laatste teken van leven was 12 s geleden")
    assert "`koppel unlock` toont de vergrendeling" in said
