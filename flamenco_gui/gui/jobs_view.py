"""The jobs table: what was submitted, how far along it is, and how long it has left."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from flamenco_gui.farm.states import JobStatus
from flamenco_gui.gui import columns as fmt
from flamenco_gui.gui.table_model import Column, LiveTableModel
from flamenco_gui.gui.table_panel import TablePanel, field_is

Row = dict[str, Any]


def _tasks(r: Row) -> str:
    counts = r.get("task_counts") or {}
    text = f"{counts.get('completed', 0)}/{r.get('tasks_total', 0)}"
    failed = counts.get("failed", 0)
    return f"{text}, {failed} failed" if failed else text


def _status(r: Row) -> str:
    return r.get("status") or ""


def _chain(r: dict[str, Any]) -> str | None:
    """The jobs this one waits for (depends_on), as its tooltip."""
    parents = r.get("depends_on") or []
    if not parents:
        return r.get("waiting_reason") or None
    listed = ", ".join(f"job {p}" for p in parents)
    return f"starts when {listed} completed" + (
        f"\n{r['waiting_reason']}" if r.get("waiting_reason") else ""
    )


JOB_COLUMNS = [
    Column("ID", lambda r: str(r["id"]), lambda r: r["id"], True, width=50),
    Column("Name", lambda r: r.get("name") or "", width=190, stretch=True),
    Column("Status", _status, status=_status, width=85),
    fmt.progress_column(110),
    Column("Tasks", _tasks, lambda r: r.get("tasks_total") or 0, True, width=90),
    Column("Frames", fmt.frames, lambda r: r.get("frame_start") or 0, width=80),
    Column(
        "Priority", lambda r: str(r.get("priority")), lambda r: r.get("priority"), True, width=60
    ),
    *fmt.clock_columns(
        fmt.job_elapsed,
        fmt.job_left,
        (70, 90),
        fmt.job_waiting,
        fmt.job_left_text,
        "from this job's frame times",
    ),
    Column("Type", lambda r: r.get("type") or "", width=95),
    # Queued tasks that no enabled worker would take, e.g. "no worker accepts command jobs".
    Column(
        "Waiting for",
        lambda r: r.get("waiting_reason") or "",
        width=180,
        tooltip=_chain,
    ),
    Column("Tags", lambda r: ", ".join(r.get("tags") or []), width=100),
]


def jobs_model() -> LiveTableModel:
    # Every task update refreshes its job's counts: four batches a second are plenty.
    return LiveTableModel("job", JOB_COLUMNS, flush_ms=250)


def jobs_panel(model: LiveTableModel, parent: QWidget | None = None) -> TablePanel:
    choices = [("All jobs", None), *((s.value, field_is("status", s.value)) for s in JobStatus)]
    panel = TablePanel("Jobs", model, choices, "Search jobs", parent)
    panel.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # newest first, in view
    return panel
