"""What the worker and task tables show, column by column."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flamenco_gui.gui.table_model import Column

# Mid-tone colours that read on light and dark palettes alike.
STATUS_COLORS = {
    "queued": "#8a8f98",
    "rendering": "#2f86d6",
    "completed": "#2e9e5b",
    "failed": "#d64541",
    "canceled": "#a0744d",
    "paused": "#c9a227",
    "online": "#2e9e5b",
    "offline": "#d64541",
    "enabled": "#2e9e5b",
    "disabled": "#8a8f98",
}


def _status_color(key: str) -> Callable[[dict[str, Any]], str | None]:
    return lambda r: STATUS_COLORS.get(r.get(key) or "")


def _opt(value: Any, fmt: str = "{}") -> str:
    return "" if value is None else fmt.format(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _ago(ts: float | None) -> str:
    if ts is None:
        return ""
    return f"{_duration(max(0.0, time.time() - ts))} ago"


def _frames(r: dict[str, Any]) -> str:
    if r.get("frame_start") is None:
        return ""
    if r["frame_start"] == r["frame_end"]:
        return str(r["frame_start"])
    return f"{r['frame_start']}-{r['frame_end']}"


def _cpu(r: dict[str, Any]) -> float | None:
    return (r.get("update_frequent") or {}).get("worker_cpu_percent")


def _mem(r: dict[str, Any]) -> float | None:
    return (r.get("update_less_frequent") or {}).get("worker_mem_percent")


def _load(r: dict[str, Any]) -> float | None:
    return ((r.get("update_frequent") or {}).get("load_average") or {}).get("1min")


def _elapsed(r: dict[str, Any]) -> float | None:
    if r.get("started") is None:
        return None
    if r.get("time_cost") is not None:
        return r["time_cost"]
    end = r.get("finished") or (time.time() if r.get("status") == "rendering" else None)
    return None if end is None else end - r["started"]


WORKER_COLUMNS = [
    Column("Name", lambda r: r["hostname"]),
    Column("Status", lambda r: r["status"], color=_status_color("status")),
    Column("Connection", lambda r: r["connection"], color=_status_color("connection")),
    Column("Activity", lambda r: _opt(r.get("activity"))),
    Column(
        "Task", lambda r: _opt(r.get("current_task")), lambda r: r.get("current_task") or 0, True
    ),
    Column("CPU %", lambda r: _opt(_cpu(r), "{:.0f}"), lambda r: _cpu(r) or 0.0, True),
    Column("Mem %", lambda r: _opt(_mem(r), "{:.0f}"), lambda r: _mem(r) or 0.0, True),
    Column("Load", lambda r: _opt(_load(r), "{:.2f}"), lambda r: _load(r) or 0.0, True),
    Column("System", lambda r: _opt(r.get("system"))),
    Column("Last seen", lambda r: _ago(r.get("last_seen")), lambda r: -(r.get("last_seen") or 0)),
]

PROGRESS_COLUMN = 4


def task_columns(worker_name: Callable[[int | None], str]) -> list[Column]:
    """Task columns; `worker_name` turns a worker id into the name a wrangler knows."""
    return [
        Column("ID", lambda r: str(r["id"]), lambda r: r["id"], True),
        Column("Job", lambda r: _opt(r.get("job_id")), lambda r: r.get("job_id") or 0, True),
        Column("Status", lambda r: r["status"], color=_status_color("status")),
        Column("Frames", _frames, lambda r: r.get("frame_start") or 0),
        Column(
            "Progress",
            lambda r: f"{r.get('progress') or 0:.0f}%",
            lambda r: r.get("progress") or 0.0,
            True,
        ),
        Column(
            "Frame",
            lambda r: _opt(r.get("frame_current")),
            lambda r: r.get("frame_current") or 0,
            True,
        ),
        Column("Worker", lambda r: worker_name(r.get("worker_id"))),
        Column("Elapsed", lambda r: _duration(_elapsed(r)), lambda r: _elapsed(r) or 0.0, True),
        Column("Activity", lambda r: _opt(r.get("activity") or r.get("error"))),
    ]
