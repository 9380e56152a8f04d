"""An end-to-end set-up for the SDS target: a generated school exported per school year (Magister files), a
koppel.toml whose tenant has one target of kind ``sds`` (a folder, and SFTP to the test's own sshd), and the
koppel CLI and pipeline on top. Nothing of koppel is patched."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from koppel.cli.common import configure_logging
from koppel.config import load_config
from koppel.generator import Bestuur, generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from tests.target_sds.sshd import SshServer

YEAR = SchoolYear(2025)
NEXT_YEAR = SchoolYear(2026)
TENANT, TARGET = "school", "teams"


def config_text(sftp: dict[str, Any] | None, *, school_year: SchoolYear = YEAR) -> str:
    lines = [
        "[state]", 'url = "sqlite:///state.db"', "",
        f"[tenants.{TENANT}]", 'name = "Testschool"', f'school_year = "{school_year}"', "",
        f"[tenants.{TENANT}.validation]", "max_errors = 0", "",
        f"[tenants.{TENANT}.sources.las]", 'kind = "csv"', 'layout = "magister"', 'path = "export/{school_year}"', "",
        f"[tenants.{TENANT}.targets.{TARGET}]", 'kind = "sds"', 'folder = "sds"', 'username_domain = "school.example"',
        "",
        f"[tenants.{TENANT}.targets.{TARGET}.rules.filters]", 'person_kinds = ["student", "staff"]', "",
    ]
    if sftp is not None:
        lines.append(f"[tenants.{TENANT}.targets.{TARGET}.sftp]")
        lines += [f"{key} = {value!r}".replace("'", '"') if not isinstance(value, (int, float)) else f"{key} = {value}"
                  for key, value in sftp.items() if value is not None]
    return "\n".join(lines) + "\n"


def remove_pupil(bestuur: Bestuur, stamnr: str) -> Bestuur:
    """The pupil left the school: gone from the LAS, and from every lesgroep."""
    return dataclasses.replace(
        bestuur, pupils=tuple(p for p in bestuur.pupils if p.stamnr != stamnr),
        lesgroepen=tuple(dataclasses.replace(g, pupils=tuple(s for s in g.pupils if s != stamnr))
                         for g in bestuur.lesgroepen))


@dataclass
class Workspace:
    root: Path
    sshd: SshServer
    bestuur: dict[SchoolYear, Bestuur] = field(default_factory=dict)
    today: dt.date = dt.date(2025, 10, 1)
    apps: list[Koppel] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.root / "koppel.toml"

    def configure(self, *, school_year: SchoolYear = YEAR, **sftp: Any) -> None:
        settings = self.sshd.settings(**sftp)
        self.config_path.write_text(config_text(settings, school_year=school_year), encoding="utf-8")

    def export(self, bestuur: Bestuur) -> None:
        self.bestuur[bestuur.school_year] = bestuur
        write_layout(bestuur, self.root / "export" / str(bestuur.school_year), "magister")

    def app(self, today: dt.date | None = None) -> Koppel:
        app = Koppel.open(load_config(self.config_path), env={}, today=lambda: today or self.today)
        self.apps.append(app)
        return app

    def cli(self, *args: str) -> Any:
        from koppel.cli.main import app

        result = CliRunner().invoke(app, [*args], env={"KOPPEL_CONFIG": str(self.config_path)}, catch_exceptions=False)
        configure_logging("warning")
        return result

    def local(self, year: SchoolYear = YEAR) -> Path:
        return self.root / "sds" / str(year)

    def remote(self, year: SchoolYear = YEAR) -> Path:
        return self.sshd.home / "sds" / str(year)

    def close(self) -> None:
        for app in self.apps:
            app.store.close()


def make_workspace(root: Path, sshd: SshServer, *, students: int = 200, seed: int = 5) -> Workspace:
    ws = Workspace(root, sshd)
    ws.export(generate(students=students, schools=1, year=YEAR, seed=seed))
    ws.configure()
    return ws
