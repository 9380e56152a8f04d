"""The shared text rules every source applies to every field, and the CLI's terminal-safe display."""

from __future__ import annotations

import pytest

from koppel.textsafe import FIELD_LIMITS, field_problem, has_mojibake, printable


@pytest.mark.parametrize("value, word", [
    ("Jan\x00", "NUL"),
    ("Jan\x1b[2J", "control character"),
    ("Jan\u202eeoJ", "bidirectional"),
    ("Jan\u2066", "bidirectional"),
    ("Jan\x85", "control character"),
])
def test_control_nul_and_bidi_characters_are_refused(value, word):
    problem = field_problem(value)
    assert problem is not None and word in problem


def test_lengths_are_bounded_per_kind_and_ordinary_names_pass():
    assert field_problem("Noëlle van 't Hoff-Ağaoğlu") is None
    assert field_problem("x" * FIELD_LIMITS["name"]) is None
    assert "more than the 200" in (field_problem("x" * 201) or "")
    assert field_problem("x" * 300, "id") is not None and field_problem("x" * 250, "id") is None


def test_mojibake_is_recognised_and_real_accents_are_not():
    assert has_mojibake("NoÃ«lle") and has_mojibake("RenÃ©e") and has_mojibake("Oâ€™Brien")
    assert not has_mojibake("Noëlle") and not has_mojibake("Renée") and not has_mojibake("Ãlvaro")


def test_printable_never_passes_terminal_escapes():
    shown = printable("\x1b]0;owned\x07Jan\u202e")
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert shown == "\\x1b]0;owned\\x07Jan\\u202e"
    assert printable("Noëlle") == "Noëlle"
