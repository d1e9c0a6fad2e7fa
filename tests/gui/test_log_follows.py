"""The log panel follows the selection, heads each attempt with its worker, time and
lease, shows the manager's own lines apart, and wraps on demand (issue 18, point 8).
A real manager and a real worker process running a real command."""

from __future__ import annotations

import asyncio
import sys

import pytest
from PySide6.QtWidgets import QMessageBox, QPlainTextEdit

from tests.gui.helpers import running_window, start_worker, until

TALK = "print('hello from the render', flush=True); import time; time.sleep(600)"


def _task_of(window, job_id: int) -> int:
    return next(t["id"] for t in window.task_model.all_rows() if t["job_id"] == job_id)


def _line_formats(panel, starts: str) -> list[tuple[int, bool]]:
    """(weight, italic) of the highlighter's formats on the first line starting so."""
    block = panel.text.document().begin()
    while block.isValid():
        if block.text().startswith(starts):
            return [
                (r.format.fontWeight(), r.format.fontItalic()) for r in block.layout().formats()
            ]
        block = block.next()
    raise AssertionError(f"no line starting {starts!r}")


@pytest.mark.timeout(120)
def test_the_log_follows_the_selection_with_headers_and_manager_lines(
    qloop, qtbot, tmp_path
) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service, log = manager.service, window.log
            worker = start_worker(manager, tmp_path, "node-log")
            try:
                a = await service.submit_job(
                    name="talker",
                    type="command",
                    priority=50,
                    chunk_size=1,
                    settings={
                        "argv": [sys.executable, "-c", TALK],
                        "frame_start": 1,
                        "frame_end": 1,
                    },
                )
                await until(lambda: window.job_model.row_of(a["id"]) is not None, 5)
                window.jobs.view.select_ids([a["id"]], a["id"])
                await until(lambda: window.task_model.rowCount() == 1, 5)
                task_id = _task_of(window, a["id"])
                window.tasks.view.select_ids([task_id], task_id)
                assert log.task_id == task_id
                await until(lambda: "hello from the render" in log.text.toPlainText(), 30)
                text = log.text.toPlainText()
                header = next(line for line in text.splitlines() if "──" in line)
                assert header.startswith("[manager ")
                assert "attempt on node-log" in header and "lease 1" in header
                assert text.index(header) < text.index("hello from the render")
                assert _line_formats(log, "[manager ")[0][0] > 400  # a bold header

                # Canceled by the wrangler: the log says so, in the manager's style.
                window.farm_actions.cancel_task.trigger()
                await until(lambda: "canceled: " in log.text.toPlainText(), 5, "the line")
                line = next(x for x in log.text.toPlainText().splitlines() if "canceled: " in x)
                assert line.startswith("[manager ") and "by the wrangler" in line
                assert _line_formats(log, line)[0][1]  # italic

                # Another job selected: its tasks only, and the log no longer shows a's.
                b = await service.submit_job(
                    name="other",
                    type="command",
                    priority=10,
                    chunk_size=1,
                    settings={"argv": ["true"], "frame_start": 1, "frame_end": 1},
                )
                await until(lambda: window.job_model.row_of(b["id"]) is not None, 5)
                window.jobs.view.select_ids([b["id"]], b["id"])
                await until(lambda: log.task_id is None, 2, "the log to follow")
                assert log.text.toPlainText() == ""

                # Back to a's task, then a deleted: the log empties, no error over old text.
                window.jobs.view.select_ids([a["id"]], a["id"])
                await until(lambda: window.task_model.row_of(task_id) is not None, 2)
                window.tasks.view.select_ids([task_id], task_id)
                await until(lambda: "hello from the render" in log.text.toPlainText(), 5)
                window.jobs.view.select_ids([a["id"]], a["id"])
                window.farm_actions.delete_job.trigger()
                window.farm_actions.dialog.button(QMessageBox.StandardButton.Yes).click()
                await until(lambda: log.task_id is None, 5, "the log to clear")
                assert log.text.toPlainText() == ""
                assert "does not exist" not in log.info.text()

                # Wrapping is a toggle.
                assert log.text.lineWrapMode() == QPlainTextEdit.LineWrapMode.NoWrap
                log.wrap.setChecked(True)
                assert log.text.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())
