"""The workers table: who is on the farm, what each is doing, and how loaded it is."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from flamenco_gui.gui import columns as fmt
from flamenco_gui.gui.table_model import Column, LiveTableModel
from flamenco_gui.gui.table_panel import TablePanel, field_is
from flamenco_gui.gui.worker_versions import BuildOffers, version_column

Row = dict[str, Any]


def _frequent(r: Row) -> dict[str, Any]:
    return r.get("update_frequent") or {}


def _cpu(r: Row) -> float | None:
    return _frequent(r).get("worker_cpu_percent")


def _mem(r: Row) -> float | None:
    return (r.get("update_less_frequent") or {}).get("worker_mem_percent")


def _load(r: Row) -> float | None:
    return (_frequent(r).get("load_average") or {}).get("1min")


def _load_percent(r: Row) -> float | None:
    """Load per CPU as a bar: 100 % is every core busy."""
    load = _load(r)
    cpus = (r.get("update_less_frequent") or {}).get("worker_num_cpus") or 1
    return None if load is None else 100.0 * load / cpus


def _online(r: Row) -> bool:
    return r.get("connection") == "online"


def _bar(value: float | None, r: Row) -> float | None:
    """Figures of an offline worker are stale: shown as text, not as a live bar."""
    return value if _online(r) else None


def worker_columns(offers: BuildOffers) -> list[Column]:
    """The columns, the Version one reading the builds on offer (gui/worker_versions.py)."""
    return [*WORKER_COLUMNS[:4], version_column(offers), *WORKER_COLUMNS[4:]]


WORKER_COLUMNS = [
    Column("Name", lambda r: r["hostname"], width=120, stretch=True),
    Column("Enabled", lambda r: r["status"], status=lambda r: r["status"], width=70),
    Column("Online", lambda r: r["connection"], status=lambda r: r["connection"], width=65),
    Column("Activity", lambda r: r.get("activity") or "", width=140),
    Column(
        "Task",
        lambda r: fmt.opt(r.get("current_task")),
        lambda r: r.get("current_task") or 0,
        True,
        width=55,
    ),
    Column(
        "CPU %",
        lambda r: fmt.opt(_cpu(r), "{:.0f}%"),
        lambda r: _cpu(r) or 0.0,
        bar=lambda r: _bar(_cpu(r), r),
        width=70,
    ),
    Column(
        "Mem %",
        lambda r: fmt.opt(_mem(r), "{:.0f}%"),
        lambda r: _mem(r) or 0.0,
        bar=lambda r: _bar(_mem(r), r),
        width=70,
    ),
    Column(
        "Load",
        lambda r: fmt.opt(_load(r), "{:.2f}"),
        lambda r: _load_percent(r) or 0.0,
        bar=lambda r: _bar(_load_percent(r), r),
        width=70,
        tooltip=lambda r: "1-minute load average; the bar is load per CPU core",
    ),
    Column(
        "Last seen",
        lambda r: fmt.seen(r.get("last_seen")),
        lambda r: -(r.get("last_seen") or 0),
        clock=True,
        width=110,
        tooltip=lambda r: fmt.ago(r.get("last_seen")) or None,
    ),
    Column("Address", lambda r: r.get("ip_address") or "", width=110),
    Column("OS", lambda r: r.get("system") or "", width=70),
    # Two nodes may share a name (cloned images): the id tells them apart.
    Column("ID", lambda r: str(r["id"]), lambda r: r["id"], True, width=45),
]


def workers_model(offers: BuildOffers) -> LiveTableModel:
    # Four batches a second: each heartbeat changes a worker row, a thousand workers
    # beat often, and a repaint of the bars ten times a second would buy nothing.
    model = LiveTableModel(
        "worker",
        worker_columns(offers),
        flush_ms=250,
        search=lambda r: f"{r['hostname']} {r.get('ip_address') or ''} {r.get('activity') or ''}",
    )
    offers.changed.connect(lambda: model.column_changed(version_column(offers).title))
    return model


def workers_panel(model: LiveTableModel, parent: QWidget | None = None) -> TablePanel:
    choices = [
        ("All workers", None),
        ("online", field_is("connection", "online")),
        ("unresponsive", field_is("connection", "unresponsive")),
        ("offline", field_is("connection", "offline")),
        ("enabled", field_is("status", "enabled")),
        ("disabled", field_is("status", "disabled")),
    ]
    return TablePanel("Workers", model, choices, "Search workers", parent)
