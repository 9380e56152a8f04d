"""`koppel explain PERSON [GROUP]` through the command line (issue 12, point 4): a pupil whose vak is not in
their Vakken (with file and line), a pupil's courses with their role, a change waiting in a held plan, a
membership the platform refused (with its message), an unknown person, an ambiguous name, JSON output."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.config import load_config
from koppel.generator import generate, write_layout
from koppel.model.change import Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from koppel.testing.fake import FakeTarget

runner = CliRunner()
REFUSAL = "The user cannot be enrolled in this course (itslearning: invaliddata)"


def run(cwd: Path, *args: str):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


class _Refusing(FakeTarget):
    """Refuses one membership, as itslearning refuses what it cannot take."""

    def __init__(self, label_parts: Sequence[str]):
        super().__init__()
        self.label_parts = label_parts

    def apply(self, batch: Sequence[Change]) -> Sequence[ItemResult]:
        results = list(super().apply(batch))
        for i, change in enumerate(batch):
            if change.kind is ObjectKind.MEMBERSHIP and all(p in change.label for p in self.label_parts):
                results[i] = ItemResult(change.key, ItemOutcome.FAILED, REFUSAL, code="invaliddata")
        return results


def _rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> dict:
    """A 60-pupil Magister school, applied once (one membership refused), then changed so the next plan is held."""
    root = tmp_path_factory.mktemp("explain")
    bestuur = generate(students=60, schools=1, year=SchoolYear(2025), seed=5)
    write_layout(bestuur, root / "export", "magister")
    r = run(root, "init", "--source", "export", "--layout", "magister", "--target", "fake", "--tenant", "baken")
    assert r.exit_code == 0, r.output
    toml = (root / "koppel.toml").read_text(encoding="utf-8")
    (root / "koppel.toml").write_text(toml.replace('school_year = "auto"', 'school_year = "2025-2026"'))
    pupils_file = next((root / "export").rglob("leerlingen.csv"))
    lines = _rows(pupils_file)
    header = lines[0].split(";")
    at = {name: header.index(name) for name in ("Stamnr", "Roepnaam", "Achternaam", "Klas", "Vakken")}
    rows = [line.split(";") for line in lines[1:]]
    first_klas = rows[0][at["Klas"]]
    in_klas = [r for r in rows if r[at["Klas"]] == first_klas and "fa" in r[at["Vakken"]].split(",")]
    dropper, refused = in_klas[0], in_klas[1]
    dropper[at["Vakken"]] = ",".join(v for v in dropper[at["Vakken"]].split(",") if v != "fa")
    dropper_line = lines.index(next(line for line in lines if line.startswith(dropper[0] + ";"))) + 1
    pupils_file.write_text("\n".join([lines[0]] + [";".join(r) for r in rows]) + "\n", encoding="utf-8")

    koppel = Koppel.open(load_config(root / "koppel.toml"))
    plan = koppel.plan(None, None).plan
    koppel.apply(plan, target=_Refusing([refused[at["Roepnaam"]], f"{first_klas}.en"]))

    # Next: twelve pupils leave (a guard holds that plan) and the dropper takes fa again.
    leavers = [r for r in rows if r[at["Klas"]] != first_klas][-12:]
    dropper[at["Vakken"]] += ",fa"
    kept = [r for r in rows if r not in leavers]
    pupils_file.write_text("\n".join([lines[0]] + [";".join(r) for r in kept]) + "\n", encoding="utf-8")
    outcome = koppel.sync(None, None)
    assert outcome.held, "twelve leavers of sixty are held by the guards"
    # ... and back to the export the first plan read, for the Vakken case.
    dropper[at["Vakken"]] = ",".join(v for v in dropper[at["Vakken"]].split(",") if v != "fa")
    pupils_file.write_text("\n".join([lines[0]] + [";".join(r) for r in kept]) + "\n", encoding="utf-8")
    koppel.store.close()
    return {"root": root, "klas": first_klas, "dropper": dropper, "dropper_line": dropper_line, "refused": refused,
            "leaver": leavers[0], "at": at, "held": outcome.plan.id, "file": pupils_file.relative_to(root / "export")}


def test_a_vak_not_in_vakken_is_the_reason_with_file_and_line(school):
    root, klas, dropper = school["root"], school["klas"], school["dropper"]
    r = run(root, "explain", dropper[0], f"{klas}.fa")
    assert r.exit_code == 0, r.output
    assert "not-in-vakken" in r.output and "vak fa is not in" in r.output and "Vakken" in r.output
    assert f"{school['file']}:{school['dropper_line']}" in r.output, r.output
    assert "lesgroepen.csv:" in r.output, "where the lesgroep was declared"
    # Without GROUP: the same reason among the groups of their klas they are not in.
    r = run(root, "explain", dropper[0])
    assert r.exit_code == 0 and f"{klas}.fa: not-in-vakken" in r.output, r.output


def test_a_pupils_courses_are_listed_with_their_role(school):
    root, klas, dropper = school["root"], school["klas"], school["dropper"]
    r = run(root, "explain", dropper[0])
    assert r.exit_code == 0, r.output
    assert f"leerlingnummer {dropper[0]}, klas {klas}" in r.output
    assert f"{klas}.ne  (course, student)" in r.output and f"{klas}  (klas, student)" in r.output, r.output


def test_a_change_waiting_in_a_held_plan_is_shown(school):
    root, leaver = school["root"], school["leaver"]
    r = run(root, "explain", leaver[0])
    assert r.exit_code == 0, r.output
    assert "not in the export" in r.output
    assert f"plan {school['held']} (held): suspend person" in r.output, r.output
    assert "held " + school["held"] in r.output


def test_a_membership_the_platform_refused_shows_its_message(school):
    root, klas, refused = school["root"], school["klas"], school["refused"]
    r = run(root, "explain", refused[0], f"{klas}.en")
    assert r.exit_code == 0, r.output
    assert "refused" in r.output and REFUSAL in r.output, r.output


def test_an_unknown_person_is_a_clear_error(school):
    r = run(school["root"], "explain", "nobody-by-this-name")
    assert r.exit_code == 1
    assert "no person matching 'nobody-by-this-name'" in r.output


def test_an_ambiguous_name_lists_the_candidates(school):
    root, refused, at = school["root"], school["refused"], school["at"]
    r = run(root, "explain", "e")
    assert r.exit_code == 1, r.output
    assert "persons match 'e'" in r.output and refused[0] in r.output and refused[at["Achternaam"]] in r.output
    r = run(root, "explain", "e", "--format", "json")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and any(c["number"] == refused[0] for c in data["candidates"])


def test_json_output(school):
    root, klas, dropper = school["root"], school["klas"], school["dropper"]
    r = run(root, "explain", dropper[0], f"{klas}.fa", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["person"]["leerlingnummer"] == dropper[0] and data["person"]["klas"] == klas
    answer = data["answers"][0]
    assert answer["verdict"] == "not-in-vakken" and any(str(school["file"]) in w for w in answer["where"])
    assert [s["rule"] for s in answer["steps"]][-1] == "LAS membership"
    assert any(g["type"] == "course" and g["role"] == "student" for g in data["groups"])
