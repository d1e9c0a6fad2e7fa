"""A job's elapsed and remaining time, from what was measured, or why there is none.

Elapsed counts from the job's current run's start (`jobs.started`; its first attempt
in the history before the column existed), not from submission: a job that waited an
hour behind another did not take an hour. It stops at the last attempt's end once
nothing is left to run.

Remaining is worked out from this job's own frames (docs/statistics.md):

- each worker's seconds per frame in this job (frames start where the previous one was
  saved, so everything Blender does between two frames is counted; a task's first
  frame, which follows loading the file, is kept apart), the job's mean for a worker
  that has rendered none of it yet, and a task's overhead (loading, quitting): what
  its completed tasks took beyond their frames;
- the work left: each rendering task's frames left at its worker's speed, and the
  queued tasks' frames and start-ups at the job's mean;
- the workers that can take the job now (online, enabled, accepting its kind, not
  blocklisted, and idle or on this job): the work left spread over their combined
  speed, but never less than the longest running task still needs.

No ETA while nothing measures it, with the reason instead: "waiting" for a job no task
of which started, "no worker can take it now", "no frame finished yet".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flamenco_gui.compilers.kinds import job_kinds
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.rows import JobRow, WorkerSpeed

T = TaskStatus
CACHE_SECONDS = 1.0  # a job's figures are read again at most this often
UNFINISHED = (T.QUEUED, T.RENDERING)


class EtaStore(Protocol):
    def job_speeds(self, job_id: int) -> list[WorkerSpeed]: ...
    def job_task_times(self, job_id: int) -> tuple[int, float, int]: ...
    def job_span(self, job_id: int) -> tuple[float | None, float | None]: ...
    def job_rendering(self, job_id: int) -> list[tuple[int | None, float]]: ...
    def workers_for_job(self, job_id: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Work:
    """What is left of a job and who renders it."""

    queued_tasks: int
    queued_frames: int
    rendering: list[tuple[int | None, float]]  # (worker, frames left) per running task
    workers: list[int]  # the workers that can take it now


def _rate(frames: int, seconds: float | None) -> float | None:
    return seconds / frames if frames and seconds is not None else None


def estimate(
    speeds: list[WorkerSpeed], task_times: tuple[int, float, int], work: Work
) -> tuple[float | None, str | None]:
    """(seconds left, None) or (None, why there is no estimate). Pure.

    A frame's time is the steady one (a task's frames after its first) where there is
    one; a task's overhead (loading the file, quitting) is what its completed tasks
    took beyond their frames, or before any completed, what its first frames took
    beyond a steady frame."""
    if not work.queued_tasks and not work.rendering:
        return 0.0, None
    if not work.workers and not work.rendering:
        return None, "no worker can take it now"
    steady = sum(s["frames"] for s in speeds)
    steady_s = sum(s["seconds"] or 0.0 for s in speeds)
    first = sum(s["first_frames"] for s in speeds)
    first_s = sum(s["first_seconds"] or 0.0 for s in speeds)
    mean = _rate(steady, steady_s) or _rate(first, first_s)
    if mean is None:
        return None, "no frame finished yet"
    per_frame: dict[int | None, float] = {}
    for s in speeds:
        rate = _rate(s["frames"], s["seconds"]) or _rate(s["first_frames"], s["first_seconds"])
        if rate is not None:
            per_frame[s["worker_id"]] = rate
    tasks, seconds, frames = task_times
    if tasks:
        overhead = (seconds - frames * mean) / tasks
    elif steady and first:
        overhead = first_s / first - mean
    else:
        overhead = 0.0
    overhead = max(0.0, overhead)
    running = [frames_left * per_frame.get(w, mean) for w, frames_left in work.rendering]
    left = sum(running) + work.queued_frames * mean + work.queued_tasks * overhead
    takers = set(work.workers) | {w for w, _ in work.rendering}
    # The takers' combined speed, in "average workers" of this job.
    capacity = sum(mean / per_frame.get(w, mean) for w in takers) or 1.0
    return max(max(running, default=0.0), left / capacity), None


class Eta:
    """The figures of `JobView`'s `elapsed`, `remaining` and `eta_note`. The model is
    worked out at most once a second per job (a job's events come with every task
    report) and kept as moments (first start, expected end), so a figure read from the
    cache still counts down by the clock."""

    def __init__(self, store: EtaStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[int, tuple[float, _Stage, _Moments]] = {}

    def figures(self, job: JobRow, counts: dict[str, int]) -> dict[str, Any]:
        """Read again at most every CACHE_SECONDS, and at once when the job moves to
        status (it finished, started, was paused): a job that completes must not keep
        the estimate it had a moment before, as no later change may come."""
        now = self._clock()
        stage = (job["status"], any(counts.get(s, 0) for s in UNFINISHED))
        kept = self._cache.get(job["id"])
        if kept is not None and kept[1] == stage and now - kept[0] < CACHE_SECONDS:
            moments = kept[2]
        elif kept is not None and kept[1] == stage and not stage[1]:
            moments = kept[2]  # finished, and still: its figures do not change
        else:
            moments = self._moments(job, counts, now)
            if len(self._cache) > 10_000:  # deleted jobs' entries
                self._cache.clear()
            self._cache[job["id"]] = (now, stage, moments)
        first, end, done, note = moments
        return {
            "elapsed": None if first is None else round((done or now) - first, 1),
            "remaining": None if end is None else round(max(0.0, end - now), 1),
            "eta_note": note,
            "eta_at": now,
        }

    def forget(self, job_id: int) -> None:
        """A job's tasks changed in a way that must show at once (a new render)."""
        self._cache.pop(job_id, None)

    def _moments(self, job: JobRow, counts: dict[str, int], now: float) -> _Moments:
        """(first start, expected end, finished at, note)."""
        job_id = job["id"]
        unfinished = sum(counts.get(s, 0) for s in UNFINISHED)
        # A run starts when rendering does (jobs.started; a requeue starts a new one).
        # The history walk (all the job's attempts) is for what the column cannot say:
        # a finished job's end, or a job from before the column.
        first, last = job.get("started"), None
        if first is None or not unfinished:
            first_seen, last = self._store.job_span(job_id)
            first = first if first is not None and first_seen is not None else first_seen
        if first is None:
            note = "paused" if counts.get(T.PAUSED) else ("waiting" if unfinished else None)
            return None, None, None, note
        if not unfinished:
            end = last if last is not None else now
            return first, end, end, None
        if not counts.get(T.RENDERING) and not counts.get(T.QUEUED):
            return first, None, None, "paused"
        queued_tasks = counts.get(T.QUEUED, 0)
        # Frames of the queued tasks, from the job's chunks (the last may be shorter).
        queued_frames = queued_tasks * max(1, job.get("chunk_size") or 1)
        if job["frame_start"] is not None and job["frame_end"] is not None:
            queued_frames = min(queued_frames, job["frame_end"] - job["frame_start"] + 1)
        rendering = self._store.job_rendering(job_id)
        kinds = job_kinds(job["type"], job["settings"])
        workers = [
            w["id"]
            for w in self._store.workers_for_job(job_id)
            if (w["busy_job"] is None or w["busy_job"] == job_id)
            and (w["accepts"] is None or any(f",{k}," in w["accepts"] for k in kinds))
        ]
        work = Work(queued_tasks, queued_frames, rendering, workers)
        remaining, note = estimate(
            self._store.job_speeds(job_id), self._store.job_task_times(job_id), work
        )
        return first, None if remaining is None else now + remaining, None, note


_Moments = tuple[float | None, float | None, float | None, str | None]
_Stage = tuple[str, bool]  # the job's status, and whether anything is left to run
