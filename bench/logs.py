"""Log ingestion: many workers streaming task log lines while they hold their leases.

    .venv/bin/python bench/logs.py            # 20 workers, batches of 500, 3 runs of 15 s
    .venv/bin/python bench/logs.py --window   # the manager with its window (offscreen)
    .venv/bin/python bench/logs.py --quick

Each worker takes one task of a job (pull, fetch, start) and then sends its log as
`POST /tasks/{id}/log {"lease", "lines"}` in batches of `--batch` lines (the real agent
sends up to 500 lines every 0.25 s), back to back, for `--seconds`. Lines look like
Blender's (~110 bytes). Lines per second counts only acknowledged (204) batches inside
the measured window; afterwards every task's log is read back through the API
(`X-Log-Size` and the text itself, in 8 MiB pages) and must hold exactly the bytes and
lines that were acknowledged. Manager RSS before the load, its peak, and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

import aiohttp
from _common import (
    FARM_TOKEN,
    MB,
    CpuMeter,
    ManagerProcess,
    RssSampler,
    SimWorker,
    SystemCpuMeter,
    close_all,
    fmt,
    health,
    median,
    new_session,
    print_machine,
    print_table,
    register_all,
    submit_job,
    verdict,
)

from flamenco_gui.farm.log_notes import PREFIX

BUDGET_LINES = 50_000.0
BUDGET_LAG = 50.0
PAGE = 8 * MB


def blender_line(worker: int, n: int) -> str:
    return (
        f"Fra:{n % 250 + 1} Mem:312.45M (Peak 498.12M) | Time:00:{n % 60:02d}.{n % 100:02d} | "
        f"Remaining:00:41.17 | Mem:88.21M, Peak:120.54M | Scene, ViewLayer | "
        f"Sample {n % 128}/128 w{worker}"
    )


async def _stream(
    w: SimWorker, index: int, args: argparse.Namespace, window: list[float], out: dict[str, Any]
) -> None:
    task_id = lease = None
    while task_id is None:
        task_id, lease = await w.pull()
    assert lease is not None
    await w.fetch(task_id)
    await w.start(task_id, lease)
    out["task_id"], out["lease"] = task_id, lease
    n = 0
    while time.perf_counter() < window[1]:
        lines = [blender_line(index, n + i) for i in range(args.batch)]
        n += args.batch
        await w.post_log(task_id, lease, lines)
        nbytes = sum(len(line.encode()) + 1 for line in lines)
        out["lines"] += len(lines)
        out["bytes"] += nbytes
        if window[0] <= time.perf_counter() <= window[1]:
            out["window_lines"] += len(lines)


MANAGER_LINE = PREFIX.encode()


async def _read_back(session: aiohttp.ClientSession, base: str, task_id: int) -> tuple[int, int]:
    """(bytes, lines) of the worker's part of a task's log, read through the API in
    pages: the manager's own lines (an attempt's header, docs/api.md) are left out."""
    headers = {"Authorization": f"Bearer {FARM_TOKEN}"}
    offset, lines, size = 0, 0, -1
    carry, own_bytes, own_lines = b"", 0, 0
    while size < 0 or offset < size:
        url = f"{base}/tasks/{task_id}/log?offset={offset}&limit={PAGE}"
        async with session.get(url, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"GET log of task {task_id}: {r.status}")
            size = int(r.headers["X-Log-Size"])
            data = await r.read()
        if not data:
            break
        lines += data.count(b"\n")
        offset += len(data)
        *whole, carry = (carry + data).split(b"\n")
        for line in whole:
            if line.startswith(MANAGER_LINE):
                own_bytes += len(line) + 1
                own_lines += 1
    return size - own_bytes, lines - own_lines


async def one_run(args: argparse.Namespace) -> dict[str, Any]:
    m = ManagerProcess(window=args.window).start()
    sessions = [new_session() for _ in range(args.workers)]
    admin = aiohttp.ClientSession()
    try:
        workers = [SimWorker(s, m.url, f"log-{i:03d}") for i, s in enumerate(sessions)]
        await register_all(workers)
        await submit_job(admin, m.url, args.workers, name="logs")
        await asyncio.sleep(0.5)
        rss_before = m.rss()
        outs = [{"lines": 0, "bytes": 0, "window_lines": 0} for _ in workers]
        start = time.perf_counter()
        window = [start + args.warmup, start + args.warmup + args.seconds]
        streams = [
            asyncio.create_task(_stream(w, i, args, window, outs[i])) for i, w in enumerate(workers)
        ]
        cpu, client, all_cpu = CpuMeter(m.pid), CpuMeter(), SystemCpuMeter()
        with RssSampler(m.ps) as rss:  # type: ignore[arg-type]
            await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
            cpu.start()
            client.start()
            all_cpu.start()
            await asyncio.gather(*streams)
            cpu.stop()
            client.stop()
            all_cpu.stop()
        lag = (await health(admin, m.url, args.seconds))["loop_lag"]
        rss_after = m.rss()
        # Verify: the manager stored exactly what it acknowledged.
        sizes_ok = lines_ok = True
        stored_lines = 0
        for o in outs:
            size, lines = await _read_back(admin, m.url, o["task_id"])
            stored_lines += lines
            sizes_ok &= size == o["bytes"]
            lines_ok &= lines == o["lines"]
        disk = sum(f.stat().st_size for f in (m.data_dir / "data" / "logs").rglob("*.log"))
    finally:
        await close_all([*sessions, admin])
        m.cleanup()
    sent = sum(o["lines"] for o in outs)
    return {
        "rate": sum(o["window_lines"] for o in outs) / args.seconds,
        "sent": sent,
        "stored": stored_lines,
        "verified": sizes_ok and lines_ok and stored_lines == sent,
        "disk_mb": disk / MB,
        "cpu": cpu.percent,
        "client": client.percent,
        "others": max(0.0, all_cpu.percent - cpu.percent - client.percent),
        "rss_before": rss_before / MB,
        "rss_peak": rss.peak / MB,
        "rss_after": rss_after / MB,
        "lag_p99": lag["p99_ms"],
        "lag_max": lag["max_ms"],
    }


async def main_async(args: argparse.Namespace) -> int:
    loop_kind = "qasync + window (offscreen)" if args.window else "asyncio (headless)"
    print_machine(
        f"bench/logs.py: {args.workers} workers, batches of {args.batch} lines, "
        f"{args.runs} run(s) of {args.seconds:g} s, loop {loop_kind}"
    )
    runs = []
    for i in range(args.runs):
        r = await one_run(args)
        runs.append(r)
        print(f"   run {i + 1}: {r['rate']:,.0f} lines/s, verified {r['verified']}", flush=True)
    print_table(
        "Per run",
        ["run", "lines/s", "lines sent", "lines stored", "verified", "log MB", "mgr CPU %",
         "client CPU %", "others CPU %", "RSS before MB", "RSS peak MB", "RSS after MB",
         "lag p99 ms", "lag max ms"],
        [
            [i + 1, fmt(r["rate"], 0), r["sent"], r["stored"], "yes" if r["verified"] else "NO",
             fmt(r["disk_mb"]), fmt(r["cpu"], 0), fmt(r["client"], 0), fmt(r["others"], 0),
             fmt(r["rss_before"]), fmt(r["rss_peak"]), fmt(r["rss_after"]), fmt(r["lag_p99"]),
             fmt(r["lag_max"])]
            for i, r in enumerate(runs)
        ],
    )  # fmt: skip
    rate = median(r["rate"] for r in runs)
    lag = median(r["lag_p99"] for r in runs)
    grow = median(r["rss_after"] - r["rss_before"] for r in runs)
    summary = [
        ["log lines stored per second", fmt(rate, 0), ">= 50,000", verdict(rate >= BUDGET_LINES)],
        ["all acknowledged lines read back", "yes" if all(r["verified"] for r in runs) else "NO",
         "", ""],
        ["manager RSS before load (MB)", fmt(median(r["rss_before"] for r in runs)), "", ""],
        ["manager RSS peak under load (MB)", fmt(median(r["rss_peak"] for r in runs)), "", ""],
        ["manager RSS growth after load (MB)", fmt(grow), "", ""],
        ["manager CPU (% of one core)", fmt(median(r["cpu"] for r in runs), 0), "", ""],
        ["client process CPU (% of one core)", fmt(median(r["client"] for r in runs), 0), "",
         ""],
        ["event-loop lag p99 (ms)", fmt(lag), "< 50", verdict(lag < BUDGET_LAG)],
    ]  # fmt: skip
    print_table(f"Medians of {args.runs} run(s)", ["figure", "median", "budget", ""], summary)
    return 0 if all(r["verified"] for r in runs) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workers", type=int, default=20)
    p.add_argument("--batch", type=int, default=500, help="lines per POST (the agent's batch)")
    p.add_argument("--seconds", type=float, default=15.0, help="measured window per run")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--window", action="store_true", help="manager with its window (offscreen)")
    p.add_argument("--quick", action="store_true", help="small counts, a few seconds")
    args = p.parse_args()
    if args.quick:
        args.workers, args.seconds, args.warmup, args.runs = 5, 2.0, 0.5, 1
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
