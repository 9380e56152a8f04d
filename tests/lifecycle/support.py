"""A real koppel set-up for the lifecycle and crash tests, shared by ``tests/lifecycle`` and ``tests/crash``.

One *world* is a folder holding a generated bestuur exported per school year (``export/2025-2026``,
``export/2026-2027``: the CSV ``path`` uses ``{school_year}``), a ``koppel.toml``, the state store
(``state.db``) and the itslearning sandbox's database, with the sandbox running on a free local port.

A module builds its school and the first full sync once (:func:`build_baseline`); every test then
works on its own copy of that folder (:meth:`Baseline.world`), with a sandbox of its own on the
copied database. Nothing of koppel is patched: tests drive the public API (``Koppel``), the CLI
(typer's CliRunner in-process, or ``python -m koppel`` as a subprocess) and the sandbox over HTTP.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomlkit
from typer.testing import CliRunner

from koppel.cli.common import configure_logging
from koppel.cli.init_config import render_config
from koppel.config import load_config
from koppel.generator import Bestuur, Lesgroep, generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from koppel.sandbox.itslearning import SandboxConfig, SandboxServer

PASSWORD_ENV = "KOPPEL_LIFECYCLE_ITSLEARNING_PASSWORD"
PASSWORD = "lifecycle-sandbox-pw"
SITE_ROOT = "koppel-root"
TENANT = "bestuur"
TARGET = "itslearning"
YEAR = SchoolYear(2025)
NEXT_YEAR = SchoolYear(2026)
ROOT_DIR = Path(__file__).resolve().parents[2]

# Policy settings used unless a test says otherwise (the product's defaults, spelled out).
DEFAULT_POLICY: dict[str, dict[str, Any]] = {
    "lifecycle": {"grace_days_student": 30, "grace_days_staff": 60, "absent_groups": "archive",
                  "archived_memberships": "keep"},
    "guards": {"max_percent": 10.0, "max_count": 500},
    "protected": {"person": [], "group": []},
}


def quiet() -> None:
    """Warnings only, as the CLI's default (and tests/conftest.py); the CLI rebinds logging on every call."""
    configure_logging("warning")


# -- the configuration --------------------------------------------------------------------------


def config_text(*, url: str, layout: str = "magister", source: str = "export/{school_year}",
                school_year: str = str(YEAR), policy: Mapping[str, Mapping[str, Any]] | None = None,
                source_settings: Mapping[str, Any] | None = None, target_settings: Mapping[str, Any] | None = None,
                state: str = "sqlite:///state.db") -> str:
    """``render_config``'s koppel.toml (what `koppel init` writes), with the given settings changed."""
    text = render_config(source=source, layout=layout, target_kind="itslearning", url=url, username="koppel",
                         password_env=PASSWORD_ENV, tenant=TENANT, name="Testbestuur", state=state,
                         site_root=SITE_ROOT, school_year=school_year)
    doc = tomlkit.parse(text)
    tenant = doc["tenants"][TENANT]
    src = tenant["sources"]["las"]
    for key, value in (source_settings or {}).items():
        src[key] = value
    tgt = tenant["targets"][TARGET]
    for key, value in (target_settings or {}).items():
        tgt[key] = value
    merged = copy.deepcopy(DEFAULT_POLICY)
    for section, values in (policy or {}).items():
        merged.setdefault(section, {}).update(values)
    for section, values in merged.items():
        table = tgt["policy"].setdefault(section, tomlkit.table())
        for key, value in values.items():
            table[key] = value
    return tomlkit.dumps(doc)


# -- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    root: Path
    sandbox: SandboxServer
    bestuur: dict[SchoolYear, Bestuur]
    layout: str = "magister"
    settings: dict[str, Any] = field(default_factory=dict)
    apps: list[Koppel] = field(default_factory=list)

    # files

    @property
    def config_path(self) -> Path:
        return self.root / "koppel.toml"

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    def export_dir(self, year: SchoolYear = YEAR) -> Path:
        return self.root / "export" / str(year)

    def write_export(self, bestuur: Bestuur, year: SchoolYear | None = None) -> None:
        """Replace the export of ``year`` (default: the bestuur's own year) with ``bestuur``."""
        year = year or bestuur.school_year
        folder = self.export_dir(year)
        shutil.rmtree(folder, ignore_errors=True)
        write_layout(bestuur, folder, self.layout)  # type: ignore[arg-type]
        self.bestuur[year] = bestuur

    def configure(self, **settings: Any) -> None:
        """Rewrite koppel.toml; ``settings`` are :func:`config_text`'s keyword arguments. Each replaces the
        earlier value of the same name (a new ``policy`` replaces the earlier one, over the defaults)."""
        self.settings.update(settings)
        self.config_path.write_text(config_text(url=self.sandbox.endpoint("combined"), layout=self.layout,
                                                **self.settings), encoding="utf-8")

    # koppel

    @property
    def env(self) -> dict[str, str]:
        return {PASSWORD_ENV: PASSWORD}

    def app(self, today: dt.date, *, clock=None) -> Koppel:
        app = Koppel.open(load_config(self.config_path), env=self.env, today=lambda: today, clock=clock)
        self.apps.append(app)
        return app

    def cli(self, *args: str) -> Any:
        """Run the koppel CLI in-process (typer's CliRunner) with this world's config and password."""
        runner = CliRunner()
        result = runner.invoke(_cli_app(), [*args], env={**self.env, "KOPPEL_CONFIG": str(self.config_path)},
                               catch_exceptions=False)
        quiet()  # the CLI bound structlog to the runner's (now closed) stderr: bind it back
        return result

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "koppel", *args, "-c", str(self.config_path)]

    def subprocess_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT_DIR / "src"), env.get("PYTHONPATH")) if p)
        return env

    def run(self, *args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python -m koppel <args> -c koppel.toml`` as a real process."""
        done = subprocess.run(self.command(*args), check=False, env=self.subprocess_env(), capture_output=True,
                              text=True, timeout=timeout, cwd=self.root)
        if check and done.returncode != 0:
            raise AssertionError(f"koppel {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    # sandbox

    def manual_edit(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(self.sandbox.url + "/sandbox/api/manual/edit", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        for app in self.apps:
            app.store.close()
        self.apps.clear()
        self.sandbox.stop()


def _cli_app():
    from koppel.cli.main import app

    return app


def start_sandbox(db_path: Path, **config: Any) -> SandboxServer:
    sandbox = SandboxServer(SandboxConfig(db_path=db_path, username="koppel", password=PASSWORD,
                                          site_root=SITE_ROOT, **config))
    return sandbox.start()


@dataclass
class Baseline:
    """A world after its first full sync, kept stopped on disk; :meth:`world` hands out copies."""

    root: Path
    bestuur: dict[SchoolYear, Bestuur]
    layout: str
    settings: dict[str, Any]
    first_plan_summary: dict[str, int]

    def world(self, dest: Path, **sandbox_config: Any) -> World:
        shutil.copytree(self.root, dest, dirs_exist_ok=True)
        world = World(dest, start_sandbox(dest / "sandbox.db", **sandbox_config), dict(self.bestuur), self.layout,
                      dict(self.settings))
        world.configure()
        return world


def build_baseline(root: Path, *, students: int = 90, schools: int = 1, seed: int = 11,
                   years: Iterable[SchoolYear] = (YEAR,), layout: str = "magister", today: dt.date = dt.date(2025, 9, 1),
                   sync: bool = True, clock=None, **settings: Any) -> Baseline:
    """Generate the bestuur for ``years``, export it, and (unless ``sync=False``) sync the first year."""
    quiet()
    root.mkdir(parents=True, exist_ok=True)
    bestuur = {year: generate(students=students, schools=schools, year=year, seed=seed) for year in years}
    world = World(root, start_sandbox(root / "sandbox.db"), {}, layout, dict(settings))
    try:
        for year, b in bestuur.items():
            world.write_export(b, year)
        world.configure()
        summary: dict[str, int] = {}
        if sync:
            outcome = world.app(today, clock=clock).sync(None, None)
            assert not outcome.held and outcome.applied is not None and outcome.applied.status == "succeeded", (
                outcome.plan.holds, outcome.applied and outcome.applied.failures[:3])
            summary = outcome.plan.summary()
    finally:
        world.close()
    return Baseline(root, bestuur, layout, dict(world.settings), summary)


# -- what the sandbox holds ---------------------------------------------------------------------------


def live_persons(sandbox: SandboxServer) -> dict[str, dict[str, Any]]:
    return {p["sync_key"]: p for p in sandbox.objects()["persons"] if not p["trashed"]}


def normalised(objects: Mapping[str, Any]) -> dict[str, Any]:
    """The sandbox's objects without internal ids and timestamps: what two equivalent runs share."""
    return {
        "persons": {p["sync_key"] or f"manual:{p['username']}": (
            p["first"], p["last"], p["prefix"], p["username"], p["email"], p["institution_role"], p["profile"],
            p["origin"], p["trashed"], tuple(p["children"])) for p in objects["persons"]},
        "groups": {g["sync_id"]: (g["type"], g["name"], g["parent_sync_id"],
                                  None if g["course"] is None else (g["course"]["title"], g["course"]["code"]))
                   for g in objects["groups"]},
        "courses": sorted((c["sync_id"], c["title"], c["code"], c["group_sync_id"], c["orphaned"])
                          for c in objects["courses"]),
        "memberships": {m["sync_id"]: (m["group_sync_id"], m["person_sync_key"], m["role"], m["home_organisation"])
                        for m in objects["memberships"]},
    }


def writes(stats: Mapping[str, Any]) -> dict[str, int]:
    """Write requests per operation (everything but the read* operations)."""
    return {op: n for op, n in stats["requests"].items() if not op.startswith("read")}


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(before) | set(after))
            if after.get(k, 0) != before.get(k, 0)}


def sqlite_rows(path: Path, sql: str, *params: Any) -> list[tuple]:
    """Read a SQLite file directly (read-only), the way an auditor would."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def state_objects(path: Path) -> list[tuple]:
    """Every row of the state's objects table, and the serial of every state: the state, byte for byte."""
    return (sqlite_rows(path, "SELECT * FROM objects ORDER BY state_id, key")
            + sqlite_rows(path, "SELECT id, tenant, target, lineage, serial FROM targets_state ORDER BY id"))


# -- LAS changes the generator has no helper for ---------------------------------------------------------


def without_pupils(bestuur: Bestuur, stamnrs: Iterable[str]) -> Bestuur:
    """The pupils leave the school: gone from the leerlingen and from every lesgroep."""
    gone = set(stamnrs)
    return dataclasses.replace(
        bestuur,
        pupils=tuple(p for p in bestuur.pupils if p.stamnr not in gone),
        lesgroepen=tuple(dataclasses.replace(g, pupils=tuple(s for s in g.pupils if s not in gone))
                         for g in bestuur.lesgroepen),
    )


def without_teacher(bestuur: Bestuur, brin6: str, docentcode: str) -> Bestuur:
    """The docent leaves: gone from the docenten, the lesgroepen and as mentor."""
    return dataclasses.replace(
        bestuur,
        teachers=tuple(t for t in bestuur.teachers if not (t.brin6 == brin6 and t.docentcode == docentcode)),
        lesgroepen=tuple(dataclasses.replace(g, teachers=tuple(c for c in g.teachers if c != docentcode))
                         if g.brin6 == brin6 else g for g in bestuur.lesgroepen),
        klassen=tuple(dataclasses.replace(k, mentor=None) if k.brin6 == brin6 and k.mentor == docentcode else k
                      for k in bestuur.klassen),
    )


def change_group(bestuur: Bestuur, group: Lesgroep, **changes: Any) -> Bestuur:
    new = dataclasses.replace(group, **changes)
    return dataclasses.replace(bestuur, lesgroepen=tuple(new if g == group else g for g in bestuur.lesgroepen))


def change_pupil(bestuur: Bestuur, stamnr: str, **changes: Any) -> Bestuur:
    return dataclasses.replace(bestuur, pupils=tuple(dataclasses.replace(p, **changes) if p.stamnr == stamnr else p
                                                     for p in bestuur.pupils))


# -- an independent oracle: who should be in which group, from the generator's own data -------------------

ROLE_OF = {"Learner": "student", "Instructor": "teacher", "Mentor": "mentor"}


def klas_id(brin6: str, year: SchoolYear | str, klas: str) -> str:
    return f"las:{brin6}:{year}:stamgroep:{klas}"


def lesgroep_id(brin6: str, year: SchoolYear | str, name: str) -> str:
    return f"las:{brin6}:{year}:{name}"


def expected_memberships(bestuur: Bestuur) -> set[tuple[str, str, str]]:
    """(user name, group sync id, role) of every membership the generated LAS data implies, for the
    Magister layout with the default rules (user names: leerlingnummer / docentcode)."""
    year = bestuur.school_year
    out: set[tuple[str, str, str]] = set()
    klassen_with_pupils = set()
    for p in bestuur.pupils:
        out.add((p.stamnr, f"school:{p.brin6}", "student"))
        out.add((p.stamnr, klas_id(p.brin6, year, p.klas), "student"))
        klassen_with_pupils.add((p.brin6, p.klas))
    for t in bestuur.teachers:
        out.add((t.docentcode.lower(), f"school:{t.brin6}", "teacher"))
    for g in bestuur.lesgroepen:
        out.update((s, lesgroep_id(g.brin6, year, g.name), "student") for s in g.pupils)
        out.update((c.lower(), lesgroep_id(g.brin6, year, g.name), "teacher") for c in g.teachers)
    for k in bestuur.klassen:
        if k.mentor and (k.brin6, k.name) in klassen_with_pupils:
            out.add((k.mentor.lower(), klas_id(k.brin6, year, k.name), "mentor"))
    return out


def sandbox_memberships(objects: Mapping[str, Any], *, include_trashed: bool = False) -> set[tuple[str, str, str]]:
    """The sandbox's memberships as (user name, group sync id, role)."""
    usernames = {p["sync_key"]: p["username"] for p in objects["persons"]}
    return {(usernames[m["person_sync_key"]], m["group_sync_id"], ROLE_OF.get(m["role"], m["role"]))
            for m in objects["memberships"] if include_trashed or not m["person_trashed"]}
