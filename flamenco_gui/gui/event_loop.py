"""qasync's loop with `call_soon` callbacks run in batches from one zero-delay timer.

qasync turns every `call_soon` into a Qt timer of its own (startTimer, a timer event,
killTimer): with the HTTP server on the loop that is several timers per request, and
profiles gave that scheduling a fifth of the loop thread while workers churned. Here
ready callbacks wait in one FIFO queue, as in asyncio's own loop, and a single
zero-delay QTimer runs those that were ready when it fired. Callbacks they schedule run
in the next batch, after Qt has delivered its pending events and timers (a zero timer
fires only once the event queue is empty), so painting, input and `call_later` timers
are never starved by a stream of callbacks. `call_later`/`call_at` with a delay, file
descriptor notifiers and `call_soon_threadsafe` (a queued Qt signal that ends in
`call_soon`) are qasync's own. See docs/decisions.md: the same change would belong in
qasync itself; this subclass is the smallest form of it.
"""

from __future__ import annotations

import asyncio
import collections
from contextvars import Context
from typing import Any

import qasync
from PySide6.QtCore import QTimer


class FarmEventLoop(qasync.QEventLoop):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready_handles: collections.deque[asyncio.Handle] = collections.deque()
        self._batch_timer = QTimer()
        self._batch_timer.setSingleShot(True)
        self._batch_timer.setInterval(0)
        self._batch_timer.timeout.connect(self._run_ready)

    def call_soon(
        self, callback: Any, *args: Any, context: Context | None = None
    ) -> asyncio.Handle:
        """Queued for the next batch, in call order (asyncio's contract)."""
        self._check_closed()
        if asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with call_soon")
        handle = asyncio.Handle(callback, args, self, context=context)
        self._ready_handles.append(handle)
        if not self._batch_timer.isActive():
            self._batch_timer.start()
        return handle

    def _run_ready(self) -> None:
        """Run the callbacks that were ready when the timer fired; re-arm for the rest."""
        ready = self._ready_handles
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()  # reports its own exceptions to the loop's handler
        if ready and not self.is_closed():
            self._batch_timer.start()

    def close(self) -> None:
        if self.is_closed():
            return
        self._batch_timer.stop()
        self._ready_handles.clear()
        super().close()
