"""The commented koppel.toml that `koppel init` writes (and the demo uses)."""

from __future__ import annotations

import datetime as dt


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(*, source: str, layout: str, target_kind: str, url: str | None, username: str | None,
                  password_env: str | None, tenant: str = "school", name: str | None = None, school: str | None = None,
                  state: str = "sqlite:///koppel-state.db", today: dt.date | None = None,
                  target_name: str | None = None, site_root: str = "koppel-root", school_year: str = "auto") -> str:
    target_name = target_name or target_kind
    when = f" on {today.isoformat()}" if today else ""
    lines = [
        f"# koppel configuration, written by `koppel init`{when}.",
        "# Every setting: docs/configuration.md, or `koppel connectors describe <kind>`.",
        "",
        "[state]",
        "# What koppel knows each target holds, its runs, plans and history. A SQLite file next to this one;",
        "# a service provider with many tenants uses PostgreSQL: url = \"postgresql://koppel@dbhost/koppel\".",
        f"url = {_q(state)}",
        "",
        f"[tenants.{tenant}]",
        f"name = {_q(name or tenant)}",
        "# The school year to read: \"auto\" follows the calendar and switches on year_start; or pin one (\"2025-2026\").",
        f"school_year = {_q(school_year)}",
        "year_start = \"08-01\"",
        "",
        f"[tenants.{tenant}.validation]",
        "# Bad rows are always left out and reported. With more data errors than this, a run stops before planning.",
        "max_errors = 0",
        "",
        f"[tenants.{tenant}.sources.las]",
        "# The LAS export. The source name (\"las\") is part of every key koppel derives: do not rename it later.",
        "kind = \"csv\"",
        f"layout = {_q(layout)}   # magister | somtoday | koppel",
        f"path = {_q(source)}",
    ]
    if school:
        lines.append(f"school = {_q(school)}   # BRIN6 of this single-school export")
    lines += ["", f"[tenants.{tenant}.targets.{target_name}]", f"kind = {_q(target_kind)}"]
    if target_kind == "itslearning":
        lines += [
            "# The URL, user name and password that itslearning's admin page (Manage IMS Enterprise › Web services)",
            "# generated for this integration. The password is read from the environment, never from this file.",
            f"url = {_q(url or 'https://enterprise.itslearning.com/WCFServiceLibrary/ImsEnterpriseServicesPort.svc')}",
            f"username = {_q(username or 'CHANGE-ME')}",
            f"password_env = {_q(password_env or 'KOPPEL_ITSLEARNING_PASSWORD')}",
            "# Sync id of the site root hierarchy; schools hang under it.",
            f"site_root = {_q(site_root)}",
            "# itslearning asks for fewer than 10 unprocessed operations (objects in all unanswered requests).",
            "max_operations_in_flight = 9   # the ceiling, never passed; raise only as agreed with itslearning",
            "adaptive = true                # below it: less when itslearning is busy or slower, more when it keeps up",
            "batch_size = 50                # objects per request at most (itslearning: at most 50)",
        ]
    elif target_kind == "fake":
        lines += ["# An in-memory target kept in a JSON file: for trying koppel out without a platform.",
                  "path = \"fake-target.json\""]
    lines += [
        "",
        f"[tenants.{tenant}.targets.{target_name}.rules]",
        "# lesgroep: one course per lesgroep/cluster | klas-vak: per klas × vak | vak-jaarlaag: per vak × leerjaar",
        "course_strategy = \"lesgroep\"",
        "",
        f"[tenants.{tenant}.targets.{target_name}.rules.hierarchy]",
        "year = true          # school › 2025-2026 › klassen and courses (last year's courses stay put)",
        "leerjaar = false     # add a 'Leerjaar N' level",
        "klassen = true       # a node per klas with its pupils and mentor",
        "course_parent = \"year\"",
        "",
        f"[tenants.{tenant}.targets.{target_name}.rules.names]",
        "course = \"{vak_naam} {groep}\"",
        "course_code = \"{groep} {school_year_short}\"",
        "",
        f"[tenants.{tenant}.targets.{target_name}.rules.accounts]",
        "# User names never change once made; a collision gets 2, 3, …",
        "username_student = \"{leerlingnummer}\"",
        "username_staff = \"{docentcode}\"",
        "email = \"las-or-template\"   # las | template | las-or-template | none",
        "# domain = \"leerling.school.nl\"",
        "",
        f"[tenants.{tenant}.targets.{target_name}.rules.filters]",
        "# schools = [\"12AB00\"]   leerjaren = [1, 2, 3]   klassen = [\"4*\"]",
        "person_kinds = [\"student\", \"staff\"]",
        "",
        f"[tenants.{tenant}.targets.{target_name}.policy.lifecycle]",
        "grace_days_student = 30   # a pupil who left is suspended, and deleted after this many days",
        "grace_days_staff = 60",
        "absent_groups = \"archive\"           # archive | delete",
        "archived_memberships = \"keep\"       # keep | remove | keep-teachers (jaarovergang: read access)",
        "",
        f"[tenants.{tenant}.targets.{target_name}.policy.guards]",
        "# Suspensions and deletions above these limits hold the plan until someone approves it.",
        "max_percent = 10.0",
        "max_count = 500",
        "",
        f"[tenants.{tenant}.targets.{target_name}.policy.protected]",
        "# Fields koppel sets on create but never overwrites, e.g. person = [\"email\"].",
        "person = []",
        "group = []",
        "",
    ]
    return "\n".join(lines)
