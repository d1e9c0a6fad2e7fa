"""Sleep schedules: the hours a worker renders, per worker, in its own time zone.

A schedule is `{tz, ranges: [{days, start, end}], on_end}`: `days` of `mon`…`sun`,
`start`/`end` as `HH:MM` (`24:00` the end of a day); an `end` at or before `start`
runs past midnight into the next day (Mon-Fri 19:00-08:00 is `["mon", …, "fri"],
"19:00", "08:00"`: Friday night ends Saturday 08:00). Outside every range the worker
takes no new work; `on_end` says what happens to a task running at the edge: `finish`
it, or `requeue` it at once. No schedule: always on.

The schedules live on the worker rows and in memory here, so the pull's question
("may this worker take work now?") is a set lookup, no SQL. `refresh` (every few
seconds and at each next change, from `run`; a test calls it with its own clock)
moves workers across the edges: activity "outside schedule", the task requeued if
asked, held polls woken when a worker comes back on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Invalid, Unavailable
from flamenco_gui.farm.wakeups import Wakeups
from flamenco_gui.farm.workers import Workers
from flamenco_gui.rows import WorkerRow

log = logging.getLogger(__name__)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ON_END = ("finish", "requeue")
MAX_RANGES = 28
OUTSIDE = "outside schedule"
CHECK_EVERY = 30.0  # at most this long between refreshes (and at every next change)

Schedule = dict[str, Any]


def _minutes(text: str, field: str) -> int:
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise Invalid(f"{field}: {text!r}, want HH:MM") from None
    if not (0 <= int(minutes) < 60 and 0 <= value <= 24 * 60):
        raise Invalid(f"{field}: {text!r}, want 00:00 to 24:00")
    return value


def clean_schedule(schedule: Schedule) -> Schedule:
    """A schedule as stored; Invalid names the first bad field."""
    tz = str(schedule.get("tz") or "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"tz: unknown time zone {tz!r} (an IANA name, e.g. Europe/Amsterdam)"
        ) from None
    ranges = schedule.get("ranges") or []
    if len(ranges) > MAX_RANGES:
        raise Invalid(f"ranges: {len(ranges)}; at most {MAX_RANGES}")
    out = []
    for i, r in enumerate(ranges):
        days = [str(d).lower()[:3] for d in r.get("days") or []]
        if not days or any(d not in DAYS for d in days):
            raise Invalid(f"ranges[{i}].days: {r.get('days')!r}; some of {', '.join(DAYS)}")
        start = _minutes(str(r.get("start", "")), f"ranges[{i}].start")
        end = _minutes(str(r.get("end", "")), f"ranges[{i}].end")
        if start == end == 0 or start == 24 * 60:
            raise Invalid(f"ranges[{i}]: empty ({r.get('start')}-{r.get('end')})")
        ordered = sorted(set(days), key=DAYS.index)
        out.append({"days": ordered, "start": r["start"], "end": r["end"]})
    on_end = str(schedule.get("on_end") or "finish")
    if on_end not in ON_END:
        raise Invalid(f"on_end: {on_end!r}; one of {', '.join(ON_END)}")
    return {"tz": tz, "ranges": out, "on_end": on_end}


def is_on(schedule: Schedule, when: float) -> bool:
    local = datetime.fromtimestamp(when, ZoneInfo(schedule["tz"]))
    day, minute = local.weekday(), local.hour * 60 + local.minute
    for r in schedule["ranges"]:
        days = {DAYS.index(d) for d in r["days"]}
        start = _minutes(r["start"], "start")
        end = _minutes(r["end"], "end")
        if start < end:
            if day in days and start <= minute < end:
                return True
        elif (day in days and minute >= start) or ((day - 1) % 7 in days and minute < end):
            return True
    return False


def next_change(schedule: Schedule, when: float) -> float | None:
    """When the schedule next flips (on → off or off → on) after `when`; None: never."""
    zone = ZoneInfo(schedule["tz"])
    midnight = datetime.fromtimestamp(when, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    edges: set[float] = set()
    for offset in range(-1, 9):
        day = midnight + timedelta(days=offset)
        for r in schedule["ranges"]:
            for text in (r["start"], r["end"]):
                m = _minutes(text, "edge")
                local = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=m)
                edges.add(local.timestamp())
    now = is_on(schedule, when)
    for edge in sorted(e for e in edges if e > when):
        if is_on(schedule, edge) != now:
            return edge
    return None


class ScheduleStore(Protocol):
    def update_worker(self, worker_id: int, fields: dict[str, Any]) -> bool: ...
    def worker_schedules(self) -> dict[int, Schedule]: ...


class Schedules:
    def __init__(
        self,
        store: ScheduleStore,
        changes: Changes,
        workers: Workers,
        wakeups: Wakeups,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._changes = changes
        self._workers = workers
        self._wakeups = wakeups
        self.clock = clock
        self._schedules = store.worker_schedules()
        self._off = {w for w, s in self._schedules.items() if not is_on(s, clock())}
        # When each schedule next flips, computed at each refresh (not per listing).
        self._next = {w: next_change(s, clock()) for w, s in self._schedules.items()}

    def allows(self, worker_id: int) -> bool:
        """May this worker take new work now (the pull asks: memory only)?"""
        return worker_id not in self._off

    def decorate(self, row: WorkerRow) -> WorkerRow:
        """The worker as shown: "outside schedule" while idle off its hours, and when
        its schedule next changes."""
        schedule = self._schedules.get(row["id"])
        if schedule is None:
            return row
        shown: Any = dict(row)
        shown["schedule_next_change"] = self._next.get(row["id"])
        if row["id"] in self._off and not row.get("current_task"):
            shown["activity"] = OUTSIDE
        return shown  # type: ignore[no-any-return]

    def set(self, worker_id: int, schedule: Schedule | None) -> WorkerRow:
        """The wrangler's schedule for a worker (None: always on), in force at once."""
        self._workers.get(worker_id)
        cleaned = None if schedule is None else clean_schedule(schedule)
        with self._changes.change():
            self._store.update_worker(worker_id, {"schedule": cleaned})
            self._changes.emit("worker", worker_id)
        if cleaned is None:
            self._schedules.pop(worker_id, None)
            self._next.pop(worker_id, None)
        else:
            self._schedules[worker_id] = cleaned
        self.refresh()
        return self.decorate(self._workers.get(worker_id))

    def refresh(self) -> float | None:
        """Move workers across the edges their schedules passed; the next edge."""
        now = self.clock()
        soonest: float | None = None
        for worker_id in set(self._off) - set(self._schedules):
            self._come_on(worker_id)
        for worker_id, schedule in list(self._schedules.items()):
            on = is_on(schedule, now)
            if on and worker_id in self._off:
                self._come_on(worker_id)
            elif not on and worker_id not in self._off:
                self._go_off(worker_id, schedule)
            edge = self._next[worker_id] = next_change(schedule, now)
            if edge is not None and (soonest is None or edge < soonest):
                soonest = edge
        return soonest

    def _come_on(self, worker_id: int) -> None:
        self._off.discard(worker_id)
        with self._changes.change():
            self._changes.emit("worker", worker_id)
        self._wakeups.queued()
        log.info("worker %s: inside its schedule, takes work", worker_id)

    def _go_off(self, worker_id: int, schedule: Schedule) -> None:
        self._off.add(worker_id)
        with self._changes.change():
            if schedule["on_end"] == "requeue":
                self._workers.requeue_leased(worker_id, "its worker's schedule ended")
            self._changes.emit("worker", worker_id)
        log.info("worker %s: outside its schedule, takes no new work", worker_id)

    async def run(self) -> None:
        while True:
            try:
                edge = self.refresh()
            except Unavailable as exc:
                log.error("schedule check skipped: %s", exc)
                edge = None
            wait = CHECK_EVERY if edge is None else min(CHECK_EVERY, edge - self.clock())
            await asyncio.sleep(max(0.5, wait))
