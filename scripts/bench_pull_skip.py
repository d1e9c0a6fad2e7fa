"""Time the pull's `next_queued_task` on 20,000 queued tasks (10 jobs), median of 200:
with `--tagged`, every job needs the tag `gpu` and the worker has none, so the pull
walks (and skips) them all (docs/performance.md).

    PYTHONPATH=. .venv/bin/python scripts/bench_pull_skip.py [--tagged]
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from flamenco_gui.store.db import Store

TAGS = {"tags": ["gpu"]} if "--tagged" in sys.argv else {}

with tempfile.TemporaryDirectory() as d:
    store = Store(Path(d) / "farm.sqlite")
    with store.uow.change():
        w = store.insert_worker({"hostname": "w", "status": "enabled", "connection": "online"})
        for _ in range(10):
            job = store.insert_job(
                {"name": "j", "type": "command", "status": "queued", "priority": 50, **TAGS}
            )
            rows = [{"type": "command", "status": "queued", "priority": 0, "job_priority": 50}]
            rows *= 2000
            cols, vals = store.encode_tasks(rows)
            store.insert_tasks(job, cols, vals)
    store.conn.execute("ANALYZE")
    times = []
    for _ in range(200):
        t = time.perf_counter()
        store.next_queued_task(w)
        times.append(time.perf_counter() - t)
    median, p95 = statistics.median(times) * 1e6, sorted(times)[190] * 1e6
    print(f"tagged={bool(TAGS)}: median {median:.0f} us, p95 {p95:.0f} us")
    store.close()
