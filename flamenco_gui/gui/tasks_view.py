"""The tasks table: every chunk of frames, who renders it, and how far it got."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QWidget

from flamenco_gui.farm.states import TaskStatus
from flamenco_gui.gui import columns as fmt
from flamenco_gui.gui.table_model import Column, LiveTableModel
from flamenco_gui.gui.table_panel import TablePanel, field_is

Row = dict[str, Any]
Names = Callable[[int | None], str]


def _status(r: Row) -> str:
    return r.get("status") or ""


# What the table, its search, the actions and the log panel read of a task.
TASK_FIELDS = (
    "id",
    "job_id",
    "status",
    "worker_id",
    "frame_start",
    "frame_end",
    "frame_current",
    "progress",
    "activity",
    "error",
    "started",
    "finished",
    "time_cost",
)


def task_columns(job_name: Names, worker_name: Names) -> list[Column]:
    """`job_name` and `worker_name` turn ids into the names a wrangler knows."""
    return [
        Column("ID", lambda r: str(r["id"]), lambda r: r["id"], True, width=55),
        Column("Job", lambda r: job_name(r.get("job_id")), width=130),
        Column("Status", _status, status=_status, width=80),
        Column("Frames", fmt.frames, lambda r: r.get("frame_start") or 0, width=70),
        fmt.progress_column(90),
        Column(
            "Frame",
            # Only once it started: a queued task has no current frame.
            lambda r: "" if r.get("status") == "queued" else fmt.opt(r.get("frame_current")),
            lambda r: r.get("frame_current") or 0,
            True,
            width=55,
        ),
        Column("Worker", lambda r: worker_name(r.get("worker_id")), width=100),
        *fmt.clock_columns(fmt.task_elapsed, fmt.task_left, (65, 60)),
        Column(
            "Activity",
            lambda r: (r.get("error") if r.get("status") == "failed" else r.get("activity")) or "",
            width=220,
            stretch=True,
            tooltip=lambda r: r.get("error") or r.get("activity"),
        ),
    ]


def tasks_model(job_name: Names, worker_name: Names) -> LiveTableModel:
    def search(r: Row) -> str:
        parts = (
            r["id"],
            job_name(r.get("job_id")),
            r.get("status"),
            worker_name(r.get("worker_id")),
        )
        return " ".join(str(p) for p in (*parts, r.get("activity") or "", r.get("error") or ""))

    # Four batches a second, as the workers' and jobs' tables: a farm of short tasks
    # changes most shown rows between two batches, so each batch repaints the table, and
    # ten such repaints a second cost the loop a tenth of its time for no news a wrangler
    # can read.
    return LiveTableModel(
        "task",
        task_columns(job_name, worker_name),
        flush_ms=250,
        search=search,
        fields=TASK_FIELDS,
    )


def tasks_panel(model: LiveTableModel, parent: QWidget | None = None) -> TablePanel:
    choices = [("All tasks", None), *((s.value, field_is("status", s.value)) for s in TaskStatus)]
    return TablePanel("Tasks", model, choices, "Search tasks (id, job, worker, activity)", parent)
