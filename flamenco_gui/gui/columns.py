"""How values read in the tables: durations, ages, frame ranges, time left.

Shared by the jobs, tasks and workers views (each defines its own columns). Times are
computed when a cell is painted, so a clock column stays current with a repaint and
no event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flamenco_gui.gui.table_model import Column

Row = dict[str, Any]
FINISHED = ("completed", "failed", "canceled")


def opt(value: Any, fmt: str = "{}") -> str:
    return "" if value is None else fmt.format(value)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def ago(ts: float | None) -> str:
    if ts is None:
        return ""
    return f"{duration(time.time() - ts)} ago"


def seen(ts: float | None, now: float | None = None) -> str:
    """When, in words: "just now", "2 min ago", "3 h ago", "yesterday 18:04"."""
    if ts is None:
        return "never"
    now = time.time() if now is None else now
    age = now - ts
    if age < 45:
        return "just now"
    if age < 3600:
        return f"{max(1, round(age / 60))} min ago"
    if age < 6 * 3600:
        return f"{int(age // 3600)} h ago"
    then, today = time.localtime(ts), time.localtime(now)
    clock = time.strftime("%H:%M", then)
    days = (
        time.mktime((*today[:3], 0, 0, 0, 0, 0, -1)) - time.mktime((*then[:3], 0, 0, 0, 0, 0, -1))
    ) / 86400
    if days < 0.5:
        return f"today {clock}"
    if days < 1.5:
        return f"yesterday {clock}"
    if days < 6.5:
        return time.strftime("%a %H:%M", then)
    return time.strftime("%Y-%m-%d", then)


def frames(r: Row) -> str:
    if r.get("frame_start") is None:
        return ""
    if r["frame_start"] == r["frame_end"]:
        return str(r["frame_start"])
    return f"{r['frame_start']}-{r['frame_end']}"


def time_left(elapsed: float | None, percent: float | None) -> float | None:
    """Seconds left at the rate so far; None when there is no rate yet."""
    if elapsed is None or not percent or percent <= 0 or percent >= 100:
        return None
    return elapsed * (100.0 - percent) / percent


def task_elapsed(r: Row) -> float | None:
    """Manager-side clock while rendering (a worker's time_cost is as old as its last
    report); the worker's own figure once the run is over; nothing while queued (an
    earlier attempt's figure would read as this one's)."""
    if r.get("status") == "queued":
        return None
    if r.get("status") == "rendering" and r.get("started") is not None:
        return time.time() - r["started"]
    if r.get("time_cost") is not None:
        return r["time_cost"]
    if r.get("started") is not None and r.get("finished") is not None:
        return r["finished"] - r["started"]
    return None


def task_left(r: Row) -> float | None:
    if r.get("status") != "rendering":
        return None
    return time_left(task_elapsed(r), r.get("progress"))


def _since_figures(r: Row) -> float:
    """Seconds since the manager worked out the job's figures (farm/eta.py)."""
    return max(0.0, time.time() - r["eta_at"]) if r.get("eta_at") else 0.0


def job_elapsed(r: Row) -> float | None:
    """Since its current run began rendering (a requeue starts a new run); nothing
    while it waits for its first task to start; a finished or paused job stops its
    clock at its last change."""
    start = r.get("started")
    if start is None or r.get("status") == "queued":
        return None
    stopped = r.get("status") in (*FINISHED, "paused")
    end = (r.get("updated") or start) if stopped else time.time()
    return max(0.0, end - start)


def _rendering_now(r: Row) -> int:
    return int((r.get("task_counts") or {}).get("rendering", 0))


def job_left(r: Row) -> float | None:
    """The manager's estimate from this job's measured frames (farm/eta.py), counting
    down between its updates; None while there is none."""
    if r.get("remaining") is None:
        return None
    return max(0.0, r["remaining"] - _since_figures(r))


def job_left_text(r: Row) -> str:
    """The time left, or why there is none ("waiting", "no frame finished yet" …)."""
    left = job_left(r)
    return r.get("eta_note") or "" if left is None else duration(left)


def job_waiting(r: Row) -> bool:
    """Queued or rendering with nothing rendering now: its Left reads "waiting"."""
    return r.get("status") in ("queued", "rendering") and not _rendering_now(r)


def progress_column(width: int) -> Column:
    """Percent done, drawn as a bar (jobs and tasks)."""
    return Column(
        "Progress",
        lambda r: f"{r.get('progress') or 0:.0f}%",
        lambda r: r.get("progress") or 0.0,
        bar=lambda r: r.get("progress") or 0.0,
        width=width,
    )


def clock_columns(
    elapsed: Callable[[Row], float | None],
    left: Callable[[Row], float | None],
    widths: tuple[int, int],
    waiting: Callable[[Row], bool] = lambda r: False,
    left_text: Callable[[Row], str] | None = None,
    left_tip: str = "at the rate so far",
) -> list[Column]:
    """ "Elapsed" and "Left", repainted every second (jobs and tasks); Left says
    "waiting" where there is no rate to go by yet."""
    return [
        Column(
            "Elapsed",
            lambda r: duration(elapsed(r)),
            lambda r: elapsed(r) or 0.0,
            True,
            width=widths[0],
            clock=True,
        ),
        Column(
            "Left",
            lambda r: "waiting" if waiting(r) else (left_text or (lambda r: duration(left(r))))(r),
            lambda r: left(r) or 0.0,
            True,
            width=widths[1],
            clock=True,
            tooltip=lambda r: left_tip if left(r) else None,
        ),
    ]
