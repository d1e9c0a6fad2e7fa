"""“Render on this computer too”: the toggle starts a real worker process that joins
the farm, and toggling off (or closing the window) stops it cleanly."""

from __future__ import annotations

import psutil
import pytest

from flamenco_gui.gui.local_worker import local_name
from tests.gui.helpers import cell, running_window, settings_at, until
from tests.procs import process_gone


def _local_row(window) -> dict | None:
    return next((w for w in window.worker_model.all_rows() if w["hostname"] == local_name()), None)


@pytest.mark.timeout(90)
def test_toggle_starts_and_stops_a_local_worker(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            assert not window.local_action.isChecked()
            window.local_action.trigger()  # on
            pid = window.local.pid
            assert pid is not None and window.local.is_running()
            cmdline = psutil.Process(pid).cmdline()
            assert cmdline[cmdline.index("--work-dir") + 1] == str(
                manager.data_dir / "local-worker"
            )
            assert manager.token.value not in " ".join(cmdline)  # passed in the environment
            await until(lambda: _local_row(window) is not None, 20, "the local worker to join")
            worker_id = _local_row(window)["id"]
            assert cell(window.worker_model, worker_id, "Online") == "online"

            window.local_action.trigger()  # off
            await until(lambda: not window.local.is_running(), 15, "the worker to stop")
            assert process_gone(pid)
            # It said goodbye: the manager shows it offline at once, not after a timeout.
            await until(lambda: cell(window.worker_model, worker_id, "Online") == "offline", 2)
            log = (manager.data_dir / "local-worker" / "worker.log").read_text()
            assert "going offline" in log
            assert settings_at(tmp_path / "gui.ini").value("local_worker/enabled") in (
                False,
                "false",
            )

            # On again, then closing the window stops it too.
            window.local_action.trigger()
            pid = window.local.pid
            await until(lambda: cell(window.worker_model, worker_id, "Online") == "online", 20)
            window.quit_now()
            await window.shutdown()
            assert process_gone(pid)

    qloop.run_until_complete(scenario())
