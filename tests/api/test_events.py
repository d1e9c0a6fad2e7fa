"""`GET /events`: a client sees every change as a server-sent event, at once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

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
