"""LoopLagMonitor: p99 and max over the whole window or over its last seconds."""

from __future__ import annotations

import time

from flamenco_gui.loop_lag import LoopLagMonitor


def test_stats_over_the_last_seconds_leave_older_samples_out() -> None:
    mon = LoopLagMonitor(window=60.0)
    now = time.perf_counter()
    # An old stall (start-up), then a calm stretch.
    mon._samples.extend([(now - 30.0, 0.200), *((now - i * 0.05, 0.002) for i in range(100))])
    assert mon.stats()["max_ms"] == 200.0
    recent = mon.stats(10.0)
    assert recent["max_ms"] == 2.0 and recent["p99_ms"] == 2.0 and recent["window_s"] == 10.0
    assert mon.stats(120.0)["window_s"] == 60.0  # never more than is kept
