"""A failed run: retried (dispatch prefers another worker) until `max_attempts`, then
failed; every failure counts towards the worker's blocklisting on that job."""

from __future__ import annotations

from collections.abc import Callable

from flamenco_gui.farm.blocklist import Blocklist
from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.farm.task_state_machine import TaskStateMachine
from flamenco_gui.rows import TaskState

T = TaskStatus


class Retries:
    def __init__(
        self,
        states: TaskStateMachine,
        blocklist: Blocklist,
        max_attempts: Callable[[], int],
    ) -> None:
        self._states = states
        self._blocklist = blocklist
        self._max_attempts = max_attempts

    def fail_attempt(self, task: TaskState, reason: str) -> None:
        """Inside a change: `task` (rendering) failed its attempt."""
        attempts = task["attempts"] + 1
        limit = self._max_attempts()
        final = attempts >= limit
        note = reason if final else f"{reason} (attempt {attempts} of {limit})"
        self._states.move(
            task,
            T.FAILED if final else T.QUEUED,
            note,
            outcome="failed",
            task_fields={"attempts": attempts},
        )
        if task["job_id"] is not None and task["worker_id"] is not None:
            self._blocklist.after_failure(task["job_id"], task["worker_id"])
