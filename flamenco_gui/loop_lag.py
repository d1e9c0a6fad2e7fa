"""Measures how late the event loop runs a timer: the window's and the API's latency.

A sleeper wakes every `interval`; how much later than asked it woke is the lag a
click or a request would have waited. Samples of the last `window` seconds are kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class LoopLagMonitor:
    def __init__(self, interval: float = 0.05, window: float = 60.0) -> None:
        self.interval = interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self._samples.append((now, max(0.0, now - start - self.interval)))
            while self._samples and self._samples[0][0] < now - self.window:
                self._samples.popleft()

    def stats(self, window: float | None = None) -> dict[str, float]:
        """p99 and max lag in milliseconds over the last `window` seconds (all kept)."""
        span = self.window if window is None else min(window, self.window)
        since = time.perf_counter() - span
        lags = sorted(lag for at, lag in self._samples if at >= since)
        if not lags:
            return {"p99_ms": 0.0, "max_ms": 0.0, "window_s": span}
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        return {
            "p99_ms": round(p99 * 1000, 2),
            "max_ms": round(lags[-1] * 1000, 2),
            "window_s": span,
        }
