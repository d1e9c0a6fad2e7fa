"""`GET /events`: a client sees every change as a server-sent event, at once."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import aiohttp

from flamenco_gui.limits import LIMITS
from flamenco_gui.manager import Manager
from tests.api.apiclient import FARM_TOKEN

AUTH = {"Authorization": f"Bearer {FARM_TOKEN}"}


async def _next_event(stream: aiohttp.StreamReader) -> tuple[str, dict[str, Any]]:
    """Read one `event:`/`data:` block, skipping comments (keep-alives)."""
    kind, data = "", ""
    while True:
        line = (await stream.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            return kind, json.loads(data)


async def test_task_status_change_arrives_within_200ms(manager: Manager) -> None:
    base = manager.url
    async with aiohttp.ClientSession(headers=AUTH) as http:
        job = {
            "name": "e",
            "type": "command",
            "settings": {"argv": ["true"], "frame_start": 1, "frame_end": 1},
        }
        async with http.post(f"{base}/jobs", json=job) as r:
            assert r.status == 201
        async with http.get(f"{base}/tasks") as r:
            (task,) = (await r.json())["tasks"]
        async with http.get(f"{base}/events") as stream:
            assert stream.status == 200
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert (await stream.content.readline()).startswith(b": connected")
            sent = time.monotonic()
            async with http.patch(f"{base}/tasks/{task['id']}", json={"status": "paused"}) as r:
                assert r.status == 204
            seen = []
            while True:
                kind, payload = await asyncio.wait_for(_next_event(stream.content), 2)
                seen.append(kind)
                if kind == "task" and payload["id"] == task["id"]:
                    break
            latency = time.monotonic() - sent
            assert payload["row"]["status"] == "paused" and not payload["deleted"]
            assert latency < 0.2, f"{latency:.3f} s"
            kind, payload = await asyncio.wait_for(_next_event(stream.content), 2)
            assert kind == "job" and payload["row"]["status"] == "paused"


async def test_events_need_the_token(manager: Manager) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{manager.url}/events") as r:
        assert r.status == 401
        assert "Authorization" in (await r.json())["error"]


async def _raw_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A /events client that then reads nothing (a small receive buffer, set before
    connecting, so the manager's side fills up soon)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**24)
    writer.write(
        f"GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {FARM_TOKEN}\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def test_clients_that_do_not_read_get_overflow_and_are_dropped(manager: Manager) -> None:
    """The issue's 20 non-reading clients (all still connected after 200,000 events):
    past max_event_buffer unsent events (the default) each is sent `overflow` and
    disconnected; a client connecting afterwards is served."""
    assert LIMITS.max_event_buffer == 10_000  # the default, far above a 1000-task burst
    slow = [await _raw_stream(manager.port) for _ in range(20)]
    base = manager.url
    async with aiohttp.ClientSession(headers=AUTH) as http:
        job = {
            "name": "many",
            "type": "command",
            "settings": {"argv": ["true"], "frame_start": 1, "frame_end": 50_000},
            "chunk_size": 1,
        }
        async with http.post(f"{base}/jobs", json=job) as r:
            assert r.status == 201
        for reader, writer in slow:  # now read what each got: it must end, with overflow
            data = await asyncio.wait_for(reader.read(), 20)
            assert data.endswith(b"event: overflow\ndata: {}\n\n\r\n"), data[-200:]
            writer.close()
        async with http.get(f"{base}/events") as stream:
            assert (await stream.content.readline()).startswith(b": connected")
            async with http.patch(f"{base}/jobs/1", json={"priority": 7}) as r:
                assert r.status == 200
            kind, _ = await asyncio.wait_for(_next_event(stream.content), 10)
            assert kind in ("job", "tasks")


async def test_event_clients_just_under_and_over(manager: Manager, limit: Any) -> None:
    limit("max_event_clients", 3)
    async with aiohttp.ClientSession(headers=AUTH) as http:
        streams = [await http.get(f"{manager.url}/events") for _ in range(3)]
        assert [s.status for s in streams] == [200, 200, 200]
        async with http.get(f"{manager.url}/events") as r:
            assert r.status == 429
            assert "max_event_clients (3)" in (await r.json())["error"]
        for s in streams:
            s.close()
        await asyncio.sleep(1.5)  # the manager notices a closed stream within a second
        async with http.get(f"{manager.url}/events") as r:
            assert r.status == 200
