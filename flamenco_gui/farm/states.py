"""Task, job and worker states, and the transitions the farm allows.

Pure: shared by the manager's FarmService and the worker agent, tested without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RENDERING = "rendering"  # the 2015 API's word for "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    PAUSED = "paused"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RENDERING = "rendering"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    PAUSED = "paused"


class WorkerStatus(StrEnum):
    """The wrangler's switch."""

    ENABLED = "enabled"
    DISABLED = "disabled"


class Connection(StrEnum):
    ONLINE = "online"
    UNRESPONSIVE = "unresponsive"  # no heartbeat for a few intervals; not yet timed out
    OFFLINE = "offline"


class WorkerReport(StrEnum):
    """What a worker says of itself in `PATCH /workers/{id}`."""

    AVAILABLE = "available"
    RENDERING = "rendering"
    OFFLINE = "offline"


T = TaskStatus

# Which status a task may move to from each status. Anything else is refused, so a
# stale or confused client cannot, say, complete a canceled task.
TASK_TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    T.QUEUED: frozenset({T.RENDERING, T.PAUSED, T.CANCELED, T.FAILED}),
    T.RENDERING: frozenset({T.COMPLETED, T.FAILED, T.QUEUED, T.CANCELED, T.PAUSED}),
    T.PAUSED: frozenset({T.QUEUED, T.CANCELED}),
    T.FAILED: frozenset({T.QUEUED, T.CANCELED}),
    T.CANCELED: frozenset({T.QUEUED}),
    T.COMPLETED: frozenset({T.QUEUED}),
}

FINISHED = frozenset({T.COMPLETED, T.FAILED, T.CANCELED})


def can_transition(old: TaskStatus, new: TaskStatus) -> bool:
    return new in TASK_TRANSITIONS[old]


def job_status(counts: Mapping[str, int]) -> JobStatus:
    """Derive a job's status from how many of its tasks are in each status.

    Work still to do wins over endings, so a job with one rendering task is rendering
    even if another failed; a job ends `failed` only once nothing can run any more. A
    job with paused tasks and none queued is paused even while some still render: the
    wrangler's "pause" lets running tasks finish (their job is paused meanwhile, and
    what comes back of them comes back paused).
    """
    n = {s: counts.get(s, 0) for s in TaskStatus}
    total = sum(n.values())
    if total == 0 or n[T.COMPLETED] == total:
        return JobStatus.COMPLETED
    if n[T.PAUSED] and not n[T.QUEUED]:
        return JobStatus.PAUSED
    if n[T.RENDERING]:
        return JobStatus.RENDERING
    if n[T.QUEUED]:
        return JobStatus.RENDERING if n[T.COMPLETED] or n[T.FAILED] else JobStatus.QUEUED
    if n[T.PAUSED]:
        return JobStatus.PAUSED
    if n[T.FAILED]:
        return JobStatus.FAILED
    if n[T.CANCELED]:
        return JobStatus.CANCELED
    return JobStatus.COMPLETED
