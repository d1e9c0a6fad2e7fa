"""While a task's frames go back to the manager, its activity says so ("sending frame
2 of 3: 40.0 of 96.0 MB"), throttled, through the task's normal progress report.

The throttle with a clock the test moves; then the whole path with real parts: an
in-process manager on loopback, the worker's client, outbox and delivery loop, a
TaskRun running a real program (Python printing Blender's "Saved:" line for the files
it wrote), and the activity read back from the manager's `GET /tasks/{id}` while the
files upload.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flamenco_gui.manager import Manager
from flamenco_gui.worker import frame_return
from flamenco_gui.worker.delivery import deliver_forever
from flamenco_gui.worker.frame_return import FrameReturn, SendingReport
from flamenco_gui.worker.outbox import Outbox
from flamenco_gui.worker.runner import Tools
from flamenco_gui.worker.task_run import TaskRun, TaskSpec
from tests.worker.manager_job import pull_as_worker, submit_one_frame_job

TOKEN = "test-farm-token-frame-progress-0123"
MB = 1_000_000


def test_sending_reports_are_throttled_and_say_how_far() -> None:
    now = [100.0]
    seen: list[str] = []
    report = SendingReport(3, seen.append, interval=1.0, clock=lambda: now[0])
    report.frame(1, 120 * MB)  # the first report goes at once
    for _ in range(10):  # ten 4 MB blocks within 0.5 s: no report
        now[0] += 0.05
        report.sent(4 * MB)
    assert seen == ["sending frame 1 of 3: 0.0 of 120.0 MB"]
    now[0] += 0.6  # a second after the last report
    report.sent(4 * MB)
    assert seen[-1] == "sending frame 1 of 3: 44.0 of 120.0 MB" and len(seen) == 2
    now[0] += 0.1
    report.frame(2, 8 * MB)  # a new frame within the second: not reported yet
    assert len(seen) == 2
    now[0] += 1.0
    report.at(3 * MB)  # resumed after a break at the manager's offset
    assert seen[-1] == "sending frame 2 of 3: 3.0 of 8.0 MB"


_PROGRAM = textwrap.dedent(
    """
    import os, sys
    for name in sys.argv[1:]:
        with open(name, "wb") as f:
            f.write(os.urandom(32 * 1024 * 1024))
        print(f"Saved: '{name}'", flush=True)
    """
)


@pytest.mark.timeout(120)
async def test_the_manager_sees_the_frames_being_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loopback moves 96 MB in a fraction of a second: the test reports every 20 ms,
    # and polls faster, to see reports in the middle of an upload.
    monkeypatch.setattr(frame_return, "SENDING_INTERVAL", 0.02)
    manager = Manager(tmp_path / "data", "127.0.0.1", 0, TOKEN)
    await manager.start()
    await submit_one_frame_job(manager, "sh030")
    folder = tmp_path / "work" / "tasks" / "1"
    folder.mkdir(parents=True)
    outbox = Outbox(tmp_path / "work" / "outbox.jsonl")

    async def rejected(_task: int, _lease: int) -> None:
        raise AssertionError("the manager rejected a report")

    seen: list[str] = []
    try:
        async with aiohttp.ClientSession() as session:
            client, task_id, lease = await pull_as_worker(
                session, manager, TOKEN, tmp_path / "work", "render-02"
            )
            frames = FrameReturn(client)

            async def deliver(saved: list[str], on_activity: Any) -> str | None:
                await frames.send(task_id, lease, folder, saved, on_activity)
                return None

            spec = TaskSpec(
                id=task_id, parser="blender_render", frame_start=1, frame_end=1,
                commands=[[sys.executable, "-c", _PROGRAM, "a.bin", "b.bin", "c.bin"]],
                storage="manager",
            )  # fmt: skip
            run = TaskRun(spec, lease, Tools(), outbox, folder=folder, deliver=deliver)
            delivery = asyncio.create_task(deliver_forever(outbox, client, rejected))
            running = asyncio.create_task(run.run())
            headers = {"Authorization": f"Bearer {TOKEN}"}
            status = ""
            while status != "completed":
                async with session.get(f"{manager.url}/tasks/{task_id}", headers=headers) as r:
                    task = await r.json()
                status = task["status"]
                if task.get("activity") and task["activity"] not in seen:
                    seen.append(task["activity"])
                await asyncio.sleep(0.002)
            await running
            delivery.cancel()
    finally:
        outbox.close()
        await manager.stop()
    sending = [a for a in seen if a.startswith("sending frame ")]
    assert sending, seen
    assert any(" of 3: " in a and not a.endswith(": 0.0 of 32.0 MB") for a in sending), sending
    assert seen[-1] == "frames sent to the manager: 3", seen
    output = tmp_path / "data" / "output" / "sh030"
    assert sorted(p.name for p in output.iterdir()) == ["a.bin", "b.bin", "c.bin"]
