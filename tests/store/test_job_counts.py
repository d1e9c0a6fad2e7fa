"""Job task counts kept by triggers (schema v5) always equal a count of the tasks.

They replace a GROUP BY on every status change, so a drift would show wrong progress
and wrong job statuses; these tests compare them to the real count after every kind of
change, and check that a database from before v5 gets them filled in.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from flamenco_gui.farm.service import FarmConfig, FarmService
from flamenco_gui.farm.states import TaskStatus, WorkerReport
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.schema import MIGRATIONS
from flamenco_gui.store.task_logs import TaskLogs


def _counted(conn: sqlite3.Connection, job_id: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) FROM tasks WHERE job_id = ? GROUP BY status", (job_id,)
    )
    return dict(rows.fetchall())


def _job(s: FarmService, frames: int) -> int:
    settings = {"argv": ["echo", "{frame}"], "frame_start": 1, "frame_end": frames}
    job = s.create_job(name="j", type="command", settings=settings, priority=50, chunk_size=1)
    return int(job["id"])


async def test_counts_follow_every_kind_of_change(tmp_path: Path) -> None:
    s = FarmService(
        Store(tmp_path / "farm.sqlite"),
        TaskLogs(tmp_path / "logs"),
        Previews(tmp_path / "previews"),
        FarmConfig(max_attempts=1),
    )
    job, other = _job(s, 6), _job(s, 2)
    w = s.register_worker("a", "Linux")[0]["id"]

    def check() -> None:
        for j in (job, other):
            assert s.store.job_task_counts(j) == _counted(s.store.conn, j)

    check()
    t1, l1 = await s.worker_report(w, WorkerReport.AVAILABLE)
    check()
    s.update_task(t1, {"status": "completed", "lease": l1}, w)
    t2, l2 = await s.worker_report(w, WorkerReport.AVAILABLE)
    s.update_task(t2, {"status": "failed", "lease": l2, "error": "boom"}, w)
    check()
    assert s.store.job_task_counts(job) == {"completed": 1, "failed": 1, "queued": 4}
    await s.job_action(job, "pause")
    check()
    await s.job_action(job, "requeue")
    check()
    assert s.store.job_task_counts(job) == {"queued": 6}
    t3, _ = await s.worker_report(w, WorkerReport.AVAILABLE)
    s.delete_task(t3)
    s.set_task_status(s.list_tasks(job_id=job)[0][0]["id"], TaskStatus.CANCELED)
    check()
    await s.delete_job(other)
    check()
    assert s.store.job_task_counts(other) == {}
    assert s.get_job(job)["tasks_total"] == 5


def test_a_database_from_before_the_counts_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    for version, migration in enumerate(MIGRATIONS[:4], start=1):
        migration(db)
        db.conn.execute(f"PRAGMA user_version = {version}")
    db.conn.execute(
        "INSERT INTO jobs (id, name, type, status, priority) VALUES (7, 'old', 'command', "
        "'rendering', 50)"
    )
    for i, status in enumerate(["queued", "queued", "completed", "rendering"], start=1):
        db.conn.execute(
            "INSERT INTO tasks (id, job_id, type, status, priority, job_priority, lease, "
            "attempts) VALUES (?, 7, 'command', ?, 50, 50, 0, 0)",
            (i, status),
        )
    db.conn.close()
    store = Store(path)
    assert store.job_task_counts(7) == {"queued": 2, "completed": 1, "rendering": 1}
    store.move_task(1, {"status": "completed"})  # and the triggers run from now on
    assert store.job_task_counts(7) == {"queued": 1, "completed": 2, "rendering": 1}
    store.close()
