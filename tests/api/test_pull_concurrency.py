"""One worker, one task: concurrent pulls of one worker, abandoned held polls, and the
cap on held polls, against the real manager on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from flamenco_gui.manager import Manager
from tests.api.apiclient import Api, Worker

pytestmark = pytest.mark.timeout(60)


async def _tasks(api: Api) -> dict[str, list[int]]:
    r = await api.get("/tasks")
    by: dict[str, list[int]] = {}
    for t in r.json["tasks"]:
        by.setdefault(t["status"], []).append(t["id"])
    return by


async def test_two_held_pulls_of_one_worker_get_one_task(api: Api) -> None:
    worker = await api.register("node-a")
    pulls = [asyncio.create_task(worker.pull(wait=10)) for _ in range(2)]
    await asyncio.sleep(0.3)  # both are held: nothing is queued yet
    await api.job("two", frames=(1, 2), chunk_size=1)
    first, second = await asyncio.wait_for(asyncio.gather(*pulls), 10)
    assert first["task_id"] is not None
    assert (first["task_id"], first["lease"]) == (second["task_id"], second["lease"])
    by = await _tasks(api)
    assert by["rendering"] == [first["task_id"]] and len(by["queued"]) == 1, by


async def test_simultaneous_pulls_with_work_queued_leave_one_task_held(api: Api) -> None:
    """Pulls that overlap at the manager answer the same task; one that comes after
    an answer was written means "I run nothing" (its task is requeued). Either way the
    worker holds one task, one it was answered, under the newest lease it was given."""
    await api.job("six", frames=(1, 6), chunk_size=1)
    worker = await api.register("node-a")
    answers = await asyncio.gather(*(worker.pull() for _ in range(4)))
    by = await _tasks(api)
    assert len(by["rendering"]) == 1 and len(by["queued"]) == 5, by
    held = [a for a in answers if a["task_id"] == by["rendering"][0]]
    assert held, (answers, by)
    await worker.complete(max(held, key=lambda a: a["lease"]))  # its lease is in force


async def test_an_abandoned_held_poll_does_not_keep_a_task(manager: Manager, api: Api) -> None:
    """A worker's held pull whose socket closes: work queued afterwards stays queued
    (nobody to hand it to) and goes to the next worker that asks, at once."""
    worker = await api.register("node-a")
    _reader, writer = await asyncio.open_connection("127.0.0.1", manager.port)
    body = json.dumps({"status": "available", "wait": 10}).encode()
    writer.write(
        f"PATCH /workers/{worker.id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        f"{worker.secret}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        "\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(0.3)  # the poll is held
    writer.close()
    await asyncio.sleep(0.3)
    await api.job("one", frames=(1, 1))
    await asyncio.sleep(0.5)  # the held poll has woken and seen its client gone
    by = await _tasks(api)
    assert by == {"queued": by["queued"]} and len(by["queued"]) == 1, by
    other = await api.register("node-b")
    got = await other.pull()
    assert got["task_id"] == by["queued"][0]


async def test_held_polls_just_under_and_over(api: Api, limit: Any) -> None:
    limit("max_held_polls", 2)
    workers: list[Worker] = [await api.register(f"node-{i}") for i in range(3)]
    held = [asyncio.create_task(w.pull(wait=3)) for w in workers[:2]]
    await asyncio.sleep(0.3)
    r = await workers[2].api.patch(f"/workers/{workers[2].id}", {"status": "available", "wait": 3})
    assert r.status == 429, r
    assert "max_held_polls (2)" in r.error
    assert (await workers[2].pull(wait=0))["task_id"] is None  # asking without wait is fine
    assert [g["task_id"] for g in await asyncio.gather(*held)] == [None, None]
