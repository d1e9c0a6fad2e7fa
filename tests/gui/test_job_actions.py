"""Job, task and worker actions from the toolbar, menus and context menus, each going
through FarmService; confirmations; filters; job notifications."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from flamenco_gui.farm.states import TaskStatus
from tests.gui.helpers import cell, choose, context_menu, running_window, until


def _command_job(service, name: str, frames: int) -> dict:
    settings = {"argv": ["true"], "frame_start": 1, "frame_end": frames}
    return service.create_job(
        name=name, type="command", settings=settings, priority=50, chunk_size=1
    )


def _statuses(window, job_id: int) -> list[str]:
    rows = [t for t in window.task_model.all_rows() if t["job_id"] == job_id]
    return [t["status"] for t in sorted(rows, key=lambda t: t["id"])]


@pytest.mark.timeout(60)
def test_job_actions_confirmations_and_notifications(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service, actions = manager.service, window.farm_actions
            a = _command_job(service, "shot-a", 3)
            b = _command_job(service, "shot-b", 2)
            await until(lambda: window.job_model.known() == 2 and window.task_model.known() == 5, 1)

            # Selecting a job shows its tasks only; none selected shows them all.
            window.jobs.view.select_ids([a["id"]], a["id"])
            await until(lambda: window.task_model.rowCount() == 3, 1)
            assert window.tasks.title.text() == "Tasks of shot-a"

            # Toolbar: pause and resume the selected job.
            actions.pause_job.trigger()
            await until(lambda: _statuses(window, a["id"]) == ["paused"] * 3, 2)
            await until(lambda: cell(window.job_model, a["id"], "Status") == "paused", 1)
            assert _statuses(window, b["id"]) == ["queued"] * 2
            actions.resume_job.trigger()
            await until(lambda: _statuses(window, a["id"]) == ["queued"] * 3, 2)

            # Requeue failed only: a failed task comes back, a completed one stays.
            t1, t2, _t3 = sorted(
                t["id"] for t in window.task_model.all_rows() if t["job_id"] == a["id"]
            )
            for task_id, outcome in ((t1, "failed"), (t2, "completed")):
                service.update_task(task_id, {"status": "rendering"}, None)
                service.update_task(task_id, {"status": outcome}, None)
            await until(lambda: _statuses(window, a["id"]) == ["queued", "completed", "queued"], 2)
            service.update_task(t1, {"status": "rendering"}, None)
            service.config.max_attempts = 1
            service.update_task(t1, {"status": "failed", "error": "boom"}, None)
            await until(lambda: _statuses(window, a["id"]) == ["failed", "completed", "queued"], 2)
            assert cell(window.task_model, t1, "Activity") == "boom"
            choose(context_menu(window, window.jobs, a["id"]), "Requeue failed")
            await until(lambda: _statuses(window, a["id"]) == ["queued", "completed", "queued"], 2)

            # Priority through the input dialog.
            choose(context_menu(window, window.jobs, b["id"]), "Change priority…")
            ask = actions.dialog
            assert isinstance(ask, QInputDialog) and ask.isVisible()
            ask.setIntValue(90)
            ask.accept()
            await until(lambda: cell(window.job_model, b["id"], "Priority") == "90", 2)
            assert service.get_job(b["id"])["priority"] == 90

            # Delete asks first; Cancel keeps the job.
            choose(context_menu(window, window.jobs, b["id"]), "Delete job…")
            box = actions.dialog
            assert isinstance(box, QMessageBox) and "shot-b" in box.text()
            box.button(QMessageBox.StandardButton.Cancel).click()
            assert service.get_job(b["id"])
            choose(context_menu(window, window.jobs, b["id"]), "Delete job…")
            actions.dialog.button(QMessageBox.StandardButton.Yes).click()
            await until(lambda: window.job_model.get(b["id"]) is None, 2)
            await until(lambda: _statuses(window, b["id"]) == [], 1)

            # Several tasks at once from the task table's menu.
            window.jobs.view.clearSelection()
            await until(lambda: window.task_model.rowCount() == 3, 1)
            queued = [t1, _t3]
            window.tasks.view.select_ids(queued, queued[0])
            assert window.tasks.view.selected_ids() == queued
            assert actions.cancel_task.isEnabled()
            assert actions.pause_task.isEnabled()
            actions.cancel_task.trigger()
            await until(
                lambda: _statuses(window, a["id"]) == ["canceled", "completed", "canceled"], 2
            )
            # A completed task cannot be paused: the action says so by being disabled.
            window.tasks.view.select_ids([t2], t2)
            assert not actions.pause_task.isEnabled()
            assert actions.requeue_task.isEnabled()

            # The job ends: a notification (tray when there is one, status bar always).
            for task_id in (t1, _t3):
                service.set_task_status(task_id, TaskStatus.QUEUED)
            for task_id in (t1, _t3):
                service.update_task(task_id, {"status": "rendering"}, None)
                service.update_task(task_id, {"status": "completed"}, None)
            await until(lambda: any("completed" in t for _, t in window.notifier.sent), 2)
            assert any(t == f"shot-a (job {a['id']}) completed." for _, t in window.notifier.sent)
            # The last busy job ended: the farm is idle, the status bar's last word.
            assert window.notifier.sent[-1][0] == "Farm idle"
            assert window.statusBar().currentMessage() == window.notifier.sent[-1][1]

            # Search: typing filters the visible rows (after the debounce).
            window.tasks.search.setText(str(t2))
            await until(lambda: window.task_model.rowCount() == 1, 2)
            window.tasks.search.clear()
            await until(lambda: window.task_model.rowCount() == 3, 2)
            window.tasks.choice.setCurrentText("completed")
            assert window.task_model.rowCount() == 3
            window.tasks.choice.setCurrentIndex(0)

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_forget_worker_asks_and_requeues_its_task(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            job = _command_job(service, "j", 1)
            worker, _ = service.register_worker("node-x", "Linux")
            task_id, _lease = await service.worker_report(worker["id"], "available")
            await until(lambda: cell(window.task_model, task_id, "Worker") == "node-x", 1)
            await until(lambda: window.worker_model.row_of(worker["id"]) is not None, 1)
            choose(context_menu(window, window.workers, worker["id"]), "Forget worker…")
            window.farm_actions.dialog.button(QMessageBox.StandardButton.Yes).click()
            await until(lambda: window.worker_model.get(worker["id"]) is None, 2)
            await until(lambda: cell(window.task_model, task_id, "Status") == "queued", 2)
            assert _statuses(window, job["id"]) == ["queued"]

    qloop.run_until_complete(scenario())
