"""The sandbox as a program: restarts, the JSON and HTML views, sandbox-only routes, the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from koppel.sandbox.itslearning import SandboxConfig, SandboxServer, create_app

from .conftest import StartSandbox
from .envelopes import Client, by_id, envelope, group, membership, person, write_many, write_one


def test_restart_keeps_the_data(tmp_path: Path, http: httpx.Client) -> None:
    server = SandboxServer(SandboxConfig(db_path=tmp_path / "kept.db"))
    with server:
        Client(server, http).ok(write_one("create", "Person", "p1", person()))
    assert not server.running
    with server:  # a restart may pick another free port; .url and .endpoint() follow it
        assert server.running and server.url.startswith("http://127.0.0.1:")
        Client(server, http).ok(by_id("readPerson", "Person", "p1"))
        stats = server.stats()
        assert stats["persons"] == 1 and stats["requests"] == {"createPerson": 1, "readPerson": 1}


def test_stats_and_objects(its: Client) -> None:
    its.ok(
        write_many("create", "Group", [("site", group("Site", "Site")), ("s", group("S", "School", "site"))])
    )
    its.ok(write_many("create", "Person", [("p1", person()), ("p2", person("Piet", "P"))]))
    its.ok(write_many("create", "Membership", [("m1", membership("s", "p1")), ("m2", membership("s", "p2"))]))
    its.ok(by_id("deletePerson", "Person", "p2"))
    its.ok(by_id("readGroup", "Group", "s"))

    stats = its.sandbox.stats()
    assert {key: stats[key] for key in ("persons", "groups", "memberships", "trashed_persons", "writes")} == {
        "persons": 1,
        "groups": 2,
        "memberships": 1,
        "trashed_persons": 1,
        "writes": 4,
    }
    assert stats["requests"] == {
        "createGroups": 1,
        "createPersons": 1,
        "createMemberships": 1,
        "deletePerson": 1,
        "readGroup": 1,
    }
    assert {"orphaned_courses", "max_in_flight_seen", "faults_injected"} <= set(stats)
    assert stats["operations_in_flight"]["samples"] == 5
    assert (stats["http_503"], stats["batches_over_50"]) == (0, 0)
    assert stats["elements_skipped"] == {"unknown": 0, "out_of_order": 0}
    assert "busy_rejections" not in stats

    objects = its.objects()
    hidden = {m["sync_id"]: m["person_trashed"] for m in objects["memberships"]}
    assert hidden == {"m1": False, "m2": True}
    assert [p["trashed"] for p in objects["persons"]] == [False, True]
    assert objects["groups"][1]["parent_sync_id"] == "site"


def test_manual_routes_are_sandbox_only_helpers(its: Client) -> None:
    base = its.sandbox.url + "/sandbox/api"
    made = its.http.post(
        base + "/manual/person", json={"first": "Hand", "last": "Made", "username": "hm", "sync_key": None}
    )
    assert made.status_code == 200 and made.headers["X-Sandbox-Only"] == "true"
    assert made.json()["origin"] == "manual" and made.json()["sync_key"] is None

    its.ok(write_one("create", "Person", "p1", person(email="old@school.nl")))
    edited = its.http.post(
        base + "/manual/edit",
        json={"kind": "person", "sync_key": "p1", "field": "email", "value": "new@school.nl"},
    )
    assert edited.status_code == 200 and edited.json()["email"] == "new@school.nl"
    its.ok(write_one("create", "Group", "site", group("Site", "Site")))
    renamed = its.http.post(
        base + "/manual/edit",
        json={"kind": "group", "sync_id": "site", "field": "name", "value": "Renamed by admin"},
    )
    assert renamed.json()["name"] == "Renamed by admin"

    taken = its.http.post(base + "/manual/person", json={"first": "A", "last": "B", "username": "HM"})
    assert taken.status_code == 409
    bad = its.http.post(base + "/manual/edit", json={"kind": "person", "sync_key": "p1", "field": "password"})
    assert bad.status_code == 400
    missing = its.http.post(
        base + "/manual/edit", json={"kind": "group", "sync_id": "x", "field": "name", "value": "y"}
    )
    assert missing.status_code == 404

    reset = its.http.post(base + "/reset")
    assert reset.status_code == 200 and reset.headers["X-Sandbox-Only"] == "true"
    assert its.objects() == {"persons": [], "groups": [], "courses": [], "memberships": []}
    assert its.sandbox.stats()["requests_total"] == 0


def test_html_pages_render_and_escape(its: Client) -> None:
    evil = "<script>alert('x')</script>"
    its.ok(
        write_many(
            "create", "Group", [("site", group("Site", "Site")), ("s&<1>", group(evil, "School", "site"))]
        )
    )
    its.ok(write_one("create", "Person", "p1", person(evil, "Jansen", email="a&b@school.nl")))
    its.ok(write_one("create", "Membership", "m1", membership("s&<1>", "p1")))
    its.ok(by_id("deletePerson", "Person", "p1"))
    objects = its.objects()
    group_id = next(g["id"] for g in objects["groups"] if g["sync_id"] == "s&<1>")

    pages = [
        "/sandbox/",
        "/sandbox/users",
        "/sandbox/trash",
        f"/sandbox/groups/{group_id}",
        "/sandbox/requests",
    ]
    for path in pages:
        response = its.http.get(its.sandbox.url + path)
        assert response.status_code == 200, path
        assert "text/html" in response.headers["content-type"]
        assert evil not in response.text, path
        assert "not itslearning" in response.text
    assert "&lt;script&gt;" in its.http.get(its.sandbox.url + "/sandbox/").text
    assert "s&amp;&lt;1&gt;" in its.http.get(its.sandbox.url + f"/sandbox/groups/{group_id}").text
    assert "hidden: person in trash" in its.http.get(its.sandbox.url + f"/sandbox/groups/{group_id}").text
    assert "a&amp;b@school.nl" in its.http.get(its.sandbox.url + "/sandbox/trash").text
    assert "createMembership" in its.http.get(its.sandbox.url + "/sandbox/requests").text
    assert its.http.get(its.sandbox.url + "/sandbox/groups/99999").status_code == 404


def test_create_app_is_a_plain_asgi_app(tmp_path: Path) -> None:
    import asyncio

    app = create_app(SandboxConfig(db_path=tmp_path / "asgi.db"))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            return await client.post(
                "/WCFServiceLibrary/PersonManagementServiceSync.svc",
                content=envelope(write_one("create", "Person", "p1", person())),
                headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": "http://www.imsglobal.org/soap/pms/createPerson",
                },
            )

    assert asyncio.run(call()).status_code == 200
    app.state.sandbox.close()


def test_endpoint_urls(start_sandbox: StartSandbox) -> None:
    with start_sandbox() as server:
        assert server.endpoint("combined") == server.url + "/WCFServiceLibrary/ImsEnterpriseServicesPort.svc"
        assert server.endpoint("epms").endswith("/ExtendedPersonManagementServiceSync.svc")


def test_command_line_runs_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "SANDBOX_SECRET": "s3cret"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "koppel.sandbox.itslearning",
            "--port",
            "0",
            "--db",
            str(tmp_path / "cli.db"),
            "--latency-ms",
            "0",
            "--fail-rate",
            "0",
            "--password-env",
            "SANDBOX_SECRET",
            "--username",
            "school",
            "--capacity",
            "500",
            "--queue-limit",
            "80",
            "--retry-after",
            "3",
            "--profiles",
            "System Administrator, AICC",
            "--max-in-flight",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    try:
        banner = [process.stdout.readline() for _ in range(13)]
        assert "not itslearning" in banner[0]
        url = banner[0].rsplit(" on ", 1)[1].strip()
        assert any("the password in $SANDBOX_SECRET" in line for line in banner)
        assert any("500 operations/s, 503 above 80 queued" in line for line in banner)
        assert any("System Administrator, AICC" in line for line in banner)
        assert not any("s3cret" in line for line in banner)
        content = envelope(
            write_one("create", "Person", "p1", person(role="AICC")), username="school", password="s3cret"
        )
        response = httpx.post(
            url + "/WCFServiceLibrary/PersonManagementServiceSync.svc",
            content=content,
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": "http://www.imsglobal.org/soap/pms/createPerson",
            },
        )
        assert response.status_code == 200 and b"<codeMajor>success</codeMajor>" in response.content
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "stopped" in stdout
    assert "--max-in-flight is ignored" in stderr


def test_command_line_refuses_a_missing_password_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "koppel.sandbox.itslearning",
            "--port",
            "0",
            "--db",
            str(tmp_path / "x.db"),
            "--password-env",
            "KOPPEL_TEST_SURELY_UNSET",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k != "KOPPEL_TEST_SURELY_UNSET"},
    )
    assert result.returncode == 2 and "KOPPEL_TEST_SURELY_UNSET" in result.stderr


def test_site_root_exists_from_the_start_when_configured(tmp_path):
    from koppel.sandbox.itslearning import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(db_path=tmp_path / "s.db", site_root="root-1")) as sb:
        groups = sb.objects()["groups"]
        assert [(g["sync_id"], g["type"]) for g in groups] == [("root-1", "Site")]
        sb.reset()
        assert [g["sync_id"] for g in sb.objects()["groups"]] == ["root-1"]


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--capacity", "0"], "capacity_ops_per_s"),
        (["--queue-limit", "0"], "queue_limit_ops"),
        (["--retry-after", "-1"], "retry_after_s"),
        (["--max-operations-in-flight", "0"], "max_operations_in_flight"),
    ],
)
def test_command_line_refuses_bad_load_settings(tmp_path: Path, capsys, flags: list[str], problem: str) -> None:
    from koppel.sandbox.itslearning import main

    assert main(["--port", "0", "--db", str(tmp_path / "x.db"), *flags]) == 2
    assert problem in capsys.readouterr().err
