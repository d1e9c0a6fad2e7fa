"""The window under load: 100,000 tasks and 1,000 workers in its tables while 1,000 task
updates a second arrive, as on a busy farm.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_window.py           # full
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_window.py --quick   # a smoke run

One process, as in production: the manager (its HTTP server listening on loopback), its
FarmService and the window share one qasync loop; the window is shown offscreen (Qt
paints into an offscreen buffer, so painting costs are real). The farm is made through
FarmService, and the updates go through `FarmService.update_task` exactly as a worker's
PATCH would (with the worker's lease); a small share completes a task and lets the
worker claim its next one, so statuses change and rows move too. A sleeper on the loop
measures how late it wakes: that is the lag a click, a repaint or an HTTP request would
see. Two phases: the task table sorted by id, then by progress (every update moves its
row). Figures: event-loop lag p50/p99/max, the updates actually applied per second,
the process's CPU and RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from bench._common import CpuMeter, fmt, percentile, print_machine, print_table, wait_for_quiet
from flamenco_gui.farm.service import FarmConfig
from flamenco_gui.farm.states import WorkerReport
from flamenco_gui.gui.app import load_window
from flamenco_gui.gui.event_loop import FarmEventLoop
from flamenco_gui.gui.main_window import MainWindow
from flamenco_gui.manager import Manager

JOB_SIZE = 1000  # tasks per job, as a studio splits a long shot
COMPLETE_EVERY = 50  # one update in this many completes its task (the worker takes another)
TICK = 0.01  # the driver wakes this often and catches up with the target rate
BURST = 5  # updates applied back to back (HTTP requests arriving together) before a yield
LAG_INTERVAL = 0.02
MB = 1024 * 1024


class LagSampler:
    """Wakes every LAG_INTERVAL and records how late it woke (ms)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.recording = False

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL)
            late = (time.perf_counter() - start - LAG_INTERVAL) * 1000
            if self.recording:
                self.samples.append(max(0.0, late))


async def build_farm(manager: Manager, tasks: int, workers: int) -> list[tuple[int, int, int]]:
    """Jobs of JOB_SIZE command tasks and registered workers, each holding one task.
    Returns (task, worker, lease) for every running task."""
    service = manager.service
    for n in range(max(1, tasks // JOB_SIZE)):
        settings = {"argv": ["true"], "frame_start": 1, "frame_end": min(JOB_SIZE, tasks)}
        await service.submit_job(
            name=f"shot_{n:03d}", type="command", settings=settings, priority=50, chunk_size=1
        )
    machine = {
        "update_frequent": {
            "load_average": {"1min": 3.5, "5min": 3.0, "15min": 2.5},
            "worker_cpu_percent": 88.0,
        },
        "update_less_frequent": {"worker_mem_percent": 41.0, "worker_num_cpus": 16},
    }
    running = []
    for w in range(workers):
        worker, _ = service.register_worker(f"render-{w:04d}", "Linux 6.1.0 x86_64")
        task_id, lease = await service.worker_report(
            worker["id"], WorkerReport.AVAILABLE, **machine
        )
        if task_id is not None and lease is not None:
            running.append((task_id, worker["id"], lease))
    return running


async def drive(
    manager: Manager, running: list[tuple[int, int, int]], rate: float, seconds: float
) -> int:
    """Apply `rate` task updates a second for `seconds`; returns how many were applied."""
    service = manager.service
    slots = itertools.cycle(range(len(running)))
    progress = dict.fromkeys(range(len(running)), 0.0)
    start = time.perf_counter()
    done = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate) - done
        for n in range(due):
            if n and n % BURST == 0:
                await asyncio.sleep(0)  # as separate requests would, let others run
            slot = next(slots)
            task_id, worker_id, lease = running[slot]
            done += 1
            if done % COMPLETE_EVERY == 0:
                service.update_task(task_id, {"status": "completed", "lease": lease}, worker_id)
                new_task, new_lease = await service.worker_report(worker_id, WorkerReport.AVAILABLE)
                if new_task is not None and new_lease is not None:
                    running[slot] = (new_task, worker_id, new_lease)
                progress[slot] = 0.0
                continue
            progress[slot] = min(99.0, progress[slot] + 1.5)
            fields = {
                "lease": lease,
                "progress": progress[slot],
                "frame_current": 1,
                "activity": f"Sample {int(progress[slot] * 1.28)}/128",
            }
            service.update_task(task_id, fields, worker_id)
        await asyncio.sleep(TICK)
    return done


async def phase(
    lag: LagSampler,
    manager: Manager,
    running: list[tuple[int, int, int]],
    args: argparse.Namespace,
    name: str,
) -> tuple[str, float, float, float, float, float]:
    """Warm up, then drive the updates and measure: (name, updates/s, lag p50, p99, max,
    CPU % of a core)."""
    await drive(manager, running, args.rate, args.warmup)
    lag.samples = []
    lag.recording = True
    cpu = CpuMeter().start()
    t0 = time.perf_counter()
    applied = await drive(manager, running, args.rate, args.seconds)
    wall = time.perf_counter() - t0
    cpu.stop()
    s = lag.samples
    return (name, applied / wall, percentile(s, 50), percentile(s, 99), max(s), cpu.percent)


async def run(args: argparse.Namespace) -> None:
    print_machine("GUI window benchmark")
    if not args.quick:
        wait_for_quiet()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        config = FarmConfig(worker_timeout=3600, task_timeout=3600)  # no timeouts mid-run
        manager = Manager(Path(tmp) / "data", "127.0.0.1", 0, "bench-token", config=config)
        await manager.start()
        t0 = time.perf_counter()
        running = await build_farm(manager, args.tasks, args.workers)
        print(f"   farm built in {time.perf_counter() - t0:.1f} s", flush=True)
        rss_farm = proc.memory_info().rss / MB
        lag = LagSampler()
        sampler = asyncio.create_task(lag.run())
        results = [await phase(lag, manager, running, args, "service only, no window")]

        window = MainWindow(
            manager, QSettings(str(Path(tmp) / "gui.ini"), QSettings.Format.IniFormat)
        )
        window.resize(1440, 900)
        window.show()
        await asyncio.sleep(0.3)  # built and painted once, empty: the load is measured alone
        lag.samples = []
        lag.recording = True
        t0 = time.perf_counter()
        await load_window(window)  # as the program does (gui/app.py)
        load_s = time.perf_counter() - t0
        load_lag = list(lag.samples)
        await asyncio.sleep(0.5)
        shown_tasks = window.task_model.rowCount()
        shown_workers = window.worker_model.rowCount()

        for name, column, order in (
            ("window, tasks sorted by id", 0, Qt.SortOrder.AscendingOrder),
            ("window, tasks sorted by progress", 4, Qt.SortOrder.DescendingOrder),
        ):
            window.tasks.view.sortByColumn(column, order)
            results.append(await phase(lag, manager, running, args, name))
        rss_end = proc.memory_info().rss / MB
        sampler.cancel()
        window.close()
        await window.shutdown()
        await manager.stop()

    print_table(
        "Per phase (the window shown offscreen, every task in its table)",
        ["phase", "updates/s", "lag p50 ms", "lag p99 ms", "lag max ms", "CPU % of a core"],
        [
            (p, fmt(r, 0), fmt(a, 1), fmt(b, 1), fmt(c, 1), fmt(d, 0))
            for p, r, a, b, c, d in results
        ],
    )
    windowed = results[1:]
    worst = max(windowed, key=lambda r: r[3])
    print()
    print(f"tasks in the table                   {shown_tasks:,}")
    print(f"workers in the table                 {shown_workers:,}")
    print(f"tasks rendering (updated in turn)    {len(running):,}")
    print(f"window load, paged (s)               {load_s:.2f}")
    print(f"lag while the tables load max (ms)   {fmt(max(load_lag, default=0.0), 1)}")
    print(f"task updates per second              {fmt(min(r[1] for r in windowed), 0)}")
    print(f"event-loop lag p50 (ms)              {fmt(worst[2], 1)}")
    print(f"event-loop lag p99 (ms)              {fmt(worst[3], 1)}")
    print(f"event-loop lag max (ms)              {fmt(max(r[4] for r in windowed), 1)}")
    print(f"service only: event-loop lag p99 (ms) {fmt(results[0][3], 1)}")
    print(f"process RSS after the farm (MB)      {rss_farm:.0f}")
    print(f"process RSS at the end (MB)          {rss_end:.0f}")
    print("(lag figures: the worse window phase; the farm service's own work is included)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="10k tasks, 100 workers, short phases")
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=1000)
    p.add_argument("--rate", type=float, default=1000.0, help="task updates per second")
    p.add_argument("--seconds", type=float, default=20.0, help="measured time per phase")
    p.add_argument("--warmup", type=float, default=2.0)
    args = p.parse_args()
    if args.quick:
        args.tasks, args.workers, args.rate, args.seconds, args.warmup = (
            10_000,
            100,
            200.0,
            3.0,
            0.5,
        )
    app = QApplication.instance() or QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    loop = FarmEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
