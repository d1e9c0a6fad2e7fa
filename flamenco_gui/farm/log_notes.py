"""The manager's own lines in a task's log: where each attempt starts (worker, time,
lease) and why one ended when the worker did not end it itself (canceled by the
wrangler, requeued after a timeout, its worker lost, paused with its job).

A wrangler reading a log learns there what happened to the task, not only what Blender
printed. Every line starts with `[manager ` (the window styles such lines apart); an
attempt's header also holds `──`. A line is a few dozen bytes appended to the file on
the spot (like a worker's batch); one that cannot be written is logged and dropped:
a full disk must not stop a cancel or a timeout. Written inside the transaction that
moves the task, so a move that is rolled back can leave its line behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)
# How the manager's own lines in a task's log begin (the log panel styles them, the
# log benchmark leaves them out of its count).
PREFIX = "[manager "


class LogLines(Protocol):
    def append(self, task_id: int, lines: Sequence[str]) -> None: ...


def clock_time(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


# How an attempt's end reads, by where the task went.
ENDED = {
    "queued": "requeued",
    "paused": "paused",
    "canceled": "canceled",
    "failed": "failed",
}


class LogNotes:
    def __init__(
        self,
        logs: LogLines,
        worker_name: Callable[[int], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._logs = logs
        self._worker_name = worker_name
        self._clock = clock

    def say(self, task_id: int, text: str) -> None:
        try:
            self._logs.append(task_id, [f"{PREFIX}{clock_time(self._clock())}] {text}"])
        except OSError as exc:
            log.error("could not write to the log of task %s: %s", task_id, exc)

    def attempt_started(
        self, task_id: int, worker_id: int, lease: int, when: float, name: str | None = None
    ) -> None:
        """`name`: the worker's, when the caller read it already (a pull does)."""
        name = name or self._worker_name(worker_id) or f"#{worker_id}"
        day = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
        self.say(task_id, f"── attempt on {name} (worker {worker_id}), lease {lease}, {day} ──")

    def attempt_ended(self, task_id: int, new_status: str, reason: str) -> None:
        """An attempt the worker did not finish itself, or one that failed."""
        self.say(task_id, f"{ENDED.get(new_status, new_status)}: {reason}")
