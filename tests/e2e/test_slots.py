"""`--slots 2` on one machine, with real manager, worker and (for the threads) Blender
processes: two tasks of one job run at once, each slot with its own lease, process
group, environment and half the cores for Blender; a cancel stops only its slot."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.blender_scene import make_scene, require_blender
from tests.procs import TOKEN, Farm, Http, Proc, spawn, wait_until

pytestmark = pytest.mark.timeout(240)


def start_slots(farm: Farm, *extra: str) -> Proc:
    args = ["worker", "--manager", farm.url, "--token", TOKEN, "--name", "big"]
    args += ["--work-dir", str(farm.root / "big"), "--slots", "2", *extra]
    proc = farm.workers["big"] = spawn("big", args, farm.root)
    wait_until(
        lambda: {"big:1", "big:2"} <= set(farm.http.get("/workers")), 30, "both slots to register"
    )
    return proc


def task_log(http: Http, task_id: int) -> str:
    return http.text(f"/tasks/{task_id}/log")


def both_rendering(http: Http, job_id: int) -> list[dict[str, Any]]:
    tasks = http.job_tasks(job_id)
    return tasks if all(t["status"] == "rendering" for t in tasks) else []


def test_two_slots_run_two_tasks_at_once_each_with_its_lease_and_env(farm: Farm) -> None:
    farm.start_manager()
    start_slots(farm, "--accept", "command", "--slot-env", "SLOT_GPU={slot}")
    http = farm.http
    script = "import os, time; print('gpu', os.environ['SLOT_GPU'], flush=True); time.sleep(30)"
    settings = {"argv": [sys.executable, "-c", script], "frame_start": 1, "frame_end": 2}
    job = http.post(
        "/jobs", {"name": "two", "type": "command", "settings": settings, "chunk_size": 1}
    )
    tasks = wait_until(lambda: both_rendering(http, job["id"]), 20, "both tasks at once")
    workers = http.get("/workers")
    assert {t["worker_id"] for t in tasks} == {workers["big:1"]["id"], workers["big:2"]["id"]}
    wait_until(lambda: all("gpu " in task_log(http, t["id"]) for t in tasks), 10, "the output")
    gpus = sorted(task_log(http, t["id"]).split("gpu ")[1].split()[0] for t in tasks)
    assert gpus == ["0", "1"]  # each slot's own environment

    # A cancel is per slot: one task stops, the other slot keeps rendering its own.
    first, second = tasks
    http.patch(f"/tasks/{first['id']}", {"status": "canceled"})
    slot_of_first = next(n for n, w in workers.items() if w["id"] == first["worker_id"])
    wait_until(lambda: http.get("/workers")[slot_of_first]["current_task"] is None, 5, "slot freed")
    time.sleep(1)
    again = http.get(f"/tasks/{second['id']}")
    assert again["status"] == "rendering" and again["lease"] == second["lease"]
    assert again["worker_id"] == second["worker_id"]


def test_blender_in_each_slot_gets_half_the_cores(farm: Farm, tmp_path: Path) -> None:
    blender = require_blender()
    scene = make_scene(tmp_path / "scene.blend", frames=4)
    farm.start_manager()
    start_slots(farm, "--blender", blender, "--allow-blender-python")
    http = farm.http
    pause = "import bpy, time; bpy.app.handlers.render_post.append(lambda *a: time.sleep(1.5))"
    settings = {
        "filepath": str(scene),
        "frame_start": 1,
        "frame_end": 4,
        "render_output": f"{tmp_path}/out/######",
        "format": "PNG",
        "blender_args": ["--python-expr", pause],
    }
    job = http.post(
        "/jobs", {"name": "bl", "type": "blender_render", "settings": settings, "chunk_size": 2}
    )
    tasks = wait_until(lambda: both_rendering(http, job["id"]), 60, "both Blenders at once")
    share = max(1, (os.cpu_count() or 1) // 2)
    wait_until(lambda: all("running:" in task_log(http, t["id"]) for t in tasks), 20, "logs")
    for task in tasks:
        running = next(
            line for line in task_log(http, task["id"]).splitlines() if "running:" in line
        )
        assert f"--threads {share}" in running, running
    wait_until(lambda: http.get(f"/jobs/{job['id']}")["status"] == "completed", 120, "the job")
