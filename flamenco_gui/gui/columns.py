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
    report); the worker's own figure once the run is over."""
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
    """Since the job's first task started (None: none has); ticks while it runs."""
    if r.get("elapsed") is None:
        return None
    running = r.get("status") not in (*FINISHED, "paused") and r.get("remaining") != 0
    return r["elapsed"] + (_since_figures(r) if running else 0.0)


def job_left(r: Row) -> float | None:
    """The manager's estimate from this job's measured frames, counting down."""
    if r.get("remaining") is None:
        return None
    return max(0.0, r["remaining"] - _since_figures(r))


def job_left_text(r: Row) -> str:
    """The time left, or why there is none ("waiting", "no frame finished yet" …)."""
    left = job_left(r)
    return r.get("eta_note") or "" if left is None else duration(left)


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
    left_text: Callable[[Row], str] | None = None,
    left_tip: str = "at the rate so far",
) -> list[Column]:
    """ "Elapsed" and "Left", repainted every second (jobs and tasks)."""
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
            left_text or (lambda r: duration(left(r))),
            lambda r: left(r) or 0.0,
            True,
            width=widths[1],
            clock=True,
            tooltip=lambda r: left_tip if left(r) else None,
        ),
    ]
