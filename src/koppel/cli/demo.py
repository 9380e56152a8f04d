"""`koppel demo`: koppel end to end on embedded defaults, needing no input and no network.

A generated school is exported the way Magister exports it; the itslearning sandbox (a faithful
local emulator of itslearning's IMS Enterprise Services) runs on a free local port; koppel plans and
applies the first load. Then the LAS changes — a pupil moves to another klas, a pupil stops a subject,
a new teacher joins a lesgroep — and the incremental plan shows exactly those changes, and applies
them. A last plan shows that nothing is left to do.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from koppel.cli.common import current_language, err, out, progress_bar
from koppel.cli.init_config import render_config
from koppel.errors import SandboxError
from koppel.locale import Language
from koppel.model.roster import SchoolYear
from koppel.plan.render import render_summary_line, render_text

if TYPE_CHECKING:
    from koppel.pipeline import Koppel
    from koppel.plan.model import Plan
    from koppel.sandbox.itslearning import SandboxServer

DEMO_YEAR = SchoolYear.containing(dt.date.today())
"""The current school year: the demo's export and configuration agree with what `koppel plan` would choose."""
PASSWORD_ENV = "KOPPEL_DEMO_ITSLEARNING_PASSWORD"
SANDBOX_USER = "koppel"


def _t() -> Language:
    return current_language()


def _say(text: str = "") -> None:
    out.print(text, markup=False)


def _heading(text: str) -> None:
    _say()
    _say(f"== {text} " + "=" * max(0, 72 - len(text)))


def run_demo(directory: Path | None, *, students: int = 240, keep_running: bool = False) -> None:
    """The demo in a fresh (or the given) folder. It ends by itself, stopping the sandbox; with ``keep_running``
    the sandbox stays up afterwards, its address and password printed, until Ctrl-C."""
    from koppel.sandbox.itslearning import SandboxConfig, SandboxServer

    workdir = _fresh_folder(directory)
    bestuur, school = _export_a_school(workdir / "export", students)
    password = secrets.token_urlsafe(16)
    sandbox = SandboxServer(SandboxConfig(db_path=workdir / "itslearning-sandbox.db", username=SANDBOX_USER,
                                          password=password, site_root="koppel-demo-root"))
    sandbox.start()
    try:
        _say(_t()._("itslearning sandbox (IMS Enterprise Services emulator) at {url}").format(url=sandbox.url))
        app = _configure(workdir, sandbox, school, password)
        _first_load(app, sandbox, school)
        _incremental(app, sandbox, bestuur, workdir / "export", school)
        _heading(_t()._("5. Nothing left to do"))
        _say(render_summary_line(app.plan("demo", None).plan, _t()))
        app.store.close()
        _try_it_yourself(workdir, sandbox, password, keep_running)
        if keep_running:
            _serve_until_interrupted()
    finally:
        sandbox.stop()


def _fresh_folder(directory: Path | None) -> Path:
    """The demo's folder, without the state and the sandbox of an earlier demo in it."""
    workdir = directory or Path(tempfile.mkdtemp(prefix="koppel-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for leftover in ("koppel-state.db", "itslearning-sandbox.db"):
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"{leftover}{suffix}").unlink(missing_ok=True)
    return workdir


def _export_a_school(export: Path, students: int) -> tuple[Any, Any]:
    from koppel.generator import generate, write_layout

    t = _t()
    _heading(t._("1. A school's LAS export"))
    bestuur = generate(students=students, schools=1, year=DEMO_YEAR, seed=2025)
    write_layout(bestuur, export, "magister")
    school = bestuur.schools[0]
    _say(t._("Generated {name} ({brin6}), school year {year}: {pupils} pupils, {teachers} teachers, {klassen} "
             "klassen, {lesgroepen} lesgroepen.").format(
        name=school.name, brin6=school.brin6, year=DEMO_YEAR, pupils=t.num(len(bestuur.pupils)),
        teachers=t.num(len(bestuur.teachers)), klassen=t.num(len(bestuur.klassen)),
        lesgroepen=t.num(len(bestuur.lesgroepen))))
    _say(t._("Written as a Magister export (leerlingen.csv, docenten.csv) to {folder}").format(folder=export))
    return bestuur, school


def _configure(workdir: Path, sandbox: SandboxServer, school: Any, password: str) -> Koppel:
    """koppel.toml for the export and the sandbox (the password read from the environment), and koppel on it."""
    from koppel.config import load_config
    from koppel.pipeline import Koppel

    config_path = workdir / "koppel.toml"
    config_path.write_text(render_config(
        source="export", layout="magister", target_kind="itslearning", url=sandbox.endpoint("combined"),
        username=SANDBOX_USER, password_env=PASSWORD_ENV, tenant="demo", name=school.name, school=school.brin6,
        state="sqlite:///koppel-state.db", site_root="koppel-demo-root", school_year=str(DEMO_YEAR),
    ), encoding="utf-8")
    _say(_t()._("Configuration: {file}").format(file=config_path))
    return Koppel.open(load_config(config_path), env={**os.environ, PASSWORD_ENV: password})


def _first_load(app: Koppel, sandbox: SandboxServer, school: Any) -> None:
    t = _t()
    _heading(t._("2. The first plan: everything is new"))
    first = app.plan("demo", None).plan
    _say(render_text(first, limit=12, school_names={school.brin6: school.name}, lang=t).rstrip())
    _apply(app, first)
    stats = sandbox.stats()
    _say(t._("itslearning now holds {groups} hierarchy nodes and courses, {persons} users and {memberships} "
             "memberships.").format(groups=t.num(stats["groups"]), persons=t.num(stats["persons"]),
                                    memberships=t.num(stats["memberships"])))


def _incremental(app: Koppel, sandbox: SandboxServer, bestuur: Any, export: Path, school: Any) -> None:
    from koppel.generator import add_teacher, drop_subject, move_pupil, write_layout

    t = _t()
    _heading(t._("3. The LAS changes"))
    changed, story = _change_the_las(bestuur, move_pupil, drop_subject, add_teacher)
    write_layout(changed, export, "magister")
    for line in story:
        _say(f"  • {line}")
    writes_before = sandbox.stats()["writes"]

    _heading(t._("4. The incremental plan: exactly those changes"))
    second = app.plan("demo", None).plan
    _say(render_text(second, limit=None, school_names={school.brin6: school.name}, lang=t).rstrip())
    _apply(app, second)
    _say(t._("Write requests sent to itslearning for this change: {n}.").format(
        n=t.num(sandbox.stats()["writes"] - writes_before)))


def _try_it_yourself(workdir: Path, sandbox: SandboxServer, password: str, keep_running: bool) -> None:
    """What to type next. Reading commands need no password; syncing needs the sandbox, so its address and
    password are printed only when it stays up."""
    t = _t()
    _heading(t._("Try it yourself"))
    _say(f"  cd {workdir}")
    _say("  koppel status; koppel history <leerlingnummer>; koppel plan   # "
         + t._("they read the state and the export: no password needed"))
    if not keep_running:
        _say(t._("The itslearning sandbox stopped with the demo. To sync against it yourself, run "
                 "`koppel demo --keep-running`: it keeps the sandbox up and prints its address and password."))
        return
    _say(f"  export {PASSWORD_ENV}={password}   # " + t._("the sandbox's password, generated for this demo"))
    _say("  koppel sync")
    _say()
    _say(t._("The itslearning sandbox keeps running at {url} (user {user}, password {password}); browse what "
             "landed at {url}/sandbox/").format(url=sandbox.url, user=SANDBOX_USER, password=password))
    _say(t._("Press Ctrl-C to stop it."))


def _serve_until_interrupted() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        _say(_t()._("Stopped the itslearning sandbox."))


def _apply(app: Koppel, plan: Plan) -> None:
    from koppel.model.status import JournalOutcome, RunStatus

    if plan.empty:
        return
    with progress_bar(len(plan.changes), _t()._("applying"), enabled=True) as progress:
        result = app.apply(plan, progress=progress, trigger="demo")
    o = result.outcomes
    confirmed = o.get(JournalOutcome.DONE, 0) + o.get(JournalOutcome.WARNING, 0)
    t = _t()
    refused = o.get(JournalOutcome.FAILED, 0) + o.get(JournalOutcome.SKIPPED, 0)
    _say(t._("Applied {changes}: {confirmed} confirmed by itslearning, {refused} not, in {requests} requests "
             "({seconds} s).").format(changes=render_summary_line(plan, t)[6:-1], confirmed=t.num(confirmed),
                                     refused=t.num(refused), requests=t.num(result.requests),
                                     seconds=t.num(round(result.seconds, 1))))
    if result.status != RunStatus.SUCCEEDED:
        for failure in result.failures[:5]:
            err.print(f"  ! {failure['action']} {failure['kind']} {failure['key']}: {failure['message']}", markup=False)
        raise SandboxError(f"the demo's apply did not succeed ({result.status}); see `koppel status --run "
                           f"{result.run_id}` in the demo folder")


def _change_the_las(bestuur, move_pupil, drop_subject, add_teacher):
    """Pick a pupil to move, a pupil who stops a subject and a lesgroep for a new teacher — deterministically."""
    by_klas = Counter((p.brin6, p.leerjaar, p.onderwijssoort, p.klas) for p in bestuur.pupils)
    mover = None
    for pupil in sorted(bestuur.pupils, key=lambda p: (-p.leerjaar, p.stamnr)):
        options = sorted(k.name for k in bestuur.klassen
                         if k.brin6 == pupil.brin6 and k.leerjaar == pupil.leerjaar
                         and k.onderwijssoort == pupil.onderwijssoort and k.name != pupil.klas)
        if options and by_klas[(pupil.brin6, pupil.leerjaar, pupil.onderwijssoort, pupil.klas)] > 1:
            mover, new_klas = pupil, options[0]
            break
    story = []
    changed = bestuur
    if mover is not None:
        changed = move_pupil(changed, mover.stamnr, new_klas)
        story.append(_t()._("{name} ({number}) moves from klas {old} to {new}").format(
            name=_name(mover), number=mover.stamnr, old=mover.klas, new=new_klas))
    dropper_group = next(g for g in sorted(changed.lesgroepen, key=lambda g: g.name)
                         if g.klas is None and len(g.pupils) > 1 and (mover is None or mover.stamnr not in g.pupils))
    dropper = changed.pupil(dropper_group.pupils[0])
    changed = drop_subject(changed, dropper.stamnr, dropper_group.name)
    story.append(_t()._("{name} ({number}) stops {vak} (leaves lesgroep {group})").format(
        name=_name(dropper), number=dropper.stamnr, vak=dropper_group.vak, group=dropper_group.name))
    target_group = sorted(changed.lesgroepen, key=lambda g: g.name)[len(changed.lesgroepen) // 2]
    code = next(c for c in ("NWD", "NWDO", "NWDX", "QQQ") if not any(t.docentcode == c for t in changed.teachers))
    changed = add_teacher(changed, target_group.brin6, code, "Noor", "van 't", "Hof", target_group.name)
    story.append(_t()._("a new teacher, Noor van 't Hof ({code}), joins lesgroep {group}").format(
        code=code, group=target_group.name))
    return changed, story


def _name(pupil) -> str:
    return " ".join(p for p in (pupil.roepnaam, pupil.voorvoegsel, pupil.achternaam) if p)
