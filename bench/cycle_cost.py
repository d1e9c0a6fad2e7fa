"""The farm's own cost of a task cycle, without HTTP: what bench/dispatch.py cannot split.

    .venv/bin/python bench/cycle_cost.py            # 3 runs of 3,000 cycles
    .venv/bin/python bench/cycle_cost.py --quick

The same four calls a worker's cycle makes (pull, start, one progress report,
complete) go straight to the farm service on a real SQLite file, each in a batch of
its own as an API request's, with ten cycles sharing a group commit (as they do at a
few hundred cycles a second). Reported: CPU per cycle, then a second pass with every
SQL statement timed, so that the SQLite part of the farm's cost (statements, commit)
is told apart from its Python. Set against `dispatch.py`'s bare-server cost per cycle,
this says how much of the manager's cost is the farm and how much the API layer.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import median, print_machine, print_table

from flamenco_gui.farm.service import FarmConfig, FarmService
from flamenco_gui.farm.states import WorkerReport
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs

WORKERS = 20
PER_COMMIT = 10  # cycles that share one group commit
# A cycle's reports after its pull: start, one progress report, completion.
REPORTS: tuple[dict[str, Any], ...] = (
    {"status": "rendering"},
    {"progress": 50.0, "activity": "Fra:1"},
    {"status": "completed", "time_cost": 0.1},
)


class TimedConnection:
    """The store's connection with each statement's time added up by its text."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.spent: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        began = time.perf_counter()
        try:
            return self._conn.execute(sql, *args)
        finally:
            entry = self.spent[" ".join(sql.split())[:70]]
            entry[0] += 1
            entry[1] += time.perf_counter() - began

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def _cycles(service: FarmService, workers: list[int], first: int, n: int) -> None:
    async def one(worker: int) -> None:
        service.batch()  # each call is a request of its own, as over HTTP
        task, lease = await service.worker_report(worker, WorkerReport.AVAILABLE)
        assert task is not None and lease is not None
        for fields in REPORTS:
            service.batch()
            service.update_task(task, {"lease": lease, **fields}, worker)

    for start in range(first, first + n, PER_COMMIT):
        group = [workers[i % len(workers)] for i in range(start, start + PER_COMMIT)]
        await asyncio.gather(*(one(w) for w in group))
        service.changes.flush()


async def run(cycles: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flamenco-cycle-") as tmp:
        root = Path(tmp)
        store = Store(root / "farm.sqlite")
        config = FarmConfig(worker_timeout=3600, task_timeout=3600)
        service = FarmService(store, TaskLogs(root / "logs"), Previews(root / "p"), config)
        try:
            await service.submit_job(
                name="cycles",
                type="command",
                settings={"argv": ["true"], "frame_start": 1, "frame_end": 2 * cycles + 500},
                priority=50,
                chunk_size=1,
            )
            workers = [service.register_worker(f"w{i}", "Linux")[0]["id"] for i in range(WORKERS)]
            await _cycles(service, workers, 0, 200)  # warm: caches, statements prepared
            cpu = time.process_time()
            await _cycles(service, workers, 200, cycles)
            per_cycle = (time.process_time() - cpu) / cycles
            timed = TimedConnection(store.conn)
            store.conn = store.uow.conn = timed  # type: ignore[assignment]
            cpu = time.process_time()
            await _cycles(service, workers, 200 + cycles, cycles)
            timed_cycle = (time.process_time() - cpu) / cycles
            store.conn = store.uow.conn = timed._conn
        finally:
            store.close()
    sql = sum(s for _, s in timed.spent.values()) / cycles
    return {"cpu": per_cycle, "timed": timed_cycle, "sql": sql, "spent": timed.spent}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cycles", type=int, default=3000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.cycles, args.runs = 300, 1
    print_machine("bench/cycle_cost.py: the farm's cost of a task cycle, in-process")
    results = [asyncio.run(run(args.cycles)) for _ in range(args.runs)]
    cpu = median([r["cpu"] for r in results])
    sql = median([r["sql"] for r in results])
    timed = median([r["timed"] for r in results])
    rows = [
        ["farm CPU per cycle (ms)", f"{1000 * cpu:.3f}"],
        ["of it SQLite: statements and commits (ms, timed pass)", f"{1000 * sql:.3f}"],
        ["the rest: Python (ms; farm CPU less SQLite)", f"{1000 * (cpu - sql):.3f}"],
        ["the timed pass's CPU per cycle (ms; the timing's own cost added)", f"{1000 * timed:.3f}"],
    ]
    print_table(f"Medians of {args.runs} run(s), {args.cycles} cycles each", ["", "ms"], rows)
    last = results[-1]["spent"]
    by_time = sorted(last.items(), key=lambda kv: -kv[1][1])
    print_table(
        "Statements of the last run (per cycle)",
        ["statement", "count", "µs each", "ms per cycle"],
        [
            [
                sql_text,
                f"{n / args.cycles:.2f}",
                f"{1e6 * s / n:.1f}",
                f"{1000 * s / args.cycles:.3f}",
            ]
            for sql_text, (n, s) in by_time[:14]
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
