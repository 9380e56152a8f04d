"""Load: the capacity model (one FIFO queue of operations, HTTP 503 when full), the strict cap on
operations in flight, and how operations in flight are measured.

Timing is only used as a generous bound on behaviour ("the 503 came before the queued request was
answered", "three queued requests took at least their processing time"), never as a measurement.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from koppel.sandbox.itslearning import SandboxServer

from .conftest import StartSandbox
from .envelopes import Body, Client, by_id, by_ids, envelope, person, write_many

HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def read_persons(operations: int) -> Body:
    """A request of ``operations`` operations that writes nothing (every id one operation)."""
    return by_ids("readPersons", "Person", [f"p{i}" for i in range(operations)])


async def post(http: httpx.AsyncClient, server: SandboxServer, body: Body) -> httpx.Response:
    return await http.post(
        server.endpoint(body.service), content=envelope(body), headers={**HEADERS, "SOAPAction": body.action}
    )


def test_a_full_queue_answers_503_at_once(start_sandbox: StartSandbox) -> None:
    with start_sandbox(capacity_ops_per_s=20, queue_limit_ops=10) as server:

        async def scenario() -> tuple[httpx.Response, bool, httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as http:
                queued = asyncio.create_task(post(http, server, read_persons(10)))  # 0.5 s of work
                await asyncio.sleep(0.1)
                refused = await post(http, server, read_persons(1))
                queued_was_pending = not queued.done()
                return refused, queued_was_pending, await queued

        refused, queued_was_pending, answered = asyncio.run(scenario())
        assert refused.status_code == 503 and queued_was_pending
        assert refused.headers["content-type"].startswith("text/html")
        assert "Service Unavailable" in refused.text and "<soap" not in refused.text.lower()
        assert "retry-after" not in refused.headers
        assert answered.status_code == 200
        stats = server.stats()
        assert stats["http_503"] == 1
        assert stats["persons"] == 0


def test_retry_after_is_sent_only_when_configured(start_sandbox: StartSandbox) -> None:
    with start_sandbox(max_operations_in_flight=2, retry_after_s=7) as server:

        async def refused() -> httpx.Response:
            async with httpx.AsyncClient(timeout=30) as http:
                return await post(http, server, read_persons(3))

        response = asyncio.run(refused())
        assert response.status_code == 503 and response.headers["retry-after"] == "7"


def test_latency_grows_with_the_queue(start_sandbox: StartSandbox) -> None:
    """Three requests of 10 operations at 100 operations/s: the last is answered after ≥ 0.3 s."""
    with start_sandbox(capacity_ops_per_s=100, queue_limit_ops=100) as server:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as http:
                return await asyncio.gather(*(post(http, server, read_persons(10)) for _ in range(3)))

        started = time.perf_counter()
        responses = asyncio.run(burst())
        elapsed = time.perf_counter() - started
        assert [response.status_code for response in responses] == [200] * 3
        assert 0.29 <= elapsed < 10, elapsed


def test_an_empty_queue_takes_a_request_larger_than_its_limit(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    with start_sandbox(capacity_ops_per_s=1000, queue_limit_ops=5) as server:
        its = Client(server, http)
        reply = its.ok(write_many("create", "Person", [(f"p{i}", person()) for i in range(8)]))
        assert len(reply.statuses) == 8
        assert server.stats()["http_503"] == 0


def test_the_strict_cap_refuses_a_request_that_alone_is_too_large(start_sandbox: StartSandbox, http: httpx.Client) -> None:
    with start_sandbox(max_operations_in_flight=3) as server:
        its = Client(server, http)
        response = http.post(
            server.endpoint("pms"),
            content=envelope(write_many("create", "Person", [(f"p{i}", person()) for i in range(4)])),
            headers={**HEADERS, "SOAPAction": "http://www.imsglobal.org/soap/pms/createPersons"},
        )
        assert response.status_code == 503
        assert server.stats()["persons"] == 0  # nothing was processed
        its.ok(write_many("create", "Person", [(f"p{i}", person()) for i in range(3)]))
        stats = server.stats()
        assert (stats["persons"], stats["http_503"]) == (3, 1)
        log = httpx.get(server.url + "/sandbox/requests", timeout=10).text
        assert "<td>503</td><td>throttled</td>" in log


def test_the_strict_cap_counts_concurrent_requests(start_sandbox: StartSandbox) -> None:
    with start_sandbox(max_operations_in_flight=3, latency_ms=400) as server:

        async def two() -> tuple[httpx.Response, httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as http:
                first = asyncio.create_task(post(http, server, read_persons(2)))
                await asyncio.sleep(0.1)
                second = await post(http, server, read_persons(2))
                return await first, second

        first, second = asyncio.run(two())
        assert (first.status_code, second.status_code) == (200, 503)
        assert server.stats()["operations_in_flight"]["peak"] == 4  # the refused arrival is sampled too


def test_operations_in_flight_are_sampled_at_arrival(its: Client) -> None:
    """Sequential requests: each sample is the arriving request's own operations."""
    for _ in range(20):
        its.call(by_id("readPerson", "Person", "nobody"))
    its.call(read_persons(5))
    assert its.sandbox.stats()["operations_in_flight"] == {"peak": 5, "p95": 1.0, "samples": 21}
    its.sandbox.reset()
    assert its.sandbox.stats()["operations_in_flight"] == {"peak": 0, "p95": 0.0, "samples": 0}


def test_concurrent_operations_add_up(start_sandbox: StartSandbox) -> None:
    with start_sandbox(latency_ms=600) as server:

        async def staggered() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as http:
                tasks = []
                for _ in range(3):
                    tasks.append(asyncio.create_task(post(http, server, read_persons(2))))
                    await asyncio.sleep(0.05)
                return list(await asyncio.gather(*tasks))

        assert [response.status_code for response in asyncio.run(staggered())] == [200] * 3
        stats = server.stats()
        assert stats["operations_in_flight"] == {"peak": 6, "p95": 6.0, "samples": 3}
        assert stats["max_in_flight_seen"] == 3


def test_faults_and_unreadable_requests_are_not_sampled(its: Client) -> None:
    its.call(read_persons(2), password="wrong")
    its.call(read_persons(2), action="http://www.imsglobal.org/soap/pms/readPerson")
    assert its.sandbox.stats()["operations_in_flight"]["samples"] == 0


@pytest.mark.parametrize("capacity", [None, 50.0])
def test_default_sandbox_refuses_nothing_for_load(start_sandbox: StartSandbox, capacity: float | None) -> None:
    """Without a capacity (the default) even a large burst is taken; with one, only the queue limit refuses."""
    settings = {} if capacity is None else {"capacity_ops_per_s": capacity, "queue_limit_ops": 1000}
    with start_sandbox(**settings) as server:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as http:
                return await asyncio.gather(*(post(http, server, read_persons(5)) for _ in range(12)))

        assert [response.status_code for response in asyncio.run(burst())] == [200] * 12
        stats = server.stats()
        assert stats["http_503"] == 0 and stats["operations_in_flight"]["samples"] == 12
