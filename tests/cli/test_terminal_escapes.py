"""LAS text is never a terminal control in the command line's output (issue 10): a pupil named "Jan\\x1b[2J"
(clear the screen) or with a right-to-left override (U+202E) is shown with those characters escaped, in
plan, history, status and validate, as text and as JSON. The sources refuse such names at read time; the
command line defends itself too, so these tests put the names in the state, where no source check runs,
and in an export, whichever way the source then treats them. Through `python -m koppel`, real bytes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.state.school import koppel, make_school, person_key_of, pupils, set_field, write_pupils

HOSTILE = "Jan\x1b[2J\x1b]0;pwned\x07\u202eevil\u0085"
RAW = ("\x1b", "\x07", "\u202e", "\u0085")


def clean(result) -> str:
    output = result.stdout + result.stderr
    for char in RAW:
        assert char not in output, f"{char!r} printed raw:\n{output!r}"
    assert "Traceback" not in output, output
    return output


@pytest.fixture(scope="module")
def hostile_state(tmp_path_factory) -> tuple[Path, str]:
    """A synced school whose state holds a pupil named HOSTILE, with a failed journal entry saying so."""
    root = make_school(tmp_path_factory.mktemp("escapes") / "school")
    assert koppel(root, "sync").returncode == 0
    stamnr = pupils(root)[2][0][0]
    key = person_key_of(root / "koppel-state.db", stamnr)
    con = sqlite3.connect(root / "koppel-state.db")
    with con:
        con.execute("UPDATE objects SET label = ? WHERE key = ?", (HOSTILE, key))
        con.execute("UPDATE journal SET label = ?, reason = ?, outcome = 'failed', message = ? WHERE key = ?",
                    (HOSTILE, f"new in the LAS: {HOSTILE}", f"the platform says {HOSTILE}", key))
    con.close()
    return root, stamnr


def test_history_and_status(hostile_state):
    root, stamnr = hostile_state
    text = clean(koppel(root, "history", stamnr))
    assert "Jan\\x1b[2J" in text and "\\u202eevil" in text, "shown escaped, not dropped"
    as_json = koppel(root, "history", stamnr, "--format", "json")
    clean(as_json)
    data = json.loads(as_json.stdout)
    assert data["person"]["label"] == HOSTILE, "JSON keeps the value: escaped, the same to a parser"
    text = clean(koppel(root, "status", "--run", "1"))
    assert "the platform says Jan\\x1b[2J" in text
    clean(koppel(root, "status", "--run", "1", "--format", "json"))
    clean(koppel(root, "status"))


def test_plan_text_and_json(hostile_state):
    root, stamnr = hostile_state
    path, header, rows = pupils(root)
    write_pupils(path, header, [r for r in rows if r[0] != stamnr])  # the hostile pupil leaves: a suspension
    try:
        text = clean(koppel(root, "plan"))
        assert "suspend" in text and "Jan\\x1b[2J" in text, text
        raw = koppel(root, "plan", "--format", "json")
        clean(raw)
        plan = json.loads(raw.stdout)
        assert any(c["label"] == HOSTILE for c in plan["changes"])
    finally:
        write_pupils(path, header, rows)


def test_a_name_with_escapes_in_the_export(tmp_path: Path):
    root = make_school(tmp_path / "school")
    stamnr = pupils(root)[2][0][0]
    set_field(root, stamnr, "Roepnaam", HOSTILE)
    clean(koppel(root, "validate"))
    clean(koppel(root, "validate", "--format", "json"))
    clean(koppel(root, "plan", "--all"))
    clean(koppel(root, "sync"))
