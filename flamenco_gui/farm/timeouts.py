"""Workers silent for `worker_timeout` go offline and lose their tasks; tasks without
output or progress for `task_timeout` count as a failed attempt (the lease change tells
the worker to kill the process)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Unavailable
from flamenco_gui.farm.retries import Retries
from flamenco_gui.farm.settings import FarmConfig
from flamenco_gui.farm.workers import Workers
from flamenco_gui.rows import TaskState, WorkerRow

log = logging.getLogger(__name__)


class TimeoutStore(Protocol):
    def stale_workers(self, seen_before: float) -> list[WorkerRow]: ...
    def hung_tasks(self, progress_before: float) -> list[TaskState]: ...


class Polls(Protocol):
    def is_polling(self, worker_id: int) -> bool: ...


class TimeoutChecker:
    def __init__(
        self,
        store: TimeoutStore,
        changes: Changes,
        workers: Workers,
        retries: Retries,
        polls: Polls,
        config: FarmConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._changes = changes
        self._workers = workers
        self._retries = retries
        self._polls = polls
        self._config = config
        self._clock = clock

    def check(self) -> None:
        now = self._clock()
        with self._changes.change():
            for worker in self._store.stale_workers(now - self._config.worker_timeout):
                if self._polls.is_polling(worker["id"]):
                    continue  # a held poll is open: it is alive, just quiet
                self._workers.go_offline(worker["id"], "worker timed out")
                log.warning("worker %s timed out", worker["hostname"])
            for task in self._store.hung_tasks(now - self._config.task_timeout):
                self._retries.fail_attempt(
                    task, f"no output or progress for {self._config.task_timeout:g} s"
                )

    async def run(self) -> None:
        interval = max(0.2, min(self._config.worker_timeout, self._config.task_timeout) / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except Unavailable as exc:
                log.error("timeout check skipped: %s", exc)
