"""The workers table's tags, schedule and remote control, driven like a person against
a real manager and a real worker process."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMenu

from tests.gui.helpers import TOKEN, cell, choose, context_menu, running_window, until
from tests.procs import spawn


def _submenu(menu: QMenu, title: str) -> QMenu:
    for action in menu.actions():
        if action.text() == title and action.menu() is not None:
            sub = action.menu()
            assert isinstance(sub, QMenu)
            sub.aboutToShow.emit()  # as opening it would
            return sub
    raise AssertionError(f"no {title!r} submenu in {[a.text() for a in menu.actions()]}")


@pytest.mark.timeout(90)
def test_tags_schedule_and_remote_control_from_the_workers_table(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            args = ["worker", "--manager", manager.url, "--token", TOKEN, "--name", "ws-07"]
            args += ["--work-dir", str(tmp_path / "ws"), "--tags", "gpu"]
            worker = spawn("ws-07", args, tmp_path)
            try:
                workers = window.worker_model
                await until(lambda: workers.all_rows(), 20, "the worker to register")
                wid = next(iter(workers.all_rows()))["id"]
                await until(lambda: cell(workers, wid, "Tags") == "gpu", 10, "its offered tag")

                choose(context_menu(window, window.workers, wid), "Edit tags…")
                dialog = window.farm_actions.dialog
                assert dialog.editor.line.text() == "gpu"
                dialog.editor.line.setText("gpu, bad tag")
                assert not dialog.ok.isEnabled() and "bad tag" in dialog.editor.error.text()
                dialog.editor.line.setText("GPU, lookdev")
                assert dialog.ok.isEnabled()
                dialog.accept()
                await until(lambda: cell(workers, wid, "Tags") == "gpu, lookdev", 5, "new tags")
                assert manager.service.get_worker(wid)["tags"] == ",gpu,lookdev,"

                # A schedule with no hours lit: it is never on.
                choose(context_menu(window, window.workers, wid), "Edit schedule…")
                dialog = window.farm_actions.dialog
                assert dialog.editor.always.isChecked()
                dialog.editor.always.setChecked(False)
                dialog.editor.set_cells(set())
                dialog.accept()
                await until(lambda: cell(workers, wid, "Activity") == "outside schedule", 5, "off")
                assert cell(workers, wid, "Schedule") == "always off"

                # Remote control: power is off for a node whose owner did not allow it.
                remote = _submenu(context_menu(window, window.workers, wid), "Remote control")
                assert not next(
                    a for a in remote.actions() if a.text() == "Shut down now"
                ).isEnabled()
                choose(remote, "Stop after current task")
                await until(
                    lambda: cell(workers, wid, "Remote") == "stopped by the wrangler",
                    10,
                    "the worker's acknowledgement",
                )
                remote = _submenu(context_menu(window, window.workers, wid), "Remote control")
                choose(remote, "Resume taking work")
                await until(lambda: cell(workers, wid, "Remote") == "", 5, "resumed")
            finally:
                worker.stop()

    qloop.run_until_complete(scenario())


@pytest.mark.timeout(60)
def test_a_job_waiting_for_another_says_so_and_is_released_from_its_menu(
    qloop, qtbot, tmp_path
) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            settings = {"argv": ["true"], "frame_start": 1, "frame_end": 1}
            parent = await service.submit_job(
                name="sim", type="command", settings=settings, priority=50, chunk_size=1
            )
            child = await service.submit_job(
                name="comp", type="command", settings=settings, priority=50, chunk_size=1,
                depends_on=[parent["id"]],
            )  # fmt: skip
            jobs = window.job_model
            waiting = f"waiting for job {parent['id']}"
            await until(lambda: cell(jobs, child["id"], "Waiting for") == waiting, 5, "reason")
            menu = context_menu(window, window.jobs, parent["id"])
            release = next(a for a in menu.actions() if a.text() == "Release")
            assert not release.isEnabled()  # the parent waits for nothing
            menu.close()
            choose(context_menu(window, window.jobs, child["id"]), "Release")
            await until(lambda: cell(jobs, child["id"], "Waiting for") != waiting, 5, "released")
            assert not service.get_job(child["id"]).get("waiting")

    qloop.run_until_complete(scenario())
