"""End to end: a generated school → `koppel plan` / `koppel sync` with an ims-enterprise target → the file a
Moodle (the stand-in reading with enrol_imsenterprise's own patterns) processes; then a LAS change (a pupil changes
klas, one leaves), a quiet run that writes nothing, a write that fails (the previous file stays, the state does not
move), the jaarovergang (one held plan, approved; last year's courses hidden), and the same story in delta files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from typer.testing import CliRunner

from koppel.cli.init_config import render_config
from koppel.config import load_config
from koppel.generator import Bestuur, generate, move_pupil, write_layout
from koppel.model.desired import ObjectKind
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from koppel.targets.imsenterprise import ImsEnterpriseTarget, factory
from koppel.targets.imsenterprise.reader import parse_file
from tests.lifecycle.support import quiet, without_pupils

from .moodle import MoodleSite

YEAR, NEXT_YEAR = SchoolYear(2025), SchoolYear(2026)
TODAY = dt.date(2025, 10, 1)
TARGET = "moodle"


def config_text(**target: Any) -> str:
    text = render_config(source="export/{school_year}", layout="magister", target_kind="itslearning",
                         url="https://enterprise.itslearning.com", username="unused", password_env="UNUSED",
                         tenant="school", name="Testschool", state="sqlite:///state.db", site_root="root",
                         school_year=str(YEAR))
    doc = tomlkit.parse(text)
    targets = doc["tenants"]["school"]["targets"]
    old = targets["itslearning"]
    table = tomlkit.table()
    table["kind"] = "ims-enterprise"
    table["folder"] = "moodledata"
    for key, value in target.items():
        table[key] = value
    for section in ("rules", "policy"):
        table[section] = old[section]
    del targets["itslearning"]
    targets[TARGET] = table
    return tomlkit.dumps(doc)


@dataclass
class School:
    root: Path
    bestuur: dict[SchoolYear, Bestuur]

    @property
    def config(self) -> Path:
        return self.root / "koppel.toml"

    def export(self, bestuur: Bestuur, year: SchoolYear = YEAR) -> None:
        write_layout(bestuur, self.root / "export" / str(year), "magister")
        self.bestuur[year] = bestuur

    def cli(self, *args: str) -> Any:
        from koppel.cli.main import app

        result = CliRunner().invoke(app, list(args), env={"KOPPEL_CONFIG": str(self.config)}, catch_exceptions=False)
        quiet()
        return result

    def app(self) -> Koppel:
        return Koppel.open(load_config(self.config), env={}, today=lambda: TODAY)

    def target(self) -> ImsEnterpriseTarget:
        config = load_config(self.config)
        tenant = config.tenant("school")
        target_cfg = tenant.targets[TARGET]
        return factory(TARGET, target_cfg.settings, config.context(tenant, env={}))

    @property
    def path(self) -> Path:
        return self.target().path_for(1)


def make_school(root: Path, **target: Any) -> School:
    quiet()
    school = School(root, {})
    school.export(generate(students=200, schools=1, year=YEAR, seed=5))
    school.config.write_text(config_text(**target), encoding="utf-8")
    return school


def expected(app: Koppel) -> tuple[set[str], dict[str, str], set[tuple[str, str, str]]]:
    """What Moodle should hold after the current plan's objects exist: persons, courses (→ name), enrolments."""
    # the state holds what koppel sent and the platform acknowledged: the oracle of what Moodle must hold
    records = app.store.load_view("school", TARGET, lean=False).records
    attrs = {k: json.loads(v) for k, v in app.store.load_attrs("school", TARGET, list(records)).items()}
    active = {k for k, r in records.items() if r.status.value == "active"}
    persons = {k for k in active if records[k].kind is ObjectKind.PERSON}
    courses = {k: attrs[k]["name"] for k in active if records[k].kind is ObjectKind.GROUP
               and attrs[k]["type"] == "course"}
    roles = {"student": "student", "teacher": "editingteacher", "mentor": "teacher"}
    members = {(attrs[k]["person"], attrs[k]["group"], roles[attrs[k]["role"]]) for k in active
               if records[k].kind is ObjectKind.MEMBERSHIP and attrs[k]["group"] in courses
               and attrs[k]["person"] in persons}
    return persons, courses, members


def enrolled(moodle: MoodleSite) -> set[tuple[str, str, str]]:
    return {(u, c, role) for (u, c), roles in moodle.enrolled().items() for role in roles}


def assert_moodle_holds(moodle: MoodleSite, app: Koppel) -> None:
    persons, courses, members = expected(app)
    assert persons <= set(moodle.live_users())
    visible = {c.idnumber: c.fullname for c in moodle.courses.values() if c.visible}
    assert visible == courses
    assert {m for m in enrolled(moodle) if m[1] in courses} == members


@pytest.fixture
def school(tmp_path):
    return make_school(tmp_path)


def test_plan_sync_las_changes_a_quiet_run_and_a_failed_write(school):
    # plan: a preview with payloads; nothing written
    shown = school.cli("plan", "--show-payloads")
    assert shown.exit_code in (0, 2), shown.output
    assert "imsenterprise-enrol.xml: <group> in every snapshot from now on" in shown.stdout
    assert not (school.root / "moodledata").exists()

    synced = school.cli("sync")
    assert synced.exit_code == 0, synced.output
    moodle = MoodleSite()
    assert moodle.cron(school.path)
    app = school.app()
    assert_moodle_holds(moodle, app)
    persons, courses, members = expected(app)
    assert len(persons) > 200 and len(courses) > 20 and len(members) > 500
    assert len(moodle.live_users()) == len(persons)

    # a quiet run: no publication, the file not touched
    stat = school.path.stat()
    quiet_run = school.cli("sync")
    assert quiet_run.exit_code == 0, quiet_run.output
    assert school.path.stat().st_mtime_ns == stat.st_mtime_ns and school.path.stat().st_ino == stat.st_ino
    assert not moodle.cron(school.path), "Moodle sees nothing new"

    # the LAS: a pupil changes klas, another leaves
    b = school.bestuur[YEAR]
    mover = next(p for p in b.pupils if any(k.name != p.klas and k.leerjaar == p.leerjaar for k in b.klassen))
    new_klas = next(k.name for k in b.klassen if k.name != mover.klas and k.leerjaar == mover.leerjaar)
    leaver = next(p for p in b.pupils if p.stamnr != mover.stamnr)
    school.export(without_pupils(move_pupil(b, mover.stamnr, new_klas), [leaver.stamnr]))

    # a publication that cannot be written (the disk is full): the previous file stays, the state does not move
    before = school.path.read_bytes()
    app = school.app()
    planned = len(app.plan(None, None).plan.changes)
    assert planned > 2
    outcome = app.sync(None, None, target=FullDisk(school.target(), limit=len(before) // 2))
    assert outcome.applied is not None and outcome.applied.status == "failed"
    assert "nothing was published" in (outcome.applied.message or "")
    assert school.path.read_bytes() == before and not list(school.path.parent.glob(".*.tmp"))
    assert len(school.app().plan(None, None).plan.changes) == planned, "the same changes are planned again"

    assert school.cli("sync").exit_code == 0
    assert moodle.cron(school.path)
    app = school.app()
    assert_moodle_holds(moodle, app)
    mover_key = next(k for k, u in moodle.live_users().items() if u.username == mover.stamnr)
    leaver_key = next(k for k, u in moodle.live_users().items() if u.username == leaver.stamnr)
    assert not [m for m in enrolled(moodle) if m[0] == leaver_key], "the leaver is unenrolled everywhere"
    assert any(f":{new_klas}." in c for (u, c, _) in enrolled(moodle) if u == mover_key)
    assert not any(f":{mover.klas}." in c for (u, c, _) in enrolled(moodle) if u == mover_key)

    # the jaarovergang: one held plan, approved; last year's courses hidden, next year's filled
    school.export(generate(students=200, schools=1, year=NEXT_YEAR, seed=5), NEXT_YEAR)
    preview = school.cli("plan", "--year", str(NEXT_YEAR), "-f", "json")
    plan = json.loads(preview.stdout)
    assert plan["held"] and "jaarovergang" in {h["guard"] for h in plan["holds"]}
    old_courses = set(courses)
    held = school.cli("sync", "--year", str(NEXT_YEAR))
    assert held.exit_code == 3, held.output
    assert not moodle.cron(school.path), "a held plan publishes nothing"
    applied = school.cli("apply", "--approve", plan["id"], "--by", "Mw. De Vries", "--yes")
    assert applied.exit_code == 0, applied.output
    assert moodle.cron(school.path)
    hidden = {c.idnumber for c in moodle.courses.values() if not c.visible}
    assert old_courses <= hidden, "every course of last year is hidden, none deleted"
    new_courses = {c.idnumber for c in moodle.courses.values() if c.visible}
    assert new_courses and all(f":{NEXT_YEAR}:" in c for c in new_courses)
    assert_moodle_holds(moodle, school.app())
    file = parse_file(school.path.read_bytes())
    assert {g.id for g in file.groups if g.recstatus == 3} == old_courses


class FullDisk:
    """The real target, publishing onto a disk that fills up part-way (RLIMIT_FSIZE): the write itself fails."""

    def __init__(self, target: ImsEnterpriseTarget, *, limit: int):
        self.inner, self.limit = target, limit
        self.name, self.capabilities = target.name, target.capabilities

    def apply(self, batch):
        return self.inner.apply(batch)

    def publish(self) -> str:
        previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, hard))
        try:
            return self.inner.publish()
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)

    def discard(self) -> None:
        self.inner.discard()

    def read(self, *args, **kwargs):
        return self.inner.read(*args, **kwargs)

    def close(self) -> None:
        self.inner.close()


def test_the_same_story_in_numbered_delta_files(tmp_path):
    school = make_school(tmp_path, mode="delta", file_name="koppel-{sequence:05d}.xml", carry_days=0)
    assert school.cli("sync").exit_code == 0
    b = school.bestuur[YEAR]
    leavers = [p.stamnr for p in b.pupils[:2]]
    school.export(without_pupils(b, leavers))
    assert school.cli("sync").exit_code == 0
    assert school.cli("sync").exit_code == 0  # quiet: no third file
    folder = school.root / "moodledata"
    files = sorted(p.name for p in folder.glob("koppel-*.xml"))
    assert files == ["koppel-00001.xml", "koppel-00002.xml"]
    second = parse_file((folder / files[1]).read_bytes())
    assert {p.recstatus for p in second.persons} <= {2} and not second.groups
    assert {m.status for m in second.members} == {"0"}
    moodle = MoodleSite()
    for name in files:  # the consumer: every file, in order
        moodle.process((folder / name).read_bytes())
    assert_moodle_holds(moodle, school.app())
    gone = {k for k, u in moodle.live_users().items() if u.username in leavers}
    assert len(gone) == 2 and not [m for m in enrolled(moodle) if m[0] in gone]
    assert os.listdir(folder / ".koppel") == ["moodle.db"], "numbered files carry nothing"
