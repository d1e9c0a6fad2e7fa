"""The lease rule for what a worker sends about a task (logs, previews, progress)."""

from __future__ import annotations

from typing import Protocol

from flamenco_gui.farm.errors import Conflict, NotFound
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.rows import TaskState


class LeaseStore(Protocol):
    def task_state(self, task_id: int) -> TaskState | None: ...


def task_state(store: LeaseStore, task_id: int) -> TaskState:
    row = store.task_state(task_id)
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return row


def leased_task(
    store: LeaseStore,
    task_id: int,
    worker_id: int | None,
    lease: int | None,
    *,
    completed_ok: bool = False,
) -> TaskState:
    """The task; when a worker asks (`worker_id` set), it must be rendering it under
    its current lease. The wrangler (`worker_id` None) may always. `completed_ok`: a
    task this worker completed under that lease counts too (its last frame's preview
    may arrive after the completion report)."""
    task = task_state(store, task_id)
    statuses = (
        (TaskStatus.RENDERING, TaskStatus.COMPLETED) if completed_ok else (TaskStatus.RENDERING,)
    )
    if worker_id is not None and (
        task["worker_id"] != worker_id
        or task["status"] not in statuses
        or (lease is not None and lease != task["lease"])
    ):
        raise Conflict(f"task {task_id} is not leased to worker {worker_id}")
    return task
