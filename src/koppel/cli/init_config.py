"""The commented koppel.toml that `koppel init` writes (and the demo uses).

It ends with two commented sections, for `koppel serve`: the target's schedule and the notifications of failed
runs and held plans. Their settings are commented with one ``#``, their explanations with ``##``: removing one
``# `` from every line of a section gives a working section (the tests check it with the service's own loaders).
"""

from __future__ import annotations

import datetime as dt


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(*, source: str, layout: str, target_kind: str, url: str | None, username: str | None,
                  password_env: str | None, tenant: str = "school", name: str | None = None, school: str | None = None,
                  state: str = "sqlite:///koppel-state.db", today: dt.date | None = None,
                  target_name: str | None = None, site_root: str = "koppel-root", school_year: str = "auto") -> str:
    target = f"tenants.{tenant}.targets.{target_name or target_kind}"
    lines = [
        *_state_and_tenant(tenant, name, state, school_year, today),
        *_source(tenant, source, layout, school),
        "", f"[{target}]", f"kind = {_q(target_kind)}",
        *_target_settings(target_kind, url, username, password_env, site_root),
        *_rules(target),
        *_policy(target),
        *_schedule(target),
        *_notifications(),
    ]
    return "\n".join(lines)


def _state_and_tenant(tenant: str, name: str | None, state: str, school_year: str, today: dt.date | None) -> list[str]:
    when = f" on {today.isoformat()}" if today else ""
    return [
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
    ]


def _source(tenant: str, source: str, layout: str, school: str | None) -> list[str]:
    lines = [
        "",
        f"[tenants.{tenant}.sources.las]",
        "# The LAS export. The source name (\"las\") is part of every key koppel derives: do not rename it later.",
        "kind = \"csv\"",
        f"layout = {_q(layout)}   # magister | somtoday | koppel",
        f"path = {_q(source)}",
    ]
    if school:
        lines.append(f"school = {_q(school)}   # BRIN6 of this single-school export")
    return lines


def _target_settings(target_kind: str, url: str | None, username: str | None, password_env: str | None,
                     site_root: str) -> list[str]:
    if target_kind == "itslearning":
        return [
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
    if target_kind == "fake":
        return ["# An in-memory target kept in a JSON file: for trying koppel out without a platform.",
                "path = \"fake-target.json\""]
    return []


def _rules(target: str) -> list[str]:
    return [
        "",
        f"[{target}.rules]",
        "# lesgroep: one course per lesgroep/cluster | klas-vak: per klas × vak | vak-jaarlaag: per vak × leerjaar",
        "course_strategy = \"lesgroep\"",
        "",
        f"[{target}.rules.hierarchy]",
        "year = true          # school › 2025-2026 › klassen and courses (last year's courses stay put)",
        "leerjaar = false     # add a 'Leerjaar N' level",
        "klassen = true       # a node per klas with its pupils and mentor",
        "course_parent = \"year\"",
        "",
        f"[{target}.rules.names]",
        "course = \"{vak_naam} {groep}\"",
        "course_code = \"{groep} {school_year_short}\"",
        "",
        f"[{target}.rules.accounts]",
        "# User names never change once made; a collision gets 2, 3, …",
        "username_student = \"{leerlingnummer}\"",
        "username_staff = \"{docentcode}\"",
        "email = \"las-or-template\"   # las | template | las-or-template | none",
        "# domain = \"leerling.school.nl\"",
        "",
        f"[{target}.rules.filters]",
        "# schools = [\"12AB00\"]   leerjaren = [1, 2, 3]   klassen = [\"4*\"]",
        "person_kinds = [\"student\", \"staff\"]",
    ]


def _policy(target: str) -> list[str]:
    return [
        "",
        f"[{target}.policy.lifecycle]",
        "grace_days_student = 30   # a pupil who left is suspended, and deleted after this many days",
        "grace_days_staff = 60",
        "absent_groups = \"archive\"           # archive | delete",
        "archived_memberships = \"keep\"       # keep | remove | keep-teachers (jaarovergang: read access)",
        "",
        f"[{target}.policy.guards]",
        "# Suspensions and deletions above these limits hold the plan until someone approves it.",
        "max_percent = 10.0",
        "max_count = 500",
        "",
        f"[{target}.policy.protected]",
        "# Fields koppel sets on create but never overwrites, e.g. person = [\"email\"].",
        "person = []",
        "group = []",
        "",
    ]


SCHEDULE_HEADING = "# When `koppel serve` synchronises this target"
NOTIFICATIONS_HEADING = "# Notices from `koppel serve`"


def _schedule(target: str) -> list[str]:
    return [
        f"{SCHEDULE_HEADING} (docs/service.md). To use it, remove one '# ' from each line",
        "# from [...schedule] on.",
        f"# [{target}.schedule]",
        "# enabled = true",
        "# interval = \"2h\"               ## or a cron expression instead: cron = \"0 6-18 * * 1-5\"",
        "# windows = [\"06:00-22:00\"]     ## runs start only inside these local times; [] = any time",
        "# pauses = [\"07-10..08-15\"]     ## no runs on these dates (inclusive): the summer freeze",
        "# timezone = \"Europe/Amsterdam\" ## of the cron fields, the windows and the pauses",
        "# run_timeout = \"1h\"            ## a run taking longer is stopped and fails (a LAS that hangs)",
        "",
    ]


def _notifications() -> list[str]:
    return [
        f"{NOTIFICATIONS_HEADING} when a run fails or a plan is held for approval (docs/service.md), by e-mail,",
        "# a webhook or both; the SMTP password and the webhook's secret are read from the environment, never from",
        "# this file. To use them, remove one '# ' from each line from [service] on (leave out a channel you do not use).",
        "# [service]",
        "# base_url = \"https://koppel.school.nl\"   ## the dashboard's address, for the links in the notices",
        "#",
        "# [service.email]",
        "# host = \"smtp.school.nl\"",
        "# port = 587                             ## STARTTLS; 465 with ssl = true",
        "# from = \"koppel@school.nl\"",
        "# to = [\"ict@school.nl\"]",
        "# user = \"koppel\"",
        "# password_env = \"KOPPEL_SMTP_PASSWORD\"",
        "#",
        "# [service.webhook]",
        "# url = \"https://hooks.school.nl/koppel\"",
        "# secret_env = \"KOPPEL_WEBHOOK_SECRET\"   ## signs the JSON body: X-Koppel-Signature: sha256=<hmac>",
        "",
    ]
