"""Admission per loop turn: a flood of requests may not stall the window or the timers.

Every request handler runs its service call in one synchronous stretch. When hundreds
of workers send requests at once, all of their handlers become ready in the same turn
of the event loop, and that turn lasts as long as all of them together (200 handlers at
0.5 ms is 100 ms in which no timer fires and the window cannot repaint). Admitting at
most `per_turn` handlers per turn and queueing the rest, in arrival order, for the turns
that follow keeps each turn short. The work and its total time stay the same; what
changes is that the loop gets a say between every few requests. Without a flood the
first `per_turn` handlers of a turn pass straight through, without waiting.

A semaphore would bound how many handlers are *inside*, which is the wrong thing here:
a held long poll sits inside for 25 s doing nothing. This bounds how many *start* per
turn.
"""

from __future__ import annotations

import asyncio
from collections import deque


class LoopTurns:
    def __init__(self, per_turn: int = 4) -> None:
        self.per_turn = per_turn
        self._admitted = 0  # handlers started in the current turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._turn_scheduled = False

    async def enter(self) -> None:
        """Return once this handler may run; at once unless the turn is full."""
        if self._admitted < self.per_turn and not self._waiting:
            self._admitted += 1
            self._schedule_next_turn()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        self._schedule_next_turn()
        await fut  # a cancelled waiter is skipped by _next_turn

    def _schedule_next_turn(self) -> None:
        if not self._turn_scheduled:
            self._turn_scheduled = True
            # Runs in the loop's next turn: callbacks scheduled now wait for this turn's end.
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._turn_scheduled = False
        self._admitted = 0
        while self._waiting and self._admitted < self.per_turn:
            fut = self._waiting.popleft()
            if not fut.done():
                fut.set_result(None)
                self._admitted += 1
        if self._waiting or self._admitted:
            self._schedule_next_turn()
