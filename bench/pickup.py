"""Pickup: how fast an idle farm starts a new job, and how long a worker idles between tasks.

    .venv/bin/python bench/pickup.py            # 50 workers, 5 submissions, 3 gap runs
    .venv/bin/python bench/pickup.py --window   # the manager with its window (offscreen)
    .venv/bin/python bench/pickup.py --quick

Part 1, pickup: 50 simulated workers sit in the long poll (`PATCH /workers/{id}`
available, wait 25), as real agents do when idle. One job of 50 one-frame `command`
tasks is submitted (`POST /jobs`); for every worker the time from the submit answer
until its pull answered with a task ("received") and until its start report was
acknowledged ("started"). Each worker holds its task for `--hold` seconds so that no
worker takes two. Repeated `--submissions` times on one manager (workers go back to the
long poll between submissions); each run's p50 and max, then their medians.

Part 2, idle gap: the same 50 workers work through a job of `--gap-tasks` tasks per
worker, each task "rendering" for a random 0.25-0.75 s (so the manager is not saturated
and the gap shows the protocol's own delay). The gap is the time from a worker's
completion answer to the pull answer with its next task (and to its next start
acknowledged). A fresh manager per run; the manager's loop lag is read at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from typing import Any

import aiohttp
from _common import (
    ManagerProcess,
    SimWorker,
    close_all,
    fmt,
    health,
    median,
    new_session,
    percentile,
    print_machine,
    print_table,
    register_all,
    submit_job,
    verdict,
)

BUDGET_PICKUP_MAX = 500.0  # ms: every worker started
BUDGET_GAP_P50 = 20.0  # ms
BUDGET_LAG = 50.0  # ms


async def _hold_one(w: SimWorker, hold: float, go: asyncio.Event) -> dict[str, float]:
    """One worker's part in one submission: long-poll, take one task, run it, complete."""
    task_id = lease = None
    while task_id is None:
        task_id, lease = await w.pull()
    received = time.perf_counter()
    assert lease is not None
    await w.fetch(task_id)
    await w.start(task_id, lease)
    started = time.perf_counter()
    await go.wait()  # every worker holds its task until all have one
    await asyncio.sleep(hold)
    await w.progress(task_id, lease, 1)
    await w.complete(task_id, lease)
    return {"received": received, "started": started}


async def pickup_runs(
    base: str, workers: list[SimWorker], admin: aiohttp.ClientSession, args: argparse.Namespace
) -> list[dict[str, Any]]:
    runs = []
    for i in range(args.submissions):
        go = asyncio.Event()
        holders = [asyncio.create_task(_hold_one(w, args.hold, go)) for w in workers]
        # Give every worker time to be parked in its long poll on the manager.
        await asyncio.sleep(args.settle)
        sent = time.perf_counter()
        await submit_job(admin, base, len(workers), name=f"pickup {i + 1}")
        answered = time.perf_counter()
        # Wait until every worker has started, then let them finish.
        while sum(1 for w in workers if w.name in _started) < len(workers):
            await asyncio.sleep(0.001)
        go.set()
        results = await asyncio.gather(*holders)
        _started.clear()
        # A worker may get its answer before this process reads the submit answer: 0.
        recv = [max(0.0, r["received"] - answered) * 1000 for r in results]
        start = [max(0.0, r["started"] - answered) * 1000 for r in results]
        runs.append(
            {
                "submit_ms": (answered - sent) * 1000,
                "recv_p50": percentile(recv, 50),
                "recv_max": max(recv),
                "start_p50": percentile(start, 50),
                "start_max": max(start),
                "start_max_from_sent": max(r["started"] - sent for r in results) * 1000,
            }
        )
    return runs


_started: set[str] = set()


class _MarkingWorker(SimWorker):
    """Marks itself started once its start report is acknowledged (part 1)."""

    async def start(self, task_id: int, lease: int) -> None:
        await super().start(task_id, lease)
        _started.add(self.name)


async def part1(args: argparse.Namespace) -> tuple[list[dict[str, Any]], float]:
    m = ManagerProcess(window=args.window).start()
    sessions = [new_session() for _ in range(args.workers)]
    admin = aiohttp.ClientSession()
    try:
        workers: list[SimWorker] = [
            _MarkingWorker(s, m.url, f"pickup-{i:03d}") for i, s in enumerate(sessions)
        ]
        await register_all(workers)
        t0 = time.perf_counter()
        runs = await pickup_runs(m.url, workers, admin, args)
        lag_window = time.perf_counter() - t0
        lag = (await health(admin, m.url, lag_window))["loop_lag"]["p99_ms"]
        return runs, lag
    finally:
        await close_all([*sessions, admin])
        m.cleanup()


async def _gap_worker(w: SimWorker, gaps: dict[str, list[float]], rng: random.Random) -> int:
    done = 0
    completed_at: float | None = None
    while True:
        task_id, lease = await w.pull(wait=2 if completed_at is not None else 25)
        if task_id is None or lease is None:
            return done  # the job is drained
        received = time.perf_counter()
        await w.fetch(task_id)
        await w.start(task_id, lease)
        if completed_at is not None:
            gaps["received"].append((received - completed_at) * 1000)
            gaps["started"].append((time.perf_counter() - completed_at) * 1000)
        await asyncio.sleep(rng.uniform(0.25, 0.75))
        await w.progress(task_id, lease, 1)
        await w.complete(task_id, lease)
        completed_at = time.perf_counter()
        done += 1


async def part2(args: argparse.Namespace, run: int) -> dict[str, Any]:
    m = ManagerProcess(window=args.window).start()
    sessions = [new_session() for _ in range(args.workers)]
    admin = aiohttp.ClientSession()
    gaps: dict[str, list[float]] = {"received": [], "started": []}
    try:
        workers = [SimWorker(s, m.url, f"gap-{i:03d}") for i, s in enumerate(sessions)]
        await register_all(workers)
        rng = random.Random(run)
        tasks = [asyncio.create_task(_gap_worker(w, gaps, rng)) for w in workers]
        await asyncio.sleep(args.settle)
        t0 = time.perf_counter()
        await submit_job(admin, m.url, args.workers * args.gap_tasks, name="gap")
        done = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        lag = (await health(admin, m.url, elapsed))["loop_lag"]
    finally:
        await close_all([*sessions, admin])
        m.cleanup()
    return {
        "tasks": sum(done),
        "seconds": elapsed,
        "gap_recv_p50": percentile(gaps["received"], 50),
        "gap_recv_p99": percentile(gaps["received"], 99),
        "gap_start_p50": percentile(gaps["started"], 50),
        "gap_start_p99": percentile(gaps["started"], 99),
        "gaps": len(gaps["received"]),
        "lag_p99": lag["p99_ms"],
        "lag_max": lag["max_ms"],
    }


async def main_async(args: argparse.Namespace) -> int:
    loop_kind = "qasync + window (offscreen)" if args.window else "asyncio (headless)"
    print_machine(
        f"bench/pickup.py: {args.workers} workers, {args.submissions} submissions, "
        f"{args.gap_runs} gap run(s) of {args.gap_tasks} tasks per worker, loop {loop_kind}"
    )
    runs, lag1 = await part1(args)
    print_table(
        "Part 1: pickup of a new job by idle workers (ms after the submit answer)",
        ["submission", "POST /jobs ms", "received p50", "received max", "started p50",
         "started max", "started max from send"],
        [
            [i + 1, fmt(r["submit_ms"]), fmt(r["recv_p50"]), fmt(r["recv_max"]),
             fmt(r["start_p50"]), fmt(r["start_max"]), fmt(r["start_max_from_sent"])]
            for i, r in enumerate(runs)
        ],
    )  # fmt: skip
    print(f"   manager loop lag p99 over part 1: {lag1:.1f} ms")

    gap_runs = []
    for run in range(1, args.gap_runs + 1):
        gap_runs.append(await part2(args, run))
    print_table(
        "Part 2: idle gap between consecutive tasks on one worker (ms)",
        ["run", "tasks", "gaps", "received p50", "received p99", "started p50", "started p99",
         "lag p99", "lag max"],
        [
            [i + 1, g["tasks"], g["gaps"], fmt(g["gap_recv_p50"], 2), fmt(g["gap_recv_p99"], 2),
             fmt(g["gap_start_p50"], 2), fmt(g["gap_start_p99"], 2), fmt(g["lag_p99"]),
             fmt(g["lag_max"])]
            for i, g in enumerate(gap_runs)
        ],
    )  # fmt: skip

    start_max = median(r["start_max"] for r in runs)
    gap_p50 = median(g["gap_recv_p50"] for g in gap_runs)
    lag = max(lag1, median(g["lag_p99"] for g in gap_runs))
    summary = [
        ["pickup: received p50 (ms)", fmt(median(r["recv_p50"] for r in runs)), "", ""],
        ["pickup: received max (ms)", fmt(median(r["recv_max"] for r in runs)), "", ""],
        ["pickup: started p50 (ms)", fmt(median(r["start_p50"] for r in runs)), "", ""],
        ["pickup: started max (ms)", fmt(start_max), "< 500",
         verdict(start_max < BUDGET_PICKUP_MAX)],
        ["pickup: worst started max of all (ms)", fmt(max(r["start_max"] for r in runs)), "", ""],
        ["idle gap: received p50 (ms)", fmt(gap_p50, 2), "< 20", verdict(gap_p50 < BUDGET_GAP_P50)],
        ["idle gap: received p99 (ms)", fmt(median(g["gap_recv_p99"] for g in gap_runs), 2),
         "", ""],
        ["idle gap: started p50 (ms)", fmt(median(g["gap_start_p50"] for g in gap_runs), 2),
         "", ""],
        ["idle gap: started p99 (ms)", fmt(median(g["gap_start_p99"] for g in gap_runs), 2),
         "", ""],
        ["event-loop lag p99 (ms, worst part)", fmt(lag), "< 50", verdict(lag < BUDGET_LAG)],
    ]  # fmt: skip
    print_table("Medians", ["figure", "median", "budget", ""], summary)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workers", type=int, default=50)
    p.add_argument("--submissions", type=int, default=5, help="pickup runs (part 1)")
    p.add_argument("--hold", type=float, default=0.2, help="seconds each worker holds its task")
    p.add_argument("--settle", type=float, default=1.0, help="idle seconds before a submit")
    p.add_argument("--gap-runs", type=int, default=3, help="idle-gap runs (part 2)")
    p.add_argument("--gap-tasks", type=int, default=20, help="tasks per worker in part 2")
    p.add_argument("--window", action="store_true", help="manager with its window (offscreen)")
    p.add_argument("--quick", action="store_true", help="small counts, a few seconds")
    args = p.parse_args()
    if args.quick:
        args.workers, args.submissions, args.gap_runs, args.gap_tasks = 10, 2, 1, 3
        args.settle = 0.5
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
