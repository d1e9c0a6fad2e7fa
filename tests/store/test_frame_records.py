"""Per-frame records through the farm on a real SQLite file: kept per (job, frame) with
the last render winning, refused from a worker without the lease, summarised in the
farm's history when the job is deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from flamenco_gui.farm.errors import Conflict, Invalid
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


def _render_job(s: FarmService, output: str, frames: int = 8) -> int:
    settings = {
        "filepath": "/s.blend",
        "render_output": output,
        "frame_start": 1,
        "frame_end": frames,
    }
    return int(
        s.create_job(name="r", type="blender_render", settings=settings, priority=50, chunk_size=4)[
            "id"
        ]
    )


async def test_rerender_chunks_exactly_the_frames_given(tmp_path: Path) -> None:
    s = _farm(tmp_path)
    job = _render_job(s, str(tmp_path / "out" / "####"))
    with pytest.raises(Invalid, match="frames: 9 is outside the job's frames 1-8"):
        await s.rerender(job, [2, 9])
    view = await s.rerender(job, [5, 2, 3, 8, 3])
    assert view["tasks_total"] == 5 and view["status"] == "queued"
    spans = [(t["frame_start"], t["frame_end"]) for t in s.list_tasks(job_id=job)[0][2:]]
    assert spans == [(2, 3), (5, 5), (8, 8)]


async def test_check_frames_from_records_when_the_folder_is_not_here(tmp_path: Path) -> None:
    """The output is on a NAS only the nodes mount: the workers' own checks answer."""
    s = _farm(tmp_path)
    job = _render_job(s, "/nas/not/mounted/here/####", frames=4)
    w = s.register_worker("a", "Linux")[0]["id"]
    task, lease = await s.worker_report(w, WorkerReport.AVAILABLE)
    bad = "frame 3 failed the decode check: broken (/nas/x)"
    records = [
        {"frame": 1, "started": 1.0, "finished": 2.0, "check": "ok"},
        {"frame": 3, "started": 2.0, "finished": 3.0, "check": bad},
        {"frame": 4, "started": 3.0},  # never finished
    ]
    s.update_task(task, {"lease": lease, "frames": records}, w)
    assert await s.check_frames(job) == {
        "frames": 4,
        "missing": [2, 4],
        "broken": [{"frame": 3, "reason": bad}],
        "source": "worker records",
    }
