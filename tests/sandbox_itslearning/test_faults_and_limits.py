"""Trouble on purpose: batch size counting, latency, transient and permanent faults. Load: test_capacity.py."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from koppel.sandbox.itslearning import SandboxServer

from .conftest import StartSandbox
from .envelopes import (
    Client,
    Reply,
    by_id,
    envelope,
    group,
    person,
    write_many,
    write_one,
)

WCF_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"


def client(server: SandboxServer, http: httpx.Client) -> Client:
    return Client(server, http)


def test_a_batch_over_max_batch_is_processed_and_counted(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    """itslearning discourages more than 50 operations a request but documents no refusal: the sandbox
    processes such a request and counts it."""
    with start_sandbox(max_batch=3) as server:
        its = client(server, http)
        its.ok(write_many("create", "Person", [(f"p{i}", person()) for i in range(3)]))
        assert server.stats()["batches_over_50"] == 0
        reply = its.ok(write_many("create", "Person", [(f"q{i}", person()) for i in range(4)]))
        assert len(reply.statuses) == 4
        stats = server.stats()
        assert stats["persons"] == 7 and stats["batches_over_50"] == 1 and stats["http_503"] == 0


def test_a_second_member_is_skipped_not_counted(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    """The 2017 schema allows one ``member`` per membership: the serializer drops a second one (out of
    order), so it is neither stored nor an operation."""
    with start_sandbox(max_batch=1) as server:
        its = client(server, http)
        its.ok(write_one("create", "Group", "site", group("Site", "Site")))
        its.ok(write_one("create", "Group", "s", group("S", "School", "site")))
        its.ok(write_one("create", "Person", "p1", person()))
        its.ok(write_one("create", "Person", "p2", person("Piet", "P")))
        two_members = (
            "<m:membership><d:groupSourcedId><c:identifier>s</c:identifier></d:groupSourcedId>"
            + "".join(
                f"<d:member><d:memberSourcedId><c:identifier>{key}</c:identifier></d:memberSourcedId>"
                "<d:role><d:roleType>01</d:roleType></d:role></d:member>"
                for key in ("p1", "p2")
            )
            + "</m:membership>"
        )
        its.ok(write_one("create", "Membership", "m1", two_members))
        stats = server.stats()
        assert stats["batches_over_50"] == 0
        assert stats["elements_skipped"] == {"unknown": 0, "out_of_order": 1}
        (stored,) = server.objects()["memberships"]
        assert stored["person_sync_key"] == "p1"


def test_transient_faults_follow_the_rate_and_the_seed(
    start_sandbox: StartSandbox, http: httpx.Client
) -> None:
    def fault_pattern(seed: int) -> list[bool]:
        with start_sandbox(fail_rate=0.3, fail_mode="before", seed=seed) as server:
            server.reset()
            its = client(server, http)
            replies = [its.call(by_id("readPerson", "Person", "nobody")) for _ in range(200)]
            assert server.stats()["faults_injected"] == sum(r.http_status == 500 for r in replies)
            return [r.http_status == 500 for r in replies]

    first = fault_pattern(seed=7)
    assert 40 <= sum(first) <= 80  # 30 % of 200, well inside five standard deviations (6.5)
    assert fault_pattern(seed=7) == first
    assert fault_pattern(seed=8) != first


def test_injected_fault_is_an_internal_service_fault(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    with start_sandbox(fail_rate=1.0, fail_mode="before") as server:
        reply = client(server, http).call(write_one("create", "Person", "p1", person()))
        assert reply.http_status == 500
        (code, text) = reply.fault
        assert code == (WCF_DISPATCHER, "InternalServiceFault")
        assert text.startswith("The server was unable to process the request due to an internal error.")
        assert server.stats()["persons"] == 0


def test_after_mode_writes_and_then_loses_the_answer(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    with start_sandbox(fail_rate=1.0, fail_mode="after") as server:
        reply = client(server, http).call(write_one("create", "Person", "p1", person()))
        assert reply.http_status == 500
        assert server.stats()["persons"] == 1  # written although the client saw a failure
        retry = client(server, http).call(write_one("create", "Person", "p1", person()))
        assert (
            retry.http_status == 500 and server.stats()["persons"] == 1
        )  # the upsert makes a retry harmless


def test_mixed_mode_does_both(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    with start_sandbox(fail_rate=1.0, fail_mode="mixed", seed=3) as server:
        its = client(server, http)
        replies = [its.call(write_one("create", "Person", f"p{i}", person())) for i in range(40)]
        assert all(reply.http_status == 500 for reply in replies)
        written = server.stats()["persons"]
        assert 8 <= written <= 32  # about half were processed before the fault


def test_permanent_failures_pick_the_same_objects_every_time(
    start_sandbox: StartSandbox, http: httpx.Client
) -> None:
    with start_sandbox(permanent_fail_rate=0.5, seed=11, max_batch=100) as server:
        its = client(server, http)
        items = [(f"p{i}", person()) for i in range(60)]
        first = [s.ok for s in its.call(write_many("create", "Person", items)).statuses]
        again = its.call(write_many("create", "Person", items)).statuses
        assert [s.ok for s in again] == first
        assert 15 <= first.count(False) <= 45
        failed = next(s for s in again if not s.ok)
        assert (failed.severity, failed.minor) == ("error", "invaliddata")
        assert server.stats()["persons"] == first.count(True)


def test_latency_lets_concurrent_requests_overlap(start_sandbox: StartSandbox) -> None:
    with start_sandbox(latency_ms=200) as server:
        url = server.endpoint("pms")
        body = envelope(by_id("readPerson", "Person", "nobody"))
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": "http://www.imsglobal.org/soap/pms/readPerson",
        }

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=10) as http:
                return await asyncio.gather(
                    *(http.post(url, content=body, headers=headers) for _ in range(10))
                )

        started = time.perf_counter()
        responses = asyncio.run(burst())
        elapsed = time.perf_counter() - started
        assert [response.status_code for response in responses] == [200] * 10
        assert all(Reply(response).status.minor == "unknownobject" for response in responses)
        assert elapsed < 1.0, f"10 requests of 200 ms took {elapsed:.2f} s: they did not overlap"
        assert server.stats()["max_in_flight_seen"] == 10


@pytest.mark.parametrize(
    "setting",
    [
        {"fail_rate": 1.5},
        {"fail_mode": "sometimes"},
        {"max_batch": 0},
        {"latency_ms": -1},
        {"capacity_ops_per_s": 0},
        {"capacity_ops_per_s": -5.0},
        {"queue_limit_ops": 0},
        {"retry_after_s": -1},
        {"max_operations_in_flight": 0},
        {"extra_institution_roles": ("AICC", " ")},
    ],
)
def test_settings_are_validated(setting: dict, tmp_path) -> None:
    from koppel.errors import ConfigError
    from koppel.sandbox.itslearning import SandboxConfig

    with pytest.raises(ConfigError):
        SandboxConfig(db_path=tmp_path / "x.db", **setting)
