"""A plan that would rename many persons only in their accents is held like a mass removal: the classic
cause is an export that was re-encoded on its way ("Noëlle" arriving as "NoÃ«lle")."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.generator import generate, write_layout
from koppel.model.roster import SchoolYear

runner = CliRunner()


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


def setup(tmp_path: Path) -> None:
    bestuur = generate(students=300, schools=1, year=SchoolYear(2025), seed=11)
    write_layout(bestuur, tmp_path / "export", "magister")
    r = run(tmp_path, "init", "--source", "export", "--layout", "magister", "--target", "fake", "--tenant", "baken")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "koppel.toml").read_text(encoding="utf-8")
    (tmp_path / "koppel.toml").write_text(text.replace('school_year = "auto"', 'school_year = "2025-2026"'))
    r = run(tmp_path, "apply", "--yes")
    assert r.exit_code == 0, r.output


def reencode_names(export: Path) -> int:
    """Every file's text as UTF-8 bytes read as Windows-1252, written back as UTF-8: what a wrong
    conversion on the way from the LAS does. Returns how many non-ASCII characters were mangled."""
    mangled = 0

    def mangle(ch: str) -> str:
        nonlocal mangled
        if ord(ch) < 128:
            return ch
        try:
            wrong = ch.encode("utf-8").decode("cp1252")
        except UnicodeDecodeError:
            return ch  # a byte Windows-1252 leaves undefined: that character stays
        mangled += 1
        return wrong

    for path in export.rglob("*.csv"):
        text = path.read_text(encoding="utf-8-sig")
        path.write_text("".join(map(mangle, text)), encoding="utf-8")
    return mangled


def test_many_accent_only_renames_hold_the_plan(tmp_path: Path):
    setup(tmp_path)
    assert reencode_names(tmp_path / "export") >= 10, "the generated school has accented names"
    r = run(tmp_path, "plan", "--format", "json")
    plan = json.loads(r.output)
    holds = [h for h in plan["holds"] if h["guard"] == "accent-renames"]
    assert holds and holds[0]["kind"] == "person" and holds[0]["count"] >= 10, plan["holds"]
    r = run(tmp_path, "plan")
    assert "accents" in r.output and "encoding" in r.output, r.output


def test_a_few_accent_corrections_are_not_held(tmp_path: Path):
    setup(tmp_path)
    changed = 0
    for path in (tmp_path / "export").rglob("*.csv"):
        text = path.read_text(encoding="utf-8-sig")
        for accented in ("ë", "é", "ï", "ö", "è"):
            if changed < 3 and accented in text:
                text = text.replace(accented, "e" if accented in "ëéè" else "i" if accented == "ï" else "o", 1)
                changed += 1
        path.write_text(text, encoding="utf-8")
    assert changed
    r = run(tmp_path, "plan", "--format", "json")
    plan = json.loads(r.output)
    assert not [h for h in plan["holds"] if h["guard"] == "accent-renames"], plan["holds"]
