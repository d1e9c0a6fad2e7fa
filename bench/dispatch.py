"""Dispatch throughput: hundreds of simulated workers through the full worker protocol.

    .venv/bin/python bench/dispatch.py            # 200 workers, 3 runs of 20 s
    .venv/bin/python bench/dispatch.py --window   # the manager with its window (offscreen)
    .venv/bin/python bench/dispatch.py --quick    # a few seconds, small counts

Each worker runs the protocol's cycle for a task that takes no time, as issue 6 names
it: pull (`PATCH /workers/{id}` available, wait 25), start (`PATCH /tasks/{id}`
rendering), one progress report, complete. The real agent also fetches the task's
commands (`GET /tasks/{id}`) after the pull: `--fetch` adds that call. Jobs of
`--job-size` one-frame `command` tasks are submitted as the queue drains, like a farm
fed by a busy studio. The same clients then drive a bare aiohttp server (constant
answers, no validation, no database) on the same loop type: the ratio of the two rates
shows what the manager's own work costs. Both servers are separate processes; the
clients all live in this one (asyncio) process, whose CPU is reported too, so a reader
can see when the clients, not the server, were the limit (2 cores in all).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from _common import (
    BareServer,
    CpuMeter,
    Latencies,
    ManagerProcess,
    SimWorker,
    SystemCpuMeter,
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
    wait_for_quiet,
)

BUDGET_RATE = 500.0  # task cycles per second
BUDGET_RATIO = 0.40  # of the bare aiohttp rate
BUDGET_LAG = 50.0  # ms, loop lag p99


@dataclass
class Phase:
    """What one server did under the load, inside the measured window."""

    server: str
    cycles: int = 0
    seconds: float = 0.0
    lat: Latencies = field(default_factory=Latencies)
    server_cpu: float = float("nan")
    client_cpu: float = float("nan")
    others_cpu: float = float("nan")  # other processes on a shared machine
    lag_p99: float = float("nan")
    lag_max: float = float("nan")
    jobs: int = 0
    errors: list[str] = field(default_factory=list)

    server_cpu_s: float = float("nan")
    client_cpu_s: float = float("nan")

    @property
    def server_ms_per_cycle(self) -> float:
        """Server CPU per task cycle: robust to other tenants of a shared machine."""
        return 1000 * self.server_cpu_s / self.cycles if self.cycles else float("nan")

    @property
    def client_ms_per_cycle(self) -> float:
        return 1000 * self.client_cpu_s / self.cycles if self.cycles else float("nan")

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds if self.seconds else float("nan")

    def latency_ms(self, p: float) -> float:
        return 1000 * percentile(self.lat.all(), p)


async def _cycles(
    w: SimWorker,
    phase: Phase,
    window: list[float],
    claimed: list[int],
    fetch: bool,
    render: float,
) -> None:
    while True:
        task_id, lease = await w.pull()
        if task_id is None or lease is None:
            continue
        claimed[0] += 1
        if fetch:
            await w.fetch(task_id)
        await w.start(task_id, lease)
        if render:
            await asyncio.sleep(render)
        await w.progress(task_id, lease, 1)
        await w.complete(task_id, lease)
        if window[0] <= time.perf_counter() <= window[1]:
            phase.cycles += 1


async def drive(
    base: str,
    server_pid: int,
    phase: Phase,
    args: argparse.Namespace,
    *,
    feed_jobs: bool,
) -> Phase:
    sessions = [new_session() for _ in range(args.workers)]
    workers = [SimWorker(s, base, f"bench-{i:04d}", phase.lat) for i, s in enumerate(sessions)]
    admin = aiohttp.ClientSession()
    claimed = [0]
    submitted = 0
    window = [float("inf"), float("inf")]
    try:
        await register_all(workers)
        if feed_jobs:
            for _ in range(2):
                await submit_job(admin, base, args.job_size)
                submitted += args.job_size
        tasks = [
            asyncio.create_task(_cycles(w, phase, window, claimed, args.fetch, args.task_seconds))
            for w in workers
        ]
        server_cpu, client_cpu, all_cpu = CpuMeter(server_pid), CpuMeter(), SystemCpuMeter()
        start = time.perf_counter()
        window[:] = [start + args.warmup, start + args.warmup + args.seconds]
        recording = False
        profiler: subprocess.Popen[bytes] | None = None
        while time.perf_counter() < window[1]:
            failed = next((t for t in tasks if t.done()), None)
            if failed is not None:
                failed.result()  # raises the worker's error
            if not recording and time.perf_counter() >= window[0]:
                recording = phase.lat.recording = True
                server_cpu.start()
                client_cpu.start()
                all_cpu.start()
                if args.py_spy and feed_jobs:
                    profiler = _py_spy(args.py_spy, server_pid, args.seconds)
            if feed_jobs and submitted - claimed[0] < args.job_size:
                await submit_job(admin, base, args.job_size)
                submitted += args.job_size
                phase.jobs += 1
            await asyncio.sleep(0.02)
        phase.lat.recording = False
        phase.seconds = args.seconds
        phase.server_cpu = server_cpu.stop()
        phase.client_cpu = client_cpu.stop()
        phase.server_cpu_s, phase.client_cpu_s = server_cpu.seconds, client_cpu.seconds
        phase.others_cpu = max(0.0, all_cpu.stop() - phase.server_cpu - phase.client_cpu)
        if feed_jobs:
            lag = (await health(admin, base, args.seconds))["loop_lag"]
            phase.lag_p99, phase.lag_max = lag["p99_ms"], lag["max_ms"]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if profiler is not None:
            profiler.wait(timeout=args.seconds + 30)
    finally:
        await close_all([*sessions, admin])
    return phase


def _py_spy(out: str, pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    exe = __import__("shutil").which("py-spy") or str(
        __import__("pathlib").Path(sys.executable).parent / "py-spy"
    )
    cmd = [exe, "record", "--format", "raw", "-o", out, "-p", str(pid), "-d", str(int(seconds))]
    cmd += ["--nonblocking", "--rate", "200"]
    try:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        print(f"   (py-spy not started: {exc})")
        return None


async def run_manager(args: argparse.Namespace) -> Phase:
    # Every simulated worker connects from 127.0.0.1, where a farm's nodes have an
    # address each: the per-address limit (docs/limits.md) is raised to fit them.
    room = str(max(1024, 2 * args.workers + 64))  # a worker may open a second one
    os.environ["FLAMENCO_LIMIT_MAX_CONNECTIONS_PER_ADDRESS"] = room
    os.environ["FLAMENCO_LIMIT_MAX_CONNECTIONS"] = room
    m = ManagerProcess(window=args.window, uvloop=args.uvloop)
    m.start()
    try:
        return await drive(m.url, m.pid, Phase("manager"), args, feed_jobs=True)
    except Exception:
        print(m.log_tail(), file=sys.stderr)
        raise
    finally:
        m.cleanup()


async def run_bare(args: argparse.Namespace) -> Phase:
    with BareServer(qt=args.window) as bare:
        return await drive(bare.url, bare.pid, Phase("bare aiohttp"), args, feed_jobs=False)


def _row(run: int | str, p: Phase) -> list[Any]:
    return [
        f"{run} {p.server}",
        fmt(p.rate),
        fmt(p.latency_ms(50), 2),
        fmt(p.latency_ms(99), 2),
        fmt(p.server_cpu, 0),
        fmt(p.server_ms_per_cycle, 2),
        fmt(p.client_cpu, 0),
        fmt(p.client_ms_per_cycle, 2),
        fmt(p.others_cpu, 0),
        fmt(p.lag_p99, 1),
        fmt(p.lag_max, 1),
    ]


async def main_async(args: argparse.Namespace) -> int:
    loop_kind = "qasync + window (offscreen)" if args.window else "asyncio (headless)"
    if args.uvloop:
        loop_kind = "uvloop (headless; the bare server on asyncio)"
    calls = (
        "pull, fetch, start, progress, complete"
        if args.fetch
        else "pull, start, progress, complete"
    )
    print_machine(
        f"bench/dispatch.py: {args.workers} workers, {args.runs} run(s) of {args.seconds:g} s "
        f"(after {args.warmup:g} s warm-up), jobs of {args.job_size} tasks, loop {loop_kind}, "
        f"cycle: {calls}, tasks of {args.task_seconds:g} s"
    )
    header = [
        "run / server",
        "tasks/s",
        "req p50 ms",
        "req p99 ms",
        "server CPU %",
        "server CPU ms/cycle",
        "client CPU %",
        "client CPU ms/cycle",
        "others CPU %",
        "lag p99 ms",
        "lag max ms",
    ]
    rows: list[list[Any]] = []
    results: list[tuple[Phase, Phase]] = []
    for run in range(1, args.runs + 1):
        if args.wait_quiet:
            wait_for_quiet()
        # Alternate the order so a drifting machine load does not favour one side.
        if run % 2:
            ours = await run_manager(args)
            bare = await run_bare(args)
        else:
            bare = await run_bare(args)
            ours = await run_manager(args)
        results.append((ours, bare))
        rows += [_row(run, ours), _row(run, bare)]
        print(
            f"   run {run}: manager {ours.rate:,.0f} tasks/s, bare {bare.rate:,.0f} cycles/s, "
            f"ratio {ours.rate / bare.rate:.2f}",
            flush=True,
        )
    print_table("Per run (figures inside the measured window)", header, rows)

    rate = median(o.rate for o, _ in results)
    bare_rate = median(b.rate for _, b in results)
    ratio = median(o.rate / b.rate for o, b in results)
    lag = median(o.lag_p99 for o, _ in results)
    p50 = median(o.latency_ms(50) for o, _ in results)
    p99 = median(o.latency_ms(99) for o, _ in results)
    cpu = median(o.server_cpu for o, _ in results)
    cost = median(o.server_ms_per_cycle for o, _ in results)
    bare_cost = median(b.server_ms_per_cycle for _, b in results)
    ccpu = median(o.client_cpu for o, _ in results)
    ocpu = median(o.others_cpu for o, _ in results)
    by_kind = {
        k: median(1000 * percentile(o.lat.by_kind.get(k, []), 50) for o, _ in results)
        for k in ("pull", "fetch", "start", "progress", "complete")
        if k != "fetch" or args.fetch
    }
    summary = [
        ["task cycles per second", fmt(rate), ">= 500", verdict(rate >= BUDGET_RATE)],
        ["bare aiohttp cycles per second", fmt(bare_rate), "", ""],
        ["ratio manager / bare", fmt(ratio, 2), ">= 0.40", verdict(ratio >= BUDGET_RATIO)],
        ["request latency p50 (ms)", fmt(p50, 2), "", ""],
        ["request latency p99 (ms)", fmt(p99, 2), "", ""],
        ["manager CPU (% of one core)", fmt(cpu, 0), "", ""],
        ["manager CPU per task cycle (ms)", fmt(cost, 2), "", ""],
        ["bare server CPU per cycle (ms)", fmt(bare_cost, 2), "", ""],
        ["CPU-cost ratio bare / manager", fmt(bare_cost / cost, 2), "", ""],
        ["client process CPU (% of one core)", fmt(ccpu, 0), "", ""],
        ["other processes' CPU (% of one core)", fmt(ocpu, 0), "", ""],
        ["event-loop lag p99 (ms)", fmt(lag), "< 50", verdict(lag < BUDGET_LAG)],
    ]
    print_table(f"Medians of {args.runs} run(s)", ["figure", "median", "budget", ""], summary)
    print_table(
        "Median latency p50 by request (ms)",
        ["request", "p50 ms"],
        [[k, fmt(v, 2)] for k, v in by_kind.items()],
    )
    if ccpu > 85:
        print("   note: the client process used most of a core; it may be the limit.")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workers", type=int, default=200)
    p.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--job-size", type=int, default=1000, help="tasks per submitted job")
    p.add_argument(
        "--task-seconds",
        type=float,
        default=0.0,
        help="each task 'renders' this long (0: a closed-loop overload; >0: a paced farm)",
    )
    p.add_argument("--fetch", action="store_true", help="also GET /tasks/{id} after each pull")
    p.add_argument("--window", action="store_true", help="manager with its window (offscreen)")
    p.add_argument(
        "--uvloop", action="store_true", help="headless manager on uvloop (pip install uvloop)"
    )
    p.add_argument("--py-spy", metavar="OUT", help="record the manager with py-spy (raw format)")
    p.add_argument(
        "--no-wait-quiet",
        dest="wait_quiet",
        action="store_false",
        help="do not wait for other processes to calm down before each run",
    )
    p.add_argument("--quick", action="store_true", help="small counts, a few seconds")
    args = p.parse_args()
    if args.quick:
        args.wait_quiet = False
        args.workers, args.seconds, args.warmup, args.runs = 20, 2.0, 1.0, 1
        args.job_size = min(args.job_size, 200)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
