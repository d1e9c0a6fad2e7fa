"""What held polls wait on: new work queued, a worker's lease changed, and which
workers hold a poll open right now (they are alive, whatever their last heartbeat)."""

from __future__ import annotations

import asyncio


class Wakeups:
    def __init__(self) -> None:
        self._queued = asyncio.Event()  # set (and replaced) whenever work is queued
        self._lease: dict[int, asyncio.Event] = {}
        self._polling: dict[int, int] = {}  # worker id -> open long polls
        self._alive_at: dict[int, float] = {}  # worker id -> when its last poll closed

    def queued(self) -> None:
        """Work was queued. Waiters wake only once the running (synchronous) change
        has committed, as they run in a later turn of the loop."""
        self._queued.set()
        self._queued = asyncio.Event()

    def queued_event(self) -> asyncio.Event:
        return self._queued

    def lease_changed(self, worker_id: int | None) -> None:
        if worker_id is not None and (ev := self._lease.pop(worker_id, None)):
            ev.set()

    def lease_event(self, worker_id: int) -> asyncio.Event:
        return self._lease.setdefault(worker_id, asyncio.Event())

    def poll_opened(self, worker_id: int) -> None:
        self._polling[worker_id] = self._polling.get(worker_id, 0) + 1

    def poll_closed(self, worker_id: int, when: float) -> None:
        """`when`: the client was there until then (its poll watched it)."""
        self._alive_at[worker_id] = when
        self._polling[worker_id] -= 1
        if not self._polling[worker_id]:
            del self._polling[worker_id]

    def held_polls(self) -> int:
        """Polls held open right now, all workers together (max_held_polls)."""
        return sum(self._polling.values())

    def alive_at(self, worker_id: int) -> float:
        """When the worker's last held poll closed (0: none since the start)."""
        return self._alive_at.get(worker_id, 0.0)

    def is_polling(self, worker_id: int) -> bool:
        return worker_id in self._polling
