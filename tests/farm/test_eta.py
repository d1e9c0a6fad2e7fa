"""The ETA model (farm/eta.py's `estimate`): pure, so each rule has a case."""

from __future__ import annotations

import pytest

from flamenco_gui.farm.eta import Work, estimate
from flamenco_gui.rows import WorkerSpeed


def speed(
    worker: int, frames: int, seconds: float, first: int = 0, first_s: float = 0
) -> WorkerSpeed:
    return WorkerSpeed(
        worker_id=worker, frames=frames, seconds=seconds, first_frames=first, first_seconds=first_s
    )


def test_no_estimate_without_a_measure_or_a_worker() -> None:
    assert estimate([], (0, 0, 0), Work(4, 12, [], [1, 2])) == (None, "no frame finished yet")
    assert estimate([], (0, 0, 0), Work(4, 12, [], [])) == (None, "no worker can take it now")
    assert estimate([], (0, 0, 0), Work(0, 0, [], [])) == (0.0, None)


def test_two_workers_share_the_queued_frames_and_task_overheads() -> None:
    # Each rendered 1 steady frame (1 s) and 1 first frame with 2 s of start-up.
    speeds = [speed(1, 1, 1.0, 1, 3.0), speed(2, 1, 1.0, 1, 3.0)]
    work = Work(queued_tasks=2, queued_frames=6, rendering=[(1, 1.0), (2, 1.0)], workers=[])
    left, note = estimate(speeds, (0, 0, 0), work)
    # (1 + 1 + 6 frames) x 1 s + 2 tasks x 2 s overhead, over two workers.
    assert note is None and left == pytest.approx(6.0)


def test_a_slower_worker_counts_for_less() -> None:
    speeds = [speed(1, 10, 10.0), speed(2, 10, 30.0)]  # 1 s and 3 s a frame
    left, _ = estimate(speeds, (0, 0, 0), Work(0, 0, [(1, 2.0), (2, 2.0)], [1, 2]))
    # The slow worker's running task (2 frames x 3 s) is the longest: never less.
    assert left == pytest.approx(6.0)
    left, _ = estimate(speeds, (0, 0, 0), Work(1, 40, [], [1, 2]))
    mean = 40 / 20
    assert left == pytest.approx(40 * mean / (mean / 1 + mean / 3))


def test_completed_tasks_measure_the_overhead() -> None:
    # 2 tasks of 3 frames took 10 s each: 1 s a frame, so 7 s of overhead each.
    left, _ = estimate([speed(1, 4, 4.0, 2, 2.0)], (2, 20.0, 6), Work(1, 3, [], [1]))
    assert left == pytest.approx(3 * 1.0 + 7.0)


class _Store:
    """A stand-in for the ETA's store questions (a fake: the rules under test are the
    cache's, not the queries', which tests/store/test_query_plans.py holds)."""

    def job_speeds(self, job_id: int) -> list[WorkerSpeed]:
        return [speed(1, 10, 10.0)]

    def job_task_times(self, job_id: int) -> tuple[int, float, int]:
        return (0, 0.0, 0)

    def job_span(self, job_id: int) -> tuple[float | None, float | None]:
        return (100.0, 149.2)

    def job_rendering(self, job_id: int) -> list[tuple[int | None, float]]:
        return [(1, 4.0)]

    def workers_for_job(self, job_id: int) -> list[dict[str, object]]:
        return [{"id": 1, "accepts": None, "busy_job": job_id}]


def test_a_job_that_finishes_shows_it_at_once_not_a_second_later() -> None:
    """The figures are kept a second, but not across a change of the job's status: a
    job completing gets no later change to refresh a stale estimate."""
    from flamenco_gui.farm.eta import Eta

    now = [149.0]
    eta = Eta(_Store(), clock=lambda: now[0])  # type: ignore[arg-type]
    job = {"id": 1, "status": "rendering", "started": 100.0, "type": "command",
           "settings": {}, "frame_start": 1, "frame_end": 8, "chunk_size": 1}  # fmt: skip
    rendering = eta.figures(job, {"rendering": 1, "queued": 3})  # type: ignore[arg-type]
    assert rendering["remaining"] is not None and rendering["remaining"] > 0
    now[0] += 0.5  # within the second the figures are kept; it ended at 149.2
    job["status"] = "completed"
    done = eta.figures(job, {"completed": 4})  # type: ignore[arg-type]
    assert (done["remaining"], done["eta_note"], done["elapsed"]) == (0.0, None, 49.2)
