"""Per-frame records: what each frame of a job took, on which worker, and whether it
is sound (docs/statistics.md).

The worker sends a task's records whole with each progress report and its final one
(worker/frame_records.py); they are kept per (job, frame), the last render winning, for
the life of the job. A deleted job leaves one summary row in the farm's history.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from flamenco_gui.farm.slices import SliceSize
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.frame_check import FrameRules
from flamenco_gui.rows import AttemptSums, FarmHistoryRow, FrameRecordRow, JobRow, TaskState

RENDER_TYPES = ("blender_render", "simple_blender_render")
CSV_COLUMNS = (
    "frame", "worker", "started", "finished", "render_seconds",
    "peak_memory_mb", "path", "bytes", "check", "task_id", "worker_id",
)  # fmt: skip
SUMMARY_SLICE = 2000  # a job summary's first slice of tasks (then sized by farm/slices.py)
# Fields a worker's record may carry (the rest of a row is the manager's to set).
REPORTED = (
    "frame", "started", "finished", "render_seconds", "peak_memory_mb",
    "path", "bytes", "check", "startup_seconds",
)  # fmt: skip


class FrameStore(Protocol):
    def upsert_frames(self, job_id: int, rows: Sequence[dict[str, Any]]) -> None: ...
    def job_frames(self, job_id: int, limit: int = -1, offset: int = 0) -> list[FrameRecordRow]: ...
    def job_frame_count(self, job_id: int) -> int: ...
    def set_frame_check(
        self, job_id: int, frame: int, path: str, size: int | None, check: str
    ) -> None: ...
    def job_first_started(self, job_id: int) -> float | None: ...
    def job_attempts(self, job_id: int) -> list[dict[str, Any]]: ...
    def job_attempt_sums(self, job_id: int, status: str, after: int, limit: int) -> AttemptSums: ...
    def job_frames_rendered(self, job_id: int) -> int: ...
    def job_task_counts(self, job_id: int) -> dict[str, int]: ...
    def add_farm_history(self, row: dict[str, Any]) -> None: ...
    def farm_history(self, since: float) -> list[FarmHistoryRow]: ...
    def delete_job_frame_slice(self, job_id: int, limit: int) -> int: ...
    def frames_finished_since(self, since: float) -> list[dict[str, Any]]: ...
    def attempts_since(self, since: float) -> list[dict[str, Any]]: ...


def frame_rules(job_type: str, s: dict[str, Any]) -> FrameRules | None:
    """What a sound frame of a job looks like; None for a job that writes no frames
    we know of (ffmpeg, command, Blender Python)."""
    if job_type not in RENDER_TYPES:
        return None
    resolution = None
    if s.get("resolution_x") and s.get("resolution_y"):
        pct = s.get("resolution_percentage") or 100
        resolution = (int(s["resolution_x"] * pct / 100), int(s["resolution_y"] * pct / 100))
    return FrameRules(resolution=resolution, allow_uniform=bool(s.get("allow_uniform_frames")))


def to_csv(rows: Sequence[FrameRecordRow]) -> str:
    """The records as CSV, the columns of `GET /jobs/{id}/frames`, a header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in CSV_COLUMNS])
    return out.getvalue()


class Frames:
    def __init__(self, store: FrameStore, on_new_frame: Callable[[int], None]) -> None:
        """`on_new_frame(job_id)`: a frame of the job finished (its ETA is stale)."""
        self._store = store
        self._on_new_frame = on_new_frame
        self._finished: dict[tuple[int, int], int] = {}  # (task, lease) -> frames finished

    def record(self, task: TaskState, worker_id: int | None, records: list[dict[str, Any]]) -> None:
        """A worker's records for the task it holds (the caller checked the lease).
        Frames outside the task's range are not the task's to report: ignored."""
        job_id = task["job_id"]
        if job_id is None or not records:
            return
        rows = [
            {k: r.get(k) for k in REPORTED}
            | {"task_id": task["id"], "lease": task["lease"], "worker_id": worker_id}
            for r in records
            if r.get("frame") is not None and task["frame_start"] <= r["frame"] <= task["frame_end"]
        ]
        if rows:
            self._store.upsert_frames(job_id, rows)
        run = (task["id"], task["lease"])
        finished = sum(1 for r in rows if r.get("finished") is not None)
        if finished > self._finished.get(run, 0):
            if len(self._finished) > 10_000:  # runs long over
                self._finished.clear()
            self._finished[run] = finished
            self._on_new_frame(job_id)

    def page(self, job_id: int, limit: int, offset: int) -> tuple[list[FrameRecordRow], int]:
        return self._store.job_frames(job_id, limit, offset), self._store.job_frame_count(job_id)

    def first_started(self, job_id: int) -> float | None:
        return self._store.job_first_started(job_id)

    def attempts(self, job_id: int) -> list[dict[str, Any]]:
        return self._store.job_attempts(job_id)

    async def summary(self, job_id: int) -> dict[str, Any]:
        """What the farm did for a job: its attempts summed a slice of tasks at a time
        (the loop runs between), one status after another, as a job action walks."""
        first: float | None = None
        last: float | None = None
        node_seconds, failures = 0.0, 0
        for status in TaskStatus:
            size, after = SliceSize(SUMMARY_SLICE), 0
            while True:
                with size.timed():
                    part = self._store.job_attempt_sums(job_id, status.value, after, size.value)
                if part.last_id is None:
                    break
                if part.first_started is not None:
                    first = part.first_started if first is None else min(first, part.first_started)
                if part.last_finished is not None:
                    last = part.last_finished if last is None else max(last, part.last_finished)
                node_seconds += part.node_seconds
                failures += part.failures
                after = part.last_id
                await asyncio.sleep(0)
        return {
            "first_started": first,
            "last_finished": last,
            "node_seconds": node_seconds,
            "failures": failures,
            "tasks": sum(self._store.job_task_counts(job_id).values()),
            "frames_rendered": self._store.job_frames_rendered(job_id),
        }

    def summarise(self, job: JobRow, summary: dict[str, Any], when: float) -> None:
        """Keep what the farm did for `job` before its rows go (the farm's history)."""
        frames = None
        if job["frame_start"] is not None and job["frame_end"] is not None:
            frames = job["frame_end"] - job["frame_start"] + 1
        self._store.add_farm_history(
            {
                "job_id": job["id"],
                "name": job["name"],
                "type": job["type"],
                "status": job["status"],
                "created": job["created"],
                "deleted": when,
                "frames": frames,
                **summary,
            }
        )

    async def live_summaries(self, jobs: Sequence[JobRow]) -> list[dict[str, Any]]:
        """What the jobs not deleted yet did so far (the history's figures)."""
        return [{"job_id": j["id"], **await self.summary(j["id"])} for j in jobs]

    def delete_slice(self, job_id: int, limit: int) -> int:
        return self._store.delete_job_frame_slice(job_id, limit)

    def history(self, since: float) -> list[FarmHistoryRow]:
        return self._store.farm_history(since)

    def frames_since(self, since: float) -> list[dict[str, Any]]:
        return self._store.frames_finished_since(since)

    def attempts_since(self, since: float) -> list[dict[str, Any]]:
        return self._store.attempts_since(since)
