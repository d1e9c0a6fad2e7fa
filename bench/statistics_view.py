"""The statistics window with a 10,000-frame job: does it stay responsive?

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/statistics_view.py            # 10,000
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/statistics_view.py --frames 100000

One process, as in production: a manager (HTTP on loopback) and the statistics window
on one qasync loop, shown offscreen (painting costs are real). The job's frames are
reported through `FarmService.update_task` as four workers would (each task's record
with its lease), then the window opens on the job. A sleeper on the loop measures how
late it wakes while the job tab loads and draws, and while the plot is panned and
zoomed (each step repainted at once, as a drag would). Figures: the job tab's load
(read + table + plots), a full repaint, a pan/zoom step p50/max, loop lag max.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication

from bench._common import fmt, percentile, print_machine
from bench.gui_window import LagSampler
from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.farm.states import WorkerReport
from flamenco_gui.gui.event_loop import FarmEventLoop
from flamenco_gui.gui.statistics_view import StatisticsWindow
from flamenco_gui.manager import Manager

WORKERS = 4
STEPS = 40  # pan/zoom steps measured


async def render_job(manager: Manager, frames: int) -> int:
    """A command job of `frames` one-frame tasks, each completed with its record."""
    service = manager.service
    settings = {"argv": ["true"], "frame_start": 1, "frame_end": frames}
    job = await service.submit_job(
        name="bench", type="command", settings=settings, priority=50, chunk_size=1
    )
    workers = [service.register_worker(f"node-{i}", "Linux")[0]["id"] for i in range(WORKERS)]
    now = time.time()
    for i in range(frames):
        worker = workers[i % WORKERS]
        task, lease = await service.worker_report(worker, WorkerReport.AVAILABLE)
        took = 20.0 + (i % 97) / 10 + (15.0 if worker == workers[-1] else 0.0)
        record = {
            "frame": service.get_task(task)["frame_start"],
            "started": now - took,
            "finished": now,
            "render_seconds": took,
            "peak_memory_mb": 2000.0 + (i % 500),
            "check": "ok",
        }
        fields = {"lease": lease, "status": "completed", "frames": [record]}
        service.update_task(task, fields, worker)
        if i % 500 == 0:
            await asyncio.sleep(0)
    return int(job["id"])


async def run(args: argparse.Namespace) -> None:
    print_machine("Statistics window benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        config = FarmConfig(worker_timeout=3600, task_timeout=3600)
        manager = Manager(Path(tmp) / "data", "127.0.0.1", 0, "bench-token", config=config)
        await manager.start()
        t0 = time.perf_counter()
        job_id = await render_job(manager, args.frames)
        print(f"   {args.frames:,} frames reported in {time.perf_counter() - t0:.1f} s", flush=True)
        lag = LagSampler()
        sampler = asyncio.create_task(lag.run())
        window = StatisticsWindow(manager.service)
        window.resize(1280, 720)
        window.show()
        await asyncio.sleep(0.3)
        lag.samples, lag.recording = [], True
        t0 = time.perf_counter()
        window.fill_jobs(job_id)
        await window.refresh()
        await asyncio.sleep(0)  # the loop turn that applies the models
        window.grab()  # painted, plots and table
        load_s = time.perf_counter() - t0
        load_lag = max(lag.samples, default=0.0)
        shown = window.job.model.rowCount()

        t0 = time.perf_counter()
        window.grab()
        repaint_ms = (time.perf_counter() - t0) * 1000
        # The sampler's late wake from that (synchronous) repaint belongs to it, not to
        # the panning: let it land before the panning's samples start.
        await asyncio.sleep(0.1)
        lag.samples = []
        steps: list[float] = []
        plot = window.job.plots[0]
        for step in range(STEPS):
            width = args.frames / (1 + step % 10)
            start = (step * args.frames / STEPS) % max(1.0, args.frames - width)
            t0 = time.perf_counter()
            plot.setXRange(start, start + width, padding=0)
            window.job.graphics.grab()
            steps.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.01)
        pan_lag = max(lag.samples, default=0.0)
        sampler.cancel()
        window.close()
        await manager.stop()

    print()
    print(f"frames in the job tab                {shown:,}")
    print(f"job tab load, read + drawn (s)       {load_s:.2f}")
    print(f"lag while it loads max (ms)          {fmt(load_lag, 1)}")
    print(f"full repaint of the window (ms)      {fmt(repaint_ms, 1)}")
    print(f"pan/zoom step p50 (ms)               {fmt(percentile(steps, 50), 1)}")
    print(f"pan/zoom step max (ms)               {fmt(max(steps), 1)}")
    print(f"lag while panning max (ms)           {fmt(pan_lag, 1)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=10_000)
    args = p.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)  # type: ignore[union-attr]
    loop = FarmEventLoop(app)  # as desktop.py runs the window
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
