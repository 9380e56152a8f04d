"""End to end through the command line: a generated school (Magister export) → `koppel plan` / `koppel sync` with a
koppel.toml whose target is ``kind = "scim"`` → a real SCIM server (scim2-server, its own process), behind a
proxy that counts the write requests. Then a LAS change (a pupil changes klas, one leaves: ``active=false``), a
run with nothing to do (0 writes), and the jaarovergang (one held plan; last year's groups renamed, not deleted).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from koppel.cli.common import configure_logging
from koppel.generator import Bestuur, generate, move_pupil, write_layout
from koppel.model.roster import SchoolYear
from tests.lifecycle.support import expected_memberships, without_pupils
from tests.target_scim.conftest import TOKEN_ENV
from tests.target_scim.server import TOKEN, Proxy, ScimServer, Tenant, proxy_for

YEAR, NEXT_YEAR = SchoolYear(2025), SchoolYear(2026)
APPROVER = "Mw. A. de Vries"


def config_text(url: str) -> str:
    return f"""
[state]
url = "sqlite:///state.db"

[tenants.school]
name = "Testschool"
school_year = "{YEAR}"

[tenants.school.validation]
max_errors = 0

[tenants.school.sources.las]
kind = "csv"
layout = "magister"
path = "export/{{school_year}}"

[tenants.school.targets.apps]
kind = "scim"
url = "{url}"
token_env = "{TOKEN_ENV}"

[tenants.school.targets.apps.rules.accounts]
username_student = "{{leerlingnummer}}"
username_staff = "{{docentcode}}"

[tenants.school.targets.apps.policy.lifecycle]
archived_memberships = "keep"
"""


@dataclass
class School:
    root: Path
    tenant: Tenant
    proxy: Proxy
    bestuur: dict[SchoolYear, Bestuur]

    def koppel(self, *args: str) -> Any:
        result = CliRunner().invoke(_cli(), [*args], env={TOKEN_ENV: TOKEN, "KOPPEL_CONFIG": str(self.root / "koppel.toml")},
                                    catch_exceptions=False)
        configure_logging("warning")
        return result

    def export(self, bestuur: Bestuur) -> None:
        import shutil

        folder = self.root / "export" / str(bestuur.school_year)
        shutil.rmtree(folder, ignore_errors=True)
        write_layout(bestuur, folder, "magister")
        self.bestuur[bestuur.school_year] = bestuur

    # what the server holds

    def users(self) -> dict[str, dict[str, Any]]:
        return {u["userName"]: u for u in self.tenant.all("Users")}

    def groups(self) -> dict[str, dict[str, Any]]:
        return {g["externalId"]: g for g in self.tenant.all("Groups")}

    def members(self, *, active_only: bool = True) -> set[tuple[str, str]]:
        """(user name, group externalId) of every member on the server."""
        by_id = {u["id"]: u for u in self.tenant.all("Users")}
        return {(by_id[m["value"]]["userName"], g["externalId"]) for g in self.tenant.all("Groups")
                for m in g.get("members") or () if not active_only or by_id[m["value"]].get("active")}


def _cli():
    from koppel.cli.main import app

    return app


def _pairs(memberships: set[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(user, group) for user, group, _ in memberships}


@contextmanager
def school_of(students: int, server: ScimServer, tenant_name: str, root: Path) -> Iterator[School]:
    """A generated school of ``students`` pupils (this year and next), its koppel.toml, and the proxy."""
    with proxy_for(server, tenant_name) as proxy:
        s = School(root, server.tenant(tenant_name), proxy, {})
        for year in (YEAR, NEXT_YEAR):
            s.export(generate(students=students, schools=1, year=year, seed=11))
        (root / "koppel.toml").write_text(config_text(proxy.url), encoding="utf-8")
        yield s


@pytest.fixture
def school(scim_server: ScimServer, tenant_name: str, tmp_path: Path) -> Iterator[School]:
    # 200 pupils: enough for two klassen in a leerjaar (a pupil can move between them).
    with school_of(200, scim_server, tenant_name, tmp_path) as s:
        yield s


@pytest.fixture
def small_school(scim_server: ScimServer, tenant_name: str, tmp_path: Path) -> Iterator[School]:
    with school_of(40, scim_server, tenant_name, tmp_path) as s:
        yield s


def test_a_school_through_plan_sync_a_las_change_and_the_jaarovergang(school: School):
    old = school.bestuur[YEAR]

    # -- the first sync ------------------------------------------------------------------------------
    check = school.koppel("check")
    assert check.exit_code == 0, check.output
    planned = school.koppel("plan", "--detailed-exitcode", "--show-payloads")
    assert planned.exit_code == 2, planned.output
    assert "POST http://127.0.0.1" in planned.output and TOKEN not in planned.output
    synced = school.koppel("sync")
    assert synced.exit_code == 0, synced.output
    users = school.users()
    pupils = {p.stamnr for p in old.pupils}
    staff = {t.docentcode.lower() for t in old.teachers}
    assert set(users) == pupils | staff and all(u["active"] for u in users.values())
    some = old.pupils[0]
    assert users[some.stamnr]["name"]["givenName"] == some.roepnaam
    assert users[some.stamnr]["name"]["familyName"] == " ".join(x for x in (some.voorvoegsel, some.achternaam) if x)
    assert school.members() == _pairs(expected_memberships(old))
    groups = school.groups()
    assert not [k for k in groups if k.startswith(("year:", "leerjaar:"))], "folders are not sent"
    assert groups[f"school:{old.schools[0].brin6}"]["displayName"] == old.schools[0].name

    # -- nothing changed: nothing is written --------------------------------------------------------
    school.proxy.reset()
    assert school.koppel("plan", "--detailed-exitcode").exit_code == 0
    quiet = school.koppel("sync")
    assert quiet.exit_code == 0, quiet.output
    assert school.proxy.writes() == 0, school.proxy.counts

    # -- the LAS changes: a pupil changes klas, another leaves ----------------------------------------
    mover = next(p for p in old.pupils if any(k.name != p.klas and k.leerjaar == p.leerjaar and k.brin6 == p.brin6
                                              for k in old.klassen))
    new_klas = next(k.name for k in old.klassen if k.name != mover.klas and k.leerjaar == mover.leerjaar)
    leaver = next(p for p in old.pupils if p.stamnr != mover.stamnr)
    changed = without_pupils(move_pupil(old, mover.stamnr, new_klas), [leaver.stamnr])
    school.export(changed)
    school.proxy.reset()
    synced = school.koppel("sync")
    assert synced.exit_code == 0, synced.output
    users = school.users()
    assert users[leaver.stamnr]["active"] is False, "a leaver is suspended: active=false, the account stays"
    assert all(u["active"] for name, u in users.items() if name != leaver.stamnr)
    assert school.members() == _pairs(expected_memberships(changed))
    klas_of = {g: k for g, k in school.members() if g == mover.stamnr}
    assert any(new_klas in key for key in klas_of.values()) and not any(
        key.endswith(f":stamgroep:{mover.klas}") for key in klas_of.values())
    # One PATCH per group whose members changed (adds and removals go in separate batches) and one for the
    # leaver: no reload of the school.
    touched = {g for _, g in _pairs(expected_memberships(old)) ^ _pairs(expected_memberships(changed))}
    assert len(touched) + 1 <= school.proxy.writes() <= 2 * len(touched) + 1, school.proxy.counts
    assert set(school.proxy.counts) <= {"GET", "PATCH"}, school.proxy.counts

    # -- the jaarovergang ------------------------------------------------------------------------------
    new = school.bestuur[NEXT_YEAR]
    before = school.users()
    preview = school.koppel("plan", "--year", str(NEXT_YEAR), "-f", "json")
    plan = json.loads(preview.stdout)
    assert plan["held"] and "jaarovergang" in {h["guard"] for h in plan["holds"]}
    school.proxy.reset()
    assert school.koppel("sync", "--year", str(NEXT_YEAR)).exit_code == 3
    assert school.proxy.writes() == 0, "a held plan writes nothing"
    applied = school.koppel("apply", "--approve", plan["id"], "--by", APPROVER, "--yes")
    assert applied.exit_code == 0, applied.output

    groups = school.groups()
    last_year = {k: g for k, g in groups.items() if f":{YEAR}:" in k}
    assert last_year and all(g["displayName"].endswith(f"({YEAR})") for g in last_year.values()), \
        "last year's groups are archived (renamed), not deleted"
    users = school.users()
    leavers = {p.stamnr for p in changed.pupils} - {p.stamnr for p in new.pupils}
    newcomers = {p.stamnr for p in new.pupils} - {p.stamnr for p in changed.pupils}
    assert leavers and newcomers
    assert all(users[s]["active"] is False for s in leavers)
    assert all(users[s]["active"] for s in newcomers)
    assert all(users[name]["id"] == u["id"] for name, u in before.items()), "nobody is made again"
    this_year = {(u, g) for u, g in school.members() if g.startswith("school:") or f":{NEXT_YEAR}:" in g}
    assert this_year == _pairs(expected_memberships(new))
    # Archived groups keep their members (archived_memberships = "keep").
    kept = {(u, g) for u, g in school.members(active_only=False) if f":{YEAR}:" in g}
    assert kept and kept <= _pairs(expected_memberships(changed))

    # Afterwards: nothing left to do, and a run writes nothing.
    school.proxy.reset()
    assert school.koppel("plan", "--year", str(NEXT_YEAR), "--detailed-exitcode").exit_code == 0
    assert school.koppel("sync", "--year", str(NEXT_YEAR)).exit_code == 0
    assert school.proxy.writes() == 0, school.proxy.counts


def test_busy_answers_are_waited_out_by_the_applier(small_school: School):
    """The proxy answers the first three write requests with 429 and Retry-After: 1, as a throttled SCIM server
    does; the run waits and lands everything."""
    busy = {"left": 3}

    def throttle(method: str, path: str):
        if method in ("POST", "PATCH") and busy["left"] > 0:
            busy["left"] -= 1
            return 429, {"Retry-After": "1", "Content-Type": "application/scim+json"}, b'{"status": "429"}'
        return None

    small_school.proxy.fault = throttle
    synced = small_school.koppel("sync")
    assert synced.exit_code == 0, synced.output
    assert busy["left"] == 0
    old = small_school.bestuur[YEAR]
    assert small_school.members() == _pairs(expected_memberships(old))
    assert len(small_school.users()) == len(old.pupils) + len(old.teachers), "nothing made twice after the retries"
