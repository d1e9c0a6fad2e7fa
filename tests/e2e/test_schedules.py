"""A real worker process against an in-process manager whose schedule clock the test
drives (an injected clock, not waiting for 19:00): outside its schedule the worker
takes nothing and says so; at the schedule's edge it takes work at once; at the end
of a range with `on_end: requeue` its running task goes back to the queue."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.manager import Manager
from tests.api.apiclient import FARM_TOKEN, Api
from tests.procs import Proc, spawn

pytestmark = pytest.mark.timeout(120)
TZ = "America/New_York"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(TZ)).timestamp()


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)
    return result


@pytest.fixture
async def farm(tmp_path: Path) -> AsyncIterator[tuple[Manager, Api, list[float], Proc]]:
    clock = [at("2026-11-30 18:00")]  # a Monday, an hour before the evening range
    m = Manager(tmp_path / "data", host="127.0.0.1", port=0, token=FARM_TOKEN,
                config=FarmConfig())  # fmt: skip
    await m.start()
    m.service.schedules.clock = lambda: clock[0]
    args = ["worker", "--manager", m.url, "--token", FARM_TOKEN, "--name", "w"]
    worker = spawn("w", [*args, "--work-dir", str(tmp_path / "w"), "--accept", "command"], tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(session, m.url, FARM_TOKEN)

            async def registered() -> bool:
                return "w" in (await api.get("/workers")).json

            await until(registered, 20, "the worker to register")
            yield m, api, clock, worker
    finally:
        worker.stop()
        await m.stop()
        print(worker.log())


async def submit(api: Api, script: str) -> dict[str, Any]:
    settings = {"argv": [sys.executable, "-c", script], "frame_start": 1, "frame_end": 1}
    reply = await api.post("/jobs", {"name": "py", "type": "command", "settings": settings})
    assert reply.status == 201, reply
    return dict(reply.json)


async def task_status(api: Api, job_id: int) -> str:
    return str((await api.get(f"/tasks?job_id={job_id}")).json["tasks"][0]["status"])


async def test_outside_its_schedule_a_worker_takes_nothing_and_resumes_at_the_edge(
    farm: tuple[Manager, Api, list[float], Proc],
) -> None:
    m, api, clock, _ = farm
    wid = (await api.get("/workers")).json["w"]["id"]
    schedule = {
        "tz": TZ,
        "ranges": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "08:00"}],
        "on_end": "requeue",
    }
    reply = await api.put(f"/workers/{wid}/schedule", {"schedule": schedule})
    assert reply.status == 200, reply
    assert reply.json["schedule_next_change"] == at("2026-11-30 19:00")
    job = await submit(api, "pass")
    await asyncio.sleep(2.5)  # its held poll would have claimed the task by now
    assert await task_status(api, job["id"]) == "queued"
    assert (await api.get("/workers")).json["w"]["activity"] == "outside schedule"

    clock[0] = at("2026-11-30 19:00")  # the schedule's edge
    started = time.monotonic()
    m.service.schedules.refresh()

    async def done() -> bool:
        return await task_status(api, job["id"]) == "completed"

    await until(done, 10, "the task once inside the schedule")
    assert time.monotonic() - started < 3.0  # at the edge, not at some later poll
    assert (await api.get("/workers")).json["w"]["activity"] != "outside schedule"

    # The range's end with on_end=requeue: the running task goes back at once.
    long_job = await submit(api, "import time; time.sleep(60)")

    async def rendering() -> bool:
        return await task_status(api, long_job["id"]) == "rendering"

    await until(rendering, 10, "the long task to start")
    clock[0] = at("2026-12-01 08:00")
    m.service.schedules.refresh()
    assert await task_status(api, long_job["id"]) == "queued"

    async def idle_outside() -> bool:
        w = (await api.get("/workers")).json["w"]
        return w["activity"] == "outside schedule" and w["current_task"] is None

    await until(idle_outside, 10, "the worker idle, outside its schedule")
    await asyncio.sleep(1.5)
    assert await task_status(api, long_job["id"]) == "queued"
