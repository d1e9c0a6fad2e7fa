"""Job → Check frames… on a real manager: real files in the job's output folder (written
here as a render would leave them), the missing and broken ones listed with why, and
"Re-render these" queues tasks for exactly those frames. Rendering itself is the
Blender e2e's (tests/e2e/test_frames.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.gui.helpers import running_window, until


@pytest.mark.timeout(60)
def test_check_frames_lists_the_bad_ones_and_rerenders_them(qloop, qtbot, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    rng = np.random.default_rng(3)
    for frame in range(1, 7):
        pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(out / f"{frame:04d}.png")
    (out / "0002.png").unlink()
    Image.new("RGB", (32, 24)).save(out / "0004.png")  # all black

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            settings = {
                "filepath": "/shots/a.blend",
                "render_output": str(out / "####"),
                "frame_start": 1,
                "frame_end": 6,
            }
            job = service.create_job(
                name="shot", type="blender_render", settings=settings, priority=50, chunk_size=3
            )
            assert window.open_check_frames() is None  # nothing selected: it says so
            window.job_model.flush()
            window.jobs.view.select_ids([job["id"]], job["id"])
            dialog = window.open_check_frames()
            assert dialog is not None
            await dialog.checking
            items = [dialog.problems.item(i).text() for i in range(dialog.problems.count())]
            assert items[0] == "frame 2: missing"
            assert items[1].startswith("frame 4 failed the uniform check")
            assert "6 frames checked in the output folder: 1 missing, 1 broken" in (
                dialog.summary.text()
            )
            assert dialog.rerender_button.isEnabled()
            dialog.rerender_button.click()
            await until(lambda: not dialog.isVisible(), 10, "the dialog to close")
            tasks, total = service.list_tasks(job_id=job["id"])
            assert total == 4
            assert sorted((t["frame_start"], t["frame_end"]) for t in tasks[2:]) == [
                (2, 2),
                (4, 4),
            ]
            assert "rendering frames 2, 4 again" in window.statusBar().currentMessage()

    qloop.run_until_complete(scenario())
