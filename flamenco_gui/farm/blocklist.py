"""The per-job blocklist: a worker that failed `blocklist_threshold` tasks of one job
is kept off that job; when no eligible worker is left for it, its queued tasks fail
rather than wait forever."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.farm.task_state_machine import TaskStateMachine
from flamenco_gui.rows import BlocklistRow

T = TaskStatus


class BlocklistStore(Protocol):
    def failures_in_job(self, job_id: int, worker_id: int) -> int: ...
    def blocklist_add(self, job_id: int, worker_id: int, created: float, reason: str) -> None: ...
    def blocklist(self, job_id: int) -> list[BlocklistRow]: ...
    def blocklist_of_worker(self, worker_id: int) -> list[BlocklistRow]: ...
    def blocklist_clear(self, job_id: int, worker_id: int | None) -> None: ...
    def count_eligible_workers(self, job_id: int) -> int: ...


class Blocklist:
    def __init__(
        self,
        store: BlocklistStore,
        states: TaskStateMachine,
        threshold: Callable[[], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._states = states
        self._threshold = threshold
        self._clock = clock

    def after_failure(self, job_id: int, worker_id: int) -> None:
        """Inside the failed attempt's transaction."""
        threshold = self._threshold()
        if self._store.failures_in_job(job_id, worker_id) < threshold:
            return
        self._store.blocklist_add(
            job_id, worker_id, self._clock(), f"failed {threshold} tasks of this job"
        )
        if self._store.count_eligible_workers(job_id) == 0:
            why = "no worker left that is not blocklisted on this job"
            self._states.move_all(job_id, T.QUEUED, T.FAILED, why)

    def entries(self, job_id: int) -> list[BlocklistRow]:
        return self._store.blocklist(job_id)

    def of_worker(self, worker_id: int) -> list[BlocklistRow]:
        """The jobs this worker is kept off (its details panel lists them)."""
        return self._store.blocklist_of_worker(worker_id)

    def clear(self, job_id: int, worker_id: int | None) -> None:
        """Inside a change; the caller wakes held polls after it."""
        self._store.blocklist_clear(job_id, worker_id)
        self._states.refresh_job(job_id)
