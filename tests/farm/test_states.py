"""The task state machine and the job status it implies."""

from __future__ import annotations

import pytest

from flamenco_gui.farm.states import JobStatus, TaskStatus, can_transition, job_status

T = TaskStatus


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (T.QUEUED, T.RENDERING, True),
        (T.RENDERING, T.COMPLETED, True),
        (T.RENDERING, T.QUEUED, True),
        (T.CANCELED, T.COMPLETED, False),  # a stale worker cannot complete a canceled task
        (T.COMPLETED, T.FAILED, False),
        (T.QUEUED, T.COMPLETED, False),
        (T.PAUSED, T.RENDERING, False),
        (T.FAILED, T.QUEUED, True),
    ],
)
def test_transitions(old: TaskStatus, new: TaskStatus, allowed: bool) -> None:
    assert can_transition(old, new) is allowed


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"queued": 4}, JobStatus.QUEUED),
        ({"queued": 3, "rendering": 1}, JobStatus.RENDERING),
        ({"queued": 3, "completed": 1}, JobStatus.RENDERING),
        ({"completed": 4}, JobStatus.COMPLETED),
        ({"completed": 3, "failed": 1}, JobStatus.FAILED),
        ({"failed": 1, "rendering": 1}, JobStatus.RENDERING),
        ({"paused": 2, "completed": 2}, JobStatus.PAUSED),
        ({"paused": 2, "rendering": 1}, JobStatus.PAUSED),  # pausing: the render finishes
        ({"paused": 2, "rendering": 1, "queued": 1}, JobStatus.RENDERING),
        ({"canceled": 2, "completed": 2}, JobStatus.CANCELED),
        ({}, JobStatus.COMPLETED),
    ],
)
def test_job_status(counts: dict[str, int], expected: JobStatus) -> None:
    assert job_status(counts) == expected
