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
