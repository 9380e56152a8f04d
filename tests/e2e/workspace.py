"""A real koppel set-up for end-to-end tests: a generated school exported as Magister files, the
itslearning sandbox on a free local port, a koppel.toml, and the application on top."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from koppel.cli.init_config import render_config
from koppel.config import load_config
from koppel.generator import Bestuur, generate, write_layout
from koppel.model.roster import SchoolYear
from koppel.pipeline import Koppel
from koppel.sandbox.itslearning import SandboxConfig, SandboxServer

PASSWORD_ENV = "KOPPEL_TEST_ITSLEARNING_PASSWORD"
PASSWORD = "s3cret-sandbox-pw"
SITE_ROOT = "koppel-test-root"
YEAR = SchoolYear(2025)


@dataclass
class Workspace:
    root: Path
    bestuur: Bestuur
    sandbox: SandboxServer
    extra: str = ""
    password: str = PASSWORD
    today: dt.date = dt.date(2025, 10, 1)
    apps: list[Koppel] = field(default_factory=list)

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def config_path(self) -> Path:
        return self.root / "koppel.toml"

    def write_config(self, *, url: str | None = None, extra: str | None = None) -> None:
        text = render_config(source="export", layout="magister", target_kind="itslearning",
                             url=url or self.sandbox.endpoint("combined"), username="koppel",
                             password_env=PASSWORD_ENV, tenant="school", name="Testschool",
                             state="sqlite:///state.db", site_root=SITE_ROOT, school_year=str(YEAR))
        self.config_path.write_text(text + (extra if extra is not None else self.extra), encoding="utf-8")

    def relaunch_export(self, bestuur: Bestuur) -> None:
        self.bestuur = bestuur
        write_layout(bestuur, self.export, "magister")

    def app(self, *, password: str | None = None, today: dt.date | None = None) -> Koppel:
        env = {PASSWORD_ENV: password or self.password}
        app = Koppel.open(load_config(self.config_path), env=env, today=lambda: today or self.today)
        self.apps.append(app)
        return app

    def close(self) -> None:
        for app in self.apps:
            app.store.close()
        self.sandbox.stop()


def make_workspace(root: Path, *, students: int = 200, seed: int = 11, latency_ms: float = 0, fail_rate: float = 0.0,
                   extra: str = "", max_operations_in_flight: int | None = 9) -> Workspace:
    """The sandbox is strict by default: a request that would put more than nine operations in flight (koppel's
    default ceiling, itslearning's "fewer than 10") is refused with HTTP 503, so every e2e test checks the budget."""
    bestuur = generate(students=students, schools=1, year=YEAR, seed=seed)
    write_layout(bestuur, root / "export", "magister")
    sandbox = SandboxServer(SandboxConfig(db_path=root / "sandbox.db", username="koppel", password=PASSWORD,
                                          site_root=SITE_ROOT, latency_ms=latency_ms, fail_rate=fail_rate, seed=seed,
                                          max_operations_in_flight=max_operations_in_flight))
    sandbox.start()
    ws = Workspace(root, bestuur, sandbox, extra=extra)
    ws.write_config()
    return ws
