"""End to end through the command line: a generated school (Magister export) → `koppel check` / `plan` / `sync` with
a koppel.toml whose target is ``kind = "ldap"`` → a real slapd (its own process), over StartTLS verified against the
test CA. Then a run with nothing to do (0 writes, counted by slapd's monitor backend), a LAS change (a pupil changes
klas: member moved; a pupil leaves: locked and moved to the leavers OU), and the jaarovergang (one held plan; next
year's groups in their own OU, last year's left in theirs, leavers locked, nobody made again). Also: two Jan Jansens
get two accounts, and the initial passwords' delivery report.
"""

from __future__ import annotations

import csv
import json
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ldap3 import SUBTREE
from typer.testing import CliRunner

from koppel.cli.common import configure_logging
from koppel.generator import Bestuur, generate, move_pupil, write_layout
from koppel.model.roster import SchoolYear
from tests.lifecycle.support import change_pupil, expected_memberships, without_pupils

from .conftest import PASSWORD_ENV
from .slapd import ADMIN_DN, ADMIN_PASSWORD, Slapd

YEAR, NEXT_YEAR = SchoolYear(2025), SchoolYear(2026)
APPROVER = "Mw. A. de Vries"


def config_text(slapd: Slapd, base_dn: str, *, students: str = "{leerlingnummer}") -> str:
    return f"""
[state]
url = "sqlite:///state.db"

[tenants.school]
name = "Testschool"
school_year = "{YEAR}"

[tenants.school.sources.las]
kind = "csv"
layout = "magister"
path = "export/{{school_year}}"

[tenants.school.targets.directory]
kind = "ldap"
url = "ldap://localhost:{slapd.ldap_port}"
start_tls = true
ca_file = "{slapd.ca_file}"
bind_dn = "{ADMIN_DN}"
password_env = "{PASSWORD_ENV}"
base_dn = "{base_dn}"
password_report_dir = "reports"

[tenants.school.targets.directory.rules.accounts]
username_student = "{students}"
username_staff = "{{docentcode}}"

[tenants.school.targets.directory.policy.lifecycle]
archived_memberships = "keep"
"""


@dataclass
class School:
    root: Path
    slapd: Slapd
    base_dn: str
    bestuur: dict[SchoolYear, Bestuur]

    def koppel(self, *args: str) -> Any:
        result = CliRunner().invoke(_cli(), [*args], env={PASSWORD_ENV: ADMIN_PASSWORD,
                                                           "KOPPEL_CONFIG": str(self.root / "koppel.toml")},
                                    catch_exceptions=False)
        configure_logging("warning")
        return result

    def export(self, bestuur: Bestuur) -> None:
        folder = self.root / "export" / str(bestuur.school_year)
        shutil.rmtree(folder, ignore_errors=True)
        write_layout(bestuur, folder, "magister")
        self.bestuur[bestuur.school_year] = bestuur

    # -- what the directory holds --------------------------------------------------------------------

    def entries(self, search_filter: str, *attributes: str) -> list[dict[str, Any]]:
        conn = self.slapd.admin()
        conn.search(self.base_dn, search_filter, SUBTREE, attributes=list(attributes))
        found = [{"dn": e["dn"], **e["attributes"]} for e in conn.response if e.get("type") == "searchResEntry"]
        conn.unbind()
        return found

    def users(self) -> dict[str, dict[str, Any]]:
        return {e["uid"][0]: e for e in self.entries("(objectClass=inetOrgPerson)", "uid", "employeeNumber", "givenName",
                                                      "sn", "cn", "mail", "entryUUID", "pwdAccountLockedTime")}

    def groups(self) -> dict[str, dict[str, Any]]:
        return {e["businessCategory"][0]: e for e in self.entries("(businessCategory=*)", "businessCategory", "member",
                                                                   "objectClass", "description")}

    def pairs(self) -> set[tuple[str, str]]:
        """(user name, group key) the directory says: members of groups, and each person's home school (the OU their
        entry is in); leavers excluded."""
        users = self.users()
        uid_of = {u["dn"].lower(): name for name, u in users.items()}
        groups = self.groups()
        key_of_dn = {g["dn"].lower(): key for key, g in groups.items()}
        out = {(uid_of[m.lower()], key) for key, g in groups.items() for m in g.get("member", ()) if m.lower() in uid_of
               and not _left(users[uid_of[m.lower()]])}
        for name, user in users.items():
            school = key_of_dn.get(user["dn"].split(",", 2)[2].lower())
            if school and not _left(user):
                out.add((name, school))
        return out


def _left(user: dict[str, Any]) -> bool:
    return ",ou=leavers," in user["dn"].lower()


def _cli():
    from koppel.cli.main import app

    return app


def _pairs(memberships: set[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(user, group) for user, group, _ in memberships}


def _report_rows(root: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted((root / "reports").glob("*.csv")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} must be readable by its owner only"
        with path.open(encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


@pytest.fixture
def school(slapd: Slapd, base_dn: str, tmp_path: Path) -> Iterator[School]:
    s = School(tmp_path, slapd, base_dn, {})
    for year in (YEAR, NEXT_YEAR):
        s.export(generate(students=200, schools=1, year=year, seed=11))
    (tmp_path / "koppel.toml").write_text(config_text(slapd, base_dn), encoding="utf-8")
    yield s


def test_a_school_through_plan_sync_a_las_change_and_the_jaarovergang(school: School):
    old = school.bestuur[YEAR]
    brin6 = old.schools[0].brin6

    # -- the first sync ------------------------------------------------------------------------------
    check = school.koppel("check")
    assert check.exit_code == 0, check.output
    assert "StartTLS, certificate and host name verified" in check.output
    planned = school.koppel("plan", "--detailed-exitcode", "--show-payloads")
    assert planned.exit_code == 2, planned.output
    assert "changetype: add" in planned.output and "objectClass: groupOfNames" in planned.output
    assert ADMIN_PASSWORD not in planned.output
    synced = school.koppel("sync")
    assert synced.exit_code == 0, synced.output
    users = school.users()
    pupils = {p.stamnr for p in old.pupils}
    staff = {t.docentcode.lower() for t in old.teachers}
    assert set(users) == pupils | staff
    some = old.pupils[0]
    held = users[some.stamnr]
    assert (held["givenName"], held["sn"]) == ([some.roepnaam], [some.achternaam])
    assert held["dn"].lower().endswith(f"ou=students,ou={brin6},{school.base_dn}".lower())
    assert school.pairs() == _pairs(expected_memberships(old))
    groups = school.groups()
    year_ou = groups[f"year:{brin6}:{YEAR}"]
    assert year_ou["dn"].lower() == f"ou={YEAR},ou={brin6},{school.base_dn}".lower()
    assert all(g["dn"].lower().endswith(year_ou["dn"].lower()) for k, g in groups.items() if f":{YEAR}:" in k)
    for key, group in groups.items():
        if "groupOfNames" in group["objectClass"]:
            members = [m.lower() for m in group["member"]]
            assert members == [school.base_dn.lower()] or school.base_dn.lower() not in members, \
                f"{key}: the placeholder member only while a group has no real member"

    # The delivery report: one row per new account, mode 0600, and each password opens its account.
    rows = _report_rows(school.root)
    assert {r["username"] for r in rows} == set(users)
    row = next(r for r in rows if r["username"] == some.stamnr)
    assert school.slapd.can_bind(users[some.stamnr]["dn"], row["initial_password"])
    assert row["initial_password"] not in synced.output

    # Reading back finds what koppel sent: no drift, nothing unknown, memberships mapped to their roles.
    reconciled = school.koppel("reconcile", "-f", "json")
    assert reconciled.exit_code == 0, reconciled.output
    report = json.loads(reconciled.stdout)
    assert report["complete"] and report["clean"], report
    assert report["checked"]["membership"] == len(expected_memberships(old))

    # -- nothing changed: nothing is written --------------------------------------------------------
    writes = school.slapd.writes()
    assert school.koppel("plan", "--detailed-exitcode").exit_code == 0
    quiet = school.koppel("sync", "--full")
    assert quiet.exit_code == 0, quiet.output
    assert school.slapd.writes() == writes, "a run with no changes sends no write to the directory"

    # -- the LAS changes: a pupil changes klas, another leaves ----------------------------------------
    mover = next(p for p in old.pupils if any(k.name != p.klas and k.leerjaar == p.leerjaar for k in old.klassen))
    new_klas = next(k.name for k in old.klassen if k.name != mover.klas and k.leerjaar == mover.leerjaar)
    leaver = next(p for p in old.pupils if p.stamnr != mover.stamnr)
    changed = without_pupils(move_pupil(old, mover.stamnr, new_klas), [leaver.stamnr])
    school.export(changed)
    changes = len(json.loads(school.koppel("plan", "-f", "json").stdout)["changes"])
    writes = school.slapd.writes()
    synced = school.koppel("sync")
    assert synced.exit_code == 0, synced.output
    users = school.users()
    gone = users[leaver.stamnr]
    assert _left(gone) and gone["pwdAccountLockedTime"], "a leaver is locked and moved to the leavers OU"
    leaver_password = next(r["initial_password"] for r in rows if r["username"] == leaver.stamnr)
    assert not school.slapd.can_bind(gone["dn"], leaver_password), "a locked account cannot log in"
    assert not any(_left(u) for name, u in users.items() if name != leaver.stamnr)
    assert school.pairs() == _pairs(expected_memberships(changed))
    groups = school.groups()
    mover_dn = users[mover.stamnr]["dn"]
    assert mover_dn in groups[f"las:{brin6}:{YEAR}:stamgroep:{new_klas}"]["member"]
    assert mover_dn not in groups[f"las:{brin6}:{YEAR}:stamgroep:{mover.klas}"]["member"]
    # At most a write per change, plus the StartTLS and the leaver's move: no reload of what did not change.
    assert 0 < school.slapd.writes() - writes <= changes + 2, (school.slapd.writes() - writes, changes)

    # -- the jaarovergang ------------------------------------------------------------------------------
    new = school.bestuur[NEXT_YEAR]
    before = school.users()
    preview = school.koppel("plan", "--year", str(NEXT_YEAR), "-f", "json")
    plan = json.loads(preview.stdout)
    assert plan["held"] and "jaarovergang" in {h["guard"] for h in plan["holds"]}
    writes = school.slapd.writes()
    assert school.koppel("sync", "--year", str(NEXT_YEAR)).exit_code == 3
    assert school.slapd.writes() == writes, "a held plan writes nothing"
    applied = school.koppel("apply", "--approve", plan["id"], "--by", APPROVER, "--yes")
    assert applied.exit_code == 0, applied.output

    users = school.users()
    groups = school.groups()
    assert f"year:{brin6}:{NEXT_YEAR}" in groups
    last_year = {k: g for k, g in groups.items() if f":{YEAR}:" in k}
    assert last_year and all(f"ou={YEAR},".lower() in g["dn"].lower() for g in last_year.values()), \
        "last year's groups stay in their year's OU (archived, not deleted)"
    assert all(f"ou={NEXT_YEAR},".lower() in g["dn"].lower() for k, g in groups.items() if f":{NEXT_YEAR}:" in k)
    leavers = {p.stamnr for p in changed.pupils} - {p.stamnr for p in new.pupils}
    newcomers = {p.stamnr for p in new.pupils} - {p.stamnr for p in changed.pupils}
    assert leavers and newcomers
    assert all(_left(users[s]) and users[s]["pwdAccountLockedTime"] for s in leavers)
    assert all(not _left(users[s]) for s in newcomers)
    assert all(users[name]["entryUUID"] == u["entryUUID"] and users[name]["dn"].split(",")[0] == u["dn"].split(",")[0]
               for name, u in before.items()), "nobody is made again, and no entry is renamed"
    this_year = {(u, g) for u, g in school.pairs() if g.startswith("school:") or f":{NEXT_YEAR}:" in g}
    assert this_year == _pairs(expected_memberships(new))
    assert {r["username"] for r in _report_rows(school.root)} == set(users), "newcomers' passwords are reported"

    # Afterwards: nothing left to do, and a run writes nothing.
    writes = school.slapd.writes()
    assert school.koppel("plan", "--year", str(NEXT_YEAR), "--detailed-exitcode").exit_code == 0
    assert school.koppel("sync", "--year", str(NEXT_YEAR), "--full").exit_code == 0
    assert school.slapd.writes() == writes


def test_two_jan_jansens_get_two_accounts(slapd: Slapd, base_dn: str, tmp_path: Path):
    s = School(tmp_path, slapd, base_dn, {})
    bestuur = generate(students=60, schools=1, year=YEAR, seed=5)
    first, second = bestuur.pupils[0], bestuur.pupils[1]
    for pupil in (first, second):
        bestuur = change_pupil(bestuur, pupil.stamnr, roepnaam="Jan", voorvoegsel="", achternaam="Jansen")
    s.export(bestuur)
    (tmp_path / "koppel.toml").write_text(config_text(slapd, base_dn, students="{initial}{achternaam}"),
                                          encoding="utf-8")
    synced = s.koppel("sync")
    assert synced.exit_code == 0, synced.output
    users = s.users()
    assert {"jjansen", "jjansen2"} <= set(users)
    assert users["jjansen"]["employeeNumber"] != users["jjansen2"]["employeeNumber"]
    assert users["jjansen"]["cn"] == users["jjansen2"]["cn"] == ["Jan Jansen"]
    # The second sync keeps both names: user names never move between accounts.
    keys = {name: users[name]["employeeNumber"] for name in ("jjansen", "jjansen2")}
    assert s.koppel("sync").exit_code == 0
    assert {name: s.users()[name]["employeeNumber"] for name in keys} == keys
