"""The manager's own lines in a task's log: where each attempt starts (worker, time,
lease) and why one ended when the worker did not end it itself (canceled by the
wrangler, requeued after a timeout, its worker lost, paused with its job). An
attempt's header is written with its first lines, or with its end: a completed attempt
that printed nothing has none.

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
    def tail(self, task_id: int, lines: int) -> bytes: ...


def clock_time(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


MAX_HEADS = 100_000  # attempt headers not yet written, kept at most
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
        # task id -> (worker id, lease, start, worker name): the header of the attempt
        # under way, written with its first lines (or its end).
        self._heads: dict[int, tuple[int, int, float, str | None]] = {}

    def say(self, task_id: int, text: str) -> None:
        self._write(task_id, [self._line(self._clock(), text)])

    def _write(self, task_id: int, lines: list[str]) -> None:
        try:
            self._logs.append(task_id, lines)
        except OSError as exc:
            log.error("could not write to the log of task %s: %s", task_id, exc)

    @staticmethod
    def _line(when: float, text: str) -> str:
        return f"{PREFIX}{clock_time(when)}] {text}"

    def attempt_started(
        self, task_id: int, worker_id: int, lease: int, when: float, name: str | None = None
    ) -> None:
        """Noted, and written ahead of the attempt's first lines (`headed`) or its end:
        a claim that created the task's log file on the spot cost ~0.3 ms of the loop,
        a third of a whole task cycle's work. `name`: the worker's, when the caller
        has it (a pull does)."""
        self._heads.pop(task_id, None)  # a new attempt's header replaces an unwritten one
        self._heads[task_id] = (worker_id, lease, when, name)
        if len(self._heads) > MAX_HEADS:  # attempts that ended by no path of ours
            del self._heads[next(iter(self._heads))]

    def under_way_after_start(self, attempts: Sequence[tuple[int, int, int, float]]) -> None:
        """(task, worker, lease, start) of the attempts under way at a manager start:
        each one whose header its log does not hold yet is noted again (the notes of a
        stopped manager were in its memory)."""
        for task_id, worker_id, lease, when in attempts:
            if f"), lease {lease}, ".encode() not in self._logs.tail(task_id, 200):
                self.attempt_started(task_id, worker_id, lease, when)

    def headed(self, task_id: int, lines: list[str]) -> list[str]:
        """`lines` for the task's log, behind its attempt's header when that is not
        written yet."""
        head = self._heads.pop(task_id, None)
        if head is None:
            return lines
        worker_id, lease, when, name = head
        name = name or self._worker_name(worker_id) or f"#{worker_id}"
        day = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
        header = f"── attempt on {name} (worker {worker_id}), lease {lease}, {day} ──"
        return [self._line(when, header), *lines]

    def attempt_ended(self, task_id: int, new_status: str, reason: str) -> None:
        """An attempt the worker did not finish itself, or one that failed."""
        line = self._line(self._clock(), f"{ENDED.get(new_status, new_status)}: {reason}")
        self._write(task_id, self.headed(task_id, [line]))

    def attempt_completed(self, task_id: int) -> None:
        """A completed attempt's header heads nothing if no line came: not written."""
        self._heads.pop(task_id, None)
