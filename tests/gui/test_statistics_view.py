"""The statistics window on a real manager: records reported through the farm (as a
worker reports them) show in each tab's plot and table, and export as CSV."""

from __future__ import annotations

import asyncio
import csv
import time

import pytest
from PySide6.QtCore import QEvent, QObject

from flamenco_gui.farm.states import WorkerReport
from flamenco_gui.gui.statistics_view import frame_seconds
from tests.gui.helpers import running_window, until


async def _render(service, job_id: int, workers: list[int], frames: int) -> None:
    """Each worker pulls a task and reports its frame: worker 2 takes twice as long;
    its first attempt fails once."""
    failed = False
    for i in range(frames):
        worker = workers[i % 2]
        task, lease = await service.worker_report(worker, WorkerReport.AVAILABLE)
        if worker == workers[1] and not failed:
            service.update_task(task, {"lease": lease, "status": "failed", "error": "x"}, worker)
            failed = True
            task, lease = await service.worker_report(worker, WorkerReport.AVAILABLE)
        frame = service.get_task(task)["frame_start"]
        took = 2.0 if worker == workers[1] else 1.0
        now = time.time()
        record = {
            "frame": frame,
            "started": now - took,
            "finished": now,
            "render_seconds": took,
            "peak_memory_mb": 100.0 + frame,
            "check": "ok",
        }
        fields = {"lease": lease, "status": "completed", "frames": [record]}
        service.update_task(task, fields, worker)
        await service.worker_report(worker, WorkerReport.AVAILABLE)


class _Paints(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


@pytest.mark.timeout(60)
def test_statistics_show_the_farms_records(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            settings = {"argv": ["true"], "frame_start": 1, "frame_end": 10}
            job = service.create_job(
                name="shot", type="command", settings=settings, priority=50, chunk_size=1
            )
            a = service.register_worker("fast", "Linux")[0]["id"]
            b = service.register_worker("slow", "Linux")[0]["id"]
            await _render(service, job["id"], [a, b], 10)

            stats = window.open_statistics()
            await stats.refresh()
            await asyncio.sleep(0.3)  # the first paints of the window are over
            # Drawn again: the plots are painted once, after every scatter is in, not
            # once per worker and plot between the loop turns of the drawing (~40 ms
            # a paint at 10,000 points).
            viewport = stats.job.graphics.viewport()
            paints = _Paints()
            viewport.installEventFilter(paints)
            await stats.show_job(list(stats.job.model.rows))
            assert paints.count == 0 and viewport.updatesEnabled()
            await until(lambda: paints.count >= 1, 5.0, "the plots painted")
            viewport.removeEventFilter(paints)
            assert stats.job_pick.currentData() == job["id"]
            rows = stats.job.model.rows
            assert [r["frame"] for r in rows] == list(range(1, 11))
            assert {r["worker"]: frame_seconds(r) for r in rows} == pytest.approx(
                {"fast": 1.0, "slow": 2.0}
            )
            scatters = stats.job.plots[0].listDataItems()
            assert sorted(item.name() for item in scatters) == ["fast", "slow"]
            assert sum(len(item.getData()[0]) for item in scatters) == 10
            assert "10 frames" in stats.note.text()

            stats.tabs.setCurrentWidget(stats.workers)
            await stats.refresh()
            by_worker = {r["worker"]: r for r in stats.workers.model.rows}
            assert by_worker["fast"]["frames"] == 5 and by_worker["slow"]["frames"] == 5
            assert by_worker["slow"]["failures"] == 1 and by_worker["fast"]["failures"] == 0

            stats.tabs.setCurrentWidget(stats.utilisation)
            await stats.refresh()
            assert stats.utilisation.model.rows
            assert sum(r["node_hours"] for r in stats.utilisation.model.rows) >= 0

            await service.delete_job(job["id"])
            stats.tabs.setCurrentWidget(stats.history)
            await stats.refresh()
            (day,) = stats.history.model.rows
            assert day["jobs"] == 1 and day["frames"] == 10

            out = tmp_path / "workers.csv"
            await stats.workers.export_csv(out)
            lines = list(csv.reader(out.open()))
            assert lines[0] == ["Day", "Worker", "Frames", "Busy h", "Frames/h", "Failures"]
            assert len(lines) == 3
            stats.close()

    qloop.run_until_complete(scenario())
