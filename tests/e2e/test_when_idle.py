"""`--when-idle` with real manager and worker processes. The idle source is the fake
one, `file:PATH` (idle since PATH was last touched), because there is no user keyboard
or mouse on a test machine: touching the file is "the user came back"."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.procs import Farm, Http, wait_until

pytestmark = pytest.mark.timeout(120)
IDLE_MINUTES = 0.05  # three seconds


def tasks(http: Http, job_id: int) -> list[dict[str, Any]]:
    return http.job_tasks(job_id)


def test_a_workstation_renders_only_while_idle_and_stops_when_the_user_is_back(
    farm: Farm, tmp_path: Path
) -> None:
    touched = tmp_path / "last-input"
    touched.write_text("")
    farm.start_manager()
    farm.add_worker(
        "ws", "--when-idle", str(IDLE_MINUTES), "--idle-source", f"file:{touched}",
        "--heartbeat", "1",
    )  # fmt: skip
    http = farm.http
    os.utime(touched)  # the user is at the keyboard
    user_left = time.time()
    marker = tmp_path / "ran"
    script = f"import time; open({str(marker)!r}, 'a').write('x'); time.sleep(60)"
    settings = {"argv": [sys.executable, "-c", script], "frame_start": 1, "frame_end": 1}
    job = http.post("/jobs", {"name": "py", "type": "command", "settings": settings})
    wait_until(lambda: http.get("/workers")["ws"]["activity"] == "user active", 5, "the reason")
    (task,) = tasks(http, job["id"])
    assert task["status"] == "queued"

    # Resumes after the idle time, not before.
    wait_until(lambda: tasks(http, job["id"])[0]["status"] == "rendering", 15, "the idle start")
    started = tasks(http, job["id"])[0]["started"]
    assert started - user_left >= IDLE_MINUTES * 60 - 0.2, (started, user_left)
    wait_until(marker.exists, 5, "the task to run")

    # The user comes back: the task is requeued (and killed) within 2 s.
    os.utime(touched)
    back, back_wall = time.monotonic(), time.time()
    wait_until(lambda: tasks(http, job["id"])[0]["status"] == "queued", 2.0, "the requeue")
    assert time.monotonic() - back <= 2.0
    detail = http.get(f"/tasks/{task['id']}")
    assert detail["history"][-1]["reason"] == "the worker stopped it: user active"
    assert http.get("/workers")["ws"]["activity"] == "user active"

    # And it starts again once the machine has been idle long enough.
    wait_until(lambda: tasks(http, job["id"])[0]["status"] == "rendering", 15, "the restart")
    assert tasks(http, job["id"])[0]["started"] - back_wall >= IDLE_MINUTES * 60 - 0.2
