"""Writes the window's screenshots to docs/screenshots/ from a populated demo farm.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py

The demo farm is made through FarmService, the same calls the API makes, in a
temporary data dir; nothing is drawn by hand.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from flamenco_gui.farm.service import FarmService
from flamenco_gui.farm.states import TaskStatus, WorkerReport
from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.store.db import Store
from flamenco_gui.store.task_logs import TaskLogs

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _machine(cpu: float, mem: float, load: float) -> dict:
    return {
        "update_frequent": {
            "load_average": {"1min": load, "5min": load * 0.9, "15min": load * 0.8},
            "worker_cpu_percent": cpu,
        },
        "update_less_frequent": {
            "worker_architecture": "x86_64",
            "worker_disk_percent": 41.0,
            "worker_mem_percent": mem,
            "worker_num_cpus": 16,
        },
    }


async def populate(service: FarmService) -> None:
    """A studio's evening: a shot rendering, one finished, one that failed, one paused."""
    names = ["render-01", "render-02", "render-03", "render-04", "wrangler-ws"]
    workers = [
        service.register_worker(n, "Linux 6.1.0 x86_64", f"192.168.1.{20 + i}")[0]["id"]
        for i, n in enumerate(names)
    ]

    def blender(name: str, end: int, chunk: int, prio: int) -> int:
        settings = {
            "filepath": f"/mnt/projects/{name}.blend",
            "render_output": f"/mnt/render/{name}/######",
            "frame_start": 1,
            "frame_end": end,
            "format": "PNG",
        }
        job = service.create_job(
            name=name, type="blender_render", settings=settings, priority=prio, chunk_size=chunk
        )
        return job["id"]

    done = blender("sc010_forest_lighting", 24, 4, 40)
    failed = blender("sc020_bridge_fx", 12, 4, 30)
    blender("sc030_chase_anim", 96, 8, 70)
    paused = blender("sc040_titles", 48, 12, 20)
    service.job_action(paused, "pause")

    error = "Error: Cannot read file '/mnt/projects/sc020_bridge_fx.blend'"
    for job_id in (done, failed):
        for task in service.list_tasks(job_id=job_id)[0]:
            # A failing task is retried until its attempts run out.
            for _ in range(service.config.max_attempts if job_id == failed else 1):
                service.update_task(task["id"], {"status": TaskStatus.RENDERING.value}, None)
                report = (
                    {"status": "completed"}
                    if job_id == done
                    else {"status": "failed", "error": error}
                )
                service.update_task(task["id"], report, None)

    for i, worker_id in enumerate(workers[:4]):
        task_id, lease = await service.worker_report(
            worker_id, WorkerReport.AVAILABLE, **_machine(92 - i * 7, 38 + i * 9, 7.5 - i)
        )
        if task_id is None:
            continue
        task = service.get_task(task_id)
        frame = task["frame_start"] + i + 1
        service.update_task(
            task_id,
            {
                "lease": lease,
                "frame_current": frame,
                "progress": 100.0 * (frame - task["frame_start"]) / 8,
                "activity": f"Fra:{frame} | Sample {32 * (i + 1)}/128",
                "time_cost": 95.0 + 40 * i,
            },
            worker_id,
        )
    await service.worker_report(workers[4], WorkerReport.AVAILABLE, **_machine(6, 52, 0.4))
    service.set_worker_enabled(workers[4], False)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "farm.sqlite")
        service = FarmService(store, TaskLogs(Path(tmp) / "logs"))
        asyncio.run(populate(service))
        window = MainWindow(service, "http://192.168.1.10:7777", "k3J9x-demo-token-Qm2vT8pLw4rZ")
        window.resize(1280, 800)
        window.show()
        for _ in range(5):
            app.processEvents()
        window.worker_model.flush()
        window.task_model.flush()
        app.processEvents()
        path = OUT / "main_window.png"
        window.grab().save(str(path))
        print(f"wrote {path}")
        window.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
