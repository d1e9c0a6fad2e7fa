"""Workers silent for a few heartbeats are `unresponsive` (shown at once); silent for
`worker_timeout` they go offline and lose their tasks; tasks without output or progress
for `task_timeout` count as a failed attempt (the lease change tells the worker to kill
the process). Each says why in words, in the task's history and its log.

A worker's silence counts from the later of its last report and the moment its last
held poll closed (a held poll watches its client, so a killed worker's poll ends within
a second): checked every half second, so `offline` comes at worker_timeout ± 1 s."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Unavailable
from flamenco_gui.farm.log_notes import clock_time
from flamenco_gui.farm.retries import Retries
from flamenco_gui.farm.settings import FarmConfig
from flamenco_gui.farm.states import Connection
from flamenco_gui.farm.workers import Workers
from flamenco_gui.rows import Fields, TaskState, WorkerRow

log = logging.getLogger(__name__)


class TimeoutStore(Protocol):
    def stale_workers(self, seen_before: float) -> list[WorkerRow]: ...
    def hung_tasks(self, progress_before: float) -> list[TaskState]: ...
    def tasks_leased_to(self, worker_id: int) -> list[TaskState]: ...
    def update_worker(self, worker_id: int, fields: Fields) -> bool: ...
    def write_behind(self) -> int: ...


class Polls(Protocol):
    def is_polling(self, worker_id: int) -> bool: ...
    def alive_at(self, worker_id: int) -> float: ...


CHECK_EVERY = 0.5  # seconds, at most


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
        timeout = self._config.worker_timeout
        quiet = min(self._config.unresponsive_after, timeout / 2)
        with self._changes.change():
            self._store.write_behind()  # last seen, as the workers' reports left it
            for worker in self._store.stale_workers(now - quiet):
                if self._polls.is_polling(worker["id"]):
                    continue  # a held poll is open: it is alive, just quiet
                seen = max(worker["last_seen"] or 0.0, self._polls.alive_at(worker["id"]))
                if seen < now - timeout:
                    name = worker["hostname"]
                    reason = f"worker {name} stopped answering at {clock_time(seen)}; requeued"
                    self._workers.go_offline(worker["id"], reason)
                    log.warning("%s", reason)
                elif seen < now - quiet and worker["connection"] == Connection.ONLINE:
                    unresponsive = {"connection": Connection.UNRESPONSIVE.value}
                    self._store.update_worker(worker["id"], unresponsive)
                    self._changes.emit("worker", worker["id"])
                    log.warning("worker %s is not answering", worker["hostname"])
            for task in self._store.hung_tasks(now - self._config.task_timeout):
                reason = (
                    f"no output or progress for {self._config.task_timeout:g} s;"
                    " the render was stopped"
                )
                self._retries.fail_attempt(task, reason)

    async def run(self) -> None:
        interval = max(
            0.2, min(CHECK_EVERY, self._config.worker_timeout / 4, self._config.task_timeout / 4)
        )
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except Unavailable as exc:
                log.error("timeout check skipped: %s", exc)
