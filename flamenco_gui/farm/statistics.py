"""What the farm did, summed up for the statistics view and the API (docs/statistics.md):
per worker frames an hour and failures a day, the farm's busy node-hours an hour, and
jobs, frames and node-hours a day over the farm's whole history.

The sums are pure functions over rows (run on a thread: a week of a busy farm is tens
of thousands of rows); `Statistics` reads the rows, bounded by time (indexed), on the
loop and hands them over.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from flamenco_gui.farm.frames import Frames

HOUR = 3600.0
DAY = 24 * HOUR
Row = dict[str, Any]


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def _busy(attempt: Row, now: float) -> tuple[float, float] | None:
    start = attempt["started"]
    if start is None:
        return None
    end = attempt["ended"] if attempt["ended"] is not None else now
    return (start, end) if end > start else None


def worker_days(frames: Iterable[Row], attempts: Iterable[Row], now: float) -> list[Row]:
    """Per day and worker: frames finished, busy hours, frames an hour, failures."""
    table: dict[tuple[str, str], Row] = {}

    def entry(ts: float, row: Row) -> Row:
        name = row["worker"] or f"worker {row['worker_id']}"
        key = (_day(ts), name)
        if key not in table:
            table[key] = {"day": key[0], "worker": name, "frames": 0, "busy_hours": 0.0,
                          "failures": 0}  # fmt: skip
        return table[key]

    for frame in frames:
        entry(frame["finished"], frame)["frames"] += 1
    for attempt in attempts:
        span = _busy(attempt, now)
        if span is None:
            continue
        row = entry(span[1], attempt)
        row["busy_hours"] += (span[1] - span[0]) / HOUR
        row["failures"] += attempt["outcome"] == "failed"
    out = sorted(table.values(), key=lambda r: (r["day"], r["worker"]))
    for row in out:
        hours = row["busy_hours"]
        row["busy_hours"] = round(hours, 3)
        row["frames_per_hour"] = round(row["frames"] / hours, 1) if hours > 0 else None
    return out


def utilisation(attempts: Iterable[Row], now: float, since: float) -> list[Row]:
    """Busy node-hours in each hour from `since` to now (every hour listed, idle too)."""
    first = since - since % HOUR
    buckets = [0.0] * (int((now - first) // HOUR) + 1)
    for attempt in attempts:
        span = _busy(attempt, now)
        if span is None:
            continue
        start, end = max(span[0], first), span[1]
        while start < end:
            index = int((start - first) // HOUR)
            edge = first + (index + 1) * HOUR
            buckets[index] += (min(end, edge) - start) / HOUR
            start = edge
    return [
        {"hour": first + i * HOUR, "node_hours": round(hours, 3)} for i, hours in enumerate(buckets)
    ]


def history_days(jobs: Iterable[Row]) -> list[Row]:
    """Per day (of a job's last finish): jobs, frames rendered, node-hours."""
    days: dict[str, Row] = defaultdict(lambda: {"jobs": 0, "frames": 0, "node_hours": 0.0})
    for job in jobs:
        when = job.get("last_finished") or job.get("deleted") or job.get("created")
        if when is None:
            continue
        row = days[_day(when)]
        row["jobs"] += 1
        row["frames"] += job.get("frames_rendered") or 0
        row["node_hours"] += (job.get("node_seconds") or 0.0) / HOUR
    return [
        {"day": day, **row, "node_hours": round(row["node_hours"], 3)}
        for day, row in sorted(days.items())
    ]


class Statistics:
    def __init__(
        self,
        frames: Frames,
        live_jobs: Callable[[], Awaitable[Sequence[Row]]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`live_jobs`: the summaries of the jobs not deleted yet."""
        self._frames = frames
        self._live_jobs = live_jobs
        self._clock = clock

    async def workers(self, days: float) -> list[Row]:
        now = self._clock()
        frames = self._frames.frames_since(now - days * DAY)
        attempts = self._frames.attempts_since(now - days * DAY)
        return await asyncio.to_thread(worker_days, frames, attempts, now)

    async def utilisation(self, days: float) -> list[Row]:
        now = self._clock()
        attempts = self._frames.attempts_since(now - days * DAY)
        return await asyncio.to_thread(utilisation, attempts, now, now - days * DAY)

    async def history(self, days: float) -> list[Row]:
        since = self._clock() - days * DAY
        jobs: list[Row] = [dict(r) for r in self._frames.history(since)]
        jobs += [j for j in await self._live_jobs() if (j.get("last_finished") or 0) >= since]
        return await asyncio.to_thread(history_days, jobs)
