"""Pause lets the running task finish; Pause now stops it; job actions follow the job's
state and ask before throwing finished work away (issue 18, points 3 and 4). A real
manager and a real worker process running a real (sleeping) command."""

from __future__ import annotations

import asyncio
import sys

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from tests.gui.helpers import running_window, start_worker, until

NAP = "import time; time.sleep(3)"


def _tasks(window, job_id: int) -> list[dict]:
    rows = (t for t in window.task_model.all_rows() if t["job_id"] == job_id)
    return sorted(rows, key=lambda t: t["id"])


def _status(window, task_id: int) -> str:
    return (window.task_model.get(task_id) or {}).get("status", "")


@pytest.mark.timeout(120)
def test_pause_lets_the_running_task_finish_and_pause_now_stops_it(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service, actions = manager.service, window.farm_actions
            worker = start_worker(manager, tmp_path, "node-pause")
            try:
                job = await service.submit_job(
                    name="naps",
                    type="command",
                    priority=50,
                    chunk_size=1,
                    settings={
                        "argv": [sys.executable, "-c", NAP],
                        "frame_start": 1,
                        "frame_end": 2,
                    },
                )
                job_id = job["id"]
                await until(lambda: len(_tasks(window, job_id)) == 2, 5, "the tasks")
                first, second = (t["id"] for t in _tasks(window, job_id))
                await until(lambda: _status(window, first) == "rendering", 30, "a render")
                window.jobs.view.select_ids([job_id], job_id)
                await until(lambda: actions.pause_job.isEnabled(), 2, "Pause enabled")

                actions.pause_job.trigger()  # no question: nothing is thrown away
                assert actions.dialog is None
                await until(lambda: _status(window, second) == "paused", 5, "the queued one")
                assert _status(window, first) == "rendering"  # it renders on
                await until(
                    lambda: (window.job_model.get(job_id) or {}).get("status") == "paused", 2
                )
                await until(lambda: _status(window, first) == "completed", 20, "it to finish")
                attempts = service.task_history(first)
                assert [a["outcome"] for a in attempts] == ["completed"]  # rendered once
                await asyncio.sleep(2)  # the worker keeps polling: nothing new starts
                assert _status(window, second) == "paused"
                assert service.task_history(second) == []

                # A paused job: Pause is off (nothing queued), Resume on.
                await until(lambda: actions.resume_job.isEnabled(), 2)
                assert not actions.pause_job.isEnabled()
                actions.resume_job.trigger()
                await until(lambda: _status(window, second) == "rendering", 20, "the second")

                # Pause now stops a running render: it asks, then the task is paused at once.
                actions.pause_now_job.trigger()
                box = actions.dialog
                assert isinstance(box, QMessageBox) and "1 running render" in box.text()
                box.button(QMessageBox.StandardButton.Yes).click()
                await until(lambda: _status(window, second) == "paused", 2, "stopped at once")
                assert [a["outcome"] for a in service.task_history(second)] == ["paused"]
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_actions_follow_the_job_state_and_requeue_asks(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service, actions = manager.service, window.farm_actions
            job = await service.submit_job(
                name="done-job",
                type="command",
                priority=50,
                chunk_size=1,
                settings={"argv": ["true"], "frame_start": 1, "frame_end": 2},
            )
            await until(lambda: len(_tasks(window, job["id"])) == 2, 5, "the tasks")
            for task in _tasks(window, job["id"]):
                service.update_task(task["id"], {"status": "rendering"}, None)
                service.update_task(task["id"], {"status": "completed"}, None)
            await until(
                lambda: (window.job_model.get(job["id"]) or {}).get("status") == "completed", 2
            )
            await until(lambda: window.job_model.row_of(job["id"]) is not None, 2)
            window.jobs.view.select_ids([job["id"]], job["id"])
            await until(lambda: actions.requeue_job.isEnabled(), 2)
            for off in (
                actions.pause_job,
                actions.pause_now_job,
                actions.resume_job,
                actions.cancel_job,
                actions.requeue_failed,
            ):
                assert not off.isEnabled(), off.text()

            # Requeue throws the finished frames away: it asks; Cancel keeps them.
            actions.requeue_job.trigger()
            box = actions.dialog
            assert isinstance(box, QMessageBox) and "2 completed tasks" in box.text()
            box.button(QMessageBox.StandardButton.Cancel).click()
            await asyncio.sleep(0.3)
            assert service.get_job(job["id"])["status"] == "completed"
            actions.requeue_job.trigger()
            actions.dialog.button(QMessageBox.StandardButton.Yes).click()
            await until(lambda: service.get_job(job["id"])["status"] == "queued", 2)

            # Pause farm (Farm menu, tray) pauses it; Resume farm resumes what it paused.
            window.farm_switch.pause.trigger()
            await until(lambda: service.get_job(job["id"])["status"] == "paused", 2)
            await until(lambda: window.farm_switch.resume.isEnabled(), 1)
            window.farm_switch.resume.trigger()
            await until(lambda: service.get_job(job["id"])["status"] == "queued", 2)

            # The farm refuses what does not apply, whoever asks (the API says 409).
            with pytest.raises(Exception, match="no paused tasks to resume"):
                await service.job_action(job["id"], "resume")

            # Shortcuts are on the actions, so the menus show them.
            assert actions.pause_job.shortcut() == QKeySequence("Ctrl+P")
            assert actions.delete_job.shortcut() == QKeySequence(QKeySequence.StandardKey.Delete)
            (job_menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Job"]
            assert isinstance(job_menu, QMenu)
            assert "Ctrl+P" in [a.shortcut().toString() for a in job_menu.actions()]

    qloop.run_until_complete(scenario())
