"""Driving the window like a person, against a real manager and real worker processes:
submit through the dialog, cancel from a context menu, disable a worker."""

from __future__ import annotations

import asyncio
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from flamenco_gui.farm.service import FarmConfig
from tests.gui.helpers import (
    cell,
    choose,
    context_menu,
    descendants_running,
    running_window,
    start_worker,
    until,
)
from tests.procs import process_gone

SLEEP = "import time; time.sleep(600)"


def _job_tasks(window, job_id: int) -> list[dict]:
    return [t for t in window.task_model.all_rows() if t["job_id"] == job_id]


@pytest.mark.timeout(60)
def test_submit_a_blend_through_the_dialog_and_see_its_tasks(qloop, qtbot, tmp_path) -> None:
    blend = tmp_path / "sc070_harbour.blend"
    blend.write_bytes(b"BLENDER-v402")

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            window.submit_action.trigger()
            dialog = window.dialog
            assert dialog is not None and dialog.isVisible()
            # Pick the file as a person would, in the file dialog.
            files: QFileDialog = dialog.choose_file()
            files.selectFile(str(blend))
            files.accept()
            assert dialog.filepath.text() == str(blend)
            assert dialog.name.text() == "sc070_harbour"  # taken from the file name
            assert dialog.render_output.text().endswith("render/sc070_harbour/######")

            # Invalid first: the reason shows under the field and Submit stays off.
            dialog.frame_start.setValue(10)
            dialog.frame_end.setValue(1)
            reason = dialog.errors["frame_end"]
            assert reason.text() == ""  # not while the wrangler is still in the field
            dialog.frame_end.editingFinished.emit()  # left it
            assert reason.isVisible() and reason.text() == "the last frame comes before the first"
            dialog.frame_start.setValue(1)
            dialog.frame_end.setValue(20)
            dialog.chunk_size.setValue(4)
            dialog.priority.setValue(70)
            dialog.format.setCurrentText("OPEN_EXR")
            assert reason.text() == ""  # its line stays, empty: the form does not move
            assert dialog.note.text() == "5 tasks"
            assert dialog.submit_button.isEnabled()
            qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)

            await until(lambda: not dialog.isVisible(), 10, "the dialog to close")
            jobs = lambda: [j for j in window.job_model.all_rows() if j["name"] == "sc070_harbour"]  # noqa: E731
            await until(lambda: len(jobs()) == 1, 1, "the job in the table")
            job_id = jobs()[0]["id"]
            await until(lambda: len(_job_tasks(window, job_id)) == 5, 1, "5 tasks in the table")
            frames = sorted(
                cell(window.task_model, t["id"], "Frames") for t in _job_tasks(window, job_id)
            )
            assert frames == ["1-4", "13-16", "17-20", "5-8", "9-12"]
            assert cell(window.job_model, job_id, "Priority") == "70"
            assert cell(window.job_model, job_id, "Tasks") == "0/5"
            # What was stored is what the dialog said.
            stored = manager.service.get_job(job_id)
            assert stored["settings"]["filepath"] == str(blend)
            assert stored["settings"]["format"] == "OPEN_EXR"
            assert stored["chunk_size"] == 4

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(90)
def test_cancel_a_running_task_from_its_context_menu_ends_the_process(
    qloop, qtbot, tmp_path
) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            worker = start_worker(manager, tmp_path, "node-cancel")
            try:
                # A command job, submitted through the dialog too.
                dialog = window.open_submit()
                dialog.job_type.setCurrentIndex(dialog.job_type.findData("command"))
                dialog.name.setText("long-sleep")
                dialog.argv.setText(f'{sys.executable} -c "{SLEEP}"')
                dialog.frame_end.setValue(1)
                assert dialog.validate() == {}
                dialog.submit()
                await until(lambda: not dialog.isVisible(), 10, "the dialog to close")
                await until(lambda: window.job_model.known() == 1, 1, "the job in the table")
                job_id = next(j["id"] for j in window.job_model.all_rows())
                await until(lambda: len(_job_tasks(window, job_id)) == 1, 5)
                task_id = _job_tasks(window, job_id)[0]["id"]
                await until(
                    lambda: cell(window.task_model, task_id, "Status") == "rendering",
                    30,
                    "the worker to start the task",
                )
                assert cell(window.task_model, task_id, "Worker") == "node-cancel"
                children = await _until_value(
                    lambda: descendants_running(worker.pid, "time.sleep(600)"), 20
                )

                menu = context_menu(window, window.tasks, task_id)
                choose(menu, "Cancel task")

                await until(lambda: cell(window.task_model, task_id, "Status") == "canceled", 2)
                await until(
                    lambda: all(process_gone(pid) for pid in children),
                    10,
                    "the render process to end",
                )
                assert worker.alive(), "the worker itself goes on"
                assert manager.service.get_task(task_id)["status"] == "canceled"
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(120)
def test_a_disabled_worker_gets_no_new_tasks(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        config = FarmConfig(worker_timeout=30)
        async with running_window(tmp_path, qtbot, config) as (manager, window):
            worker = start_worker(manager, tmp_path, "node-off")
            service, workers = manager.service, window.worker_model
            try:
                await until(
                    lambda: any(w["hostname"] == "node-off" for w in workers.all_rows()),
                    20,
                    "the worker to register",
                )
                worker_id = next(w["id"] for w in workers.all_rows())
                assert cell(workers, worker_id, "Enabled") == "enabled"
                choose(context_menu(window, window.workers, worker_id), "Disable worker")
                await until(lambda: cell(workers, worker_id, "Enabled") == "disabled", 2)

                settings = {
                    "argv": [sys.executable, "-c", "pass"],
                    "frame_start": 1,
                    "frame_end": 3,
                }
                job = await service.submit_job(
                    name="quick", type="command", settings=settings, priority=50, chunk_size=1
                )
                await asyncio.sleep(4)  # the worker is polling the whole time
                tasks = _job_tasks(window, job["id"])
                assert len(tasks) == 3
                assert all(t["status"] == "queued" and t["worker_id"] is None for t in tasks)
                assert all(not service.task_history(t["id"]) for t in tasks)
                assert cell(workers, worker_id, "Online") == "online"

                # Enabled again, it takes them at once (so the wait above proved something).
                choose(context_menu(window, window.workers, worker_id), "Enable worker")
                await until(
                    lambda: all(t["status"] == "completed" for t in _job_tasks(window, job["id"])),
                    30,
                    "the enabled worker to render the job",
                )
                await until(lambda: cell(window.job_model, job["id"], "Status") == "completed", 1)
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())


async def _until_value(probe, timeout: float):
    value = None

    def check() -> bool:
        nonlocal value
        value = probe()
        return bool(value)

    await until(check, timeout)
    return value
