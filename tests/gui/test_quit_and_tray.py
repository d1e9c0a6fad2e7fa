"""Closing the window with work under way asks; the tray keeps the farm running (issue
18, points 1 and 13). A real manager, its HTTP API on loopback, a real worker process
rendering a real (sleeping) command."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest
from PySide6.QtWidgets import QMessageBox

from flamenco_gui.gui.quit_guard import QUIT, TRAY
from tests.gui.helpers import TOKEN, running_window, start_worker, until

SLEEP = "import time; time.sleep(600)"


def _click(box: QMessageBox, text: str) -> None:
    (button,) = [b for b in box.buttons() if b.text() == text]
    button.click()


async def _rendering(window, job_id: int) -> None:
    def rendering() -> bool:
        job = window.job_model.get(job_id) or {}
        return (job.get("task_counts") or {}).get("rendering", 0) == 1

    await until(rendering, 30, "the worker to start the task")


@pytest.mark.timeout(90)
def test_close_with_a_running_task_asks_and_the_tray_keeps_the_api(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            # Offscreen Qt has no tray host: the icon and its menu are real, only the
            # desktop's "I can show tray icons" is said here.
            window.notifier.available = True
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))
            worker = start_worker(manager, tmp_path, "node-tray")
            try:
                job = await manager.service.submit_job(
                    name="long-sleep",
                    type="command",
                    priority=50,
                    chunk_size=1,
                    settings={
                        "argv": [sys.executable, "-c", SLEEP],
                        "frame_start": 1,
                        "frame_end": 2,
                    },
                )
                await _rendering(window, job["id"])

                window.quit_action.trigger()  # Ctrl+Q
                box = window.quit_guard.box
                assert box is not None and box.isVisible()
                assert box.text().startswith("1 task is rendering and 1 queued.")
                assert window.isVisible() and not closed
                _click(box, TRAY)
                await until(lambda: window.isHidden(), 2, "the window to hide")
                assert not closed
                assert window.notifier.sent[-1][0] == "Still running"

                # Hidden, the manager still answers over HTTP and the worker renders on.
                headers = {"Authorization": f"Bearer {TOKEN}"}
                url = f"http://127.0.0.1:{manager.port}/jobs/{job['id']}"
                async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as r:
                    assert r.status == 200
                    assert (await r.json())["task_counts"].get("rendering") == 1
                assert worker.alive()

                # Quit from the tray's menu: the window comes back with the same question.
                (quit_entry,) = [a for a in window.notifier.menu.actions() if a.text() == "Quit"]
                quit_entry.trigger()
                assert window.isVisible()
                box = window.quit_guard.box
                assert box is not None and "rendering" in box.text()
                box.button(QMessageBox.StandardButton.Cancel).click()
                await asyncio.sleep(0.05)
                assert window.isVisible() and not closed

                window.close()  # the window's close button: the same question again
                box = window.quit_guard.box
                assert box is not None
                _click(box, QUIT)
                await until(lambda: bool(closed), 2, "the window to close")
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_canceled_and_idle_are_news_and_an_idle_farm_closes_at_once(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            job = await manager.service.submit_job(
                name="never-run",
                type="command",
                priority=50,
                chunk_size=1,
                settings={"argv": ["true"], "frame_start": 1, "frame_end": 3},
            )
            await until(lambda: window.job_model.row_of(job["id"]) is not None, 5, "the job")
            window.jobs.view.select_ids([job["id"]], job["id"])
            window.farm_actions.cancel_job.trigger()
            await until(lambda: len(window.notifier.sent) == 2, 5, "the news")
            assert window.notifier.sent == [
                ("Job canceled", f"never-run (job {job['id']}) canceled."),
                ("Farm idle", "Nothing is rendering or queued any more."),
            ]
            closed: list[bool] = []
            window.closed.connect(lambda: closed.append(True))
            window.quit_action.trigger()
            assert closed and window.quit_guard.box is None

    qloop.run_until_complete(scenario())
