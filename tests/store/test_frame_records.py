"""Per-frame records through the farm on a real SQLite file: kept per (job, frame) with
the last render winning, refused from a worker without the lease, summarised in the
farm's history when the job is deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamenco_gui.farm.errors import Conflict
from flamenco_gui.farm.frames import to_csv
from flamenco_gui.farm.service import FarmConfig, FarmService
from flamenco_gui.farm.states import WorkerReport
from flamenco_gui.store.db import Store
from flamenco_gui.store.previews import Previews
from flamenco_gui.store.task_logs import TaskLogs


def _farm(tmp_path: Path) -> FarmService:
    return FarmService(
        Store(tmp_path / "farm.sqlite"),
        TaskLogs(tmp_path / "logs"),
        Previews(tmp_path / "previews"),
        FarmConfig(max_attempts=2),
    )


async def test_records_follow_the_renders_of_a_frame(tmp_path: Path) -> None:
    s = _farm(tmp_path)
    settings = {"argv": ["echo", "{frame}"], "frame_start": 1, "frame_end": 2}
    job = s.create_job(name="j", type="command", settings=settings, priority=50, chunk_size=1)
    a = s.register_worker("a", "Linux")[0]["id"]
    b = s.register_worker("b", "Linux")[0]["id"]
    task, lease = await s.worker_report(a, WorkerReport.AVAILABLE)
    first = {"frame": 1, "started": 10.0, "peak_memory_mb": 5.0}
    s.update_task(task, {"lease": lease, "frames": [first]}, a)
    s.update_task(task, {"lease": lease, "frames": [{**first, "finished": 12.0}]}, a)
    with pytest.raises(Conflict):  # not its lease: nothing recorded
        s.update_task(task, {"frames": [{"frame": 1, "path": "/x"}]}, b)
    (row,) = s.job_frames(job["id"])[0]
    assert (row["worker"], row["started"], row["finished"], row["path"]) == ("a", 10.0, 12.0, None)
    assert row["peak_memory_mb"] == 5.0  # kept from the earlier report of this render
    s.update_task(task, {"lease": lease, "status": "failed", "error": "boom"}, a)
    task2, lease2 = await s.worker_report(b, WorkerReport.AVAILABLE)
    assert task2 == task and lease2 != lease
    s.update_task(task, {"lease": lease2, "frames": [{"frame": 1, "started": 20.0}]}, b)
    (row,) = s.job_frames(job["id"])[0]
    assert (row["worker"], row["started"], row["finished"], row["peak_memory_mb"]) == (
        "b", 20.0, None, None,
    )  # fmt: skip
    assert to_csv([row]).splitlines()[1].startswith("1,b,20.0,,")
    attempts = s.job_attempts(job["id"])
    assert [(x["worker"], x["outcome"]) for x in attempts] == [("a", "failed"), ("b", None)]

    await s.delete_job(job["id"])
    assert s.store.conn.execute("SELECT count(*) FROM frame_records").fetchone()[0] == 0
    (kept,) = s.farm_history(0)
    assert kept["job_id"] == job["id"] and kept["frames"] == 2 and kept["failures"] == 1
    assert kept["tasks"] == 2 and kept["deleted"] is not None
