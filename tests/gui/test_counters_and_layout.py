"""Counters show nothing where nothing is known; long text is cut with a tooltip, not
hidden; new jobs land on top (issue 18, points 5 and 6). A real manager; the task moves
are the service's own calls."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QStatusBar, QToolTip

from flamenco_gui.gui.columns import seen
from tests.gui.helpers import cell, running_window, until


def test_last_seen_in_words() -> None:
    now = time.mktime((2026, 12, 1, 15, 0, 0, 0, 0, -1))
    assert seen(None, now) == "never"
    assert seen(now - 10, now) == "just now"
    assert seen(now - 120, now) == "2 min ago"
    assert seen(now - 3 * 3600, now) == "3 h ago"
    assert seen(now - 8 * 3600, now) == "today 07:00"
    assert seen(time.mktime((2026, 11, 30, 18, 4, 0, 0, 0, -1)), now) == "yesterday 18:04"
    assert seen(time.mktime((2026, 10, 1, 9, 0, 0, 0, 0, -1)), now) == "2026-10-01"


def _job(service, name: str, frames: int = 2):
    return service.jobs.create(
        name=name, type="command", priority=50, chunk_size=1,
        settings={"argv": ["true"], "frame_start": 1, "frame_end": frames},
    )  # fmt: skip


@pytest.mark.timeout(60)
def test_counters_wait_and_layout_fits(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            old = _job(service, "old")
            new = _job(service, "n" * 120)  # a long name
            jobs, tasks = window.job_model, window.task_model
            await until(lambda: jobs.row_of(new["id"]) is not None, 5)
            assert jobs.id_at(0) == new["id"]  # newest first

            # Queued: no clock, "waiting" for a rate; a queued task has no current frame.
            assert cell(jobs, old["id"], "Elapsed") == ""
            assert cell(jobs, old["id"], "Left") == "waiting"
            first = min(t["id"] for t in tasks.all_rows() if t["job_id"] == old["id"])
            await until(lambda: tasks.row_of(first) is not None, 5)
            assert cell(tasks, first, "Frame") == ""
            worker, _ = service.register_worker("w1", "Linux")
            task_id, lease = await service.worker_report(worker["id"], "available")
            service.update_task(task_id, {"status": "completed", "lease": lease}, worker["id"])
            # Rendering with nothing running now (the worker is not on it): still no rate.
            await until(lambda: cell(jobs, old["id"], "Status") == "rendering", 2)
            assert cell(jobs, old["id"], "Left") == "waiting"

            # A requeued job's clock starts again, not from its first submission.
            started = service.get_job(old["id"])["started"]
            assert started is not None
            for t in [t for t in tasks.all_rows() if t["job_id"] == old["id"]]:
                if t["status"] == "queued":
                    tid, lease = await service.worker_report(worker["id"], "available")
                    service.update_task(tid, {"status": "completed", "lease": lease}, worker["id"])
            await until(lambda: service.get_job(old["id"])["status"] == "completed", 2)
            await service.job_action(old["id"], "requeue")
            time.sleep(0.01)
            await service.worker_report(worker["id"], "available")
            again = service.get_job(old["id"])["started"]
            assert again is not None and again > started

            # Names stretch; a cut cell shows its whole text on hover.
            view = window.jobs.view
            name_col = [c.title for c in jobs.columns].index("Name")
            assert view.columnWidth(name_col) >= jobs.columns[name_col].width
            view.setColumnWidth(name_col, 60)
            rect = view.visualRect(jobs.index(jobs.row_of(new["id"]), name_col))
            event = QHelpEvent(
                QEvent.Type.ToolTip, rect.center(), view.viewport().mapToGlobal(rect.center())
            )
            QApplication.sendEvent(view.viewport(), event)
            assert QToolTip.text() == f"<qt>{'n' * 120}</qt>"

            # A long title and a long message are cut, whole in their tooltips.
            window.jobs.view.select_ids([new["id"]], new["id"])
            await until(lambda: "…" in window.tasks.title.text(), 2)
            assert "n" * 120 in window.tasks.title.toolTip()
            long, bar = "x" * 600, window.statusBar()
            bar.showMessage(long, 5000)
            assert bar.currentMessage() == long and long in bar.toolTip()
            shown = QStatusBar.currentMessage(bar)  # what is painted
            assert shown.endswith("…") and bar.fontMetrics().horizontalAdvance(shown) <= bar.room()

    qloop.run_until_complete(scenario())
