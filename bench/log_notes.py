"""What the manager's own log lines cost on the loop (farm/log_notes.py).

    PYTHONPATH=. .venv/bin/python bench/log_notes.py

2,000 attempt headers into new task logs (one per claim), then 2,000 lines into one
log (an attempt ended by someone other than its worker), through the real TaskLogs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from flamenco_gui.farm.log_notes import LogNotes
from flamenco_gui.store.task_logs import TaskLogs

N = 2000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        notes = LogNotes(TaskLogs(Path(tmp)), lambda _worker: "render-01")
        start = time.perf_counter()
        for task_id in range(N):
            notes.attempt_started(task_id, 1, 1, time.time())
        header = (time.perf_counter() - start) / N
        start = time.perf_counter()
        for _ in range(N):
            notes.attempt_ended(7, "canceled", "job cancel by the wrangler")
        line = (time.perf_counter() - start) / N
    print(f"attempt header: {header * 1e3:.2f} ms per claim ({N} new logs)")
    print(f"end line: {line * 1e3:.2f} ms per line (one log)")


if __name__ == "__main__":
    main()
