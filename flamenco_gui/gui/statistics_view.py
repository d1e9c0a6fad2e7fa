"""The statistics window: what the farm did, as plots with their table beside them.

Four tabs, each a plot (pyqtgraph: Qt-native, draws 10,000 points without effort) and
a table of the same rows, with a CSV export:

- **Job**: each frame's time (coloured by worker, so a slow node stands out) and
  Blender's memory peak, frame by frame.
- **Workers**: frames an hour and failures, per worker and day.
- **Utilisation**: the farm's busy node-hours in each hour.
- **History**: jobs, frames and node-hours a day, deleted jobs included.

Everything is read through FarmService (no SQL here); the sums run on a thread there.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from flamenco_gui.farm.service import FarmService

Row = dict[str, Any]
# (title, how a row reads in that column)
ColumnSpec = tuple[str, Callable[[Row], Any]]
# Distinct colours for up to ten workers, then round again.
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]  # fmt: skip
MAX_FRAMES = 100_000  # the records one job plot reads (a job's task limit is as many)
PAGE = 1000  # records read per loop turn (≈ 20 ms)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def frame_seconds(r: Row) -> float | None:
    """What a frame cost the farm: wall time from its start to its save."""
    if r.get("started") is None or r.get("finished") is None:
        return None
    return float(r["finished"] - r["started"])


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


class RowsModel(QAbstractTableModel):
    """A read-only table of plain rows, reset as a whole (these tables are read, not
    live: one reset per refresh)."""

    def __init__(self, columns: Sequence[ColumnSpec]) -> None:
        super().__init__()
        self.columns = list(columns)
        self.rows: list[Row] = []

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        return _num(self.columns[index.column()][1](self.rows[index.row()]))

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section][0]
        return None

    def csv_lines(self) -> list[list[str]]:
        return [[c[0] for c in self.columns]] + [
            ["" if (v := c[1](r)) is None else str(v) for c in self.columns] for r in self.rows
        ]


class PlotPane(QWidget):
    """Plots on the left, the table of the same rows on the right, a CSV export."""

    def __init__(self, columns: Sequence[ColumnSpec], plots: int = 1) -> None:
        super().__init__()
        self.model = RowsModel(columns)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plots: list[pg.PlotItem] = []
        for i in range(plots):
            plot = self.graphics.addPlot(row=i, col=0)
            # Lines across the values only: an x grid as well cost ~12 ms of each
            # pan/zoom step at 10,000 points (bench/statistics_view.py).
            plot.showGrid(x=False, y=True, alpha=0.3)
            plot.getAxis("left").enableAutoSIPrefix(False)  # 0.06 node-hours, not 60 x0.001
            plot.addLegend(offset=(-10, 10))
            if self.plots:
                plot.setXLink(self.plots[0])
            self.plots.append(plot)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setStretchLastSection(True)
        # Fixed widths, never ResizeToContents (it reads every row: slow at 10,000).
        for i, (title, _) in enumerate(self.model.columns):
            self.table.setColumnWidth(i, 130 if title in ("Hour", "Worker", "Day") else 80)
        self.export = QPushButton("Export CSV…")
        self.export.clicked.connect(self._ask_where)
        self.dialog: QFileDialog | None = None
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.graphics)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.table)
        side_layout.addWidget(self.export, alignment=Qt.AlignmentFlag.AlignRight)
        split.addWidget(side)
        split.setSizes([620, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)

    def clear(self) -> None:
        for plot in self.plots:
            plot.clear()
            if plot.legend is not None:
                plot.legend.clear()

    def _ask_where(self) -> None:
        dialog = QFileDialog(self, "Export as CSV", str(Path.home() / "statistics.csv"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["CSV files (*.csv)"])
        dialog.setDefaultSuffix("csv")
        dialog.fileSelected.connect(lambda path: asyncio.ensure_future(self.export_csv(Path(path))))
        self.dialog = dialog
        dialog.open()

    async def export_csv(self, path: Path) -> None:
        lines = self.model.csv_lines()

        def write() -> None:
            with path.open("w", newline="", encoding="utf-8") as out:
                csv.writer(out).writerows(lines)

        await asyncio.to_thread(write)


JOB_COLUMNS: list[ColumnSpec] = [
    ("Frame", lambda r: r["frame"]),
    ("Worker", lambda r: r["worker"]),
    ("Seconds", frame_seconds),
    ("Blender s", lambda r: r["render_seconds"]),
    ("Peak MB", lambda r: r["peak_memory_mb"]),
    ("Check", lambda r: r["check"]),
]
WORKER_COLUMNS: list[ColumnSpec] = [
    ("Day", lambda r: r["day"]),
    ("Worker", lambda r: r["worker"]),
    ("Frames", lambda r: r["frames"]),
    ("Busy h", lambda r: r["busy_hours"]),
    ("Frames/h", lambda r: r["frames_per_hour"]),
    ("Failures", lambda r: r["failures"]),
]
UTILISATION_COLUMNS: list[ColumnSpec] = [
    ("Hour", lambda r: _when(r["hour"])),
    ("Node-hours", lambda r: r["node_hours"]),
]
HISTORY_COLUMNS: list[ColumnSpec] = [
    ("Day", lambda r: r["day"]),
    ("Jobs", lambda r: r["jobs"]),
    ("Frames", lambda r: r["frames"]),
    ("Node-hours", lambda r: r["node_hours"]),
]


class StatisticsWindow(QWidget):
    def __init__(self, service: FarmService, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Statistics — Flamenco Manager")
        self.resize(1100, 640)
        self.service = service
        self.job_pick = QComboBox()
        self.job_pick.setMinimumWidth(260)
        self.job_pick.currentIndexChanged.connect(lambda _: self.refresh())
        self.days = QSpinBox()
        self.days.setRange(1, 365)
        self.days.setValue(7)
        self.days.setSuffix(" days")
        self.days.valueChanged.connect(lambda _: self.refresh())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.note = QLabel()
        bar = QHBoxLayout()
        for widget in (QLabel("Job"), self.job_pick, QLabel("Last"), self.days, refresh):
            bar.addWidget(widget)
        bar.addWidget(self.note, 1)

        self.job = PlotPane(JOB_COLUMNS, plots=2)
        self.job.plots[0].setLabel("left", "frame time", units="s")
        self.job.plots[1].setLabel("left", "memory peak", units="MB")
        self.job.plots[1].setLabel("bottom", "frame")
        self.workers = PlotPane(WORKER_COLUMNS, plots=2)
        self.workers.plots[0].setLabel("left", "frames / hour")
        self.workers.plots[1].setLabel("left", "failures")
        self.utilisation = PlotPane(UTILISATION_COLUMNS)
        self.utilisation.plots[0].setAxisItems({"bottom": pg.DateAxisItem()})
        self.utilisation.plots[0].setLabel("left", "busy node-hours / hour")
        self.history = PlotPane(HISTORY_COLUMNS, plots=2)
        self.history.plots[0].setLabel("left", "jobs")
        self.history.plots[1].setLabel("left", "node-hours")
        self.tabs = QTabWidget()
        for pane, title in (
            (self.job, "Job"),
            (self.workers, "Workers"),
            (self.utilisation, "Utilisation"),
            (self.history, "History"),
        ):
            self.tabs.addTab(pane, title)
        self.tabs.currentChanged.connect(lambda _: self.refresh())
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.tabs)
        self._loading: asyncio.Future[None] | None = None
        self.fill_jobs()

    def fill_jobs(self, select: int | None = None) -> None:
        """The job picker: the newest jobs first."""
        jobs, _ = self.service.list_jobs(limit=1000)
        self.job_pick.blockSignals(True)
        self.job_pick.clear()
        for job in sorted(jobs, key=lambda j: -j["id"]):
            self.job_pick.addItem(f"{job['id']}: {job['name']}", job["id"])
        if select is not None:
            self.job_pick.setCurrentIndex(max(0, self.job_pick.findData(select)))
        self.job_pick.blockSignals(False)

    def refresh(self) -> asyncio.Future[None]:
        """Read the current tab again (the previous read, if any, is dropped)."""
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        self._loading = asyncio.ensure_future(self._load(self.tabs.currentWidget()))
        return self._loading

    async def _load(self, pane: QWidget) -> None:
        days = float(self.days.value())
        if pane is self.job:
            job_id = self.job_pick.currentData()
            rows = [] if job_id is None else await self._job_frames(int(job_id))
            await self.show_job(rows)
        elif pane is self.workers:
            self.show_workers(await self.service.worker_statistics(days))
        elif pane is self.utilisation:
            self.show_utilisation(await self.service.utilisation(days))
        else:
            self.show_history(await self.service.history_by_day(days))

    async def _job_frames(self, job_id: int) -> list[Row]:
        """The job's records, a page a loop turn (a big job's read must not stall it)."""
        rows: list[Row] = []
        while len(rows) < MAX_FRAMES:
            page, _ = self.service.job_frames(job_id, PAGE, len(rows))
            rows += [dict(r) for r in page]
            if len(page) < PAGE:
                break
            await asyncio.sleep(0)
        return rows

    # -- drawing -----------------------------------------------------------------------

    async def show_job(self, rows: list[Row]) -> None:
        """One scatter per worker and plot, a loop turn each (tens of ms at 10,000)."""
        pane = self.job
        # Drawn once, when every scatter is in: each addItem between the loop turns
        # below would otherwise repaint both plots (~40 ms a paint at 10,000 points).
        pane.graphics.setUpdatesEnabled(False)
        try:
            await self._draw_job(pane, rows)
        finally:
            pane.graphics.setUpdatesEnabled(True)

    async def _draw_job(self, pane: PlotPane, rows: list[Row]) -> None:
        pane.clear()
        pane.model.set_rows(rows)
        by_worker: dict[str, list[Row]] = {}
        for row in rows:
            by_worker.setdefault(row["worker"] or "?", []).append(row)
        for i, (name, mine) in enumerate(sorted(by_worker.items())):
            colour = PALETTE[i % len(PALETTE)]
            timed = [(r["frame"], s) for r in mine if (s := frame_seconds(r)) is not None]
            peaks = [(r["frame"], r["peak_memory_mb"]) for r in mine if r["peak_memory_mb"]]
            for plot, points in ((pane.plots[0], timed), (pane.plots[1], peaks)):
                if points:
                    # A ScatterPlotItem from arrays: a sixth of PlotDataItem's cost at
                    # 10,000 points (docs/performance.md).
                    xy = np.asarray(points, dtype=float)
                    plot.addItem(
                        pg.ScatterPlotItem(
                            xy[:, 0], xy[:, 1], size=6, brush=pg.mkBrush(colour), pen=None,
                            name=name,
                        )
                    )  # fmt: skip
                    await asyncio.sleep(0)
        slow = [r for r in rows if r.get("check") not in (None, "ok")]
        self.note.setText(
            f"{len(rows)} frames" + (f", {len(slow)} failed their check" if slow else "")
        )

    def show_workers(self, rows: list[Row]) -> None:
        pane = self.workers
        pane.clear()
        pane.model.set_rows(rows)
        days = sorted({r["day"] for r in rows})
        index = {day: i for i, day in enumerate(days)}
        ticks = [[(i, day[5:]) for day, i in index.items()]]
        for plot in pane.plots:
            plot.getAxis("bottom").setTicks(ticks)
        names = sorted({r["worker"] for r in rows})
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            colour = PALETTE[i % len(PALETTE)]
            mine = [r for r in rows if r["worker"] == name]
            rate = [(index[r["day"]], r["frames_per_hour"]) for r in mine if r["frames_per_hour"]]
            if rate:
                xs, ys = zip(*rate, strict=True)
                pane.plots[0].plot(
                    list(xs), list(ys), pen=colour, symbol="o", symbolBrush=colour, name=name
                )
            bars = pg.BarGraphItem(
                x=[index[r["day"]] - 0.4 + (i + 0.5) * width for r in mine],
                height=[r["failures"] for r in mine], width=width, brush=colour, name=name,
            )  # fmt: skip
            pane.plots[1].addItem(bars)
        self.note.setText(f"{len(names)} workers over {len(days)} days")

    def show_utilisation(self, rows: list[Row]) -> None:
        pane = self.utilisation
        pane.clear()
        pane.model.set_rows(rows)
        if rows:
            bars = pg.BarGraphItem(
                x=[r["hour"] + 1800 for r in rows], height=[r["node_hours"] for r in rows],
                width=3300, brush="#4e79a7",
            )  # fmt: skip
            pane.plots[0].addItem(bars)
        busy = sum(r["node_hours"] for r in rows)
        self.note.setText(f"{busy:.2f} busy node-hours in {len(rows)} hours")

    def show_history(self, rows: list[Row]) -> None:
        pane = self.history
        pane.clear()
        pane.model.set_rows(rows)
        ticks = [[(i, r["day"][5:]) for i, r in enumerate(rows)]]
        for plot in pane.plots:
            plot.getAxis("bottom").setTicks(ticks)
        xs = list(range(len(rows)))
        pane.plots[0].addItem(
            pg.BarGraphItem(x=xs, height=[r["jobs"] for r in rows], width=0.6, brush="#59a14f")
        )
        pane.plots[1].addItem(
            pg.BarGraphItem(
                x=xs, height=[r["node_hours"] for r in rows], width=0.6, brush="#f28e2b"
            )
        )
        self.note.setText(
            f"{sum(r['jobs'] for r in rows)} jobs, {sum(r['frames'] for r in rows)} frames"
        )
