"""Memory with a big farm: the manager's RSS with 100,000 tasks in its database.

    .venv/bin/python bench/memory.py               # 100,000 tasks, headless and window
    .venv/bin/python bench/memory.py --no-window   # headless only
    .venv/bin/python bench/memory.py --quick       # 10,000 tasks, headless only

1. A fresh headless manager: idle RSS; then one job of `--tasks` one-frame tasks
   (`POST /jobs`, chunk_size 1): how long the submission took, the peak RSS while it
   was created, and the idle RSS `--idle` seconds later.
2. The manager restarted headless on that database: idle RSS.
3. The manager restarted with its window (offscreen Qt), which loads the task table:
   time until it answers, idle RSS.
In 2 and 3, `--load-workers` simulated workers then work through the job's tasks for
`--load-seconds` (the full protocol, 0-second tasks): tasks per second and the loop
lag p99 with the big job, i.e. whether the manager (and the window) stay fluid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    MB,
    CpuMeter,
    ManagerProcess,
    RssSampler,
    SimWorker,
    close_all,
    fmt,
    health,
    new_session,
    print_machine,
    print_table,
    register_all,
    submit_job,
    verdict,
    wait_calm,
)

BUDGET_RSS = 300.0  # MB with 100,000 tasks
BUDGET_LAG = 50.0


async def _load(m: ManagerProcess, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    """Workers cycling through the big job's tasks; tasks/s, CPU, lag over the load."""
    if args.load_seconds <= 0 or args.load_workers <= 0:
        return {}
    sessions = [new_session() for _ in range(args.load_workers)]
    workers = [SimWorker(s, m.url, f"{tag}-{i:03d}") for i, s in enumerate(sessions)]
    done = [0]

    async def cycle(w: SimWorker) -> None:
        while True:
            task_id, lease = await w.pull(wait=5)
            if task_id is None or lease is None:
                continue
            await w.fetch(task_id)
            await w.start(task_id, lease)
            await w.progress(task_id, lease, 1)
            await w.complete(task_id, lease)
            done[0] += 1

    try:
        await register_all(workers)
        cpu = CpuMeter(m.pid).start()
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(cycle(w)) for w in workers]
        await asyncio.sleep(args.load_seconds)
        elapsed = time.perf_counter() - t0
        cpu.stop()
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()  # type: ignore[misc]
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        async with aiohttp.ClientSession() as s:
            lag = (await health(s, m.url, args.load_seconds))["loop_lag"]
    finally:
        await close_all(sessions)
    return {
        "rate": done[0] / elapsed,
        "cpu": cpu.percent,
        "lag_p99": lag["p99_ms"],
        "lag_max": lag["max_ms"],
        "rss": m.rss() / MB,
    }


async def _restart(data: Path, window: bool, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    m = ManagerProcess(data, window=window).start(timeout=120)
    ready = time.perf_counter() - t0
    try:
        async with aiohttp.ClientSession() as s:
            calm = await wait_calm(s, m.url, timeout=120)
            await asyncio.sleep(args.idle)
            lag = (await health(s, m.url))["loop_lag"]
        out = {
            "ready_s": ready,
            "calm_s": ready + calm,
            "rss": m.rss() / MB,
            "idle_lag_max": lag["max_ms"],
        }
        out["load"] = await _load(m, args, "win" if window else "hl")
        return out
    finally:
        m.stop()


async def main_async(args: argparse.Namespace) -> int:
    print_machine(
        f"bench/memory.py: {args.tasks:,} tasks in one job; window: {not args.no_window}; "
        f"load: {args.load_workers} workers for {args.load_seconds:g} s"
    )
    with tempfile.TemporaryDirectory(prefix="flamenco-bench-mem-") as tmp:
        data = Path(tmp)
        m = ManagerProcess(data).start()
        try:
            await asyncio.sleep(args.idle)
            rss_empty = m.rss() / MB
            async with aiohttp.ClientSession() as s:
                with RssSampler(m.ps) as peak:  # type: ignore[arg-type]
                    t0 = time.perf_counter()
                    await submit_job(s, m.url, args.tasks, name="memory")
                    submit_s = time.perf_counter() - t0
                    await asyncio.sleep(0.2)
                rss_created = m.rss() / MB
                await asyncio.sleep(args.idle)
                rss_idle = m.rss() / MB
                lag = (await health(s, m.url))["loop_lag"]
        finally:
            m.stop()
        db_mb = sum(f.stat().st_size for f in (data / "data").glob("farm.sqlite*")) / MB
        headless = await _restart(data, False, args)
        win: dict[str, Any] | None = None
        if not args.no_window:
            try:
                win = await _restart(data, True, args)
            except RuntimeError as exc:  # reported, so the headless figures still print
                print(f"   the manager with its window failed: {exc}")
                win = {"failed": True}

    rows = [
        ["empty manager, idle RSS (MB)", fmt(rss_empty), "", ""],
        [f"POST /jobs of {args.tasks:,} tasks (s)", fmt(submit_s, 2), "", ""],
        ["  loop blocked by it, max lag (ms)", fmt(lag["max_ms"]), "", ""],
        ["  peak RSS while creating (MB)", fmt(peak.peak / MB), "", ""],
        ["  RSS just after (MB)", fmt(rss_created), "", ""],
        [f"  idle RSS {args.idle:g} s after (MB)", fmt(rss_idle), "< 300",
         verdict(rss_idle < BUDGET_RSS)],
        ["database file incl. WAL (MB)", fmt(db_mb), "", ""],
    ]  # fmt: skip
    for name, r in (("headless", headless), ("window", win)):
        if r is None:
            continue
        if r.get("failed"):
            rows.append([f"restarted {name}", "FAILED", "", ""])
            continue
        rows += [
            [f"restarted {name}: ready to answer (s)", fmt(r["ready_s"], 2), "", ""],
            [f"restarted {name}: tables loaded, loop calm (s)", fmt(r["calm_s"], 1), "", ""],
            ["  start-up: loop lag max (ms)", fmt(r["idle_lag_max"]), "", ""],
            [f"restarted {name}: idle RSS (MB)", fmt(r["rss"]), "< 300",
             verdict(r["rss"] < BUDGET_RSS)],
        ]  # fmt: skip
        load = r["load"]
        if load:
            rows += [
                [f"  {name} under load: tasks/s", fmt(load["rate"]), "", ""],
                [f"  {name} under load: manager CPU %", fmt(load["cpu"], 0), "", ""],
                [f"  {name} under load: loop lag p99 (ms)", fmt(load["lag_p99"]), "< 50",
                 verdict(load["lag_p99"] < BUDGET_LAG)],
                [f"  {name} under load: loop lag max (ms)", fmt(load["lag_max"]), "", ""],
                [f"  {name} under load: RSS after (MB)", fmt(load["rss"]), "< 300",
                 verdict(load["rss"] < BUDGET_RSS)],
            ]  # fmt: skip
    print_table(
        f"Manager memory with {args.tasks:,} tasks", ["figure", "value", "budget", ""], rows
    )
    return 1 if win and win.get("failed") else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--idle", type=float, default=3.0, help="seconds idle before reading RSS")
    p.add_argument("--load-workers", type=int, default=20)
    p.add_argument("--load-seconds", type=float, default=10.0)
    p.add_argument("--no-window", action="store_true", help="skip the run with the window")
    p.add_argument("--quick", action="store_true", help="10,000 tasks, headless, short load")
    args = p.parse_args()
    if args.quick:
        args.tasks, args.idle, args.no_window = 10_000, 1.0, True
        args.load_workers, args.load_seconds = 5, 1.5
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
