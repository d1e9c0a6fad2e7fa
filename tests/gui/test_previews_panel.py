"""The preview panel: a worker's uploads over HTTP show in the window, the newest large,
every kept frame in the filmstrip; clicking an older frame holds it until the newest is
clicked again; another job shows its own frames (or says it has none)."""

from __future__ import annotations

import io

import aiohttp
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from flamenco_gui.gui.preview_panel import NO_PREVIEWS, PreviewPanel
from flamenco_gui.store.previews import KEEP_PER_JOB
from tests.gui.helpers import TOKEN, running_window, until

COLORS = {1: (220, 30, 30), 2: (30, 60, 220), 3: (30, 200, 60)}


def _jpeg(color: tuple[int, int, int], size: tuple[int, int] = (320, 180)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def _center(panel: PreviewPanel) -> QColor:
    """The colour in the middle of the large picture, as it is drawn."""
    pixmap = panel.image.pixmap()
    assert not pixmap.isNull()
    image = pixmap.toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2)


def _near(color: QColor, rgb: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 20 for a, b in zip(color.getRgb()[:3], rgb, strict=True))


def _click_frame(panel: PreviewPanel, row: int, qtbot) -> None:
    strip = panel.strip
    item = strip.item(row)
    strip.scrollToItem(item)
    pos = strip.visualItemRect(item).center()
    qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=pos)


@pytest.mark.timeout(60)
def test_uploaded_frames_show_newest_first_and_follow(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            settings = {"argv": ["true"], "frame_start": 1, "frame_end": 20}
            job = service.create_job(
                name="shot-a", type="command", settings=settings, priority=50, chunk_size=20
            )
            other = service.create_job(
                name="shot-b", type="command", settings=settings, priority=10, chunk_size=20
            )
            base = f"http://127.0.0.1:{manager.port}"
            panel = window.preview
            window.side.setCurrentWidget(panel)
            async with aiohttp.ClientSession() as http:
                farm = {"Authorization": f"Bearer {TOKEN}"}
                body = {"hostname": "node-a", "system": "Linux"}
                async with http.post(f"{base}/workers", json=body, headers=farm) as r:
                    worker = (await r.json())["node-a"]
                auth = {"Authorization": f"Bearer {worker['secret']}"}
                pull = {"status": "available", "wait": 0}
                async with http.patch(
                    f"{base}/workers/{worker['id']}", json=pull, headers=auth
                ) as r:
                    got = await r.json()
                task = service.get_task(got["task_id"])
                assert task["job_id"] == job["id"]  # the higher priority job's task

                async def upload(frame: int, color: tuple[int, int, int]) -> None:
                    async with http.post(
                        f"{base}/tasks/{got['task_id']}/preview",
                        data=_jpeg(color),
                        params={"frame": frame, "lease": got["lease"]},
                        headers={**auth, "Content-Type": "image/jpeg"},
                    ) as r:
                        assert r.status == 201, await r.text()

                await until(lambda: window.job_model.row_of(job["id"]) is not None, 2)
                window.jobs.view.select_ids([job["id"]], job["id"])
                assert panel.job_id == job["id"]
                await panel.loaded()
                assert panel.strip.count() == 0
                assert panel.image.pixmap().isNull()
                assert panel.image.text() == NO_PREVIEWS

                await upload(1, COLORS[1])
                await until(lambda: panel.current == 1, 2, "frame 1 shown")
                assert _near(_center(panel), COLORS[1]), _center(panel).getRgb()
                assert panel.strip.count() == 1
                assert "frame 1" in panel.info.text()
                assert window.side.tabText(window.side.indexOf(panel)) == "Preview (1)"

                await upload(2, COLORS[2])
                await until(lambda: panel.current == 2, 2, "frame 2 followed")
                assert _near(_center(panel), COLORS[2]), _center(panel).getRgb()
                assert panel.strip.count() == len(service.job_previews(job["id"])) == 2
                assert [panel.strip.item(i).text() for i in range(2)] == ["frame 1", "frame 2"]
                assert panel.strip.currentRow() == 1  # the newest, last

                # An older frame clicked stays large while newer ones arrive ...
                _click_frame(panel, 0, qtbot)
                assert panel.current == 1 and not panel.follow
                assert _near(_center(panel), COLORS[1])
                await upload(3, COLORS[3])
                await until(lambda: panel.strip.count() == 3, 2, "frame 3 in the filmstrip")
                assert panel.current == 1 and _near(_center(panel), COLORS[1])
                # ... until the newest is clicked: then it follows again.
                _click_frame(panel, 2, qtbot)
                assert panel.current == 3 and panel.follow
                assert _near(_center(panel), COLORS[3])

                # Only the newest few are kept; the filmstrip shows exactly those.
                for frame in range(4, 4 + KEEP_PER_JOB):
                    await upload(frame, (10 * frame, 100, 255 - 10 * frame))
                last = 3 + KEEP_PER_JOB
                await until(lambda: panel.current == last, 3, "the newest frame followed")
                kept = [p["frame"] for p in service.job_previews(job["id"])]
                assert len(kept) == KEEP_PER_JOB
                shown = [panel.strip.item(i).data(Qt.ItemDataRole.UserRole) for i in range(12)]
                assert panel.strip.count() == KEEP_PER_JOB and shown == kept
                assert not panel.strip.item(0).icon().isNull()

            # Another job: its own (no) frames; back again: the kept ones, from the cache.
            window.jobs.view.select_ids([other["id"]], other["id"])
            assert panel.job_id == other["id"]
            await panel.loaded()
            assert panel.strip.count() == 0 and panel.image.text() == NO_PREVIEWS
            assert "shot-b" in panel.title.text()
            window.jobs.view.select_ids([job["id"]], job["id"])
            await panel.loaded()
            assert panel.strip.count() == KEEP_PER_JOB and panel.current == last

            # No job selected: the current task's job is shown.
            window.jobs.view.clearSelection()
            await until(lambda: window.task_model.row_of(task["id"]) is not None, 2)
            window.tasks.view.select_ids([task["id"]], task["id"])
            assert panel.job_id == job["id"]

            # The job deleted: the panel lets go of it.
            await service.delete_job(job["id"])
            await until(lambda: panel.job_id != job["id"], 2, "the deleted job let go")
            assert panel.strip.count() == 0

    qloop.run_until_complete(scenario())
