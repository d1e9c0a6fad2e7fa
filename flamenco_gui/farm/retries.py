"""A failed run: retried (dispatch prefers another worker) until `max_attempts`, then
failed; every failure counts towards the worker's blocklisting on that job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from flamenco_gui.farm.blocklist import Blocklist
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.farm.task_state_machine import TaskStateMachine
from flamenco_gui.rows import Fields, TaskState

T = TaskStatus


class RetryStore(Protocol):
    def update_task(self, task_id: int, fields: Fields) -> None: ...


class Retries:
    def __init__(
        self,
        store: RetryStore,
        states: TaskStateMachine,
        blocklist: Blocklist,
        max_attempts: Callable[[], int],
    ) -> None:
        self._store = store
        self._states = states
        self._blocklist = blocklist
        self._max_attempts = max_attempts

    def fail_attempt(self, task: TaskState, reason: str) -> None:
        """Inside a change: `task` (rendering) failed its attempt."""
        attempts = task["attempts"] + 1
        limit = self._max_attempts()
        self._store.update_task(task["id"], {"attempts": attempts})
        final = attempts >= limit
        note = reason if final else f"{reason} (attempt {attempts} of {limit})"
        self._states.move(task, T.FAILED if final else T.QUEUED, note, outcome="failed")
        if task["job_id"] is not None and task["worker_id"] is not None:
            self._blocklist.after_failure(task["job_id"], task["worker_id"])
