"""A fast job's previews hold the last frame of every task, and the latest is the
highest frame rendered (issue 18, point 9). A real manager with its window, a real
worker process and real Blender rendering a 12-frame scene in chunks of 4."""

from __future__ import annotations

import asyncio

import pytest

from tests.blender_scene import make_scene, require_blender
from tests.gui.helpers import TOKEN, running_window, until
from tests.procs import spawn

pytestmark = [pytest.mark.blender]


@pytest.mark.timeout(240)
def test_every_tasks_last_frame_is_previewed_and_the_latest_is_the_highest(
    qloop, qtbot, tmp_path
) -> None:
    blender = require_blender()
    scene = make_scene(tmp_path / "fast.blend", frames=12)

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            args = ["worker", "--manager", f"http://127.0.0.1:{manager.port}", "--token", TOKEN,
                    "--name", "render-fast", "--work-dir", str(tmp_path / "w"),
                    "--heartbeat", "1", "--blender", blender]  # fmt: skip
            worker = spawn("render-fast", args, tmp_path)
            try:
                settings = {"filepath": str(scene), "frame_start": 1, "frame_end": 12,
                            "render_output": f"{tmp_path}/out/f_####", "format": "PNG"}  # fmt: skip
                job = await manager.service.submit_job(
                    name="fast", type="blender_render", settings=settings, chunk_size=4,
                    priority=50,
                )  # fmt: skip
                job_id = job["id"]
                await until(lambda: window.job_model.row_of(job_id) is not None, 5)
                window.jobs.view.select_ids([job_id], job_id)

                def status() -> str:
                    return manager.service.get_job(job_id)["status"]

                await until(lambda: status() == "completed", 180, "the render")

                def kept() -> set[int]:
                    return {p["frame"] for p in manager.service.job_previews(job_id)}

                # Each task's last frame arrives, though the next task starts at once.
                await until(lambda: {4, 8, 12} <= kept(), 15, f"frames 4, 8, 12 in {kept()}")
                await until(lambda: window.preview.current == 12, 5, "the latest shown")
                assert "frame 12" in window.preview.info.text()
                assert [f.frame for f in window.preview.frames] == sorted(kept())
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())
