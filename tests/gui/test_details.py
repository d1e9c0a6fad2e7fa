"""The job and worker details tabs: a job's settings, files, times and blocklist; a
worker's address, OS, machine report, recent tasks, failures and blocklists; and a
section another feature adds (issue 18, points 12 and 14). A real manager and a real
worker process running real commands."""

from __future__ import annotations

import asyncio
import sys

import pytest

from flamenco_gui.farm.service import FarmConfig
from tests.gui.helpers import running_window, start_worker, until


def _values(panel) -> dict[str, str]:
    return dict(panel.shown)


@pytest.mark.timeout(120)
def test_job_and_worker_details(qloop, qtbot, tmp_path) -> None:
    config = FarmConfig(max_attempts=1, blocklist_threshold=1)

    async def scenario() -> None:
        async with running_window(tmp_path, qtbot, config) as (manager, window):
            service = manager.service
            worker = start_worker(manager, tmp_path, "node-details")
            try:
                good = await service.submit_job(
                    name="good", type="command", priority=50, chunk_size=1,
                    settings={"argv": [sys.executable, "-c", "pass"], "frame_start": 1,
                              "frame_end": 1},
                )  # fmt: skip
                await until(lambda: service.get_job(good["id"])["status"] == "completed", 30)
                bad = await service.submit_job(
                    name="bad", type="command", priority=40, chunk_size=1,
                    settings={"argv": [sys.executable, "-c", "raise SystemExit(3)"],
                              "frame_start": 1, "frame_end": 2},
                )  # fmt: skip
                await until(lambda: service.job_blocklist(bad["id"]), 30, "the blocklist")

                window.side.setCurrentWidget(window.job_details)
                await until(lambda: window.job_model.row_of(bad["id"]) is not None, 5)
                window.jobs.view.select_ids([bad["id"]], bad["id"])
                panel = window.job_details
                await until(lambda: panel.obj_id == bad["id"] and panel.shown, 5)
                shown = _values(panel)
                assert shown["Type"] == "command" and shown["Priority"] == "40"
                assert shown["Command"].startswith(sys.executable)
                assert shown["Submitted"].endswith("(just now)")
                assert "node-details" in shown  # its blocklist, by worker name
                assert panel.title.text() == "bad"

                (worker_id,) = [w["id"] for w in window.worker_model.all_rows()]
                window.side.setCurrentWidget(window.worker_details)
                await until(lambda: window.worker_model.row_of(worker_id) is not None, 5)
                window.workers.view.select_ids([worker_id], worker_id)
                details = window.worker_details
                await until(lambda: details.obj_id == worker_id and details.shown, 5)
                shown = _values(details)
                assert shown["Address"].startswith("127.0.0.1")
                assert shown["OS"].startswith("Linux")
                assert shown["Last seen"].endswith("(just now)")
                assert f"job {bad['id']}" in shown  # the blocklist it is on
                titles = [t for t, v in details.shown if v == ""]
                assert titles[:3] == ["Worker", "Machine", "Recent tasks"]
                recent = details.shown[details.shown.index(("Recent tasks", "")) + 1]
                assert recent[1].startswith(f"job {good['id']}")
                failed = details.shown[details.shown.index(("Failures", "")) + 1]
                assert f"job {bad['id']}" in failed[1]

                # Another feature adds its lines without touching the panel's code.
                details.add_section("Tags", lambda r: [("tags", "gpu, fast")])
                assert ("tags", "gpu, fast") in details.shown
            finally:
                await asyncio.to_thread(worker.stop)

    qloop.run_until_complete(scenario())
