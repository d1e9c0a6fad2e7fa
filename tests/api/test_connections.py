"""Connections are capped and timed (api/connections.py, docs/limits.md), against the
real manager on loopback with real sockets.

The slowloris test is bounded: 100 sockets, at most 30 s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest

from flamenco_gui.limits import LIMITS
from flamenco_gui.manager import Manager
from tests.api.apiclient import Api

pytestmark = pytest.mark.timeout(60)


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _answer(reader: asyncio.StreamReader, timeout: float = 10) -> tuple[int, Any]:
    raw = await asyncio.wait_for(reader.read(65536), timeout)
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else None


async def test_slowloris_sockets_are_closed_by_the_header_timeout(
    manager: Manager, api: Api
) -> None:
    """100 sockets trickle their headers a byte a second; each is answered 408 and
    closed at header_timeout, while a normal client's GET /health answers throughout."""
    limit = LIMITS.header_timeout
    began = time.monotonic()
    socks = [await _open(manager.port) for _ in range(100)]
    closed_at: dict[int, float] = {}
    statuses: dict[int, int] = {}

    async def trickle(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        data = b""
        while time.monotonic() - began < 30:
            try:
                writer.write(b"X")  # a header line that never ends
                await writer.drain()
            except ConnectionError:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 1.0)
            except TimeoutError:
                continue
            except ConnectionError:
                break
            if not chunk:
                break
            data += chunk
        closed_at[i] = time.monotonic() - began
        if data:
            statuses[i] = int(data.split()[1])
        writer.close()

    health: list[float] = []

    async def normal_client() -> None:
        while len(closed_at) < len(socks) and time.monotonic() - began < 30:
            t = time.monotonic()
            r = await api.get("/health", token=None)
            assert r.status == 200, r
            health.append(time.monotonic() - t)
            await asyncio.sleep(0.25)

    await asyncio.gather(normal_client(), *(trickle(i, r, w) for i, (r, w) in enumerate(socks)))
    assert len(closed_at) == 100
    assert max(closed_at.values()) < limit + 3, sorted(closed_at.values())[-5:]
    assert min(closed_at.values()) >= limit - 0.5
    assert set(statuses.values()) == {408}
    assert len(health) >= 4 * limit * 0.5 and max(health) < 2.0, health
    guard = manager._runner.guard if manager._runner else None
    assert guard is not None and guard.timed_out >= 100


async def test_a_silent_socket_is_closed_and_a_prompt_one_served(manager: Manager) -> None:
    reader, writer = await _open(manager.port)
    t = time.monotonic()
    status, body = await _answer(reader, LIMITS.header_timeout + 3)
    assert status == 408 and "header_timeout" in body["error"]
    assert LIMITS.header_timeout - 0.5 <= time.monotonic() - t < LIMITS.header_timeout + 2
    assert await reader.read() == b""  # closed
    writer.close()
    reader, writer = await _open(manager.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, body = await _answer(reader)
    assert status == 200 and body["status"] == "ok"
    writer.close()


async def test_a_kept_alive_connection_gets_its_header_time_after_each_answer(
    manager: Manager, limit: Any
) -> None:
    """The header deadline moves on with each answer (one timer per connection, moved
    when it fires early): a second request after the first deadline is served, and the
    next headers are then due keep-alive plus header timeout after its answer."""
    limit("header_timeout", 1.0)
    limit("keepalive_timeout", 1.0)
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    reader, writer = await _open(manager.port)
    writer.write(request)
    assert (await _answer(reader))[0] == 200
    await asyncio.sleep(1.3)  # past the deadline set at connect
    writer.write(request)
    assert (await _answer(reader))[0] == 200
    answered = time.monotonic()
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers that never end
    status, body = await _answer(reader, 5)
    waited = time.monotonic() - answered
    assert status == 408 and "header_timeout (1 s)" in body["error"]
    assert 1.8 <= waited < 3.5, waited
    writer.close()


async def test_connections_per_address_just_under_and_over(manager: Manager, limit: Any) -> None:
    limit("max_connections_per_address", 10)
    held = [await _open(manager.port) for _ in range(9)]
    reader, writer = await _open(manager.port)  # the 10th: served (and kept open)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _ = await _answer(reader)
    assert status == 200
    held.append((reader, writer))
    reader, writer = await _open(manager.port)  # the 11th: refused at once
    status, body = await _answer(reader, 3)
    assert status == 429
    assert "max_connections_per_address (10)" in body["error"]
    for _, w in held:
        w.close()
    writer.close()
    await asyncio.sleep(0.2)
    reader, writer = await _open(manager.port)  # room again once they closed
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await _answer(reader))[0] == 200
    writer.close()


async def test_connections_in_all_just_under_and_over(manager: Manager, limit: Any) -> None:
    limit("max_connections", 12)
    held = [await _open(manager.port) for _ in range(12)]
    await asyncio.sleep(0.1)
    reader, writer = await _open(manager.port)
    status, body = await _answer(reader, 3)
    assert status == 429 and "max_connections (12)" in body["error"]
    reader12, writer12 = held[-1]  # the 12th was let in
    writer12.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await _answer(reader12))[0] == 200
    for _, w in held:
        w.close()
    writer.close()


async def _half_sent_job(
    manager: Manager, api: Api
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A `POST /jobs` whose headers promise 100 bytes of body, of which 9 are sent."""
    reader, writer = await _open(manager.port)
    writer.write(
        b"POST /jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + api.token.encode()  # type: ignore[union-attr]
        + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name": '
    )
    await writer.drain()
    return reader, writer


async def test_a_body_that_trickles_is_cut_at_body_timeout(
    manager: Manager, api: Api, limit: Any
) -> None:
    limit("body_timeout", 1.0)
    reader, writer = await _half_sent_job(manager, api)
    t = time.monotonic()
    status, body = await _answer(reader, 5)
    assert status == 408 and "body_timeout (1 s)" in body["error"]
    assert time.monotonic() - t < 3
    writer.close()
    assert (await api.get("/jobs")).json["jobs"] == []


async def test_a_client_gone_mid_body_is_no_error_of_the_manager(
    manager: Manager, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker killed while it sends a report (half a body, then the socket closes):
    the manager logs that the client went, no "unhandled error" with a traceback, and
    goes on serving."""
    caplog.set_level(logging.INFO)
    _reader, writer = await _half_sent_job(manager, api)
    await asyncio.sleep(0.2)  # the handler is reading the body
    writer.transport.abort()  # type: ignore[attr-defined]
    for _ in range(50):
        if "closed the connection" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "closed the connection" in caplog.text
    assert "unhandled error" not in caplog.text and "Error handling request" not in caplog.text
    assert (await api.get("/jobs")).json["jobs"] == []


async def _head(port: int, headers: bytes) -> tuple[int, Any, bytes]:
    reader, writer = await _open(port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n")
    raw = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), head


async def test_headers_just_under_and_over_the_size_limit(manager: Manager) -> None:
    """aiohttp refuses a header line over 8190 bytes; the answer is our JSON 431."""
    status, body, _ = await _head(manager.port, b"X-Big: " + b"a" * 8000 + b"\r\n")
    assert status == 200 and body["status"] == "ok"
    status, body, head = await _head(manager.port, b"X-Big: " + b"a" * 9000 + b"\r\n")
    assert status == 431, (head, body)
    assert b"application/json" in head and "8190 bytes a line" in body["error"]
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(200))
    status, body, _ = await _head(manager.port, many)
    assert status == 431 and "128 headers" in body["error"]
    status, body, _ = await _head(manager.port, b"Broken header line\r\n")
    assert status == 400 and body["error"].startswith("request: ")


async def test_a_preview_that_trickles_is_cut_at_body_timeout(
    manager: Manager, api: Api, limit: Any
) -> None:
    limit("body_timeout", 1.0)
    reader, writer = await _open(manager.port)
    writer.write(
        b"POST /tasks/1/preview?frame=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + str(api.token).encode()
        + b"\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n\xff\xd8"
    )
    await writer.drain()
    status, body = await _answer(reader, 5)
    assert status == 408 and "body_timeout (1 s)" in body["error"]
    writer.close()


def test_the_connection_cap_fits_the_descriptor_limit() -> None:
    """The issue's 200-descriptor process: 195 idle sockets starved everyone. The cap
    leaves FD_RESERVE descriptors for the database, logs and previews."""
    import resource

    from flamenco_gui.api.connections import FD_RESERVE, connection_cap
    from flamenco_gui.limits import Limits

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
        assert connection_cap(Limits()) == 200 - FD_RESERVE
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 100_000), hard))
        assert connection_cap(Limits()) == Limits().max_connections
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
